//! The run: serve /metrics, check the target, then hand this shard's schedule to the lanes
//! (threads that send every request at its intended instant, never waiting for responses,
//! and drop what the in-flight cap refuses) or, in the closed loop, start the virtual users;
//! tick the timeline meanwhile, and turn the measurements into a [`Report`].

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::api::Action;
use common::load::{Arrivals, Curve};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{Connector, Dialing, Setup, Target};
use crate::metrics::{self, Metrics, Series};
use crate::report::{self, Report};
use crate::scheduler::Scheduled;
use crate::stats::{Stats, histogram};
use crate::ticker::{Ticked, Ticker};
use crate::workload::Workload;
use crate::{
    ClosedLoop, Config, Error, Executor, JobPolling, Mode, Result, Workload as Spec, closed, lane,
    plan, wait,
};

/// What every lane, the ticker and the /metrics page share.
pub(crate) struct Shared {
    pub(crate) connector: Connector,
    pub(crate) workload: Workload,
    pub(crate) stats: Arc<Stats>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) curve: Curve,
    pub(crate) arrivals: Arrivals,
    pub(crate) seed: u64,
    pub(crate) timeout: Duration,
    pub(crate) conn_max_age: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) mode: Mode,
    pub(crate) polling: JobPolling,
    /// Notified once a second: idle workers close connections past their age.
    pub(crate) sweep: Notify,
    /// HTTP/2: how many workers share one connection (`--h2-streams`); None for HTTP/1.1.
    pub(crate) h2_streams: Option<usize>,
}

/// Runs the load described by `config` and returns what it measured.
///
/// `/metrics` is served on `metrics_listener` (or on `config.metrics_addr` when None) from
/// the start until this returns. It returns when the schedule is done and in-flight
/// requests finished (or timed out) — with `config.linger`, only once `shutdown` resolves
/// after that — or soon after `shutdown` resolves: scheduling stops,
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
    let lanes = match &config.executor {
        Executor::OpenLoop => {
            let curve = plan::curve(&config.shape, config.time_scale);
            let peak = lane::peak_rps(&curve, config.shard);
            lane::count(config.threads, config.connections, peak)
        }
        // Users wait most of the time; one thread carries thousands unless told otherwise.
        Executor::ClosedLoop(c) => config.threads.unwrap_or(1).clamp(1, c.peak().max(1)),
    };
    let stats = Arc::new(Stats::new(lanes, labels.len()));
    let series = Series {
        jobs: config.mode == Mode::Async,
        vus: matches!(config.executor, Executor::ClosedLoop(_)),
        tls: target.is_tls(),
    };
    let metrics = Arc::new(Metrics::new(&labels, series));
    let serving = CancellationToken::new();
    let server = tokio::spawn(metrics::serve(
        listener,
        metrics.clone(),
        stats.clone(),
        serving.clone(),
    ));
    let stop = CancellationToken::new();
    // The lanes run on threads of their own: should the caller drop this future, they must
    // stop sending too.
    let _stop_on_drop = stop.clone().drop_guard();
    let on_signal = stop.clone();
    let signal = tokio::spawn(async move {
        shutdown.await;
        on_signal.cancel();
    });

    let linger = config.linger;
    let stopped = stop.clone();
    let result = load(config, target, lanes, stats, metrics, stop).await;
    if linger && result.is_ok() {
        // The plan is done: the last counts stay readable until the caller says stop.
        stopped.cancelled().await;
    }

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
    lanes: usize,
    stats: Arc<Stats>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
) -> Result<Report> {
    let dialing = Dialing::new(&target, &config.transport).map_err(Error::Tls)?;
    let setup = Setup::new(Some(metrics.setup()));
    let connector = Connector::new(target.clone(), dialing.clone(), setup);
    // The start-up checks' connection goes on to carry load rather than being wasted.
    let mut warm = match config.wait_for_target {
        Some(limit) => {
            wait::ready(&config.target, &target, dialing, limit, &stop).await?;
            None
        }
        None => wait::reachable(&config.target, &connector).await?,
    };
    let books = matches!(&config.workload, Spec::Actions(mix)
        if mix.iter().any(|&(a, w)| a == Action::BookTicket && w > 0));
    let showtimes = if books && !stop.is_cancelled() {
        wait::showtimes(&connector, &mut warm).await
    } else {
        Vec::new()
    };
    let mut rng = SmallRng::seed_from_u64(config.seed);
    let workload = Workload::new(&config.workload, config.mode, target, showtimes, &mut rng);
    let schedule = plan::schedule(&config, config.shard);
    let shared = Arc::new(Shared {
        connector,
        workload,
        stats: stats.clone(),
        metrics: metrics.clone(),
        curve: schedule.curve().clone(),
        arrivals: config.arrivals,
        seed: config.seed,
        timeout: config.timeout,
        conn_max_age: config.conn_max_age,
        max_in_flight: config.max_in_flight,
        mode: config.mode,
        polling: config.polling,
        sweep: Notify::new(),
        h2_streams: config
            .transport
            .http2
            .then_some(config.transport.h2_streams.max(1)),
    });
    let started_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let start = Instant::now();
    let ticking = CancellationToken::new();
    let closed_loop = match &config.executor {
        Executor::ClosedLoop(c) => Some(Arc::new(c.clone())),
        Executor::OpenLoop => None,
    };
    let ticker_plan = match &closed_loop {
        Some(c) => Ticked::Closed(c.duration()),
        None => Ticked::Open(schedule.clone()),
    };
    let ticker =
        tokio::spawn(Ticker::new(&config, ticker_plan, start, shared.clone()).run(ticking.clone()));
    let sent = match closed_loop {
        Some(c) => users(&shared, c, lanes, start, &stop).await,
        None => {
            let spare = warm.and_then(crate::client::Conn::park);
            open_loop(&config, &schedule, &shared, lanes, spare, start, &stop).await
        }
    };
    ticking.cancel();
    let timeline = ticker.await.unwrap_or_default();
    let sent = sent?;
    if sent.skipped > 0 {
        metrics.dropped.increment(sent.skipped);
        tracing::warn!(
            skipped = sent.skipped,
            "the plan asks for more than this machine can send; the rest was dropped \
             (cap the rate with --max-rps)"
        );
    }
    let unfinished = stats.sent_total().saturating_sub(stats.completed_total());
    if unfinished > 0 {
        tracing::warn!(
            left = unfinished,
            "requests (or their async jobs) still running after the wait; not waiting"
        );
    }
    let run = report::Run {
        config: &config,
        started_unix_ms,
        duration: start.elapsed(),
        sending: sent.sending,
        interrupted: sent.interrupted,
        planned: sent.planned,
        skipped: sent.skipped,
        connections_opened: shared.connector.opened(),
        setup: shared.connector.setup().totals(),
        unfinished,
        lag: &sent.lag,
        timeline,
    };
    Ok(report::build(run, &stats, shared.workload.labels()))
}

/// How the sending part of a run went, whichever loop sent.
struct Sent {
    sending: Duration,
    interrupted: bool,
    planned: Option<u64>,
    skipped: u64,
    lag: hdrhistogram::Histogram<u64>,
}

/// The open loop: the schedule split over `lanes` lanes, each fed its share at its instants.
async fn open_loop(
    config: &Config,
    schedule: &common::load::Schedule,
    shared: &Arc<Shared>,
    lanes: usize,
    mut spare: Option<crate::client::Parked>,
    start: Instant,
    stop: &CancellationToken,
) -> Result<Sent> {
    let ends = run_lanes(lanes, stop, |index| {
        let plan = lane::Plan {
            index,
            shard: lane::sub_shard(config.shard, index, lanes),
            connections: lane::connections_of(config.connections, index, lanes),
            spare: spare.take(),
            start,
        };
        lane::spawn(plan, shared.clone(), stop.clone())
    })
    .await?;
    let interrupted = ends.iter().any(|e| e.interrupted);
    let sending = if interrupted {
        ends.iter()
            .map(|e| e.stopped_at.saturating_duration_since(start))
            .max()
            .unwrap_or_default()
    } else {
        // The last slot comes a gap before the curve's end; the rate is over the plan.
        ends.iter()
            .map(|e| e.last_slot.saturating_duration_since(start))
            .fold(schedule.curve().duration(), Duration::max)
    };
    let mut lag = histogram();
    for e in &ends {
        // Same bounds on both sides, so adding cannot fail.
        let _ = lag.add(&e.lag);
    }
    Ok(Sent {
        sending,
        interrupted,
        planned: plan::planned(schedule, config.arrivals, config.shard),
        skipped: skipped(config, lanes, &ends),
        lag,
    })
}

/// The closed loop: the plan's virtual users on `lanes` threads.
async fn users(
    shared: &Arc<Shared>,
    plan: Arc<ClosedLoop>,
    lanes: usize,
    start: Instant,
    stop: &CancellationToken,
) -> Result<Sent> {
    let ends = run_lanes(lanes, stop, |index| {
        closed::spawn(
            shared.clone(),
            plan.clone(),
            index,
            lanes,
            start,
            stop.clone(),
        )
    })
    .await?;
    let interrupted = ends.iter().any(|e| e.interrupted);
    let sending = if interrupted {
        ends.iter()
            .map(|e| e.stopped_at.saturating_duration_since(start))
            .max()
            .unwrap_or_default()
    } else {
        plan.duration()
    };
    Ok(Sent {
        sending,
        interrupted,
        planned: None,
        skipped: 0,
        lag: histogram(),
    })
}

/// Waits for every lane to end. Says once that the run is stopping when `stop` fires first.
/// Starts lanes `0..lanes` with `spawn` and waits for their ends; when one cannot start, the
/// lanes already started stop at once and are waited for.
async fn run_lanes<T>(
    lanes: usize,
    stop: &CancellationToken,
    mut spawn: impl FnMut(usize) -> Result<tokio::sync::oneshot::Receiver<Result<T>>>,
) -> Result<Vec<T>> {
    let mut running = Vec::with_capacity(lanes);
    for index in 0..lanes {
        match spawn(index) {
            Ok(rx) => running.push(rx),
            Err(e) => {
                stop.cancel();
                let _ = collect(running, stop).await;
                return Err(e);
            }
        }
    }
    collect(running, stop).await
}

async fn collect<T>(
    running: Vec<tokio::sync::oneshot::Receiver<Result<T>>>,
    stop: &CancellationToken,
) -> Result<Vec<T>> {
    let all = async {
        let mut ends = Vec::with_capacity(running.len());
        let mut failed = None;
        for rx in running {
            match rx.await {
                Ok(Ok(end)) => ends.push(end),
                Ok(Err(e)) => failed = Some(e),
                Err(_) => {
                    failed = Some(Error::Engine("a sending thread ended unexpectedly".into()));
                }
            }
        }
        failed.map_or(Ok(ends), Err)
    };
    let mut all = std::pin::pin!(all);
    tokio::select! {
        biased;
        ends = all.as_mut() => return ends,
        () = stop.cancelled() => {}
    }
    tracing::info!("stopping: no new requests; waiting for those in flight");
    all.await
}

/// Slots of the plan never reached because lanes gave up past its end.
fn skipped(config: &Config, lanes: usize, ends: &[Scheduled]) -> u64 {
    ends.iter()
        .enumerate()
        .filter(|(_, e)| e.overrun)
        .map(|(i, e)| {
            let shard = lane::sub_shard(config.shard, i, lanes);
            let schedule = plan::schedule(config, shard);
            plan::planned(&schedule, config.arrivals, shard)
                .map_or(0, |p| p.saturating_sub(e.reached))
        })
        .sum()
}
