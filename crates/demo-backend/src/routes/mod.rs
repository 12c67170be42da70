//! The backend's HTTP service: an axum `Router` with one line per route of
//! `common::api::routes` the backend serves (all but the frontend's summary), JSON answers
//! for 404 and 405 (axum adds `Allow`), and the layers every request goes through. Bodies
//! are bounded by `--max-body` where they are read (`extract::ApiJson`).

mod actions;
mod ops;
pub(crate) mod stress;

use axum::Router;
use axum::extract::MatchedPath;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use common::api::routes;
use tower::ServiceBuilder;

use crate::deadline::DeadlineLayer;
use crate::error::ApiError;
use crate::observe::ObserveLayer;
use crate::state::AppState;

/// The backend's HTTP service for `state`: `oneshot`-testable, served by [`crate::run`].
pub fn app(state: AppState) -> Router {
    let layers = ServiceBuilder::new()
        .layer(ObserveLayer::new(state.clone()))
        .layer(DeadlineLayer::new(state.clone()));
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
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(layers)
        .with_state(state)
}

/// Requests doing work for a user (the actions and the stress routes): their latency is
/// what the stats window shows, and the observing layer asks this of every request.
pub(crate) fn is_work(method: &Method, route: &str) -> bool {
    match *method {
        Method::POST => matches!(
            route,
            routes::TICKETS | routes::FEEDBACK | routes::STRESS_CPU | routes::STRESS_MEMORY
        ),
        Method::DELETE => route == routes::TICKET,
        _ => false,
    }
}

/// 404 for any path without a route, as JSON.
async fn not_found(uri: Uri) -> Response {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::not_found(format!("no route for {path}"))
        .with_detail("see the README for the backend's routes")
        .into_response()
}

/// 405 for a route asked with a method it does not serve, as JSON; axum adds the `Allow`
/// header naming the methods it does serve.
async fn method_not_allowed(method: Method, route: Option<MatchedPath>) -> Response {
    let shown: String = method.as_str().chars().take(32).collect();
    let route = route.as_ref().map_or("this route", MatchedPath::as_str);
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{shown} is not allowed on {route}"),
    )
    .with_detail("the Allow header lists the methods this route serves")
    .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, header};
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;

    /// Every route the backend serves, with the one method it serves (GET routes take HEAD).
    const SERVED: [(&str, Method); 11] = [
        (routes::HEALTHZ, Method::GET),
        (routes::READYZ, Method::GET),
        (routes::METRICS, Method::GET),
        (routes::SHOWTIMES, Method::GET),
        (routes::STATS, Method::GET),
        (routes::TICKETS, Method::POST),
        (routes::TICKET, Method::DELETE),
        (routes::FEEDBACK, Method::POST),
        (routes::JOB, Method::GET),
        (routes::STRESS_CPU, Method::POST),
        (routes::STRESS_MEMORY, Method::POST),
    ];

    async fn send(
        app: &Router,
        method: Method,
        path: &str,
    ) -> (StatusCode, Option<String>, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::from(
                r#"{"rating":3,"duration_ms":1,"bytes":1,"hold_ms":1}"#,
            ))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let allow = response
            .headers()
            .get(header::ALLOW)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, allow, String::from_utf8_lossy(&body).into_owned())
    }

    /// Every route answers its own method (HEAD too for GET routes) and refuses the others
    /// with a JSON 405 and an `Allow` header naming what it serves.
    #[tokio::test]
    async fn every_route_answers_its_method_and_405s_the_rest() {
        let app = app(AppState::new(Config {
            enable_stress: true,
            service_time: std::time::Duration::ZERO,
            ..Config::default()
        }));
        for (template, own) in SERVED {
            let path = template.replace("{id}", "t-1");
            let allow = if own == Method::GET {
                "GET,HEAD"
            } else {
                own.as_str()
            };
            for method in [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
                Method::OPTIONS,
            ] {
                let served = method == own || (own == Method::GET && method == Method::HEAD);
                let (status, allowed, body) = send(&app, method.clone(), &path).await;
                if served {
                    assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    assert!(!body.contains("no route for"), "{method} {path}: {body}");
                } else {
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
                    if method == Method::HEAD {
                        assert!(body.is_empty(), "a HEAD answer has no body");
                        continue;
                    }
                    let error: common::api::ErrorBody = serde_json::from_str(&body).unwrap();
                    assert!(error.error.contains(template), "{body}");
                }
            }
        }
    }

    #[tokio::test]
    async fn paths_outside_the_templates_are_json_404s() {
        let app = app(AppState::new(Config::default()));
        for path in [
            "/api/tickets/",
            "/api/tickets/t-1/seats",
            "/healthz/",
            "/HEALTHZ",
            "/metricsx",
            "/",
            "/api",
            "//healthz",
            "/api/nope?x=1",
        ] {
            for method in [Method::GET, Method::POST, Method::OPTIONS] {
                let (status, _, body) = send(&app, method.clone(), path).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
                let error: common::api::ErrorBody = serde_json::from_str(&body).unwrap();
                assert!(error.error.starts_with("no route for /"), "{path}: {body}");
                assert!(
                    !error.error.contains('?'),
                    "the query is not echoed: {body}"
                );
            }
        }
    }

    /// Every route, the 404 and the 405 go through the observing layer: each request is
    /// counted under its route template, so no route can escape the layers.
    #[tokio::test]
    async fn every_route_and_fallback_is_observed() {
        let state = AppState::new(Config {
            enable_stress: true,
            service_time: std::time::Duration::ZERO,
            ..Config::default()
        });
        let app = app(state.clone());
        let mut expected = Vec::new();
        for (template, method) in SERVED {
            let (status, _, _) = send(&app, method.clone(), &template.replace("{id}", "t-1")).await;
            expected.push((method.to_string(), template.to_owned(), status.as_u16()));
        }
        let (status, _, _) = send(&app, Method::PUT, routes::HEALTHZ).await;
        expected.push(("PUT".into(), routes::HEALTHZ.into(), status.as_u16()));
        let (status, _, _) = send(&app, Method::GET, "/nowhere").await;
        expected.push((
            "GET".into(),
            crate::observe::UNMATCHED.into(),
            status.as_u16(),
        ));
        let samples = common::exposition::parse(&state.render_metrics()).unwrap();
        for (method, route, status) in expected {
            let counted = samples.iter().find(|s| {
                s.name == common::names::HTTP_REQUESTS_TOTAL
                    && s.label("method") == Some(&method)
                    && s.label("route") == Some(&route)
                    && s.label("status") == Some(&status.to_string())
            });
            assert_eq!(
                counted.map(|s| s.value),
                Some(1.0),
                "{method} {route} {status}"
            );
        }
    }

    #[test]
    fn only_the_action_method_on_an_action_route_is_work() {
        let work: Vec<_> = SERVED
            .iter()
            .filter(|(route, method)| is_work(method, route))
            .map(|(route, _)| *route)
            .collect();
        assert_eq!(
            work,
            [
                routes::TICKETS,
                routes::TICKET,
                routes::FEEDBACK,
                routes::STRESS_CPU,
                routes::STRESS_MEMORY
            ]
        );
        assert!(!is_work(&Method::GET, routes::FEEDBACK));
        assert!(!is_work(&Method::POST, routes::TICKET));
    }
}
