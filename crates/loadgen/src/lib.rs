//! loadgen: flags and configuration are in place; the request engine (issue 4) has not landed,
//! so `run` refuses with an error instead of pretending to generate load.

pub mod cli;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use common::api::Action;

use common::load::{Ramp, Shard};
use serde::{Deserialize, Serialize};

pub use cli::Opts;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Flag(&'static str, String),
    #[error("loadgen's request engine is not implemented yet (issue 4); no load was sent")]
    NotImplemented,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether the terminal gets a live progress display, a periodic log line, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Auto,
    Log,
    Off,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub target: String,
    pub ramp: Ramp,
    /// Actions with their relative weights.
    pub actions: Vec<(Action, u32)>,
    pub conn_max_age: Duration,
    pub metrics_addr: SocketAddr,
    pub shard: Shard,
    pub progress: Progress,
}

/// What a run measured.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    pub sent: u64,
}

/// Fails at once: the request engine has not been written, and sending nothing while
/// reporting success would mislead every caller.
pub async fn run(
    _config: Config,
    _metrics_listener: Option<tokio::net::TcpListener>,
    _shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Report> {
    Err(Error::NotImplemented)
}
