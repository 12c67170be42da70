//! The frontend's own `/metrics`: poll and proxy counters on a recorder owned by this
//! instance (never the global one, so several frontends in one process stay apart).
//!
//! Its metric names live with every other in `common::names`.

use metrics::{Counter, Gauge, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use common::names::label;

pub use common::names::{
    FRONTEND_LOADGEN_POLLS_TOTAL, FRONTEND_PROXY_REQUESTS_TOTAL, FRONTEND_REPLICA_POLLS_TOTAL,
    FRONTEND_REPLICAS, FRONTEND_REPLICAS_UP,
};

const OK: &str = common::names::outcome::OK;
const ERROR: &str = common::names::outcome::ERROR;

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// This instance's recorder with the hot handles cached.
pub struct FrontendMetrics {
    recorder: PrometheusRecorder,
    pub replica_polls_ok: Counter,
    pub replica_polls_error: Counter,
    pub loadgen_polls_ok: Counter,
    pub loadgen_polls_error: Counter,
    pub replicas_up: Gauge,
    pub replicas: Gauge,
}

impl std::fmt::Debug for FrontendMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrontendMetrics").finish_non_exhaustive()
    }
}

impl Default for FrontendMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl FrontendMetrics {
    pub fn new() -> Self {
        let recorder = PrometheusBuilder::new().build_recorder();
        let describe_counter = |name: &'static str, help: &'static str| {
            recorder.describe_counter(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
        };
        describe_counter(
            FRONTEND_REPLICA_POLLS_TOTAL,
            "Polls of a backend replica's /api/stats, by outcome.",
        );
        describe_counter(
            FRONTEND_LOADGEN_POLLS_TOTAL,
            "Scrapes of the load generator's /metrics, by outcome.",
        );
        describe_counter(
            FRONTEND_PROXY_REQUESTS_TOTAL,
            "Action requests proxied to the backend, by route template and status.",
        );
        recorder.describe_gauge(
            KeyName::from_const_str(FRONTEND_REPLICAS_UP),
            None,
            SharedString::const_str("Backend replicas that answered the last poll."),
        );
        recorder.describe_gauge(
            KeyName::from_const_str(FRONTEND_REPLICAS),
            None,
            SharedString::const_str("Backend replicas listed, up or down."),
        );
        let counter = |name: &'static str, outcome: &'static str| {
            let key = Key::from_parts(name, vec![Label::new(label::OUTCOME, outcome)]);
            recorder.register_counter(&key, &METADATA)
        };
        let gauge =
            |name: &'static str| recorder.register_gauge(&Key::from_static_name(name), &METADATA);
        Self {
            replica_polls_ok: counter(FRONTEND_REPLICA_POLLS_TOTAL, OK),
            replica_polls_error: counter(FRONTEND_REPLICA_POLLS_TOTAL, ERROR),
            loadgen_polls_ok: counter(FRONTEND_LOADGEN_POLLS_TOTAL, OK),
            loadgen_polls_error: counter(FRONTEND_LOADGEN_POLLS_TOTAL, ERROR),
            replicas_up: gauge(FRONTEND_REPLICAS_UP),
            replicas: gauge(FRONTEND_REPLICAS),
            recorder,
        }
    }

    /// Counts one proxied request. Proxying is rare (a person clicking), so the handle is
    /// looked up per call instead of cached per status.
    pub fn proxied(&self, route: &'static str, status: u16) {
        let key = Key::from_parts(
            FRONTEND_PROXY_REQUESTS_TOTAL,
            vec![
                Label::new(label::ROUTE, route),
                Label::new(label::STATUS, status.to_string()),
            ],
        );
        self.recorder.register_counter(&key, &METADATA).increment(1);
    }

    /// The Prometheus text page.
    pub fn render(&self) -> String {
        self.recorder.handle().render()
    }
}
