//! k6-style stages (`30s:20,1m30s:10,20s:0`): the rate moves linearly to each stage's target.

use std::time::Duration;

use super::{Curve, Error, Result, Segment};
use crate::duration::parse_duration;

/// Move linearly to `target_rps` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub duration: Duration,
    pub target_rps: f64,
}

/// Parses `30s:20,1m30s:10,20s:0`; an error names the stage and what is wrong with it.
pub fn parse_stages(input: &str) -> Result<Vec<Stage>> {
    let mut out = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = |why: String| Error::BadStage(part.to_string(), why);
        let (d, r) = part
            .split_once(':')
            .ok_or_else(|| bad("it is not `<duration>:<rps>`".into()))?;
        let duration = parse_duration(d.trim()).map_err(|e| bad(e.to_string()))?;
        let target_rps: f64 = r
            .trim()
            .parse()
            .map_err(|_| bad(format!("the rate `{}` is not a number", r.trim())))?;
        if !target_rps.is_finite() || target_rps < 0.0 {
            return Err(bad(format!(
                "the rate `{}` must be a finite number of requests per second, 0 or more",
                r.trim()
            )));
        }
        out.push(Stage {
            duration,
            target_rps,
        });
    }
    if out.is_empty() {
        return Err(Error::NoStages);
    }
    Ok(out)
}

/// The curve of stages, starting from `start_rps` (k6 starts from 0).
pub fn stages_curve(start_rps: f64, stages: &[Stage]) -> Curve {
    let mut from = start_rps;
    let segments = stages
        .iter()
        .map(|s| {
            let seg = Segment {
                duration_ns: s.duration.as_nanos() as u64,
                start_rps: from,
                end_rps: s.target_rps,
            };
            from = s.target_rps;
            seg
        })
        .collect();
    Curve::new(segments)
}
