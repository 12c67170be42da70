//! Autoscaled kube runs against the fake API server: what is checked before anything is
//! applied (metrics API, KEDA's CRD, RBAC), the HPA or ScaledObject applied like every other
//! object, and whole runs in which the fake's controller scales the backend and the report's
//! events say what it did, beside what the local algorithm expected.

use std::time::Duration;

use common::HumanDuration;
use orchestrator::report::Outcome;
use orchestrator::runtime::Runtime;
use orchestrator::timeline::{self, RunOptions};
use scenario::{AutoscaleMetric, ScaleMode, Scenario};

use super::fake::{Behaviour, FakeApi, Fault, Verb};
use super::run::{NS, bounded, quick, runtime};

/// `quick()` with an autoscaler of short windows, and no pre-pull.
pub(crate) fn autoscaled(mode: ScaleMode, metric: AutoscaleMetric, target: f64) -> Scenario {
    let mut s = quick();
    s.prepull = false;
    s.load_pause = HumanDuration::from_secs(10);
    let a = &mut s.autoscale;
    a.mode = mode;
    a.metric = metric;
    a.target = target;
    a.min = 1;
    a.max = 4;
    a.sync_period = HumanDuration::from_secs(2);
    a.scale_down_stabilization = HumanDuration::from_secs(6);
    a.cooldown_pause = HumanDuration::from_secs(60);
    s
}

/// A cluster with what an autoscaled run needs, whose load is `demand` (target units).
pub(crate) fn cluster(demand: f64) -> Behaviour {
    Behaviour {
        metrics_api: true,
        keda_crd: true,
        demand,
        idle_demand: demand / 15.0,
        hpa_sync: Duration::from_secs(2),
        ..Behaviour::default()
    }
}

fn options(s: Scenario, runs: &std::path::Path) -> RunOptions {
    RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: runs.to_owned(),
        hold: false,
        keep: true,
        progress: false,
    }
}

/// Deploying fails before any object is applied, with `needles` in the error.
async fn refused_before_applying(fake: &FakeApi, s: Scenario, needles: &[&str]) {
    let mut rt = runtime(fake, s);
    let e = bounded(rt.deploy()).await.unwrap_err().to_string();
    for n in needles {
        assert!(e.contains(n), "{n:?} missing from: {e}");
    }
    let changes: Vec<String> = fake
        .writes()
        .into_iter()
        .filter(|w| w.starts_with("PATCH") || w.starts_with("DELETE"))
        .collect();
    assert_eq!(changes, Vec::<String>::new(), "nothing applied");
}

#[tokio::test(start_paused = true)]
async fn an_hpa_on_cpu_without_the_metrics_api_is_refused_naming_the_fix() {
    let fake = FakeApi::start(Behaviour {
        metrics_api: false,
        ..cluster(150.0)
    });
    let s = autoscaled(ScaleMode::Hpa, AutoscaleMetric::Cpu, 50.0);
    refused_before_applying(
        &fake,
        s,
        &[
            "metrics.k8s.io",
            "./scripts/kind-up.sh --metrics-server",
            "HTTP 404",
        ],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn keda_without_its_crd_is_refused_with_the_install_command() {
    let fake = FakeApi::start(Behaviour {
        keda_crd: false,
        ..cluster(70.0)
    });
    let s = autoscaled(ScaleMode::Keda, AutoscaleMetric::RpsPerReplica, 20.0);
    refused_before_applying(
        &fake,
        s,
        &["scaledobjects.keda.sh", "./scripts/kind-up.sh --keda"],
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn rbac_that_forbids_hpas_is_refused_before_deploying() {
    let fake = FakeApi::start(Behaviour {
        forbid: Some("horizontalpodautoscalers".into()),
        ..cluster(150.0)
    });
    let s = autoscaled(ScaleMode::Hpa, AutoscaleMetric::Cpu, 50.0);
    refused_before_applying(
        &fake,
        s,
        &[
            "may not patch horizontalpodautoscalers.autoscaling",
            &format!("kubectl auth can-i patch horizontalpodautoscalers.autoscaling -n {NS}"),
        ],
    )
    .await;
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.method == "POST" && c.path.ends_with("/selfsubjectaccessreviews")),
        "asked as `kubectl auth can-i` does"
    );
}

/// The whole story on the fake cluster: `demand` over `target` asks for
/// `ceil(demand / target)` replicas under load, and back to `autoscale_min` after it.
async fn whole_run(mode: ScaleMode, metric: AutoscaleMetric, target: f64, demand: f64) {
    let fake = FakeApi::start(cluster(demand));
    let runs = tempfile::tempdir().unwrap();
    let s = autoscaled(mode, metric, target);
    let rt = runtime(&fake, s.clone());
    let result = bounded(timeline::run(
        rt,
        options(s.clone(), runs.path()),
        std::future::pending(),
    ))
    .await;
    let r = &result.report;
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.failures);
    let a = r.autoscale.as_ref().expect("an autoscaler section");
    let under_load = ((demand / target).ceil() as u32).clamp(s.autoscale.min, s.autoscale.max);
    let phase = |name: &str| r.phases.iter().find(|p| p.name == name).unwrap();
    let (load, cooldown) = (phase("load"), phase("cooldown"));
    // Up under the load, to what the controller computed, with the local algorithm's count
    // on the same reading beside it.
    let up = a
        .events
        .iter()
        .find(|e| e.to > e.from)
        .unwrap_or_else(|| panic!("no scale-up: {:#?}", a.syncs));
    assert!(up.t >= load.start && up.t <= load.end, "{up:?}");
    assert_eq!((up.from, up.to), (s.autoscale.min, under_load), "{up:?}");
    assert!(up.value.is_some_and(|v| v > target), "{up:?}");
    assert!(up.reason.contains("expected"), "{up:?}");
    assert_eq!(up.expected, Some(under_load), "{up:?}");
    // Down to min in the cooldown, which ended there rather than at its pause.
    let down = a
        .events
        .iter()
        .rfind(|e| e.to < e.from)
        .unwrap_or_else(|| panic!("no scale-down: {:#?}", a.events));
    assert!(down.t >= cooldown.start, "{down:?}");
    assert_eq!(down.to, s.autoscale.min);
    assert!(cooldown.end - cooldown.start < s.autoscale.cooldown_pause.get().as_secs_f64());
    assert!(a.reaction.load_to_scale_up.is_some(), "{:?}", a.reaction);
    assert!(
        a.reaction.load_to_new_replica_ready.is_some(),
        "{:?}",
        a.reaction
    );
    assert!(a.reaction.unload_to_min.is_some(), "{:?}", a.reaction);
    // The samples carry the Deployment's spec as the controller set it, and its ready pods.
    let most = |f: fn(&orchestrator::sample::Point) -> u32| r.points.iter().map(f).max();
    assert_eq!(most(|p| p.backend_desired), Some(under_load));
    assert_eq!(most(|p| p.backend_ready), Some(under_load));
    // The autoscaler was applied like every other object; the run never scaled by itself.
    let writes = fake.writes();
    let object = match mode {
        ScaleMode::Keda => format!("/apis/keda.sh/v1alpha1/namespaces/{NS}/scaledobjects/backend"),
        _ => format!("/apis/autoscaling/v2/namespaces/{NS}/horizontalpodautoscalers/backend"),
    };
    assert!(writes.contains(&format!("PATCH {object}")), "{writes:#?}");
    let backend = format!("PATCH /apis/apps/v1/namespaces/{NS}/deployments/backend");
    assert_eq!(
        writes.iter().filter(|w| **w == backend).count(),
        1,
        "{writes:#?}"
    );
    let md = std::fs::read_to_string(result.dir.join("report.md")).unwrap();
    assert!(
        md.contains(&format!("| {} → {under_load} |", up.from)),
        "{md}"
    );
    let html = std::fs::read_to_string(result.dir.join("report.html")).unwrap();
    assert!(
        html.contains("expected (local algorithm)"),
        "the expected line is charted"
    );
}

#[tokio::test(start_paused = true)]
async fn a_whole_hpa_run_reports_what_the_controller_did() {
    whole_run(ScaleMode::Hpa, AutoscaleMetric::Cpu, 50.0, 150.0).await;
}

#[tokio::test(start_paused = true)]
async fn a_whole_keda_run_reports_what_the_controller_did() {
    whole_run(ScaleMode::Keda, AutoscaleMetric::RpsPerReplica, 20.0, 70.0).await;
}

#[tokio::test(start_paused = true)]
async fn keda_applies_its_scaled_object_and_reads_the_hpa_keda_made() {
    let fake = FakeApi::start(cluster(70.0));
    let s = autoscaled(ScaleMode::Keda, AutoscaleMetric::RpsPerReplica, 20.0);
    let mut rt = runtime(&fake, s);
    bounded(rt.deploy()).await.expect("deploy");
    let so = fake
        .object(&format!(
            "/apis/keda.sh/v1alpha1/namespaces/{NS}/scaledobjects/backend"
        ))
        .expect("the ScaledObject");
    assert_eq!(so["spec"]["triggers"][0]["type"], "prometheus");
    let sync = bounded(rt.autoscale_sync(Duration::from_secs(30)))
        .await
        .expect("a read");
    assert_eq!(sync.desired, 1);
    assert_eq!(sync.ready, 1);
}

#[tokio::test(start_paused = true)]
async fn an_hpa_that_cannot_be_read_is_a_gap_holding_the_count_not_a_failed_run() {
    let fake = FakeApi::start(cluster(150.0));
    let s = autoscaled(ScaleMode::Hpa, AutoscaleMetric::Cpu, 50.0);
    let mut rt = runtime(&fake, s.clone());
    bounded(rt.deploy()).await.expect("deploy");
    fake.fail(Fault {
        verb: Some(Verb::Get),
        path: "horizontalpodautoscalers".into(),
        code: 500,
        retry_after: None,
        times: 5,
    });
    let gap = bounded(rt.autoscale_sync(Duration::from_secs(5)))
        .await
        .expect("a gap, not an error");
    assert_eq!(gap.value, None);
    assert_eq!(
        (gap.from, gap.desired),
        (s.backend.replicas, s.backend.replicas)
    );
    assert!(gap.reason.starts_with("not read: "), "{}", gap.reason);
    assert!(
        gap.reason.contains("HorizontalPodAutoscaler/backend"),
        "{}",
        gap.reason
    );
    // The faults are spent: the next read is the controller's again.
    let sync = bounded(rt.autoscale_sync(Duration::from_secs(6)))
        .await
        .unwrap();
    assert!(!sync.reason.starts_with("not read"), "{}", sync.reason);
}
