//! The send schedule: the intended instant (integer ns from start) of every request, derived from
//! the curve alone so it never drifts with the clock and shards partition it exactly.

use std::str::FromStr;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Curve, Error, Result};

/// How arrivals are spread within the current rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// Request n goes out when the rate integral reaches n.
    Uniform,
    /// A Poisson process of the same rate (time-changed unit-rate exponential gaps), seeded.
    Poisson { seed: u64 },
}

/// This generator's slice of the schedule: instants `index, index + count, ...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::BadShard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// A plan's schedule; iterate it for `(request number, intended instant ns)`.
#[derive(Debug, Clone)]
pub struct Schedule {
    curve: Curve,
    arrivals: Arrivals,
    shard: Shard,
}

impl Schedule {
    pub fn new(curve: Curve, arrivals: Arrivals, shard: Shard) -> Self {
        Self {
            curve,
            arrivals,
            shard,
        }
    }

    pub fn curve(&self) -> &Curve {
        &self.curve
    }

    /// Intended instant of request `n` of the whole (unsharded) uniform plan.
    pub fn uniform_instant(&self, n: u64) -> Option<u64> {
        self.curve.instant_for(n as f64)
    }

    /// Number of requests of the whole uniform plan: the integers below the rate integral.
    pub fn uniform_total(&self) -> u64 {
        let t = self.curve.total();
        if t <= 0.0 { 0 } else { t.ceil() as u64 }
    }

    /// `(n, instant_ns)` for this shard, in increasing instant order.
    pub fn iter(&self) -> ScheduleIter<'_> {
        let rng = match self.arrivals {
            Arrivals::Uniform => None,
            Arrivals::Poisson { seed } => Some(SmallRng::seed_from_u64(seed)),
        };
        ScheduleIter {
            schedule: self,
            n: 0,
            cum: 0.0,
            rng,
            seg: 0,
            seg_start_ns: 0,
            seg_before: 0.0,
            last: 0,
        }
    }
}

/// Walks the curve once, segment by segment, so a long schedule costs O(1) per request.
#[derive(Debug)]
pub struct ScheduleIter<'a> {
    schedule: &'a Schedule,
    n: u64,
    cum: f64,
    rng: Option<SmallRng>,
    seg: usize,
    seg_start_ns: u64,
    seg_before: f64,
    last: u64,
}

impl ScheduleIter<'_> {
    fn next_whole(&mut self) -> Option<(u64, u64)> {
        let k = match &mut self.rng {
            None => self.n as f64,
            Some(rng) => {
                let u: f64 = rng.random();
                self.cum += -(1.0 - u).ln();
                self.cum
            }
        };
        let segments = self.schedule.curve.segments();
        loop {
            let seg = segments.get(self.seg)?;
            let c = seg.count();
            if c > 0.0 && k < self.seg_before + c {
                let at = self.seg_start_ns + seg.offset_for((k - self.seg_before).max(0.0));
                // Rounding to ns never moves an instant before its predecessor.
                let at = at.max(self.last);
                self.last = at;
                let n = self.n;
                self.n += 1;
                return Some((n, at));
            }
            self.seg_before += c;
            self.seg_start_ns += seg.duration_ns;
            self.seg += 1;
        }
    }
}

impl Iterator for ScheduleIter<'_> {
    type Item = (u64, u64);
    fn next(&mut self) -> Option<(u64, u64)> {
        let Shard { index, count } = self.schedule.shard;
        loop {
            let (n, at) = self.next_whole()?;
            if n % count == index {
                return Some((n, at));
            }
        }
    }
}
