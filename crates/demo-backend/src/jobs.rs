//! Async jobs (`--mode async`, `?mode=async`): an action request admitted, answered 202 with
//! a job id at once, and worked in the background. This module holds the job table that
//! `GET /api/jobs/{id}` reads (bounded: the newest [`JOB_CAP`] jobs), the count of jobs
//! accepted and not yet finished (`app_jobs_pending`), and the run of a job.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::api::{Action, JobAccepted, JobState, JobStatus, routes};
use common::names::outcome;
use metrics::Gauge;

use crate::capacity::{Admission, Capacity};
use crate::outcome::{Done, Tally};
use crate::state::AppState;
use crate::work;

/// Async jobs remembered (finished or not).
pub const JOB_CAP: usize = 1_024;

/// The job table and the pending count.
#[derive(Debug)]
pub(crate) struct Jobs {
    table: Mutex<Table>,
    /// `app_jobs_pending`, set under the table's lock: whoever reads a job as finished
    /// reads the gauge without it.
    pending_gauge: Gauge,
}

#[derive(Debug, Default)]
struct Table {
    statuses: HashMap<String, JobStatus>,
    order: VecDeque<String>,
    /// Accepted and not finished, including jobs already rolled out of `statuses`.
    pending: usize,
}

impl Jobs {
    pub(crate) fn new(pending_gauge: Gauge) -> Self {
        Self {
            table: Mutex::default(),
            pending_gauge,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The status of job `id`, if it is still remembered.
    pub(crate) fn status(&self, id: &str) -> Option<JobStatus> {
        self.table().statuses.get(id).cloned()
    }

    /// Jobs remembered.
    pub(crate) fn len(&self) -> usize {
        self.table().statuses.len()
    }

    /// Jobs accepted and not yet finished (the gauge is what the page shows).
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.table().pending
    }

    fn open(&self, id: &str, action: Action) {
        let mut table = self.table();
        if table.order.len() >= JOB_CAP
            && let Some(old) = table.order.pop_front()
        {
            table.statuses.remove(&old);
        }
        table.statuses.insert(
            id.to_owned(),
            JobStatus {
                job_id: id.to_owned(),
                action,
                state: JobState::Queued,
                result: None,
            },
        );
        table.order.push_back(id.to_owned());
        table.pending += 1;
        self.pending_gauge.set(table.pending as f64);
    }

    fn update(&self, id: &str, state: JobState, result: Option<serde_json::Value>) {
        let mut table = self.table();
        let finished = matches!(state, JobState::Succeeded | JobState::Failed);
        // A job rolled out meanwhile stays gone; it still leaves the pending count.
        if let Some(job) = table.statuses.get_mut(id) {
            job.state = state;
            job.result = result;
        }
        if finished {
            table.pending = table.pending.saturating_sub(1);
            self.pending_gauge.set(table.pending as f64);
        }
    }
}

/// A job accepted and not yet finished. It leaves the pending count exactly once: when
/// finished, or when dropped unfinished (its task was cut short), as failed.
#[derive(Debug)]
struct PendingJob {
    state: AppState,
    id: String,
    finished: bool,
}

impl PendingJob {
    fn open(state: &AppState, action: Action) -> Self {
        let id = state.next_id("job");
        state.jobs().open(&id, action);
        Self {
            state: state.clone(),
            id,
            finished: false,
        }
    }

    fn running(&self) {
        self.state.jobs().update(&self.id, JobState::Running, None);
    }

    fn finish(mut self, done: Done) {
        let state = if done.succeeded() {
            JobState::Succeeded
        } else {
            JobState::Failed
        };
        self.state.jobs().update(&self.id, state, done.into_value());
        self.finished = true;
    }
}

impl Drop for PendingJob {
    fn drop(&mut self) {
        if !self.finished {
            self.state.jobs().update(&self.id, JobState::Failed, None);
        }
    }
}

/// Admits `work` as a job (or sheds it), answers 202 with its id and `Location`, and runs
/// it in the background, where it counts its outcome when it ends.
pub(crate) fn accept<F, Fut>(state: AppState, tally: Tally, work: F) -> Response
where
    F: FnOnce(&AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Done> + Send + 'static,
{
    // The job outlives this request, so its admission holds the capacity by `Arc`.
    let admission = match work::admit(&state, state.capacity_handle()) {
        Ok(admission) => admission,
        Err(refusal) => return tally.refuse(refusal),
    };
    let job = PendingJob::open(&state, tally.action());
    let location = routes::JOB.replace("{id}", &job.id);
    let accepted = JobAccepted {
        job_id: job.id.clone(),
    };
    state
        .lifecycle()
        .spawn_job(run(state.clone(), job, tally, admission, work));
    let mut response = (StatusCode::ACCEPTED, Json(accepted)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// A job's run: waits for a worker, works, and records the result; bounded by
/// `--request-timeout`, and cut short if the instance stops first.
async fn run<F, Fut>(
    state: AppState,
    job: PendingJob,
    tally: Tally,
    admission: Admission<Arc<Capacity>>,
    work: F,
) where
    F: FnOnce(&AppState) -> Fut,
    Fut: Future<Output = Done>,
{
    let limit = state.config().request_timeout;
    let working = async {
        let Some(worker) = admission.start().await else {
            return work::no_worker();
        };
        job.running();
        work::on_worker(&state, worker, work).await
    };
    let failed = |error: &str| {
        Done::error(
            StatusCode::SERVICE_UNAVAILABLE,
            error.to_owned(),
            outcome::ERROR,
        )
    };
    let done = tokio::select! {
        finished = tokio::time::timeout(limit, working) => {
            finished.unwrap_or_else(|_| failed("the job timed out"))
        }
        () = state.lifecycle().stopped() => failed("the replica stopped before the job finished"),
    };
    tally.finish(&done);
    job.finish(done);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs() -> Jobs {
        Jobs::new(Gauge::noop())
    }

    #[test]
    fn jobs_are_updated_until_they_roll_out_and_always_leave_the_pending_count() {
        let jobs = jobs();
        jobs.open("j1", Action::GiveFeedback);
        jobs.open("j2", Action::BookTicket);
        assert_eq!(jobs.pending(), 2);
        jobs.update("j1", JobState::Running, None);
        assert_eq!(jobs.pending(), 2, "running is still pending");
        jobs.update(
            "j1",
            JobState::Succeeded,
            Some(serde_json::json!({"id": "f"})),
        );
        assert_eq!(jobs.status("j1").unwrap().state, JobState::Succeeded);
        assert_eq!(jobs.pending(), 1);
        for i in 0..JOB_CAP {
            jobs.open(&format!("x{i}"), Action::BookTicket);
        }
        assert_eq!(jobs.len(), JOB_CAP);
        assert!(jobs.status("j2").is_none(), "rolled out");
        // j2 finishes after it rolled out: forgotten, yet counted out of the pending ones.
        jobs.update("j2", JobState::Failed, None);
        assert!(jobs.status("j2").is_none());
        assert_eq!(jobs.pending(), JOB_CAP);
    }
}
