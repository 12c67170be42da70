//! The closed loop (`--vus`, `--vu-stages`): virtual users, each on its own connection,
//! sending one request of the action mix, waiting for its answer (and in async mode for its
//! job), thinking, and again, as k6's constant-vus and ramping-vus executors do. The rate
//! is whatever the target lets them reach: users ÷ (response time + think time). Latency is
//! the plain response time, as there is no schedule to be late on; it is not comparable
//! with the open loop's corrected latency, because a slow answer here also holds back the
//! user's next request instead of adding a queue wait to it (coordinated omission).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::client::{Conn, Connector, Exchange, Failure, exchange_on};
use crate::engine::Shared;
use crate::jobs::{self, Followed, Handover, Poll};
use crate::scheduler::splitmix64;
use crate::worker::{self, Ended};
use crate::{ClosedLoop, Mode, Result, lane};

/// How often a lane matches its running users to the plan.
const CONTROL_EVERY: Duration = Duration::from_millis(100);
/// Extra wait for users finishing their last request beyond its own bounds.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// Mixed into a user's roll for its think time, so it is not tied to its action choice.
const THINK_SALT: u64 = 0x7468_696e_6b00_0000;

/// How a lane's users ended.
pub(crate) struct UsersEnded {
    /// Stopped by the run's shutdown before the plan's end.
    pub(crate) interrupted: bool,
    /// When the lane stopped starting requests.
    pub(crate) stopped_at: Instant,
}

/// Starts one lane thread of users: user `i` of the plan runs on lane `i % lanes`.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    plan: Arc<ClosedLoop>,
    index: usize,
    lanes: usize,
    start: Instant,
    stop: CancellationToken,
) -> Result<tokio::sync::oneshot::Receiver<Result<UsersEnded>>> {
    lane::on_thread(format!("loadgen-vus-{index}"), move || {
        control(shared, plan, index, lanes, start, stop)
    })
}

/// This lane's share of `total` users: those `i < total` with `i % lanes == index`.
fn share(total: usize, index: usize, lanes: usize) -> usize {
    (total + lanes - 1 - index.min(lanes - 1)) / lanes
}

/// Starts and stops this lane's users to follow the plan until its end (or `stop`), then
/// lets the last ones finish their request, bounded.
async fn control(
    shared: Arc<Shared>,
    plan: Arc<ClosedLoop>,
    index: usize,
    lanes: usize,
    start: Instant,
    stop: CancellationToken,
) -> Result<UsersEnded> {
    let users = TaskTracker::new();
    let mut running: Vec<CancellationToken> = Vec::new();
    let end = start + plan.duration();
    let mut tick = tokio::time::interval_at(start, CONTROL_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let interrupted = loop {
        tokio::select! {
            biased;
            () = stop.cancelled() => break true,
            _ = tick.tick() => {}
        }
        let now = Instant::now();
        if now >= end {
            break false;
        }
        let t_ns = u64::try_from(now.duration_since(start).as_nanos()).unwrap_or(u64::MAX);
        let wanted = share(plan.vus_at(t_ns), index, lanes);
        while running.len() < wanted {
            let id = (index + running.len() * lanes) as u64;
            let token = CancellationToken::new();
            users.spawn(user(shared.clone(), index, id, plan.clone(), token.clone()));
            running.push(token);
        }
        // The newest users leave first; each finishes its request (k6's graceful ramp-down).
        while running.len() > wanted {
            if let Some(token) = running.pop() {
                token.cancel();
            }
        }
    };
    let stopped_at = Instant::now();
    running.iter().for_each(CancellationToken::cancel);
    users.close();
    let jobs = if shared.mode == Mode::Async && !interrupted {
        shared.polling.max_wait
    } else {
        Duration::ZERO
    };
    let bound = shared.timeout + jobs + DRAIN_GRACE;
    let _ = tokio::time::timeout(bound, users.wait()).await;
    Ok(UsersEnded {
        interrupted,
        stopped_at,
    })
}

/// Counts a user as running while it exists.
struct Running<'a>(&'a AtomicUsize);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One virtual user: request, answer (and job), think, until `leave` is cancelled.
async fn user(
    shared: Arc<Shared>,
    lane: usize,
    id: u64,
    plan: Arc<ClosedLoop>,
    leave: CancellationToken,
) {
    shared.stats.vus.fetch_add(1, Ordering::Relaxed);
    let _running = Running(&shared.stats.vus);
    let stats = shared.stats.lane(lane);
    let mut conn: Option<Conn> = None;
    let mut iteration = 0u64;
    while !leave.is_cancelled() {
        // The same seed gives every user the same sequence of choices, however many lanes.
        let roll = splitmix64(shared.seed ^ splitmix64(splitmix64(id) ^ iteration));
        iteration += 1;
        let label = shared.workload.pick(roll);
        let prepared = shared.workload.prepare(label, splitmix64(roll));
        if let Some(s) = stats.sent.get(label) {
            s.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(c) = shared.metrics.sent.get(label) {
            c.increment(1);
        }
        shared.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        let began = Instant::now();
        let connector = &shared.connector;
        let exchange = exchange_on(
            &mut conn,
            shared.conn_max_age,
            || connector.dial(),
            prepared.request,
            prepared.keep_body,
        );
        let result = tokio::time::timeout(shared.timeout, exchange).await.ok();
        if result.is_none() {
            // The request may still be on the wire: this connection cannot be reused.
            conn = None;
        }
        let mut ended = Ended::of(&shared, stats, label, result, began, Instant::now());
        match ended.job.take() {
            None => worker::record(&shared, stats, label, &ended),
            Some(handover) => {
                jobs::accepted(&shared, stats, label, &ended);
                let followed = match handover {
                    Handover::Follow(uri) => {
                        let mut poll = Own {
                            slot: &mut conn,
                            connector,
                            max_age: shared.conn_max_age,
                        };
                        let target = connector.target();
                        let (polling, timeout) = (shared.polling, shared.timeout);
                        let accepted_at = Instant::now();
                        jobs::follow(&mut poll, target, &uri, accepted_at, polling, timeout).await
                    }
                    Handover::Unreadable(why) => Followed::expired(why),
                };
                jobs::finish(&shared, stats, label, began, followed);
                shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let pause = plan.think_time.sample(splitmix64(roll ^ THINK_SALT));
        if pause.is_zero() {
            // A target that answers at once must not keep this thread from its other users.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            () = leave.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

/// A user's polls go out on its own connection, as a browser's would.
struct Own<'a> {
    slot: &'a mut Option<Conn>,
    connector: &'a Connector,
    max_age: Duration,
}

impl Poll for Own<'_> {
    async fn get(&mut self, req: Request<Full<Bytes>>) -> Result<Exchange, Failure> {
        let connector = self.connector;
        let open = || connector.dial();
        exchange_on(self.slot, self.max_age, open, req, true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_share_the_users_exactly() {
        for total in 0..40 {
            for lanes in 1..5 {
                let sum: usize = (0..lanes).map(|i| share(total, i, lanes)).sum();
                assert_eq!(sum, total, "{total} users over {lanes} lanes");
            }
        }
    }
}
