//! The keys of N copies: `iterations` (how many copies of the whole stack a run deploys and
//! drives together) and the client-side rate limit against the Kubernetes API server while
//! it creates them (`kube_qps`, `kube_burst`, as kube-burner's QPS and Burst).

use serde::{Deserialize, Serialize};

use super::builder::Builder;
use super::check::Check;
use super::error::{ConfigError, ErrorKind, Problem};
use super::keys::{Key, field, key};
use super::value::Field;

/// How many copies of the stack run at once, and how fast they may be created on a cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Iterations {
    /// Copies of the whole stack (1: today's single stack, named as ever).
    pub count: u32,
    /// Requests per second to the API server, sustained.
    pub kube_qps: f64,
    /// Requests to the API server allowed at once above `kube_qps`.
    pub kube_burst: u32,
    /// Which copy (1-based) a scenario describes, when it is one of several: set by the
    /// orchestrator on each copy's scenario (never a key), it names the copy's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl Default for Iterations {
    /// One stack; kube-burner's defaults for the API server's rate.
    fn default() -> Self {
        Self {
            count: 1,
            kube_qps: 20.0,
            kube_burst: 40,
            index: None,
        }
    }
}

/// Documented after the workers' keys.
pub(crate) const KEYS: [Key; 3] = [
    key!(
        "iterations",
        U32,
        iterations.count,
        Check::AtLeast(1),
        "Copies of the whole stack deployed and driven together (namespaces <prefix>-<uuid>-<i> on a cluster, consecutive port blocks locally)."
    ),
    key!(
        "kube_qps",
        F64,
        iterations.kube_qps,
        Check::Positive,
        "kube runtime: requests per second this run sends to the API server, sustained (kube-burner's QPS)."
    ),
    key!(
        "kube_burst",
        U32,
        iterations.kube_burst,
        Check::AtLeast(1),
        "kube runtime: requests to the API server allowed at once above kube_qps (kube-burner's Burst)."
    ),
];

impl Builder {
    /// An autoscaler drives one stack: beside several copies it would have to choose one
    /// replica count for stacks under different load.
    pub(crate) fn iterations_conflicts(&self) -> Vec<ConfigError> {
        let s = &self.scenario;
        if self.failed.contains("iterations")
            || s.iterations.count <= 1
            || !s.autoscale.mode.is_auto()
        {
            return Vec::new();
        }
        vec![
            Problem::new(
                ErrorKind::Conflict,
                format!(
                    "scale_mode = {} (from {}) autoscales one stack; iterations > 1 runs several",
                    s.autoscale.mode.as_str(),
                    self.source("scale_mode")
                ),
                "set scale_mode = manual, or iterations = 1",
            )
            .at(
                "iterations",
                &s.iterations.count.to_string(),
                Some(self.source("iterations")),
            ),
        ]
    }
}
