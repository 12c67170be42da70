//! The local runtime: every component in this process on its own loopback port.

pub mod balancer;
pub mod ports;
pub mod prometheus;
pub mod runtime;
pub mod scrape;
pub mod threads;

pub use ports::{DEFAULT_PORT_BASE, PortPlan};

/// The executable `name` in a directory of PATH, as a shell would find it.
pub fn on_path(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}
