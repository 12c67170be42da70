//! The Kubernetes runtime: the scenario's objects as typed k8s-openapi values ([`build`]),
//! `render` ([`render`]), and the run on a cluster through kube-rs.
//!
//! Where to start reading: [`build::plan`] (every object of a run), then [`runtime`].

pub mod api;
pub mod autoscaler;
pub mod build;
pub mod cli;
pub mod connect;
pub mod destroy;
pub mod endpoints;
pub mod error;
pub mod events;
pub mod labels;
pub mod latency;
pub mod measure;
pub mod meta;
pub mod metrics;
pub mod node_ports;
pub mod pipeline;
pub mod pods;
pub mod preflight;
pub mod prepull_phase;
pub mod problems;
pub mod ratelimit;
pub mod render;
pub mod runtime;
pub mod usage;
pub mod wait;

pub use destroy::{Destroyed, destroy};
pub use error::{Error, Result};
pub use render::{render_manifests, write_manifests};
pub use runtime::{KubeOptions, KubeRuntime};
