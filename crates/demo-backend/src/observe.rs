//! The observing layer: a `tower::Layer` around every route (and the 404 fallback) that
//! counts each request as in flight while it is answered, notes its session, and records
//! its answer: `http_requests_total` and `http_request_duration_seconds` by method, route
//! template (axum's `MatchedPath`; [`UNMATCHED`] for requests no route matched, never the raw
//! path) and status, and, for work done for a user, the stats latency window. It sees every
//! answer, 404s, 405s, shed 503s and timeouts included.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tower::{Layer, Service};

use crate::metrics::MethodLabel;
use crate::routes::is_work;
use crate::sessions::session_id;
use crate::state::{Answered, AppState};
use crate::work::Refused;

/// The `route` label of requests that matched no route.
pub(crate) const UNMATCHED: &str = "unmatched";

/// Wraps a service in [`Observe`].
#[derive(Debug, Clone)]
pub(crate) struct ObserveLayer {
    state: AppState,
}

impl ObserveLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service [`ObserveLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct Observe<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Observe<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Observed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        if let Some(id) = session_id(req.headers()) {
            self.state.touch_session(id, start);
        }
        let route = req.extensions().get::<MatchedPath>().cloned();
        let method = MethodLabel::of(req.method());
        let work = route
            .as_ref()
            .is_some_and(|r| is_work(req.method(), r.as_str()));
        Observed {
            in_flight: Some(self.state.lifecycle().track_request()),
            answer: self.inner.call(req),
            state: self.state.clone(),
            start,
            method,
            work,
            route,
        }
    }
}

pin_project! {
    /// A request being answered; recorded when the answer is ready.
    pub(crate) struct Observed<F> {
        #[pin]
        answer: F,
        state: AppState,
        // Counts the request as in flight until the answer is recorded.
        in_flight: Option<TaskTrackerToken>,
        start: Instant,
        method: MethodLabel,
        // Work done for a user: its latency goes into the stats window unless refused.
        work: bool,
        route: Option<MatchedPath>,
    }
}

impl<F> Future for Observed<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.answer.poll(cx));
        let now = Instant::now();
        let answered = Answered {
            method: *this.method,
            route: this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str),
            status: response.status().as_u16(),
            elapsed: now.duration_since(*this.start),
            work: *this.work && response.extensions().get::<Refused>().is_none(),
        };
        this.state.record_request(answered, now);
        this.in_flight.take();
        Poll::Ready(Ok(response))
    }
}
