//! `kill_worker_at`: one worker of the pipeline killed mid-load, as a crash would, to show
//! what the run makes of it: a gap in that worker's figures, a queue that grows while fewer
//! workers consume it, and (in capability mode) the lag rule firing. The kill itself is the
//! runtime's ([`Runtime::worker_killer`]); this arms it when the load starts and turns what
//! happened into the report's note.

use std::time::{Duration, Instant};

use common::HumanDuration;
use tokio::task::JoinHandle;

use crate::runtime::Runtime;

/// A kill waiting for its time.
#[derive(Debug)]
pub struct ArmedKill {
    at: Duration,
    task: JoinHandle<String>,
}

/// Arms the kill `kill_worker_at` from now (the load's start); `None` when the scenario asks
/// for none. `t0` is the run's start, for the note's time.
pub fn arm<R: Runtime>(rt: &R, s: &scenario::Scenario, t0: Instant) -> Option<ArmedKill> {
    let at = s.pipeline.kill_worker_at.get();
    if at.is_zero() {
        return None;
    }
    let kill = rt.worker_killer();
    let task = tokio::spawn(async move {
        tokio::time::sleep(at).await;
        let t = t0.elapsed().as_secs_f64();
        let what = match kill.await {
            Ok(what) => what,
            Err(e) => format!("no worker was killed: {e}"),
        };
        format!(
            "kill_worker_at {}: at {t:.1} s, {what}",
            HumanDuration::from(at)
        )
    });
    Some(ArmedKill { at, task })
}

impl ArmedKill {
    /// What happened, for the report's notes; a run whose load ended first says so.
    pub async fn note(self) -> String {
        if !self.task.is_finished() {
            self.task.abort();
            return format!(
                "kill_worker_at {}: the load ended first; no worker was killed",
                HumanDuration::from(self.at)
            );
        }
        self.task
            .await
            .unwrap_or_else(|e| format!("kill_worker_at: the kill did not run: {e}"))
    }
}
