//! The router: every route of `common::api::routes` except the frontend's summary, with
//! JSON 404/405 fallbacks, inside the layer that times out and measures every request.

mod actions;
mod ops;
pub(crate) mod stress;
mod work;

use axum::Router;
use axum::routing::{delete, get, post};
use common::api::routes;

use crate::middleware::{self, App};
use crate::state::AppState;

/// The backend's HTTP service for `state`; `oneshot`-testable, served by [`crate::run`].
/// The body limit (`--max-body`) is applied by the JSON extractor, not a layer.
pub fn app(state: AppState) -> App {
    let router = Router::new()
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
        .fallback(middleware::not_found)
        .with_state(state.clone());
    App::new(router, state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::middleware::{RouteTag, UNMATCHED};

    /// The metrics' `route` label comes from classifying the path before routing; it must
    /// agree with the router on what exists.
    #[tokio::test]
    async fn the_route_label_agrees_with_the_router() {
        let app = app(AppState::new(Config::default()));
        let mut paths: Vec<String> = [
            "/",
            "",
            "/api",
            "/api/",
            "/healthz/",
            "//healthz",
            "/HEALTHZ",
            "/api/tickets/",
            "/api/tickets//",
            "/api/tickets/x/y",
            "/api/jobs/",
            "/api/stress",
            "/metricsx",
            "/api/tickets/%2F",
            "/api/tickets/a b",
        ]
        .map(String::from)
        .to_vec();
        for template in [
            routes::HEALTHZ,
            routes::READYZ,
            routes::METRICS,
            routes::TICKETS,
            routes::TICKET,
            routes::FEEDBACK,
            routes::SHOWTIMES,
            routes::STATS,
            routes::JOB,
            routes::STRESS_CPU,
            routes::STRESS_MEMORY,
        ] {
            let path = template.replace("{id}", "t-1");
            paths.push(format!("{path}/"));
            paths.push(format!("{path}x"));
            paths.push(path);
        }
        for path in paths {
            let Ok(request) = Request::builder()
                .method(Method::OPTIONS)
                .uri(&path)
                .body(Body::empty())
            else {
                continue;
            };
            let uri_path = request.uri().path().to_owned();
            let response = app.clone().oneshot(request).await.unwrap();
            let routed = response.status() != StatusCode::NOT_FOUND;
            let tag = RouteTag::classify(&Method::OPTIONS, &uri_path);
            assert_eq!(
                tag.route != UNMATCHED,
                routed,
                "{path:?}: router says {}, label says {}",
                response.status(),
                tag.route
            );
        }
    }
}
