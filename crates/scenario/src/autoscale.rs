//! Autoscaling keys: the model (`scale_mode`, `autoscale_*`, the windows, `cooldown_pause`,
//! `slo_p95`) and the rules across them: min ≤ max, a metric the mode and the runtime can
//! use, and no key of one mode set beside the other mode (it would be silently ignored).

use serde::{Deserialize, Serialize};

use common::HumanDuration;

use super::builder::Builder;
use super::check::Check;
use super::error::{ConfigError, ErrorKind, Problem, Source};
use super::keys::{Key, field, key};
use super::value::Field;

/// How the backend's replica count changes under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleMode {
    /// One scripted scale to `backend_scale_replicas` after `load_pause`.
    #[default]
    Manual,
    /// A HorizontalPodAutoscaler (on a cluster), the same algorithm in-process (locally).
    Hpa,
    /// A KEDA ScaledObject with a Prometheus trigger (on a cluster), the HPA algorithm
    /// KEDA drives (locally).
    Keda,
}

impl ScaleMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Hpa => "hpa",
            Self::Keda => "keda",
        }
    }

    pub fn is_auto(self) -> bool {
        self != Self::Manual
    }
}

/// What the autoscaler scales on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoscaleMetric {
    /// Served user requests per second per ready replica (target: requests per second).
    RpsPerReplica,
    /// Busy workers ÷ workers of the capacity model (target: percent).
    #[default]
    Utilization,
    /// The backend's p95 latency over the service (target: milliseconds).
    P95Latency,
    /// CPU used ÷ CPU requested (target: percent); needs a runtime that measures it.
    Cpu,
}

impl AutoscaleMetric {
    pub const ALL: [Self; 4] = [
        Self::RpsPerReplica,
        Self::Utilization,
        Self::P95Latency,
        Self::Cpu,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RpsPerReplica => "rps_per_replica",
            Self::Utilization => "utilization",
            Self::P95Latency => "p95_latency",
            Self::Cpu => "cpu",
        }
    }

    /// The unit of `autoscale_target` for this metric.
    pub fn unit(self) -> &'static str {
        match self {
            Self::RpsPerReplica => "rps",
            Self::Utilization | Self::Cpu => "%",
            Self::P95Latency => "ms",
        }
    }
}

/// The autoscaler of a run (`scale_mode` other than `manual`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Autoscale {
    pub mode: ScaleMode,
    pub min: u32,
    pub max: u32,
    pub metric: AutoscaleMetric,
    /// The metric's target, in [`AutoscaleMetric::unit`].
    pub target: f64,
    pub sync_period: HumanDuration,
    pub scale_up_stabilization: HumanDuration,
    pub scale_down_stabilization: HumanDuration,
    /// Time watched after the load is removed (the scale-down).
    pub cooldown_pause: HumanDuration,
    /// The p95 that counts as recovered; `None`: the p95 before the backend saturated.
    pub slo_p95: Option<HumanDuration>,
}

impl Default for Autoscale {
    /// The HPA controller's defaults where it has one (15 s sync, no scale-up window, a
    /// 300 s scale-down window); a cooldown that outlasts that window.
    fn default() -> Self {
        Self {
            mode: ScaleMode::Manual,
            min: 1,
            max: 4,
            metric: AutoscaleMetric::Utilization,
            target: 80.0,
            sync_period: HumanDuration::from_secs(15),
            scale_up_stabilization: HumanDuration::from_secs(0),
            scale_down_stabilization: HumanDuration::from_secs(300),
            cooldown_pause: HumanDuration::from_secs(360),
            slo_p95: None,
        }
    }
}

/// Where the scenario will run: some metrics exist on one runtime only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Local,
    Kube,
}

/// The keys only an autoscaler reads.
pub(crate) const AUTOSCALE_KEYS: [&str; 9] = [
    "autoscale_min",
    "autoscale_max",
    "autoscale_metric",
    "autoscale_target",
    "autoscale_sync_period",
    "scale_up_stabilization",
    "scale_down_stabilization",
    "cooldown_pause",
    "slo_p95",
];

/// The keys only the scripted scale-up reads.
pub(crate) const MANUAL_KEYS: [&str; 2] = ["backend_scale_replicas", "load_scale_delay"];

impl Builder {
    /// Every contradiction among the autoscaling keys (and with the runtime, when known).
    pub(crate) fn autoscale_conflicts(&self) -> Vec<ConfigError> {
        let a = &self.scenario.autoscale;
        // Set, and to something else than the default: a value equal to the default changes
        // nothing when ignored (and a fully uncommented `.env.example` stays valid).
        let defaults = super::Scenario::default();
        let set = |key: &str| {
            self.source(key) != Source::Default
                && !self.failed.contains(key)
                && super::keys::by_name(key)
                    .is_some_and(|k| k.field.get(&self.scenario) != k.field.get(&defaults))
        };
        let mut found = Vec::new();
        let mut push = |key: &str, value: String, problem: String, fix: String| {
            found.push(Problem::new(ErrorKind::Conflict, problem, fix).at(
                key,
                &value,
                Some(self.source(key)),
            ));
        };
        let value = |key: &str| {
            super::keys::by_name(key)
                .map(|k| k.field.get(&self.scenario).to_string())
                .unwrap_or_default()
        };
        let mode = a.mode.as_str();
        let (ignored, why, fix) = if a.mode.is_auto() {
            (
                &MANUAL_KEYS[..],
                format!(
                    "scale_mode = {mode} (from {}) lets the autoscaler choose the replicas, so this scripted scale-up key would be ignored",
                    self.source("scale_mode")
                ),
                "remove it, or set scale_mode = manual",
            )
        } else {
            (
                &AUTOSCALE_KEYS[..],
                format!(
                    "scale_mode = manual (from {}) runs no autoscaler, so this key would be ignored",
                    self.source("scale_mode")
                ),
                "set scale_mode = hpa or keda, or remove it",
            )
        };
        for key in ignored.iter().filter(|k| set(k)) {
            push(key, value(key), why.clone(), fix.to_owned());
        }
        if !a.mode.is_auto() {
            return found;
        }
        if !self.failed.contains("autoscale_min")
            && !self.failed.contains("autoscale_max")
            && a.min > a.max
        {
            push(
                "autoscale_min",
                a.min.to_string(),
                format!(
                    "above autoscale_max = {} (from {})",
                    a.max,
                    self.source("autoscale_max")
                ),
                "set autoscale_min to autoscale_max or less".to_owned(),
            );
        }
        if self.failed.contains("autoscale_metric") {
            return found;
        }
        let metric = a.metric.as_str();
        if a.mode == super::ScaleMode::Hpa && a.metric == AutoscaleMetric::P95Latency {
            push(
                "autoscale_metric",
                metric.to_owned(),
                "an HPA averages a metric over the pods, and a p95 latency is one value for the whole service".to_owned(),
                "set scale_mode = keda (its Prometheus trigger reads the p95), or pick rps_per_replica, utilization or cpu".to_owned(),
            );
        }
        match self.platform {
            Some(Platform::Kube)
                if a.mode == super::ScaleMode::Hpa
                    && matches!(
                        a.metric,
                        AutoscaleMetric::RpsPerReplica | AutoscaleMetric::Utilization
                    ) =>
            {
                push(
                    "autoscale_metric",
                    metric.to_owned(),
                    "an HPA on a cluster reads this metric only through a custom-metrics adapter, which the run does not install".to_owned(),
                    "set scale_mode = keda (it reads the run's Prometheus), or autoscale_metric = cpu".to_owned(),
                )
            }
            _ => {}
        }
        found
    }
}

/// The autoscaler's keys, documented after `load_scale_delay`.
pub(crate) const KEYS: [Key; 10] = [
    key!(
        "scale_mode",
        ScaleMode,
        autoscale.mode,
        Check::None,
        "How the backend is scaled under load: manual (one scripted scale-up after load_pause), hpa (a HorizontalPodAutoscaler; locally the same algorithm) or keda (a KEDA ScaledObject)."
    ),
    key!(
        "autoscale_min",
        U32,
        autoscale.min,
        Check::AtLeast(1),
        "hpa/keda: the fewest backend replicas the autoscaler keeps."
    ),
    key!(
        "autoscale_max",
        U32,
        autoscale.max,
        Check::AtLeast(1),
        "hpa/keda: the most backend replicas the autoscaler may start."
    ),
    key!(
        "autoscale_metric",
        Metric,
        autoscale.metric,
        Check::None,
        "hpa/keda: what the autoscaler scales on: rps_per_replica, utilization (busy workers, %), p95_latency (keda) or cpu (% of the CPU request; locally % of one core)."
    ),
    key!(
        "autoscale_target",
        F64,
        autoscale.target,
        Check::Target,
        "hpa/keda: the metric's target per replica: requests per second, percent, or milliseconds for p95_latency."
    ),
    key!(
        "autoscale_sync_period",
        Duration,
        autoscale.sync_period,
        Check::NonZero,
        "hpa/keda: how often the autoscaler decides (the HPA's sync period, KEDA's pollingInterval)."
    ),
    key!(
        "scale_up_stabilization",
        Duration,
        autoscale.scale_up_stabilization,
        Check::None,
        "hpa/keda: scale-up window; the lowest recommendation within it is used."
    ),
    key!(
        "scale_down_stabilization",
        Duration,
        autoscale.scale_down_stabilization,
        Check::None,
        "hpa/keda: scale-down window; the highest recommendation within it is used."
    ),
    key!(
        "cooldown_pause",
        Duration,
        autoscale.cooldown_pause,
        Check::None,
        "hpa/keda: time watched after the load is removed, for the scale-down (ends early at autoscale_min)."
    ),
    key!(
        "slo_p95",
        OptDuration,
        autoscale.slo_p95,
        Check::None,
        "hpa/keda: the p95 latency that counts as recovered in the report, or none for the p95 before the backend saturated."
    ),
];
