//! The request deadline: a `tower::Layer` that answers a JSON 503 for a request not
//! answered within `--request-timeout` (queue wait included), or still running when the
//! instance stops at the end of its drain, so nothing outlives the server.
//!
//! Not `tower::timeout::Timeout` with axum's `HandleErrorLayer`: that one cannot end requests
//! at the stop, turns the timeout into an error that needs a boxed handler future per
//! request, and arms its timer per request; this one arms its timer only once the answer
//! has to wait (most answers are ready at their first poll).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tokio::time::Instant;
use tower::{Layer, Service};

use crate::error::ApiError;
use crate::state::AppState;

/// Wraps a service in [`Deadline`].
#[derive(Debug, Clone)]
pub(crate) struct DeadlineLayer {
    state: AppState,
}

impl DeadlineLayer {
    pub(crate) fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service [`DeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub(crate) struct Deadline<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Bounded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        Bounded {
            answer: self.inner.call(req),
            limit: self.state.config().request_timeout,
            state: self.state.clone(),
            cut: None,
        }
    }
}

/// Why a request was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    TimedOut,
    Stopped,
}

type CutFuture = Pin<Box<dyn Future<Output = Cut> + Send>>;

pin_project! {
    /// A request's answer, bounded by its deadline and the instance's stop.
    pub(crate) struct Bounded<F> {
        #[pin]
        answer: F,
        limit: Duration,
        state: AppState,
        // Armed at the first poll that finds the answer not ready.
        cut: Option<CutFuture>,
    }
}

impl<F> Future for Bounded<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.answer.poll(cx) {
            return Poll::Ready(answer);
        }
        // The clock is read only here: most answers are ready at their first poll, which
        // runs as the request arrives, so the deadline counts from the same instant.
        let cut = this.cut.get_or_insert_with(|| {
            let (at, state) = (Instant::now() + *this.limit, this.state.clone());
            Box::pin(async move {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => Cut::TimedOut,
                    () = state.lifecycle().stopped() => Cut::Stopped,
                }
            })
        });
        let cut = std::task::ready!(cut.as_mut().poll(cx));
        Poll::Ready(Ok(cut_short(cut, *this.limit)))
    }
}

fn cut_short(cut: Cut, limit: Duration) -> Response {
    let error = match cut {
        Cut::TimedOut => {
            tracing::warn!(timeout = ?limit, "request timed out");
            ApiError::unavailable("the request timed out").with_detail(format!(
                "not answered within {} (--request-timeout); retry later",
                common::HumanDuration(limit)
            ))
        }
        Cut::Stopped => ApiError::unavailable("this replica stopped before answering")
            .with_detail("the drain timeout (--drain-timeout) ran out; retry on another replica"),
    };
    error.into_response()
}
