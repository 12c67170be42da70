//! A lane's open loop: every slot of its share of the schedule is dispatched at its intended
//! instant, whatever happened to earlier ones, or dropped when the in-flight cap is reached;
//! schedule lag is measured on the way. A plan beyond what the machine can send is cut off
//! shortly after its end.

use std::pin::pin;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::load::Schedule;
use hdrhistogram::Histogram;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::engine::Shared;
use crate::queue::{Job, Queue};
use crate::stats::{LaneStats, histogram, micros};

/// Dispatches in a row before the scheduler lets the lane's workers run (it only sleeps
/// when ahead of the schedule, so a backlog would otherwise starve them).
const YIELD_EVERY: u32 = 64;
/// How far past the plan's end the scheduler may still catch up: a plan beyond anything the
/// machine can send (a steep ramp without --max-rps) must not keep it busy for ever.
const OVERRUN_LIMIT: Duration = Duration::from_secs(1);

/// How a lane's scheduling ended.
pub(crate) struct Scheduled {
    /// Actual dispatch minus intended instant, every slot reached.
    pub(crate) lag: Histogram<u64>,
    /// Slots handled (dispatched or dropped).
    pub(crate) reached: u64,
    /// The intended instant of the last slot reached.
    pub(crate) last_slot: Instant,
    /// Stopped by the run's shutdown.
    pub(crate) interrupted: bool,
    /// When it stopped, if interrupted.
    pub(crate) stopped_at: Instant,
    /// Gave up past the plan's end with slots left (see [`OVERRUN_LIMIT`]).
    pub(crate) overrun: bool,
}

/// Runs the open loop over `schedule` (this lane's slots), feeding `queue`.
pub(crate) async fn run(
    shared: &Shared,
    stats: &LaneStats,
    queue: &Queue,
    schedule: &Schedule,
    start: Instant,
    stop: &CancellationToken,
) -> Scheduled {
    let mut out = Scheduled {
        lag: histogram(),
        reached: 0,
        last_slot: start,
        interrupted: false,
        stopped_at: start,
        overrun: false,
    };
    let give_up_at = start + schedule.curve().duration() + OVERRUN_LIMIT;
    let mut in_a_row = 0u32;
    // One timer and one cancellation future for the whole loop, reset rather than created
    // per slot.
    let mut sleep = pin!(tokio::time::sleep_until(start));
    let mut cancelled = pin!(stop.cancelled());
    for (n, at_ns) in schedule.iter() {
        let intended = start + Duration::from_nanos(at_ns);
        let now = Instant::now();
        if intended > now {
            in_a_row = 0;
            sleep.as_mut().reset(intended);
            tokio::select! {
                biased;
                () = cancelled.as_mut() => {
                    out.interrupted = true;
                    break;
                }
                () = sleep.as_mut() => {}
            }
        } else if stop.is_cancelled() {
            out.interrupted = true;
            break;
        } else if now > give_up_at {
            out.overrun = true;
            break;
        } else {
            in_a_row += 1;
            if in_a_row >= YIELD_EVERY {
                in_a_row = 0;
                tokio::task::yield_now().await;
            }
        }
        out.last_slot = intended;
        out.reached += 1;
        let now = Instant::now();
        let late = micros(now.saturating_duration_since(intended));
        out.lag.saturating_record(late);
        stats.window_max_lag.fetch_max(late, Ordering::Relaxed);
        dispatch(shared, stats, queue, n, intended, now);
    }
    out.stopped_at = Instant::now();
    out
}

/// Sends slot `n` to the workers, or drops it when the in-flight cap is reached.
fn dispatch(
    shared: &Shared,
    stats: &LaneStats,
    queue: &Queue,
    n: u64,
    intended: Instant,
    now: Instant,
) {
    // The slot's choices depend on the seed and its number only, so they do not change
    // with the number of lanes or shards.
    let roll = splitmix64(shared.seed ^ splitmix64(n));
    let label = shared.workload.pick(roll);
    // One atomic step, so that lanes dispatching at once cannot overshoot the cap together.
    let admitted = shared
        .stats
        .in_flight
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            (n < shared.max_in_flight).then_some(n + 1)
        });
    if admitted.is_err() {
        if let Some(d) = stats.dropped.get(label) {
            d.fetch_add(1, Ordering::Relaxed);
        }
        shared.metrics.dropped.increment(1);
        return;
    }
    if let Some(s) = stats.sent.get(label) {
        s.fetch_add(1, Ordering::Relaxed);
    }
    if let Some(c) = shared.metrics.sent.get(label) {
        c.increment(1);
    }
    queue.push(Job {
        intended,
        deadline: now + shared.timeout,
        label,
        roll: splitmix64(roll),
    });
}

/// A well-mixed 64-bit hash (splitmix64's finaliser): consecutive inputs give unrelated
/// outputs.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_spreads_consecutive_numbers_over_the_whole_range() {
        let rolls: Vec<u64> = (0..10_000).map(|n| splitmix64(7 ^ splitmix64(n))).collect();
        let high = rolls.iter().filter(|r| **r >= u64::MAX / 2).count();
        assert!(
            (4_700..5_300).contains(&high),
            "{high} of 10000 in the top half"
        );
        let mut sorted = rolls.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), rolls.len());
    }
}
