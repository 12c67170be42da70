//! The worked examples of the Kubernetes HPA documentation, the controller's rules for
//! unready pods and missing metrics, and properties over random histories.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ready(values: &[f64]) -> Observation {
    Observation::PerPod(values.iter().map(|v| PodMetric::Ready(*v)).collect())
}

fn spec(min: u32, max: u32, target: f64) -> Spec {
    Spec {
        min,
        max,
        target,
        tolerance: DEFAULT_TOLERANCE,
        up: Rules::default_up(),
        down: Rules::default_down(),
    }
}

fn no_window(mut s: Spec) -> Spec {
    s.down.stabilization = Duration::ZERO;
    s
}

// "if the current metric value is 200m, and the desired value is 100m, the number of
// replicas will be doubled ... If the current value is instead 50m, you'll halve".
#[test]
fn docs_double_at_twice_the_target_and_halve_at_half() {
    assert_eq!(replica_count(3, &ready(&[200.0; 3]), 100.0, 0.1), Some(6));
    assert_eq!(replica_count(4, &ready(&[50.0; 4]), 100.0, 0.1), Some(2));
}

// "The control plane skips any scaling action if the ratio is sufficiently close to 1.0
// (within a configurable tolerance, 0.1 by default)."
#[test]
fn docs_no_action_within_the_tolerance() {
    assert_eq!(
        replica_count(10, &ready(&[109.0; 10]), 100.0, 0.1),
        Some(10)
    );
    assert_eq!(replica_count(10, &ready(&[91.0; 10]), 100.0, 0.1), Some(10));
    assert_eq!(
        replica_count(10, &ready(&[111.0; 10]), 100.0, 0.1),
        Some(12)
    );
}

// The average over the pods, times the pods: 4 pods at 90, 90, 30, 30 of a 50 target.
#[test]
fn the_ratio_is_of_the_average_over_ready_pods() {
    assert_eq!(
        replica_count(4, &ready(&[90.0, 90.0, 30.0, 30.0]), 50.0, 0.1),
        Some(5)
    );
}

// "conservatively assume that the not-yet-ready pods are consuming 0% of the desired
// metric, further dampening the magnitude of a scale up."
#[test]
fn docs_unready_pods_dampen_a_scale_up() {
    let mut pods = vec![PodMetric::Ready(200.0); 2];
    pods.push(PodMetric::Unready);
    pods.push(PodMetric::Unready);
    // Ready only: 2 × 2 = 4; with the unready at 0: avg 100 of 100 → within: hold at 4.
    assert_eq!(
        replica_count(4, &Observation::PerPod(pods.clone()), 100.0, 0.1),
        Some(4)
    );
    pods[0] = PodMetric::Ready(400.0);
    // avg over 4 = 150 → ceil(1.5 × 4) = 6 (ready only would say ceil(3 × 2) = 6 too, but
    // the ratio used is the dampened one).
    assert_eq!(
        replica_count(4, &Observation::PerPod(pods), 100.0, 0.1),
        Some(6)
    );
}

// Unready pods are left out of a scale-down ("set aside").
#[test]
fn unready_pods_do_not_count_on_a_scale_down() {
    let pods = vec![
        PodMetric::Ready(25.0),
        PodMetric::Ready(25.0),
        PodMetric::Unready,
    ];
    assert_eq!(
        replica_count(3, &Observation::PerPod(pods), 100.0, 0.1),
        Some(1)
    );
}

// "If ... missing metrics ... assume those pods were consuming 100% of the desired value in
// case of a scale down, and 0% in case of a scale up" and "if the new ratio reverses the
// scale direction ... skip any scaling action".
#[test]
fn docs_missing_metrics_are_conservative_and_never_reverse_the_direction() {
    let down = vec![
        PodMetric::Ready(20.0),
        PodMetric::Missing,
        PodMetric::Missing,
    ];
    // avg (20 + 100 + 100) / 3 = 73.3 → ceil(0.733 × 3) = 3: no scale-down.
    assert_eq!(
        replica_count(3, &Observation::PerPod(down), 100.0, 0.1),
        Some(3)
    );
    let down = vec![
        PodMetric::Ready(10.0),
        PodMetric::Ready(10.0),
        PodMetric::Missing,
    ];
    // avg (10 + 10 + 100) / 3 = 40 → ceil(0.4 × 3) = 2.
    assert_eq!(
        replica_count(3, &Observation::PerPod(down), 100.0, 0.1),
        Some(2)
    );
    let up = vec![PodMetric::Ready(150.0), PodMetric::Missing];
    // avg (150 + 0) / 2 = 75 < target: would reverse a scale-up → hold.
    assert_eq!(
        replica_count(2, &Observation::PerPod(up), 100.0, 0.1),
        Some(2)
    );
    let up = vec![PodMetric::Ready(300.0), PodMetric::Missing];
    // avg 150 → ceil(1.5 × 2) = 3.
    assert_eq!(
        replica_count(2, &Observation::PerPod(up), 100.0, 0.1),
        Some(3)
    );
}

#[test]
fn nothing_measured_is_no_recommendation_and_the_count_is_held() {
    let pods = Observation::PerPod(vec![PodMetric::Missing, PodMetric::Unready]);
    assert_eq!(replica_count(2, &pods, 100.0, 0.1), None);
    let mut hpa = Autoscaler::new(spec(1, 5, 100.0));
    let d = hpa.sync(secs(0), 2, &pods);
    assert_eq!((d.desired, d.reason), (2, Reason::NoMetrics));
    let nan = Observation::Value {
        value: f64::NAN,
        ready: 2,
    };
    assert_eq!(hpa.sync(secs(15), 2, &nan).desired, 2);
}

// Object/External `Value` targets: the ratio times the ready pods.
#[test]
fn a_value_target_scales_the_ready_pods() {
    let obs = Observation::Value {
        value: 0.3,
        ready: 2,
    };
    assert_eq!(replica_count(2, &obs, 0.1, 0.1), Some(6));
}

// "scaleDown: policies: Pods 4 / 60 s, Percent 10 / 60 s ... For instance if there are 80
// replicas and the target has to be scaled down to 10 replicas then during the first step
// 8 replicas will be reduced. In the next iteration when the number of replicas is 72, 10%
// of the pods is 7.2 but the number is rounded up to 8. ... When the number of replicas
// falls below 40 the first policy (Pods) is applied and 4 replicas will be reduced at a time."
#[test]
fn docs_scale_down_policies_take_the_larger_change() {
    let mut s = no_window(spec(10, 100, 100.0));
    s.down.policies = vec![
        Policy {
            kind: PolicyKind::Pods,
            value: 4,
            period: secs(60),
        },
        Policy {
            kind: PolicyKind::Percent,
            value: 10,
            period: secs(60),
        },
    ];
    let mut hpa = Autoscaler::new(s);
    let mut current = 80;
    let mut steps = Vec::new();
    // One sync per period, each wanting 10 replicas.
    for i in 0..20 {
        let d = hpa.sync(secs(60 * i), current, &ready(&vec![12.5; current as usize]));
        steps.push(current - d.desired);
        current = d.desired;
        if current == 10 {
            break;
        }
    }
    assert_eq!(&steps[..2], &[8, 8], "{steps:?}");
    // Every step but the last (which stops at min) removes at least the Pods policy's 4.
    assert!(
        steps[..steps.len() - 1].iter().all(|&s| s >= 4),
        "{steps:?}"
    );
    assert_eq!(current, 10);
    // Below 40 replicas, 10 % is under 4: the Pods policy removes 4 a step.
    let below_40: Vec<_> = steps.iter().rev().skip(1).take(3).collect();
    assert!(below_40.iter().all(|s| **s == 4), "{steps:?}");
}

// Within one period the policy counts what was already changed.
#[test]
fn a_policy_counts_the_changes_already_made_in_its_period() {
    let mut s = spec(1, 50, 100.0);
    s.up.policies = vec![Policy {
        kind: PolicyKind::Pods,
        value: 4,
        period: secs(60),
    }];
    let mut hpa = Autoscaler::new(s);
    let obs = |n: usize| ready(&vec![1000.0; n]);
    assert_eq!(hpa.sync(secs(0), 2, &obs(2)).desired, 6);
    let d = hpa.sync(secs(15), 6, &obs(6));
    assert_eq!((d.desired, d.reason), (6, Reason::ScaleUpLimit));
    assert_eq!(hpa.sync(secs(61), 6, &obs(6)).desired, 10);
}

// Default scale-up: "4 pods or a 100% of the currently running replicas may at most be
// added every 15 seconds".
#[test]
fn docs_default_scale_up_is_four_pods_or_double_per_fifteen_seconds() {
    let mut hpa = Autoscaler::new(spec(1, 100, 10.0));
    let d = hpa.sync(secs(0), 1, &ready(&[1000.0]));
    assert_eq!((d.recommended, d.desired), (Some(100), 5));
    let d = hpa.sync(secs(15), 10, &ready(&[1000.0; 10]));
    assert_eq!(d.desired, 20, "100 % of 10 beats 4 pods");
}

// `selectPolicy: Disabled` turns a direction off.
#[test]
fn docs_disabled_scale_down_never_scales_down() {
    let mut s = no_window(spec(1, 10, 100.0));
    s.down.select = Select::Disabled;
    let mut hpa = Autoscaler::new(s);
    let d = hpa.sync(secs(0), 5, &ready(&[1.0; 5]));
    assert_eq!((d.desired, d.reason), (5, Reason::ScaleDownLimit));
}

#[test]
fn select_min_takes_the_smaller_change() {
    let mut s = spec(1, 100, 10.0);
    s.up.select = Select::Min;
    let mut hpa = Autoscaler::new(s);
    assert_eq!(hpa.sync(secs(0), 10, &ready(&[1000.0; 10])).desired, 14);
}

// "the highest recommendation from within [the scale-down] window" is used.
#[test]
fn docs_scale_down_uses_the_highest_recommendation_of_the_window() {
    let mut s = spec(1, 10, 100.0);
    s.down.stabilization = secs(60);
    let mut hpa = Autoscaler::new(s);
    assert_eq!(hpa.sync(secs(0), 4, &ready(&[100.0; 4])).desired, 4);
    let d = hpa.sync(secs(15), 4, &ready(&[25.0; 4]));
    assert_eq!((d.recommended, d.desired), (Some(1), 4));
    assert_eq!(d.reason, Reason::ScaleDownStabilized);
    let d = hpa.sync(secs(61), 4, &ready(&[25.0; 4]));
    assert_eq!(d.desired, 1, "the recommendation of 4 left the window");
}

#[test]
fn a_scale_up_window_takes_the_lowest_recommendation() {
    let mut s = spec(1, 10, 100.0);
    s.up.stabilization = secs(30);
    let mut hpa = Autoscaler::new(s);
    hpa.sync(secs(0), 2, &ready(&[100.0; 2]));
    let d = hpa.sync(secs(15), 2, &ready(&[300.0; 2]));
    assert_eq!((d.desired, d.reason), (2, Reason::ScaleUpStabilized));
    assert_eq!(hpa.sync(secs(31), 2, &ready(&[300.0; 2])).desired, 6);
}

#[test]
fn outside_min_and_max_the_count_is_brought_back_first() {
    let mut hpa = Autoscaler::new(spec(2, 4, 100.0));
    assert_eq!(hpa.sync(secs(0), 1, &ready(&[1.0])).desired, 2);
    assert_eq!(hpa.sync(secs(1), 9, &ready(&[1.0; 9])).desired, 4);
}

fn pods_rules(value: u32, period: u64, select: Select) -> Rules {
    Rules {
        stabilization: Duration::ZERO,
        select,
        policies: vec![Policy {
            kind: PolicyKind::Pods,
            value,
            period: secs(period),
        }],
    }
}

fn pod_metric() -> impl Strategy<Value = PodMetric> {
    prop_oneof![
        8 => (0.0..1000.0f64).prop_map(PodMetric::Ready),
        1 => Just(PodMetric::Unready),
        1 => Just(PodMetric::Missing),
    ]
}

fn arb_rules() -> impl Strategy<Value = Rules> {
    let policy = (any::<bool>(), 1u32..200, 1u64..120).prop_map(|(pods, value, p)| Policy {
        kind: if pods {
            PolicyKind::Pods
        } else {
            PolicyKind::Percent
        },
        value,
        period: secs(p),
    });
    (
        0u64..200,
        prop_oneof![Just(Select::Max), Just(Select::Min), Just(Select::Disabled)],
        proptest::collection::vec(policy, 1..3),
    )
        .prop_map(|(w, select, policies)| Rules {
            stabilization: secs(w),
            select,
            policies,
        })
}

fn arb_spec() -> impl Strategy<Value = Spec> {
    (1u32..10, 0u32..20, 1.0..500.0f64, arb_rules(), arb_rules()).prop_map(
        |(min, extra, target, up, down)| Spec {
            min,
            max: min + extra,
            target,
            tolerance: DEFAULT_TOLERANCE,
            up,
            down,
        },
    )
}

/// A history: per sync, the seconds since the last one and what each pod reads (pods beyond
/// the current count are ignored, missing ones are `Missing`).
fn arb_history() -> impl Strategy<Value = Vec<(u64, Vec<PodMetric>)>> {
    proptest::collection::vec(
        (1u64..40, proptest::collection::vec(pod_metric(), 1..30)),
        1..40,
    )
}

fn observe(reads: &[PodMetric], current: u32) -> Observation {
    Observation::PerPod(
        (0..current as usize)
            .map(|i| reads.get(i).copied().unwrap_or(PodMetric::Missing))
            .collect(),
    )
}

proptest! {
    #[test]
    fn never_outside_min_and_max(spec in arb_spec(), start in 0u32..40, history in arb_history()) {
        let mut hpa = Autoscaler::new(spec.clone());
        let (mut now, mut current) = (0, start);
        for (dt, reads) in history {
            now += dt;
            let d = hpa.sync(secs(now), current, &observe(&reads, current));
            prop_assert!(d.desired >= spec.min && d.desired <= spec.max, "{d:?} of {spec:?}");
            current = d.desired;
        }
    }

    #[test]
    fn never_scales_down_while_a_higher_recommendation_is_in_the_window(
        spec in arb_spec(), history in arb_history()
    ) {
        let mut hpa = Autoscaler::new(spec.clone());
        let (mut now, mut current) = (0, spec.min);
        let mut recommended: Vec<(u64, u32)> = Vec::new();
        for (dt, reads) in history {
            now += dt;
            let d = hpa.sync(secs(now), current, &observe(&reads, current));
            if let Some(r) = d.recommended {
                recommended.push((now, r));
            }
            if d.desired < current {
                let window = spec.down.stabilization.as_secs();
                for (at, r) in &recommended {
                    if at + window > now {
                        prop_assert!(*r <= d.desired, "scaled {current}→{} at {now}s with {r} recommended at {at}s", d.desired);
                    }
                }
            }
            current = d.desired;
        }
    }

    #[test]
    fn no_change_within_the_tolerance(
        spec in arb_spec(), current_off in 0u32..20, factors in proptest::collection::vec(0.905..1.095f64, 1..20)
    ) {
        let current = spec.min + current_off % (spec.max - spec.min + 1);
        let mut hpa = Autoscaler::new(spec.clone());
        // Every pod at its own value, each (so their average too) within the tolerance.
        let values: Vec<f64> = (0..current as usize)
            .map(|i| spec.target * factors[i % factors.len()])
            .collect();
        let d = hpa.sync(secs(0), current, &ready(&values));
        prop_assert_eq!(d.desired, current);
        prop_assert_eq!(d.recommended, Some(current));
    }

    #[test]
    fn pods_policies_bound_every_step_from_the_count_at_the_start_of_the_period(
        up in 1u32..6, down in 1u32..6, period in 5u64..90, spec in arb_spec(), history in arb_history()
    ) {
        let mut spec = spec;
        spec.up = pods_rules(up, period, Select::Max);
        spec.down = pods_rules(down, period, Select::Max);
        let mut hpa = Autoscaler::new(spec.clone());
        let (mut now, mut current) = (0, spec.min);
        let mut changes: Vec<(u64, i64)> = Vec::new();
        for (dt, reads) in history {
            now += dt;
            let d = hpa.sync(secs(now), current, &observe(&reads, current));
            // The count when the period that ends now began: undo the changes made since.
            let since: i64 = changes.iter().filter(|(at, _)| at + period > now).map(|(_, c)| c).sum();
            let start = i64::from(current) - since;
            let (cur, new) = (i64::from(current), i64::from(d.desired));
            prop_assert!(new <= cur.max(start + i64::from(up)), "{current}→{} from {start} at {now}s: {changes:?}", d.desired);
            prop_assert!(new >= cur.min(start - i64::from(down)), "{current}→{} from {start} at {now}s: {changes:?}", d.desired);
            changes.push((now, new - cur));
            current = d.desired;
        }
    }

    #[test]
    fn scaling_up_only_adds_at_most_the_policy_per_period(
        up in 1u32..6, period in 5u64..90, spec in arb_spec(), history in arb_history()
    ) {
        let mut spec = spec;
        spec.up = pods_rules(up, period, Select::Max);
        spec.down.select = Select::Disabled;
        let mut hpa = Autoscaler::new(spec.clone());
        let (mut now, mut current) = (0, spec.min);
        let mut added: Vec<(u64, u32)> = Vec::new();
        for (dt, reads) in history {
            now += dt;
            let d = hpa.sync(secs(now), current, &observe(&reads, current));
            prop_assert!(d.desired >= current, "scale-down is disabled");
            added.push((now, d.desired - current));
            let in_period: u32 = added.iter().filter(|(at, _)| at + period > now).map(|(_, n)| n).sum();
            prop_assert!(in_period <= up, "{in_period} added within {period}s: {added:?}");
            current = d.desired;
        }
    }

    #[test]
    fn a_percent_step_from_a_quiet_period_stays_within_its_share(
        pct in 1u32..300, current in 1u32..60, value in 0.0..1000.0f64
    ) {
        let mut spec = no_window(spec(1, 1000, 100.0));
        let percent = vec![Policy { kind: PolicyKind::Percent, value: pct, period: secs(60) }];
        spec.up.policies = percent.clone();
        spec.down.policies = percent;
        let mut hpa = Autoscaler::new(spec);
        let d = hpa.sync(secs(0), current, &ready(&vec![value; current as usize]));
        let c = f64::from(current);
        prop_assert!(f64::from(d.desired) <= (c * (1.0 + f64::from(pct) / 100.0)).ceil());
        prop_assert!(f64::from(d.desired) >= (c * (1.0 - f64::from(pct) / 100.0)).trunc().max(1.0));
    }
}
