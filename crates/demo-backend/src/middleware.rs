//! The one layer around the router: the request timeout, the in-flight count, session
//! tracking, the request count and duration by method, route template and status, and the
//! stats latency window. It sees every answer, 404s and shed 503s included.
//!
//! Hand-written rather than axum `from_fn` middleware or `Router::layer`: each of those
//! costs a cloned boxed service and a boxed future per request, which showed in the
//! benchmark against a bare hyper server. The route template comes from [`RouteTag::classify`]
//! on the path, before routing, so nothing has to travel back out in the response.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use common::api::routes;
use pin_project_lite::pin_project;
use tokio::time::{Sleep, sleep_until};
use tower::{BoxError, Service};

use crate::error::ApiError;
use crate::metrics::MethodLabel;
use crate::sessions::session_id;
use crate::state::{AppState, BusyGuard};

/// The `route` label of requests that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// One route template the router serves.
struct Template {
    path: &'static str,
    /// The method that makes a request to it an action (through the capacity limiter,
    /// counted in the stats latency window).
    action: Option<Method>,
    /// Holds a `{param}` segment (else a plain comparison matches it).
    param: bool,
}

const fn template(path: &'static str, action: Option<Method>) -> Template {
    Template {
        path,
        action,
        param: has_param(path),
    }
}

/// How many route templates the router serves.
const ROUTE_COUNT: usize = 11;

static ROUTES: [Template; ROUTE_COUNT] = [
    template(routes::HEALTHZ, None),
    template(routes::READYZ, None),
    template(routes::METRICS, None),
    template(routes::TICKETS, Some(Method::POST)),
    template(routes::TICKET, Some(Method::DELETE)),
    template(routes::FEEDBACK, Some(Method::POST)),
    template(routes::SHOWTIMES, None),
    template(routes::STATS, None),
    template(routes::JOB, None),
    template(routes::STRESS_CPU, Some(Method::POST)),
    template(routes::STRESS_MEMORY, Some(Method::POST)),
];

/// How many values the `route` label takes: every template and `unmatched`.
pub(crate) const ROUTE_SLOTS: usize = ROUTE_COUNT + 1;

/// The route template a request is for, and whether it is an action request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteTag {
    pub(crate) route: &'static str,
    /// Position in the route table, below [`ROUTE_SLOTS`].
    pub(crate) index: usize,
    pub(crate) action: bool,
}

impl RouteTag {
    pub(crate) const UNMATCHED: Self = Self {
        route: UNMATCHED,
        index: ROUTE_COUNT,
        action: false,
    };

    /// The template `path` matches as the router matches it (a `{param}` segment takes one
    /// non-empty segment, nothing else is a wildcard); `unmatched` for anything else, so the
    /// label set stays bounded.
    pub(crate) fn classify(method: &Method, path: &str) -> Self {
        ROUTES
            .iter()
            .position(|t| {
                if t.param {
                    template_matches(t.path, path)
                } else {
                    t.path == path
                }
            })
            .map(|index| Self {
                route: ROUTES[index].path,
                index,
                action: ROUTES[index].action.as_ref() == Some(method),
            })
            .unwrap_or(Self::UNMATCHED)
    }
}

const fn has_param(template: &str) -> bool {
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            return true;
        }
        i += 1;
    }
    false
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

/// Marks a response of this request as shed, so it stays out of the latency window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shed;

/// The backend's HTTP service: the router inside the observing layer. Built by
/// [`crate::app`]; [`crate::run`] serves it, tests call it directly
/// (`tower::ServiceExt::oneshot`).
#[derive(Debug, Clone)]
pub struct App {
    router: Router,
    state: AppState,
}

impl App {
    pub(crate) fn new(router: Router, state: AppState) -> Self {
        Self { router, state }
    }
}

impl<B> Service<Request<B>> for App
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Service::<Request>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, req: Request<B>) -> Observed {
        let start = Instant::now();
        let method = MethodLabel::of(req.method());
        let tag = RouteTag::classify(req.method(), req.uri().path());
        if let Some(id) = session_id(req.headers()) {
            self.state.inner.sessions.touch(id, start);
        }
        let busy = self.state.busy(true);
        let answer = self.router.call(req.map(Body::new));
        Observed {
            answer,
            deadline: None,
            busy: Some(busy),
            start,
            method,
            tag,
        }
    }
}

pin_project! {
    /// The answer of one request, recorded when it is ready.
    pub struct Observed {
        #[pin]
        answer: RouteFuture<Infallible>,
        // `--request-timeout` from the start, armed only once the answer has to wait: most
        // requests are answered in their first poll and never touch the timer wheel (boxed,
        // so the future hyper moves around stays small).
        deadline: Option<Pin<Box<Sleep>>>,
        busy: Option<BusyGuard>,
        start: Instant,
        method: MethodLabel,
        tag: RouteTag,
    }
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("method", &self.method.as_str())
            .field("route", &self.tag.route)
            .finish_non_exhaustive()
    }
}

impl Future for Observed {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let answered = match this.answer.poll(cx) {
            Poll::Ready(Ok(response)) => Some(response),
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => {
                let deadline = this.deadline.get_or_insert_with(|| {
                    let limit = this
                        .busy
                        .as_ref()
                        .map(|b| b.state().inner.config.request_timeout);
                    let at = *this.start + limit.unwrap_or(Duration::ZERO);
                    Box::pin(sleep_until(at.into()))
                });
                ready!(deadline.as_mut().poll(cx));
                None
            }
        };
        // The guard is the in-flight count: released once the answer is recorded.
        let Some(busy) = this.busy.take() else {
            return Poll::Ready(Ok(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "response polled twice",
            )
            .into_response()));
        };
        let state = busy.state();
        let response = answered
            .unwrap_or_else(|| timed_out(this.tag.route, state.inner.config.request_timeout));
        record(state, *this.start, *this.method, *this.tag, &response);
        Poll::Ready(Ok(response))
    }
}

fn timed_out(route: &str, limit: Duration) -> Response {
    tracing::warn!(route, timeout = ?limit, "request timed out");
    ApiError::unavailable("the request timed out")
        .with_detail(format!(
            "not answered within {} (--request-timeout); retry later",
            common::HumanDuration(limit)
        ))
        .into_response()
}

fn record(
    state: &AppState,
    start: Instant,
    method: MethodLabel,
    tag: RouteTag,
    response: &Response,
) {
    let elapsed = start.elapsed();
    let inner = &state.inner;
    inner
        .metrics
        .http(method, tag, response.status().as_u16(), elapsed);
    inner.requests_total.fetch_add(1, Ordering::Relaxed);
    if tag.action && response.extensions().get::<Shed>().is_none() {
        inner.latency.record(elapsed, start + elapsed);
    }
}

/// 404 for any path without a route, as JSON.
pub(crate) async fn not_found(req: Request) -> Response {
    let path: String = req.uri().path().chars().take(200).collect();
    ApiError::not_found(format!("no route for {path}"))
        .with_detail("see the README for the backend's routes")
        .into_response()
}

/// 405 for a known path with a method it does not serve, as JSON (axum adds `Allow`).
pub(crate) async fn method_not_allowed(req: Request) -> Response {
    let tag = RouteTag::classify(req.method(), req.uri().path());
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            MethodLabel::of(req.method()).as_str(),
            tag.route
        ),
    )
    .with_detail("the Allow header lists the methods this route serves")
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_classify_as_the_router_matches_them() {
        let cases = [
            ("/healthz", routes::HEALTHZ),
            ("/api/tickets", routes::TICKETS),
            ("/api/tickets/t-1", routes::TICKET),
            ("/api/tickets/a%2Fb", routes::TICKET),
            ("/api/jobs/job-9", routes::JOB),
            ("/api/stress/cpu", routes::STRESS_CPU),
            ("/api/tickets/", UNMATCHED),
            ("/api/tickets/t-1/x", UNMATCHED),
            ("/healthz/", UNMATCHED),
            ("/", UNMATCHED),
            ("", UNMATCHED),
            ("/api", UNMATCHED),
            ("//healthz", UNMATCHED),
        ];
        for (path, route) in cases {
            assert_eq!(
                RouteTag::classify(&Method::GET, path).route,
                route,
                "{path}"
            );
        }
    }

    #[test]
    fn only_the_action_method_on_an_action_route_is_an_action() {
        assert!(RouteTag::classify(&Method::POST, routes::FEEDBACK).action);
        assert!(RouteTag::classify(&Method::DELETE, "/api/tickets/t-1").action);
        assert!(!RouteTag::classify(&Method::GET, routes::FEEDBACK).action);
        assert!(!RouteTag::classify(&Method::PUT, routes::TICKETS).action);
        assert!(!RouteTag::classify(&Method::POST, routes::HEALTHZ).action);
        assert!(!RouteTag::classify(&Method::POST, "/nope").action);
    }
}
