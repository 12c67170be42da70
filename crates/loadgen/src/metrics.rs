//! This run's own Prometheus recorder (never the global one: the orchestrator runs a loadgen
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
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::client::SetupMetrics;
use crate::stats::Stats;

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Handles of every loadgen series, by action label index (and error kind index).
pub(crate) struct Metrics {
    /// Owns the registry the handles point into.
    _recorder: PrometheusRecorder,
    handle: PrometheusHandle,
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

impl Metrics {
    /// Registers every series up front, so a scrape shows zeros rather than nothing before
    /// the first request (and `rate()` works from the first sample). The mode-specific ones
    /// only exist in their mode.
    pub(crate) fn new(labels: &[&'static str], series: Series) -> Self {
        let mut builder = PrometheusBuilder::new();
        for name in [
            names::LG_REQUEST_DURATION_SECONDS,
            names::LG_JOB_DURATION_SECONDS,
            names::LG_CONNECT_DURATION_SECONDS,
            names::LG_TLS_HANDSHAKE_DURATION_SECONDS,
        ] {
            // The bucket list is a non-empty constant; an empty one is the builder's only
            // error.
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.into()), names::LG_LATENCY_BUCKETS)
                .expect("LG_LATENCY_BUCKETS is not empty");
        }
        let recorder = builder.build_recorder();
        names::describe_loadgen(&recorder);
        let key = |name: &'static str, pairs: &[(&'static str, &'static str)]| {
            let labels: Vec<Label> = pairs.iter().map(|&(k, v)| Label::new(k, v)).collect();
            Key::from_parts(name, labels)
        };
        let sent = labels
            .iter()
            .map(|&a| {
                recorder.register_counter(
                    &key(names::LG_SENT_REQUESTS_TOTAL, &[(label::ACTION, a)]),
                    &METADATA,
                )
            })
            .collect();
        let errors = labels
            .iter()
            .map(|&a| {
                error_kind::ALL
                    .iter()
                    .map(|&k| {
                        let k = key(
                            names::LG_ERRORS_TOTAL,
                            &[(label::ACTION, a), (label::KIND, k)],
                        );
                        recorder.register_counter(&k, &METADATA)
                    })
                    .collect()
            })
            .collect();
        let histograms = |name: &'static str| -> Vec<Histogram> {
            labels
                .iter()
                .map(|&a| recorder.register_histogram(&key(name, &[(label::ACTION, a)]), &METADATA))
                .collect()
        };
        let latency = histograms(names::LG_REQUEST_DURATION_SECONDS);
        let job_duration = if series.jobs {
            histograms(names::LG_JOB_DURATION_SECONDS)
        } else {
            Vec::new()
        };
        let dropped =
            recorder.register_counter(&key(names::LG_DROPPED_REQUESTS_TOTAL, &[]), &METADATA);
        let gauge = |name| recorder.register_gauge(&key(name, &[]), &METADATA);
        let target_rps = gauge(names::LG_TARGET_RPS);
        let current_rps = gauge(names::LG_CURRENT_RPS);
        let in_flight = gauge(names::LG_IN_FLIGHT);
        let vus = series.vus.then(|| gauge(names::LG_VUS));
        let network = common::netcount::ByteCounters {
            received: recorder
                .register_counter(&key(names::LG_NETWORK_RECEIVE_BYTES_TOTAL, &[]), &METADATA),
            sent: recorder
                .register_counter(&key(names::LG_NETWORK_TRANSMIT_BYTES_TOTAL, &[]), &METADATA),
        };
        let connect =
            recorder.register_histogram(&key(names::LG_CONNECT_DURATION_SECONDS, &[]), &METADATA);
        let (tls_handshake, handshakes) = if series.tls {
            (
                recorder.register_histogram(
                    &key(names::LG_TLS_HANDSHAKE_DURATION_SECONDS, &[]),
                    &METADATA,
                ),
                recorder.register_counter(&key(names::LG_HANDSHAKES_TOTAL, &[]), &METADATA),
            )
        } else {
            (Histogram::noop(), Counter::noop())
        };
        Self {
            handle: recorder.handle(),
            _recorder: recorder,
            sent,
            errors,
            latency,
            job_duration,
            dropped,
            target_rps,
            current_rps,
            in_flight,
            vus,
            connect,
            tls_handshake,
            handshakes,
            network,
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
        self.handle.render()
    }

    /// Folds buffered histogram samples into their buckets; without it they pile up
    /// between scrapes.
    pub(crate) fn upkeep(&self) {
        self.handle.run_upkeep();
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
