//! dashboards/load-demo.json, checked where it can fail without Grafana: the fields Grafana
//! needs to import it, and every panel's query evaluated by the real Prometheus of a short
//! local run, the dashboard's variables substituted.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::HumanDuration;
use orchestrator::local::runtime::LocalRuntime;
use orchestrator::runtime::{MetricsSource, Runtime};
use scenario::Scenario;
use serde_json::Value;

const PORT_BASE: u16 = 24_760;
/// The dashboard's datasource variable: every panel and query refers to it by uid.
const DATASOURCE: &str = "${datasource}";
/// Grafana's built-in rate window, set as a dashboard on a 1 s scrape interval would.
const RATE_INTERVAL: &str = "10s";

fn dashboard() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../dashboards/load-demo.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Every query of every panel: (panel title, expression).
fn queries(d: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push((
                p["title"].as_str().unwrap().to_owned(),
                t["expr"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[test]
fn the_dashboard_carries_what_grafana_needs_to_import_it() {
    let d = dashboard();
    assert_eq!(d["uid"], "load-demo");
    assert!(
        d["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "{}",
        d["schemaVersion"]
    );
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    let vars = d["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no variable {name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    for name in ["namespace", "uuid"] {
        assert_eq!(var(name)["type"], "query");
        assert_eq!(var(name)["datasource"]["uid"], DATASOURCE, "{name}");
    }
    let mut ids = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: duplicate id"
        );
        assert!(p["gridPos"]["w"].as_u64().is_some(), "{title}: no gridPos");
        assert_eq!(p["datasource"]["type"], "prometheus", "{title}");
        assert_eq!(p["datasource"]["uid"], DATASOURCE, "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], DATASOURCE, "{title}");
            assert!(
                t["refId"].as_str().is_some(),
                "{title}: a query without refId"
            );
        }
    }
    // Every variable a query uses is one the dashboard defines (or Grafana's rate window).
    for (title, expr) in queries(&d) {
        for word in expr.split('$').skip(1) {
            let name: String = word
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                name == "__rate_interval" || vars.iter().any(|v| v["name"] == name.as_str()),
                "{title}: ${name} is not a variable of the dashboard"
            );
        }
    }
    let titles: Vec<&str> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["title"].as_str())
        .collect();
    for wanted in [
        "Request rate",
        "Errors and sheds",
        "Latency, load generator",
        "Latency, backend",
        "Backend replicas",
        "Queue depth",
        "CPU per pod",
        "Memory per pod",
    ] {
        assert!(titles.contains(&wanted), "no panel {wanted}: {titles:?}");
    }
}

/// `expr` with the dashboard's variables set to this run's.
fn substitute(expr: &str, s: &Scenario) -> String {
    expr.replace("$__rate_interval", RATE_INTERVAL)
        .replace("$namespace", &s.namespace())
        .replace("$uuid", &s.uuid)
}

/// Evaluates `query` now: the number of series, or why there are none.
async fn evaluate(http: &reqwest::Client, prometheus: &str, query: &str) -> Result<usize, String> {
    let resp = http
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", query)])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = resp.json().await.map_err(|e| e.to_string())?;
    if body["status"] != "success" {
        return Err(format!("Prometheus rejects it: {body}"));
    }
    Ok(body["data"]["result"].as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_query_returns_data_from_a_local_run() {
    if orchestrator::local::prometheus::find().is_none() {
        println!("SKIPPED: prometheus is not on PATH (scripts/test.sh installs Debian's)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::default();
    s.uuid = "dashboard".into();
    s.load.base_rps = 50.0;
    s.load.ramp_factor = 1.0;
    s.load.run_duration = HumanDuration::from_millis(120_000);
    let mut rt = LocalRuntime::new(s.clone(), PORT_BASE, dir.path().to_owned()).unwrap();
    rt.deploy().await.unwrap();
    rt.start_load().await.unwrap();
    let prometheus =
        orchestrator::runtime::prometheus_url(&rt.endpoints()).expect("the run's Prometheus");
    let source = rt.metrics();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let d = dashboard();
    let exprs: Vec<(String, String)> = queries(&d)
        .into_iter()
        .map(|(t, e)| (t, substitute(&e, &s)))
        .collect();
    // Until every query has data (the rate windows fill), at most a minute.
    let start = Instant::now();
    let missing = loop {
        // The sampler's round, as the timeline runs it: it refreshes the resource page.
        source.scrape().await;
        let mut missing = Vec::new();
        for (title, expr) in &exprs {
            match evaluate(&http, &prometheus, expr).await {
                Ok(n) if n > 0 => {}
                Ok(_) => missing.push(format!("{title}: no data for {expr}")),
                Err(e) => missing.push(format!("{title}: {expr}: {e}")),
            }
        }
        if missing.is_empty() || start.elapsed() > Duration::from_secs(60) {
            break missing;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    // The variables' own queries: their label values hold this run's.
    let labels = |label: &'static str| {
        let (http, prometheus) = (http.clone(), prometheus.clone());
        async move {
            let body: Value = http
                .get(format!("{prometheus}/api/v1/label/{label}/values"))
                .query(&[("match[]", "app_interactions_total")])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["data"].clone()
        }
    };
    let (namespaces, uuids) = (labels("namespace").await, labels("uuid").await);
    rt.teardown(false).await.unwrap();
    assert!(missing.is_empty(), "{missing:#?}");
    assert!(
        namespaces
            .as_array()
            .unwrap()
            .contains(&Value::from(s.namespace())),
        "{namespaces}"
    );
    assert!(
        uuids
            .as_array()
            .unwrap()
            .contains(&Value::from("dashboard")),
        "{uuids}"
    );
}

/// `docker compose --profile grafana` cannot run here (no Grafana image); what can be
/// checked is that it mounts files that exist and that the provisioned datasource has the
/// uid the dashboard's datasource variable defaults to.
#[test]
fn compose_provisions_grafana_with_the_dashboard_and_its_datasource() {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let compose: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(root.join("docker-compose.yml")).unwrap())
            .unwrap();
    let services = &compose["services"];
    let profiles = |svc: &str| format!("{:?}", services[svc]["profiles"]);
    assert!(
        profiles("grafana").contains("grafana"),
        "{}",
        profiles("grafana")
    );
    assert!(
        profiles("prometheus").contains("grafana"),
        "Prometheus must come with Grafana"
    );
    let volumes = services["grafana"]["volumes"].as_sequence().unwrap();
    assert!(!volumes.is_empty());
    let mut datasource = None;
    for v in volumes {
        let host = v.as_str().unwrap().split(':').next().unwrap();
        let path = root.join(host);
        assert!(path.exists(), "{host} is mounted but missing");
        if host.ends_with("datasource.yml") {
            datasource = Some(path);
        }
    }
    let ds: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(datasource.unwrap()).unwrap()).unwrap();
    let d = dashboard();
    let default_uid = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "datasource")
        .map(|v| v["current"]["value"].clone())
        .unwrap();
    assert_eq!(
        ds["datasources"][0]["uid"].as_str(),
        default_uid.as_str(),
        "the provisioned datasource's uid"
    );
}
