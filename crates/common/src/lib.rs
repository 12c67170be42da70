//! Everything the demo's binaries agree on: human durations, load shapes, metric names,
//! their exposition, the per-instance recorder and the reader of the load generator's page,
//! the backend's API types, the one threshold parser, the TLS client settings of the load
//! generator and the frontend, and the process plumbing (logging, shutdown signals) every
//! `main.rs` uses. The scenario configuration lives in the `scenario` crate, next to its one
//! user, the orchestrator.

pub mod api;
pub mod duration;
pub mod exposition;
pub mod load;
pub mod loadgen_page;
pub mod names;
pub mod netcount;
pub mod ports;
pub mod procfs;
pub mod quantity;
pub mod recorder;
pub mod shutdown;
pub mod telemetry;
pub mod threshold;
pub mod tls;

pub use duration::HumanDuration;
