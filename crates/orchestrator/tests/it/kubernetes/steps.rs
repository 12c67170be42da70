//! The kube runtime's steps one by one against the fake API server: the deploy's applies in
//! order and its waits' watches, the scale patch, and metrics through the pod proxy.

use std::time::Duration;

use orchestrator::runtime::{MetricsSource, Runtime};

use super::fake::{Behaviour, FakeApi};
use super::run::{MANAGER, NS, bounded, deployments, pod_of, quick, runtime};

#[tokio::test(start_paused = true)]
async fn deploy_applies_in_order_and_waits_through_watches() {
    let fake = FakeApi::start(Behaviour::default());
    let mut rt = runtime(&fake, quick());
    let deployed = bounded(rt.deploy()).await.expect("deploy");
    assert!(
        deployed
            .notes
            .iter()
            .any(|n| n.starts_with("pre-pull: 4 images on 2 nodes")),
        "{:?}",
        deployed.notes
    );
    let writes = fake.writes();
    let p = |what: &str| format!("PATCH {what}");
    assert_eq!(
        writes,
        [
            p(&format!("/api/v1/namespaces/{NS}")),
            p(&format!("/apis/apps/v1/namespaces/{NS}/daemonsets/prepull")),
            format!("DELETE /apis/apps/v1/namespaces/{NS}/daemonsets/prepull"),
            p(&format!(
                "/api/v1/namespaces/{NS}/serviceaccounts/prometheus"
            )),
            p(&format!(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/roles/prometheus"
            )),
            p(&format!(
                "/apis/rbac.authorization.k8s.io/v1/namespaces/{NS}/rolebindings/prometheus"
            )),
            p(&format!(
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/{NS}-prometheus-cadvisor"
            )),
            p(&format!(
                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{NS}-prometheus-cadvisor"
            )),
            p(&format!(
                "/api/v1/namespaces/{NS}/configmaps/prometheus-config"
            )),
            p(&format!("/api/v1/namespaces/{NS}/services/backend")),
            p(&format!(
                "/api/v1/namespaces/{NS}/services/backend-headless"
            )),
            p(&deployments("backend")),
            p(&format!("/api/v1/namespaces/{NS}/services/frontend")),
            p(&deployments("frontend")),
            p(&format!("/api/v1/namespaces/{NS}/services/prometheus")),
            p(&deployments("prometheus")),
        ]
    );
    let calls = fake.calls();
    // Every apply is server-side, by the one field manager, forced.
    for c in calls.iter().filter(|c| c.is_apply()) {
        assert_eq!(
            c.query.get("fieldManager").map(String::as_str),
            Some(MANAGER),
            "{}",
            c.line()
        );
        assert_eq!(
            c.query.get("force").map(String::as_str),
            Some("true"),
            "{}",
            c.line()
        );
    }
    // Readiness came through watches of each Deployment, not polling.
    for name in ["backend", "frontend", "prometheus"] {
        let watched = calls.iter().any(|c| {
            c.is_watch()
                && c.path == format!("/apis/apps/v1/namespaces/{NS}/deployments")
                && c.query.get("fieldSelector").map(String::as_str)
                    == Some(&format!("metadata.name={name}"))
        });
        assert!(watched, "no watch of Deployment/{name}");
    }
    // The pod tracker watches the run's pods by uuid.
    assert!(calls.iter().any(|c| c.is_watch()
        && c.path == format!("/api/v1/namespaces/{NS}/pods")
        && c.query.get("labelSelector").map(String::as_str)
            == Some("load-demo.io/uuid=demo-run-001")));
    assert_eq!(
        rt.endpoints()
            .iter()
            .map(|e| e.url.as_str())
            .collect::<Vec<_>>()[..2],
        ["http://localhost:30080", "http://localhost:30090"]
    );
}

#[tokio::test(start_paused = true)]
async fn scale_is_an_apply_of_the_backend_replicas_and_waits_for_them() {
    let fake = FakeApi::start(Behaviour::default());
    let mut s = quick();
    s.prepull = false;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    let before = fake.calls().len();
    bounded(rt.scale_backend(3)).await.expect("scale");
    let calls = fake.calls();
    let patches: Vec<_> = calls[before..].iter().filter(|c| c.is_apply()).collect();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].path, deployments("backend"));
    let body = patches[0].body.clone().unwrap();
    assert_eq!(body["spec"]["replicas"], 3);
    assert_eq!(body["kind"], "Deployment");
    // The wait watched the Deployment after the patch.
    assert!(
        calls[before..]
            .iter()
            .any(|c| c.is_watch() && c.path.ends_with("/deployments"))
    );
    let stored = fake.object(&deployments("backend")).unwrap();
    assert_eq!(stored["status"]["readyReplicas"], 3);
    // The sampler sees three ready replicas of three asked for.
    let round = bounded(async {
        let m = rt.metrics();
        loop {
            let r = m.scrape().await;
            if r.backend_ready == 3 {
                break r;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(round.backend_desired, 3);
}

#[tokio::test(start_paused = true)]
async fn metrics_go_through_the_pod_proxy_and_an_unreachable_pod_is_a_gap() {
    let fake = FakeApi::start(Behaviour {
        unreachable_pods: vec!["backend-".into()],
        ..Behaviour::default()
    });
    let mut s = quick();
    s.prepull = false;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    let round = bounded(rt.metrics().scrape()).await;
    let by: std::collections::BTreeMap<_, _> = round
        .targets
        .iter()
        .map(|t| (t.instance.as_str(), &t.result))
        .collect();
    let (backend_pod, frontend_pod) = (pod_of(&fake, "backend"), pod_of(&fake, "frontend"));
    let backend = by[backend_pod.as_str()].as_ref().unwrap_err();
    assert!(
        backend.contains("could not reach the pod") && backend.contains("503"),
        "{backend}"
    );
    let frontend = by[frontend_pod.as_str()].as_ref().unwrap();
    // The page parses as Prometheus text, as the sampler will read it.
    let parsed = common::exposition::parse(frontend).unwrap();
    assert_eq!(parsed[0].label("pod"), Some(frontend_pod.as_str()));
    assert!(
        !by.keys().any(|k| k.starts_with("prometheus-")),
        "Prometheus is not sampled"
    );
    assert!(fake.calls().iter().any(
        |c| c.path == format!("/api/v1/namespaces/{NS}/pods/{frontend_pod}:8080/proxy/metrics")
    ));
    assert_eq!((round.backend_ready, round.backend_desired), (1, 1));
}
