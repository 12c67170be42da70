//! The timeline's side of an autoscaled run: one [`Runtime::autoscale_sync`] per sync period,
//! on a cadence that runs on from phase to phase as a controller's would, and every change
//! of the count said on the terminal as it happens.

use std::time::{Duration, Instant};

use super::Sync;
use crate::runtime::{Result, Runtime};

/// The sync cadence and the record of every sync of a run.
#[derive(Debug)]
pub struct Driver {
    period: Duration,
    min: u32,
    next: Instant,
    t0: Instant,
    pub syncs: Vec<Sync>,
}

impl Driver {
    /// Syncs every `poll` (default: `autoscale_sync_period`) from `t0` (the run's start).
    pub fn new(s: &scenario::Scenario, t0: Instant, poll: Option<Duration>) -> Self {
        Self {
            period: poll.unwrap_or_else(|| super::sync_period(s)),
            min: s.autoscale.min,
            next: t0,
            t0,
            syncs: Vec::new(),
        }
    }

    /// Syncs until `d` has passed or, with `until_min`, a sync finds the count settled at
    /// `autoscale_min` (asked for and ready).
    pub async fn run<R: Runtime>(
        &mut self,
        rt: &mut R,
        d: Duration,
        until_min: bool,
        say: &(dyn Fn(&str) + Send + std::marker::Sync),
    ) -> Result<()> {
        let deadline = Instant::now() + d;
        loop {
            let wake = self.next.max(Instant::now());
            if wake >= deadline {
                tokio::time::sleep_until(deadline.into()).await;
                return Ok(());
            }
            tokio::time::sleep_until(wake.into()).await;
            // Skipped beats (a slow scale-up) are not made up: the controller does not either.
            while self.next <= Instant::now() {
                self.next += self.period;
            }
            let sync = rt.autoscale_sync(self.t0.elapsed()).await?;
            if sync.desired != sync.from {
                let value = sync
                    .value
                    .map_or_else(|| "no reading".to_owned(), |v| format!("{v:.1}"));
                say(&format!(
                    "  autoscaler: {} → {} replicas (metric {value}, {})",
                    sync.from, sync.desired, sync.reason
                ));
            }
            let settled =
                sync.desired <= self.min && sync.from <= self.min && sync.ready <= self.min;
            self.syncs.push(sync);
            if until_min && settled {
                return Ok(());
            }
        }
    }
}
