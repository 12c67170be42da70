//! Everything the demo's binaries agree on: human durations, load shapes, metric names and
//! their exposition, the backend's API types, the one threshold parser, the TLS client
//! settings of the load generator and the frontend, and the process plumbing (logging,
//! shutdown signals) every `main.rs` uses. The scenario configuration lives in the
//! `scenario` crate, next to its one user, the orchestrator.

pub mod api;
pub mod duration;
pub mod exposition;
pub mod load;
pub mod names;
pub mod netcount;
pub mod ports;
pub mod procfs;
pub mod shutdown;
pub mod telemetry;
pub mod threshold;
pub mod tls;

pub use duration::HumanDuration;
