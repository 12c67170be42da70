//! The backend's KEDA ScaledObject (`scale_mode = "keda"`): a typed `keda.sh/v1alpha1`
//! custom resource (kube's `CustomResource` derive; its schema is KEDA's, not ours to
//! publish) with a `prometheus` trigger against the run's own Prometheus Service. KEDA hands
//! the trigger's value to an HPA it creates, so the HPA's `behavior` comes from the same
//! [`crate::autoscale::spec`] the local runtime runs, and that HPA is named after the backend
//! so the run reads it under one name whatever the mode.

use std::collections::BTreeMap;

use common::api::routes;
use common::{names, ports};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscalerBehavior;
use kube::CustomResource;
use scenario::{AutoscaleMetric, ScaleMode, Scenario};
use serde::{Deserialize, Serialize};

use super::hpa::rules;
use crate::kube::meta::{self, Job};

/// The CRD KEDA installs; a run checks it exists before deploying.
pub const CRD: &str = "scaledobjects.keda.sh";

/// What `spec.triggers[].metadata.query` averages over: the rate window. Prometheus scrapes
/// every 5 s, so 30 s holds several samples and still follows a ramp within a sync or two.
const RATE_WINDOW: &str = "30s";

/// `spec` of a `keda.sh/v1alpha1` ScaledObject: the fields this run sets.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "keda.sh",
    version = "v1alpha1",
    kind = "ScaledObject",
    namespaced,
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: ScaleTargetRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_interval: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_period: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replica_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replica_count: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced: Option<Advanced>,
    pub triggers: Vec<Trigger>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub name: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Advanced {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub horizontal_pod_autoscaler_config: Option<HpaConfig>,
}

/// The HPA KEDA creates for the ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct HpaConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// One scaler of the ScaledObject.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    #[serde(rename = "type")]
    pub type_: String,
    /// `AverageValue` (the value ÷ replicas against the threshold), `Value` or `Utilization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_type: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

fn seconds(d: std::time::Duration) -> i32 {
    i32::try_from(d.as_secs().max(1)).unwrap_or(i32::MAX)
}

fn whole(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `http://<prometheus>.<namespace>.svc:9090`: KEDA's operator runs in its own namespace.
pub fn prometheus_address(s: &Scenario) -> String {
    format!(
        "http://{}.{}.svc:{}",
        s.prometheus.name,
        s.namespace(),
        ports::PROMETHEUS
    )
}

/// The backend's user requests, as the report counts them: probes, scrapes and the
/// frontend's stats polls are not demand. Prometheus labels each pod's series with its job
/// label as `component` (see [`super::prometheus::config`]).
fn user_requests() -> String {
    let not_user = [
        routes::METRICS,
        routes::READYZ,
        routes::HEALTHZ,
        routes::STATS,
    ]
    .join("|");
    format!(
        "{}{{component=\"{}\",route!~\"{not_user}\"}}",
        names::HTTP_REQUESTS_TOTAL,
        Job::BACKEND.as_str()
    )
}

/// The PromQL of `autoscale_metric` for the whole backend, and how KEDA compares it with
/// the threshold. The per-replica metrics are sums that KEDA's `AverageValue` divides by
/// the replicas (so the threshold is the target per replica); the p95 is one value for the
/// service, compared as a `Value` (the HPA scales it by the ready replicas).
pub fn query(s: &Scenario) -> Option<(String, &'static str)> {
    let rate = |sel: &str| format!("sum(rate({sel}[{RATE_WINDOW}]))");
    match s.autoscale.metric {
        AutoscaleMetric::RpsPerReplica => Some((rate(&user_requests()), "AverageValue")),
        // Busy worker-seconds per second ÷ workers, in %: the capacity model holds one worker
        // for the service time per request it serves (shed ones take none), as the local
        // observer reads it.
        AutoscaleMetric::Utilization => {
            let served = format!(
                "({} - {})",
                rate(&user_requests()),
                rate(&format!(
                    "{}{{component=\"{}\"}}",
                    names::APP_SHED_REQUESTS_TOTAL,
                    Job::BACKEND.as_str()
                ))
            );
            let c = &s.backend_capacity;
            let per_worker =
                c.service_time.get().as_secs_f64() / f64::from(c.workers.max(1)) * 100.0;
            Some((format!("{served} * {per_worker}"), "AverageValue"))
        }
        AutoscaleMetric::P95Latency => Some((
            format!(
                "histogram_quantile(0.95, sum by (le) (rate({}_bucket{{component=\"{}\",route!~\"{}\"}}[{RATE_WINDOW}]))) * 1000",
                names::HTTP_REQUEST_DURATION_SECONDS,
                Job::BACKEND.as_str(),
                [
                    routes::METRICS,
                    routes::READYZ,
                    routes::HEALTHZ,
                    routes::STATS
                ]
                .join("|"),
            ),
            "Value",
        )),
        AutoscaleMetric::Cpu => None,
    }
}

/// The trigger: Prometheus for the metrics the run's Prometheus has, KEDA's own `cpu`
/// scaler (the metrics API) for `cpu`.
fn trigger(s: &Scenario) -> Trigger {
    let target = s.autoscale.target;
    match query(s) {
        Some((query, metric_type)) => Trigger {
            type_: "prometheus".to_owned(),
            metric_type: Some(metric_type.to_owned()),
            metadata: BTreeMap::from([
                ("serverAddress".to_owned(), prometheus_address(s)),
                ("query".to_owned(), query),
                ("threshold".to_owned(), format!("{target}")),
                // An empty result (no traffic yet) is 0, not an error that holds the count.
                ("ignoreNullValues".to_owned(), "true".to_owned()),
            ]),
        },
        None => Trigger {
            type_: "cpu".to_owned(),
            metric_type: Some("Utilization".to_owned()),
            metadata: BTreeMap::from([(
                "value".to_owned(),
                format!("{}", target.round().max(1.0)),
            )]),
        },
    }
}

/// The ScaledObject of `s` (`None` unless `scale_mode = "keda"`).
pub fn scaled_object(s: &Scenario) -> Option<ScaledObject> {
    let a = &s.autoscale;
    if a.mode != ScaleMode::Keda {
        return None;
    }
    let spec = crate::autoscale::spec(s);
    let mut object = ScaledObject::new(
        &s.backend.name,
        ScaledObjectSpec {
            scale_target_ref: ScaleTargetRef {
                api_version: Some("apps/v1".to_owned()),
                kind: Some("Deployment".to_owned()),
                name: s.backend.name.clone(),
            },
            polling_interval: Some(seconds(a.sync_period.get())),
            // KEDA's own scale to zero is off (min ≥ 1), so this only matters to KEDA's
            // bookkeeping; the HPA's scale-down window is what holds the count.
            cooldown_period: Some(seconds(a.scale_down_stabilization.get())),
            min_replica_count: Some(whole(a.min)),
            max_replica_count: Some(whole(a.max)),
            advanced: Some(Advanced {
                horizontal_pod_autoscaler_config: Some(HpaConfig {
                    name: Some(hpa_name(s)),
                    behavior: Some(HorizontalPodAutoscalerBehavior {
                        scale_up: Some(rules(&spec.up)),
                        scale_down: Some(rules(&spec.down)),
                    }),
                }),
            }),
            triggers: vec![trigger(s)],
        },
    );
    object.metadata = meta::object_meta(s, Job::BACKEND, &s.backend.name);
    Some(object)
}

/// The HPA that scales the backend: the run's own (`hpa`) or the one KEDA creates (`keda`).
pub fn hpa_name(s: &Scenario) -> String {
    s.backend.name.clone()
}
