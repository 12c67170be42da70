//! The routes: one table of every route of `common::api::routes` the backend serves (all
//! but the frontend's summary), with its method and handler, and the dispatch over it with
//! JSON 404/405 answers.
//!
//! The handlers are called from this table rather than an `axum::Router`: the observing
//! layer has to know the route template before the answer anyway (for the `route` label), so
//! one lookup serves both, and the router's per-request costs (its path matcher, a
//! URL-parameter map in the request's extensions, a cloned boxed service) were a tenth of the
//! backend's instructions per request in the benchmark against a bare hyper server. The
//! three actions are plain async functions over the request (see `actions`); the other
//! routes are axum handlers (extractors in, `IntoResponse` out), called through
//! [`Handler::call`].

mod actions;
mod ops;
pub(crate) mod stress;
mod work;

use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::handler::Handler;
use axum::http::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::api::routes;

use crate::error::ApiError;
use crate::extract::RequestBody;
use crate::middleware::App;
use crate::state::AppState;

/// The backend's HTTP service for `state`; `oneshot`-testable, served by [`crate::run`].
/// The body limit (`--max-body`) is applied by the JSON extractor, not a layer.
pub fn app(state: AppState) -> App {
    App::new(state)
}

/// The answer a handler is computing: what axum's function handlers return.
pub(crate) type Answer = Pin<Box<dyn Future<Output = Response> + Send>>;

/// Every route the backend serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Healthz,
    Readyz,
    Metrics,
    Tickets,
    Ticket,
    Feedback,
    Showtimes,
    Stats,
    Job,
    StressCpu,
    StressMemory,
}

impl Route {
    /// Every route; [`Route::index`] is the position here (the metric handle table's order).
    pub(crate) const ALL: [Self; 11] = [
        Self::Healthz,
        Self::Readyz,
        Self::Metrics,
        Self::Tickets,
        Self::Ticket,
        Self::Feedback,
        Self::Showtimes,
        Self::Stats,
        Self::Job,
        Self::StressCpu,
        Self::StressMemory,
    ];

    /// The path template, which is also the `route` label of its requests.
    pub(crate) const fn template(self) -> &'static str {
        match self {
            Self::Healthz => routes::HEALTHZ,
            Self::Readyz => routes::READYZ,
            Self::Metrics => routes::METRICS,
            Self::Tickets => routes::TICKETS,
            Self::Ticket => routes::TICKET,
            Self::Feedback => routes::FEEDBACK,
            Self::Showtimes => routes::SHOWTIMES,
            Self::Stats => routes::STATS,
            Self::Job => routes::JOB,
            Self::StressCpu => routes::STRESS_CPU,
            Self::StressMemory => routes::STRESS_MEMORY,
        }
    }

    /// The one method the route serves (a GET route answers HEAD as well).
    pub(crate) const fn method(self) -> Method {
        match self {
            Self::Tickets | Self::Feedback | Self::StressCpu | Self::StressMemory => Method::POST,
            Self::Ticket => Method::DELETE,
            Self::Healthz
            | Self::Readyz
            | Self::Metrics
            | Self::Showtimes
            | Self::Stats
            | Self::Job => Method::GET,
        }
    }

    /// The `Allow` header of its 405 answers.
    fn allow(self) -> &'static str {
        match self.method() {
            Method::POST => "POST",
            Method::DELETE => "DELETE",
            _ => "GET,HEAD",
        }
    }

    /// Requests of this route go through the capacity model and the stats latency window.
    pub(crate) const fn is_action(self) -> bool {
        matches!(
            self,
            Self::Tickets | Self::Ticket | Self::Feedback | Self::StressCpu | Self::StressMemory
        )
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// The route whose template `path` matches (a `{param}` segment takes one non-empty
    /// segment, nothing else is a wildcard, no decoding), if any.
    pub(crate) fn find(path: &str) -> Option<Self> {
        // A `match` on the fixed paths compiles to a length switch and one comparison.
        let fixed = match path {
            routes::HEALTHZ => Self::Healthz,
            routes::READYZ => Self::Readyz,
            routes::METRICS => Self::Metrics,
            routes::TICKETS => Self::Tickets,
            routes::FEEDBACK => Self::Feedback,
            routes::SHOWTIMES => Self::Showtimes,
            routes::STATS => Self::Stats,
            routes::STRESS_CPU => Self::StressCpu,
            routes::STRESS_MEMORY => Self::StressMemory,
            _ => {
                return [Self::Ticket, Self::Job]
                    .into_iter()
                    .find(|route| template_matches(route.template(), path));
            }
        };
        Some(fixed)
    }

    pub(crate) fn serves(self, method: &Method) -> bool {
        let own = self.method();
        *method == own || (own == Method::GET && *method == Method::HEAD)
    }

    /// Answers `req`, a request whose path matched this route. The actions, the hot path,
    /// read the body as it came from the connection; the other handlers take an axum `Body`.
    pub(crate) fn call(self, req: Request<impl RequestBody>, state: AppState) -> Answer {
        if !self.serves(req.method()) {
            return ready(method_not_allowed(self, req.method()));
        }
        match self {
            Self::Tickets => Box::pin(actions::book_ticket(state, req)),
            Self::Ticket => Box::pin(actions::cancel_ticket(state, req)),
            Self::Feedback => Box::pin(actions::give_feedback(state, req)),
            _ => self.call_with_axum_body(req.map(Body::new), state),
        }
    }

    /// Every route over an axum `Body`. `call` sends the actions their own body instead; their
    /// arms here are the same functions, so the table stays whole.
    fn call_with_axum_body(self, req: Request<Body>, state: AppState) -> Answer {
        match self {
            Self::Healthz => Handler::call(ops::healthz, req, state),
            Self::Readyz => Handler::call(ops::readyz, req, state),
            Self::Metrics => Handler::call(ops::metrics, req, state),
            Self::Tickets => Box::pin(actions::book_ticket(state, req)),
            Self::Ticket => Box::pin(actions::cancel_ticket(state, req)),
            Self::Feedback => Box::pin(actions::give_feedback(state, req)),
            Self::Showtimes => Handler::call(ops::showtimes, req, state),
            Self::Stats => Handler::call(ops::stats, req, state),
            Self::Job => Handler::call(actions::job_status, req, state),
            Self::StressCpu => Handler::call(stress::cpu, req, state),
            Self::StressMemory => Handler::call(stress::memory, req, state),
        }
    }
}

/// Byte by byte, since this runs on every request: a `{param}` takes one non-empty segment.
fn template_matches(template: &str, path: &str) -> bool {
    let (mut want, mut got) = (template.as_bytes(), path.as_bytes());
    loop {
        match want.split_first() {
            None => return got.is_empty(),
            Some((b'{', rest)) => {
                let param_end = rest
                    .iter()
                    .position(|&b| b == b'}')
                    .map_or(rest.len(), |i| i + 1);
                want = &rest[param_end..];
                let segment = got.iter().position(|&b| b == b'/').unwrap_or(got.len());
                if segment == 0 {
                    return false;
                }
                got = &got[segment..];
            }
            Some((&b, rest)) => match got.split_first() {
                Some((&g, got_rest)) if g == b => {
                    want = rest;
                    got = got_rest;
                }
                _ => return false,
            },
        }
    }
}

pub(crate) fn ready(response: Response) -> Answer {
    Box::pin(std::future::ready(response))
}

/// 404 for any path without a route, as JSON.
pub(crate) fn not_found(path: &str) -> Response {
    let path: String = path.chars().take(200).collect();
    ApiError::not_found(format!("no route for {path}"))
        .with_detail("see the README for the backend's routes")
        .into_response()
}

/// 405 for a known path with a method it does not serve, as JSON, with `Allow`.
fn method_not_allowed(route: Route, method: &Method) -> Response {
    let shown: String = method.as_str().chars().take(32).collect();
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{shown} is not allowed on {}", route.template()),
    )
    .with_detail("the Allow header lists the methods this route serves")
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(route.allow()));
    response
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;

    #[test]
    fn paths_find_their_route() {
        let cases = [
            ("/healthz", Some(Route::Healthz)),
            ("/api/tickets", Some(Route::Tickets)),
            ("/api/tickets/t-1", Some(Route::Ticket)),
            ("/api/tickets/a%2Fb", Some(Route::Ticket)),
            ("/api/jobs/job-9", Some(Route::Job)),
            ("/api/stress/cpu", Some(Route::StressCpu)),
            ("/api/tickets/", None),
            ("/api/tickets//", None),
            ("/api/tickets/t-1/x", None),
            ("/healthz/", None),
            ("/HEALTHZ", None),
            ("/metricsx", None),
            ("/", None),
            ("", None),
            ("/api", None),
            ("//healthz", None),
        ];
        for (path, route) in cases {
            assert_eq!(Route::find(path), route, "{path}");
        }
    }

    #[test]
    fn the_table_is_in_index_order_and_every_template_finds_its_route() {
        for (i, route) in Route::ALL.into_iter().enumerate() {
            assert_eq!(route.index(), i);
            let path = route.template().replace("{id}", "x-1");
            assert_eq!(Route::find(&path), Some(route), "{path}");
        }
    }

    #[test]
    fn only_the_action_method_on_an_action_route_is_an_action() {
        let actions: Vec<_> = Route::ALL.into_iter().filter(|r| r.is_action()).collect();
        assert_eq!(
            actions,
            [
                Route::Tickets,
                Route::Ticket,
                Route::Feedback,
                Route::StressCpu,
                Route::StressMemory
            ]
        );
        assert!(actions.iter().all(|r| r.method() != Method::GET));
    }

    /// Every route answers its own method (HEAD too for GET routes) and refuses the others
    /// with 405 and an `Allow` header naming what it serves.
    #[tokio::test]
    async fn every_route_answers_its_method_and_405s_the_rest() {
        let app = app(AppState::new(Config {
            enable_stress: true,
            ..Config::default()
        }));
        for route in Route::ALL {
            let path = route.template().replace("{id}", "t-1");
            for method in [
                Method::GET,
                Method::HEAD,
                Method::POST,
                Method::PUT,
                Method::DELETE,
                Method::PATCH,
                Method::OPTIONS,
            ] {
                let request = Request::builder()
                    .method(method.clone())
                    .uri(&path)
                    .body(Body::from(
                        r#"{"rating":3,"duration_ms":1,"bytes":1,"hold_ms":1}"#,
                    ))
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                let status = response.status();
                let allow = response.headers().get(header::ALLOW).cloned();
                let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap();
                let body = String::from_utf8_lossy(&body);
                if route.serves(&method) {
                    assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    assert!(!body.contains("no route for"), "{method} {path}: {body}");
                } else {
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
                    let allow = allow.expect("a 405 names the allowed methods");
                    assert_eq!(allow, route.allow(), "{method} {path}");
                    assert!(body.contains(route.template()), "{body}");
                }
            }
        }
    }

    #[tokio::test]
    async fn an_unknown_path_is_a_json_404_whatever_the_method() {
        let app = app(AppState::new(Config::default()));
        for method in [Method::GET, Method::POST, Method::OPTIONS] {
            let request = Request::builder()
                .method(method)
                .uri("/api/nope?x=1")
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert!(
                String::from_utf8_lossy(&body).contains("no route for /api/nope"),
                "{body:?}"
            );
        }
    }
}
