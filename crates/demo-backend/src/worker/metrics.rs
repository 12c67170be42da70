//! The worker's own recorder (`common::recorder`: several workers may share one process) and
//! its metric handles; names, descriptions and buckets come from `common::names`.

use std::time::Duration;

use common::names::{self, label, worker_error_kind};
use common::recorder::{InstanceRecorder, NO_LABELS};
use metrics::{Counter, Gauge, Histogram};

use crate::queue::Failure;

pub(crate) struct WorkerMetrics {
    recorder: InstanceRecorder,
    consumed: Counter,
    acknowledged: Counter,
    claimed: Counter,
    /// One per `worker_error_kind::ALL`.
    errors: Vec<Counter>,
    end_to_end: Histogram,
    queue_length: Gauge,
    lag: Gauge,
    pending: Gauge,
}

impl std::fmt::Debug for WorkerMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerMetrics").finish_non_exhaustive()
    }
}

impl WorkerMetrics {
    pub(crate) fn new() -> Self {
        let recorder = InstanceRecorder::new(
            &[(
                names::WORKER_END_TO_END_SECONDS,
                names::PIPELINE_LATENCY_BUCKETS,
            )],
            names::describe_worker,
        );
        let errors = worker_error_kind::ALL
            .iter()
            .map(|&kind| recorder.counter(names::WORKER_ERRORS_TOTAL, &[(label::KIND, kind)]))
            .collect();
        let gauge = |name| {
            let g = recorder.gauge(name, NO_LABELS);
            g.set(0.0);
            g
        };
        Self {
            consumed: recorder.counter(names::WORKER_MESSAGES_CONSUMED_TOTAL, NO_LABELS),
            acknowledged: recorder.counter(names::WORKER_MESSAGES_ACKNOWLEDGED_TOTAL, NO_LABELS),
            claimed: recorder.counter(names::WORKER_MESSAGES_CLAIMED_TOTAL, NO_LABELS),
            end_to_end: recorder.histogram(names::WORKER_END_TO_END_SECONDS, NO_LABELS),
            queue_length: gauge(names::WORKER_QUEUE_LENGTH),
            lag: gauge(names::WORKER_CONSUMER_LAG),
            pending: gauge(names::WORKER_PENDING_MESSAGES),
            errors,
            recorder,
        }
    }

    pub(crate) fn consumed(&self, n: usize) {
        self.consumed.increment(n as u64);
    }

    /// Entries taken over from another consumer (they count as consumed too).
    pub(crate) fn claimed(&self, n: usize) {
        self.claimed.increment(n as u64);
        self.consumed.increment(n as u64);
    }

    /// One message aggregated and acknowledged, `latency` after it was enqueued.
    pub(crate) fn acknowledged(&self, latency: Duration) {
        self.acknowledged.increment(1);
        self.end_to_end.record(latency.as_secs_f64());
    }

    pub(crate) fn error(&self, kind: &str) {
        let index = worker_error_kind::ALL.iter().position(|k| *k == kind);
        if let Some(c) = index.and_then(|i| self.errors.get(i)) {
            c.increment(1);
        }
    }

    /// Counts a Redis failure under its kind.
    pub(crate) fn failure(&self, failure: &Failure) {
        self.error(match failure {
            Failure::Timeout(_) => worker_error_kind::TIMEOUT,
            Failure::Redis(_) => worker_error_kind::REDIS,
        });
    }

    /// The queue as Redis last reported it.
    pub(crate) fn set_queue(&self, length: u64, lag: Option<u64>, pending: u64) {
        self.queue_length.set(length as f64);
        self.lag
            .set(crate::queue::reading::lag(length, pending, lag) as f64);
        self.pending.set(pending as f64);
    }

    pub(crate) fn render(&self) -> String {
        self.recorder.render()
    }

    pub(crate) fn upkeep(&self) {
        self.recorder.upkeep();
    }
}
