//! `iterations = 2` on the kube runtime: every copy's manifests (Redis included) read back
//! into their types, in namespaces `<prefix>-<uuid>-1` and `-2`, labelled with their copy;
//! a whole run of both copies against the fake API server, and `destroy --uuid` removing
//! both namespaces; the client-side rate limit (`kube_qps`, `kube_burst`) as the API server
//! sees it.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Service};
use orchestrator::iterations::{self, Iterations};
use orchestrator::kube::ratelimit::RateLimitLayer;
use orchestrator::kube::{KubeOptions, KubeRuntime, render_manifests};
use orchestrator::report::Outcome;
use orchestrator::runtime::Runtime;
use orchestrator::timeline;
use scenario::{ConfigInputs, Scenario};

use super::fake::{Behaviour, FakeApi};
use super::run::{bounded, options, quick, runtime};
use super::{on_kube, read_back};

const NS1: &str = "app-demo-demo-run-001-1";
const NS2: &str = "app-demo-demo-run-001-2";

fn two_copies(extra: &[&str]) -> Scenario {
    on_kube(&[&["iterations=2"], extra].concat())
}

fn labels(
    m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> &BTreeMap<String, String> {
    m.labels.as_ref().expect("labels")
}

#[test]
fn two_pipeline_copies_render_into_two_labelled_namespaces() {
    let s = two_copies(&["workload=pipeline"]);
    let files = render_manifests(&s).unwrap();
    assert!(
        files
            .iter()
            .all(|(f, _)| f.starts_with("i1-") || f.starts_with("i2-"))
    );
    // Each copy's namespace comes first in its files' order.
    for k in ["i1-", "i2-"] {
        let first = files.iter().find(|(f, _)| f.starts_with(k)).unwrap();
        assert!(first.0.contains("-namespace-"), "{}", first.0);
    }
    let namespaces: Vec<(String, Namespace)> = read_back(&s, "namespace");
    let names: Vec<&str> = namespaces
        .iter()
        .map(|(_, n)| n.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(names, [NS1, NS2]);
    for ((_, n), k) in namespaces.iter().zip(["1", "2"]) {
        let l = labels(&n.metadata);
        assert_eq!(l["load-demo.io/uuid"], "demo-run-001");
        assert_eq!(l["load-demo.io/iteration"], k);
    }
    let deployments: Vec<(String, Deployment)> = read_back(&s, "deployment");
    for (ns, k) in [(NS1, "1"), (NS2, "2")] {
        let mine: Vec<&Deployment> = deployments
            .iter()
            .map(|(_, d)| d)
            .filter(|d| d.metadata.namespace.as_deref() == Some(ns))
            .collect();
        let mut names: Vec<&str> = mine
            .iter()
            .map(|d| d.metadata.name.as_deref().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "backend",
                "frontend",
                "loadgen",
                "prometheus",
                "redis",
                "worker"
            ],
            "{ns}"
        );
        for d in mine {
            assert_eq!(labels(&d.metadata)["load-demo.io/iteration"], k);
            let pod = d.spec.as_ref().unwrap().template.metadata.as_ref().unwrap();
            assert_eq!(labels(pod)["load-demo.io/iteration"], k);
        }
    }
    // NodePorts are cluster-wide: copy 1 takes the scenario's, copy 2 has none.
    let services: Vec<(String, Service)> = read_back(&s, "service");
    let svc = |ns: &str, name: &str| {
        services
            .iter()
            .map(|(_, x)| x)
            .find(|x| {
                x.metadata.namespace.as_deref() == Some(ns)
                    && x.metadata.name.as_deref() == Some(name)
            })
            .and_then(|x| x.spec.as_ref())
            .and_then(|x| x.type_.clone())
            .unwrap_or_else(|| panic!("Service {ns}/{name}"))
    };
    assert_eq!(svc(NS1, "frontend"), "NodePort");
    assert_eq!(svc(NS1, "prometheus"), "NodePort");
    assert_eq!(svc(NS2, "frontend"), "ClusterIP");
    assert_eq!(svc(NS2, "prometheus"), "ClusterIP");
    assert_eq!(svc(NS2, "redis"), "ClusterIP");
    // One copy renders as ever: no prefix, no suffix, no iteration label.
    let one = render_manifests(&Scenario::default()).unwrap();
    assert!(one[0].0.starts_with("00-namespace-"), "{}", one[0].0);
    assert!(!one[0].1.contains("load-demo.io/iteration"));
}

#[test]
fn a_namespace_too_long_for_the_last_copy_is_refused() {
    // 63 characters exactly with one copy; `-10` makes the tenth copy's too long.
    let uuid = "u".repeat(63 - "app-demo-".len());
    let inputs = ConfigInputs {
        sets: vec![format!("uuid={uuid}"), "iterations=10".into()],
        ..ConfigInputs::default()
    };
    let e = scenario::resolve(&inputs).unwrap_err().to_string();
    assert!(e.contains(&format!("{uuid}-10")) && e.contains("63"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn two_copies_run_against_the_api_server_and_destroy_removes_both() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.iterations.count = 2;
    let copies = iterations::copies(&s)
        .into_iter()
        .map(|c| {
            let mut rt = runtime(&fake, c);
            rt.set_run_dir(runs.path().join(&s.uuid));
            rt
        })
        .collect();
    let rt = Iterations::new(copies).unwrap();
    // Left up (no --cleanup): destroy removes it afterwards.
    let result = bounded(timeline::run(
        rt,
        options(s.clone(), runs.path(), true),
        std::future::pending(),
    ))
    .await;
    assert_eq!(
        result.report.outcome,
        Outcome::Completed,
        "{:?}",
        result.report.failures
    );
    let writes = fake.writes();
    for ns in [NS1, NS2] {
        for d in ["backend", "frontend", "loadgen", "prometheus"] {
            let w = format!("PATCH /apis/apps/v1/namespaces/{ns}/deployments/{d}");
            assert!(writes.contains(&w), "{w} in {writes:#?}");
        }
    }
    let r = &result.report;
    let it = r.iterations.as_ref().expect("an iterations section");
    assert_eq!(it.rows.len(), 2);
    assert_eq!(it.rows.iter().map(|x| x.sent).sum::<f64>(), it.total.sent);
    // Every pod of both copies, scheduled, started and ready one stage apart.
    let startup = it.pod_startup.as_ref().expect("pod startup latency");
    let pods = fake.names(&format!("/api/v1/namespaces/{NS1}/pods")).len()
        + fake.names(&format!("/api/v1/namespaces/{NS2}/pods")).len();
    assert!(
        startup.pods as usize >= pods && pods >= 6,
        "{startup:?} vs {pods}"
    );
    let stage = Behaviour::default().stage.as_secs_f64() * 3.0;
    assert!((startup.p50 - stage).abs() < 1e-9, "{startup:?}");
    // Both copies sampled, each under its own prefix, and the replicas summed.
    let usage: Vec<&str> = r
        .points
        .iter()
        .flat_map(|p| &p.usage)
        .map(|u| u.instance.as_str())
        .collect();
    assert!(
        usage.iter().any(|u| u.starts_with("i1/backend-")),
        "{usage:?}"
    );
    assert!(
        usage.iter().any(|u| u.starts_with("i2/backend-")),
        "{usage:?}"
    );
    assert_eq!(r.points.iter().map(|p| p.backend_ready).max(), Some(4));
    let md = std::fs::read_to_string(runs.path().join("demo-run-001/report.md")).unwrap();
    assert!(md.contains("pods (created → ready): p50"), "{md}");
    // Each copy's kube.json in its own directory, and its notes in the one report, named
    // by copy: both copies tore down at once, and neither lost the other's notes.
    let stored = orchestrator::report::Report::read(&runs.path().join("demo-run-001")).unwrap();
    for (k, ns) in [(1, NS1), (2, NS2)] {
        let kube: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(runs.path().join(format!("demo-run-001/i{k}/kube.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(kube["namespace"], ns);
        assert!(
            stored
                .notes
                .iter()
                .any(|n| n.starts_with(&format!("i{k}: pod latency "))),
            "{:#?}",
            stored.notes
        );
    }
    assert!(fake.object(&format!("/api/v1/namespaces/{NS1}")).is_some());

    let out = tokio::time::timeout(
        Duration::from_secs(60),
        orchestrator::kube::destroy(&fake.client, &s.uuid, Duration::from_secs(30)),
    )
    .await
    .unwrap()
    .expect("destroy");
    for ns in [NS1, NS2] {
        assert!(
            out.deleted.contains(&format!("Namespace {ns}")),
            "{:?}",
            out.deleted
        );
        assert!(fake.object(&format!("/api/v1/namespaces/{ns}")).is_none());
    }
}

#[tokio::test(start_paused = true)]
async fn the_api_server_sees_a_burst_then_at_most_qps_requests_a_second() {
    let fake = FakeApi::start(Behaviour::default());
    let (qps, burst) = (40.0, 10_u32);
    let client = fake.client_with(&RateLimitLayer::new(qps, burst));
    let mut s = quick();
    s.iterations.count = 2;
    s.ready_timeout = common::HumanDuration::from_secs(60);
    let copies = iterations::copies(&s)
        .into_iter()
        .map(|c| {
            let options = KubeOptions {
                node_host: Some("localhost".into()),
                ..KubeOptions::default()
            };
            KubeRuntime::new(client.clone(), c, options).expect("the scenario builds")
        })
        .collect();
    let mut rt = Iterations::new(copies).unwrap();
    let start = tokio::time::Instant::now();
    let deploy = tokio::spawn(async move {
        let result = rt.deploy().await;
        (rt, result)
    });
    let mut seen = Vec::new();
    while !deploy.is_finished() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen.push((start.elapsed().as_secs_f64(), fake.calls().len()));
    }
    let (mut rt, result) = bounded(deploy).await.unwrap();
    result.expect("both copies deploy under the limit");
    for (t, n) in &seen {
        let allowed = f64::from(burst) + qps * t;
        assert!(
            *n as f64 <= allowed,
            "{n} requests after {t} s, at most {allowed}"
        );
    }
    // The limit did hold the deploy back: more requests than a burst, spread over time.
    let total = fake.calls().len();
    assert!(total > 3 * burst as usize, "{total}");
    let needed = (total - burst as usize) as f64 / qps;
    let (last_t, _) = seen.last().copied().unwrap();
    assert!(last_t >= needed - 0.05, "{total} requests in {last_t} s");
    bounded(rt.teardown(false)).await.unwrap();
}
