//! What a real cluster does that the old fake did not, one test per defect of issue 17:
//! each failed against the kinder fake (or the old runtime) and passes now.

use std::time::Duration;

use common::HumanDuration;
use orchestrator::kube::build::{self, Object};
use orchestrator::kube::{KubeOptions, KubeRuntime};
use orchestrator::runtime::{MetricsSource, Runtime};
use scenario::LoadgenKind;
use serde_json::json;
use tokio::time::Instant;

use super::fake::{Behaviour, FakeApi};
use super::run::{NS, bounded, pod_of, quick, runtime};

fn no_prepull() -> scenario::Scenario {
    let mut s = quick();
    s.prepull = false;
    s
}

#[tokio::test(start_paused = true)]
async fn a_node_port_held_by_another_run_stops_the_deploy_before_anything_is_applied() {
    let fake = FakeApi::start(Behaviour::default());
    fake.insert(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app-demo-other"}}),
    );
    fake.insert(
        "/api/v1/namespaces/app-demo-other/services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "frontend", "namespace": "app-demo-other", "labels": {"load-demo.io/uuid": "other"}},
            "spec": {"type": "NodePort", "ports": [{"port": 8080, "nodePort": 30080}]}}),
    );
    let mut rt = runtime(&fake, no_prepull());
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(
        e.contains("NodePort 30080 (scenario key frontend_node_port)"),
        "{e}"
    );
    assert!(
        e.contains("Service app-demo-other/frontend of run other"),
        "{e}"
    );
    assert!(e.contains("orchestrator destroy --uuid other"), "{e}");
    assert!(e.contains("such as 30000"), "{e}");
    assert!(
        fake.writes().is_empty(),
        "nothing half-built: {:?}",
        fake.writes()
    );
}

#[tokio::test(start_paused = true)]
async fn a_node_port_left_at_its_default_moves_to_a_free_one_when_another_run_holds_it() {
    let fake = FakeApi::start(Behaviour::default());
    fake.insert(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app-demo-other"}}),
    );
    fake.insert(
        "/api/v1/namespaces/app-demo-other/services",
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "frontend", "namespace": "app-demo-other", "labels": {"load-demo.io/uuid": "other"}},
            "spec": {"type": "NodePort", "ports": [{"port": 8080, "nodePort": 30080}]}}),
    );
    let options = KubeOptions {
        node_host: Some("localhost".into()),
        movable_node_ports: vec!["frontend_node_port", "prometheus_node_port"],
        ..KubeOptions::default()
    };
    let mut rt = KubeRuntime::new(fake.client.clone(), no_prepull(), options).unwrap();
    let deployed = bounded(rt.deploy()).await.expect("the deploy goes on");
    // The fake's API server refuses an allocated NodePort with 422, as a real one does: the
    // deploy got through, so the Service asked for another.
    let svc = fake
        .object(&format!("/api/v1/namespaces/{NS}/services/frontend"))
        .expect("the frontend Service was applied");
    let port = svc["spec"]["ports"][0]["nodePort"].as_u64().unwrap();
    assert_ne!(port, 30080);
    assert!((30000..=32767).contains(&port), "{port}");
    assert!(
        deployed.notes.iter().any(|n| n
            .contains("frontend_node_port: 30080 is held by Service app-demo-other/frontend")
            && n.contains(&format!("this run uses {port}"))),
        "the move is said: {:?}",
        deployed.notes
    );
    let ui = rt
        .endpoints()
        .into_iter()
        .find(|e| e.url.contains(&port.to_string()));
    assert!(
        ui.is_some(),
        "the UI's URL has the new port: {:?}",
        rt.endpoints()
    );
}

#[tokio::test(start_paused = true)]
async fn destroying_a_namespace_that_is_already_terminating_waits_for_it() {
    let fake = FakeApi::start(Behaviour::default());
    fake.insert(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "app-demo-r1", "labels": {"load-demo.io/uuid": "r1"}}}),
    );
    // Someone (an interrupted destroy, a --cleanup) deleted it already.
    fake.delete("/api/v1/namespaces/app-demo-r1");
    let out = bounded(orchestrator::kube::destroy(
        &fake.client,
        "r1",
        Duration::from_secs(30),
    ))
    .await
    .expect("a 409 on a terminating namespace is not a failure");
    assert_eq!(out.deleted, ["Namespace app-demo-r1"]);
    assert!(fake.object("/api/v1/namespaces/app-demo-r1").is_none());
}

#[tokio::test(start_paused = true)]
async fn waits_survive_watches_that_break_and_expire() {
    let fake = FakeApi::start(Behaviour::default());
    let mut rt = runtime(&fake, no_prepull());
    let (deployed, ()) = tokio::join!(bounded(rt.deploy()), async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // History compacted and every watch ended with an error: resuming answers 410.
        fake.compact();
        fake.break_watches(Some(500));
    });
    deployed.expect("the waits resume after the watch errors");
    let watches = fake
        .calls()
        .iter()
        .filter(|c| {
            c.is_watch()
                && c.query.get("fieldSelector").map(String::as_str) == Some("metadata.name=backend")
        })
        .count();
    assert!(watches >= 2, "the backend's wait watched again ({watches})");
}

#[tokio::test(start_paused = true)]
async fn a_pull_error_that_recovers_is_reported_but_the_pod_counts() {
    let image = "prom/prometheus:v2.54.0";
    let fake = FakeApi::start(Behaviour {
        image_pull_error: Some(image.into()),
        pull_recovers_after: Some(Duration::from_secs(20)),
        ..Behaviour::default()
    });
    let mut s = no_prepull();
    s.ready_timeout = HumanDuration::from_secs(120);
    let mut rt = runtime(&fake, s);
    tokio::time::timeout(Duration::from_secs(120), rt.deploy())
        .await
        .unwrap()
        .expect("the pull recovered within the bound");
    let reported = rt.pods().reported();
    assert!(
        reported
            .iter()
            .any(|r| r.starts_with("prometheus-") && r.contains("ErrImagePull")),
        "{reported:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pull_error_that_persists_fails_after_the_bound_not_the_timeout() {
    let fake = FakeApi::start(Behaviour {
        image_pull_error: Some("prom/prometheus:v2.54.0".into()),
        pull_recovers_after: Some(Duration::from_secs(3600)),
        ..Behaviour::default()
    });
    let mut s = no_prepull();
    s.ready_timeout = HumanDuration::from_secs(300);
    let mut rt = runtime(&fake, s);
    let t0 = Instant::now();
    let e = tokio::time::timeout(Duration::from_secs(400), rt.deploy())
        .await
        .unwrap()
        .unwrap_err()
        .to_string();
    let took = t0.elapsed();
    let bound = orchestrator::kube::pods::PROBLEM_BOUND;
    assert!(
        took >= bound && took < bound + Duration::from_secs(10),
        "{took:?}"
    );
    assert!(
        e.contains("still so after 60 s of retries") && e.contains("prometheus"),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_changed_spec_with_reuse_waits_for_the_rollout_not_for_ready_replicas() {
    let fake = FakeApi::start(Behaviour::default());
    let mut rt = runtime(&fake, no_prepull());
    bounded(rt.deploy()).await.expect("first deploy");
    let old = pod_of(&fake, "backend");
    let hash = |p: &serde_json::Value| p["metadata"]["labels"]["pod-template-hash"].clone();
    let old_hash = hash(
        &fake
            .object(&format!("/api/v1/namespaces/{NS}/pods/{old}"))
            .unwrap(),
    );
    let mut s = no_prepull();
    s.backend_capacity.workers += 1;
    let options = KubeOptions {
        reuse: true,
        node_host: Some("localhost".into()),
        ..KubeOptions::default()
    };
    let mut rt = KubeRuntime::new(fake.client.clone(), s, options).unwrap();
    bounded(rt.deploy()).await.expect("second deploy");
    // Done means the new pod is ready and the old one is on its way out, not "1 ready".
    let live: Vec<_> = fake
        .names(&format!("/api/v1/namespaces/{NS}/pods"))
        .into_iter()
        .filter(|p| p.starts_with("backend-"))
        .filter_map(|p| fake.object(&format!("/api/v1/namespaces/{NS}/pods/{p}")))
        .filter(|p| p["metadata"].get("deletionTimestamp").is_none())
        .collect();
    assert_eq!(live.len(), 1, "{live:#?}");
    assert_ne!(hash(&live[0]), old_hash, "the new template runs");
    let ready = live[0]["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(ready, "{:#?}", live[0]["status"]);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_with_no_pod_at_all_says_what_the_replica_set_was_told() {
    let fake = FakeApi::start(Behaviour {
        pod_quota: Some(0),
        ..Behaviour::default()
    });
    let mut rt = runtime(&fake, no_prepull());
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(
        e.starts_with("Deployment/backend (0/1 ready)") && e.contains("not ready after 5s"),
        "{e}"
    );
    assert!(
        e.contains("ReplicaSet/backend-")
            && e.contains("FailedCreate")
            && e.contains("exceeded quota"),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn finished_job_pods_are_not_scraped() {
    let fake = FakeApi::start(Behaviour {
        job_runs_for: Some(Duration::from_secs(2)),
        ..Behaviour::default()
    });
    let mut s = no_prepull();
    s.loadgen_kind = LoadgenKind::Job;
    s.loadgen.replicas = 2;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    bounded(rt.start_load()).await.expect("start");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let done = fake
        .object(&format!(
            "/api/v1/namespaces/{NS}/pods/{}",
            pod_of(&fake, "loadgen")
        ))
        .unwrap();
    assert_eq!(done["status"]["phase"], "Succeeded");
    assert!(
        done["status"]["podIP"].is_string(),
        "a finished pod keeps its IP"
    );
    let round = bounded(rt.metrics().scrape()).await;
    assert!(
        !round
            .targets
            .iter()
            .any(|t| t.instance.starts_with("loadgen-")),
        "{:?}",
        round.targets
    );
    assert!(
        round.targets.iter().all(|t| t.result.is_ok()),
        "no gap: {:?}",
        round.targets
    );
}

#[tokio::test(start_paused = true)]
async fn new_objects_in_a_terminating_namespace_are_not_called_an_rbac_problem() {
    let fake = FakeApi::start(Behaviour::default());
    let s = no_prepull();
    let plan = build::plan(&s).unwrap();
    orchestrator::kube::api::apply(&fake.client, &Object::Namespace(plan.namespace.clone()))
        .await
        .unwrap();
    fake.delete(&format!("/api/v1/namespaces/{NS}"));
    let sa = plan
        .stack
        .iter()
        .find(|o| matches!(o, Object::ServiceAccount(_)))
        .unwrap();
    let e = orchestrator::kube::api::apply(&fake.client, sa)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("namespace {NS} is being deleted")),
        "{e}"
    );
    assert!(!e.contains("auth can-i"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn stopping_a_job_load_generator_gets_its_grace_period() {
    let fake = FakeApi::start(Behaviour {
        pod_stop: Duration::from_secs(25),
        ..Behaviour::default()
    });
    let mut s = no_prepull();
    s.loadgen_kind = LoadgenKind::Job;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    bounded(rt.start_load()).await.expect("start");
    let bound = rt.stop_timeout();
    assert!(bound > Duration::from_secs(30), "{bound:?}");
    let t0 = Instant::now();
    tokio::time::timeout(bound, rt.stop_load())
        .await
        .expect("within the bound")
        .expect("stopped");
    // SIGTERM, a 25 s drain and the Job's finalizer: more than the old 10 s.
    assert!(
        t0.elapsed() >= Duration::from_secs(25),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        !fake
            .names(&format!("/api/v1/namespaces/{NS}/pods"))
            .iter()
            .any(|p| p.starts_with("loadgen"))
    );
}
