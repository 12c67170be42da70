//! The pipeline workload's Redis layout, shared by the backend (producer) and the worker
//! (consumer): one stream of orders read by one consumer group, and two hashes of per-region
//! aggregates. Both sides live in this crate, so the layout is private to it and spelled once.

mod entry;
mod link;
pub(crate) mod reading;

pub(crate) use entry::{Entry, now_ms};
pub(crate) use link::{Failure, Link};

/// The stream the backend appends orders to (XADD) and the worker consumes.
pub const STREAM: &str = "load-demo:orders";
/// The consumer group every worker reads the stream in.
pub const GROUP: &str = "workers";
/// Hash of orders aggregated per region (HINCRBY).
pub const COUNT_BY_REGION: &str = "load-demo:orders:count";
/// Hash of order amounts summed per region (HINCRBYFLOAT).
pub const AMOUNT_BY_REGION: &str = "load-demo:orders:amount";
