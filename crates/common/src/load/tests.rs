//! Property tests of the load shapes: monotonic instants, exact counts, shard partitions and
//! the curve values at ramp and stage boundaries.

use std::time::Duration;

use proptest::prelude::*;

use super::stages::stages_curve;
use super::*;

fn ramp(base: f64, factor: f64, interval_s: u64, cap: Option<f64>, dur_s: u64) -> Curve {
    Ramp {
        base_rps: base,
        factor,
        interval: Duration::from_secs(interval_s),
        max_rps: cap,
        duration: Duration::from_secs(dur_s),
    }
    .curve()
    .unwrap()
}

#[test]
fn one_hour_at_10k_rps_does_not_drift() {
    let curve = ramp(10_000.0, 1.0, 3600, None, 3600);
    let s = Schedule::new(curve, Arrivals::Uniform, Shard::WHOLE);
    let (count, last) = s.iter().fold((0u64, 0u64), |(c, _), (_, at)| (c + 1, at));
    assert!((count as f64 - 36_000_000.0).abs() <= 1.0, "count {count}");
    assert_eq!(
        last, 3_599_999_900_000,
        "last instant is exactly 100 µs before the end"
    );
}

#[test]
fn stages_parse_and_interpolate() {
    let st = parse_stages("30s:20,1m30s:10,20s:0").unwrap();
    let c = stages_curve(0.0, &st);
    assert_eq!(c.duration(), Duration::from_secs(140));
    assert_eq!(c.rate_at(0), 0.0);
    assert!((c.rate_at(15_000_000_000) - 10.0).abs() < 1e-9);
    assert!((c.rate_at(30_000_000_000) - 20.0).abs() < 1e-9);
    assert!((c.rate_at(120_000_000_000) - 10.0).abs() < 1e-9);
    assert_eq!(c.rate_at(140_000_000_000), 0.0);
    assert!((c.total() - (300.0 + 1350.0 + 100.0)).abs() < 1e-9);
    assert!(matches!(parse_stages("30s"), Err(Error::BadStage(..))));
    assert!(matches!(parse_stages("xs:3"), Err(Error::BadStage(..))));
    assert_eq!(parse_stages(""), Err(Error::NoStages));
}

#[test]
fn profiles_parse_by_name_and_have_load() {
    for p in Profile::ALL {
        assert_eq!(Profile::parse(p.name()).unwrap(), p);
        assert!(p.curve().total() > 0.0);
    }
    assert!(matches!(
        Profile::parse("nope"),
        Err(Error::UnknownProfile(..))
    ));
}

#[test]
fn shard_parses() {
    assert_eq!(
        "1/3".parse::<Shard>().unwrap(),
        Shard { index: 1, count: 3 }
    );
    for bad in ["3/3", "1", "a/2", "0/0"] {
        assert!(bad.parse::<Shard>().is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn ramp_steps_at_boundaries(base in 0.5f64..50.0, factor in 1.0f64..3.0, interval in 1u64..20, cap in proptest::option::of(1.0f64..500.0)) {
        let c = ramp(base, factor, interval, cap, interval * 6);
        for k in 0..6u32 {
            let mut want = base * factor.powi(k as i32);
            if let Some(cap) = cap { want = want.min(cap); }
            let start = k as u64 * interval * 1_000_000_000;
            prop_assert!((c.rate_at(start) - want).abs() < 1e-9);
            prop_assert!((c.rate_at(start + interval * 1_000_000_000 - 1) - want).abs() < 1e-9);
        }
    }

    #[test]
    fn stage_curves_meet_their_targets_at_boundaries(stages in proptest::collection::vec((1u64..20, 0.0f64..200.0), 1..6)) {
        let st: Vec<Stage> = stages.iter().map(|&(d, r)| Stage { duration: Duration::from_secs(d), target_rps: r }).collect();
        let c = stages_curve(0.0, &st);
        let mut at = 0u64;
        let mut from = 0.0;
        for s in &st {
            let len = s.duration.as_nanos() as u64;
            prop_assert!((c.rate_at(at) - from).abs() < 1e-9);
            prop_assert!((c.rate_at(at + len / 2) - (from + s.target_rps) / 2.0).abs() < 1e-6);
            prop_assert!((c.rate_at(at + len - 1) - s.target_rps).abs() < 1e-6);
            at += len;
            from = s.target_rps;
        }
        prop_assert_eq!(c.rate_at(at), 0.0);
    }

    #[test]
    fn uniform_counts_are_exact_and_monotonic(stages in proptest::collection::vec((1u64..20, 0.0f64..200.0), 1..5)) {
        let st: Vec<Stage> = stages.iter().map(|&(d, r)| Stage { duration: Duration::from_secs(d), target_rps: r }).collect();
        let curve = stages_curve(0.0, &st);
        let end = curve.duration_ns();
        let total = curve.total();
        let s = Schedule::new(curve, Arrivals::Uniform, Shard::WHOLE);
        let mut prev = 0;
        let mut count = 0u64;
        for (n, at) in s.iter() {
            prop_assert_eq!(n, count);
            prop_assert!(at >= prev && at <= end);
            prop_assert_eq!(Some(at).map(|a| a.max(prev)), s.uniform_instant(n).map(|a| a.max(prev)));
            prev = at;
            count += 1;
        }
        prop_assert!((count as f64 - total).abs() <= 1.0, "count {} total {}", count, total);
        prop_assert_eq!(count, s.uniform_total());
    }

    #[test]
    fn shards_partition_the_schedule(n in 1u64..5, seed in any::<u64>(), poisson in any::<bool>(), rps in 1.0f64..300.0) {
        let curve = ramp(rps, 1.2, 2, Some(500.0), 6);
        let arrivals = if poisson { Arrivals::Poisson { seed } } else { Arrivals::Uniform };
        let whole: Vec<_> = Schedule::new(curve.clone(), arrivals, Shard::WHOLE).iter().collect();
        let mut merged: Vec<_> = (0..n)
            .flat_map(|i| Schedule::new(curve.clone(), arrivals, Shard { index: i, count: n }).iter().collect::<Vec<_>>())
            .collect();
        merged.sort();
        prop_assert_eq!(merged, whole);
    }

    #[test]
    fn poisson_is_seeded_and_monotonic(seed in any::<u64>()) {
        let curve = ramp(200.0, 1.0, 5, None, 5);
        let a: Vec<_> = Schedule::new(curve.clone(), Arrivals::Poisson { seed }, Shard::WHOLE).iter().collect();
        let b: Vec<_> = Schedule::new(curve, Arrivals::Poisson { seed }, Shard::WHOLE).iter().collect();
        prop_assert_eq!(&a, &b);
        prop_assert!(a.windows(2).all(|w| w[0].1 <= w[1].1));
        // 1000 expected; a Poisson count is within 6 sigma (~190) of its mean.
        prop_assert!((a.len() as f64 - 1000.0).abs() < 190.0);
    }
}

/// Stage lists as users write them: starts at zero, zero-rate stretches, ramps down to zero,
/// rates from a trickle to a flood, stages from a millisecond to hours. Rates are scaled so a
/// case plans at most `MAX_PLANNED` requests, which keeps every instant checkable.
fn stage_lists() -> impl Strategy<Value = Vec<Stage>> {
    const MAX_PLANNED: f64 = 200_000.0;
    let rate = prop_oneof![Just(0.0), 0.0f64..1.0, 1.0f64..500.0, 500.0f64..100_000.0];
    let duration_ms = prop_oneof![1u64..1_000, 1_000u64..120_000, 120_000u64..36_000_000];
    proptest::collection::vec((duration_ms, rate), 1..7).prop_map(|parts| {
        let mut stages: Vec<Stage> = parts
            .into_iter()
            .map(|(ms, r)| Stage {
                duration: Duration::from_millis(ms),
                target_rps: r,
            })
            .collect();
        let planned = stages_curve(0.0, &stages).total();
        if planned > MAX_PLANNED {
            let scale = MAX_PLANNED / planned;
            stages.iter_mut().for_each(|s| s.target_rps *= scale);
        }
        stages
    })
}

/// Times at which a schedule is compared with its plan: a grid over the run, both sides of
/// every stage boundary, and (a sample of) the instants themselves.
fn check_points(curve: &Curve, instants: &[u64]) -> Vec<u64> {
    let end = curve.duration_ns();
    let mut points: Vec<u64> = (0..=400).map(|i| end / 400 * i).collect();
    let mut at = 0;
    for seg in curve.segments() {
        at += seg.duration_ns;
        points.extend([at.saturating_sub(1), at, at + 1]);
    }
    let stride = (instants.len() / 2_000).max(1);
    points.extend(instants.iter().step_by(stride).flat_map(|&a| [a, a + 1]));
    points
}

/// Requests whose instant is before `t`.
fn sent_before(instants: &[u64], t: u64) -> f64 {
    instants.partition_point(|&a| a < t) as f64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Guards the ramp-from-zero defect: a stage starting at 0 rps put its first instant at
    /// the stage's end and held every later one back to it.
    #[test]
    fn uniform_instants_follow_the_plan_at_every_time(stages in stage_lists()) {
        let curve = stages_curve(0.0, &stages);
        let s = Schedule::new(curve.clone(), Arrivals::Uniform, Shard::WHOLE);
        let instants: Vec<u64> = s.iter().map(|(_, at)| at).collect();
        for t in check_points(&curve, &instants) {
            let planned = curve.count_before(t);
            let sent = sent_before(&instants, t);
            // One request of slack, plus the float error of a large integral.
            prop_assert!(
                (sent - planned).abs() <= 1.0 + planned * 1e-9,
                "at {} ns: {} sent, {} planned ({:?})", t, sent, planned, stages
            );
        }
    }

    #[test]
    fn poisson_instants_follow_the_plan_within_their_noise(stages in stage_lists(), seed in any::<u64>()) {
        let curve = stages_curve(0.0, &stages);
        let s = Schedule::new(curve.clone(), Arrivals::Poisson { seed }, Shard::WHOLE);
        let instants: Vec<u64> = s.iter().map(|(_, at)| at).collect();
        for t in check_points(&curve, &instants) {
            let planned = curve.count_before(t);
            let sent = sent_before(&instants, t);
            // A Poisson count's standard deviation is the square root of its mean; over the
            // whole path the deviation stays within 7 of them but with negligible odds.
            let bound = 7.0 * planned.max(1.0).sqrt() + 5.0;
            prop_assert!(
                (sent - planned).abs() <= bound,
                "at {} ns: {} sent, {} planned, bound {} ({:?})", t, sent, planned, bound, stages
            );
        }
    }

    #[test]
    fn every_profile_follows_its_plan_from_the_first_second(index in 0usize..Profile::ALL.len()) {
        let curve = Profile::ALL[index].curve();
        let instants: Vec<u64> = Schedule::new(curve.clone(), Arrivals::Uniform, Shard::WHOLE)
            .iter()
            .map(|(_, at)| at)
            .collect();
        for second in 1..=curve.duration().as_secs() {
            let t = second * 1_000_000_000;
            prop_assert!((sent_before(&instants, t) - curve.count_before(t)).abs() <= 1.0);
        }
    }
}

#[test]
fn count_before_is_the_integral_of_the_rate() {
    let curve = stages_curve(0.0, &parse_stages("4s:40,3s:40,3s:0").unwrap());
    let s = |x: f64| (x * 1e9) as u64;
    assert_eq!(curve.count_before(0), 0.0);
    assert!((curve.count_before(s(1.0)) - 5.0).abs() < 1e-9);
    assert!((curve.count_before(s(4.0)) - 80.0).abs() < 1e-9);
    assert!((curve.count_before(s(7.0)) - 200.0).abs() < 1e-9);
    // 1.5 s into the ramp down, the rate is 20: (40 + 20) / 2 × 1.5 = 45 more.
    assert!((curve.count_before(s(8.5)) - 245.0).abs() < 1e-9);
    assert!((curve.count_before(s(20.0)) - curve.total()).abs() < 1e-9);
}

#[test]
fn a_ramp_from_zero_sends_in_its_first_second() {
    // The reported case: `--stages 6s:20` sent nothing for six seconds, then all 60 at once.
    let curve = stages_curve(0.0, &parse_stages("6s:20").unwrap());
    let instants: Vec<u64> = Schedule::new(curve, Arrivals::Uniform, Shard::WHOLE)
        .iter()
        .map(|(_, at)| at)
        .collect();
    let per_second: Vec<usize> = (0..6u64)
        .map(|s| {
            instants
                .iter()
                .filter(|&&a| a >= s * 1_000_000_000 && a < (s + 1) * 1_000_000_000)
                .count()
        })
        .collect();
    // The plan: 20/6 rps more each second, so 1.67, 5, 8.3, 11.7, 15, 18.3 requests.
    let planned = [1.67, 5.0, 8.33, 11.67, 15.0, 18.33];
    for (got, want) in per_second.iter().zip(planned) {
        assert!((*got as f64 - want).abs() <= 1.0, "{per_second:?}");
    }
}

proptest! {
    #[test]
    fn a_scaled_curve_is_the_same_shape_faster_or_slower(stages in stage_lists(), factor in 0.01f64..4.0, at in 0.0f64..1.0) {
        let curve = stages_curve(0.0, &stages);
        let scaled = curve.scaled(factor).unwrap();
        let want_ns = curve.duration_ns() as f64 * factor;
        // Each segment rounds to a whole ns.
        prop_assert!((scaled.duration_ns() as f64 - want_ns).abs() <= stages.len() as f64);
        prop_assert!((scaled.total() - curve.total() * factor).abs() <= 1e-6 * curve.total().max(1.0) + 1e-6);
        // The rate at a fraction of the run is the rate at that fraction of the original,
        // away from a segment edge where rounding may move it across.
        let t = (curve.duration_ns() as f64 * at) as u64;
        let near_edge = curve.segments().iter().scan(0u64, |end, s| { *end += s.duration_ns; Some(*end) })
            .any(|end| end.abs_diff(t) < 1_000_000);
        if !near_edge {
            let ts = (t as f64 * factor) as u64;
            let (a, b) = (curve.rate_at(t), scaled.rate_at(ts));
            prop_assert!((a - b).abs() <= 1e-3 * a.abs().max(1.0), "{} vs {}", a, b);
        }
    }
}

#[test]
fn a_time_scale_must_be_positive_and_finite() {
    let curve = stages_curve(0.0, &parse_stages("10s:10").unwrap());
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(
            matches!(curve.scaled(bad), Err(Error::BadTimeScale(_))),
            "{bad}"
        );
    }
    assert_eq!(
        curve.scaled(0.1).unwrap().duration(),
        Duration::from_secs(1)
    );
}

#[test]
fn a_bad_stage_says_what_is_wrong_with_it() {
    for (input, says) in [
        ("30s", "not `<duration>:<rps>`"),
        ("-5s:3", "not a duration"),
        ("5s:-3", "0 or more"),
        ("5s:lots", "not a number"),
        ("5s:NaN", "finite"),
    ] {
        let e = parse_stages(input).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains(input), "{input}: {e}");
    }
}
