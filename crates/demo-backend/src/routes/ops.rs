//! Operational and read-only routes: health, readiness, metrics, stats, showtimes. None of
//! them goes through the capacity limiter, so they answer even when the replica is overloaded.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// `GET /healthz`: the process is alive. A static body: probes hit this every second.
pub(crate) async fn healthz() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"status":"ok"}"#,
    )
        .into_response()
}

/// `GET /readyz`: ready for traffic; 503 from the moment a shutdown starts.
pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_draining() {
        return ApiError::unavailable("draining: this replica is shutting down").into_response();
    }
    Json(json!({"status": "ready", "replica": state.config().replica_name})).into_response()
}

/// `GET /metrics`: this instance's Prometheus page.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let body = state.render_metrics();
    let mut response = (StatusCode::OK, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(common::exposition::CONTENT_TYPE),
    );
    response
}

/// `GET /api/stats`: this replica's view of itself.
pub(crate) async fn stats(State(state): State<AppState>) -> Response {
    Json(state.stats()).into_response()
}

/// `GET /api/showtimes`: the programme with seats left.
pub(crate) async fn showtimes(State(state): State<AppState>) -> Response {
    let showtimes = state.store().showtimes();
    Json(showtimes).into_response()
}
