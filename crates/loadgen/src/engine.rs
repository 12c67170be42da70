//! The run: serve /metrics, check the target, then send every request of this shard's
//! schedule at its intended instant (open loop: never waiting for responses), drop what the
//! in-flight cap refuses, and turn the measurements into a [`Report`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::api::Action;
use common::names::error_kind;
use rand::rngs::SmallRng;
use rand::{RngCore, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{Failure, Pool, Target};
use crate::metrics::{self, Metrics};
use crate::report::{self, Report};
use crate::stats::{Outcome, Stats, kind_index, micros};
use crate::ticker::Ticker;
use crate::workload::Workload;
use crate::{Config, Error, Result, Workload as Spec, plan, wait};

/// Dispatches in a row before the scheduler lets other tasks run (it only sleeps when
/// ahead of the schedule, so a backlog would otherwise hold a worker thread).
const YIELD_EVERY: u32 = 64;
/// How far past the plan's end the scheduler may still catch up: a plan beyond anything the
/// machine can send (a steep ramp without --max-rps) must not keep it busy for ever.
const OVERRUN_LIMIT: Duration = Duration::from_secs(1);
/// Extra wait for in-flight requests beyond their own timeout.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// What request tasks share.
pub(crate) struct Shared {
    pub(crate) pool: Pool,
    pub(crate) workload: Workload,
    pub(crate) stats: Arc<Stats>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) timeout: Duration,
    /// Notified when the last in-flight request finishes.
    pub(crate) idle: Notify,
}

/// Runs the load described by `config` and returns what it measured.
///
/// `/metrics` is served on `metrics_listener` (or on `config.metrics_addr` when None) from
/// the start until this returns. It returns when the schedule is done and in-flight
/// requests finished (or timed out), or soon after `shutdown` resolves: scheduling stops,
/// in-flight requests get up to the request timeout, and the report covers what was sent.
pub async fn run(
    config: Config,
    metrics_listener: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report> {
    let target = Target::parse(&config.target).map_err(|e| Error::Flag("--target", e))?;
    let listener = match metrics_listener {
        Some(l) => l,
        None => TcpListener::bind(config.metrics_addr)
            .await
            .map_err(|source| Error::MetricsBind {
                addr: config.metrics_addr,
                source,
            })?,
    };
    let labels = labels_of(&config.workload);
    let stats = Arc::new(Stats::new(labels.len()));
    let metrics = Arc::new(Metrics::new(&labels));
    let serving = CancellationToken::new();
    let server = tokio::spawn(metrics::serve(
        listener,
        metrics.clone(),
        stats.clone(),
        serving.clone(),
    ));
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let signal = tokio::spawn(async move {
        shutdown.await;
        on_signal.cancel();
    });

    let result = load(config, target, stats, metrics, stop).await;

    signal.abort();
    serving.cancel();
    let abort = server.abort_handle();
    // A scraper holding a keep-alive connection must not keep the run from returning.
    if tokio::time::timeout(Duration::from_secs(1), server)
        .await
        .is_err()
    {
        abort.abort();
    }
    result
}

fn labels_of(spec: &Spec) -> Vec<&'static str> {
    match spec {
        Spec::Actions(mix) => mix
            .iter()
            .filter(|(_, w)| *w > 0)
            .map(|(a, _)| a.as_str())
            .collect(),
        Spec::Custom(_) => vec![crate::workload::CUSTOM_LABEL],
    }
}

async fn load(
    config: Config,
    target: Target,
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> Result<Report> {
    let pool = Pool::new(target.clone(), config.connections, config.conn_max_age);
    match config.wait_for_target {
        Some(limit) => wait::ready(&config.target, &target, limit, &stop).await?,
        None => wait::reachable(&config.target, &pool).await?,
    }
    let books = matches!(&config.workload, Spec::Actions(mix)
        if mix.iter().any(|&(a, w)| a == Action::BookTicket && w > 0));
    let showtimes = if books && !stop.is_cancelled() {
        wait::showtimes(&pool).await
    } else {
        Vec::new()
    };
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let workload = Workload::new(&config.workload, target, showtimes, &mut rng);
    let shared = Arc::new(Shared {
        pool,
        workload,
        stats: stats.clone(),
        metrics: metrics.clone(),
        timeout: config.timeout,
        idle: Notify::new(),
    });
    let schedule = plan::schedule(&config.shape, config.arrivals, config.shard);
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let start = Instant::now();
    let ticking = CancellationToken::new();
    let ticker = tokio::spawn(
        Ticker::new(&config, schedule.clone(), start, shared.clone()).run(ticking.clone()),
    );

    // The open loop: each slot goes out at its instant whatever happened to earlier ones.
    let mut lag = crate::stats::histogram();
    let mut interrupted = false;
    let mut in_a_row = 0u32;
    let mut last_slot = start;
    let mut reached = 0u64;
    let mut overrun = false;
    let give_up_at = start + schedule.curve().duration() + OVERRUN_LIMIT;
    for (_, at_ns) in schedule.iter() {
        let intended = start + Duration::from_nanos(at_ns);
        let now = Instant::now();
        if intended > now {
            in_a_row = 0;
            tokio::select! {
                biased;
                () = stop.cancelled() => {
                    interrupted = true;
                    break;
                }
                () = tokio::time::sleep_until(intended) => {}
            }
        } else if stop.is_cancelled() {
            interrupted = true;
            break;
        } else if now > give_up_at {
            overrun = true;
            break;
        } else {
            in_a_row += 1;
            if in_a_row >= YIELD_EVERY {
                in_a_row = 0;
                tokio::task::yield_now().await;
            }
        }
        last_slot = intended;
        reached += 1;
        let late = micros(Instant::now().saturating_duration_since(intended));
        lag.saturating_record(late);
        stats.window_max_lag.fetch_max(late, Ordering::Relaxed);
        let label = shared.workload.pick(&mut rng);
        let roll = rng.next_u64();
        if stats.in_flight.load(Ordering::Relaxed) >= config.max_in_flight {
            stats.dropped[label].fetch_add(1, Ordering::Relaxed);
            metrics.dropped.increment(1);
            continue;
        }
        stats.in_flight.fetch_add(1, Ordering::Relaxed);
        stats.sent[label].fetch_add(1, Ordering::Relaxed);
        metrics.sent[label].increment(1);
        tokio::spawn(fire(shared.clone(), label, roll, intended));
    }
    let sending = if interrupted {
        start.elapsed()
    } else {
        // The last slot comes a gap before the curve's end; the rate is over the plan.
        schedule
            .curve()
            .duration()
            .max(last_slot.saturating_duration_since(start))
    };
    if interrupted {
        tracing::info!("stopping: no new requests; waiting for those in flight");
    }
    let planned = plan::planned(&schedule, config.arrivals, config.shard);
    let skipped = if overrun {
        let skipped = planned.map_or(0, |p| p.saturating_sub(reached));
        metrics.dropped.increment(skipped);
        tracing::warn!(
            skipped,
            "the plan asks for more than this machine can send; the rest was dropped \
             (cap the rate with --max-rps)"
        );
        skipped
    } else {
        0
    };
    drain(&shared, config.timeout + DRAIN_GRACE).await;
    ticking.cancel();
    let timeline = ticker.await.unwrap_or_default();
    let run = report::Run {
        config: &config,
        started_unix_ms,
        duration: start.elapsed(),
        sending,
        interrupted,
        planned,
        skipped,
        connections_opened: shared.pool.opened(),
        unfinished: stats.in_flight.load(Ordering::Relaxed) as u64,
        lag: &lag,
        timeline,
    };
    Ok(report::build(run, &stats, shared.workload.labels()))
}

/// Waits until no request is in flight, at most `limit`.
async fn drain(shared: &Shared, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let idle = shared.idle.notified();
        tokio::pin!(idle);
        idle.as_mut().enable();
        if shared.stats.in_flight.load(Ordering::Acquire) == 0 {
            return;
        }
        if tokio::time::timeout_at(deadline, idle).await.is_err() {
            let left = shared.stats.in_flight.load(Ordering::Acquire);
            tracing::warn!(
                left,
                "requests still in flight after the timeout; not waiting"
            );
            return;
        }
    }
}

/// Decrements in-flight however the request task ends.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.stats.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// One request: send, read the response, record latency from the intended instant.
async fn fire(shared: Arc<Shared>, label: usize, roll: u64, intended: Instant) {
    let guard = InFlight(shared);
    let sh = &guard.0;
    let prepared = sh.workload.prepare(label, roll);
    let result = tokio::time::timeout(
        sh.timeout,
        sh.pool.exchange(prepared.request, prepared.keep_body),
    )
    .await;
    let done = Instant::now();
    let corrected = done.saturating_duration_since(intended);
    let (outcome, corrected, service) = match result {
        Ok(Ok(ex)) => {
            sh.workload.observe(label, ex.status, &ex.body);
            let service = done.saturating_duration_since(ex.sent_at);
            (
                Outcome::Status(ex.status.as_u16()),
                Some(corrected),
                Some(service),
            )
        }
        Ok(Err(failure)) => {
            let (kind, why) = match failure {
                Failure::Connect(why) => (error_kind::CONNECT, why),
                Failure::Io(why) => (error_kind::IO, why),
            };
            sh.stats.note_failure(kind, why);
            (Outcome::Failed(kind_index(kind)), None, None)
        }
        Err(_) => {
            let why = format!("no complete response within {:?}", sh.timeout);
            sh.stats.note_failure(error_kind::TIMEOUT, why);
            (
                Outcome::Failed(kind_index(error_kind::TIMEOUT)),
                Some(corrected),
                None,
            )
        }
    };
    sh.stats.record(label, outcome, corrected, service);
    if let Some(c) = corrected
        && let Some(h) = sh.metrics.latency.get(label)
    {
        h.record(c.as_secs_f64());
    }
    if let Some(k) = outcome.error_kind()
        && let Some(c) = sh.metrics.errors.get(label).and_then(|e| e.get(k))
    {
        c.increment(1);
    }
}
