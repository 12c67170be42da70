//! Flags and environment variables (`Opts`, one clap derive for both) and the validated
//! [`Config`] the server runs with. Every validation error names the flag and how to fix it.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use common::HumanDuration;
use serde::Deserialize;

use crate::{Error, Result};

/// Longest `--cpu-work` accepted: a request must never burn a core for long.
pub const MAX_CPU_WORK: Duration = Duration::from_secs(1);
/// Longest `--service-time`, `--jitter` and `--delay` accepted.
pub const MAX_SIMULATED_WAIT: Duration = Duration::from_secs(60);
/// Largest `--max-body` accepted.
pub const MAX_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How action requests are processed: answered when done, or accepted at once as a job.
/// Read from `--mode` and from a request's `?mode=`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Answer when the work is done (201/204).
    #[default]
    Sync,
    /// Answer 202 with a job id at once; the work runs in the background.
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

/// A random extra delay per action request, uniform in `min..=max` (`50ms..300ms`), or a fixed
/// one (`100ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayRange {
    pub min: Duration,
    pub max: Duration,
}

impl FromStr for DelayRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parse = |part: &str| -> Result<Duration, String> {
            part.parse::<HumanDuration>()
                .map(HumanDuration::get)
                .map_err(|e| e.to_string())
        };
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => {
                let d = parse(s)?;
                (d, d)
            }
        };
        if min > max {
            return Err(format!(
                "`{s}`: the lower bound is above the upper bound (write it like `50ms..300ms`)"
            ));
        }
        Ok(Self { min, max })
    }
}

impl fmt::Display for DelayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}",
            HumanDuration(self.min),
            HumanDuration(self.max)
        )
    }
}

/// The backend's flags; each one can also come from the environment variable in brackets.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "demo-backend",
    version,
    about = "The movie-night service under test: bounded workers, a bounded queue, 503 beyond it"
)]
pub struct Opts {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Requests processed at once on this replica.
    #[arg(long, env = "BACKEND_WORKERS", default_value_t = 8)]
    pub workers: usize,
    /// Time each action request holds a worker (a timer, not CPU); `0` for none.
    #[arg(long, env = "BACKEND_SERVICE_TIME", default_value = "20ms")]
    pub service_time: HumanDuration,
    /// Random variation added to the service time, uniform in ±jitter.
    #[arg(long, env = "BACKEND_JITTER", default_value = "0")]
    pub jitter: HumanDuration,
    /// Requests that may wait for a worker; beyond that they are shed with 503.
    #[arg(long, env = "BACKEND_QUEUE", default_value_t = 64)]
    pub queue: usize,
    /// Name reported in /api/stats [default: $POD_NAME, else $HOSTNAME, else "backend"].
    #[arg(long, env = "REPLICA_NAME")]
    pub replica_name: Option<String>,
    /// CPU burnt per action request while it holds a worker (for clusters with CPU limits).
    #[arg(long, env = "BACKEND_CPU_WORK", default_value = "0")]
    pub cpu_work: HumanDuration,
    /// Random extra delay per action request before it queues, e.g. `50ms..300ms`.
    #[arg(long, env = "BACKEND_DELAY")]
    pub delay: Option<DelayRange>,
    /// Processing mode of action requests; a request may override it with `?mode=`.
    #[arg(long, env = "BACKEND_MODE", value_enum, default_value_t = Mode::Sync)]
    pub mode: Mode,
    /// Serve POST /api/stress/cpu and /api/stress/memory (capped in time and bytes).
    #[arg(long, env = "BACKEND_ENABLE_STRESS")]
    pub enable_stress: bool,
    /// After a shutdown signal, how long in-flight requests get to finish.
    #[arg(long, env = "BACKEND_DRAIN_TIMEOUT", default_value = "10s")]
    pub drain_timeout: HumanDuration,
    /// Longest time a request may take, queue wait included; then 503.
    #[arg(long, env = "BACKEND_REQUEST_TIMEOUT", default_value = "30s")]
    pub request_timeout: HumanDuration,
    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "BACKEND_MAX_BODY", default_value_t = 64 * 1024)]
    pub max_body: usize,
    /// Redis for `POST /api/orders` (the pipeline workload), e.g. redis://127.0.0.1:6379;
    /// without it the route answers 501.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// Longest wait for Redis per order (connecting included); then 503.
    #[arg(long, env = "BACKEND_REDIS_TIMEOUT", default_value = "1s")]
    pub redis_timeout: HumanDuration,
}

/// The validated configuration of one backend instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listen: SocketAddr,
    pub workers: usize,
    pub service_time: Duration,
    pub jitter: Duration,
    pub queue: usize,
    pub replica_name: String,
    pub cpu_work: Duration,
    pub delay: Option<DelayRange>,
    pub mode: Mode,
    pub enable_stress: bool,
    pub drain_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body: usize,
    pub redis_url: Option<String>,
    pub redis_timeout: Duration,
}

impl Default for Config {
    /// The flag defaults, with the replica named "backend" (no environment lookup).
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], common::ports::BACKEND)),
            workers: 8,
            service_time: Duration::from_millis(20),
            jitter: Duration::ZERO,
            queue: 64,
            replica_name: "backend".to_owned(),
            cpu_work: Duration::ZERO,
            delay: None,
            mode: Mode::Sync,
            enable_stress: false,
            drain_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_body: 64 * 1024,
            redis_url: None,
            redis_timeout: Duration::from_secs(1),
        }
    }
}

pub(crate) fn invalid(flag: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidFlag {
        flag,
        reason: reason.into(),
    }
}

/// `--redis-timeout`: above zero and at most a minute (the backend's and the worker's).
pub(crate) fn redis_timeout(flag: HumanDuration) -> Result<Duration> {
    let timeout = flag.get();
    if timeout.is_zero() || timeout > Duration::from_secs(60) {
        return Err(invalid(
            "--redis-timeout",
            format!("{flag} is out of range: use more than 0 and at most 60s"),
        ));
    }
    Ok(timeout)
}

/// The variable's value, trimmed, when it is set and not blank.
pub(crate) fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Opts {
    /// Validates the flags into a [`Config`].
    pub fn into_config(self) -> Result<Config> {
        if self.workers == 0 || self.workers > 100_000 {
            return Err(invalid(
                "--workers",
                format!("{} is out of range: use 1 to 100000", self.workers),
            ));
        }
        if self.queue > 1_000_000 {
            return Err(invalid(
                "--queue",
                format!("{} is out of range: use 0 to 1000000", self.queue),
            ));
        }
        for (flag, value) in [
            ("--service-time", self.service_time.get()),
            ("--jitter", self.jitter.get()),
        ] {
            if value > MAX_SIMULATED_WAIT {
                return Err(invalid(
                    flag,
                    format!("{} is too long: use at most 60s", HumanDuration(value)),
                ));
            }
        }
        if self.cpu_work.get() > MAX_CPU_WORK {
            return Err(invalid(
                "--cpu-work",
                format!("{} is too long: use at most 1s", self.cpu_work),
            ));
        }
        if let Some(delay) = self.delay
            && delay.max > MAX_SIMULATED_WAIT
        {
            return Err(invalid(
                "--delay",
                format!("{delay} is too long: use at most 60s"),
            ));
        }
        let request_timeout = self.request_timeout.get();
        if request_timeout.is_zero() || request_timeout > Duration::from_secs(600) {
            return Err(invalid(
                "--request-timeout",
                format!(
                    "{} is out of range: use more than 0 and at most 10m",
                    self.request_timeout
                ),
            ));
        }
        if self.drain_timeout.get() > Duration::from_secs(600) {
            return Err(invalid(
                "--drain-timeout",
                format!("{} is too long: use at most 10m", self.drain_timeout),
            ));
        }
        if self.max_body == 0 || self.max_body > MAX_BODY_LIMIT {
            return Err(invalid(
                "--max-body",
                format!(
                    "{} bytes is out of range: use 1 to {MAX_BODY_LIMIT}",
                    self.max_body
                ),
            ));
        }
        let redis_url = match self.redis_url.map(|u| u.trim().to_owned()) {
            Some(url) if url.is_empty() => None,
            Some(url) => {
                crate::queue::Link::check_url(&url).map_err(|e| invalid("--redis-url", e))?;
                Some(url)
            }
            None => None,
        };
        let redis_timeout = redis_timeout(self.redis_timeout)?;
        let replica_name = match self.replica_name.map(|n| n.trim().to_owned()) {
            Some(name) if name.is_empty() => {
                return Err(invalid(
                    "--replica-name",
                    "it is empty: give a name or leave the flag out",
                ));
            }
            Some(name) => name,
            None => non_empty_env("POD_NAME")
                .or_else(|| non_empty_env("HOSTNAME"))
                .unwrap_or_else(|| "backend".to_owned()),
        };
        Ok(Config {
            listen: self.listen,
            workers: self.workers,
            service_time: self.service_time.get(),
            jitter: self.jitter.get(),
            queue: self.queue,
            replica_name,
            cpu_work: self.cpu_work.get(),
            delay: self.delay,
            mode: self.mode,
            enable_stress: self.enable_stress,
            drain_timeout: self.drain_timeout.get(),
            request_timeout,
            max_body: self.max_body,
            redis_url,
            redis_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, String> {
        let opts =
            Opts::try_parse_from(std::iter::once("demo-backend").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        opts.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn the_orchestrators_flags_parse() {
        let c = parse(&[
            "--listen",
            "127.0.0.1:9000",
            "--workers",
            "4",
            "--service-time",
            "20ms",
            "--queue",
            "32",
            "--replica-name",
            "backend-0",
        ])
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(c.workers, 4);
        assert_eq!(c.service_time, Duration::from_millis(20));
        assert_eq!(c.queue, 32);
        assert_eq!(c.replica_name, "backend-0");
        assert_eq!(c.mode, Mode::Sync);
        assert_eq!(c.request_timeout, Duration::from_secs(30));
    }

    #[test]
    fn optional_flags_parse() {
        let c = parse(&[
            "--service-time",
            "0",
            "--jitter",
            "5ms",
            "--cpu-work",
            "2ms",
            "--delay",
            "50ms..300ms",
            "--mode",
            "async",
            "--enable-stress",
            "--max-body",
            "1024",
            "--drain-timeout",
            "2s",
        ])
        .unwrap();
        assert_eq!(c.service_time, Duration::ZERO);
        assert_eq!(c.jitter, Duration::from_millis(5));
        assert_eq!(c.cpu_work, Duration::from_millis(2));
        assert_eq!(
            c.delay,
            Some(DelayRange {
                min: Duration::from_millis(50),
                max: Duration::from_millis(300)
            })
        );
        assert_eq!(c.mode, Mode::Async);
        assert!(c.enable_stress);
        assert_eq!(c.max_body, 1024);
        assert_eq!(c.drain_timeout, Duration::from_secs(2));
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (&["--workers", "0"][..], "--workers"),
            (&["--cpu-work", "5s"][..], "--cpu-work"),
            (&["--delay", "300ms..50ms"][..], "--delay"),
            (&["--service-time", "fast"][..], "--service-time"),
            (&["--max-body", "0"][..], "--max-body"),
            (&["--request-timeout", "0"][..], "--request-timeout"),
            (&["--replica-name", " "][..], "--replica-name"),
            (&["--mode", "later"][..], "--mode"),
            (&["--redis-url", "http://x"][..], "--redis-url"),
            (&["--redis-timeout", "0"][..], "--redis-timeout"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn a_fixed_delay_is_a_one_point_range() {
        let d: DelayRange = "100ms".parse().unwrap();
        assert_eq!(d.min, d.max);
        assert_eq!(d.to_string(), "100ms..100ms");
    }
}
