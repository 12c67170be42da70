//! The autoscaler card's status from an `autoscaling/v2` HorizontalPodAutoscaler (the run's
//! own, or the one KEDA makes for a ScaledObject): its first metric against the target, the
//! replicas it wants and has, and the reason of its last decision. Pure, so the
//! orchestrator's kube runtime reads an HPA's status by the same rules.

use common::api::AutoscalerStatus;
use common::quantity::quantity;
use k8s_openapi::api::autoscaling::v2::{
    HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition, MetricSpec, MetricStatus,
    MetricTarget, MetricValueStatus,
};

/// The label KEDA puts on the HPA it makes for a ScaledObject.
const KEDA_LABEL: &str = "scaledobject.keda.sh/name";

fn value_of(v: &MetricValueStatus) -> Option<f64> {
    v.average_utilization
        .map(f64::from)
        .or_else(|| v.average_value.as_ref().and_then(|q| quantity(&q.0)))
        .or_else(|| v.value.as_ref().and_then(|q| quantity(&q.0)))
}

fn target_of(t: &MetricTarget) -> Option<f64> {
    t.average_utilization
        .map(f64::from)
        .or_else(|| t.average_value.as_ref().and_then(|q| quantity(&q.0)))
        .or_else(|| t.value.as_ref().and_then(|q| quantity(&q.0)))
}

/// A metric's current value as the controller last read it: a utilization in %, else the
/// average per pod, else the value (the unit of the metric's target).
pub fn current_value(m: &MetricStatus) -> Option<f64> {
    let current = m
        .resource
        .as_ref()
        .map(|r| &r.current)
        .or_else(|| m.external.as_ref().map(|e| &e.current))
        .or_else(|| m.container_resource.as_ref().map(|c| &c.current))
        .or_else(|| m.pods.as_ref().map(|p| &p.current))
        .or_else(|| m.object.as_ref().map(|o| &o.current))?;
    value_of(current).filter(|v| v.is_finite())
}

/// The controller's reason for the count: a failing `ScalingActive` (it cannot read its
/// metric), an active `ScalingLimited` (min/max), a stabilized or failing `AbleToScale`,
/// else `ScalingLimited`'s own reason.
pub fn reason(conditions: &[HorizontalPodAutoscalerCondition]) -> Option<String> {
    let find = |kind: &str| conditions.iter().find(|c| c.type_ == kind);
    find("ScalingActive")
        .filter(|c| c.status == "False")
        .or_else(|| find("ScalingLimited").filter(|c| c.status == "True"))
        .or_else(|| {
            find("AbleToScale").filter(|c| {
                c.status == "False"
                    || c.reason
                        .as_deref()
                        .is_some_and(|r| r.ends_with("Stabilized"))
            })
        })
        .or_else(|| find("ScalingLimited"))
        .map(|c| c.reason.clone().unwrap_or_else(|| c.type_.clone()))
}

/// The metric's name as the HPA knows it (`cpu`, KEDA's `s0-prometheus`, ...) and its target.
fn metric(m: &MetricSpec) -> Option<(String, Option<f64>)> {
    if let Some(r) = &m.resource {
        return Some((r.name.clone(), target_of(&r.target)));
    }
    if let Some(c) = &m.container_resource {
        return Some((
            format!("{} of {}", c.name, c.container),
            target_of(&c.target),
        ));
    }
    let (name, target) = m
        .external
        .as_ref()
        .map(|e| (&e.metric.name, &e.target))
        .or_else(|| m.pods.as_ref().map(|p| (&p.metric.name, &p.target)))
        .or_else(|| m.object.as_ref().map(|o| (&o.metric.name, &o.target)))?;
    Some((name.clone(), target_of(target)))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// The card's status of `hpa`, or why it has none yet (no metric, no status written).
/// `ready` is the HPA's `currentReplicas`: the count the controller decided from.
pub fn status(hpa: &HorizontalPodAutoscaler) -> Result<AutoscalerStatus, String> {
    let spec = hpa.spec.as_ref().ok_or("the HPA has no spec")?;
    let (metric, target) = spec
        .metrics
        .iter()
        .flatten()
        .find_map(metric)
        .ok_or("the HPA names no metric it scales on")?;
    let target = target.ok_or("the HPA's metric has no target value")?;
    let status = hpa
        .status
        .as_ref()
        .ok_or("the HPA controller has not written a status yet")?;
    let keda = hpa
        .metadata
        .labels
        .iter()
        .flatten()
        .any(|(k, _)| k == KEDA_LABEL)
        || hpa
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "ScaledObject");
    let conditions = status.conditions.as_deref().unwrap_or_default();
    Ok(AutoscalerStatus {
        mode: if keda { "keda" } else { "hpa" }.to_owned(),
        metric,
        target,
        value: status
            .current_metrics
            .iter()
            .flatten()
            .find_map(current_value),
        desired: count(status.desired_replicas),
        ready: status.current_replicas.map_or(0, count),
        min: spec.min_replicas.map_or(1, count),
        max: count(spec.max_replicas),
        reason: reason(conditions).unwrap_or_else(|| "no conditions yet".to_owned()),
    })
}

#[cfg(test)]
mod tests;
