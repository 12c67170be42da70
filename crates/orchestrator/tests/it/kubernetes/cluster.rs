//! Against a real cluster: the current kubeconfig context, with the demo images loaded
//! (`./scripts/kind-up.sh`). Ignored by default; run them with
//! `cargo test -p orchestrator -- --ignored kubernetes::cluster` (see README, "Kubernetes (kind)").

use std::time::Duration;

use common::HumanDuration;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use orchestrator::kube::build::{self, Object};
use orchestrator::kube::{KubeOptions, KubeRuntime, connect};
use orchestrator::report::Outcome;
use orchestrator::timeline::{self, RunOptions};
use scenario::Scenario;

const BOUND: Duration = Duration::from_secs(600);

async fn client() -> Client {
    connect::client(None)
        .await
        .expect("a reachable cluster in the current kubeconfig context")
}

/// A scenario of its own uuid and NodePorts (`n`: one per test), short enough for a test:
/// the tests run in parallel, beside a demo stack left up on 30080/30090.
fn scenario(tag: &str, n: u16) -> Scenario {
    let mut s = Scenario::default();
    s.frontend_node_port = 30180 + n;
    s.prometheus_node_port = 30190 + n;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() % 1_000_000);
    s.uuid = format!("it-{tag}-{millis}");
    s.baseline_pause = HumanDuration::from_secs(5);
    s.load_pause = HumanDuration::from_secs(10);
    s.load_scale_delay = HumanDuration::from_secs(10);
    s.load.run_duration = HumanDuration::from_secs(60);
    s.ready_timeout = HumanDuration::from_secs(180);
    s
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn a_short_run_completes_scales_and_cleans_up() {
    let client = client().await;
    let s = scenario("run", 1);
    let runs = tempfile::tempdir().unwrap();
    let mut rt = KubeRuntime::new(client.clone(), s.clone(), KubeOptions::default()).unwrap();
    rt.set_run_dir(runs.path().join(&s.uuid));
    let opts = RunOptions {
        scenario: s.clone(),
        config: scenario::Effective::default(),
        runs_dir: runs.path().to_owned(),
        hold: false,
        keep: false,
        progress: false,
    };
    let result = tokio::time::timeout(BOUND, timeline::run(rt, opts, std::future::pending()))
        .await
        .expect("the run ends");
    assert_eq!(
        result.report.outcome,
        Outcome::Completed,
        "{:?}",
        result.report.failures
    );
    let max_ready = result.report.points.iter().map(|p| p.backend_ready).max();
    assert_eq!(max_ready, Some(s.backend_scale_replicas));
    assert!(
        result
            .report
            .notes
            .iter()
            .any(|n| n.starts_with("pod latency Ready"))
    );
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get_opt(&s.namespace()).await.unwrap().is_none());
}

/// `scenarios/<file>` as `run --runtime kube --set ...` resolves it, on its own uuid and
/// NodePorts like [`scenario`].
fn shipped(file: &str, sets: &[&str], tag: &str, n: u16) -> Scenario {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../scenarios")
        .join(file);
    let resolved = scenario::resolve(&scenario::ConfigInputs {
        scenario_file: Some(path),
        dotenv_file: None,
        env: Vec::new(),
        sets: sets.iter().map(|s| (*s).to_owned()).collect(),
        platform: Some(scenario::Platform::Kube),
    })
    .unwrap_or_else(|e| panic!("{file} on the kube runtime: {e}"));
    let base = scenario(tag, n);
    let mut s = resolved.scenario;
    s.uuid = base.uuid;
    s.frontend_node_port = base.frontend_node_port;
    s.prometheus_node_port = base.prometheus_node_port;
    s
}

/// Dry-runs (server-side apply, `dryRun=All`) every object of `s` but the namespace, which is
/// created for real and destroyed after; returns the refusals.
async fn dry_run(client: &Client, s: &Scenario) -> Vec<String> {
    let plan = build::plan(s).unwrap();
    // Namespaced dry-runs need the namespace to exist for real.
    orchestrator::kube::api::apply(client, &Object::Namespace(plan.namespace.clone()))
        .await
        .unwrap();
    let pp = PatchParams::apply(orchestrator::kube::api::MANAGER).dry_run();
    let ns = s.namespace();
    let mut failures = Vec::new();
    for o in plan.all().into_iter().skip(1) {
        let name = o.name().to_owned();
        macro_rules! dry {
            ($t:ty, $v:expr) => {{
                let api: Api<$t> = Api::namespaced(client.clone(), &ns);
                api.patch(&name, &pp, &Patch::Apply($v)).await.map(drop)
            }};
        }
        let r = match &o {
            Object::ServiceAccount(v) => dry!(k8s_openapi::api::core::v1::ServiceAccount, v),
            Object::Role(v) => dry!(k8s_openapi::api::rbac::v1::Role, v),
            Object::RoleBinding(v) => dry!(k8s_openapi::api::rbac::v1::RoleBinding, v),
            Object::ConfigMap(v) => dry!(k8s_openapi::api::core::v1::ConfigMap, v),
            Object::Service(v) => dry!(k8s_openapi::api::core::v1::Service, v),
            Object::Deployment(v) => dry!(k8s_openapi::api::apps::v1::Deployment, v),
            Object::DaemonSet(v) => dry!(k8s_openapi::api::apps::v1::DaemonSet, v),
            Object::Job(v) => dry!(k8s_openapi::api::batch::v1::Job, v),
            Object::HorizontalPodAutoscaler(v) => dry!(
                k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
                v
            ),
            Object::ScaledObject(v) => {
                dry!(orchestrator::kube::build::keda::ScaledObject, v)
            }
            Object::ClusterRole(v) => {
                let api: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
                api.patch(&name, &pp, &Patch::Apply(v)).await.map(drop)
            }
            Object::ClusterRoleBinding(v) => {
                let api: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> =
                    Api::all(client.clone());
                api.patch(&name, &pp, &Patch::Apply(v)).await.map(drop)
            }
            Object::Namespace(_) => Ok(()),
        };
        if let Err(e) = r {
            failures.push(format!("{} ({}): {e}", o.describe(), s.uuid));
        }
    }
    orchestrator::kube::destroy(client, &s.uuid, BOUND)
        .await
        .unwrap();
    failures
}

/// The manual story, `scenarios/hpa.toml` on cpu (the metric an HPA reads without a
/// custom-metrics adapter; its own, `utilization`, is refused on a cluster) and
/// `scenarios/keda.toml`, whose ScaledObject needs KEDA's CRD: `./scripts/kind-up.sh --keda`.
#[tokio::test]
#[ignore = "needs cluster"]
async fn every_rendered_object_passes_server_side_validation() {
    let client = client().await;
    let stacks = [
        scenario("render", 2),
        shipped("hpa.toml", &["autoscale_metric=cpu"], "render-hpa", 4),
        shipped("keda.toml", &[], "render-keda", 5),
    ];
    let mut failures = Vec::new();
    for s in &stacks {
        let kinds: Vec<&str> = build::plan(s)
            .unwrap()
            .stack
            .iter()
            .map(Object::kind)
            .collect();
        if s.autoscale.mode.is_auto() {
            // What the dry-run is for: the autoscaler and the frontend's access to it.
            let autoscaler = if s.autoscale.mode == scenario::ScaleMode::Keda {
                "ScaledObject"
            } else {
                "HorizontalPodAutoscaler"
            };
            assert!(kinds.contains(&autoscaler), "{}: {kinds:?}", s.uuid);
            assert!(
                kinds.iter().filter(|k| **k == "Role").count() == 2,
                "{kinds:?}"
            );
        }
        failures.extend(dry_run(&client, s).await);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
#[ignore = "needs cluster"]
async fn destroy_removes_a_stack_left_up() {
    let client = client().await;
    let mut s = scenario("destroy", 3);
    s.prepull = false;
    let mut rt = KubeRuntime::new(client.clone(), s.clone(), KubeOptions::default()).unwrap();
    use orchestrator::runtime::Runtime;
    tokio::time::timeout(BOUND, rt.deploy())
        .await
        .unwrap()
        .unwrap();
    rt.teardown(true).await.unwrap();
    let gone = tokio::time::timeout(BOUND, orchestrator::kube::destroy(&client, &s.uuid, BOUND))
        .await
        .unwrap()
        .unwrap();
    assert!(
        gone.deleted
            .contains(&format!("Namespace {}", s.namespace()))
    );
    let namespaces: Api<Namespace> = Api::all(client);
    assert!(namespaces.get_opt(&s.namespace()).await.unwrap().is_none());
}
