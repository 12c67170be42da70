//! A lane: one OS thread with its own single-threaded runtime, running a share of the
//! schedule (every `lanes`-th slot) on its own workers and connections. Lanes share nothing
//! on the request path but the in-flight count, so a request never wakes another thread,
//! and `--threads` lanes use that many cores without a work-stealing scheduler between them.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::load::{Curve, Schedule, Shard};
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::Parked;
use crate::engine::Shared;
use crate::jobs::{POLL_CONNECTIONS, PollPool};
use crate::queue::Queue;
use crate::scheduler::{self, Scheduled};
use crate::worker::{SharedConn, Worker};
use crate::{Error, Result};

/// Extra wait for in-flight requests beyond their own timeout.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// Queue slots reserved up front per lane (it grows beyond only in a deep backlog).
const QUEUE_RESERVE: usize = 4096;

/// What a lane's workers share with its scheduler.
pub(crate) struct Lane {
    pub(crate) index: usize,
    pub(crate) queue: Queue,
    /// The start-up checks' connection, for the first worker that needs one.
    spare: Mutex<Option<Parked>>,
    /// Async mode: the followers of this lane's jobs, and their poll connections.
    pub(crate) followers: TaskTracker,
    pub(crate) polls: PollPool,
}

impl Lane {
    pub(crate) fn take_spare(&self) -> Option<Parked> {
        self.spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// Everything one lane needs to run.
pub(crate) struct Plan {
    pub(crate) index: usize,
    /// This lane's slots: the run's shard split again over the lanes.
    pub(crate) shard: Shard,
    pub(crate) connections: usize,
    pub(crate) spare: Option<Parked>,
    pub(crate) start: Instant,
}

/// The rate one lane is given before another is added, when `--threads` is not set. A lane
/// carries about 50k requests per second on a 2-vCPU machine; below its limit, splitting the
/// rate over more threads only adds wake-ups (each thread sleeps and wakes for fewer
/// requests), so lanes are added for the plan's peak rate with room to spare.
const RATE_PER_LANE: f64 = 20_000.0;

/// How many lanes a run uses: `threads` when given, else one per [`RATE_PER_LANE`] of the
/// plan's peak rate (`peak_rps`, this shard's share) up to one per core; never more than
/// connections.
pub(crate) fn count(threads: Option<usize>, connections: usize, peak_rps: f64) -> usize {
    let lanes = threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let wanted = (peak_rps / RATE_PER_LANE).ceil();
        // A NaN or negative peak asks for one lane; an infinite one for every core.
        if wanted >= cores as f64 {
            cores
        } else if wanted >= 1.0 {
            wanted as usize
        } else {
            1
        }
    });
    lanes.min(connections).max(1)
}

/// The highest rate of `curve`, split over `shard.count` generators.
pub(crate) fn peak_rps(curve: &Curve, shard: Shard) -> f64 {
    let peak = curve
        .segments()
        .iter()
        .map(|s| s.start_rps.max(s.end_rps))
        .fold(0.0, f64::max);
    peak / shard.count.max(1) as f64
}

/// Lane `i` of `lanes` within the run's `shard`: slots `shard.index + k * shard.count` with
/// `k % lanes == i`.
pub(crate) fn sub_shard(shard: Shard, i: usize, lanes: usize) -> Shard {
    Shard {
        index: shard.index + i as u64 * shard.count,
        count: shard.count * lanes as u64,
    }
}

/// Connections of lane `i`: `total` split as evenly as it goes.
pub(crate) fn connections_of(total: usize, i: usize, lanes: usize) -> usize {
    total / lanes + usize::from(i < total % lanes)
}

/// Starts the lane's thread. The answer comes once its scheduling ended and its requests
/// finished (or their time ran out): its runtime, connections included, is gone by then.
pub(crate) fn spawn(
    plan: Plan,
    shared: Arc<Shared>,
    stop: CancellationToken,
) -> Result<oneshot::Receiver<Result<Scheduled>>> {
    on_thread(lane_thread_name(plan.index), move || {
        run(plan, shared, stop)
    })
}

/// `<name>/lane<i>` when the starting thread carries a name of its own: the orchestrator
/// names each component's runtime threads and counts the CPU of `<name>` and `<name>/...`
/// as that component's. Else (a test thread, the binary's `main`) `loadgen-lane-<i>`.
fn lane_thread_name(i: usize) -> String {
    match std::thread::current().name() {
        Some(n) if n != "main" && !n.starts_with("tokio-") && !n.contains("::") => {
            format!("{n}/lane{i}")
        }
        _ => format!("loadgen-lane-{i}"),
    }
}

/// Runs the future `make` builds on a new thread with its own single-threaded runtime; the
/// answer comes once it ended and the runtime is gone (with every task and connection on it,
/// so nothing goes out once the run has returned).
pub(crate) fn on_thread<T, F, Fut>(name: String, make: F) -> Result<oneshot::Receiver<Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Result<T>>,
{
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name)
        .spawn(move || {
            // Sockets and timers only: signals are the caller's runtime's business.
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build();
            let out = match runtime {
                Ok(rt) => {
                    let out = rt.block_on(make());
                    rt.shutdown_timeout(Duration::from_millis(100));
                    out
                }
                Err(e) => Err(Error::Engine(format!("cannot start a runtime: {e}"))),
            };
            let _ = tx.send(out);
        })
        .map_err(|e| Error::Engine(format!("cannot start a thread: {e}")))?;
    Ok(rx)
}

async fn run(plan: Plan, shared: Arc<Shared>, stop: CancellationToken) -> Result<Scheduled> {
    let lane = Arc::new(Lane {
        index: plan.index,
        queue: Queue::new(QUEUE_RESERVE.min(shared.max_in_flight)),
        spare: Mutex::new(plan.spare),
        followers: TaskTracker::new(),
        polls: PollPool::new(POLL_CONNECTIONS.min(plan.connections)),
    });
    let workers: Vec<_> = match shared.h2_streams {
        None => (0..plan.connections.max(1))
            .map(|_| tokio::spawn(Worker::new(shared.clone(), lane.clone(), None).run()))
            .collect(),
        // HTTP/2: a group of workers per connection, one per stream.
        Some(streams) => (0..plan.connections.max(1))
            .flat_map(|_| {
                let group = Arc::new(SharedConn::new(None));
                let (shared, lane) = (shared.clone(), lane.clone());
                (0..streams).map(move |_| {
                    let w = Worker::new(shared.clone(), lane.clone(), Some(group.clone()));
                    tokio::spawn(w.run())
                })
            })
            .collect(),
    };
    let schedule = Schedule::new(shared.curve.clone(), shared.arrivals, plan.shard);
    let interrupted = stop.clone();
    // A task like the workers, so that a panic in it comes back as an error for the run
    // instead of ending the lane's thread without an answer.
    let scheduling = tokio::spawn({
        let (shared, lane) = (shared.clone(), lane.clone());
        async move {
            let stats = shared.stats.lane(lane.index);
            let out = scheduler::run(&shared, stats, &lane.queue, &schedule, plan.start, &stop);
            let out = out.await;
            lane.queue.close();
            out
        }
    });
    let scheduled = match scheduling.await {
        Ok(s) => s,
        Err(e) => {
            lane.queue.close();
            return Err(Error::Engine(format!("the scheduler failed: {e}")));
        }
    };
    // Every queued job expires by its deadline, so the workers end by then.
    let deadline = Instant::now() + shared.timeout + DRAIN_GRACE;
    for w in workers {
        if tokio::time::timeout_at(deadline, w).await.is_err() {
            break;
        }
    }
    // Every job ends by its own deadline; once stopped, jobs get no longer than requests.
    lane.followers.close();
    let jobs_deadline = if interrupted.is_cancelled() {
        deadline
    } else {
        Instant::now() + shared.polling.max_wait + shared.timeout + DRAIN_GRACE
    };
    let _ = tokio::time::timeout_at(jobs_deadline, lane.followers.wait()).await;
    Ok(scheduled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_split_a_shard_exactly() {
        let shard = Shard { index: 1, count: 3 };
        let lanes = 4;
        let mut mine: Vec<u64> = (0..lanes)
            .flat_map(|i| {
                let s = sub_shard(shard, i, lanes);
                (0..600u64).filter(move |n| n % s.count == s.index)
            })
            .collect();
        mine.sort_unstable();
        let want: Vec<u64> = (0..600u64).filter(|n| n % 3 == 1).collect();
        assert_eq!(mine, want);
    }

    #[test]
    fn connections_are_split_evenly_and_lanes_never_outnumber_them() {
        let split: Vec<usize> = (0..3).map(|i| connections_of(8, i, 3)).collect();
        assert_eq!(split, [3, 3, 2]);
        assert_eq!(count(Some(4), 1, 1e6), 1);
        assert_eq!(count(Some(2), 512, 10.0), 2, "an explicit count is kept");
    }

    #[test]
    fn without_threads_lanes_follow_the_peak_rate_up_to_the_cores() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(count(None, 512, 0.0), 1);
        assert_eq!(count(None, 512, 300.0), 1);
        assert_eq!(count(None, 512, RATE_PER_LANE), 1);
        assert_eq!(count(None, 512, RATE_PER_LANE + 1.0), 2.min(cores));
        assert_eq!(count(None, 512, f64::INFINITY), cores);
        assert_eq!(count(None, 512, f64::NAN), 1);
        assert_eq!(count(None, 3, f64::INFINITY), cores.min(3));
        let curve = Curve::new(vec![
            common::load::Segment {
                duration_ns: 1_000_000_000,
                start_rps: 10.0,
                end_rps: 90_000.0,
            },
            common::load::Segment {
                duration_ns: 1_000_000_000,
                start_rps: 50.0,
                end_rps: 50.0,
            },
        ]);
        assert_eq!(peak_rps(&curve, Shard { index: 0, count: 3 }), 30_000.0);
    }
}
