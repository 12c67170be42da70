//! The extractors of the handlers, each rejecting with the API's JSON [`ApiError`] instead of
//! axum's plain-text rejections: a JSON body ([`ApiJson`]: 400 malformed or wrong types, 413
//! beyond `--max-body`), a path parameter ([`ApiPath`]) and the `?mode=` query ([`ModeQuery`]).

use std::pin::pin;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::config::Mode;
use crate::error::ApiError;
use crate::state::AppState;

/// A path parameter, percent-decoded (`/api/tickets/{id}`); 400 if it is not UTF-8.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub(crate) struct ApiPath<T>(pub(crate) T);

/// `?mode=sync|async`, if given; 400 for any other value.
#[derive(Debug, Deserialize, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub(crate) struct ModeQuery {
    mode: Option<Mode>,
}

impl ModeQuery {
    /// The mode asked for, else the instance's `--mode`.
    pub(crate) fn or(self, default: Mode) -> Mode {
        self.mode.unwrap_or(default)
    }
}

/// A JSON request body of at most `--max-body` bytes (read through `http_body_util::Limited`).
///
/// Not `#[from_request(via(Json))]`: `axum::Json` refuses a body without a JSON
/// Content-Type (415), and the backend has always taken JSON without one (`curl -d`, the
/// README's own example, sends a form type). It also tells an empty body from malformed JSON,
/// and answers wrong fields or types with 400 rather than axum's 422.
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(req.into_body(), state.config().max_body).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Reads a whole body of at most `limit` bytes. A body that arrives in one frame (any small
/// request: this is every action request) is kept as received, without the copy and the
/// buffer list a general collector makes; it is the hot path of every load test.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let mut body = pin!(Limited::new(body, limit));
    let mut first: Option<Bytes> = None;
    let mut joined = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if e.is::<LengthLimitError>() {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large").with_detail(
                    format!("send at most {limit} bytes (the limit is set by --max-body)"),
                )
            } else {
                ApiError::bad_request("cannot read the request body").with_detail(e.to_string())
            }
        })?;
        // Trailers carry nothing a JSON body needs.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            None => joined.extend_from_slice(&data),
            Some(earlier) => {
                joined.reserve(earlier.len() + data.len());
                joined.extend_from_slice(&earlier);
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(first.unwrap_or_else(|| joined.freeze()))
}

/// Parses `bytes` as JSON into `T`, telling malformed JSON apart from wrong fields or types.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let error = match e.classify() {
            Category::Data => "wrong fields or types in the JSON body",
            Category::Eof if bytes.iter().all(u8::is_ascii_whitespace) => {
                "the request body is empty: send a JSON object"
            }
            Category::Syntax | Category::Eof | Category::Io => "malformed JSON body",
        };
        ApiError::bad_request(error).with_detail(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use common::api::FeedbackRequest;

    use super::*;
    use crate::config::Config;

    #[test]
    fn json_errors_say_what_is_wrong() {
        let e = parse_json::<FeedbackRequest>(b"{").unwrap_err();
        assert_eq!(e.error, "malformed JSON body");
        let e = parse_json::<FeedbackRequest>(br#"{"rating":"five"}"#).unwrap_err();
        assert_eq!(e.error, "wrong fields or types in the JSON body");
        assert!(e.detail.unwrap().contains("invalid type"));
        let e = parse_json::<FeedbackRequest>(b" \n").unwrap_err();
        assert!(e.error.contains("empty"));
        assert!(parse_json::<FeedbackRequest>(br#"{"rating":5}"#).is_ok());
    }

    async fn mode_of(uri: &str) -> Result<Mode, ApiError> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        ModeQuery::from_request_parts(&mut parts, &())
            .await
            .map(|q| q.or(Mode::Sync))
    }

    #[tokio::test]
    async fn the_mode_query_parses_and_rejects_unknown_values() {
        assert_eq!(mode_of("/x").await.unwrap(), Mode::Sync);
        assert_eq!(mode_of("/x?a=1").await.unwrap(), Mode::Sync);
        assert_eq!(mode_of("/x?mode=async").await.unwrap(), Mode::Async);
        assert_eq!(mode_of("/x?y&mode=async").await.unwrap(), Mode::Async);
        let e = mode_of("/x?mode=later").await.unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.detail.unwrap().contains("later"));
    }

    /// A body without any Content-Type is still read as JSON.
    #[tokio::test]
    async fn a_json_body_needs_no_content_type() {
        let state = AppState::new(Config::default());
        let req = Request::post("/x")
            .body(Body::from(r#"{"rating":4}"#))
            .unwrap();
        let ApiJson(body) = ApiJson::<FeedbackRequest>::from_request(req, &state)
            .await
            .unwrap();
        assert_eq!(body.rating, 4);
    }
}
