//! Tests of the fake's HPA controller: the `behavior`'s rate policies bound its steps as the
//! real controller's do (the algorithm itself is tested against the documentation's examples
//! in `src/autoscale/algorithm/tests.rs`).

use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::{Behaviour, FakeApi};

const NS: &str = "hpa";

/// An HPA on `d` with a target of 100 per replica and `scale_up` as its behavior.
fn hpa(scale_up: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "d", "namespace": NS},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
            "minReplicas": 1, "maxReplicas": 10,
            "metrics": [{"type": "External", "external": {"metric": {"name": "s0-prometheus"},
                "target": {"type": "AverageValue", "averageValue": "100"}}}],
            "behavior": {"scaleUp": scale_up}}})
}

fn deployment() -> serde_json::Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": NS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c",
                "image": "i", "ports": [{"containerPort": 8080}]}]}}}})
}

/// A demand of 8 × the target on one ready replica, under `scale_up`; the Deployment's
/// replicas and the HPA's `ScalingLimited` reason after each of `waits`.
async fn steps(scale_up: serde_json::Value, waits: &[Duration]) -> Vec<(i32, String)> {
    let b = Behaviour {
        demand: 800.0,
        idle_demand: 800.0,
        hpa_sync: Duration::from_secs(5),
        ..Behaviour::default()
    };
    let fake = FakeApi::start(b.clone());
    let apply = PatchParams::apply("t");
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}});
    Api::<Namespace>::all(fake.client.clone())
        .patch(NS, &apply, &Patch::Apply(&ns))
        .await
        .unwrap();
    let deps: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    deps.patch("d", &apply, &Patch::Apply(&deployment()))
        .await
        .unwrap();
    // The first replica ready before the HPA's first sync.
    tokio::time::sleep(b.stage * 4).await;
    let hpas: Api<HorizontalPodAutoscaler> = Api::namespaced(fake.client.clone(), NS);
    hpas.patch("d", &apply, &Patch::Apply(&hpa(scale_up)))
        .await
        .unwrap();
    let mut seen = Vec::new();
    for wait in waits {
        tokio::time::sleep(*wait).await;
        let replicas = deps.get("d").await.unwrap().spec.unwrap().replicas.unwrap();
        let status = hpas.get("d").await.unwrap().status.unwrap();
        let limited = status
            .conditions
            .unwrap_or_default()
            .into_iter()
            .find(|c| c.type_ == "ScalingLimited")
            .map(|c| format!("{} {}", c.status, c.reason.unwrap_or_default()))
            .unwrap_or_default();
        seen.push((replicas, limited));
    }
    seen
}

/// One pod or 50 % per minute, whichever allows more (`selectPolicy: Max`): 1 → 2 at the
/// first sync, held there for the rest of the minute, 2 → 3 in the next; never the 8 the
/// demand asks for at once.
#[tokio::test(start_paused = true)]
async fn a_scale_up_policy_bounds_each_step_over_its_period() {
    let policies = json!({"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
        {"type": "Pods", "value": 1, "periodSeconds": 60},
        {"type": "Percent", "value": 50, "periodSeconds": 60}]});
    let seen = steps(
        policies,
        &[
            Duration::from_secs(3),
            Duration::from_secs(40),
            Duration::from_secs(30),
        ],
    )
    .await;
    let limit = "True ScaleUpLimit".to_owned();
    assert_eq!(
        seen,
        [(2, limit.clone()), (2, limit.clone()), (3, limit)],
        "(replicas, ScalingLimited) after 3 s, 43 s and 73 s"
    );
}

/// The same demand under `selectPolicy: Disabled`: no scale-up at all; under the API's
/// default scale-up (4 pods or 100 % per 15 s) the first step is 1 → 5.
#[tokio::test(start_paused = true)]
async fn select_policy_disabled_holds_and_the_default_allows_four_pods_a_step() {
    let disabled = json!({"selectPolicy": "Disabled"});
    let seen = steps(disabled, &[Duration::from_secs(12)]).await;
    assert_eq!(seen[0].0, 1, "{seen:?}");
    let seen = steps(json!(null), &[Duration::from_secs(3)]).await;
    assert_eq!(seen, [(5, "True ScaleUpLimit".to_owned())]);
}
