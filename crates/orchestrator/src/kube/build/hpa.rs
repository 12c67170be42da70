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

use crate::autoscale::algorithm::{Policy, PolicyKind, Rules, Select};
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

/// The algorithm's rules of one direction's `HPAScalingRules`, the API's `default` for
/// what it leaves out: what a controller (the fake API server's, here) makes of a spec.
pub fn rules_of(r: Option<&HPAScalingRules>, default: Rules) -> Rules {
    let Some(r) = r else { return default };
    let secs = |s: i32| std::time::Duration::from_secs(u64::try_from(s).unwrap_or(0));
    Rules {
        stabilization: r
            .stabilization_window_seconds
            .map_or(default.stabilization, secs),
        select: match r.select_policy.as_deref() {
            Some("Min") => Select::Min,
            Some("Disabled") => Select::Disabled,
            Some("Max") => Select::Max,
            _ => default.select,
        },
        policies: match &r.policies {
            Some(policies) => policies
                .iter()
                .map(|p| Policy {
                    kind: if p.type_ == "Percent" {
                        PolicyKind::Percent
                    } else {
                        PolicyKind::Pods
                    },
                    value: u32::try_from(p.value).unwrap_or(0),
                    period: secs(p.period_seconds),
                })
                .collect(),
            None => default.policies,
        },
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rules_read_back_from_their_manifest_are_the_same() {
        let one_a_minute = Rules {
            stabilization: Duration::from_secs(30),
            select: Select::Min,
            policies: vec![Policy {
                kind: PolicyKind::Pods,
                value: 1,
                period: Duration::from_secs(60),
            }],
        };
        for r in [Rules::default_up(), Rules::default_down(), one_a_minute] {
            assert_eq!(rules_of(Some(&rules(&r)), Rules::default_up()), r);
        }
    }

    #[test]
    fn what_a_manifest_leaves_out_is_the_apis_default() {
        assert_eq!(rules_of(None, Rules::default_down()), Rules::default_down());
        let only_window = HPAScalingRules {
            stabilization_window_seconds: Some(5),
            ..HPAScalingRules::default()
        };
        let r = rules_of(Some(&only_window), Rules::default_down());
        assert_eq!(r.stabilization, Duration::from_secs(5));
        assert_eq!(r.policies, Rules::default_down().policies);
    }
}
