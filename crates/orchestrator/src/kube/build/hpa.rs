//! The backend's HorizontalPodAutoscaler (`scale_mode = "hpa"`): `autoscaling/v2` on the
//! backend Deployment, `cpu` as a Resource metric (the one an HPA reads without a
//! custom-metrics adapter; the scenario refuses the others on a cluster), and `behavior` from
//! the same [`crate::autoscale::spec`] the local runtime runs, so both runtimes scale by the
//! same rules.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};
use scenario::{AutoscaleMetric, ScaleMode, Scenario};

use crate::autoscale::algorithm::{PolicyKind, Rules, Select};
use crate::kube::meta::{self, Job};

fn seconds(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

fn whole(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// One direction's `HPAScalingRules`.
pub fn rules(r: &Rules) -> HPAScalingRules {
    let select = match r.select {
        Select::Max => "Max",
        Select::Min => "Min",
        Select::Disabled => "Disabled",
    };
    HPAScalingRules {
        stabilization_window_seconds: Some(seconds(r.stabilization)),
        select_policy: Some(select.to_owned()),
        policies: Some(
            r.policies
                .iter()
                .map(|p| HPAScalingPolicy {
                    type_: match p.kind {
                        PolicyKind::Pods => "Pods",
                        PolicyKind::Percent => "Percent",
                    }
                    .to_owned(),
                    value: whole(p.value),
                    period_seconds: seconds(p.period),
                })
                .collect(),
        ),
        ..HPAScalingRules::default()
    }
}

/// The HPA of `s`, when it asks for one on `cpu` (`None` for other modes and metrics).
pub fn hpa(s: &Scenario) -> Option<HorizontalPodAutoscaler> {
    let a = &s.autoscale;
    if a.mode != ScaleMode::Hpa || a.metric != AutoscaleMetric::Cpu {
        return None;
    }
    let spec = crate::autoscale::spec(s);
    Some(HorizontalPodAutoscaler {
        metadata: meta::object_meta(s, Job::BACKEND, &s.backend.name),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: "Deployment".to_owned(),
                name: s.backend.name.clone(),
            },
            min_replicas: Some(whole(a.min)),
            max_replicas: whole(a.max),
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        // A percentage of the CPU request: whole numbers only.
                        average_utilization: Some(
                            a.target.round().clamp(1.0, f64::from(i32::MAX)) as i32
                        ),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(rules(&spec.up)),
                scale_down: Some(rules(&spec.down)),
            }),
        }),
        status: None,
    })
}
