//! The capability phase: one load generator climbs the ladder of rates while the rules are
//! judged each second; at the first break the load stops, the queue drains, and each lower
//! rung is offered for the settle window until one holds.
//!
//! Everything seen is recorded on [`Climb`] as it happens, so an interrupted run still
//! reports the steps it measured.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scenario::{LoadSpec, Scenario};

use super::rules::{self, Bounds, Break};
use super::{Attempt, Kind};
use crate::runtime::{Result, Runtime};
use crate::sample::Point;

/// How often the rules are judged: the sampler's period.
const TICK: Duration = Duration::from_secs(1);
/// Rungs tried below the climb's first rate when even that one broke.
const BELOW_START: u32 = 3;
/// A queue this short counts as drained (orders in a worker's hands, not a backlog).
const DRAINED_LAG: f64 = 1.0;

/// The climb's plan and what it has seen so far.
#[derive(Debug)]
pub struct Climb {
    ladder: Vec<f64>,
    factor: f64,
    step: Duration,
    settle: Duration,
    bounds: Bounds,
    template: LoadSpec,
    pub attempts: Vec<Attempt>,
    /// The rate that ended the climb and the rule it broke.
    pub ended_by: Option<(f64, Break)>,
    /// The highest rate held for the settle window (0: none held); `None` until known.
    pub capacity: Option<f64>,
}

impl Climb {
    pub fn new(s: &Scenario) -> Self {
        let c = &s.capability;
        Self {
            ladder: c.ladder(),
            factor: c.step_factor,
            step: c.step.get(),
            settle: c.settle.get(),
            bounds: Bounds::of(s),
            template: s.load.clone(),
            attempts: Vec::new(),
            ended_by: None,
            capacity: None,
        }
    }

    /// The rates the climb offers.
    pub fn ladder(&self) -> &[f64] {
        &self.ladder
    }

    /// The climb, then the step-back; `now` reads the run's clock (seconds).
    pub async fn run<R: Runtime>(
        &mut self,
        rt: &mut R,
        points: &Arc<Mutex<Vec<Point>>>,
        now: &(dyn Fn() -> f64 + Sync),
        say: &(dyn Fn(&str) + Sync),
    ) -> Result<()> {
        let broke_at = self.climb(rt, points, now, say).await?;
        rt.stop_load().await?;
        // Below the break, highest first; below the first rung, a few rungs more.
        let mut candidates: Vec<f64> = self.ladder[..broke_at].iter().rev().copied().collect();
        let first = self.ladder[0];
        candidates.extend((1..=BELOW_START).map(|i| first / self.factor.powi(i as i32)));
        for rate in candidates {
            self.drain(points, now).await;
            say(&format!(
                "  settle: {rate:.1} rps for {}",
                humantime(self.settle)
            ));
            if self.settle_at(rt, rate, points, now).await? {
                say(&format!("  held {rate:.1} rps: the capacity"));
                self.capacity = Some(rate);
                return Ok(());
            }
            if let Some(b) = self.attempts.last().and_then(|a| a.broke.as_ref()) {
                say(&format!(
                    "  {rate:.1} rps broke {}: {}",
                    b.rule.as_str(),
                    b.detail
                ));
            }
        }
        say("  no rate held: the capacity is below the lowest tried");
        self.capacity = Some(0.0);
        Ok(())
    }

    /// Climbs until a rule breaks or the ladder ends; the index of the rung that broke
    /// (the ladder's length when none did).
    async fn climb<R: Runtime>(
        &mut self,
        rt: &mut R,
        points: &Arc<Mutex<Vec<Point>>>,
        now: &(dyn Fn() -> f64 + Sync),
        say: &(dyn Fn(&str) + Sync),
    ) -> Result<usize> {
        rt.set_load(self.ramp())?;
        rt.start_load().await?;
        let start = now();
        let step = self.step.as_secs_f64();
        let mut rung = usize::MAX;
        loop {
            tokio::time::sleep(TICK).await;
            let t = now();
            let k = ((t - start) / step).floor() as usize;
            if k != rung {
                if let Some(a) = self.attempts.last_mut().filter(|a| a.end.is_none()) {
                    a.end = Some(start + k as f64 * step);
                    a.held = true;
                }
                if k >= self.ladder.len() {
                    say("  the climb reached capability_max_rps with no rule broken");
                    return Ok(self.ladder.len());
                }
                rung = k;
                say(&format!("  climb: {:.1} rps", self.ladder[k]));
                self.attempts.push(Attempt {
                    kind: Kind::Climb,
                    rate_rps: self.ladder[k],
                    start: start + k as f64 * step,
                    end: None,
                    held: false,
                    broke: None,
                });
            }
            let since = start + k as f64 * step;
            let window = recent(points, start);
            if let Some(b) = rules::judge(&window, since, start, self.ladder[k], &self.bounds) {
                say(&format!("  {} broke: {}", b.rule.as_str(), b.detail));
                self.ended_by = Some((self.ladder[k], b.clone()));
                if let Some(a) = self.attempts.last_mut() {
                    a.end = Some(b.t);
                    a.broke = Some(b);
                }
                return Ok(k);
            }
        }
    }

    /// Offers `rate` for the settle window; whether it held.
    async fn settle_at<R: Runtime>(
        &mut self,
        rt: &mut R,
        rate: f64,
        points: &Arc<Mutex<Vec<Point>>>,
        now: &(dyn Fn() -> f64 + Sync),
    ) -> Result<bool> {
        // Longer than the window: the generator must not stop before the judging does.
        rt.set_load(self.constant(rate, self.settle + self.step))?;
        rt.start_load().await?;
        let start = now();
        self.attempts.push(Attempt {
            kind: Kind::Settle,
            rate_rps: rate,
            start,
            end: None,
            held: false,
            broke: None,
        });
        let held = loop {
            tokio::time::sleep(TICK).await;
            let window = recent(points, start);
            if let Some(b) = rules::judge(&window, start, start, rate, &self.bounds) {
                if let Some(a) = self.attempts.last_mut() {
                    a.end = Some(b.t);
                    a.broke = Some(b);
                }
                break false;
            }
            // Judged on a point at least the window's length after the start.
            if window
                .last()
                .is_some_and(|p| p.t - start >= self.settle.as_secs_f64())
            {
                if let Some(a) = self.attempts.last_mut() {
                    a.end = window.last().map(|p| p.t);
                    a.held = true;
                }
                break true;
            }
        };
        rt.stop_load().await?;
        Ok(held)
    }

    /// Waits, up to the settle window, until the backlog an overload left is worked off:
    /// the next rate must be judged on its own orders, not on the last one's.
    async fn drain(&self, points: &Arc<Mutex<Vec<Point>>>, now: &(dyn Fn() -> f64 + Sync)) {
        if !self.bounds.pipeline {
            tokio::time::sleep(TICK).await;
            return;
        }
        let until = now() + self.settle.as_secs_f64();
        while now() < until {
            let lag = recent(points, now() - 2.0)
                .last()
                .and_then(|p| p.pipeline.as_ref()?.redis)
                .map(|r| r.lag);
            if lag.is_some_and(|l| l <= DRAINED_LAG) {
                return;
            }
            tokio::time::sleep(TICK).await;
        }
    }

    /// The climb as one exponential ramp: rung k from `step × k`, the last held one step.
    fn ramp(&self) -> LoadSpec {
        let step = common::HumanDuration::from(self.step);
        LoadSpec {
            base_rps: self.ladder[0],
            ramp_factor: self.factor,
            ramp_interval: step,
            run_duration: common::HumanDuration::from(self.step * (self.ladder.len() as u32 + 1)),
            max_rps: self.ladder.last().copied(),
            ..self.open_loop()
        }
    }

    fn constant(&self, rate: f64, duration: Duration) -> LoadSpec {
        let duration = common::HumanDuration::from(duration);
        LoadSpec {
            base_rps: rate,
            ramp_factor: 1.0,
            ramp_interval: duration,
            run_duration: duration,
            max_rps: None,
            ..self.open_loop()
        }
    }

    /// The scenario's load with its shape taken off: the climb sets the rates, open loop.
    fn open_loop(&self) -> LoadSpec {
        LoadSpec {
            stages: None,
            profile: None,
            vus: 0,
            vu_stages: None,
            think_time: None,
            ..self.template.clone()
        }
    }
}

/// The points from `since` on.
fn recent(points: &Arc<Mutex<Vec<Point>>>, since: f64) -> Vec<Point> {
    points
        .lock()
        .map(|p| p.iter().filter(|p| p.t >= since).cloned().collect())
        .unwrap_or_default()
}

fn humantime(d: Duration) -> String {
    common::HumanDuration::from(d).to_string()
}
