//! This instance's Prometheus recorder (`common::recorder`: each backend instance renders
//! only its own series, as several replicas share one process in the orchestrator's local
//! runtime) and cached metric handles. Names, labels and buckets come from `common::names`.
//!
//! The HTTP series are registered on first use and then found without locks: each route
//! label gets a row of handles the first time it is seen, whatever routes the router has.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use axum::http::Method;
use common::api::Action;
use common::names::{self, label, outcome};
use common::recorder::{InstanceRecorder, NO_LABELS};
use metrics::{Counter, Gauge, Histogram};

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
type HttpKey = (&'static str, String, u16);

/// Route labels given a lock-free row of handles (the backend has a dozen); more would go
/// through a map.
const ROUTE_ROWS: usize = 32;

/// One route label's handles: slot `method × STATUSES + status`.
struct RouteRow {
    label: Box<str>,
    handles: Box<[OnceLock<HttpHandles>]>,
}

impl RouteRow {
    fn new(label: &str) -> Self {
        Self {
            label: label.into(),
            handles: (0..METHODS.len() * STATUSES.len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }
}

/// The handles of one instance's metrics, cached so the hot path does no registry lookup
/// (except the first time a method/route/status combination is seen).
pub(crate) struct Metrics {
    recorder: InstanceRecorder,
    interactions: Vec<Vec<Counter>>,
    shed: Counter,
    in_flight: Gauge,
    queue_depth: Gauge,
    active_sessions: Gauge,
    jobs_pending: Gauge,
    /// `app_orders_total`, one per `order_outcome::ALL`.
    orders: Vec<Counter>,
    network: common::netcount::ByteCounters,
    /// A row per route label, claimed in order by the first request with that label.
    http: Box<[OnceLock<RouteRow>]>,
    /// Statuses outside [`STATUSES`] and labels beyond [`ROUTE_ROWS`].
    http_other: RwLock<HashMap<HttpKey, HttpHandles>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let recorder = InstanceRecorder::new(
            &[(
                names::HTTP_REQUEST_DURATION_SECONDS,
                names::HTTP_LATENCY_BUCKETS,
            )],
            names::describe_backend,
        );

        let interactions = Action::ALL
            .iter()
            .map(|action| {
                OUTCOMES
                    .iter()
                    .map(|&outcome| {
                        recorder.counter(
                            names::APP_INTERACTIONS_TOTAL,
                            &[(label::ACTION, action.as_str()), (label::OUTCOME, outcome)],
                        )
                    })
                    .collect()
            })
            .collect();
        let gauge = |name: &'static str| recorder.gauge(name, NO_LABELS);
        let shed = recorder.counter(names::APP_SHED_REQUESTS_TOTAL, NO_LABELS);
        let in_flight = gauge(names::HTTP_REQUESTS_IN_FLIGHT);
        let queue_depth = gauge(names::APP_QUEUE_DEPTH);
        let active_sessions = gauge(names::APP_ACTIVE_SESSIONS);
        let jobs_pending = gauge(names::APP_JOBS_PENDING);
        let network = common::netcount::ByteCounters {
            received: recorder.counter(names::APP_NETWORK_RECEIVE_BYTES_TOTAL, NO_LABELS),
            sent: recorder.counter(names::APP_NETWORK_TRANSMIT_BYTES_TOTAL, NO_LABELS),
        };
        // Gauges render only once set: start them at zero so every series exists.
        for gauge in [&in_flight, &queue_depth, &active_sessions, &jobs_pending] {
            gauge.set(0.0);
        }
        let orders = names::order_outcome::ALL
            .iter()
            .map(|&o| recorder.counter(names::APP_ORDERS_TOTAL, &[(label::OUTCOME, o)]))
            .collect();
        Self {
            orders,
            recorder,
            interactions,
            shed,
            in_flight,
            queue_depth,
            active_sessions,
            jobs_pending,
            network,
            http: (0..ROUTE_ROWS).map(|_| OnceLock::new()).collect(),
            http_other: RwLock::new(HashMap::new()),
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

    pub(crate) fn order(&self, outcome: &str) {
        let index = names::order_outcome::ALL.iter().position(|x| *x == outcome);
        if let Some(c) = index.and_then(|i| self.orders.get(i)) {
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

    /// The byte counters of the replica's accepted connections.
    pub(crate) fn network(&self) -> &common::netcount::ByteCounters {
        &self.network
    }

    /// `app_jobs_pending`, for the job table to keep.
    pub(crate) fn jobs_pending(&self) -> &Gauge {
        &self.jobs_pending
    }

    /// Records one answered request in `http_requests_total` and its duration histogram;
    /// `route` is the route template, or a fixed label for requests that matched none.
    pub(crate) fn http(&self, method: MethodLabel, route: &str, status: u16, elapsed: Duration) {
        let status_index = STATUSES.iter().position(|&s| s == status);
        let slot = status_index.and_then(|s| {
            self.row(route)
                .and_then(|row| row.handles.get(method.0 * STATUSES.len() + s))
        });
        let (counter, histogram) = match slot {
            Some(cell) => cell.get_or_init(|| self.register_http(method.as_str(), route, status)),
            None => &self.other(method.as_str(), route, status),
        };
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    }

    /// The row of `route`, claiming the first free one the first time it is seen (two
    /// labels racing for one row: the loser moves on to the next).
    fn row(&self, route: &str) -> Option<&RouteRow> {
        self.http
            .iter()
            .map(|cell| cell.get_or_init(|| RouteRow::new(route)))
            .find(|row| &*row.label == route)
    }

    fn other(&self, method: &'static str, route: &str, status: u16) -> HttpHandles {
        let key = (method, route.to_owned(), status);
        let cached = self
            .http_other
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .cloned();
        cached.unwrap_or_else(|| {
            let handles = self.register_http(method, route, status);
            self.http_other
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(key)
                .or_insert(handles)
                .clone()
        })
    }

    fn register_http(&self, method: &'static str, route: &str, status: u16) -> HttpHandles {
        let labels = [
            (label::METHOD, method.to_owned()),
            (label::ROUTE, route.to_owned()),
            (label::STATUS, status.to_string()),
        ];
        let counter = self.recorder.counter(names::HTTP_REQUESTS_TOTAL, &labels);
        let histogram = self
            .recorder
            .histogram(names::HTTP_REQUEST_DURATION_SECONDS, &labels);
        (counter, histogram)
    }

    /// The Prometheus text page.
    pub(crate) fn render(&self) -> String {
        self.recorder.render()
    }

    /// Drains recorded histogram samples into their buckets; must run periodically even when
    /// nobody scrapes, or the samples pile up in memory.
    pub(crate) fn upkeep(&self) {
        self.recorder.upkeep();
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use common::api::routes;
    use common::exposition;

    use super::*;

    fn count(page: &str, route: &str, status: &str) -> Option<f64> {
        exposition::parse(page)
            .unwrap()
            .iter()
            .find(|s| {
                s.name == names::HTTP_REQUESTS_TOTAL
                    && s.label(label::ROUTE) == Some(route)
                    && s.label(label::STATUS) == Some(status)
            })
            .map(|s| s.value)
    }

    /// Statuses outside the lock-free table (none the backend answers today) still get
    /// their own series.
    #[test]
    fn a_status_outside_the_table_is_counted_under_its_own_label() {
        let metrics = Metrics::new();
        let method = MethodLabel::of(&Method::GET);
        for status in [200, 418, 418] {
            metrics.http(method, routes::HEALTHZ, status, Duration::from_millis(3));
        }
        let page = metrics.render();
        assert_eq!(count(&page, routes::HEALTHZ, "418"), Some(2.0), "{page}");
        assert_eq!(count(&page, routes::HEALTHZ, "200"), Some(1.0), "{page}");
    }

    /// More labels than lock-free rows: each still gets its own series, counted exactly.
    #[test]
    fn every_route_label_keeps_its_own_series_beyond_the_rows() {
        let metrics = Metrics::new();
        let method = MethodLabel::of(&Method::POST);
        let labels: Vec<String> = (0..ROUTE_ROWS + 8).map(|i| format!("/r/{i}")).collect();
        for (i, route) in labels.iter().enumerate() {
            for _ in 0..=i % 3 {
                metrics.http(method, route, 201, Duration::from_millis(1));
            }
        }
        let page = metrics.render();
        for (i, route) in labels.iter().enumerate() {
            let expected = (i % 3 + 1) as f64;
            assert_eq!(count(&page, route, "201"), Some(expected), "{route}");
        }
    }

    /// Threads seeing new labels at once never share or lose a row.
    #[test]
    fn labels_claimed_concurrently_stay_apart() {
        let metrics = Metrics::new();
        let method = MethodLabel::of(&Method::GET);
        std::thread::scope(|scope| {
            for t in 0..4 {
                let metrics = &metrics;
                scope.spawn(move || {
                    for i in 0..200 {
                        let route = format!("/t/{}", (i + t) % 10);
                        metrics.http(method, &route, 200, Duration::from_millis(1));
                    }
                });
            }
        });
        let page = metrics.render();
        for route in 0..10 {
            assert_eq!(count(&page, &format!("/t/{route}"), "200"), Some(80.0));
        }
    }
}
