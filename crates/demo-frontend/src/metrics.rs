//! The frontend's own `/metrics`: poll and proxy counters on a recorder owned by this
//! instance (`common::recorder`), so several frontends in one process stay apart.
//!
//! Its metric names live with every other in `common::names`.

use common::names::label;
use common::recorder::{InstanceRecorder, NO_LABELS};
use metrics::{Counter, Gauge};

pub use common::names::{
    FRONTEND_LOADGEN_POLLS_TOTAL, FRONTEND_PROXY_REQUESTS_TOTAL, FRONTEND_REPLICA_POLLS_TOTAL,
    FRONTEND_REPLICAS, FRONTEND_REPLICAS_UP,
};

const OK: &str = common::names::outcome::OK;
const ERROR: &str = common::names::outcome::ERROR;

/// This instance's recorder with the hot handles cached.
#[derive(Debug)]
pub struct FrontendMetrics {
    recorder: InstanceRecorder,
    pub replica_polls_ok: Counter,
    pub replica_polls_error: Counter,
    pub loadgen_polls_ok: Counter,
    pub loadgen_polls_error: Counter,
    pub replicas_up: Gauge,
    pub replicas: Gauge,
}

impl Default for FrontendMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl FrontendMetrics {
    pub fn new() -> Self {
        let recorder = InstanceRecorder::new(&[], common::names::describe_frontend);
        let counter = |name: &'static str, outcome: &'static str| {
            recorder.counter(name, &[(label::OUTCOME, outcome)])
        };
        Self {
            replica_polls_ok: counter(FRONTEND_REPLICA_POLLS_TOTAL, OK),
            replica_polls_error: counter(FRONTEND_REPLICA_POLLS_TOTAL, ERROR),
            loadgen_polls_ok: counter(FRONTEND_LOADGEN_POLLS_TOTAL, OK),
            loadgen_polls_error: counter(FRONTEND_LOADGEN_POLLS_TOTAL, ERROR),
            replicas_up: recorder.gauge(FRONTEND_REPLICAS_UP, NO_LABELS),
            replicas: recorder.gauge(FRONTEND_REPLICAS, NO_LABELS),
            recorder,
        }
    }

    /// Counts one proxied request. Proxying is rare (a person clicking), so the handle is
    /// looked up per call instead of cached per status.
    pub fn proxied(&self, route: &'static str, status: u16) {
        let labels = [
            (label::ROUTE, route.to_owned()),
            (label::STATUS, status.to_string()),
        ];
        self.recorder
            .counter(FRONTEND_PROXY_REQUESTS_TOTAL, &labels)
            .increment(1);
    }

    /// The Prometheus text page.
    pub fn render(&self) -> String {
        self.recorder.render()
    }
}
