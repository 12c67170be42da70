//! `AppState`: everything one backend instance owns (configuration, metrics, capacity,
//! stores, counters, lifecycle), shared by its handlers behind one `Arc`.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::api::{Action, ActionCounts, StatsResponse};
use tokio::sync::Notify;

use crate::capacity::Capacity;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sessions::Sessions;
use crate::store::{Ids, Store};
use crate::window::LatencyWindow;

/// The state of one backend instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
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
pub(crate) struct ActionCounter {
    pub(crate) ok: AtomicU64,
    pub(crate) errors: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) started: Instant,
    pub(crate) metrics: Metrics,
    pub(crate) capacity: Arc<Capacity>,
    pub(crate) store: Mutex<Store>,
    pub(crate) ids: Ids,
    pub(crate) sessions: Sessions,
    pub(crate) latency: LatencyWindow,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) requests_total: AtomicU64,
    pub(crate) shed_total: AtomicU64,
    pub(crate) actions: [ActionCounter; 3],
    /// Bytes currently held by /api/stress/memory requests.
    pub(crate) stress_bytes: AtomicUsize,
}

/// Draining and the count of work still running (requests and background jobs), so the
/// server knows when it may stop.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    draining: AtomicBool,
    /// Requests and background jobs running.
    busy: AtomicUsize,
    /// Background jobs among them: a request pays for one shared counter, not two.
    jobs: AtomicUsize,
    idle: Notify,
}

/// Marks one unit of work (a request or a background job) as running until dropped.
#[derive(Debug)]
pub(crate) struct BusyGuard {
    state: AppState,
    job: bool,
}

impl BusyGuard {
    pub(crate) fn state(&self) -> &AppState {
        &self.state
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let inner = &self.state.inner;
        if self.job {
            inner.lifecycle.jobs.fetch_sub(1, Ordering::AcqRel);
        }
        // Only a drain waits for idle, and waking waiters takes a lock: skip it otherwise.
        // SeqCst pairs with `wait_idle`: either this sees the drain started or the drain's
        // check sees this count.
        let lifecycle = &inner.lifecycle;
        if lifecycle.busy.fetch_sub(1, Ordering::SeqCst) == 1
            && lifecycle.draining.load(Ordering::SeqCst)
        {
            lifecycle.idle.notify_waiters();
        }
    }
}

impl Lifecycle {
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    pub(crate) fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// HTTP requests being answered now. Read as two counters, so it may be off by one for
    /// an instant while a job starts or ends.
    pub(crate) fn in_flight_http(&self) -> usize {
        let jobs = self.jobs.load(Ordering::Acquire);
        self.busy.load(Ordering::Acquire).saturating_sub(jobs)
    }

    /// Resolves when no request or job is running, or after `timeout`; true if idle. Starts
    /// the drain if it has not started: work finishing only wakes a draining instance.
    pub(crate) async fn wait_idle(&self, timeout: Duration) -> bool {
        self.start_draining();
        let wait = async {
            loop {
                let notified = self.idle.notified();
                tokio::pin!(notified);
                // Register before checking, so a drop to zero in between is not missed.
                notified.as_mut().enable();
                if self.busy.load(Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.is_ok()
    }
}

impl AppState {
    /// A fresh instance: its own recorder, stores and workers.
    pub fn new(config: Config) -> Self {
        let metrics = Metrics::new();
        let capacity = Capacity::new(config.workers, config.queue, metrics.queue_depth().clone());
        let started = Instant::now();
        Self {
            inner: Arc::new(Inner {
                config,
                started,
                metrics,
                capacity,
                store: Mutex::new(Store::new()),
                ids: Ids::new(),
                sessions: Sessions::default(),
                latency: LatencyWindow::new(started),
                lifecycle: Lifecycle::default(),
                requests_total: AtomicU64::new(0),
                shed_total: AtomicU64::new(0),
                actions: Default::default(),
                stress_bytes: AtomicUsize::new(0),
            }),
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Entries held by each bounded store now.
    pub fn store_sizes(&self) -> StoreSizes {
        let (tickets, feedback, jobs) = self.store().sizes();
        StoreSizes {
            tickets,
            feedback,
            jobs,
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

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Counts an HTTP request, or with `job` a background job, as running until the guard
    /// is dropped.
    pub(crate) fn busy(&self, job: bool) -> BusyGuard {
        let lifecycle = &self.inner.lifecycle;
        if job {
            lifecycle.jobs.fetch_add(1, Ordering::AcqRel);
        }
        lifecycle.busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard {
            state: self.clone(),
            job,
        }
    }

    pub(crate) fn count_action(&self, action: Action, outcome: &str, success: bool) {
        self.inner.metrics.interaction(action, outcome);
        let counter = &self.inner.actions[action_index(action)];
        if success {
            counter.ok.fetch_add(1, Ordering::Relaxed);
        } else {
            counter.errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refreshes the gauges computed on demand (active sessions, requests in flight);
    /// called before reads. The in-flight gauge is not kept up to date per request: two
    /// floating-point updates of one shared value per request cost more than the count.
    pub(crate) fn refresh_gauges(&self, now: Instant) -> usize {
        let inner = &self.inner;
        let active = inner.sessions.active(now);
        inner.metrics.set_active_sessions(active);
        let in_flight = inner.lifecycle.in_flight_http();
        inner.metrics.set_in_flight(in_flight);
        active
    }

    pub(crate) fn stats(&self) -> StatsResponse {
        let inner = &self.inner;
        let now = Instant::now();
        let active = self.refresh_gauges(now);
        let q = inner.latency.quantiles(now);
        StatsResponse {
            replica: inner.config.replica_name.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            uptime_seconds: now.duration_since(inner.started).as_secs_f64(),
            interactions: Action::ALL
                .iter()
                .map(|&action| {
                    let c = &inner.actions[action_index(action)];
                    ActionCounts {
                        action,
                        ok: c.ok.load(Ordering::Relaxed),
                        errors: c.errors.load(Ordering::Relaxed),
                    }
                })
                .collect(),
            requests_total: inner.requests_total.load(Ordering::Relaxed),
            shed_total: inner.shed_total.load(Ordering::Relaxed),
            active_sessions: active as u64,
            // Not counting the stats request asking.
            in_flight: (inner.lifecycle.in_flight_http() as u64).saturating_sub(1),
            queue_depth: inner.capacity.queue_depth() as u64,
            workers: inner.capacity.workers() as u64,
            latency_p50_ms: q.p50_ms,
            latency_p95_ms: q.p95_ms,
        }
    }
}

pub(crate) fn action_index(action: Action) -> usize {
    match action {
        Action::BookTicket => 0,
        Action::CancelTicket => 1,
        Action::GiveFeedback => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_last_request_to_finish_wakes_the_drain() {
        let state = AppState::new(Config::default());
        let request = state.busy(false);
        let job = state.busy(true);
        let drain_state = state.clone();
        // A waiter nobody wakes would sit out its 30 s; the test allows it 2 s.
        let drain = tokio::spawn(async move {
            drain_state
                .inner
                .lifecycle
                .wait_idle(Duration::from_secs(30))
                .await
        });
        // The test runtime has one thread: yielding lets the drain task run up to its wait.
        let started = tokio::time::timeout(Duration::from_secs(2), async {
            while !state.is_draining() {
                tokio::task::yield_now().await;
            }
        });
        assert!(started.await.is_ok(), "waiting for idle starts the drain");
        drop(request);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!drain.is_finished(), "a job is still running");
        drop(job);
        let woken = tokio::time::timeout(Duration::from_secs(2), drain).await;
        assert!(matches!(woken, Ok(Ok(true))), "{woken:?}");
    }

    #[tokio::test]
    async fn an_idle_instance_drains_at_once_and_a_busy_one_times_out() {
        let state = AppState::new(Config::default());
        let started = Instant::now();
        assert!(
            state
                .inner
                .lifecycle
                .wait_idle(Duration::from_secs(30))
                .await
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let _stuck = state.busy(false);
        let started = Instant::now();
        assert!(
            !state
                .inner
                .lifecycle
                .wait_idle(Duration::from_millis(200))
                .await
        );
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
