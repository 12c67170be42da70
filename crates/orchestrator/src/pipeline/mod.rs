//! The pipeline workload (`workload = "pipeline"`) in the orchestrator: the local run's
//! `redis-server` ([`redis`]), what is read from Redis itself ([`probe`]: the queue, the
//! aggregates, its memory), how the local run notices that Redis died ([`watch`]), the orders'
//! figures of each sampling round ([`sample`]), and the report's section with the loss check
//! ([`report`], [`render`]).
//!
//! The components (backend producer, workers) are started by the local runtime
//! (`local/runtime/pipeline.rs`) with the flags of [`crate::components`].

pub mod probe;
pub mod redis;
pub mod render;
pub mod report;
pub mod sample;
pub mod watch;

/// How long the end of a run waits for the workers to empty the queue before the loss
/// check (the load has stopped; what is left is counted as still queued).
pub const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
