//! Resource use of every component: CPU, memory and network bytes per replica, sampled with
//! the other figures, summed up per phase for the report and `compare`.
//!
//! The runtimes measure ([`local`]: per-thread CPU from /proc and the process's RSS), the
//! components count their own network bytes (`*_network_*_bytes_total` on their `/metrics`
//! pages, read in [`crate::sample`]); this module holds the model and the arithmetic.

pub mod compare;
pub mod export;
pub mod local;
pub mod render;
pub mod summary;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Linux's /proc, read by the components too (the backend's own CPU in `/api/stats`).
pub use common::procfs;
pub use summary::{ComponentUsage, PhaseUsage, Section, section};

/// The `component` of the row that stands for the whole orchestrator process: locally every
/// component shares it, so its RSS is the stack's memory.
pub const PROCESS: &str = "process";

/// One replica's (or the process's) readings at one sampling round. Counters are cumulative
/// since the instance started; memory is the value now. `None`: not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// `backend-0`, a pod name, `prometheus`, `process`.
    pub instance: String,
    /// `backend`, `frontend`, `loadgen`, `prometheus` or [`PROCESS`].
    pub component: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_rx_bytes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_tx_bytes: Option<f64>,
    /// What the component holds now by its own count, by [`HELD`] name: what its CPU and
    /// memory are spent on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<String, f64>,
}

/// The gauges components count themselves, and the name the report gives what they hold.
pub const HELD: [(&str, &str); 4] = [
    (common::names::APP_ACTIVE_SESSIONS, "sessions"),
    (common::names::HTTP_REQUESTS_IN_FLIGHT, "requests_in_flight"),
    (common::names::APP_QUEUE_DEPTH, "requests_queued"),
    (common::names::LG_IN_FLIGHT, "requests_in_flight"),
];

/// What a runtime measured in one round, beside the `/metrics` pages.
#[derive(Debug, Clone, Default)]
pub struct Round {
    pub usage: Vec<Usage>,
    /// What could not be measured this round, named (`resources: /proc/self/task: ...`).
    pub gaps: Vec<String>,
}

/// Where a runtime's figures come from and how fine they are, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// e.g. `/proc (per-thread CPU, process RSS); network: the components' own counters`.
    pub cpu: String,
    pub memory: String,
    pub network: String,
    /// The finest step of the figures, e.g. `10 ms CPU ticks, sampled every 1 s`.
    pub resolution: String,
    /// Why something is not measured at all (an OS without /proc, no metrics API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The instance's row of `usage`, created when the runtime measured nothing for it.
pub fn row<'a>(usage: &'a mut Vec<Usage>, component: &str, instance: &str) -> &'a mut Usage {
    match usage.iter().position(|u| u.instance == instance) {
        Some(i) => &mut usage[i],
        None => {
            usage.push(Usage {
                instance: instance.to_owned(),
                component: component.to_owned(),
                ..Usage::default()
            });
            let last = usage.len() - 1;
            &mut usage[last]
        }
    }
}
