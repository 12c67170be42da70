//! The kube runtime's [`MetricsSource`]: every pod's `/metrics` through the API server's pod
//! proxy (no port-forward, no route from this machine to the pods needed), the pipeline's
//! Redis through a worker ([`super::pipeline`]), and the pods' CPU, memory and network from
//! the nodes' cAdvisor or the metrics API ([`super::usage`]).

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
    /// The pipeline's Redis instance name, when the run has one: read through a worker.
    redis: Option<String>,
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
            redis: None,
        }
    }

    /// Also reads the pipeline's Redis each round, as the target `instance`.
    pub fn with_redis(mut self, instance: String) -> Self {
        self.redis = Some(instance);
        self
    }

    /// The Redis target of a round, once a worker pod exists.
    async fn redis(&self, pods: &[PodInfo]) -> Option<Scrape> {
        let instance = self.redis.clone()?;
        let result = super::pipeline::page(&self.client, &self.namespace, pods).await?;
        Some(Scrape {
            component: ComponentKind::Redis,
            instance,
            plan: None,
            result,
        })
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

/// `/api/v1/namespaces/{ns}/pods/{pod}:{port}/proxy{route}`.
pub fn proxy_path(namespace: &str, pod: &str, port: u16, route: &str) -> String {
    format!("/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy{route}")
}

/// Why a GET through the pod proxy got no page.
#[derive(Debug, Clone, PartialEq)]
pub enum ProxyFailure {
    /// The pod answered, with this HTTP status (its own error, passed on by the API server).
    Status(u16, String),
    /// No answer: the proxy, the API server or the rights failed; in words.
    Unreached(String),
}

impl std::fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyFailure::Status(code @ (502 | 503), message) => write!(
                f,
                "the API server could not reach the pod (HTTP {code}: {}); a NetworkPolicy or a node the proxy cannot route to blocks it",
                message.trim()
            ),
            ProxyFailure::Status(code, message) => write!(
                f,
                "the pod answered HTTP {code} through the API server's pod proxy: {}",
                message.trim()
            ),
            ProxyFailure::Unreached(why) => f.write_str(why),
        }
    }
}

/// One page of `pod` on `port` at `route`, through the API server's pod proxy, within
/// [`SCRAPE_TIMEOUT`].
pub async fn get_through_proxy(
    client: &Client,
    namespace: &str,
    pod: &str,
    port: u16,
    route: &str,
) -> Result<String, ProxyFailure> {
    get_through_proxy_within(client, namespace, pod, port, route, SCRAPE_TIMEOUT).await
}

/// One page of `pod` on `port` at `route` (its query string included), through the API
/// server's pod proxy, within `timeout`. The status is read off the response itself: a pod's
/// own error body is not a Kubernetes `Status`, and kube-rs would read any JSON object as one
/// with code 0.
pub async fn get_through_proxy_within(
    client: &Client,
    namespace: &str,
    pod: &str,
    port: u16,
    route: &str,
    timeout: Duration,
) -> Result<String, ProxyFailure> {
    let path = proxy_path(namespace, pod, port, route);
    let request = http::Request::get(&path)
        .body(::kube::client::Body::from(Vec::new()))
        .map_err(|e| ProxyFailure::Unreached(format!("bad proxy path {path}: {e}")))?;
    let answer = async {
        let response = client
            .send(request)
            .await
            .map_err(|e| ProxyFailure::Unreached(format!("pod proxy: {e}")))?;
        let code = response.status();
        let body =
            response.into_body().collect_bytes().await.map_err(|e| {
                ProxyFailure::Unreached(format!("pod proxy: reading the answer: {e}"))
            })?;
        let text = String::from_utf8_lossy(&body).into_owned();
        if code.is_success() {
            return Ok(text);
        }
        // The API server's own refusals are Statuses; a pod's error is passed on as it is.
        let message = serde_json::from_str::<::kube::core::Status>(&text)
            .ok()
            .filter(|s| s.code != 0)
            .map_or(text, |s| s.message);
        Err(match code.as_u16() {
            403 => ProxyFailure::Unreached(format!(
                "forbidden: the kubeconfig user may not get pods/proxy ({})",
                message.trim()
            )),
            code => ProxyFailure::Status(code, message),
        })
    };
    tokio::time::timeout(timeout, answer)
        .await
        .unwrap_or_else(|_| {
            Err(ProxyFailure::Unreached(format!(
                "no answer through the API server's pod proxy within {timeout:?}"
            )))
        })
}

/// One pod's /metrics, or why there is none.
async fn scrape_pod(
    client: &Client,
    namespace: &str,
    pod: &PodInfo,
    port: u16,
) -> Result<String, String> {
    get_through_proxy(client, namespace, &pod.name, port, routes::METRICS)
        .await
        .map_err(|e| e.to_string())
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
        let (mut scrapes, resources, redis) = futures::future::join3(
            pages,
            super::usage::read(&self.client, &self.namespace, &pods, &self.cpu),
            self.redis(&pods),
        )
        .await;
        scrapes.extend(redis);
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
