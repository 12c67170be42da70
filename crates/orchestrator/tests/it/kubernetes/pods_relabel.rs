//! The pods job of the run's Prometheus on a cluster, evaluated by the real Prometheus: pods
//! of two components and one not annotated for scraping, their discovery labels given as a
//! static target's (the only part swapped: no API server here), scraped and queried back.
//! Each pod's series land under the job of its component, as the local run names its jobs.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use orchestrator::kube::build::prometheus;
use scenario::Scenario;
use serde_json::{Value, json};

use super::real_prometheus::{RealPrometheus, serve};

/// A pod as Prometheus' pod discovery labels it.
fn pod(s: &Scenario, name: &str, job: &str, addr: SocketAddr, scraped: bool) -> Value {
    json!({
        "targets": [format!("{}:1", addr.ip())],
        "labels": {
            "__meta_kubernetes_namespace": s.namespace(),
            "__meta_kubernetes_pod_name": name,
            "__meta_kubernetes_pod_ip": addr.ip().to_string(),
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape": scraped.to_string(),
            "__meta_kubernetes_pod_annotation_prometheus_io_port": addr.port().to_string(),
            "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics",
            "__meta_kubernetes_pod_label_load_demo_io_job": job,
            "__meta_kubernetes_pod_label_load_demo_io_uuid": s.uuid,
        },
    })
}

#[tokio::test]
async fn every_pod_is_scraped_under_the_job_of_its_component() {
    let s = Scenario::default();
    let page = |v: u32| format!("# TYPE demo_up gauge\ndemo_up {v}\n");
    let backend = serve("/metrics", page(1)).await;
    let worker = serve("/metrics", page(2)).await;
    let mut job = serde_json::to_value(&prometheus::config(&s).scrape_configs[0]).unwrap();
    assert_eq!(job["job_name"], "pods");
    let o = job.as_object_mut().unwrap();
    o.remove("kubernetes_sd_configs");
    o.insert(
        "static_configs".into(),
        json!([
            pod(&s, "backend-7d9c-abcde", "backend", backend, true),
            pod(&s, "worker-5f6b-fghij", "worker", worker, true),
            pod(&s, "redis-6c7d-klmno", "redis", worker, false),
        ]),
    );
    let Some(prometheus) = RealPrometheus::start(vec![job]) else {
        return;
    };
    let series = prometheus.wait_for("demo_up", 2).await;
    let got: BTreeMap<String, (String, String, String)> = series
        .iter()
        .map(|r| {
            let m = &r["metric"];
            let text = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
            assert_eq!(text("namespace"), s.namespace(), "{m}");
            assert_eq!(text("uuid"), s.uuid, "{m}");
            (
                text("pod"),
                (
                    text("job"),
                    text("component"),
                    r["value"][1].as_str().unwrap().to_owned(),
                ),
            )
        })
        .collect();
    assert_eq!(
        got,
        BTreeMap::from([
            (
                "backend-7d9c-abcde".to_owned(),
                ("backend".to_owned(), "backend".to_owned(), "1".to_owned())
            ),
            (
                "worker-5f6b-fghij".to_owned(),
                ("worker".to_owned(), "worker".to_owned(), "2".to_owned())
            ),
        ]),
        "the pod not annotated for scraping is not a target"
    );
    // `up` says the same of the targets: one per scraped pod, under its component's job.
    let up = prometheus.wait_for(r#"up{job=~"backend|worker"}"#, 2).await;
    assert_eq!(up.len(), 2, "{up:?}");
}
