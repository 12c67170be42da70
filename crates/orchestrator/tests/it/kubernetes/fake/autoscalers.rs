//! The fake's autoscaling controllers, one pass at a time: KEDA's operator makes the HPA of
//! each ScaledObject, and the HPA controller, every [`Behaviour::hpa_sync`], reads a load
//! ([`Behaviour::demand`] while a load generator pod runs, [`Behaviour::idle_demand`]
//! otherwise, in units of the target per replica), recommends `ceil(demand ÷ target)` within
//! the tolerance and min/max, holds a scale-down for the HPA's window, writes its status
//! (current metrics, desired replicas, conditions) and sets the Deployment's replicas through
//! its scale, as the real controller does.

use serde_json::{Value, json};

use super::Behaviour;
use super::controllers::deleting;
use super::kubelet::{is_active, is_ready, pods};
use super::store::{Collection, Store, apps, name_of};

/// Where the fake keeps an HPA's recent recommendations (the real controller keeps them in
/// memory): `[[unix seconds, replicas], ...]`.
const RECOMMENDATIONS: &str = "fake.load-demo.io/recommendations";
/// When the fake controller last synced this HPA.
const LAST_SYNC: &str = "fake.load-demo.io/last-sync";

fn hpas(ns: &str) -> Collection {
    Collection::new("/apis/autoscaling/v2", "horizontalpodautoscalers", Some(ns))
}

pub(crate) fn run(store: &mut Store, b: &Behaviour) {
    for (coll, so) in store
        .all()
        .into_iter()
        .filter(|(c, _)| c.plural == "scaledobjects")
    {
        keda(store, &coll, &so);
    }
    for (coll, hpa) in store
        .all()
        .into_iter()
        .filter(|(c, _)| c.plural == "horizontalpodautoscalers")
    {
        if !deleting(&hpa) {
            controller(store, b, &coll, &hpa);
        }
    }
}

/// KEDA's operator: an HPA per ScaledObject, owned by it, on an External metric with an
/// `AverageValue` target of the trigger's threshold.
fn keda(store: &mut Store, coll: &Collection, so: &Value) {
    let ns = coll.namespace.clone().unwrap_or_default();
    let spec = &so["spec"];
    let name = spec["advanced"]["horizontalPodAutoscalerConfig"]["name"]
        .as_str()
        .map_or_else(|| format!("keda-hpa-{}", name_of(so)), str::to_owned);
    if deleting(so) || store.get(&hpas(&ns), &name).is_some() {
        return;
    }
    let threshold = spec["triggers"][0]["metadata"]["threshold"]
        .as_str()
        .unwrap_or("1")
        .to_owned();
    store.put(
        &hpas(&ns),
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name, "namespace": ns, "labels": so["metadata"]["labels"],
                "ownerReferences": [{"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject",
                    "name": name_of(so), "uid": so["metadata"]["uid"], "controller": true}]},
            "spec": {"scaleTargetRef": spec["scaleTargetRef"],
                "minReplicas": spec["minReplicaCount"], "maxReplicas": spec["maxReplicaCount"],
                "metrics": [{"type": "External", "external": {
                    "metric": {"name": "s0-prometheus"},
                    "target": {"type": "AverageValue", "averageValue": threshold}}}],
                "behavior": spec["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]}}),
    );
}

/// The target of the HPA's first metric, per replica.
fn target(hpa: &Value) -> Option<f64> {
    let m = &hpa["spec"]["metrics"][0];
    let t = &m[m["type"].as_str()?.to_ascii_lowercase()]["target"];
    t["averageUtilization"]
        .as_f64()
        .or_else(|| t["averageValue"].as_str()?.parse().ok())
}

/// The HPA's status entry of the metric at `average` per replica.
fn current(hpa: &Value, average: f64) -> Value {
    let m = &hpa["spec"]["metrics"][0];
    match m["type"].as_str() {
        Some("Resource") => json!({"type": "Resource", "resource": {"name": m["resource"]["name"],
            "current": {"averageUtilization": average.round() as i64}}}),
        _ => json!({"type": "External", "external": {"metric": m["external"]["metric"],
            "current": {"averageValue": format!("{}m", (average * 1000.0).round() as i64)}}}),
    }
}

fn condition(kind: &str, status: bool, reason: &str) -> Value {
    json!({"type": kind, "status": if status { "True" } else { "False" }, "reason": reason})
}

fn controller(store: &mut Store, b: &Behaviour, coll: &Collection, hpa: &Value) {
    let ns = coll.namespace.clone().unwrap_or_default();
    let now = store.now();
    let last = hpa["metadata"]["annotations"][LAST_SYNC]
        .as_str()
        .and_then(|t| t.parse::<k8s_openapi::jiff::Timestamp>().ok());
    let period = k8s_openapi::jiff::SignedDuration::try_from(b.hpa_sync).unwrap_or_default();
    if last.is_some_and(|l| now < l + period) {
        return;
    }
    let target_name = hpa["spec"]["scaleTargetRef"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let Some(mut d) = store.get(&apps("deployments", &ns), &target_name).cloned() else {
        return;
    };
    let spec_replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let selector: Vec<(String, String)> = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let ready = store
        .list(&pods(&ns), &selector, &[])
        .iter()
        .filter(|p| is_active(p) && is_ready(p))
        .count() as i64;
    let loaded = store
        .list(
            &pods(&ns),
            &[(
                orchestrator::kube::labels::JOB.to_owned(),
                "loadgen".to_owned(),
            )],
            &[],
        )
        .iter()
        .any(is_active);
    let demand = if loaded { b.demand } else { b.idle_demand };
    let (min, max) = (
        hpa["spec"]["minReplicas"].as_i64().unwrap_or(1),
        hpa["spec"]["maxReplicas"].as_i64().unwrap_or(1),
    );
    let mut status = json!({"currentReplicas": spec_replicas});
    let (Some(target), true) = (target(hpa), ready > 0) else {
        status["desiredReplicas"] = json!(spec_replicas);
        status["conditions"] = json!([
            condition("AbleToScale", true, "SucceededGetScale"),
            condition("ScalingActive", false, "FailedGetResourceMetric"),
        ]);
        let mut h = hpa.clone();
        h["metadata"]["annotations"][LAST_SYNC] = json!(now.to_string());
        h["status"] = status;
        store.put(coll, h);
        return;
    };
    let average = demand / ready as f64;
    let ratio = average / target;
    let recommended = if (1.0 - ratio).abs() <= 0.1 {
        spec_replicas
    } else {
        (demand / target - 1e-9).ceil() as i64
    };
    // The scale-down window: the highest recommendation within it holds the count.
    let window = hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"]
        .as_i64()
        .unwrap_or(300);
    let t = now.as_second();
    let mut history: Vec<(i64, i64)> = hpa["metadata"]["annotations"][RECOMMENDATIONS]
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    history.retain(|(at, _)| at + window > t);
    history.push((t, recommended));
    let stabilized = history
        .iter()
        .map(|(_, r)| *r)
        .max()
        .unwrap_or(recommended)
        .min(recommended.max(spec_replicas));
    let desired = stabilized.clamp(min, max);
    let limited = if stabilized > max {
        Some("TooManyReplicas")
    } else if stabilized < min {
        Some("TooFewReplicas")
    } else {
        None
    };
    let held = desired > recommended.clamp(min, max);
    status["desiredReplicas"] = json!(desired);
    status["currentMetrics"] = json!([current(hpa, average)]);
    status["conditions"] = json!([
        condition(
            "AbleToScale",
            true,
            if held {
                "ScaleDownStabilized"
            } else if desired == spec_replicas {
                "ReadyForNewScale"
            } else {
                "SucceededRescale"
            }
        ),
        condition("ScalingActive", true, "ValidMetricFound"),
        condition(
            "ScalingLimited",
            limited.is_some(),
            limited.unwrap_or("DesiredWithinRange")
        ),
    ]);
    if desired != spec_replicas {
        status["lastScaleTime"] = json!(now.to_string());
        d["spec"]["replicas"] = json!(desired);
        store.put(&apps("deployments", &ns), d);
    }
    let mut h = hpa.clone();
    h["metadata"]["annotations"][RECOMMENDATIONS] = json!(json!(history).to_string());
    h["metadata"]["annotations"][LAST_SYNC] = json!(now.to_string());
    h["status"] = status;
    store.put(coll, h);
}
