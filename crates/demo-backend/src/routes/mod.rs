//! The router: every route of `common::api::routes` except the frontend's summary, with
//! JSON 404/405 fallbacks, the body limit, the request timeout and per-request metrics.

mod actions;
mod ops;
pub(crate) mod stress;
mod work;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{delete, get, post};
use common::api::routes;

use crate::middleware;
use crate::state::AppState;

/// The backend's router for `state`; `oneshot`-testable, served by [`crate::run`].
pub fn app(state: AppState) -> Router {
    let max_body = state.config().max_body;
    Router::new()
        .route(routes::HEALTHZ, get(ops::healthz))
        .route(routes::READYZ, get(ops::readyz))
        .route(routes::METRICS, get(ops::metrics))
        .route(routes::SHOWTIMES, get(ops::showtimes))
        .route(routes::STATS, get(ops::stats))
        .route(routes::TICKETS, post(actions::book_ticket))
        .route(routes::TICKET, delete(actions::cancel_ticket))
        .route(routes::FEEDBACK, post(actions::give_feedback))
        .route(routes::JOB, get(actions::job_status))
        .route(routes::STRESS_CPU, post(stress::cpu))
        .route(routes::STRESS_MEMORY, post(stress::memory))
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .route_layer(from_fn_with_state(state.clone(), middleware::route))
        .fallback(middleware::not_found)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(from_fn_with_state(state.clone(), middleware::observe))
        .with_state(state)
}
