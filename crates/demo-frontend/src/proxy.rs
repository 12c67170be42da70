//! Forwards the three user actions (and nothing else) to the backend Service at the same
//! paths, with a body limit and a timeout; status and body come back unchanged.

use axum::{
    Json, Router,
    body::{Body, Bytes},
    extract::{Request, State},
    http::{HeaderName, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{delete, post},
};
use common::api::{ErrorBody, SESSION_HEADER, routes};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::poll::describe;
use crate::server::AppState;
use common::HumanDuration;

/// Largest action body forwarded; the backend's own bodies are a few dozen bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Largest backend answer passed back.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// The proxied routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            routes::TICKETS,
            post(|s: State<AppState>, r: Request| forward(s, routes::TICKETS, r)),
        )
        .route(
            routes::TICKET,
            delete(|s: State<AppState>, r: Request| forward(s, routes::TICKET, r)),
        )
        .route(
            routes::FEEDBACK,
            post(|s: State<AppState>, r: Request| forward(s, routes::FEEDBACK, r)),
        )
}

/// A JSON error answer in the backend's shape.
pub fn error(status: StatusCode, error: impl Into<String>, detail: Option<String>) -> Response {
    let body = ErrorBody {
        error: error.into(),
        detail,
    };
    (status, Json(body)).into_response()
}

async fn forward(State(state): State<AppState>, route: &'static str, req: Request) -> Response {
    let response = proxy(&state, req).await;
    state.metrics().proxied(route, response.status().as_u16());
    response
}

async fn proxy(state: &AppState, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {MAX_BODY_BYTES} bytes"),
            None,
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => return too_large(),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "cannot read the request body",
                Some(e.to_string()),
            );
        }
    };
    let path = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |p| p.as_str());
    let url = format!("{}{path}", state.backend_url());
    let timeout = state.proxy_timeout();
    let mut upstream = state
        .client()
        .request(parts.method.clone(), &url)
        .timeout(timeout)
        .body(body);
    for name in [
        header::CONTENT_TYPE,
        header::ACCEPT,
        HeaderName::from_static(SESSION_HEADER),
    ] {
        if let Some(v) = parts.headers.get(&name) {
            upstream = upstream.header(name, v.clone());
        }
    }
    let answer = async {
        let resp = upstream.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?;
        Ok::<_, reqwest::Error>((status, headers, body))
    };
    match answer.await {
        Ok((status, headers, body)) if body.len() <= MAX_ANSWER_BYTES => {
            passthrough(status, &headers, body)
        }
        Ok(_) => error(
            StatusCode::BAD_GATEWAY,
            format!("the backend's answer is larger than {MAX_ANSWER_BYTES} bytes"),
            Some(url),
        ),
        Err(e) if e.is_timeout() => error(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "the backend at {} did not answer within {}",
                state.backend_url(),
                HumanDuration(timeout)
            ),
            Some(url),
        ),
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!(
                "backend unreachable at {}: {}",
                state.backend_url(),
                describe(&e, timeout)
            ),
            Some(url),
        ),
    }
}

fn passthrough(status: StatusCode, headers: &http::HeaderMap, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for name in [header::CONTENT_TYPE, header::RETRY_AFTER, header::LOCATION] {
        if let Some(v) = headers.get(&name) {
            response.headers_mut().insert(name, v.clone());
        }
    }
    response
}
