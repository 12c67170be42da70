//! The backend's HTTP API: routes, actions and the JSON bodies exchanged by the backend,
//! the load generator and the frontend. Defined once here so the three cannot drift apart.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Route templates, as registered in the router and used as the `route` metric label.
pub mod routes {
    pub const HEALTHZ: &str = "/healthz";
    pub const READYZ: &str = "/readyz";
    pub const METRICS: &str = "/metrics";
    pub const TICKETS: &str = "/api/tickets";
    pub const TICKET: &str = "/api/tickets/{id}";
    pub const FEEDBACK: &str = "/api/feedback";
    pub const SHOWTIMES: &str = "/api/showtimes";
    pub const STATS: &str = "/api/stats";
    pub const JOB: &str = "/api/jobs/{id}";
    pub const STRESS_CPU: &str = "/api/stress/cpu";
    pub const STRESS_MEMORY: &str = "/api/stress/memory";
    /// The pipeline workload: an order appended to the Redis stream (only with `--redis-url`).
    pub const ORDERS: &str = "/api/orders";
    /// The pipeline workload's Redis as one atomic reading (queue, aggregates, memory), in
    /// Prometheus text; served by every worker, so a runtime that reaches pods only over
    /// HTTP (the kube API server's pod proxy) can read Redis too.
    pub const PIPELINE: &str = "/api/pipeline";
    /// The frontend's aggregated view, polled by its page.
    pub const SUMMARY: &str = "/api/summary";
    /// The autoscaler's latest decision ([`super::AutoscalerStatus`]), served by the
    /// orchestrator's local runtime when a run has one, read by the frontend.
    pub const AUTOSCALER: &str = "/api/autoscaler";
}

/// Header a client uses to identify its session; counted by `app_active_sessions`.
pub const SESSION_HEADER: &str = "x-session-id";
/// Longest feedback comment accepted, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;
/// Accepted feedback ratings.
pub const RATING_RANGE: std::ops::RangeInclusive<u8> = 1..=5;

/// What one load-generator request does: one of the movie-night interactions, or the
/// pipeline workload's order.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    #[default]
    BookTicket,
    CancelTicket,
    GiveFeedback,
    /// `POST /api/orders`: an order for the pipeline workload's Redis stream.
    PlaceOrder,
}

impl Action {
    /// The movie-night interactions: the default mix, and the actions the backend counts
    /// in `app_interactions_total` and `/api/stats` (orders have `app_orders_total`).
    pub const ALL: [Action; 3] = [
        Action::BookTicket,
        Action::CancelTicket,
        Action::GiveFeedback,
    ];

    /// Every action a load generator can send: [`Action::ALL`] and `place_order`.
    pub const EVERY: [Action; 4] = [
        Action::BookTicket,
        Action::CancelTicket,
        Action::GiveFeedback,
        Action::PlaceOrder,
    ];

    /// The name used in flags, config and the `action` metric label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::BookTicket => "book_ticket",
            Action::CancelTicket => "cancel_ticket",
            Action::GiveFeedback => "give_feedback",
            Action::PlaceOrder => "place_order",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown action `{0}`: expected one of book_ticket, cancel_ticket, give_feedback, place_order"
)]
pub struct UnknownAction(pub String);

impl FromStr for Action {
    type Err = UnknownAction;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::EVERY
            .into_iter()
            .find(|a| a.as_str() == s.trim())
            .ok_or_else(|| UnknownAction(s.trim().to_owned()))
    }
}

/// `POST /api/tickets`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookTicketRequest {
    pub showtime_id: u32,
    #[serde(default = "one_seat")]
    pub seats: u16,
}

fn one_seat() -> u16 {
    1
}

/// A booked ticket (201 from `POST /api/tickets`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: String,
    pub showtime_id: u32,
    pub seats: u16,
}

/// `POST /api/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRequest {
    pub rating: u8,
    #[serde(default)]
    pub comment: Option<String>,
}

/// 201 from `POST /api/feedback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackReceipt {
    pub id: String,
}

/// One screening with its seat inventory (`GET /api/showtimes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Showtime {
    pub id: u32,
    pub title: String,
    pub starts_at: String,
    pub seats_total: u32,
    pub seats_available: u32,
}

/// 202 from an action run in async mode; poll `GET /api/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobAccepted {
    pub job_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// `GET /api/jobs/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub job_id: String,
    pub action: Action,
    pub state: JobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

/// Counts of one action on one replica, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionCounts {
    pub action: Action,
    pub ok: u64,
    pub errors: u64,
}

/// `GET /api/stats`: one replica's view of itself, polled by the frontend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// HOSTNAME / POD_NAME, or the configured name locally.
    pub replica: String,
    pub version: String,
    pub uptime_seconds: f64,
    pub interactions: Vec<ActionCounts>,
    /// Every HTTP request answered, including health checks and shed requests.
    pub requests_total: u64,
    pub shed_total: u64,
    pub active_sessions: u64,
    pub in_flight: u64,
    pub queue_depth: u64,
    pub workers: u64,
    /// Latency quantiles of action requests over a recent window, in milliseconds.
    pub latency_p50_ms: f64,
    pub latency_p95_ms: f64,
    /// CPU seconds the replica used so far: its own threads when it runs inside the
    /// orchestrator's local runtime, else its process. Absent where /proc cannot be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<f64>,
    /// Its process's resident memory; absent when it shares the process (locally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<f64>,
}

/// `GET /api/autoscaler`: what the autoscaler saw and decided at its latest sync, for the
/// live page (the report keeps every sync).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerStatus {
    /// `hpa` or `keda`.
    pub mode: String,
    /// What it scales on: `rps_per_replica`, `utilization`, `p95_latency` or `cpu`.
    pub metric: String,
    /// The metric's target per replica, in the metric's unit.
    pub target: f64,
    /// The metric's value per replica at the sync; absent when it could not be read (the
    /// autoscaler then holds its last decision).
    pub value: Option<f64>,
    /// Replicas it asks for.
    pub desired: u32,
    /// Replicas ready when it decided.
    pub ready: u32,
    pub min: u32,
    pub max: u32,
    /// Why it decided so, e.g. `ScaleUp`, `WithinTolerance`, `ScaleDownStabilized`.
    pub reason: String,
}

/// `POST /api/orders` (the pipeline workload): one transaction for a region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Letters, digits, `-` and `_`, 1 to [`MAX_REGION_CHARS`] characters.
    pub region: String,
    /// 1 to [`MAX_ORDER_ITEMS`].
    pub items: u32,
    /// Finite, 0 to [`MAX_ORDER_AMOUNT`].
    pub amount: f64,
}

/// Longest `region` of an order.
pub const MAX_REGION_CHARS: usize = 64;
/// Most `items` in one order.
pub const MAX_ORDER_ITEMS: u32 = 10_000;
/// Largest `amount` of one order.
pub const MAX_ORDER_AMOUNT: f64 = 1_000_000_000.0;

/// The regions the load generator's orders are spread over.
pub const ORDER_REGIONS: [&str; 4] = ["eu-west", "eu-north", "us-east", "ap-south"];

/// 202 from `POST /api/orders`: the order is on the queue under this stream entry id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAccepted {
    pub id: String,
}

/// The JSON error body of every non-2xx answer: `{"error": "...", ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in Action::EVERY {
            assert_eq!(action.as_str().parse::<Action>().unwrap(), action);
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
        assert!(
            "buy"
                .parse::<Action>()
                .unwrap_err()
                .to_string()
                .contains("book_ticket")
        );
    }

    #[test]
    fn book_request_defaults_to_one_seat_and_refuses_unknown_fields() {
        let req: BookTicketRequest = serde_json::from_str(r#"{"showtime_id":3}"#).unwrap();
        assert_eq!(req.seats, 1);
        assert!(serde_json::from_str::<BookTicketRequest>(r#"{"showtime_id":3,"x":1}"#).is_err());
    }
}
