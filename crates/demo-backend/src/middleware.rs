//! The one layer around the routes: the request timeout, the in-flight count, session
//! tracking, the request count and duration by method, route template and status, and the
//! stats latency window. It sees every answer, 404s and shed 503s included.
//!
//! Hand-written rather than axum `from_fn` middleware or `Router::layer`: each of those
//! costs a cloned boxed service and a boxed future per request, which showed in the
//! benchmark against a bare hyper server. The route is looked up once, here, for both the
//! `route` label and the dispatch ([`Route::call`]).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::body::{Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use tokio::time::{Sleep, sleep_until};
use tower::{BoxError, Service};

use crate::error::ApiError;
use crate::metrics::MethodLabel;
use crate::routes::{self, Answer, Route};
use crate::sessions::session_id;
use crate::state::{AppState, BusyGuard};

/// The `route` label of requests that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// How many values the `route` label takes: every route and `unmatched`.
pub(crate) const ROUTE_SLOTS: usize = Route::ALL.len() + 1;

/// The route a request is for, and whether it is an action request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteTag {
    pub(crate) route: Option<Route>,
    pub(crate) action: bool,
}

impl RouteTag {
    pub(crate) fn classify(method: &Method, path: &str) -> Self {
        let route = Route::find(path);
        Self {
            route,
            action: route.is_some_and(|r| r.is_action() && *method == r.method()),
        }
    }

    /// The `route` label: the template, or `unmatched`, so the label set stays bounded.
    pub(crate) fn label(self) -> &'static str {
        self.route.map_or(UNMATCHED, Route::template)
    }

    /// Position among the [`ROUTE_SLOTS`] label values.
    pub(crate) fn slot(self) -> usize {
        self.route.map_or(Route::ALL.len(), Route::index)
    }
}

/// Marks a response of this request as shed, so it stays out of the latency window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shed;

/// The backend's HTTP service: the routes inside the observing layer. Built by
/// [`crate::app`]; [`crate::run`] serves it, tests call it directly
/// (`tower::ServiceExt::oneshot`).
#[derive(Debug, Clone)]
pub struct App {
    state: AppState,
}

impl App {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }

    fn observe<B>(&self, req: Request<B>) -> Observed
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let start = Instant::now();
        let method = MethodLabel::of(req.method());
        let tag = RouteTag::classify(req.method(), req.uri().path());
        if let Some(id) = session_id(req.headers()) {
            self.state.inner.sessions.touch(id, start);
        }
        let busy = self.state.busy(false);
        let answer = match tag.route {
            Some(route) => route.call(req, self.state.clone()),
            None => routes::ready(routes::not_found(req.uri().path())),
        };
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

/// How the server calls it: by reference, so a request costs no clone of the service.
impl hyper::service::Service<Request<Incoming>> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = Observed;

    fn call(&self, req: Request<Incoming>) -> Observed {
        self.observe(req)
    }
}

/// How tests call it (`tower::ServiceExt::oneshot`), with any body.
impl<B> Service<Request<B>> for App
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Observed {
        self.observe(req)
    }
}

/// The answer of one request, recorded when it is ready.
pub struct Observed {
    answer: Answer,
    /// `--request-timeout` from the start, armed only once the answer has to wait: most
    /// requests are answered in their first poll and never touch the timer wheel (boxed, so
    /// the future hyper moves around stays small).
    deadline: Option<Pin<Box<Sleep>>>,
    busy: Option<BusyGuard>,
    start: Instant,
    method: MethodLabel,
    tag: RouteTag,
}

impl std::fmt::Debug for Observed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observed")
            .field("method", &self.method.as_str())
            .field("route", &self.tag.label())
            .finish_non_exhaustive()
    }
}

impl Future for Observed {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let answered = match this.answer.as_mut().poll(cx) {
            Poll::Ready(response) => Some(response),
            Poll::Pending => {
                let deadline = this.deadline.get_or_insert_with(|| {
                    let limit = this
                        .busy
                        .as_ref()
                        .map(|b| b.state().inner.config.request_timeout);
                    let at = this.start + limit.unwrap_or(Duration::ZERO);
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
            .unwrap_or_else(|| timed_out(this.tag.label(), state.inner.config.request_timeout));
        record(state, this.start, this.method, this.tag, &response);
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
