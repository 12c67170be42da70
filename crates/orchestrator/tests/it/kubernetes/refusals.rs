//! What a cluster refuses and how the kube runtime says so, against the fake API server: a
//! namespace it does not own, RBAC, transient errors retried, images that cannot be pulled,
//! Deployments that never get ready.

use std::time::Duration;

use tokio::time::Instant;

use common::HumanDuration;
use orchestrator::kube::{KubeOptions, KubeRuntime};
use orchestrator::runtime::Runtime;

use super::fake::{Behaviour, FakeApi};
use super::run::{NS, bounded, deployments, pod_of, quick, runtime};

#[tokio::test(start_paused = true)]
async fn an_existing_namespace_is_refused_without_reuse_and_left_alone() {
    let fake = FakeApi::start(Behaviour {
        existing_namespace: Some(NS.into()),
        ..Behaviour::default()
    });
    let mut rt = runtime(&fake, quick());
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(
        e.contains(NS) && e.contains("--reuse") && e.contains("destroy --uuid demo-run-001"),
        "{e}"
    );
    // Not ours: stopping and a --cleanup teardown must not touch it.
    bounded(rt.stop_load()).await.unwrap();
    bounded(rt.teardown(false)).await.unwrap();
    assert!(fake.writes().is_empty(), "{:?}", fake.writes());
    assert!(fake.object(&format!("/api/v1/namespaces/{NS}")).is_some());

    let mut s = quick();
    s.prepull = false;
    let mut rt = KubeRuntime::new(
        fake.client.clone(),
        s,
        KubeOptions {
            reuse: true,
            node_host: Some("localhost".into()),
            ..KubeOptions::default()
        },
    )
    .unwrap();
    bounded(rt.deploy()).await.expect("--reuse deploys into it");
}

#[tokio::test(start_paused = true)]
async fn rbac_forbidden_is_named_with_what_to_check() {
    let fake = FakeApi::start(Behaviour {
        forbid: Some(format!("PATCH /apis/apps/v1/namespaces/{NS}/deployments")),
        ..Behaviour::default()
    });
    let mut s = quick();
    s.prepull = false;
    let mut rt = runtime(&fake, s);
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(e.contains("forbidden: applying Deployment/backend"), "{e}");
    assert!(
        e.contains("kubectl auth can-i --list -n app-demo-demo-run-001"),
        "{e}"
    );
    // A 403 is not retried.
    let tries = fake
        .calls()
        .iter()
        .filter(|c| c.path == deployments("backend") && c.is_apply())
        .count();
    assert_eq!(tries, 1);
}

#[tokio::test(start_paused = true)]
async fn transient_api_errors_are_retried_with_backoff() {
    let fake = FakeApi::start(Behaviour {
        transient_apply_failures: 2,
        ..Behaviour::default()
    });
    let mut s = quick();
    s.prepull = false;
    let mut rt = runtime(&fake, s);
    let t0 = Instant::now();
    bounded(rt.deploy()).await.expect("deploy after two 503s");
    let ns_applies = fake
        .calls()
        .iter()
        .filter(|c| c.is_apply() && c.path == format!("/api/v1/namespaces/{NS}"))
        .count();
    assert_eq!(ns_applies, 3);
    assert!(
        t0.elapsed() >= Duration::from_millis(600),
        "200 ms then 400 ms of backoff"
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_pull_error_fails_at_once_naming_the_image_with_the_kind_hint() {
    let image = "kind.local/demo-app-backend:latest";
    let fake = FakeApi::start(Behaviour {
        image_pull_error: Some(image.into()),
        ..Behaviour::default()
    });
    let mut s = quick();
    s.prepull = false;
    s.ready_timeout = HumanDuration::from_secs(60);
    let mut rt = runtime(&fake, s);
    let t0 = Instant::now();
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "did not wait for the timeout"
    );
    let pod = pod_of(&fake, "backend");
    assert!(e.contains(&format!("backend pod {pod}")), "{e}");
    assert!(e.contains("ErrImagePull"), "{e}");
    assert!(
        e.contains(&format!("kind load docker-image {image} --name")),
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_prepull_that_cannot_pull_fails_at_the_timeout_naming_node_and_image() {
    let image = "kind.local/demo-app-load:latest";
    let fake = FakeApi::start(Behaviour {
        image_pull_error: Some(image.into()),
        ..Behaviour::default()
    });
    let mut rt = runtime(&fake, quick());
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(
        e.starts_with("pre-pulling the images on every node was not ready after 5s"),
        "{e}"
    );
    assert!(
        e.contains(&format!("node kind-worker: image {image} ImagePullBackOff")),
        "{e}"
    );
    assert!(e.contains("node kind-worker2"), "{e}");
    assert!(
        e.contains(&format!("kind load docker-image {image}")),
        "{e}"
    );
    // Removed even though it failed, and nothing else was applied.
    let writes = fake.writes();
    assert_eq!(
        writes.last().unwrap(),
        &format!("DELETE /apis/apps/v1/namespaces/{NS}/daemonsets/prepull")
    );
    assert!(
        !writes.iter().any(|w| w.contains("/deployments/")),
        "{writes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deployment_that_never_gets_ready_times_out_saying_what_its_pods_say() {
    let fake = FakeApi::start(Behaviour {
        never_ready: vec!["frontend".into()],
        ..Behaviour::default()
    });
    let mut s = quick();
    s.prepull = false;
    let mut rt = runtime(&fake, s);
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    assert!(
        e.starts_with(
            "Deployment/frontend (0/1 ready) was not ready after 5s (scenario key ready_timeout)"
        ),
        "{e}"
    );
    let pod = pod_of(&fake, "frontend");
    assert!(
        e.contains(&format!("pod {pod} not ready (Running, ContainersReady")),
        "{e}"
    );
}
