//! loadgen: an open-loop HTTP load generator. Requests go out at the instants of a schedule
//! computed from the load plan (ramp, stages or profile; `common::load`), never waiting for
//! responses; latency is measured from the intended instant (coordinated-omission corrected)
//! and kept in HDR histograms, so memory stays flat however long the run. A closed-loop
//! executor (virtual users, `--vus`) and async jobs (`--mode async`) are there too.
//!
//! Where to start reading: [`run`] in `engine.rs`, then `lane.rs` (a thread running a share
//! of the schedule), `scheduler.rs` (the open loop), `worker.rs` (one connection sending
//! jobs), `jobs.rs` (following async jobs), `closed.rs` (virtual users), `stats.rs` (what
//! is measured) and `report.rs`.

pub mod cli;
mod client;
mod closed;
mod engine;
mod jobs;
mod lane;
mod metrics;
mod plan;
mod progress;
mod queue;
pub mod report;
mod scheduler;
mod stats;
mod summary;
pub mod threshold;
mod ticker;
mod wait;
mod worker;
mod workload;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use common::api::Action;
use common::load::{Arrivals, Profile, Ramp, Shard, Stage};
use common::tls::Trust;

pub use common::load::vus::{ClosedLoop, ThinkTime};

pub use cli::Opts;
pub use engine::run;
pub use report::Report;
pub use threshold::Threshold;

/// What can go wrong; every message names the flag or the address involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Flag(&'static str, String),
    #[error(
        "cannot serve /metrics on {addr} (--metrics-addr): {source}; pick a free address or port 0"
    )]
    MetricsBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("target {target} is not reachable: {reason}; start it first or pass --wait-for-target")]
    TargetDown { target: String, reason: String },
    #[error(
        "target {target} did not answer 200 on /readyz within {waited:?} (--wait-timeout): {last}"
    )]
    TargetNotReady {
        target: String,
        waited: Duration,
        last: String,
    },
    #[error("cannot write report {path}: {source}")]
    WriteReport {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the load engine failed: {0}")]
    Engine(String),
    #[error("cannot set up TLS for the target: {0}")]
    Tls(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether the terminal gets a live progress display, a periodic log line, or nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A live display when stderr is a terminal, a log line every 5 s otherwise.
    Auto,
    Log,
    Off,
}

/// The rate over time: one of the three ways to give it.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// The demo's exponential ramp (`--base-rps`, `--ramp-factor`, `--ramp-interval`,
    /// `--duration`, `--max-rps`).
    Ramp(Ramp),
    /// k6-style stages from 0 rps (`--stages 30s:20,1m:20,10s:0`).
    Stages(Vec<Stage>),
    /// A named profile (`--profile spike`).
    Profile(Profile),
}

/// How the backend is asked to process action requests (`--mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Answered when the work is done.
    #[default]
    Sync,
    /// `?mode=async`: answered 202 with a job at once; the job is polled until it ends.
    Async,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }
}

/// How an async job is followed (`--poll-interval`, `--job-max-wait`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobPolling {
    /// Between two polls of one job; also the resolution of its measured duration.
    pub interval: Duration,
    /// From the 202 on: a job not done by then counts as `job_expired`.
    pub max_wait: Duration,
}

/// Who decides when a request goes out.
#[derive(Debug, Clone, PartialEq)]
pub enum Executor {
    /// The schedule of [`Config::shape`]: open loop, never waiting for responses.
    OpenLoop,
    /// Virtual users, each sending, waiting for the answer and thinking in turn.
    ClosedLoop(ClosedLoop),
}

/// One request of `--url` mode, sent for every schedule slot.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomRequest {
    /// Path and query on the target, starting with `/`.
    pub path: String,
    pub method: http::Method,
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: bytes::Bytes,
}

/// What each scheduled slot sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Workload {
    /// The demo's weighted mix of user actions.
    Actions(Vec<(Action, u32)>),
    /// The same request every time (any HTTP service).
    Custom(CustomRequest),
}

/// How requests travel to the target.
#[derive(Debug, Clone, PartialEq)]
pub struct Transport {
    /// Which certificates an https target may present (`--cacert`, `--insecure`).
    pub trust: Trust,
    /// HTTP/2 (`--http2`): negotiated by ALPN over TLS, with prior knowledge (h2c) over
    /// plain http. HTTP/1.1 otherwise.
    pub http2: bool,
    /// HTTP/2: requests carried at once by one connection (`--h2-streams`).
    pub h2_streams: usize,
    /// Addresses used for a host and port instead of resolving it (`--resolve`).
    pub resolve: Vec<Resolve>,
}

impl Default for Transport {
    fn default() -> Self {
        Self {
            trust: Trust::System,
            http2: false,
            h2_streams: 1,
            resolve: Vec::new(),
        }
    }
}

impl Transport {
    /// The protocol as the report names it: `http/1.1`, `h2` (over TLS) or `h2c`.
    pub fn protocol(&self, tls: bool) -> &'static str {
        match (self.http2, tls) {
            (false, _) => "http/1.1",
            (true, true) => "h2",
            (true, false) => "h2c",
        }
    }
}

/// `--resolve host:port:addr` (as curl's): connections to `host:port` go to `addr`, while
/// the URL's host still names the server in the TLS handshake and the `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    pub host: String,
    pub port: u16,
    pub addr: IpAddr,
}

impl FromStr for Resolve {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let usage = || format!("`{s}` is not host:port:addr (e.g. svc.test:443:127.0.0.1)");
        let (host, rest) = s.split_once(':').ok_or_else(usage)?;
        let (port, addr) = rest.split_once(':').ok_or_else(usage)?;
        if host.is_empty() {
            return Err(usage());
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("`{s}`: `{port}` is not a port number"))?;
        let bare = addr.trim_start_matches('[').trim_end_matches(']');
        let addr = bare
            .parse::<IpAddr>()
            .map_err(|_| format!("`{s}`: `{addr}` is not an IP address"))?;
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
            addr,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    /// `http[s]://host:port` plus an optional base path, without a trailing `/`.
    pub target: String,
    /// TLS trust, HTTP version and pinned addresses.
    pub transport: Transport,
    pub executor: Executor,
    /// The open loop's rate over time (unused by the closed loop).
    pub shape: Shape,
    /// Multiplies every duration of the open-loop plan (`--time-scale`); rates are kept.
    pub time_scale: f64,
    pub arrivals: Arrivals,
    pub shard: Shard,
    pub workload: Workload,
    /// Upper bound on open connections to the target.
    pub connections: usize,
    /// Sending threads, each with its own share of the schedule and of the connections;
    /// None for one per 20k rps of the plan's peak rate, at most one per core.
    pub threads: Option<usize>,
    /// Requests allowed in flight (queued for a connection included); a slot that finds the
    /// cap reached is dropped, never delayed.
    pub max_in_flight: usize,
    /// Per request, from its dispatch to the end of its response body.
    pub timeout: Duration,
    /// Connections older than this are closed instead of reused.
    pub conn_max_age: Duration,
    pub metrics_addr: SocketAddr,
    /// Poll the target's /readyz for up to this long before starting.
    pub wait_for_target: Option<Duration>,
    pub progress: Progress,
    pub thresholds: Vec<Threshold>,
    /// Report files (`.json` or `.md`) the binary writes after the run.
    pub reports: Vec<PathBuf>,
    /// Seeds the action mix, the Poisson arrivals and the session ids.
    pub seed: u64,
    pub mode: Mode,
    pub polling: JobPolling,
    /// Once the plan is done, keep serving `/metrics` until the shutdown signal.
    pub linger: bool,
}
