//! Once a second: one timeline point (what the last second did), the rate and VU gauges,
//! the progress display, and housekeeping (aged idle connections, histogram buffers).
//! It runs on the caller's runtime and only reads what the lanes record.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::load::{Schedule, Shard};
use hdrhistogram::Histogram;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::Config;
use crate::engine::Shared;
use crate::plan;
use crate::progress::{Display, Totals};
use crate::report::TimelinePoint;
use crate::stats::histogram;
use crate::threshold::round3;

#[derive(Default, Clone, Copy)]
struct Counts {
    sent: u64,
    completed: u64,
    errors: u64,
    dropped: u64,
}

/// What the ticker follows: the open loop's schedule (its target rate), or the closed
/// loop's length (it has no target rate; it shows the users running instead).
pub(crate) enum Ticked {
    Open(Schedule),
    Closed(Duration),
}

pub(crate) struct Ticker {
    shared: Arc<Shared>,
    plan: Ticked,
    shard: Shard,
    start: Instant,
    display: Display,
    /// The last second's latencies of every lane, reused from tick to tick.
    window: Histogram<u64>,
}

impl Ticker {
    pub(crate) fn new(config: &Config, plan: Ticked, start: Instant, shared: Arc<Shared>) -> Self {
        let display = Display::new(config.progress, Self::length(&plan));
        Self {
            shared,
            plan,
            shard: config.shard,
            start,
            display,
            window: histogram(),
        }
    }

    fn length(plan: &Ticked) -> Duration {
        match plan {
            Ticked::Open(s) => s.curve().duration(),
            Ticked::Closed(d) => *d,
        }
    }

    /// Ticks until `stop`, then records the last partial second and returns the timeline.
    pub(crate) async fn run(mut self, stop: CancellationToken) -> Vec<TimelinePoint> {
        let second = Duration::from_secs(1);
        let mut interval = tokio::time::interval_at(self.start + second, second);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // One point a second: reserved for the plan's length (up to an hour) so that the
        // timeline does not reallocate as it grows.
        let planned_s = Self::length(&self.plan).as_secs().min(3600) as usize;
        let mut timeline = Vec::with_capacity(planned_s + 2);
        let mut prev = Counts::default();
        let mut prev_at = self.start;
        // The page shows the plan from the first request on, not only after a second's tick.
        if let Ticked::Open(s) = &self.plan {
            let at_start = plan::shard_rate(s, self.shard, 0);
            self.shared.metrics.target_rps.set(round3(at_start));
        }
        loop {
            let last = tokio::select! {
                biased;
                () = stop.cancelled() => true,
                _ = interval.tick() => false,
            };
            let now = Instant::now();
            let dt = now.saturating_duration_since(prev_at).as_secs_f64();
            if !last || dt >= 0.001 {
                let counts = self.counts();
                let point = self.point(now, dt, prev, counts);
                self.publish(&point);
                let totals = Totals {
                    sent: counts.sent,
                    errors: counts.errors,
                    dropped: counts.dropped,
                };
                self.display.update(&point, &totals);
                timeline.push(point);
                prev = counts;
                prev_at = now;
            }
            self.shared.sweep.notify_waiters();
            self.shared.metrics.upkeep();
            if last {
                self.display.finish();
                return timeline;
            }
        }
    }

    fn counts(&self) -> Counts {
        let s = &self.shared.stats;
        Counts {
            sent: s.sent_total(),
            completed: s.completed_total(),
            errors: s.errors_total(),
            dropped: s.dropped_total(),
        }
    }

    fn point(&mut self, now: Instant, dt: f64, prev: Counts, c: Counts) -> TimelinePoint {
        let stats = &self.shared.stats;
        let elapsed = now.saturating_duration_since(self.start);
        stats.take_window(&mut self.window);
        let window = &self.window;
        let q = |q: f64| {
            (!window.is_empty()).then(|| round3(window.value_at_quantile(q) as f64 / 1000.0))
        };
        let lag_us = stats.take_max_lag();
        let elapsed_ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let sent = c.sent - prev.sent;
        TimelinePoint {
            t_s: round3(elapsed.as_secs_f64()),
            target_rps: match &self.plan {
                Ticked::Open(s) => round3(plan::shard_rate(s, self.shard, elapsed_ns)),
                Ticked::Closed(_) => 0.0,
            },
            achieved_rps: round3(if dt > 0.0 { sent as f64 / dt } else { 0.0 }),
            sent,
            completed: c.completed - prev.completed,
            errors: c.errors - prev.errors,
            dropped: c.dropped - prev.dropped,
            in_flight: stats.in_flight.load(Ordering::Relaxed) as u64,
            p50_ms: q(0.5),
            p99_ms: q(0.99),
            max_ms: (!window.is_empty()).then(|| round3(window.max() as f64 / 1000.0)),
            max_lag_ms: round3(lag_us as f64 / 1000.0),
            vus: matches!(self.plan, Ticked::Closed(_))
                .then(|| stats.vus.load(Ordering::Relaxed) as u64),
        }
    }

    fn publish(&self, p: &TimelinePoint) {
        let m = &self.shared.metrics;
        m.target_rps.set(p.target_rps);
        m.current_rps.set(p.achieved_rps);
        m.in_flight.set(p.in_flight as f64);
        if let (Some(g), Some(v)) = (&m.vus, p.vus) {
            g.set(v as f64);
        }
    }
}
