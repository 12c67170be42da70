//! The local runtime: every component in this process on its own loopback port.

pub mod balancer;
pub mod ports;
pub mod prometheus;
pub mod runtime;
pub mod scrape;
pub mod threads;

pub use ports::{DEFAULT_PORT_BASE, PortPlan};
