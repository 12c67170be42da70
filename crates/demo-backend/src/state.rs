//! `AppState`: everything one backend instance owns (configuration, metrics, capacity,
//! stores, jobs, sessions, counters, lifecycle) behind one `Arc`, and the operations the
//! handlers and layers perform on it. Its parts are private: callers say what they do
//! (count a shed, record an answered request), not which fields they touch.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::api::{Action, ActionCounts, StatsResponse};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::capacity::Capacity;
use crate::config::Config;
use crate::jobs::Jobs;
use crate::lifecycle::Lifecycle;
use crate::metrics::{MethodLabel, Metrics};
use crate::queue::Link;
use crate::routes::stress::MAX_MEMORY_TOTAL;
use crate::sessions::Sessions;
use crate::store::{Ids, Store};
use crate::window::LatencyWindow;

/// The state of one backend instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// How many entries each bounded store holds now (for memory tests and debugging).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSizes {
    pub tickets: usize,
    pub feedback: usize,
    pub jobs: usize,
    pub sessions: usize,
}

#[derive(Debug, Default)]
struct ActionCounter {
    ok: AtomicU64,
    errors: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    started: Instant,
    metrics: Metrics,
    capacity: Arc<Capacity>,
    store: Mutex<Store>,
    jobs: Jobs,
    ids: Ids,
    sessions: Sessions,
    latency: LatencyWindow,
    lifecycle: Lifecycle,
    requests_total: AtomicU64,
    shed_total: AtomicU64,
    actions: [ActionCounter; 3],
    /// The order stream, with `--redis-url`.
    queue: Option<Link>,
    /// Bytes /api/stress/memory requests may hold at once, one permit a byte.
    stress_memory: Arc<Semaphore>,
    /// Whose CPU `/api/stats` reports: set by the thread that built the state.
    usage_scope: common::procfs::Scope,
}

/// One answered HTTP request, as the observing layer saw it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answered<'a> {
    pub(crate) method: MethodLabel,
    /// The route template, or the fixed label of requests that matched none.
    pub(crate) route: &'a str,
    pub(crate) status: u16,
    pub(crate) elapsed: Duration,
    /// Whether its latency belongs in the stats window (work done for a user).
    pub(crate) work: bool,
}

impl AppState {
    /// A fresh instance: its own recorder, stores and workers.
    pub fn new(config: Config) -> Self {
        let metrics = Metrics::new();
        let capacity = Capacity::new(config.workers, config.queue, metrics.queue_depth().clone());
        let jobs = Jobs::new(metrics.jobs_pending().clone());
        let started = Instant::now();
        let queue = config.redis_url.as_deref().and_then(|url| {
            Link::new(url, config.redis_timeout, Duration::ZERO)
                .map_err(|e| tracing::error!(error = %e, "--redis-url unusable: orders refused"))
                .ok()
        });
        Self {
            inner: Arc::new(Inner {
                config,
                started,
                metrics,
                capacity,
                store: Mutex::new(Store::new()),
                jobs,
                ids: Ids::new(),
                sessions: Sessions::default(),
                latency: LatencyWindow::new(started),
                lifecycle: Lifecycle::default(),
                requests_total: AtomicU64::new(0),
                shed_total: AtomicU64::new(0),
                actions: Default::default(),
                stress_memory: Arc::new(Semaphore::new(MAX_MEMORY_TOTAL)),
                queue,
                usage_scope: common::procfs::Scope::of_current_thread(),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Entries held by each bounded store now.
    pub fn store_sizes(&self) -> StoreSizes {
        let (tickets, feedback) = self.store().sizes();
        StoreSizes {
            tickets,
            feedback,
            jobs: self.inner.jobs.len(),
            sessions: self.inner.sessions.tracked(),
        }
    }

    /// Turns /readyz to 503 and refuses new action requests with 503 from now on.
    pub fn start_draining(&self) {
        self.inner.lifecycle.start_draining();
    }

    pub fn is_draining(&self) -> bool {
        self.inner.lifecycle.is_draining()
    }

    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.inner.lifecycle
    }

    /// Showtimes, tickets and feedback, locked.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn jobs(&self) -> &Jobs {
        &self.inner.jobs
    }

    /// The workers and queue, borrowed for a request.
    pub(crate) fn capacity(&self) -> &Capacity {
        &self.inner.capacity
    }

    /// The workers and queue, for a job that outlives its request.
    pub(crate) fn capacity_handle(&self) -> Arc<Capacity> {
        self.inner.capacity.clone()
    }

    /// A new unique id: `{prefix}-{instance salt}-{n}`.
    pub(crate) fn next_id(&self, prefix: &str) -> String {
        self.inner.ids.next(prefix)
    }

    /// Notes that session `id` made a request at `now`.
    pub(crate) fn touch_session(&self, id: &[u8], now: Instant) {
        self.inner.sessions.touch(id, now);
    }

    pub(crate) fn count_action(&self, action: Action, outcome: &str, success: bool) {
        self.inner.metrics.interaction(action, outcome);
        // Orders are not interactions: their route counts app_orders_total instead.
        let Some(counter) = Action::ALL
            .iter()
            .position(|a| *a == action)
            .and_then(|i| self.inner.actions.get(i))
        else {
            return;
        };
        if success {
            counter.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            counter.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The order stream's link, when `--redis-url` is set.
    pub(crate) fn queue(&self) -> Option<&Link> {
        self.inner.queue.as_ref()
    }

    /// Counts one `POST /api/orders` answer.
    pub(crate) fn count_order(&self, outcome: &'static str) {
        self.inner.metrics.order(outcome);
    }

    /// Counts a request shed because the queue was full.
    pub(crate) fn count_shed(&self) {
        self.inner.shed_total.fetch_add(1, Ordering::Relaxed);
        self.inner.metrics.shed();
    }

    /// Records an answered request: its HTTP series, the request count and, for work, the
    /// stats latency window.
    pub(crate) fn record_request(&self, answered: Answered<'_>, now: Instant) {
        let inner = &self.inner;
        inner.metrics.http(
            answered.method,
            answered.route,
            answered.status,
            answered.elapsed,
        );
        inner.requests_total.fetch_add(1, Ordering::Relaxed);
        if answered.work {
            inner.latency.record(answered.elapsed, now);
        }
    }

    /// Takes up to `bytes` of the stress memory budget until the permit is dropped; None
    /// when the budget is in use.
    pub(crate) fn reserve_stress_memory(&self, bytes: u32) -> Option<OwnedSemaphorePermit> {
        self.inner
            .stress_memory
            .clone()
            .try_acquire_many_owned(bytes)
            .ok()
    }

    /// Where the replica's connections add up the bytes they carry.
    pub(crate) fn network(&self) -> common::netcount::ByteCounters {
        self.inner.metrics.network().clone()
    }

    /// The Prometheus page, with the gauges computed on demand brought up to date.
    pub(crate) fn render_metrics(&self) -> String {
        self.refresh_gauges(Instant::now());
        self.inner.metrics.render()
    }

    /// Periodic housekeeping: folds recorded histogram samples into their buckets (they
    /// pile up in memory otherwise) and refreshes the gauges.
    pub(crate) fn upkeep(&self) {
        self.inner.metrics.upkeep();
        self.refresh_gauges(Instant::now());
    }

    /// Refreshes the gauges computed on demand (active sessions, requests in flight):
    /// one shared floating-point gauge moved twice per request would cost more than the
    /// count it shows.
    fn refresh_gauges(&self, now: Instant) -> usize {
        let inner = &self.inner;
        let active = inner.sessions.active(now);
        inner.metrics.set_active_sessions(active);
        inner
            .metrics
            .set_in_flight(inner.lifecycle.requests_in_flight());
        active
    }

    pub(crate) fn stats(&self) -> StatsResponse {
        let inner = &self.inner;
        let now = Instant::now();
        let active = self.refresh_gauges(now);
        let q = inner.latency.quantiles(now);
        // /proc files are made by the kernel on read: no disk, nothing to wait for.
        let (cpu_seconds, memory_bytes) = common::procfs::own_usage(&inner.usage_scope);
        StatsResponse {
            replica: inner.config.replica_name.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: now.duration_since(inner.started).as_secs_f64(),
            interactions: Action::ALL
                .iter()
                .zip(&inner.actions)
                .map(|(&action, c)| ActionCounts {
                    action,
                    ok: c.ok.load(Ordering::Relaxed),
                    errors: c.errors.load(Ordering::Relaxed),
                })
                .collect(),
            requests_total: inner.requests_total.load(Ordering::Relaxed),
            shed_total: inner.shed_total.load(Ordering::Relaxed),
            active_sessions: active as u64,
            // Not counting the stats request asking.
            in_flight: (inner.lifecycle.requests_in_flight() as u64).saturating_sub(1),
            queue_depth: inner.capacity.queue_depth() as u64,
            workers: inner.capacity.workers() as u64,
            latency_p50_ms: q.p50_ms,
            latency_p95_ms: q.p95_ms,
            cpu_seconds,
            memory_bytes,
        }
    }
}
