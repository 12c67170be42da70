//! Whole kube runs against the fake API server: the report with pod latency, cleanup or a
//! stack left up, and the failures that still write a partial report; and the helpers every
//! kube runtime test shares. Each test is bounded by a timeout.

use std::future::Future;
use std::time::Duration;

use common::HumanDuration;
use orchestrator::kube::{KubeOptions, KubeRuntime};
use orchestrator::report::Outcome;
use orchestrator::timeline::{self, RunOptions};
use scenario::Scenario;

use super::fake::{Behaviour, FakeApi};

pub(crate) const NS: &str = "app-demo-demo-run-001";
pub(crate) const MANAGER: &str = "load-demo-orchestrator";

/// Guards against a hang, not a timing assertion: on the paused clock the bound is virtual
/// time, which jumps ahead to the next timer whenever every task waits (on blocking file or
/// pipe work too), so it is set well above what a whole run with `--cleanup` takes.
pub(crate) async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(120), f)
        .await
        .expect("the test finished within 120 s of the paused clock")
}

/// The default scenario with pauses short enough for a test.
pub(crate) fn quick() -> Scenario {
    let mut s = Scenario::default();
    s.baseline_pause = HumanDuration::from_millis(100);
    s.load_pause = HumanDuration::from_millis(100);
    s.load_scale_delay = HumanDuration::from_millis(100);
    s.ready_timeout = HumanDuration::from_secs(5);
    s
}

pub(crate) fn runtime(fake: &FakeApi, s: Scenario) -> KubeRuntime {
    KubeRuntime::new(
        fake.client.clone(),
        s,
        KubeOptions {
            node_host: Some("localhost".into()),
            ..KubeOptions::default()
        },
    )
    .expect("the scenario builds")
}

/// The first pod of a workload, whatever name its controller gave it.
pub(crate) fn pod_of(fake: &FakeApi, workload: &str) -> String {
    fake.names(&format!("/api/v1/namespaces/{NS}/pods"))
        .into_iter()
        .find(|p| p.starts_with(&format!("{workload}-")))
        .unwrap_or_else(|| panic!("no pod of {workload}"))
}

pub(crate) fn deployments(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}")
}

pub(crate) fn options(s: Scenario, runs: &std::path::Path, keep: bool) -> RunOptions {
    RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: runs.to_owned(),
        hold: false,
        keep,
        progress: false,
    }
}

/// A whole run of `s` against `fake` with `--cleanup`, its report under `runs`, checked to
/// have completed.
pub(crate) async fn completed_run(
    fake: &FakeApi,
    s: &Scenario,
    runs: &std::path::Path,
) -> timeline::RunResult {
    let mut rt = runtime(fake, s.clone());
    rt.set_run_dir(runs.join(&s.uuid));
    let result = bounded(timeline::run(
        rt,
        options(s.clone(), runs, false),
        std::future::pending(),
    ))
    .await;
    assert_eq!(
        result.report.outcome,
        Outcome::Completed,
        "{:?}",
        result.report.failures
    );
    result
}

#[tokio::test(start_paused = true)]
async fn a_whole_run_reports_pod_latency_and_cleanup_removes_the_namespace() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let result = completed_run(&fake, &quick(), runs.path()).await;
    assert_eq!(result.exit_code(), 0);
    let dir = runs.path().join("demo-run-001");
    let report = orchestrator::report::Report::read(&dir).unwrap();
    assert_eq!(report.runtime, "kube");
    // Sampled through the pod proxy: every pod answered, and the scale-up shows. From the
    // unload on, a sample may list the load generator's pod just before it is deleted and
    // then miss it: a named gap, as the resource-use contract asks.
    let unload = report.phase(timeline::phase::UNLOAD).unwrap().start;
    assert!(
        report
            .points
            .iter()
            .filter(|p| p.t < unload)
            .all(|p| p.gaps.is_empty()),
        "{:?}",
        report.points
    );
    assert_eq!(report.points.iter().map(|p| p.backend_ready).max(), Some(2));
    // The pods' CPU, memory and network from the nodes' cAdvisor pages (node proxy).
    let backend_cpu =
        report.points.iter().flat_map(|p| &p.usage).any(|u| {
            u.component == "backend" && u.cpu_seconds.is_some() && u.net_rx_bytes.is_some()
        });
    assert!(backend_cpu, "{:?}", report.points.last());
    let section = report.resources.as_ref().unwrap();
    assert!(
        section.source.cpu.contains("cAdvisor"),
        "{:?}",
        section.source
    );
    assert!(report.points.last().unwrap().totals.served > 0.0);
    let ready = report
        .notes
        .iter()
        .find(|n| n.starts_with("pod latency Ready:"))
        .expect("pod latency in the report");
    // The fake's pods are scheduled, started and ready one stage apart.
    let stage = Behaviour::default().stage.as_millis() * 3;
    assert!(ready.contains(&format!("p50 {stage} ms")), "{ready}");
    let kube: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("kube.json")).unwrap()).unwrap();
    let rows = kube["pod_latency"].as_array().unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r["condition"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
    );
    assert!(kube["pod_latency_by_component"]["backend"].is_array());
    // Scaled to 2 during the run, load deleted, then the namespace, waited for.
    let writes = fake.writes();
    assert!(
        writes.contains(&format!(
            "DELETE /apis/apps/v1/namespaces/{NS}/deployments/loadgen"
        )),
        "{writes:#?}"
    );
    assert_eq!(
        writes.last().unwrap(),
        &format!("DELETE /api/v1/namespaces/{NS}")
    );
    assert!(fake.object(&format!("/api/v1/namespaces/{NS}")).is_none());
}

#[tokio::test(start_paused = true)]
async fn without_cleanup_the_stack_stays_up() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.prepull = false;
    s.enable_load = false;
    let rt = runtime(&fake, s.clone());
    let result = bounded(timeline::run(
        rt,
        options(s, runs.path(), true),
        std::future::pending(),
    ))
    .await;
    assert_eq!(result.report.outcome, Outcome::Completed);
    assert!(fake.object(&deployments("backend")).is_some());
    assert!(!fake.writes().iter().any(|w| w.starts_with("DELETE")));
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_still_writes_its_partial_report_with_the_reason() {
    let image = "kind.local/demo-app-frontend:latest";
    let fake = FakeApi::start(Behaviour {
        image_pull_error: Some(image.into()),
        ..Behaviour::default()
    });
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.prepull = false;
    s.ready_timeout = HumanDuration::from_secs(60);
    let mut rt = runtime(&fake, s.clone());
    rt.set_run_dir(runs.path().join("demo-run-001"));
    let result = bounded(timeline::run(
        rt,
        options(s, runs.path(), true),
        std::future::pending(),
    ))
    .await;
    assert_eq!(result.exit_code(), 1);
    let report = orchestrator::report::Report::read(&runs.path().join("demo-run-001")).unwrap();
    let Outcome::Failed { phase, error } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!(phase, "deploy");
    assert!(
        error.contains("frontend") && error.contains(&format!("kind load docker-image {image}")),
        "{error}"
    );
    // The Warning events of the namespace are in the report.
    let pod = pod_of(&fake, "frontend");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains(&format!("Pod/{pod} Failed: Failed to pull image"))),
        "{:?}",
        report.notes
    );
}

#[tokio::test(start_paused = true)]
async fn a_timeout_fails_the_run_with_a_partial_report() {
    let fake = FakeApi::start(Behaviour {
        never_ready: vec!["backend".into()],
        ..Behaviour::default()
    });
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.prepull = false;
    let rt = runtime(&fake, s.clone());
    let result = bounded(timeline::run(
        rt,
        options(s, runs.path(), true),
        std::future::pending(),
    ))
    .await;
    assert_eq!(result.exit_code(), 1);
    let report = orchestrator::report::Report::read(&runs.path().join("demo-run-001")).unwrap();
    let Outcome::Failed { error, .. } = &report.outcome else {
        panic!()
    };
    assert!(
        error.contains("Deployment/backend (0/1 ready) was not ready after 5s"),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_forbidden_apply_fails_the_run_with_a_partial_report() {
    let fake = FakeApi::start(Behaviour {
        forbid: Some(format!("PATCH /api/v1/namespaces/{NS}/configmaps")),
        ..Behaviour::default()
    });
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.prepull = false;
    let rt = runtime(&fake, s.clone());
    let result = bounded(timeline::run(
        rt,
        options(s, runs.path(), false),
        std::future::pending(),
    ))
    .await;
    assert_eq!(result.exit_code(), 1);
    let report = orchestrator::report::Report::read(&runs.path().join("demo-run-001")).unwrap();
    let Outcome::Failed { phase, error } = &report.outcome else {
        panic!("{:?}", report.outcome)
    };
    assert_eq!(phase, "deploy");
    assert!(
        error.contains("forbidden: applying ConfigMap/prometheus-config"),
        "{error}"
    );
    // --cleanup still removes what the run created.
    assert_eq!(
        fake.writes().last().unwrap(),
        &format!("DELETE /api/v1/namespaces/{NS}")
    );
}

/// A metrics API that answers 503 and cAdvisor pages that are not Prometheus text: named
/// gaps in the report, and the run completes.
#[tokio::test(start_paused = true)]
async fn unreadable_resource_sources_are_named_gaps_not_a_failed_run() {
    let fake = FakeApi::start(Behaviour {
        cadvisor_garbage: true,
        ..Behaviour::default()
    });
    fake.fail(super::fake::Fault {
        verb: None,
        path: "/apis/metrics.k8s.io/".into(),
        code: 503,
        retry_after: None,
        times: u32::MAX,
    });
    let runs = tempfile::tempdir().unwrap();
    let mut rt = runtime(&fake, quick());
    rt.set_run_dir(runs.path().join("demo-run-001"));
    let result = bounded(timeline::run(
        rt,
        options(quick(), runs.path(), false),
        std::future::pending(),
    ))
    .await;
    assert_eq!(result.exit_code(), 0, "{:?}", result.report.failures);
    let gaps = &result.report.resources.as_ref().unwrap().gaps;
    assert!(
        gaps.iter().any(|g| g.contains("cAdvisor of node")),
        "{gaps:?}"
    );
    assert!(
        gaps.iter()
            .any(|g| g.contains("metrics API (metrics.k8s.io): HTTP 503")),
        "{gaps:?}"
    );
}
