//! Metric names, label keys, units, descriptions and histogram buckets of every `/metrics`
//! page (ARCHITECTURE.md, "Contracts"). Components never spell a metric name themselves:
//! they take it from here and hand [`describe_backend`], [`describe_loadgen`] or
//! [`describe_frontend`] to their own recorder (`crate::recorder`), so descriptions and
//! units are registered in one place.
//!
//! Each component instance owns its recorder (no global recorder): the local runtime runs
//! several backend replicas in one process and each must expose only its own series.

use metrics::{KeyName, Recorder, SharedString, Unit};

// Backend.
pub const APP_INTERACTIONS_TOTAL: &str = "app_interactions_total";
pub const APP_ACTIVE_SESSIONS: &str = "app_active_sessions";
pub const APP_QUEUE_DEPTH: &str = "app_queue_depth";
pub const APP_SHED_REQUESTS_TOTAL: &str = "app_shed_requests_total";
/// Async jobs accepted (202) and not yet finished: the backend's job queue.
pub const APP_JOBS_PENDING: &str = "app_jobs_pending";
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
pub const HTTP_REQUESTS_IN_FLIGHT: &str = "http_requests_in_flight";
/// Pipeline workload: `POST /api/orders` answers, by outcome ([`order_outcome`]).
pub const APP_ORDERS_TOTAL: &str = "app_orders_total";

// Pipeline worker.
/// Stream entries delivered to this worker (XREADGROUP), re-deliveries of its own pending
/// entries included.
pub const WORKER_MESSAGES_CONSUMED_TOTAL: &str = "worker_messages_consumed_total";
/// Entries whose aggregate was written and that were acknowledged (XACK) in one transaction.
pub const WORKER_MESSAGES_ACKNOWLEDGED_TOTAL: &str = "worker_messages_acknowledged_total";
/// Entries this worker took over (XAUTOCLAIM) from a consumer that held them unacknowledged
/// for `--claim-idle`: a worker that died or stalled.
pub const WORKER_MESSAGES_CLAIMED_TOTAL: &str = "worker_messages_claimed_total";
/// Failures, by kind ([`worker_error_kind`]).
pub const WORKER_ERRORS_TOTAL: &str = "worker_errors_total";
/// From the backend's enqueue time to the aggregate written, per message.
pub const WORKER_END_TO_END_SECONDS: &str = "worker_end_to_end_seconds";
/// Entries in the stream (XLEN): acknowledged entries are deleted, so this is the queue.
pub const WORKER_QUEUE_LENGTH: &str = "worker_queue_length";
/// Entries not yet delivered to the consumer group (XINFO GROUPS `lag`).
pub const WORKER_CONSUMER_LAG: &str = "worker_consumer_lag";
/// Entries delivered to the group and not yet acknowledged (XINFO GROUPS `pending`).
pub const WORKER_PENDING_MESSAGES: &str = "worker_pending_messages";
/// Redis' memory in use (redis_exporter's name for INFO's `used_memory`), on the worker's
/// pipeline reading ([`crate::api::routes::PIPELINE`]), not on its /metrics.
pub const REDIS_MEMORY_USED_BYTES: &str = "redis_memory_used_bytes";
/// Orders in the per-region aggregates: acknowledged, as Redis counts them; on the pipeline
/// reading only.
pub const REDIS_AGGREGATED_ORDERS: &str = "redis_aggregated_orders";
/// Bytes read from and written to the replica's accepted connections (TLS included).
pub const APP_NETWORK_RECEIVE_BYTES_TOTAL: &str = "app_network_receive_bytes_total";
pub const APP_NETWORK_TRANSMIT_BYTES_TOTAL: &str = "app_network_transmit_bytes_total";

// Load generator.
pub const LG_SENT_REQUESTS_TOTAL: &str = "lg_sent_requests_total";
pub const LG_ERRORS_TOTAL: &str = "lg_errors_total";
pub const LG_DROPPED_REQUESTS_TOTAL: &str = "lg_dropped_requests_total";
pub const LG_TARGET_RPS: &str = "lg_target_rps";
pub const LG_CURRENT_RPS: &str = "lg_current_rps";
pub const LG_REQUEST_DURATION_SECONDS: &str = "lg_request_duration_seconds";
pub const LG_IN_FLIGHT: &str = "lg_in_flight";
/// Async mode: from the intended send time of the request that started a job to the job's end.
pub const LG_JOB_DURATION_SECONDS: &str = "lg_job_duration_seconds";
/// Closed loop: virtual users running now.
pub const LG_VUS: &str = "lg_vus";
/// Opening a TCP connection to the target (resolving excluded), per connection opened.
pub const LG_CONNECT_DURATION_SECONDS: &str = "lg_connect_duration_seconds";
/// A TLS handshake with the target, from the open TCP connection to the end of the handshake.
pub const LG_TLS_HANDSHAKE_DURATION_SECONDS: &str = "lg_tls_handshake_duration_seconds";
/// TLS handshakes completed with the target (each new https connection makes one).
pub const LG_HANDSHAKES_TOTAL: &str = "lg_handshakes_total";
/// Bytes read from and written to the connections to the target (TLS included).
pub const LG_NETWORK_RECEIVE_BYTES_TOTAL: &str = "lg_network_receive_bytes_total";
pub const LG_NETWORK_TRANSMIT_BYTES_TOTAL: &str = "lg_network_transmit_bytes_total";

// Frontend (its own page; not read by other components).
/// Polls of a replica's `/api/stats`, by outcome (`ok`, `error`).
pub const FRONTEND_REPLICA_POLLS_TOTAL: &str = "frontend_replica_polls_total";
/// Scrapes of the load generator's `/metrics`, by outcome (`ok`, `error`).
pub const FRONTEND_LOADGEN_POLLS_TOTAL: &str = "frontend_loadgen_polls_total";
/// Replicas that answered the last poll.
pub const FRONTEND_REPLICAS_UP: &str = "frontend_replicas_up";
/// Replicas listed (answering or not).
pub const FRONTEND_REPLICAS: &str = "frontend_replicas";
/// Proxied action requests, by route template and status.
pub const FRONTEND_PROXY_REQUESTS_TOTAL: &str = "frontend_proxy_requests_total";

/// Metric label keys.
pub mod label {
    pub const ACTION: &str = "action";
    pub const OUTCOME: &str = "outcome";
    pub const METHOD: &str = "method";
    pub const ROUTE: &str = "route";
    pub const STATUS: &str = "status";
    pub const KIND: &str = "kind";
}

/// Values of the `outcome` label of `app_interactions_total`.
pub mod outcome {
    pub const OK: &str = "ok";
    pub const REJECTED: &str = "rejected";
    pub const SOLD_OUT: &str = "sold_out";
    pub const NOT_FOUND: &str = "not_found";
    pub const SHED: &str = "shed";
    pub const ERROR: &str = "error";
}

/// Values of the `outcome` label of `app_orders_total`.
pub mod order_outcome {
    /// Appended to the stream (202).
    pub const ENQUEUED: &str = "enqueued";
    /// Bad input (400, 413).
    pub const REJECTED: &str = "rejected";
    /// The backend runs without `--redis-url` (501).
    pub const NOT_CONFIGURED: &str = "not_configured";
    /// Redis refused, failed or could not be reached (503).
    pub const REDIS_ERROR: &str = "redis_error";
    /// Redis did not answer within `--redis-timeout` (503).
    pub const REDIS_TIMEOUT: &str = "redis_timeout";
    /// The backend is shutting down (503).
    pub const DRAINING: &str = "draining";
    pub const ALL: [&str; 6] = [
        ENQUEUED,
        REJECTED,
        NOT_CONFIGURED,
        REDIS_ERROR,
        REDIS_TIMEOUT,
        DRAINING,
    ];
}

/// Values of the `kind` label of `worker_errors_total`.
pub mod worker_error_kind {
    /// A Redis command failed or the connection was lost.
    pub const REDIS: &str = "redis";
    /// A Redis command got no answer within `--redis-timeout`.
    pub const TIMEOUT: &str = "timeout";
    /// A stream entry without the order's fields: acknowledged and dropped, never retried.
    pub const BAD_MESSAGE: &str = "bad_message";
    pub const ALL: [&str; 3] = [REDIS, TIMEOUT, BAD_MESSAGE];
}

/// Values of the `kind` label of `lg_errors_total`.
pub mod error_kind {
    pub const TIMEOUT: &str = "timeout";
    pub const CONNECT: &str = "connect";
    pub const HTTP_4XX: &str = "http_4xx";
    pub const HTTP_5XX: &str = "http_5xx";
    pub const IO: &str = "io";
    /// Async mode: the job the request started ended in failure.
    pub const JOB_FAILED: &str = "job_failed";
    /// Async mode: the job was forgotten by the backend, or not done within the poll bound.
    pub const JOB_EXPIRED: &str = "job_expired";
    /// The TLS handshake failed: certificate not trusted, for another host, expired, or
    /// the handshake itself.
    pub const TLS: &str = "tls";
    pub const ALL: [&str; 8] = [
        TIMEOUT,
        CONNECT,
        HTTP_4XX,
        HTTP_5XX,
        IO,
        JOB_FAILED,
        JOB_EXPIRED,
        TLS,
    ];
}

/// Server-side latency buckets: about 1 ms to 10 s.
pub const HTTP_LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
    10.0,
];

/// Client-side latency buckets: finer below 5 ms, where a healthy service answers.
pub const LG_LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05,
    0.075, 0.1, 0.15, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// End-to-end latency buckets of the pipeline: a queue can hold a message for minutes.
pub const PIPELINE_LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

fn text(s: &'static str) -> SharedString {
    SharedString::const_str(s)
}

/// Registers the backend's metric descriptions and units on `recorder`.
pub fn describe_backend(recorder: &dyn Recorder) {
    let counter = |name: &'static str, help: &'static str| {
        recorder.describe_counter(KeyName::from_const_str(name), None, text(help));
    };
    let gauge = |name: &'static str, help: &'static str| {
        recorder.describe_gauge(KeyName::from_const_str(name), None, text(help));
    };
    counter(
        APP_INTERACTIONS_TOTAL,
        "User interactions handled, by action and outcome.",
    );
    gauge(
        APP_ACTIVE_SESSIONS,
        "Distinct session ids seen in the last 60 seconds.",
    );
    gauge(
        APP_QUEUE_DEPTH,
        "Requests waiting for a worker on this replica.",
    );
    counter(
        APP_SHED_REQUESTS_TOTAL,
        "Requests refused with 503 because the queue was full.",
    );
    counter(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by method, route template and status.",
    );
    recorder.describe_histogram(
        KeyName::from_const_str(HTTP_REQUEST_DURATION_SECONDS),
        Some(Unit::Seconds),
        text("Time from receiving a request to sending its response, queue wait included."),
    );
    gauge(HTTP_REQUESTS_IN_FLIGHT, "HTTP requests being handled now.");
    gauge(
        APP_JOBS_PENDING,
        "Async jobs accepted and not yet finished on this replica.",
    );
    counter(
        APP_ORDERS_TOTAL,
        "POST /api/orders answers, by outcome (enqueued, rejected, not_configured, redis_error, redis_timeout, draining).",
    );
    bytes(
        recorder,
        APP_NETWORK_RECEIVE_BYTES_TOTAL,
        "Bytes read from this replica's connections.",
    );
    bytes(
        recorder,
        APP_NETWORK_TRANSMIT_BYTES_TOTAL,
        "Bytes written to this replica's connections.",
    );
}

fn bytes(recorder: &dyn Recorder, name: &'static str, help: &'static str) {
    recorder.describe_counter(KeyName::from_const_str(name), Some(Unit::Bytes), text(help));
}

/// Registers the pipeline worker's metric descriptions and units on `recorder`.
pub fn describe_worker(recorder: &dyn Recorder) {
    let counter = |name: &'static str, help: &'static str| {
        recorder.describe_counter(KeyName::from_const_str(name), None, text(help));
    };
    let gauge = |name: &'static str, help: &'static str| {
        recorder.describe_gauge(KeyName::from_const_str(name), None, text(help));
    };
    counter(
        WORKER_MESSAGES_CONSUMED_TOTAL,
        "Stream entries delivered to this worker, re-deliveries included.",
    );
    counter(
        WORKER_MESSAGES_ACKNOWLEDGED_TOTAL,
        "Stream entries aggregated and acknowledged by this worker.",
    );
    counter(
        WORKER_MESSAGES_CLAIMED_TOTAL,
        "Stream entries taken over from a consumer that held them unacknowledged too long.",
    );
    counter(
        WORKER_ERRORS_TOTAL,
        "Worker failures, by kind (redis, timeout, bad_message).",
    );
    recorder.describe_histogram(
        KeyName::from_const_str(WORKER_END_TO_END_SECONDS),
        Some(Unit::Seconds),
        text("Time from the backend's enqueue to the aggregate written, per message."),
    );
    gauge(WORKER_QUEUE_LENGTH, "Entries in the order stream (XLEN).");
    gauge(
        WORKER_CONSUMER_LAG,
        "Entries not yet delivered to the consumer group.",
    );
    gauge(
        WORKER_PENDING_MESSAGES,
        "Entries delivered to the consumer group and not yet acknowledged.",
    );
}

/// Registers the load generator's metric descriptions and units on `recorder`.
pub fn describe_loadgen(recorder: &dyn Recorder) {
    let counter = |name: &'static str, help: &'static str| {
        recorder.describe_counter(KeyName::from_const_str(name), None, text(help));
    };
    let gauge = |name: &'static str, help: &'static str| {
        recorder.describe_gauge(KeyName::from_const_str(name), None, text(help));
    };
    counter(LG_SENT_REQUESTS_TOTAL, "Requests sent, by action.");
    counter(
        LG_ERRORS_TOTAL,
        "Requests that failed, by action and kind (timeout, connect, http_4xx, http_5xx, io, job_failed, job_expired, tls).",
    );
    counter(
        LG_DROPPED_REQUESTS_TOTAL,
        "Scheduled requests not sent because the in-flight cap was reached.",
    );
    gauge(LG_TARGET_RPS, "Scheduled request rate, per second.");
    gauge(
        LG_CURRENT_RPS,
        "Achieved request rate over the last second.",
    );
    recorder.describe_histogram(
        KeyName::from_const_str(LG_REQUEST_DURATION_SECONDS),
        Some(Unit::Seconds),
        text(
            "Latency from the intended send time to the response (coordinated-omission corrected).",
        ),
    );
    gauge(LG_IN_FLIGHT, "Requests sent and not yet answered.");
    recorder.describe_histogram(
        KeyName::from_const_str(LG_JOB_DURATION_SECONDS),
        Some(Unit::Seconds),
        text("Async mode: time from the intended send time to the end of the job it started."),
    );
    gauge(LG_VUS, "Closed loop: virtual users running now.");
    recorder.describe_histogram(
        KeyName::from_const_str(LG_CONNECT_DURATION_SECONDS),
        Some(Unit::Seconds),
        text("Time to open a TCP connection to the target, per connection opened."),
    );
    recorder.describe_histogram(
        KeyName::from_const_str(LG_TLS_HANDSHAKE_DURATION_SECONDS),
        Some(Unit::Seconds),
        text("Time of a TLS handshake with the target, per https connection opened."),
    );
    counter(
        LG_HANDSHAKES_TOTAL,
        "TLS handshakes completed with the target (connection rotation shows here).",
    );
    bytes(
        recorder,
        LG_NETWORK_RECEIVE_BYTES_TOTAL,
        "Bytes read from the connections to the target.",
    );
    bytes(
        recorder,
        LG_NETWORK_TRANSMIT_BYTES_TOTAL,
        "Bytes written to the connections to the target.",
    );
}

/// Registers the frontend's metric descriptions on `recorder`.
pub fn describe_frontend(recorder: &dyn Recorder) {
    let counter = |name: &'static str, help: &'static str| {
        recorder.describe_counter(KeyName::from_const_str(name), None, text(help));
    };
    let gauge = |name: &'static str, help: &'static str| {
        recorder.describe_gauge(KeyName::from_const_str(name), None, text(help));
    };
    counter(
        FRONTEND_REPLICA_POLLS_TOTAL,
        "Polls of a backend replica's /api/stats, by outcome.",
    );
    counter(
        FRONTEND_LOADGEN_POLLS_TOTAL,
        "Scrapes of the load generator's /metrics, by outcome.",
    );
    counter(
        FRONTEND_PROXY_REQUESTS_TOTAL,
        "Action requests proxied to the backend, by route template and status.",
    );
    gauge(
        FRONTEND_REPLICAS_UP,
        "Backend replicas that answered the last poll.",
    );
    gauge(FRONTEND_REPLICAS, "Backend replicas listed, up or down.");
}
