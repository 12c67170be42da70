//! The load generator on a cluster against the fake API server: a Deployment's shards or a
//! Job's pods per plan, waited for, scraped by plan, and stopped together by their job label.

use orchestrator::runtime::{MetricsSource, Runtime};
use scenario::LoadgenKind;

use super::fake::{Behaviour, FakeApi};
use super::run::{NS, bounded, deployments, pod_of, quick, runtime};

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
