//! The kube runtime's API conversation against the fake API server: applies in order, the
//! waits' watches, the scale patch, the delete by label, and the failure paths with their
//! messages and partial reports. Each test is bounded by a timeout.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use common::HumanDuration;
use orchestrator::kube::{KubeOptions, KubeRuntime};
use orchestrator::report::Outcome;
use orchestrator::runtime::{MetricsSource, Runtime};
use orchestrator::timeline::{self, RunOptions};
use scenario::{LoadgenKind, Scenario};

use super::fake::{Behaviour, FakeApi};

pub(crate) const NS: &str = "app-demo-demo-run-001";
const MANAGER: &str = "load-demo-orchestrator";

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

fn deployments(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{NS}/deployments/{name}")
}

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
async fn load_starts_per_shard_and_stops_by_its_job_label() {
    let fake = FakeApi::start(Behaviour::default());
    let mut s = quick();
    s.prepull = false;
    s.loadgen.replicas = 2;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    bounded(rt.start_load()).await.expect("start load");
    let pods = fake.names(&format!("/api/v1/namespaces/{NS}/pods"));
    assert!(pods.iter().any(|p| p.starts_with("loadgen-0-")), "{pods:?}");
    assert!(pods.iter().any(|p| p.starts_with("loadgen-1-")), "{pods:?}");
    let before = fake.calls().len();
    bounded(rt.stop_load()).await.expect("stop load");
    let calls = fake.calls();
    let selector = "load-demo.io/job=loadgen,load-demo.io/uuid=demo-run-001";
    let lines: Vec<_> = calls[before..].iter().map(|c| c.line()).collect();
    assert!(
        lines.contains(&format!(
            "GET /apis/apps/v1/namespaces/{NS}/deployments?labelSelector={selector}"
        )),
        "{lines:#?}"
    );
    for d in ["loadgen-0", "loadgen-1"] {
        assert!(
            lines.contains(&format!("DELETE {}", deployments(d))),
            "{lines:#?}"
        );
    }
    assert!(
        lines.contains(&format!("DELETE /api/v1/namespaces/{NS}/services/loadgen")),
        "{lines:#?}"
    );
    // Deleted in the background (its ReplicaSets and pods go too).
    let delete = calls[before..]
        .iter()
        .find(|c| c.method == "DELETE")
        .unwrap();
    assert_eq!(
        delete.body.as_ref().unwrap()["propagationPolicy"],
        "Background"
    );
    // And the wait listed (then would watch) the pods by the same label until none was left.
    assert!(calls[before..].iter().any(|c| c.method == "GET"
        && c.path == format!("/api/v1/namespaces/{NS}/pods")
        && c.query.get("labelSelector").map(String::as_str) == Some(selector)));
    let pods = fake.names(&format!("/api/v1/namespaces/{NS}/pods"));
    assert!(!pods.iter().any(|p| p.starts_with("loadgen")), "{pods:?}");
    assert!(
        pods.iter().any(|p| p.starts_with("backend")),
        "the rest stays: {pods:?}"
    );
    // Stopping again is a no-op, not an error.
    bounded(rt.stop_load()).await.expect("stop load twice");
}

#[tokio::test(start_paused = true)]
async fn the_loadgen_job_waits_for_all_its_pods() {
    let fake = FakeApi::start(Behaviour::default());
    let mut s = quick();
    s.prepull = false;
    s.loadgen.replicas = 3;
    s.loadgen_kind = LoadgenKind::Job;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    bounded(rt.start_load()).await.expect("start load");
    assert_eq!(rt.pods().ready(orchestrator::kube::meta::Job::LOADGEN), 3);
    let job = fake
        .object(&format!("/apis/batch/v1/namespaces/{NS}/jobs/loadgen"))
        .unwrap();
    assert_eq!(job["spec"]["completionMode"], "Indexed");
    bounded(rt.stop_load()).await.expect("stop load");
    assert!(
        fake.object(&format!("/apis/batch/v1/namespaces/{NS}/jobs/loadgen"))
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn each_plan_runs_its_own_shards_scraped_by_plan_and_all_stop_together() {
    let fake = FakeApi::start(Behaviour::default());
    let mut s = super::two_plans(LoadgenKind::Deployment);
    s.baseline_pause = quick().baseline_pause;
    s.ready_timeout = quick().ready_timeout;
    s.prepull = false;
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    bounded(rt.start_load()).await.expect("start load");
    let workloads = [
        ("loadgen-checkout-0", "checkout", "book_ticket"),
        ("loadgen-checkout-1", "checkout", "book_ticket"),
        ("loadgen-reviews-0", "reviews", "give_feedback"),
        ("loadgen-reviews-1", "reviews", "give_feedback"),
    ];
    let round = bounded(rt.metrics().scrape()).await;
    for (name, plan, actions) in workloads {
        let d = fake.object(&deployments(name)).expect(name);
        assert_eq!(d["metadata"]["labels"]["load-demo.io/plan"], plan, "{name}");
        let args = d["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
        assert!(
            args.contains(&format!("\"--actions\",\"{actions}\"")),
            "{args}"
        );
        // The sampler knows each generator's plan from its pod's label.
        let pod = pod_of(&fake, name);
        let target = round
            .targets
            .iter()
            .find(|t| t.instance == pod)
            .expect(name);
        assert_eq!(target.plan.as_deref(), Some(plan), "{pod}");
    }
    assert!(round.targets.iter().all(|t| {
        t.plan.is_some() == (t.component == orchestrator::runtime::ComponentKind::Loadgen)
    }));
    let before = fake.calls().len();
    bounded(rt.stop_load()).await.expect("stop load");
    let lines: Vec<_> = fake.calls()[before..].iter().map(|c| c.line()).collect();
    for (name, _, _) in workloads {
        assert!(
            lines.contains(&format!("DELETE {}", deployments(name))),
            "{lines:#?}"
        );
    }
    let pods = fake.names(&format!("/api/v1/namespaces/{NS}/pods"));
    assert!(!pods.iter().any(|p| p.starts_with("loadgen")), "{pods:?}");
}

#[tokio::test(start_paused = true)]
async fn each_plan_runs_its_own_job_and_the_load_waits_for_all_their_pods() {
    let fake = FakeApi::start(Behaviour::default());
    let mut s = super::two_plans(LoadgenKind::Job);
    s.ready_timeout = quick().ready_timeout;
    s.prepull = false;
    let mut rt = runtime(&fake, s.clone());
    bounded(rt.deploy()).await.expect("deploy");
    bounded(rt.start_load()).await.expect("start load");
    assert_eq!(rt.pods().ready(orchestrator::kube::meta::Job::LOADGEN), 4);
    for plan in &s.plans {
        let path = format!("/apis/batch/v1/namespaces/{NS}/jobs/loadgen-{}", plan.name);
        let job = fake.object(&path).expect("a Job per plan");
        // Each Job's deadline is its own plan's length plus the readiness bound.
        let deadline = plan.load.duration() + s.ready_timeout.get();
        assert_eq!(
            job["spec"]["activeDeadlineSeconds"],
            deadline.as_secs(),
            "{path}"
        );
    }
    bounded(rt.stop_load()).await.expect("stop load");
    let jobs = fake.names(&format!("/apis/batch/v1/namespaces/{NS}/jobs"));
    assert!(jobs.is_empty(), "{jobs:?}");
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
