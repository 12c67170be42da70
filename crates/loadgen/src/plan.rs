//! From the configured load shape to the rate curve and this shard's schedule (the math
//! itself lives in `common::load`).

use common::load::stages::stages_curve;
use common::load::{Arrivals, Curve, Schedule, Shard};

use crate::{Config, Shape};

/// The rate curve of a shape played at `time_scale`; a ramp or scale that fails validation
/// (checked by the flags already) plans nothing rather than panicking.
pub(crate) fn curve(shape: &Shape, time_scale: f64) -> Curve {
    let curve = match shape {
        Shape::Ramp(r) => r.curve().unwrap_or_default(),
        // k6 stages start from 0 rps.
        Shape::Stages(s) => stages_curve(0.0, s),
        Shape::Profile(p) => p.curve(),
    };
    if time_scale == 1.0 {
        return curve;
    }
    curve.scaled(time_scale).unwrap_or_default()
}

pub(crate) fn schedule(config: &Config, shard: Shard) -> Schedule {
    Schedule::new(
        curve(&config.shape, config.time_scale),
        config.arrivals,
        shard,
    )
}

/// The rate this shard is asked for at `t_ns`.
pub(crate) fn shard_rate(schedule: &Schedule, shard: Shard, t_ns: u64) -> f64 {
    schedule.curve().rate_at(t_ns) / shard.count as f64
}

/// How many requests this shard's schedule holds, when known without walking it: exact for
/// uniform arrivals, None for Poisson ones (random by nature).
pub(crate) fn planned(schedule: &Schedule, arrivals: Arrivals, shard: Shard) -> Option<u64> {
    match arrivals {
        Arrivals::Uniform => {
            let whole = schedule.uniform_total();
            // Slots n with n % count == index, for n in 0..whole.
            Some((whole + shard.count - 1 - shard.index) / shard.count)
        }
        Arrivals::Poisson { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use common::load::Ramp;

    use super::*;

    #[test]
    fn planned_counts_match_the_schedule_for_every_shard() {
        let shape = Shape::Ramp(Ramp {
            base_rps: 7.3,
            factor: 1.5,
            interval: Duration::from_secs(2),
            max_rps: Some(40.0),
            duration: Duration::from_secs(9),
        });
        for count in 1..5 {
            for index in 0..count {
                let shard = Shard { index, count };
                let s = Schedule::new(curve(&shape, 1.0), Arrivals::Uniform, shard);
                assert_eq!(
                    planned(&s, Arrivals::Uniform, shard),
                    Some(s.iter().count() as u64),
                    "{index}/{count}"
                );
            }
        }
    }
}
