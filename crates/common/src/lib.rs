//! Everything the demo's binaries agree on: the scenario configuration, human durations,
//! metric and label names, the backend's API types, and the process plumbing (logging,
//! shutdown signals) every `main.rs` uses.

pub mod api;
pub mod config;
pub mod duration;
pub mod exposition;
pub mod labels;
pub mod load;
pub mod names;
pub mod shutdown;
pub mod telemetry;

pub use duration::HumanDuration;
