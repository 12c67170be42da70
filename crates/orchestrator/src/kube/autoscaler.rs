//! What the cluster's autoscaler did, read once per poll: the backend Deployment (spec and
//! ready replicas) and the status of the HPA that scales it (the run's own, or KEDA's), turned
//! into a [`Sync`] for the report. Beside it, the local [`Autoscaler`] runs on the HPA's own
//! reading whenever the controller has a new one (and at least once per
//! `autoscale_sync_period`): the "expected" count next to what the controller decided.

use std::time::Duration;

use ::kube::{Api, Client};
use demo_frontend::hpa_status;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use scenario::{AutoscaleMetric, Scenario};

use super::api;
use super::build::keda;
use super::error::Result;
use crate::autoscale::Sync;
use crate::autoscale::algorithm::{Autoscaler, Observation, PodMetric};

/// How often the run reads the Deployment and the HPA.
pub const POLL: Duration = Duration::from_secs(1);

/// What the HPA's status says at one read.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaReading {
    /// The first metric's current value in the unit of `autoscale_target` (per replica, or
    /// the service's for a `Value` target); `None`: the controller has no reading.
    pub value: Option<f64>,
    /// `status.desiredReplicas`.
    pub desired: Option<u32>,
    /// The controller's reason for the count: a failing `ScalingActive`, an active
    /// `ScalingLimited`, a stabilized `AbleToScale`, else `ScalingLimited`'s own.
    pub reason: Option<String>,
}

/// Reads an HPA's status (`None`: not there yet, as KEDA's right after the apply).
pub fn read(hpa: Option<&HorizontalPodAutoscaler>) -> HpaReading {
    let Some(status) = hpa.and_then(|h| h.status.as_ref()) else {
        return HpaReading {
            value: None,
            desired: None,
            reason: None,
        };
    };
    let value = status
        .current_metrics
        .iter()
        .flatten()
        .find_map(hpa_status::current_value);
    let reason = hpa_status::reason(status.conditions.as_deref().unwrap_or_default());
    HpaReading {
        value,
        desired: u32::try_from(status.desired_replicas).ok(),
        reason,
    }
}

/// The Deployment's `spec.replicas` and ready replicas.
pub fn replicas(d: Option<&Deployment>) -> (Option<u32>, u32) {
    let spec = d
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| s.replicas)
        .and_then(|r| u32::try_from(r).ok());
    let ready = d
        .and_then(|d| d.status.as_ref())
        .and_then(|s| s.ready_replicas)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(0);
    (spec, ready)
}

/// The local algorithm's view of a reading: every ready replica at the HPA's average (the
/// status carries no per-pod values), the rest unready; a service-wide p95 as one value.
pub fn observation(metric: AutoscaleMetric, value: f64, spec: u32, ready: u32) -> Observation {
    if metric == AutoscaleMetric::P95Latency {
        return Observation::Value { value, ready };
    }
    let mut pods = vec![PodMetric::Ready(value); ready as usize];
    pods.resize(spec.max(ready) as usize, PodMetric::Unready);
    Observation::PerPod(pods)
}

/// The run's watch on its autoscaler.
#[derive(Debug)]
pub struct Watch {
    deployment: String,
    hpa: String,
    metric: AutoscaleMetric,
    expected_by: Autoscaler,
    period: Duration,
    next_expected: Duration,
    expected: Option<u32>,
    last_desired: u32,
    last_ready: u32,
    last_reading: Option<(Option<f64>, Option<u32>)>,
}

impl Watch {
    pub fn new(s: &Scenario) -> Self {
        Self {
            deployment: s.backend.name.clone(),
            hpa: keda::hpa_name(s),
            metric: s.autoscale.metric,
            expected_by: Autoscaler::new(crate::autoscale::spec(s)),
            period: crate::autoscale::sync_period(s),
            next_expected: Duration::ZERO,
            expected: None,
            last_desired: s.backend.replicas,
            last_ready: 0,
            last_reading: None,
        }
    }

    /// One read at `now` (since the run started); also returns the Deployment's spec count.
    /// A read that fails (after the retries of transient errors) is a gap in the report, the
    /// count as last seen, not the end of the run.
    pub async fn sync(
        &mut self,
        client: &Client,
        namespace: &str,
        now: Duration,
    ) -> (Sync, Option<u32>) {
        match self.read_objects(client, namespace).await {
            Ok((d, h)) => self.record(now, d.as_ref(), h.as_ref()),
            Err(e) => {
                tracing::warn!(%e, "reading the autoscaler");
                (self.gap(now, &e.to_string()), None)
            }
        }
    }

    /// The [`Sync`] of a read that failed: no value, the count held.
    pub fn gap(&self, now: Duration, why: &str) -> Sync {
        Sync {
            t: crate::report::round6(now.as_secs_f64()),
            value: None,
            recommended: None,
            from: self.last_desired,
            desired: self.last_desired,
            ready: self.last_ready,
            reason: format!("not read: {why}"),
            expected: self.expected,
        }
    }

    async fn read_objects(
        &self,
        client: &Client,
        namespace: &str,
    ) -> Result<(Option<Deployment>, Option<HorizontalPodAutoscaler>)> {
        let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
        let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(client.clone(), namespace);
        let d = api::retry(
            &format!("reading Deployment/{}", self.deployment),
            namespace,
            || deployments.get_opt(&self.deployment),
        )
        .await?;
        let h = api::retry(
            &format!("reading HorizontalPodAutoscaler/{}", self.hpa),
            namespace,
            || hpas.get_opt(&self.hpa),
        )
        .await?;
        Ok((d, h))
    }

    /// The [`Sync`] of one read of the Deployment `d` and the HPA `h`.
    pub fn record(
        &mut self,
        now: Duration,
        d: Option<&Deployment>,
        h: Option<&HorizontalPodAutoscaler>,
    ) -> (Sync, Option<u32>) {
        let (spec, ready) = replicas(d);
        let reading = read(h);
        let current = spec.unwrap_or(self.last_desired);
        // On each new reading of the controller (its sync), and at least once per period.
        let seen = (reading.value, reading.desired);
        if now >= self.next_expected || self.last_reading != Some(seen) {
            self.last_reading = Some(seen);
            self.next_expected = now + self.period;
            // No reading is no observation: the algorithm holds, as the controller does.
            let obs = reading.value.map_or(Observation::PerPod(Vec::new()), |v| {
                observation(self.metric, v, current, ready)
            });
            let decision = self.expected_by.sync(now, current, &obs);
            self.expected = Some(decision.desired);
        }
        let desired = reading.desired.unwrap_or(current);
        let sync = Sync {
            t: crate::report::round6(now.as_secs_f64()),
            value: reading.value.map(crate::report::round6),
            // The controller does not publish its recommendation; the local one is `expected`'s.
            recommended: None,
            from: self.last_desired,
            desired,
            ready,
            reason: reading.reason.unwrap_or_else(|| {
                if h.is_none() {
                    "NoAutoscalerYet".to_owned()
                } else {
                    "NoStatusYet".to_owned()
                }
            }),
            expected: self.expected,
        };
        self.last_desired = desired;
        self.last_ready = ready;
        (sync, spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hpa(status: serde_json::Value) -> HorizontalPodAutoscaler {
        serde_json::from_value(json!({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "backend"},
            "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "backend"}, "maxReplicas": 4},
            "status": status
        }))
        .unwrap()
    }

    #[test]
    fn a_limited_count_names_the_limit_and_the_cpu_reading() {
        let h = hpa(json!({
            "currentReplicas": 2, "desiredReplicas": 4,
            "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu",
                "current": {"averageUtilization": 180}}}],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "SucceededRescale"},
                {"type": "ScalingActive", "status": "True", "reason": "ValidMetricFound"},
                {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}
            ]
        }));
        let r = read(Some(&h));
        assert_eq!(r.value, Some(180.0));
        assert_eq!(r.desired, Some(4));
        assert_eq!(r.reason.as_deref(), Some("TooManyReplicas"));
    }

    #[test]
    fn keda_external_average_values_and_failing_metrics_read_as_such() {
        let h = hpa(json!({
            "currentReplicas": 1, "desiredReplicas": 1,
            "currentMetrics": [{"type": "External", "external": {
                "metric": {"name": "s0-prometheus"}, "current": {"averageValue": "42500m"}}}],
            "conditions": [
                {"type": "AbleToScale", "status": "True", "reason": "ScaleDownStabilized"},
                {"type": "ScalingLimited", "status": "False", "reason": "DesiredWithinRange"}
            ]
        }));
        let r = read(Some(&h));
        assert_eq!(r.value, Some(42.5));
        assert_eq!(r.reason.as_deref(), Some("ScaleDownStabilized"));
        let failing = hpa(json!({
            "currentReplicas": 1, "desiredReplicas": 1,
            "conditions": [{"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric"}]
        }));
        let r = read(Some(&failing));
        assert_eq!(r.value, None, "no metric is a gap, not a zero");
        assert_eq!(r.reason.as_deref(), Some("FailedGetResourceMetric"));
        assert_eq!(read(None).desired, None);
    }

    #[test]
    fn the_expected_count_runs_on_each_new_reading_of_the_controller() {
        let mut s = Scenario::default();
        s.autoscale.mode = scenario::ScaleMode::Hpa;
        s.autoscale.metric = AutoscaleMetric::Cpu;
        s.autoscale.target = 50.0;
        s.autoscale.sync_period = common::HumanDuration::from_secs(15);
        let mut w = Watch::new(&s);
        let d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "backend"},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"readyReplicas": 1}
        }))
        .unwrap();
        let busy = hpa(
            json!({"desiredReplicas": 1, "currentMetrics": [{"type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 150}}}]}),
        );
        let (first, spec) = w.record(Duration::ZERO, Some(&d), Some(&busy));
        assert_eq!(spec, Some(1));
        // 150 % on one replica against 50 %: ceil(1 × 150 / 50).
        assert_eq!(first.expected, Some(3));
        assert_eq!((first.from, first.desired), (1, 1));
        let (same, _) = w.record(Duration::from_secs(1), Some(&d), Some(&busy));
        assert_eq!(
            same.expected,
            Some(3),
            "the same reading: no new sync of the algorithm"
        );
        // The controller's next sync: 120 % on one replica asks for 3, the same algorithm too.
        let scaled = hpa(
            json!({"desiredReplicas": 3, "currentMetrics": [{"type": "Resource",
            "resource": {"name": "cpu", "current": {"averageUtilization": 120}}}]}),
        );
        let (second, _) = w.record(Duration::from_secs(2), Some(&d), Some(&scaled));
        assert_eq!(
            (second.from, second.desired),
            (1, 3),
            "the controller's change"
        );
        assert_eq!(second.expected, Some(3));
        // KEDA's HPA before KEDA made it, or one deleted under the run: no reading.
        let (gone, _) = w.record(Duration::from_secs(3), Some(&d), None);
        assert_eq!(gone.reason, "NoAutoscalerYet");
        assert_eq!(gone.value, None);
    }
}
