//! The closed loop's plan: how many virtual users run over time (`--vus N` for a constant
//! count, `--vu-stages` for k6's ramping-vus) and how long each one thinks between two
//! requests (`--think-time 1s` or a uniform range `500ms..2s`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{Curve, Segment};
use crate::HumanDuration;
use crate::duration::parse_duration;

/// Virtual users over time and their think time.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedLoop {
    /// The VU count over time, as a piecewise-linear curve (its "rate" is a VU count).
    pub vus: Curve,
    pub think_time: ThinkTime,
}

impl ClosedLoop {
    /// `vus` users for `duration` (k6's constant-vus).
    pub fn constant(vus: u32, duration: Duration, think_time: ThinkTime) -> Self {
        let n = f64::from(vus);
        let segment = Segment {
            duration_ns: u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX),
            start_rps: n,
            end_rps: n,
        };
        Self {
            vus: Curve::new(vec![segment]),
            think_time,
        }
    }

    /// Users moving linearly from 0 to each stage's count (k6's ramping-vus).
    pub fn staged(stages: &[VuStage], think_time: ThinkTime) -> Self {
        let mut from = 0.0;
        let segments = stages
            .iter()
            .map(|s| {
                let to = f64::from(s.vus);
                let seg = Segment {
                    duration_ns: u64::try_from(s.duration.as_nanos()).unwrap_or(u64::MAX),
                    start_rps: from,
                    end_rps: to,
                };
                from = to;
                seg
            })
            .collect();
        Self {
            vus: Curve::new(segments),
            think_time,
        }
    }

    /// The users that should be running `t_ns` after the start (0 once the plan is over).
    pub fn vus_at(&self, t_ns: u64) -> usize {
        let v = self.vus.rate_at(t_ns).round();
        if v.is_finite() && v > 0.0 {
            v as usize
        } else {
            0
        }
    }

    /// The most users ever running at once.
    pub fn peak(&self) -> usize {
        self.vus
            .segments()
            .iter()
            .map(|s| s.start_rps.max(s.end_rps).round())
            .fold(0.0, f64::max) as usize
    }

    pub fn duration(&self) -> Duration {
        self.vus.duration()
    }
}

/// One `--vu-stages` stage: move linearly to `vus` users over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VuStage {
    pub duration: Duration,
    pub vus: u32,
}

/// Parses `30s:20,1m:20,10s:0`; the error names the stage and what is wrong with it.
pub fn parse_vu_stages(input: &str) -> Result<Vec<VuStage>, String> {
    let mut out = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |why: String| {
            format!("stage `{part}`: {why} (write VU stages like `30s:20,1m:20,10s:0`)")
        };
        let (d, n) = part
            .split_once(':')
            .ok_or_else(|| bad("it is not `<duration>:<vus>`".into()))?;
        let duration = parse_duration(d.trim()).map_err(|e| bad(e.to_string()))?;
        let vus: u32 = n
            .trim()
            .parse()
            .map_err(|_| bad(format!("`{}` is not a whole number of users", n.trim())))?;
        out.push(VuStage { duration, vus });
    }
    if out.is_empty() {
        return Err("no stage given; write VU stages like `30s:20,1m:20,10s:0`".into());
    }
    Ok(out)
}

/// How long a user waits after an answer before its next request: fixed, or uniform in
/// `min..=max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThinkTime {
    pub min: Duration,
    pub max: Duration,
}

impl ThinkTime {
    /// The mean wait.
    pub fn mean(&self) -> Duration {
        (self.min + self.max) / 2
    }

    /// A wait drawn uniformly from the range by a uniformly random `roll`.
    pub fn sample(&self, roll: u64) -> Duration {
        let span = u64::try_from((self.max - self.min).as_nanos()).unwrap_or(u64::MAX);
        if span == 0 {
            return self.min;
        }
        // The modulo bias is below 2^-20 for any span under a few hours.
        self.min + Duration::from_nanos(roll % span.saturating_add(1))
    }
}

impl FromStr for ThinkTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |part: &str| parse_duration(part.trim()).map_err(|e| e.to_string());
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let d = parse(s)?;
                (d, d)
            }
        };
        if min > max {
            return Err(format!(
                "`{s}` is upside down: the lower bound comes first (write `{}..{}`)",
                HumanDuration(max),
                HumanDuration(min)
            ));
        }
        Ok(Self { min, max })
    }
}

impl fmt::Display for ThinkTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", HumanDuration(self.min))
        } else {
            write!(
                f,
                "{}..{}",
                HumanDuration(self.min),
                HumanDuration(self.max)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_times_parse_fixed_or_as_a_range_and_refuse_one_upside_down() {
        let t: ThinkTime = "1s".parse().unwrap();
        assert_eq!(
            (t.min, t.max),
            (Duration::from_secs(1), Duration::from_secs(1))
        );
        let t: ThinkTime = "500ms..2s".parse().unwrap();
        assert_eq!(t.mean(), Duration::from_millis(1250));
        assert_eq!(t.to_string(), "500ms..2s");
        let e = "2s..500ms".parse::<ThinkTime>().unwrap_err();
        assert!(e.contains("upside down") && e.contains("500ms..2s"), "{e}");
        assert!("soon".parse::<ThinkTime>().is_err());
    }

    #[test]
    fn sampled_think_times_stay_in_the_range_and_average_its_middle() {
        let t: ThinkTime = "100ms..300ms".parse().unwrap();
        let mut rolls = <rand::rngs::SmallRng as rand::SeedableRng>::seed_from_u64(7);
        let mut sum = Duration::ZERO;
        for _ in 0..10_000u64 {
            let d = t.sample(rand::Rng::random(&mut rolls));
            assert!(d >= t.min && d <= t.max, "{d:?}");
            sum += d;
        }
        let mean = sum / 10_000;
        assert!(
            mean.abs_diff(t.mean()) < Duration::from_millis(3),
            "{mean:?}"
        );
    }

    #[test]
    fn vu_stages_ramp_linearly_from_zero() {
        let stages = parse_vu_stages("10s:20,5s:20,5s:0").unwrap();
        let c = ClosedLoop::staged(&stages, ThinkTime::default());
        let s = |x: u64| x * 1_000_000_000;
        assert_eq!(c.vus_at(0), 0);
        assert_eq!(c.vus_at(s(5)), 10);
        assert_eq!(c.vus_at(s(12)), 20);
        assert_eq!(c.vus_at(s(19)), 4);
        assert_eq!(c.vus_at(s(20)), 0, "none after the end");
        assert_eq!(c.peak(), 20);
        assert_eq!(c.duration(), Duration::from_secs(20));
        for (bad, says) in [
            ("10s", "<duration>:<vus>"),
            ("10s:-1", "whole number"),
            ("10s:2.5", "whole number"),
            ("-1s:3", "not a duration"),
            ("", "no stage"),
        ] {
            let e = parse_vu_stages(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
