//! The JSON of `GET /api/summary`: everything the page draws, built once per poll.
//!
//! Rates are per second, latencies in milliseconds, times in Unix milliseconds. A number
//! that is unknown (no replica up, no load generator) is `null`, never a made-up zero.

use common::api::Action;
use serde::{Deserialize, Serialize};

/// The aggregated view of the backend and the load generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// When the poll this summary comes from finished (Unix ms); `null` before the first poll.
    pub generated_at_ms: Option<u64>,
    /// How often the replicas are polled, in milliseconds.
    pub poll_interval_ms: u64,
    /// Polls completed since start.
    pub polls: u64,
    /// Reachability of the backend, with the message the page shows in its banner.
    pub backend: BackendStatus,
    /// Current numbers, summed (or weighted) over the replicas that answered.
    pub current: Current,
    /// Totals and current rate of each action, in `Action::ALL` order.
    pub actions: Vec<ActionSummary>,
    /// Every replica polled, up or down, in the order they were first seen.
    pub replicas: Vec<ReplicaSummary>,
    /// The load generator, when `--loadgen-url` is set.
    pub loadgen: Option<LoadgenSummary>,
    /// The autoscaler, when `--autoscaler-url` or `--autoscaler-hpa` is set and it has been polled.
    pub autoscaler: Option<AutoscalerSummary>,
    /// The last 10 minutes, one point per poll, oldest first (columns of equal length).
    pub history: History,
}

/// How the backend is doing as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendState {
    /// No poll has completed yet.
    Starting,
    /// Every replica answered.
    Ok,
    /// Some replicas answered, some did not.
    Degraded,
    /// Replicas are listed but none answered.
    Unreachable,
    /// The replica source lists nothing (empty list, or DNS gave no address).
    NoReplicas,
}

/// Backend reachability, for the banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendStatus {
    pub state: BackendState,
    /// Backend Service URL the actions are proxied to.
    pub url: String,
    /// Where the replica list comes from, e.g. "2 URLs", "DNS of backend-headless:8080".
    pub source: String,
    /// A sentence for a person, e.g. "Backend unreachable at http://…; retrying every 1s".
    pub message: String,
}

/// The current numbers at the top of the page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Current {
    /// Action requests per second (all outcomes), summed over replicas.
    pub requests_per_s: f64,
    /// Failed action requests per second.
    pub errors_per_s: f64,
    /// Requests refused because a queue was full, per second.
    pub shed_per_s: f64,
    /// Latency quantiles across replicas, weighted by each replica's request rate (the
    /// highest replica value when there is no traffic); `null` when no replica is up or
    /// none has served a request recently.
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub active_sessions: u64,
    pub in_flight: u64,
    pub queue_depth: u64,
    pub workers: u64,
    /// Shed requests since the replicas started (last known value of each replica).
    pub shed_total: u64,
    pub replicas_up: u32,
    pub replicas_total: u32,
}

/// Totals and current rate of one action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSummary {
    pub action: Action,
    /// Successful interactions since the replicas started (last known value of each).
    pub ok_total: u64,
    pub errors_total: u64,
    /// Interactions per second, all outcomes.
    pub rate_per_s: f64,
    pub errors_per_s: f64,
}

/// One replica's row in the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSummary {
    /// Base URL polled.
    pub url: String,
    /// The name the replica reports (pod name); `null` until it answered once.
    pub name: Option<String>,
    pub up: bool,
    /// Why it is down, e.g. "cannot connect: Connection refused"; `null` when up.
    pub error: Option<String>,
    /// Action requests per second handled by this replica.
    pub requests_per_s: f64,
    /// Fraction (0..=1) of all action requests this replica handled during the last poll.
    pub share: f64,
    /// CPU cores it used between its last two answers (`null`: it reports no CPU time).
    pub cpu_cores: Option<f64>,
    /// Its resident memory (`null` locally, where every replica shares one process).
    pub memory_bytes: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub active_sessions: u64,
    pub in_flight: u64,
    pub queue_depth: u64,
    pub workers: u64,
    pub shed_total: u64,
    pub uptime_seconds: Option<f64>,
    /// When it last answered (Unix ms).
    pub last_seen_ms: Option<u64>,
    /// When it joined the list (Unix ms); `null` for replicas listed from the first poll.
    /// The page marks a replica that joined in the last minute as new (a scale-up).
    pub joined_ms: Option<u64>,
}

/// The load generator block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadgenSummary {
    /// Base URL whose `/metrics` is polled.
    pub url: String,
    /// Whether its `/metrics` answered in the last poll.
    pub running: bool,
    /// "running", or why it is shown as not running.
    pub message: String,
    /// Scheduled and achieved request rate (gauges `lg_target_rps`, `lg_current_rps`).
    pub target_rps: Option<f64>,
    pub current_rps: Option<f64>,
    pub sent_total: Option<u64>,
    pub errors_total: Option<u64>,
    pub dropped_total: Option<u64>,
    /// Rates from the counters' deltas between polls.
    pub errors_per_s: Option<f64>,
    pub dropped_per_s: Option<f64>,
}

/// The autoscaler's metric, target and replicas, as its last sync saw them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerSummary {
    /// Where the status is read: the base URL whose `/api/autoscaler` is polled, or
    /// `HorizontalPodAutoscaler <namespace>/<name>`.
    pub url: String,
    /// "reachable", or why the last poll could not read it.
    pub message: String,
    /// The latest status read (kept when a poll fails); `null` before the first.
    pub status: Option<common::api::AutoscalerStatus>,
}

/// Chart data, one entry per poll in every column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Time of each point (Unix ms).
    pub t_ms: Vec<u64>,
    /// Action requests per second, all actions.
    pub requests_per_s: Vec<f64>,
    /// Per action, in `Action::ALL` order.
    pub by_action: Vec<ActionHistory>,
    pub errors_per_s: Vec<f64>,
    /// `null` where no replica was up or none had served a request recently.
    pub latency_p95_ms: Vec<Option<f64>>,
    pub replicas_up: Vec<u32>,
    pub replicas_total: Vec<u32>,
    /// The load generator's scheduled rate; `null` where it was not running (or not set).
    pub loadgen_target_rps: Vec<Option<f64>>,
}

/// Rate history of one action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionHistory {
    pub action: Action,
    pub rate_per_s: Vec<f64>,
}
