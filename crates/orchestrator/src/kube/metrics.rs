//! The kube runtime's [`MetricsSource`]: every pod's `/metrics` through the API server's pod
//! proxy (no port-forward, no route from this machine to the pods needed), and the pods'
//! CPU, memory and network from the nodes' cAdvisor or the metrics API ([`super::usage`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ::kube::Client;
use common::api::routes;
use common::ports;

use super::meta::Job;
use super::pods::{PodInfo, PodView};
use crate::runtime::{ComponentKind, MetricsSource, Scrape, ScrapeRound};

/// Per-request bound: a round must fit in the one-second sampling interval.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(800);

/// A cheap, cloneable handle: the client and the tracked pods.
#[derive(Clone)]
pub struct KubeMetrics {
    client: Client,
    namespace: String,
    pods: PodView,
    desired: Arc<AtomicU32>,
    /// The metrics API's CPU rates, summed up into seconds between rounds.
    cpu: super::usage::Integrator,
}

impl std::fmt::Debug for KubeMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeMetrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl KubeMetrics {
    pub fn new(client: Client, namespace: String, pods: PodView, desired: Arc<AtomicU32>) -> Self {
        Self {
            client,
            namespace,
            pods,
            desired,
            cpu: super::usage::Integrator::default(),
        }
    }
}

/// The port a job's pods serve `/metrics` on; Prometheus and the pre-pull pods are not
/// sampled.
fn metrics_port(job: Job) -> Option<u16> {
    match job {
        Job::BACKEND => Some(ports::BACKEND),
        Job::FRONTEND => Some(ports::FRONTEND),
        Job::LOADGEN => Some(ports::LOADGEN_METRICS),
        Job::Component(ComponentKind::Worker) => Some(ports::WORKER),
        Job::PROMETHEUS | Job::Prepull | Job::Grafana | Job::Component(_) => None,
    }
}

/// `/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy/metrics`.
pub fn proxy_path(namespace: &str, pod: &str, port: u16) -> String {
    format!(
        "/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{}",
        routes::METRICS
    )
}

/// One pod's page, or why there is none.
async fn scrape_pod(
    client: &Client,
    namespace: &str,
    pod: &PodInfo,
    port: u16,
) -> Result<String, String> {
    let path = proxy_path(namespace, &pod.name, port);
    let request = http::Request::get(&path)
        .body(Vec::new())
        .map_err(|e| format!("bad proxy path {path}: {e}"))?;
    match tokio::time::timeout(SCRAPE_TIMEOUT, client.request_text(request)).await {
        Err(_) => Err(format!(
            "no answer through the API server's pod proxy within {SCRAPE_TIMEOUT:?}"
        )),
        Ok(Ok(text)) => Ok(text),
        Ok(Err(::kube::Error::Api(s))) if s.code == 403 => Err(format!(
            "forbidden: the kubeconfig user may not get pods/proxy ({})",
            s.message
        )),
        Ok(Err(::kube::Error::Api(s))) => Err(format!(
            "the API server could not reach the pod (HTTP {}: {}); a NetworkPolicy or a node the proxy cannot route to blocks it",
            s.code,
            s.message.trim()
        )),
        Ok(Err(e)) => Err(format!("pod proxy: {e}")),
    }
}

impl MetricsSource for KubeMetrics {
    async fn scrape(&self) -> ScrapeRound {
        let pods = self.pods.pods();
        let targets = pods.iter().filter_map(|p| {
            let job = p.job?;
            let port = metrics_port(job)?;
            // Only a running pod serves: one without an IP has not started, and a finished
            // one (a completed Job pod) keeps its IP but answers nothing. Neither is a gap.
            p.ip.as_ref()?;
            if p.phase != "Running" {
                return None;
            }
            Some((p, job, port))
        });
        let pages = futures::future::join_all(targets.map(|(p, job, port)| async move {
            Scrape {
                component: job
                    .component()
                    .unwrap_or(crate::runtime::ComponentKind::Backend),
                instance: p.name.clone(),
                plan: p.plan.clone(),
                result: scrape_pod(&self.client, &self.namespace, p, port).await,
            }
        }));
        let (scrapes, resources) = futures::future::join(
            pages,
            super::usage::read(&self.client, &self.namespace, &pods, &self.cpu),
        )
        .await;
        ScrapeRound {
            targets: scrapes,
            backend_ready: u32::try_from(
                pods.iter()
                    .filter(|p| p.job == Some(Job::BACKEND) && p.ready && !p.terminating)
                    .count(),
            )
            .unwrap_or(u32::MAX),
            backend_desired: self.desired.load(Ordering::Relaxed),
            resources,
        }
    }
}
