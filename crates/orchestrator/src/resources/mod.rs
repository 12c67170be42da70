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
}

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

/// Adds a network reading from a component's page to `usage`, creating the instance's
/// row when the runtime measured nothing for it.
pub fn add_network(usage: &mut Vec<Usage>, component: &str, instance: &str, rx: f64, tx: f64) {
    let row = match usage.iter().position(|u| u.instance == instance) {
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
    };
    row.net_rx_bytes = Some(rx);
    row.net_tx_bytes = Some(tx);
}
