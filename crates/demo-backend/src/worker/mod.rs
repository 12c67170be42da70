//! The pipeline workload's consumer, `demo-worker`: reads the order stream in the consumer
//! group (XREADGROUP), does bounded simulated work per order (`--work-cpu`, `--work-memory`),
//! then adds the order to its region's aggregates and acknowledges it in one Lua script
//! (`commit.rs`), so an order is aggregated exactly when it is acknowledged. Acknowledged
//! entries are deleted with the same transaction: the stream's length is the queue.
//!
//! It lives in the backend crate, not a crate of its own, because the stream's layout
//! (`crate::queue`: key, group, fields) and the Redis link are shared with the backend's
//! producer route and stay private to one crate that way; it is a second binary and a second
//! library entry point ([`run`]) with its own flags ([`Opts`]) and its own recorder.
//!
//! Where to start reading: [`run`] (`server.rs`), `consume.rs` (the loop), `simulate.rs`.

mod claim;
mod commit;
mod config;
mod consume;
mod metrics;
mod server;
mod simulate;

pub use config::{MAX_CLAIM_IDLE, MAX_WORK_CPU, MAX_WORK_MEMORY, WorkerConfig, WorkerOpts};
pub use server::run;
