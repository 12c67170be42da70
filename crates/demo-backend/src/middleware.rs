//! Request middleware: per-request metrics (outermost, sees every answer including 404s
//! and shed 503s) and the route layer (request timeout, and the tag that carries the
//! matched route template out to the metrics).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use common::api::routes;
use std::sync::atomic::Ordering;

use crate::error::ApiError;
use crate::metrics::method_label;
use crate::sessions::session_id;
use crate::state::AppState;

/// The `route` label of requests that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// Every route template with whether it is an action route (goes through the capacity
/// limiter and counts in the stats latency window).
const ROUTES: [(&str, bool); 11] = [
    (routes::HEALTHZ, false),
    (routes::READYZ, false),
    (routes::METRICS, false),
    (routes::TICKETS, true),
    (routes::TICKET, true),
    (routes::FEEDBACK, true),
    (routes::SHOWTIMES, false),
    (routes::STATS, false),
    (routes::JOB, false),
    (routes::STRESS_CPU, true),
    (routes::STRESS_MEMORY, true),
];

/// The route a response answered, put in its extensions by [`route`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteTag {
    pub(crate) route: &'static str,
    pub(crate) action: bool,
}

impl RouteTag {
    pub(crate) const UNMATCHED: Self = Self {
        route: UNMATCHED,
        action: false,
    };

    /// The tag of a matched template; `unmatched` for anything not in the route table, so
    /// the label set stays bounded.
    pub(crate) fn from_matched(path: Option<&MatchedPath>) -> Self {
        path.and_then(|p| ROUTES.iter().find(|(r, _)| *r == p.as_str()))
            .map(|&(route, action)| Self { route, action })
            .unwrap_or(Self::UNMATCHED)
    }
}

/// Marks a response of this request as shed, so it stays out of the latency window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shed;

/// Outermost: in-flight gauge, session tracking, request count and duration by method,
/// route template and status, and the stats latency window.
pub(crate) async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    if let Some(id) = session_id(req.headers()) {
        state.inner.sessions.touch(id, start);
    }
    let _busy = state.busy(true);
    let response = next.run(req).await;
    let elapsed = start.elapsed();
    let tag = response
        .extensions()
        .get::<RouteTag>()
        .copied()
        .unwrap_or(RouteTag::UNMATCHED);
    let inner = &state.inner;
    inner
        .metrics
        .http(method, tag.route, response.status().as_u16(), elapsed);
    inner.requests_total.fetch_add(1, Ordering::Relaxed);
    if tag.action && response.extensions().get::<Shed>().is_none() {
        inner.latency.record(elapsed, start + elapsed);
    }
    response
}

/// Route layer: runs the request under `--request-timeout` (queue wait included) and copies
/// the matched route template into the response for [`observe`], which runs outside
/// routing and cannot see it on the request. One layer for both: each layer costs a boxed
/// future per request.
pub(crate) async fn route(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let tag = RouteTag::from_matched(req.extensions().get::<MatchedPath>());
    let limit = state.inner.config.request_timeout;
    let mut response = match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(route = tag.route, timeout = ?limit, "request timed out");
            ApiError::unavailable("the request timed out")
                .with_detail(format!(
                    "not answered within {} (--request-timeout); retry later",
                    common::HumanDuration(limit)
                ))
                .into_response()
        }
    };
    response.extensions_mut().insert(tag);
    response
}

/// 404 for any path without a route, as JSON.
pub(crate) async fn not_found(req: Request) -> Response {
    let path: String = req.uri().path().chars().take(200).collect();
    ApiError::not_found(format!("no route for {path}"))
        .with_detail("see the README for the backend's routes")
        .into_response()
}

/// 405 for a known path with a method it does not serve, as JSON (axum adds `Allow`).
pub(crate) async fn method_not_allowed(path: Option<MatchedPath>, req: Request) -> Response {
    let tag = RouteTag::from_matched(path.as_ref());
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            method_label(req.method()),
            tag.route
        ),
    )
    .with_detail("the Allow header lists the methods this route serves")
    .into_response();
    response.extensions_mut().insert(tag);
    response
}
