//! This run's own Prometheus recorder (`common::recorder`: the orchestrator runs a loadgen
//! beside backend replicas in one process) with cached handles for the hot path, and the
//! `/metrics` endpoint that serves it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use common::api::routes;
use common::names::{self, error_kind, label};
use common::recorder::{InstanceRecorder, NO_LABELS};
use metrics::{Counter, Gauge, Histogram};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::client::SetupMetrics;
use crate::stats::Stats;

/// Handles of every loadgen series, by action label index (and error kind index).
pub(crate) struct Metrics {
    /// Owns the registry the handles point into.
    recorder: InstanceRecorder,
    pub(crate) sent: Vec<Counter>,
    pub(crate) errors: Vec<Vec<Counter>>,
    pub(crate) latency: Vec<Histogram>,
    /// Async mode only (empty otherwise): job durations by action label.
    pub(crate) job_duration: Vec<Histogram>,
    pub(crate) dropped: Counter,
    pub(crate) target_rps: Gauge,
    pub(crate) current_rps: Gauge,
    pub(crate) in_flight: Gauge,
    /// Closed loop only: virtual users running.
    pub(crate) vus: Option<Gauge>,
    connect: Histogram,
    /// https only (no-op handles otherwise): handshake times and count.
    tls_handshake: Histogram,
    handshakes: Counter,
    network: common::netcount::ByteCounters,
}

/// Which mode-specific series a run has.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Series {
    /// `lg_job_duration_seconds{action}` (async mode).
    pub(crate) jobs: bool,
    /// `lg_vus` (closed loop).
    pub(crate) vus: bool,
    /// `lg_tls_handshake_duration_seconds` and `lg_handshakes_total` (https targets).
    pub(crate) tls: bool,
}

/// Every histogram of the page, with its bucket bounds.
const HISTOGRAMS: [(&str, &[f64]); 4] = [
    (
        names::LG_REQUEST_DURATION_SECONDS,
        names::LG_LATENCY_BUCKETS,
    ),
    (names::LG_JOB_DURATION_SECONDS, names::LG_LATENCY_BUCKETS),
    (
        names::LG_CONNECT_DURATION_SECONDS,
        names::LG_LATENCY_BUCKETS,
    ),
    (
        names::LG_TLS_HANDSHAKE_DURATION_SECONDS,
        names::LG_LATENCY_BUCKETS,
    ),
];

impl Metrics {
    /// Registers every series up front, so a scrape shows zeros rather than nothing before
    /// the first request (and `rate()` works from the first sample). The mode-specific ones
    /// only exist in their mode.
    pub(crate) fn new(labels: &[&'static str], series: Series) -> Self {
        let recorder = InstanceRecorder::new(&HISTOGRAMS, names::describe_loadgen);
        let by_action = |name: &'static str| -> Vec<Histogram> {
            labels
                .iter()
                .map(|&a| recorder.histogram(name, &[(label::ACTION, a)]))
                .collect()
        };
        let sent = labels
            .iter()
            .map(|&a| recorder.counter(names::LG_SENT_REQUESTS_TOTAL, &[(label::ACTION, a)]))
            .collect();
        let errors = labels
            .iter()
            .map(|&a| {
                error_kind::ALL
                    .iter()
                    .map(|&k| {
                        recorder.counter(
                            names::LG_ERRORS_TOTAL,
                            &[(label::ACTION, a), (label::KIND, k)],
                        )
                    })
                    .collect()
            })
            .collect();
        let latency = by_action(names::LG_REQUEST_DURATION_SECONDS);
        let job_duration = if series.jobs {
            by_action(names::LG_JOB_DURATION_SECONDS)
        } else {
            Vec::new()
        };
        let gauge = |name| recorder.gauge(name, NO_LABELS);
        let (tls_handshake, handshakes) = if series.tls {
            (
                recorder.histogram(names::LG_TLS_HANDSHAKE_DURATION_SECONDS, NO_LABELS),
                recorder.counter(names::LG_HANDSHAKES_TOTAL, NO_LABELS),
            )
        } else {
            (Histogram::noop(), Counter::noop())
        };
        Self {
            sent,
            errors,
            latency,
            job_duration,
            dropped: recorder.counter(names::LG_DROPPED_REQUESTS_TOTAL, NO_LABELS),
            target_rps: gauge(names::LG_TARGET_RPS),
            current_rps: gauge(names::LG_CURRENT_RPS),
            in_flight: gauge(names::LG_IN_FLIGHT),
            vus: series.vus.then(|| gauge(names::LG_VUS)),
            connect: recorder.histogram(names::LG_CONNECT_DURATION_SECONDS, NO_LABELS),
            tls_handshake,
            handshakes,
            network: common::netcount::ByteCounters {
                received: recorder.counter(names::LG_NETWORK_RECEIVE_BYTES_TOTAL, NO_LABELS),
                sent: recorder.counter(names::LG_NETWORK_TRANSMIT_BYTES_TOTAL, NO_LABELS),
            },
            recorder,
        }
    }

    /// Handles for the connector's setup measurements.
    pub(crate) fn setup(&self) -> SetupMetrics {
        SetupMetrics {
            connect: self.connect.clone(),
            tls: self.tls_handshake.clone(),
            handshakes: self.handshakes.clone(),
            network: self.network.clone(),
        }
    }

    /// The Prometheus text page.
    pub(crate) fn render(&self) -> String {
        self.recorder.render()
    }

    /// Folds buffered histogram samples into their buckets; without it they pile up
    /// between scrapes.
    pub(crate) fn upkeep(&self) {
        self.recorder.upkeep();
    }
}

#[derive(Clone)]
struct Page {
    metrics: Arc<Metrics>,
    stats: Arc<Stats>,
}

async fn page(State(p): State<Page>) -> impl IntoResponse {
    // In-flight moves on every request; it is read here rather than written per request.
    p.metrics
        .in_flight
        .set(p.stats.in_flight.load(Ordering::Relaxed) as f64);
    if let Some(vus) = &p.metrics.vus {
        vus.set(p.stats.vus.load(Ordering::Relaxed) as f64);
    }
    (
        [(CONTENT_TYPE, common::exposition::CONTENT_TYPE)],
        p.metrics.render(),
    )
}

/// Serves `/metrics` on `listener` until `stop` is cancelled.
pub(crate) async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    stats: Arc<Stats>,
    stop: CancellationToken,
) {
    let app = Router::new()
        .route(routes::METRICS, get(page))
        .with_state(Page { metrics, stats });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "the /metrics endpoint stopped");
    }
}
