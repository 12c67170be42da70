//! How an action request runs: refused while draining, optional random delay, admission
//! through the capacity limiter (shed with 503 when the queue is full), then the simulated
//! service time on a worker, sync (answer when done) or async (202 + a job id at once).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::api::{Action, ErrorBody, JobAccepted, JobState, routes};
use common::names::outcome;
use rand::Rng;
use serde::Serialize;

use crate::capacity::Capacity;
use crate::config::Mode;
use crate::error::ApiError;
use crate::middleware::Shed;
use crate::state::AppState;

/// The result of an action's work: status, JSON body (none for 204) and `outcome` label.
#[derive(Debug, Clone)]
pub(crate) struct Done {
    pub(crate) status: StatusCode,
    /// Serialized once, straight to bytes (the hot path); parsed again only for job results.
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) outcome: &'static str,
}

impl Done {
    pub(crate) fn json(status: StatusCode, body: &impl Serialize, outcome: &'static str) -> Self {
        Self {
            status,
            body: Some(serde_json::to_vec(body).unwrap_or_else(|_| b"null".to_vec())),
            outcome,
        }
    }

    /// `201 {"id":"…"}`, the answer of a stored feedback. Written directly rather than through
    /// serde: ids are ASCII letters, digits and dashes ([`crate::store::Ids`]), which JSON
    /// never escapes, and every feedback request makes one.
    pub(crate) fn created_with_id(id: &str, outcome: &'static str) -> Self {
        const OPEN: &[u8] = br#"{"id":""#;
        const CLOSE: &[u8] = br#""}"#;
        debug_assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        let mut body = Vec::with_capacity(OPEN.len() + id.len() + CLOSE.len());
        body.extend_from_slice(OPEN);
        body.extend_from_slice(id.as_bytes());
        body.extend_from_slice(CLOSE);
        Self {
            status: StatusCode::CREATED,
            body: Some(body),
            outcome,
        }
    }

    pub(crate) fn empty(status: StatusCode, outcome: &'static str) -> Self {
        Self {
            status,
            body: None,
            outcome,
        }
    }

    pub(crate) fn error(status: StatusCode, error: String, outcome: &'static str) -> Self {
        Self::json(
            status,
            &ErrorBody {
                error,
                detail: None,
            },
            outcome,
        )
    }

    fn succeeded(&self) -> bool {
        self.status.is_success()
    }

    /// The body as a JSON value, for a job's `result`.
    fn into_value(self) -> Option<serde_json::Value> {
        self.body.and_then(|b| serde_json::from_slice(&b).ok())
    }

    /// Built by hand: the generic `(status, headers, body)` conversion costs several times
    /// as much, on every action request.
    fn into_response(self) -> Response {
        let Some(body) = self.body else {
            return self.status.into_response();
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// An action request under way; counted with outcome `error` if dropped unfinished.
struct Pending<'a> {
    state: &'a AppState,
    action: Action,
    finished: bool,
}

impl Pending<'_> {
    fn finish(mut self, outcome: &'static str, success: bool) {
        self.state.count_action(self.action, outcome, success);
        self.finished = true;
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.state.count_action(self.action, outcome::ERROR, false);
        }
    }
}

/// Counts a refused request of `action` (stress requests have none) and marks it shed.
fn refuse(state: &AppState, action: Option<Action>, error: ApiError) -> Response {
    if let Some(action) = action {
        state.count_action(action, outcome::SHED, false);
    }
    let mut response = error.into_response();
    response.extensions_mut().insert(Shed);
    response
}

/// Sheds a request the capacity model has no room for: 503 with Retry-After.
fn overloaded(state: &AppState, action: Option<Action>) -> Response {
    state.inner.shed_total.fetch_add(1, Ordering::Relaxed);
    state.inner.metrics.shed();
    refuse(
        state,
        action,
        ApiError::unavailable("overloaded: every worker is busy and the queue is full")
            .with_detail("retry after the Retry-After delay"),
    )
}

/// Counts a request of `action` rejected for bad input and answers `error`.
pub(crate) fn reject(state: &AppState, action: Action, error: ApiError) -> Response {
    let outcome = if error.status == StatusCode::NOT_FOUND {
        outcome::NOT_FOUND
    } else {
        outcome::REJECTED
    };
    state.count_action(action, outcome, false);
    error.into_response()
}

/// Holds the worker for the service time (± jitter) and burns `--cpu-work` of CPU.
async fn simulate(state: &AppState) {
    let config = &state.inner.config;
    let mut wait = config.service_time;
    if !config.jitter.is_zero() {
        let jitter = config.jitter.as_secs_f64();
        let offset = rand::rng().random_range(-jitter..=jitter);
        wait = Duration::from_secs_f64((wait.as_secs_f64() + offset).max(0.0));
    }
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    if !config.cpu_work.is_zero() {
        burn_cpu(config.cpu_work).await;
    }
}

/// Keeps one core busy for `duration` on the blocking pool (never on the async workers).
pub(crate) async fn burn_cpu(duration: Duration) {
    let burn = tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < duration {
            for i in 0..1_000u64 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
            }
        }
        x
    });
    if let Err(e) = burn.await {
        tracing::warn!(error = %e, "CPU work task failed");
    }
}

fn delay(state: &AppState) -> Option<Duration> {
    let range = state.inner.config.delay?;
    if range.min == range.max {
        return Some(range.min);
    }
    Some(rand::rng().random_range(range.min..=range.max))
}

/// Runs `work` for an action request through the capacity model and answers it. `work`
/// gets the state by reference (the synchronous actions need no clone of it) and returns
/// what it still has to wait for.
pub(crate) async fn execute<F, Fut>(
    state: AppState,
    action: Option<Action>,
    mode: Mode,
    work: F,
) -> Response
where
    F: FnOnce(&AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Done> + Send + 'static,
{
    if state.is_draining() {
        return refuse(
            &state,
            action,
            ApiError::unavailable("this replica is shutting down")
                .with_detail("retry on another replica"),
        );
    }
    if let Some(d) = delay(&state) {
        tokio::time::sleep(d).await;
    }
    match (mode, action) {
        (Mode::Async, Some(action)) => {
            // The job outlives this request, so its admission holds the capacity by `Arc`.
            let Ok(admission) = Capacity::admit(state.inner.capacity.clone()) else {
                return overloaded(&state, Some(action));
            };
            let job_id = state.inner.ids.next("job");
            state.store().add_job(job_id.clone(), action);
            let task_state = state.clone();
            let task_id = job_id.clone();
            let busy = state.busy(true);
            tokio::spawn(async move {
                let _busy = busy;
                let limit = task_state.inner.config.request_timeout;
                let run = async {
                    let worker = admission.start().await;
                    task_state
                        .store()
                        .update_job(&task_id, JobState::Running, None);
                    simulate(&task_state).await;
                    let done = work(&task_state).await;
                    drop(worker);
                    done
                };
                let done = tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
                    Done::error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "the job timed out".into(),
                        outcome::ERROR,
                    )
                });
                task_state.count_action(action, done.outcome, done.succeeded());
                let state = if done.succeeded() {
                    JobState::Succeeded
                } else {
                    JobState::Failed
                };
                task_state
                    .store()
                    .update_job(&task_id, state, done.into_value());
            });
            let location = routes::JOB.replace("{id}", &job_id);
            let mut response = (StatusCode::ACCEPTED, Json(JobAccepted { job_id })).into_response();
            if let Ok(value) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            response
        }
        _ => {
            let Ok(admission) = Capacity::admit(&*state.inner.capacity) else {
                return overloaded(&state, action);
            };
            // A request dropped midway (timeout, client gone) still counts, as an error.
            let pending = action.map(|action| Pending {
                state: &state,
                action,
                finished: false,
            });
            let Some(worker) = admission.start().await else {
                return ApiError::unavailable("no worker available").into_response();
            };
            simulate(&state).await;
            let done = work(&state).await;
            drop(worker);
            if let Some(pending) = pending {
                pending.finish(done.outcome, done.succeeded());
            }
            done.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use common::api::FeedbackReceipt;

    use super::*;
    use crate::store::Ids;

    /// The receipt written by hand is byte for byte what serde writes for the API type.
    #[test]
    fn a_receipt_written_directly_is_the_serde_encoding_of_the_api_type() {
        let ids = Ids::new();
        for _ in 0..3 {
            let id = ids.next("fb");
            let done = Done::created_with_id(&id, outcome::OK);
            let serde = serde_json::to_vec(&FeedbackReceipt { id: id.clone() }).unwrap();
            assert_eq!(done.body.as_deref(), Some(&serde[..]), "{id}");
            assert_eq!(done.status, StatusCode::CREATED);
        }
    }
}
