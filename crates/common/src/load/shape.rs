//! Rate curves as piecewise-linear segments, with the exact integral and its inverse.

use std::time::Duration;

use super::{Error, Result};

const NS_PER_S: f64 = 1e9;

/// A stretch of the curve whose rate moves linearly from `start_rps` to `end_rps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub duration_ns: u64,
    pub start_rps: f64,
    pub end_rps: f64,
}

impl Segment {
    /// Requests planned over the whole segment (area under the rate line).
    pub fn count(&self) -> f64 {
        (self.start_rps + self.end_rps) / 2.0 * self.duration_ns as f64 / NS_PER_S
    }

    /// Offset (ns) into the segment at which `k` requests have been planned, `0 <= k <= count`.
    pub(super) fn offset_for(&self, k: f64) -> u64 {
        // The zeroth request of a segment is at its start. Without this, a segment starting at
        // 0 rps solves 0/0 for it, which is the segment's end: every later instant was then
        // held back to that end and a ramp from zero sent its whole first stage at once.
        if k <= 0.0 {
            return 0;
        }
        let d = self.duration_ns as f64 / NS_PER_S;
        let (a, b) = (self.start_rps, self.end_rps);
        let slope = (b - a) / d;
        // Solve a*s + slope*s^2/2 = k in the citardauq form 2k / (a + sqrt(a^2 + 2 slope k)):
        // stable for a flat segment (it is k/a) and for one starting at zero (sqrt(2k/slope)).
        // The denominator is positive for every k this is asked for: k > 0 needs a > 0 or a
        // rising rate.
        let disc = (a * a + 2.0 * slope * k).max(0.0);
        let s = 2.0 * k / (a + disc.sqrt());
        let ns = (s * NS_PER_S).round();
        if ns.is_finite() {
            (ns as u64).min(self.duration_ns)
        } else {
            self.duration_ns
        }
    }

    fn rate_at(&self, offset_ns: u64) -> f64 {
        let f = offset_ns as f64 / self.duration_ns as f64;
        self.start_rps + (self.end_rps - self.start_rps) * f
    }
}

/// A rate curve over time: consecutive segments starting at t = 0.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Curve {
    segments: Vec<Segment>,
}

impl Curve {
    pub fn new(segments: Vec<Segment>) -> Self {
        Self {
            segments: segments.into_iter().filter(|s| s.duration_ns > 0).collect(),
        }
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns())
    }

    pub fn duration_ns(&self) -> u64 {
        self.segments.iter().map(|s| s.duration_ns).sum()
    }

    /// The planned rate at `t_ns` (0 after the end).
    pub fn rate_at(&self, t_ns: u64) -> f64 {
        let mut start = 0;
        for seg in &self.segments {
            if t_ns < start + seg.duration_ns {
                return seg.rate_at(t_ns - start);
            }
            start += seg.duration_ns;
        }
        0.0
    }

    /// The planned request count from the start up to `t_ns`: the rate integral over `[0, t)`.
    pub fn count_before(&self, t_ns: u64) -> f64 {
        let mut start = 0u64;
        let mut sum = 0.0;
        for seg in &self.segments {
            if t_ns >= start + seg.duration_ns {
                sum += seg.count();
                start += seg.duration_ns;
                continue;
            }
            let into = (t_ns - start) as f64 / NS_PER_S;
            let rate_there = seg.rate_at(t_ns - start);
            return sum + (seg.start_rps + rate_there) / 2.0 * into;
        }
        sum
    }

    /// The same shape played `factor` times as fast or slow: every segment's length is
    /// multiplied by `factor`, its rates kept (so a profile can be run briefly: 0.05 turns
    /// a 100 s profile into 5 s, with 5 % of its requests).
    pub fn scaled(&self, factor: f64) -> Result<Curve> {
        if !factor.is_finite() || factor <= 0.0 {
            return Err(Error::BadTimeScale(factor));
        }
        let segments = self
            .segments
            .iter()
            .map(|s| Segment {
                duration_ns: (s.duration_ns as f64 * factor).round().min(u64::MAX as f64) as u64,
                ..*s
            })
            .collect();
        Ok(Curve::new(segments))
    }

    /// The exact integral of the rate over the whole curve: the planned request count.
    pub fn total(&self) -> f64 {
        self.segments.iter().map(Segment::count).sum()
    }

    /// The instant (ns from start) at which the cumulative planned count reaches `k`, or `None`
    /// when the curve never gets there.
    pub fn instant_for(&self, k: f64) -> Option<u64> {
        let mut start_ns = 0u64;
        let mut before = 0.0;
        for seg in &self.segments {
            let c = seg.count();
            if c > 0.0 && k < before + c {
                return Some(start_ns + seg.offset_for((k - before).max(0.0)));
            }
            before += c;
            start_ns += seg.duration_ns;
        }
        None
    }
}

/// The exponential ramp: rate(t) = base × factor^floor(t / interval), capped by `max_rps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    pub base_rps: f64,
    pub factor: f64,
    pub interval: Duration,
    pub max_rps: Option<f64>,
    pub duration: Duration,
}

impl Ramp {
    /// The step rate for step `k` (the `k`-th interval), capped.
    pub fn step_rate(&self, k: u32) -> f64 {
        let r = self.base_rps * self.factor.powi(k.min(i32::MAX as u32) as i32);
        match self.max_rps {
            Some(cap) => r.min(cap),
            None => r,
        }
    }

    /// The ramp as a curve of constant steps; checks its parameters first.
    pub fn curve(&self) -> Result<Curve> {
        for (what, v) in [("ramp base", self.base_rps), ("ramp factor", self.factor)] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::BadRate(what, v));
            }
        }
        if let Some(cap) = self.max_rps
            && (!cap.is_finite() || cap < 0.0)
        {
            return Err(Error::BadRate("max rps", cap));
        }
        let interval = self.interval.as_nanos() as u64;
        if interval == 0 {
            return Err(Error::ZeroInterval);
        }
        let total = self.duration.as_nanos() as u64;
        let mut segments = Vec::new();
        let (mut at, mut k) = (0u64, 0u32);
        while at < total {
            let len = interval.min(total - at);
            let r = self.step_rate(k);
            if !r.is_finite() {
                return Err(Error::BadRate(
                    "ramp rate (factor overflow; set a max rps)",
                    r,
                ));
            }
            segments.push(Segment {
                duration_ns: len,
                start_rps: r,
                end_rps: r,
            });
            at += len;
            k = k.saturating_add(1);
        }
        Ok(Curve::new(segments))
    }
}
