//! The autoscaling keys: defaults that change nothing, every bad combination of the issue
//! reported at once with exit-2 errors, and the metrics a runtime cannot read.

use scenario::{AutoscaleMetric, ConfigInputs, ErrorKind, Platform, ScaleMode};

use super::{error_about, errors, ok, sets};

fn with(items: &[&str], platform: Option<Platform>) -> ConfigInputs {
    ConfigInputs {
        sets: sets(items),
        platform,
        ..ConfigInputs::default()
    }
}

#[test]
fn the_default_is_manual_and_an_autoscaler_reads_its_keys() {
    let r = ok(&ConfigInputs::default());
    assert_eq!(r.scenario.autoscale.mode, ScaleMode::Manual);
    let r = ok(&with(
        &[
            "scale_mode=hpa",
            "autoscale_min=1",
            "autoscale_max=6",
            "autoscale_metric=rps_per_replica",
            "autoscale_target=120",
            "autoscale_sync_period=2s",
            "scale_down_stabilization=10s",
            "cooldown_pause=40s",
            "slo_p95=150ms",
        ],
        Some(Platform::Local),
    ));
    let a = &r.scenario.autoscale;
    assert_eq!(
        (a.mode, a.max, a.metric, a.target),
        (ScaleMode::Hpa, 6, AutoscaleMetric::RpsPerReplica, 120.0)
    );
    assert_eq!(a.slo_p95.map(|d| d.get().as_millis()), Some(150));
    assert_eq!(r.value("slo_p95").as_deref(), Some("150ms"));
}

#[test]
fn every_bad_combination_is_listed_at_once() {
    let e = errors(&with(
        &[
            "scale_mode=hpa",
            "autoscale_min=5",
            "autoscale_max=2",
            "autoscale_target=0",
            "autoscale_metric=p95_latency",
            "backend_scale_replicas=3",
        ],
        None,
    ));
    assert_eq!(e.len(), 4, "{e}");
    error_about(&e, ErrorKind::Conflict, "autoscale_min", "5", "--set");
    error_about(&e, ErrorKind::OutOfRange, "autoscale_target", "0", "--set");
    let p95 = error_about(
        &e,
        ErrorKind::Conflict,
        "autoscale_metric",
        "p95_latency",
        "--set",
    );
    assert!(p95.fix.contains("keda"), "{p95}");
    let ignored = error_about(
        &e,
        ErrorKind::Conflict,
        "backend_scale_replicas",
        "3",
        "--set",
    );
    assert!(ignored.problem.contains("ignored"), "{ignored}");
}

#[test]
fn min_below_one_and_an_unknown_metric_are_named() {
    let e = errors(&with(
        &["scale_mode=keda", "autoscale_min=0", "autoscale_metric=qps"],
        None,
    ));
    assert_eq!(e.len(), 2, "{e}");
    error_about(&e, ErrorKind::OutOfRange, "autoscale_min", "0", "--set");
    let m = error_about(&e, ErrorKind::WrongType, "autoscale_metric", "qps", "--set");
    assert!(m.problem.contains("rps_per_replica"), "{m}");
}

#[test]
fn autoscaler_keys_beside_manual_mode_would_be_ignored() {
    let e = errors(&with(&["autoscale_max=8", "cooldown_pause=1m"], None));
    assert_eq!(e.len(), 2, "{e}");
    for (key, value) in [("autoscale_max", "8"), ("cooldown_pause", "1m")] {
        let err = error_about(&e, ErrorKind::Conflict, key, value, "--set");
        assert!(err.fix.contains("scale_mode"), "{err}");
    }
}

#[test]
fn cpu_is_accepted_on_both_runtimes() {
    // Locally the replicas' CPU is measured from their named threads (% of one core).
    let keys = ["scale_mode=hpa", "autoscale_metric=cpu"];
    for platform in [Some(Platform::Local), Some(Platform::Kube), None] {
        ok(&with(&keys, platform));
    }
}

#[test]
fn an_hpa_on_a_cluster_needs_keda_for_the_application_metrics() {
    for metric in ["rps_per_replica", "utilization"] {
        let set = format!("autoscale_metric={metric}");
        let keys = ["scale_mode=hpa", set.as_str()];
        let e = errors(&with(&keys, Some(Platform::Kube)));
        let err = error_about(&e, ErrorKind::Conflict, "autoscale_metric", metric, "--set");
        assert!(err.fix.contains("keda"), "{err}");
        ok(&with(&keys, Some(Platform::Local)));
        let keda = ["scale_mode=keda", set.as_str()];
        ok(&with(&keda, Some(Platform::Kube)));
    }
}

#[test]
fn the_toml_of_an_autoscaled_scenario_reads_back() {
    let r = ok(&with(
        &[
            "scale_mode=keda",
            "autoscale_metric=p95_latency",
            "slo_p95=200ms",
        ],
        None,
    ));
    // The manual keys are written at their defaults, which an autoscaler does not refuse.
    let text = scenario::scenario_to_toml(&r.scenario);
    assert_eq!(scenario::scenario_from_toml(&text), Ok(r.scenario));
}
