//! The seam between the shared scenario timeline and the places a stack can run.
//!
//! The timeline ([`crate::timeline`]), the once-a-second sampling, the terminal output and
//! the report are shared code that only talks to [`Runtime`] and [`MetricsSource`]. The
//! local runtime ([`crate::local`]) runs every component in-process on loopback; the
//! Kubernetes runtime (`crate::kube`) creates, scales and deletes objects on a cluster.
//!
//! # For a runtime implementer
//!
//! The timeline calls, in this order (any call may be skipped when the run is interrupted,
//! but [`Runtime::teardown`] is always called last, exactly once):
//!
//! 1. [`Runtime::deploy`]: create backend (`scenario.backend.replicas`), frontend and, when
//!    the runtime can, Prometheus; return when all are ready (bounded by
//!    `scenario.ready_timeout`) with how long that took.
//! 2. [`Runtime::start_load`] (only when `scenario.enable_load`): start one load generator
//!    per plan of `scenario.load_plans()`, all at once, each built from
//!    [`crate::components::loadgen_args`]; return once every `/metrics` answers.
//! 3. [`Runtime::scale_backend`]: ask for `n` backend replicas; return once `n` are ready.
//! 4. [`Runtime::stop_load`]: stop/delete every plan's load generator gracefully (it finishes its
//!    in-flight requests); idempotent.
//! 5. [`Runtime::teardown`]: `keep == false` removes everything the runtime created; `true`
//!    leaves the stack up after the orchestrator exits (kube without `--cleanup`). The local
//!    runtime cannot outlive its process: it always stops everything (the timeline's
//!    `--hold` keeps it up until Ctrl-C before calling teardown).
//!
//! Meanwhile another task calls [`MetricsSource::scrape`] on the value returned by
//! [`Runtime::metrics`] once a second, concurrently with the calls above, so a source must
//! be a cheap, cloneable handle onto shared state (e.g. the current pod list).
//!
//! Components are started with the argv of [`crate::components`] so both runtimes run the
//! same configuration. Errors name the component ([`RuntimeError::Component`]) so the
//! report can say which part failed.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::gate::alerts::NO_PROMETHEUS;
use crate::gate::prometheus::PrometheusApi;

/// Which part of the stack a target or an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentKind {
    Backend,
    Frontend,
    Loadgen,
    Prometheus,
    /// The pipeline workload's consumers of the order stream.
    Worker,
    /// The pipeline workload's queue and store.
    Redis,
}

impl ComponentKind {
    /// The scenario's spec (name, replicas, image) of this component.
    pub fn spec(self, s: &scenario::Scenario) -> &scenario::ComponentSpec {
        match self {
            Self::Backend => &s.backend,
            Self::Frontend => &s.frontend,
            Self::Loadgen => &s.loadgen,
            Self::Prometheus => &s.prometheus,
            Self::Worker => &s.pipeline.worker,
            Self::Redis => &s.pipeline.redis,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Backend => "backend",
            Self::Frontend => "frontend",
            Self::Loadgen => "loadgen",
            Self::Prometheus => "prometheus",
            Self::Worker => "worker",
            Self::Redis => "redis",
        }
    }
}

impl std::fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Errors a runtime reports to the timeline.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A component failed to start, to become ready, or died.
    #[error("{component} ({instance}): {reason}")]
    Component {
        component: ComponentKind,
        /// The instance, e.g. `backend-1` or a pod name.
        instance: String,
        reason: String,
    },
    /// A local port is taken; the message tells the user about `--port-base`.
    #[error(
        "port {port} ({what}) is already in use on 127.0.0.1; pass --port-base N to move every local port (e.g. --port-base {suggest})"
    )]
    PortInUse {
        port: u16,
        what: String,
        suggest: u16,
    },
    /// Waiting for something took longer than the scenario allows.
    #[error("{what} was not ready after {after:?} (scenario key ready_timeout)")]
    Timeout { what: String, after: Duration },
    /// The runtime cannot be used at all (no cluster, not built in, ...).
    #[error("the {runtime} runtime is not available: {reason}")]
    Unavailable {
        runtime: &'static str,
        reason: String,
    },
    /// Anything else, with its context already in the message.
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// A URL a user can open, printed at the start and the end of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// What it is, e.g. `frontend (web UI)`.
    pub name: String,
    pub url: String,
}

/// The Prometheus among `endpoints` as a base URL this process can query: `None` without
/// one, or where the endpoint is an address to port-forward first (the URL followed by how,
/// as a cluster's ClusterIP copies print it).
pub fn prometheus_url(endpoints: &[Endpoint]) -> Option<String> {
    endpoints
        .iter()
        .find(|e| e.name == ComponentKind::Prometheus.as_str())
        .map(|e| e.url.as_str())
        .filter(|url| url.starts_with("http") && !url.contains(char::is_whitespace))
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// What [`Runtime::deploy`] reports.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// From the start of the deploy until every component answered its readiness check.
    pub time_to_ready: Duration,
    /// Notes for the user (e.g. "prometheus not on PATH: ..."), printed and reported.
    pub notes: Vec<String>,
}

/// One scrape of one target's `/metrics`.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub component: ComponentKind,
    /// Stable per instance across a run (`backend-0`, a pod name, ...): counters are
    /// differenced per instance.
    pub instance: String,
    /// The load plan a load generator runs (`None` for the other components): its counts
    /// also go to the plan's own totals.
    pub plan: Option<String>,
    /// The Prometheus text, or why there is none (a gap, kept in the report).
    pub result: std::result::Result<String, String>,
}

/// Everything one sampling round saw.
#[derive(Debug, Clone, Default)]
pub struct ScrapeRound {
    pub targets: Vec<Scrape>,
    /// Backend replicas that are ready (serving traffic) now.
    pub backend_ready: u32,
    /// Backend replicas asked for now.
    pub backend_desired: u32,
    /// CPU and memory the runtime measured (empty where it measures none).
    pub resources: crate::resources::Round,
}

/// Scrapes every component's `/metrics` once. Must not take longer than about a second
/// (use per-request timeouts) and must never fail as a whole: a target that cannot be
/// scraped is a [`Scrape`] with an `Err` reason.
pub trait MetricsSource: Clone + Send + Sync + 'static {
    fn scrape(&self) -> impl Future<Output = ScrapeRound> + Send;
}

/// Where and how the stack runs. See the module documentation for the call order.
pub trait Runtime: Send {
    type Metrics: MetricsSource;

    /// `local` or `kube`, for messages and the report.
    fn name(&self) -> &'static str;

    fn deploy(&mut self) -> impl Future<Output = Result<Deployed>> + Send;

    fn start_load(&mut self) -> impl Future<Output = Result<()>> + Send;

    fn scale_backend(&mut self, replicas: u32) -> impl Future<Output = Result<()>> + Send;

    fn stop_load(&mut self) -> impl Future<Output = Result<()>> + Send;

    /// Capability mode: the load the next [`Runtime::start_load`] starts (the climb, then
    /// each settle window), in place of the scenario's flat load keys (the scenario has no
    /// `[[load]]` plans then, so the generator keeps its name and its scrape target).
    fn set_load(&mut self, load: scenario::LoadSpec) -> Result<()>;

    /// How long [`Runtime::stop_load`] may take when a failed run stops the load: what its
    /// objects need to go (on a cluster, the pods' grace period and more).
    fn stop_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(10)
    }

    /// URLs to open (frontend, Prometheus, backend, loadgen metrics).
    fn endpoints(&self) -> Vec<Endpoint>;

    /// A handle the sampler scrapes once a second.
    fn metrics(&self) -> Self::Metrics;

    /// Where the runtime's CPU, memory and network figures come from, for the report.
    fn resource_source(&self) -> crate::resources::Source {
        crate::resources::Source {
            notes: vec![format!(
                "the {} runtime measures no CPU or memory; network figures are the components' own counts",
                self.name()
            )],
            network: "each component's own count of the bytes on its connections".into(),
            ..Default::default()
        }
    }

    /// The run's Prometheus HTTP API for each copy of the stack, in copy order (one for a
    /// single stack), or why this process cannot ask it; the gate's alerts are evaluated
    /// there. By default the [`prometheus_url`] of the endpoints.
    fn prometheus_apis(&self) -> Vec<std::result::Result<PrometheusApi, String>> {
        let url = prometheus_url(&self.endpoints());
        vec![
            url.map(PrometheusApi::Url)
                .ok_or_else(|| NO_PROMETHEUS.to_owned()),
        ]
    }

    /// `kill_worker_at`: kills one worker of the pipeline as a crash would (no drain: the
    /// orders in its hands stay unacknowledged) and says which, and what follows. The future
    /// owns what it needs: the timeline runs it beside the phases.
    fn worker_killer(&self) -> impl Future<Output = Result<String>> + Send + 'static {
        let runtime = self.name();
        async move {
            Err(RuntimeError::Unavailable {
                runtime,
                reason: "this runtime cannot kill a worker (kill_worker_at)".to_owned(),
            })
        }
    }

    /// Resolves when a component dies on its own (not when the timeline stopped it), naming
    /// it. Polled alongside every phase; pending forever when nothing failed.
    /// The returned future owns what it needs (e.g. a cloned watch receiver) because the
    /// timeline awaits it while it also calls the `&mut self` methods.
    fn failure(&self) -> impl Future<Output = RuntimeError> + Send + 'static;

    /// `scale_mode` hpa/keda: one sync of the autoscaler at `now` (since the run started),
    /// called once per [`Runtime::autoscale_poll`] from the deploy to the end of the cooldown.
    /// Locally the runtime runs [`crate::autoscale::algorithm`] on what it measures and
    /// scales its replicas; on a cluster it reads what the controller did; a runtime without
    /// an autoscaler says so.
    fn autoscale_sync(
        &mut self,
        now: Duration,
    ) -> impl Future<Output = Result<crate::autoscale::Sync>> + Send {
        let _ = now;
        let runtime = self.name();
        async move {
            Err(RuntimeError::Unavailable {
                runtime,
                reason: "this runtime has no autoscaler yet (scale_mode hpa/keda)".to_owned(),
            })
        }
    }

    /// How often [`Runtime::autoscale_sync`] is called; `None`: once per
    /// `autoscale_sync_period` (a runtime that runs the algorithm itself). A runtime that
    /// watches a real controller reads it more often, so no change goes unseen.
    fn autoscale_poll(&self) -> Option<Duration> {
        None
    }

    /// `workload = "pipeline"`, once the load has stopped: waits (when `drain`) until the
    /// workers have emptied the queue or [`crate::pipeline::DRAIN_TIMEOUT`] has passed, then
    /// reads what Redis holds for the loss check. `None`: the run has no pipeline (or the
    /// runtime cannot run one yet).
    fn pipeline_end(
        &mut self,
        drain: bool,
    ) -> impl Future<
        Output = Option<Result<crate::pipeline::report::End, crate::pipeline::report::Unread>>,
    > + Send {
        let _ = drain;
        async { None }
    }

    /// Seconds from each pod's creation to its readiness, for every pod the runtime started
    /// (the report's pod startup latency); empty where the runtime does not measure it.
    fn pod_startup(&mut self) -> impl Future<Output = Vec<f64>> + Send {
        async { Vec::new() }
    }

    /// Removes what the runtime created, unless `keep`.
    fn teardown(&mut self, keep: bool) -> impl Future<Output = Result<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prometheus_at(url: &str) -> Vec<Endpoint> {
        let endpoint = |name: &str, url: &str| Endpoint {
            name: name.into(),
            url: url.into(),
        };
        vec![
            endpoint("frontend (web UI)", "http://127.0.0.1:1/"),
            endpoint("prometheus", url),
        ]
    }

    #[test]
    fn prometheus_is_queried_only_where_it_is_reachable_as_is() {
        assert_eq!(
            prometheus_url(&prometheus_at("http://127.0.0.1:9090/")),
            Some("http://127.0.0.1:9090".into())
        );
        assert_eq!(
            prometheus_url(&prometheus_at(
                "http://localhost:9090 (after `kubectl port-forward -n ns svc/prometheus 9090:9090`)"
            )),
            None
        );
        assert_eq!(prometheus_url(&prometheus_at("not started")), None);
        assert_eq!(prometheus_url(&prometheus_at("http://h:1")[..1]), None);
    }
}
