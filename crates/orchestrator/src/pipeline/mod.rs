//! The pipeline workload (`workload = "pipeline"`) in the orchestrator: the local run's
//! `redis-server` ([`redis`]), the local reader of Redis ([`probe`]: the queue, the
//! aggregates, its memory; on a cluster a worker serves the same reading, see
//! `kube/pipeline.rs`), the end of a run's wait for the queue to empty ([`drain`]), how the
//! local run notices that Redis died ([`watch`]), the orders' figures of each sampling round
//! ([`sample`]), and the report's section with the loss check ([`report`], [`render`]).
//!
//! The components (backend producer, workers) are started by the local runtime
//! (`local/runtime/pipeline.rs`) with the flags of [`crate::components`].

pub mod drain;
pub mod probe;
pub mod redis;
pub mod render;
pub mod report;
pub mod sample;
pub mod watch;

pub use drain::DRAIN_TIMEOUT;
