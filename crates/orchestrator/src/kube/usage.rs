//! The kube runtime's resource figures: each node's cAdvisor page through the API server's
//! node proxy (cumulative CPU seconds, working set, network bytes of every container, at
//! the kubelet's own resolution), and where a pod has none there, the metrics API's
//! PodMetrics (`metrics.k8s.io`, metrics-server's windowed CPU and working set). A source
//! that fails (403, 503, an unparsable page) is a named gap; the run goes on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ::kube::Client;
use serde::Deserialize;

use super::pods::PodInfo;
use crate::resources::local::GAP_PREFIX;
use crate::resources::{Round, Source, Usage};
use common::quantity::quantity;

/// Per-request bound: a round must fit in the one-second sampling interval.
const TIMEOUT: Duration = Duration::from_millis(800);

/// `/api/v1/nodes/{node}/proxy/metrics/cadvisor`.
pub fn cadvisor_path(node: &str) -> String {
    format!("/api/v1/nodes/{node}/proxy/metrics/cadvisor")
}

/// `/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods`.
pub fn pod_metrics_path(namespace: &str) -> String {
    format!("/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods")
}

/// Where the figures come from, for the report.
pub fn source() -> Source {
    Source {
        cpu: "the kubelet's cAdvisor (container_cpu_usage_seconds_total) through the API server's node proxy; else the metrics API (metrics.k8s.io PodMetrics), its CPU rate times the sampling interval".into(),
        memory: "cAdvisor container_memory_working_set_bytes; else PodMetrics' working set".into(),
        network: "cAdvisor container_network_{receive,transmit}_bytes_total (the pod's interfaces); the components' own counts beside them".into(),
        resolution: "cAdvisor: the kubelet's housekeeping (about 10-15 s per container), read every second; PodMetrics: metrics-server's window (about 15 s)".into(),
        notes: Vec::new(),
    }
}

/// One pod's figures from a cAdvisor page.
#[derive(Debug, Default, Clone, PartialEq)]
struct PodFigures {
    cpu: Option<f64>,
    memory: Option<f64>,
    /// Per interface: a pod's containers share its network namespace, so each interface
    /// is counted once whatever container reports it.
    rx: HashMap<String, f64>,
    tx: HashMap<String, f64>,
}

/// The figures of `namespace`'s pods on a cAdvisor page: `pod -> figures`.
pub fn parse_cadvisor(text: &str, namespace: &str) -> Result<HashMap<String, Usage>, String> {
    let samples = common::exposition::parse(text).map_err(|e| e.to_string())?;
    let mut pods: HashMap<String, PodFigures> = HashMap::new();
    for s in &samples {
        if s.label("namespace") != Some(namespace) {
            continue;
        }
        let Some(pod) = s.label("pod").filter(|p| !p.is_empty()) else {
            continue;
        };
        // The pod's own cgroup (container="") and the pause container would count twice.
        let container = s.label("container").unwrap_or_default();
        let app_container = !container.is_empty() && container != "POD";
        let f = pods.entry(pod.to_owned()).or_default();
        let interface = s.label("interface").unwrap_or_default().to_owned();
        match s.name.as_str() {
            "container_cpu_usage_seconds_total" if app_container => {
                *f.cpu.get_or_insert(0.0) += s.value;
            }
            "container_memory_working_set_bytes" if app_container => {
                *f.memory.get_or_insert(0.0) += s.value;
            }
            "container_network_receive_bytes_total" => {
                f.rx.insert(interface, s.value);
            }
            "container_network_transmit_bytes_total" => {
                f.tx.insert(interface, s.value);
            }
            _ => {}
        }
    }
    let sum = |m: &HashMap<String, f64>| (!m.is_empty()).then(|| m.values().sum());
    Ok(pods
        .into_iter()
        .map(|(pod, f)| {
            let usage = Usage {
                instance: pod.clone(),
                cpu_seconds: f.cpu,
                memory_bytes: f.memory,
                net_rx_bytes: sum(&f.rx),
                net_tx_bytes: sum(&f.tx),
                ..Usage::default()
            };
            (pod, usage)
        })
        .collect())
}

#[derive(Debug, Deserialize)]
struct PodMetricsList {
    items: Vec<PodMetrics>,
}

#[derive(Debug, Deserialize)]
struct PodMetrics {
    metadata: Meta,
    containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    name: String,
}

#[derive(Debug, Deserialize)]
struct ContainerMetrics {
    usage: HashMap<String, String>,
}

/// `pod -> (CPU cores, working set bytes)` from a PodMetricsList.
pub fn parse_pod_metrics(json: &str) -> Result<HashMap<String, (f64, f64)>, String> {
    let list: PodMetricsList = serde_json::from_str(json).map_err(|e| e.to_string())?;
    Ok(list
        .items
        .into_iter()
        .map(|p| {
            let total = |key: &str| {
                p.containers
                    .iter()
                    .filter_map(|c| c.usage.get(key).and_then(|q| quantity(q)))
                    .sum::<f64>()
            };
            (p.metadata.name.clone(), (total("cpu"), total("memory")))
        })
        .collect())
}

/// Integrates the metrics API's CPU rates into CPU seconds per pod, so its figures sum up
/// per phase as cAdvisor's counters do.
#[derive(Debug, Clone, Default)]
pub struct Integrator {
    state: Arc<Mutex<HashMap<String, (Instant, f64)>>>,
}

impl Integrator {
    fn add(&self, pod: &str, cores: f64, now: Instant) -> f64 {
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let e = s.entry(pod.to_owned()).or_insert((now, 0.0));
        e.1 += cores * now.duration_since(e.0).as_secs_f64();
        e.0 = now;
        e.1
    }
}

async fn get(client: &Client, path: &str) -> Result<String, String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| format!("bad path {path}: {e}"))?;
    match tokio::time::timeout(TIMEOUT, client.request_text(request)).await {
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
        Ok(Ok(text)) => Ok(text),
        Ok(Err(::kube::Error::Api(s))) => Err(format!("HTTP {}: {}", s.code, s.message.trim())),
        Ok(Err(e)) => Err(e.to_string()),
    }
}

/// One round: every node's cAdvisor page where the run's pods are, then the metrics API
/// for the pods cAdvisor did not cover.
pub async fn read(
    client: &Client,
    namespace: &str,
    pods: &[PodInfo],
    integrator: &Integrator,
) -> Round {
    let mut round = Round::default();
    let mine: Vec<&PodInfo> = pods
        .iter()
        .filter(|p| p.job.and_then(|j| j.component()).is_some() && p.phase == "Running")
        .collect();
    let mut nodes: Vec<&str> = mine.iter().filter_map(|p| p.node.as_deref()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let pages = futures::future::join_all(
        nodes
            .iter()
            .map(|n| async move { (*n, get(client, &cadvisor_path(n)).await) }),
    )
    .await;
    let mut found: HashMap<String, Usage> = HashMap::new();
    for (node, page) in pages {
        match page.and_then(|text| parse_cadvisor(&text, namespace)) {
            Ok(figures) => found.extend(figures),
            Err(e) => round
                .gaps
                .push(format!("{GAP_PREFIX}cAdvisor of node {node}: {e}")),
        }
    }
    let uncovered = mine.iter().any(|p| !found.contains_key(&p.name));
    let metrics_api = if uncovered {
        match get(client, &pod_metrics_path(namespace))
            .await
            .and_then(|j| parse_pod_metrics(&j))
        {
            Ok(m) => m,
            Err(e) => {
                round
                    .gaps
                    .push(format!("{GAP_PREFIX}metrics API (metrics.k8s.io): {e}"));
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    let now = Instant::now();
    for p in mine {
        let component = p
            .job
            .and_then(|j| j.component())
            .map_or("", |c| c.as_str())
            .to_owned();
        if let Some(u) = found.remove(&p.name) {
            round.usage.push(Usage { component, ..u });
        } else if let Some(&(cores, memory)) = metrics_api.get(&p.name) {
            round.usage.push(Usage {
                instance: p.name.clone(),
                component,
                cpu_seconds: Some(integrator.add(&p.name, cores, now)),
                memory_bytes: Some(memory),
                ..Usage::default()
            });
        }
    }
    round
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cadvisor_page_gives_each_pods_containers_and_interfaces_once() {
        let page = "# TYPE container_cpu_usage_seconds_total counter\n\
container_cpu_usage_seconds_total{namespace=\"demo-x\",pod=\"backend-a\",container=\"backend\"} 2.5\n\
container_cpu_usage_seconds_total{namespace=\"demo-x\",pod=\"backend-a\",container=\"\"} 9\n\
container_cpu_usage_seconds_total{namespace=\"demo-x\",pod=\"backend-a\",container=\"POD\"} 0.1\n\
container_cpu_usage_seconds_total{namespace=\"other\",pod=\"x\",container=\"x\"} 7\n\
container_memory_working_set_bytes{namespace=\"demo-x\",pod=\"backend-a\",container=\"backend\"} 1048576\n\
container_network_receive_bytes_total{namespace=\"demo-x\",pod=\"backend-a\",container=\"POD\",interface=\"eth0\"} 100\n\
container_network_receive_bytes_total{namespace=\"demo-x\",pod=\"backend-a\",container=\"backend\",interface=\"eth0\"} 100\n\
container_network_transmit_bytes_total{namespace=\"demo-x\",pod=\"backend-a\",container=\"POD\",interface=\"eth0\"} 300\n";
        let m = parse_cadvisor(page, "demo-x").unwrap();
        assert_eq!(m.len(), 1, "{m:?}");
        let u = &m["backend-a"];
        assert_eq!(u.cpu_seconds, Some(2.5));
        assert_eq!(u.memory_bytes, Some(1_048_576.0));
        assert_eq!((u.net_rx_bytes, u.net_tx_bytes), (Some(100.0), Some(300.0)));
        assert!(parse_cadvisor("<html>502 Bad Gateway</html>", "demo-x").is_err());
    }

    #[test]
    fn pod_metrics_are_read() {
        let json = r#"{"kind":"PodMetricsList","items":[{"metadata":{"name":"backend-a"},
            "timestamp":"2026-01-01T00:00:00Z","window":"15s",
            "containers":[{"name":"backend","usage":{"cpu":"120m","memory":"20Mi"}},
                          {"name":"sidecar","usage":{"cpu":"30m","memory":"4Mi"}}]}]}"#;
        let m = parse_pod_metrics(json).unwrap();
        let (cpu, mem) = m["backend-a"];
        assert!((cpu - 0.15).abs() < 1e-9 && mem == 24.0 * 1_048_576.0);
        assert!(parse_pod_metrics("503 Service Unavailable").is_err());
    }

    #[test]
    fn the_metrics_apis_cpu_rate_adds_up_over_time() {
        let i = Integrator::default();
        let t0 = Instant::now();
        assert_eq!(i.add("p", 0.5, t0), 0.0);
        let s = i.add("p", 0.5, t0 + Duration::from_secs(2));
        assert!((s - 1.0).abs() < 1e-9, "{s}");
    }
}
