//! The conversion against HPAs as the controllers write them (JSON, as the API server
//! serves them).

use super::*;

fn hpa(v: serde_json::Value) -> HorizontalPodAutoscaler {
    serde_json::from_value(v).expect("a valid HorizontalPodAutoscaler")
}

fn cpu_hpa(status: serde_json::Value) -> HorizontalPodAutoscaler {
    hpa(serde_json::json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "backend", "namespace": "demo"},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "backend"},
            "minReplicas": 2, "maxReplicas": 6,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 70}}}]},
        "status": status,
    }))
}

#[test]
fn a_cpu_hpa_shows_utilization_against_its_target_and_the_replicas() {
    let s = status(&cpu_hpa(serde_json::json!({
        "currentReplicas": 2, "desiredReplicas": 4,
        "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
            "current": {"averageUtilization": 135, "averageValue": "270m"}}}],
        "conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededRescale"},
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
            {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}],
    })))
    .unwrap();
    assert_eq!(
        s,
        AutoscalerStatus {
            mode: "hpa".into(),
            metric: "cpu".into(),
            target: 70.0,
            value: Some(135.0),
            desired: 4,
            ready: 2,
            min: 2,
            max: 6,
            reason: "DesiredWithinRange".into(),
        }
    );
}

#[test]
fn kedas_hpa_shows_its_external_metric_in_the_targets_unit() {
    let s = status(&hpa(serde_json::json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "keda-hpa-backend", "namespace": "demo",
            "labels": {"scaledobject.keda.sh/name": "backend"}},
        "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "backend"},
            "maxReplicas": 5,
            "metrics": [{"type": "External", "external": {"metric": {"name": "s0-prometheus"},
                "target": {"type": "AverageValue", "averageValue": "50"}}}]},
        "status": {"currentReplicas": 3, "desiredReplicas": 3,
            "currentMetrics": [{"type": "External", "external": {"metric": {"name": "s0-prometheus"},
                "current": {"averageValue": "42500m"}}}],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ScaleDownStabilized"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}]},
    })))
    .unwrap();
    assert_eq!(s.mode, "keda");
    assert_eq!(s.metric, "s0-prometheus");
    assert_eq!((s.target, s.value), (50.0, Some(42.5)));
    // Without minReplicas the API's default, 1.
    assert_eq!((s.min, s.max), (1, 5));
    assert_eq!(s.reason, "ScaleDownStabilized");
}

/// A controller that cannot read its metric says so first, whatever the other conditions.
#[test]
fn a_metric_the_controller_cannot_read_is_the_reason_and_no_value() {
    let s = status(&cpu_hpa(serde_json::json!({
        "currentReplicas": 1, "desiredReplicas": 1,
        "conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"},
            {"type": "ScalingLimited", "status": "True", "reason": "TooFewReplicas"}],
    })))
    .unwrap();
    assert_eq!(s.value, None);
    assert_eq!(s.reason, "FailedGetResourceMetric");
    let s = status(&cpu_hpa(serde_json::json!({
        "currentReplicas": 6, "desiredReplicas": 6,
        "conditions": [
            {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
            {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}],
    })))
    .unwrap();
    assert_eq!(s.reason, "TooManyReplicas");
}

#[test]
fn an_hpa_without_status_or_metric_says_why_it_has_no_card() {
    let mut h = cpu_hpa(serde_json::Value::Null);
    h.status = None;
    assert!(status(&h).unwrap_err().contains("not written a status"));
    h.spec.as_mut().unwrap().metrics = None;
    assert!(status(&h).unwrap_err().contains("no metric"));
    h.spec = None;
    assert!(status(&h).unwrap_err().contains("no spec"));
}

#[test]
fn conditions_without_a_telling_one_give_no_reason() {
    let able = HorizontalPodAutoscalerCondition {
        type_: "AbleToScale".into(),
        status: "True".into(),
        reason: Some("ReadyForNewScale".into()),
        ..HorizontalPodAutoscalerCondition::default()
    };
    assert_eq!(reason(std::slice::from_ref(&able)), None);
    assert_eq!(reason(&[]), None);
}
