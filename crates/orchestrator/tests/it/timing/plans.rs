//! Two load plans on the real local stack (ports 23700-23727): each plan runs its own load
//! generator with its own actions, and the report's per-plan counts are what the backend
//! counted per action on its own /metrics.

use std::sync::{Arc, Mutex};

use common::names;
use orchestrator::local::runtime::LocalRuntime;
use orchestrator::local::scrape::LocalMetrics;
use orchestrator::report::Report;
use orchestrator::runtime::{Deployed, Endpoint, Result, Runtime, RuntimeError};
use orchestrator::timeline::{RunOptions, phase, run};

const PORT_BASE: u16 = 23700;

/// The local runtime, which reads the backend's /metrics once more just before its teardown:
/// after every load generator stopped, so the backend's counters are final.
struct ReadBack {
    inner: LocalRuntime,
    page: Arc<Mutex<Option<String>>>,
}

impl Runtime for ReadBack {
    type Metrics = LocalMetrics;

    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn deploy(&mut self) -> Result<Deployed> {
        self.inner.deploy().await
    }

    async fn start_load(&mut self) -> Result<()> {
        self.inner.start_load().await
    }

    async fn scale_backend(&mut self, replicas: u32) -> Result<()> {
        self.inner.scale_backend(replicas).await
    }

    async fn stop_load(&mut self) -> Result<()> {
        self.inner.stop_load().await
    }

    fn set_load(&mut self, load: scenario::LoadSpec) -> Result<()> {
        self.inner.set_load(load)
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        self.inner.endpoints()
    }

    fn metrics(&self) -> LocalMetrics {
        self.inner.metrics()
    }

    fn failure(&self) -> impl Future<Output = RuntimeError> + Send + 'static {
        self.inner.failure()
    }

    async fn teardown(&mut self, keep: bool) -> Result<()> {
        let port = orchestrator::local::PortPlan::new(PORT_BASE).backend(0);
        let url = format!("http://127.0.0.1:{port}{}", common::api::routes::METRICS);
        let page = reqwest::get(&url).await.and_then(|r| r.error_for_status());
        *self.page.lock().unwrap() = Some(match page {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(e) => panic!("the backend's /metrics before the teardown: {e}"),
        });
        self.inner.teardown(keep).await
    }
}

/// `app_interactions_total{action}` over every outcome.
fn interactions(page: &str, action: &str) -> f64 {
    common::exposition::parse(page)
        .expect("the backend's page is Prometheus text")
        .iter()
        .filter(|s| s.name == names::APP_INTERACTIONS_TOTAL && s.label("action") == Some(action))
        .map(|s| s.value)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_plans_send_their_own_actions_and_the_report_counts_each() {
    let dir = tempfile::tempdir().unwrap();
    // Both plans end before the load phases do: their generators then linger with their
    // final counts, which the next scrape reads.
    let s = scenario::scenario_from_toml(
        r#"uuid = "two-plans"
baseline_pause = "500ms"
load_pause = "3s"
load_scale_delay = "2s"
backend_scale_replicas = 1

[[load]]
name = "tickets"
actions = "book_ticket"
stages = "2s:30,1s:30"

[[load]]
name = "feedback"
actions = "give_feedback"
base_rps = 15
ramp_factor = 1
run_duration = "3s"
"#,
    )
    .unwrap();
    let page = Arc::new(Mutex::new(None));
    let rt = ReadBack {
        inner: LocalRuntime::new(s.clone(), PORT_BASE, dir.path().join("two-plans")).unwrap(),
        page: page.clone(),
    };
    let options = RunOptions {
        scenario: s.clone(),
        config: scenario::Effective::default(),
        runs_dir: dir.path().to_owned(),
        hold: false,
        keep: false,
        progress: false,
    };
    let result = run(rt, options, std::future::pending()).await;
    assert_eq!(result.exit_code(), 0, "{:?}", result.report.outcome);
    let r = Report::read(&result.dir).unwrap();
    let page = page.lock().unwrap().clone().unwrap();
    let totals = &r.points.last().unwrap().totals;
    for (plan, action) in [("tickets", "book_ticket"), ("feedback", "give_feedback")] {
        let sent = totals.plans[plan].sent;
        let planned = s
            .plans
            .iter()
            .find(|p| p.name == plan)
            .unwrap()
            .load
            .curve()
            .total();
        assert!(sent >= planned * 0.9, "{plan}: sent {sent} of {planned}");
        assert_eq!(
            sent,
            interactions(&page, action),
            "{plan}'s sent requests are the backend's {action}s"
        );
        // The plan's rows over the phases add up to its total.
        let by_phase: f64 = r
            .phases
            .iter()
            .flat_map(|p| p.plans.iter().filter(|x| x.name == plan))
            .map(|x| x.sent)
            .sum();
        assert!(
            (by_phase - sent).abs() < 0.5,
            "{plan}: {by_phase} vs {sent}"
        );
        assert_eq!(totals.plans[plan].lg_errors, 0.0, "{plan}");
    }
    assert_eq!(
        totals.sent,
        totals.plans["tickets"].sent + totals.plans["feedback"].sent
    );
    let load = r.phase(phase::LOAD).unwrap();
    let names: Vec<&str> = load.plans.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["tickets", "feedback"], "in the scenario's order");
    let summary = orchestrator::timeline::summary(&r);
    let after_load = summary.split("\nload ").nth(1).unwrap_or_default();
    for plan in ["\n  tickets ", "\n  feedback "] {
        assert!(
            after_load.contains(plan),
            "{plan:?} under the load row:\n{summary}"
        );
    }
    let endpoints: Vec<&str> = r.endpoints.iter().map(|e| e.name.as_str()).collect();
    for name in ["loadgen-tickets metrics", "loadgen-feedback metrics"] {
        assert!(endpoints.contains(&name), "{endpoints:?}");
    }
    let md = std::fs::read_to_string(result.dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Load plans") && md.contains("| load | tickets |"),
        "{md}"
    );
    let html = std::fs::read_to_string(result.dir.join("report.html")).unwrap();
    assert!(
        html.contains("sent (feedback)"),
        "the rate chart draws each plan"
    );
}
