//! This instance's Prometheus recorder and cached metric handles. No global recorder: each
//! backend instance renders only its own series (several replicas share one process in the
//! orchestrator's local runtime). Names, labels and buckets come from `common::names`.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use axum::http::Method;
use common::api::Action;
use common::names::{self, label, outcome};
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::middleware::{ROUTE_SLOTS, RouteTag};

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// Every value of the `outcome` label, in a fixed order (index into the interaction table).
pub(crate) const OUTCOMES: [&str; 6] = [
    outcome::OK,
    outcome::REJECTED,
    outcome::SOLD_OUT,
    outcome::NOT_FOUND,
    outcome::SHED,
    outcome::ERROR,
];

/// Every value of the `method` label: the standard methods by name, anything else as
/// `OTHER`, so a client sending made-up methods cannot grow the series count.
const METHODS: [&str; 10] = [
    "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "TRACE", "CONNECT", "OTHER",
];

/// The statuses the backend answers with, which get a lock-free slot in the handle table;
/// any other status (none today) goes through a map.
const STATUSES: [u16; 12] = [200, 201, 202, 204, 400, 404, 405, 408, 409, 413, 500, 503];

/// The `method` label of a request (an index into [`METHODS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MethodLabel(usize);

impl MethodLabel {
    pub(crate) fn of(method: &Method) -> Self {
        Self(match *method {
            Method::GET => 0,
            Method::POST => 1,
            Method::PUT => 2,
            Method::DELETE => 3,
            Method::HEAD => 4,
            Method::OPTIONS => 5,
            Method::PATCH => 6,
            Method::TRACE => 7,
            Method::CONNECT => 8,
            _ => 9,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        METHODS[self.0]
    }
}

type HttpHandles = (Counter, Histogram);
type HttpKey = (&'static str, &'static str, u16);

/// The handles of one instance's metrics, cached so the hot path does no registry lookup
/// (except the first time a method/route/status combination is seen).
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    interactions: Vec<Vec<Counter>>,
    shed: Counter,
    in_flight: Gauge,
    queue_depth: Gauge,
    active_sessions: Gauge,
    /// Registered on first use, then read without locks: slot
    /// `(route index × METHODS + method) × STATUSES + status`.
    http: Box<[OnceLock<HttpHandles>]>,
    http_other_status: RwLock<HashMap<HttpKey, HttpHandles>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        // The only way this fails is an empty bucket list, which the constant is not; fall
        // back to a builder without buckets rather than panicking.
        let recorder = match PrometheusBuilder::new().set_buckets_for_metric(
            Matcher::Full(names::HTTP_REQUEST_DURATION_SECONDS.to_owned()),
            names::HTTP_LATENCY_BUCKETS,
        ) {
            Ok(builder) => builder.build_recorder(),
            Err(e) => {
                tracing::error!(error = %e, "cannot set the latency buckets");
                PrometheusBuilder::new().build_recorder()
            }
        };
        names::describe_backend(&recorder);
        let handle = recorder.handle();

        let interactions = Action::ALL
            .iter()
            .map(|action| {
                OUTCOMES
                    .iter()
                    .map(|outcome| {
                        let key = Key::from_parts(
                            names::APP_INTERACTIONS_TOTAL,
                            vec![
                                Label::new(label::ACTION, action.as_str()),
                                Label::new(label::OUTCOME, *outcome),
                            ],
                        );
                        recorder.register_counter(&key, &METADATA)
                    })
                    .collect()
            })
            .collect();
        let counter =
            |name: &'static str| recorder.register_counter(&Key::from_static_name(name), &METADATA);
        let gauge =
            |name: &'static str| recorder.register_gauge(&Key::from_static_name(name), &METADATA);
        let shed = counter(names::APP_SHED_REQUESTS_TOTAL);
        let in_flight = gauge(names::HTTP_REQUESTS_IN_FLIGHT);
        let queue_depth = gauge(names::APP_QUEUE_DEPTH);
        let active_sessions = gauge(names::APP_ACTIVE_SESSIONS);
        // Gauges render only once set: start them at zero so every series exists.
        in_flight.set(0.0);
        queue_depth.set(0.0);
        active_sessions.set(0.0);
        Self {
            recorder,
            handle,
            interactions,
            shed,
            in_flight,
            queue_depth,
            active_sessions,
            http: (0..ROUTE_SLOTS * METHODS.len() * STATUSES.len())
                .map(|_| OnceLock::new())
                .collect(),
            http_other_status: RwLock::new(HashMap::new()),
        }
    }

    /// Counts one interaction of `action` with `outcome` (one of [`OUTCOMES`]).
    pub(crate) fn interaction(&self, action: Action, outcome: &str) {
        let a = Action::ALL.iter().position(|x| *x == action).unwrap_or(0);
        let o = OUTCOMES
            .iter()
            .position(|x| *x == outcome)
            .unwrap_or(OUTCOMES.len() - 1);
        if let Some(c) = self.interactions.get(a).and_then(|row| row.get(o)) {
            c.increment(1);
        }
    }

    pub(crate) fn shed(&self) {
        self.shed.increment(1);
    }

    pub(crate) fn set_in_flight(&self, n: usize) {
        self.in_flight.set(n as f64);
    }

    pub(crate) fn queue_depth(&self) -> &Gauge {
        &self.queue_depth
    }

    pub(crate) fn set_active_sessions(&self, n: usize) {
        self.active_sessions.set(n as f64);
    }

    /// Records one answered request in `http_requests_total` and its duration histogram.
    pub(crate) fn http(
        &self,
        method: MethodLabel,
        route: RouteTag,
        status: u16,
        elapsed: Duration,
    ) {
        let slot = STATUSES.iter().position(|&s| s == status).and_then(|s| {
            self.http
                .get((route.slot() * METHODS.len() + method.0) * STATUSES.len() + s)
        });
        let key = (method.as_str(), route.label(), status);
        let (counter, histogram) = match slot {
            Some(cell) => cell.get_or_init(|| self.register_http(key)),
            None => &self.other_status(key),
        };
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    }

    fn other_status(&self, key: HttpKey) -> HttpHandles {
        let cached = self
            .http_other_status
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        cached.unwrap_or_else(|| {
            let handles = self.register_http(key);
            self.http_other_status
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_insert(handles)
                .clone()
        })
    }

    fn register_http(&self, (method, route, status): HttpKey) -> HttpHandles {
        let labels = vec![
            Label::new(label::METHOD, method),
            Label::new(label::ROUTE, route),
            Label::new(label::STATUS, status.to_string()),
        ];
        let counter = self.recorder.register_counter(
            &Key::from_parts(names::HTTP_REQUESTS_TOTAL, labels.clone()),
            &METADATA,
        );
        let histogram = self.recorder.register_histogram(
            &Key::from_parts(names::HTTP_REQUEST_DURATION_SECONDS, labels),
            &METADATA,
        );
        (counter, histogram)
    }

    /// The Prometheus text page.
    pub(crate) fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains recorded histogram samples into their buckets; must run periodically even when
    /// nobody scrapes, or the samples pile up in memory.
    pub(crate) fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use common::exposition;

    use super::*;
    use crate::middleware::RouteTag;

    /// Statuses outside the lock-free table (none the backend answers today) still get
    /// their own series.
    #[test]
    fn a_status_outside_the_table_is_counted_under_its_own_label() {
        let metrics = Metrics::new();
        let route = RouteTag::classify(&Method::GET, common::api::routes::HEALTHZ);
        let method = MethodLabel::of(&Method::GET);
        for status in [200, 418, 418] {
            metrics.http(method, route, status, Duration::from_millis(3));
        }
        let page = metrics.render();
        let samples = exposition::parse(&page).unwrap();
        let count = |status: &str| {
            samples
                .iter()
                .find(|s| {
                    s.name == names::HTTP_REQUESTS_TOTAL && s.label(label::STATUS) == Some(status)
                })
                .map(|s| s.value)
        };
        assert_eq!(count("418"), Some(2.0), "{page}");
        assert_eq!(count("200"), Some(1.0), "{page}");
    }
}
