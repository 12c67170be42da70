//! The fake's autoscaling controllers, one pass at a time: KEDA's operator makes the HPA of
//! each ScaledObject, and the HPA controller, every [`Behaviour::hpa_sync`], reads a load
//! ([`Behaviour::demand`] while a load generator pod runs, [`Behaviour::idle_demand`]
//! otherwise, in units of the target per replica), runs the orchestrator's implementation of
//! the controller's algorithm (tolerance, min/max, stabilization windows, and the
//! `behavior`'s rate policies with `selectPolicy`; one memory per HPA, as the controller
//! keeps in-process), writes its status (current metrics, desired replicas, conditions) and
//! sets the Deployment's replicas through its scale, as the real controller does. Reusing the
//! algorithm rather than a second copy of it: its own tests check it against the documented
//! examples; here it makes the fake's decisions those of a controller.

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use orchestrator::autoscale::algorithm::{
    Autoscaler, DEFAULT_TOLERANCE, Observation, PodMetric, Reason, Rules, Spec,
};
use orchestrator::kube::build::hpa::rules_of;
use serde_json::{Value, json};

use super::Behaviour;
use super::controllers::deleting;
use super::kubelet::{is_active, is_ready, pods};
use super::store::{Collection, Store, apps, name_of};

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

/// The algorithm's spec of an HPA: its min/max, the target, the controller's default
/// tolerance, and `behavior` with the API's defaults for what it leaves out.
fn spec_of(hpa: &Value, target: f64, min: i64, max: i64) -> Spec {
    let behavior: HorizontalPodAutoscalerBehavior =
        serde_json::from_value(hpa["spec"]["behavior"].clone()).unwrap_or_default();
    let count = |n: i64| u32::try_from(n).unwrap_or(0);
    Spec {
        min: count(min),
        max: count(max),
        target,
        tolerance: DEFAULT_TOLERANCE,
        up: rules_of(behavior.scale_up.as_ref(), Rules::default_up()),
        down: rules_of(behavior.scale_down.as_ref(), Rules::default_down()),
    }
}

/// The status conditions of a sync that ended for `reason`, as the controller words them.
fn conditions(reason: Reason, unchanged: bool) -> Value {
    let able = match reason {
        Reason::ScaleDownStabilized | Reason::ScaleUpStabilized => reason.as_str(),
        _ if unchanged => "ReadyForNewScale",
        _ => "SucceededRescale",
    };
    let limited = matches!(
        reason,
        Reason::TooManyReplicas
            | Reason::TooFewReplicas
            | Reason::ScaleUpLimit
            | Reason::ScaleDownLimit
    );
    json!([
        condition("AbleToScale", true, able),
        condition("ScalingActive", true, "ValidMetricFound"),
        condition(
            "ScalingLimited",
            limited,
            if limited {
                reason.as_str()
            } else {
                "DesiredWithinRange"
            }
        ),
    ])
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
    let spec = spec_of(hpa, target, min, max);
    let at = store.elapsed();
    let key = hpa["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let autoscaler = store
        .autoscalers
        .entry(key)
        .or_insert_with(|| Autoscaler::new(spec.clone()));
    if autoscaler.spec() != &spec {
        // A re-applied HPA: the controller starts over with the new spec.
        *autoscaler = Autoscaler::new(spec);
    }
    // The status carries one average; every ready pod reads it, starting ones are unready.
    let mut readings = vec![PodMetric::Ready(average); ready as usize];
    readings.resize(spec_replicas.max(ready) as usize, PodMetric::Unready);
    let current_count = u32::try_from(spec_replicas).unwrap_or(0);
    let decision = autoscaler.sync(at, current_count, &Observation::PerPod(readings));
    let desired = i64::from(decision.desired);
    status["desiredReplicas"] = json!(desired);
    status["currentMetrics"] = json!([current(hpa, average)]);
    status["conditions"] = conditions(decision.reason, desired == spec_replicas);
    if desired != spec_replicas {
        status["lastScaleTime"] = json!(now.to_string());
        d["spec"]["replicas"] = json!(desired);
        store.put(&apps("deployments", &ns), d);
    }
    let mut h = hpa.clone();
    h["metadata"]["annotations"][LAST_SYNC] = json!(now.to_string());
    h["status"] = status;
    store.put(coll, h);
}
