//! demo-frontend: live web UI that polls every backend replica and proxies the actions.

pub mod cli;

use std::{net::SocketAddr, time::Duration};

pub use cli::Opts;

/// Errors of the frontend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag failed validation; the message names it and how to fix it.
    #[error("{0}")]
    Flag(String),
    /// The server is not implemented yet (issue 5); refusing honestly.
    #[error("demo-frontend server is not built yet (see issue 5)")]
    NotBuilt,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the replicas to poll come from.
#[derive(Clone, Debug)]
pub enum ReplicaSource {
    /// A fixed list of base URLs.
    Static(Vec<String>),
    /// `host:port` of a headless Service, re-resolved every poll.
    Headless(String),
    /// Base URLs pushed by the orchestrator's local runtime when it scales.
    Watch(tokio::sync::watch::Receiver<Vec<String>>),
}

/// Validated frontend configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub backend_url: String,
    pub replicas: ReplicaSource,
    pub loadgen_url: Option<String>,
    pub poll_interval: Duration,
}

/// Serves the frontend on `listener` until `shutdown` completes.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let _ = (config, listener, shutdown);
    Err(Error::NotBuilt)
}
