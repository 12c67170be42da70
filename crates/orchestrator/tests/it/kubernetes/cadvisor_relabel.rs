//! The cAdvisor job's series relabelling, evaluated by the real Prometheus (Debian's package):
//! a page shaped like a kubelet's cAdvisor, with containers of the run's namespace and of
//! another, scraped under the job's `metric_relabel_configs`, then queried back. Only the
//! API server's node proxy (discovery, token, CA) is swapped for a static loopback target.

use std::net::SocketAddr;

use orchestrator::kube::build::cadvisor;
use scenario::Scenario;
use serde_json::Value;

use super::real_prometheus::{RealPrometheus, serve};

const PAGE_PATH: &str = "/api/v1/nodes/node-1/proxy/metrics/cadvisor";

fn page(ns: &str) -> String {
    let mut out = String::from("# TYPE container_cpu_usage_seconds_total counter\n");
    for (namespace, pod) in [
        (ns, "api-5d8f7c9b6d-abcde"),
        (ns, "api-ui-7f9c8d6b5a-fghij"),
        (ns, "loadgen-main-0-6c7d8e9f0a-klmno"),
        ("kube-system", "api-1234567890-zzzzz"),
    ] {
        out.push_str(&format!(
            "container_cpu_usage_seconds_total{{namespace=\"{namespace}\",pod=\"{pod}\",container=\"c\"}} 1.5\n"
        ));
    }
    out.push_str("# TYPE machine_cpu_cores gauge\nmachine_cpu_cores 8\n");
    out
}

/// The job with the node discovery replaced by `target`.
fn job(s: &Scenario, target: SocketAddr) -> Value {
    let mut job = serde_json::to_value(cadvisor::scrape_config(s)).unwrap();
    let o = job.as_object_mut().unwrap();
    for field in [
        "kubernetes_sd_configs",
        "relabel_configs",
        "scheme",
        "tls_config",
        "authorization",
    ] {
        o.remove(field);
    }
    o.insert("metrics_path".into(), PAGE_PATH.into());
    o.insert(
        "static_configs".into(),
        serde_json::json!([{"targets": [target.to_string()]}]),
    );
    job
}

#[tokio::test]
async fn prometheus_keeps_the_runs_namespace_and_labels_it_like_every_run_series() {
    let mut s = Scenario::default();
    // Names sharing a prefix: the longer one's pods must not count as the shorter's.
    s.backend.name = "api".into();
    s.frontend.name = "api-ui".into();
    let ns = s.namespace();
    let target = serve(PAGE_PATH, page(&ns)).await;
    let Some(prometheus) = RealPrometheus::start(vec![job(&s, target)]) else {
        return;
    };
    let series = prometheus
        .wait_for("container_cpu_usage_seconds_total", 3)
        .await;
    let mut got: Vec<(String, String, String)> = series
        .iter()
        .map(|r| {
            let m = &r["metric"];
            assert_eq!(m["namespace"], ns.as_str(), "{m}");
            assert_eq!(m["uuid"], s.uuid.as_str(), "{m}");
            (
                m["pod"].as_str().unwrap().to_owned(),
                m["component"].as_str().unwrap_or_default().to_owned(),
                m["job"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let job = cadvisor::JOB_NAME.to_owned();
    assert_eq!(
        got,
        [
            ("api-5d8f7c9b6d-abcde".into(), "backend".into(), job.clone()),
            (
                "api-ui-7f9c8d6b5a-fghij".into(),
                "frontend".into(),
                job.clone()
            ),
            (
                "loadgen-main-0-6c7d8e9f0a-klmno".into(),
                "loadgen".into(),
                job
            ),
        ]
    );
    // Machine-level series carry no namespace: dropped with the other namespaces'.
    assert_eq!(
        prometheus.query("machine_cpu_cores").await,
        Some(Vec::new())
    );
}
