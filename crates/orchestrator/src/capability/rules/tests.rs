//! The rules on made-up series: a lag growing faster than its slack for the window breaks,
//! one that wobbles, stays flat or drains does not; the p95, errors and restarts each break
//! on their own bound; and the climb's ladder over random keys.

use proptest::prelude::*;

use super::*;
use crate::pipeline::sample::{PipelinePoint, RedisFigures};
use crate::sample::Totals;

fn bounds() -> Bounds {
    Bounds {
        p95_s: 0.5,
        error_rate: 0.01,
        lag_window_s: 3.0,
        pipeline: true,
        copies: 1,
    }
}

/// A point at `t` with a lag, `sent` requests so far, and end-to-end answers all in the
/// bucket of `e2e_s`.
fn point(t: f64, lag: f64, sent: f64, errors: f64, answered: f64, e2e_s: f64) -> Point {
    let slot = names::PIPELINE_LATENCY_BUCKETS
        .iter()
        .position(|b| e2e_s <= *b)
        .unwrap_or(names::PIPELINE_LATENCY_BUCKETS.len());
    let end_to_end: Vec<f64> = (0..=names::PIPELINE_LATENCY_BUCKETS.len())
        .map(|i| if i >= slot { answered } else { 0.0 })
        .collect();
    Point {
        t,
        totals: Totals {
            sent,
            lg_errors: errors,
            ..Totals::default()
        },
        target_rps: 0.0,
        backend_ready: 1,
        backend_desired: 1,
        jobs_pending: 0.0,
        vus: 0.0,
        gaps: Vec::new(),
        usage: Vec::new(),
        pipeline: Some(PipelinePoint {
            acknowledged: answered,
            end_to_end,
            redis: Some(RedisFigures {
                queued: lag,
                lag,
                ..RedisFigures::default()
            }),
            ..PipelinePoint::default()
        }),
        restarts: 0,
    }
}

/// A run at `rate` whose workers carry `capacity`: the lag grows by the difference each
/// second (when positive), plus a wobble of at most `noise`.
fn series(rate: f64, capacity: f64, seconds: usize, noise: &[f64]) -> Vec<Point> {
    (0..=seconds)
        .map(|s| {
            let t = s as f64;
            let growth = (rate - capacity).max(0.0) * t;
            let wobble = noise.get(s).copied().unwrap_or(0.0);
            let answered = rate.min(capacity) * t;
            point(t, (growth + wobble).max(0.0), rate * t, 0.0, answered, 0.02)
        })
        .collect()
}

#[test]
fn a_lag_growing_for_the_window_breaks_and_names_its_rate() {
    let points = series(80.0, 50.0, 6, &[]);
    let b = judge(&points, 0.0, 0.0, 80.0, &bounds()).expect("the lag grows 30/s");
    assert_eq!(b.rule, Rule::ConsumerLag);
    assert_eq!(b.t, 6.0);
    assert!(b.detail.contains("30.0 orders/s"), "{}", b.detail);
}

#[test]
fn the_slack_of_several_copies_is_of_their_summed_backlog() {
    // A summed backlog growing 30/s: over 5 % of one copy's 400, within 5 % of two copies'.
    let points = series(400.0, 370.0, 6, &[]);
    let b = judge(&points, 0.0, 0.0, 400.0, &bounds()).expect("30/s over a slack of 20");
    assert_eq!(b.rule, Rule::ConsumerLag);
    let two = Bounds {
        copies: 2,
        ..bounds()
    };
    assert_eq!(judge(&points, 0.0, 0.0, 400.0, &two), None);
}

#[test]
fn a_lag_shorter_than_the_window_does_not_break_yet() {
    let points = series(80.0, 50.0, 2, &[]);
    assert_eq!(judge(&points, 0.0, 0.0, 80.0, &bounds()), None);
}

#[test]
fn a_draining_lag_is_not_growing() {
    let points: Vec<Point> = (0..=6)
        .map(|s| {
            point(
                f64::from(s),
                300.0 - 40.0 * f64::from(s),
                0.0,
                0.0,
                0.0,
                0.02,
            )
        })
        .collect();
    assert_eq!(judge(&points, 0.0, 0.0, 20.0, &bounds()), None);
}

#[test]
fn the_end_to_end_p95_over_its_bound_breaks() {
    let points: Vec<Point> = (0..=3)
        .map(|s| {
            let t = f64::from(s);
            point(t, 0.0, 20.0 * t, 0.0, 20.0 * t, 0.75)
        })
        .collect();
    let b = judge(&points, 0.0, 0.0, 20.0, &bounds()).expect("p95 ≈ 750 ms > 500 ms");
    assert_eq!(b.rule, Rule::P95);
    // Too few answers to judge: no break on noise.
    let few: Vec<Point> = (0..=3)
        .map(|s| point(f64::from(s), 0.0, 2.0, 0.0, f64::from(s), 0.75))
        .collect();
    assert_eq!(judge(&few, 0.0, 0.0, 1.0, &bounds()), None);
}

#[test]
fn errors_break_over_their_share_and_zero_allows_none() {
    let with_errors = |errors: f64| -> Vec<Point> {
        (0..=2)
            .map(|s| {
                let t = f64::from(s);
                point(t, 0.0, 100.0 * t, errors * t / 2.0, 0.0, 0.01)
            })
            .collect()
    };
    // 1 of 200: under 1 %.
    assert_eq!(judge(&with_errors(1.0), 0.0, 0.0, 100.0, &bounds()), None);
    let b = judge(&with_errors(3.0), 0.0, 0.0, 100.0, &bounds()).expect("1.5 % > 1 %");
    assert_eq!(b.rule, Rule::ErrorRate);
    let strict = Bounds {
        error_rate: 0.0,
        ..bounds()
    };
    let b = judge(&with_errors(1.0), 0.0, 0.0, 100.0, &strict).expect("any error breaks");
    assert_eq!(b.rule, Rule::ErrorRate);
}

#[test]
fn a_restart_breaks_and_earlier_points_are_not_judged() {
    let mut points = series(10.0, 50.0, 4, &[]);
    points[4].restarts = 1;
    let b = judge(&points, 0.0, 0.0, 10.0, &bounds()).expect("a restart");
    assert_eq!(b.rule, Rule::Restart);
    // A restart before this rate began belongs to an earlier one.
    for p in &mut points {
        p.restarts = 1;
    }
    assert_eq!(judge(&points, 2.0, 2.0, 10.0, &bounds()), None);
}

proptest! {
    /// Under capacity the lag only wobbles (within the slack of a batch): never a break.
    /// Over it by more than the slack, sustained for the window: always the lag rule.
    #[test]
    fn the_lag_rule_separates_over_from_under_capacity(
        capacity in 5.0f64..2000.0,
        load in 0.1f64..0.95,
        over in 1.3f64..4.0,
        noise in proptest::collection::vec(0.0f64..1.0, 7),
    ) {
        let under = series(capacity * load, capacity, 6, &noise);
        prop_assert_eq!(judge(&under, 0.0, 0.0, capacity * load, &bounds()), None);
        let rate = capacity * over;
        let overload = series(rate, capacity, 6, &noise);
        let b = judge(&overload, 0.0, 0.0, rate, &bounds());
        prop_assert_eq!(b.map(|b| b.rule), Some(Rule::ConsumerLag));
    }

    /// The ladder starts at the start, ends at the ceiling, rises by the factor each rung
    /// (the last by at most it), and is never empty.
    #[test]
    fn the_ladder_climbs_from_start_to_ceiling(
        start in 0.1f64..500.0,
        factor in 1.05f64..5.0,
        span in 1.0f64..1000.0,
    ) {
        let c = scenario::Capability {
            start_rps: start,
            step_factor: factor,
            max_rps: start * span,
            ..scenario::Capability::default()
        };
        let ladder = c.ladder();
        prop_assert!(!ladder.is_empty());
        prop_assert_eq!(*ladder.last().unwrap(), c.max_rps);
        if ladder.len() > 1 {
            prop_assert!((ladder[0] - start).abs() < 1e-9);
        }
        for w in ladder.windows(2) {
            prop_assert!(w[1] > w[0]);
            prop_assert!(w[1] / w[0] <= factor * (1.0 + 1e-9));
        }
    }
}

#[test]
fn a_start_at_the_ceiling_is_one_rung() {
    let c = scenario::Capability {
        start_rps: 50.0,
        max_rps: 50.0,
        ..scenario::Capability::default()
    };
    assert_eq!(c.ladder(), vec![50.0]);
}
