//! Command-line flags (each also read from its environment variable) and their validation
//! into a [`Config`]; every rejection names the flag and says what is accepted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use common::HumanDuration;
use common::api::Action;
use common::load::{Arrivals, Error as LoadError, Profile, Ramp, Shard, parse_stages};

use crate::client::Target;
use crate::threshold::Threshold;
use crate::{Config, CustomRequest, Error, Progress, Result, Shape, Workload};

/// Flags that give the ramp; `--stages` and `--profile` replace all of them.
const RAMP_FLAGS: [&str; 5] = [
    "base_rps",
    "ramp_factor",
    "ramp_interval",
    "duration",
    "max_rps",
];

#[derive(Debug, Parser)]
#[command(
    name = "loadgen",
    version,
    about = "Open-loop HTTP load generator",
    long_about = "Open-loop HTTP load generator: requests go out on a schedule computed from the \
                  load plan, latency is measured from each request's intended send time \
                  (coordinated-omission corrected).\n\nExit codes: 0 ok, 2 bad flags, \
                  99 a threshold failed, 1 any other failure."
)]
pub struct Opts {
    /// Base URL of the service under load (`http://host:port`).
    #[arg(long, env = "TARGET_URL", required_unless_present = "url")]
    pub target: Option<String>,
    /// Rate of the first ramp step, requests per second.
    #[arg(long, env = "BASE_RPS", default_value_t = 2.0)]
    pub base_rps: f64,
    /// Each ramp step multiplies the rate by this (1 = constant rate).
    #[arg(long, env = "RAMP_FACTOR", default_value_t = 1.35)]
    pub ramp_factor: f64,
    /// Length of one ramp step (`45s`, `1m30s`, bare seconds).
    #[arg(long, env = "RAMP_INTERVAL_SECONDS", default_value = "45s")]
    pub ramp_interval: HumanDuration,
    /// Total run length.
    #[arg(long, env = "RUN_DURATION_SECONDS", default_value = "90s")]
    pub duration: HumanDuration,
    /// Rate cap, requests per second (none by default).
    #[arg(long, env = "MAX_RPS")]
    pub max_rps: Option<f64>,
    /// k6-style stages instead of the ramp: `30s:20,1m:20,10s:0` (rate moves linearly).
    #[arg(long, env = "STAGES", conflicts_with_all = RAMP_FLAGS)]
    pub stages: Option<String>,
    /// A named load profile instead of the ramp: light, medium, heavy, burst, sustained,
    /// spike, cpu-stress, memory-stress.
    #[arg(long, env = "PROFILE", conflicts_with_all = RAMP_FLAGS, conflicts_with = "stages")]
    pub profile: Option<String>,
    /// How arrivals are spread: uniform (evenly spaced) or poisson (random gaps, seeded).
    #[arg(long, env = "ARRIVAL", default_value = "uniform")]
    pub arrival: String,
    /// Seed of the Poisson arrivals, the action mix and the session ids. Cooperating
    /// shards must share it.
    #[arg(long, env = "SEED", default_value_t = 1)]
    pub seed: u64,
    /// Address of the /metrics endpoint.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:2112")]
    pub metrics_addr: SocketAddr,
    /// This generator's share of the schedule, `i/n`.
    #[arg(long, env = "SHARD", default_value = "0/1")]
    pub shard: String,
    /// Actions and optional weights: `book_ticket=5,cancel_ticket,give_feedback=2`.
    #[arg(
        long,
        env = "ACTIONS",
        default_value = "book_ticket,cancel_ticket,give_feedback",
        conflicts_with = "url"
    )]
    pub actions: String,
    /// Close a connection after this age so new replicas behind a Service get traffic.
    #[arg(long, env = "CONN_MAX_AGE", default_value = "10s")]
    pub conn_max_age: HumanDuration,
    /// Most connections open to the target at once.
    #[arg(long, env = "CONNECTIONS", default_value_t = 512)]
    pub connections: usize,
    /// Most requests in flight (waiting for a connection included); a request that finds
    /// the cap reached at its send time is dropped and counted.
    #[arg(long, env = "MAX_IN_FLIGHT", default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// Per-request timeout, from its send time to the end of the response.
    #[arg(long, env = "TIMEOUT", default_value = "10s")]
    pub timeout: HumanDuration,
    /// Wait until the target's /readyz answers 200 before starting (see --wait-timeout).
    #[arg(long, env = "WAIT_FOR_TARGET")]
    pub wait_for_target: bool,
    /// Longest wait of --wait-for-target.
    #[arg(long, env = "WAIT_TIMEOUT", default_value = "60s")]
    pub wait_timeout: HumanDuration,
    /// Sending threads, each running its own share of the schedule on its own share of the
    /// connections. Default: one per 20k rps of the plan's peak rate, at most one per core
    /// (below that, more threads only cost more CPU per request).
    #[arg(long, env = "THREADS")]
    pub threads: Option<usize>,
    /// Terminal progress: auto, log or off.
    #[arg(long, env = "PROGRESS", default_value = "auto")]
    pub progress: String,
    /// Write a report after the run: `out.json` (with a per-second timeline) or `out.md`.
    /// Repeatable.
    #[arg(long = "report", env = "REPORT", value_delimiter = ',')]
    pub reports: Vec<PathBuf>,
    /// Pass/fail criterion on the whole run, e.g. `p95<700ms`, `error_rate<1%`,
    /// `dropped==0`. Repeatable; exit 99 when any fails.
    #[arg(long = "threshold", env = "THRESHOLDS", value_delimiter = ',')]
    pub thresholds: Vec<String>,
    /// Send this one request instead of the action mix: a path on --target or a full URL.
    #[arg(long, env = "REQUEST_URL")]
    pub url: Option<String>,
    /// Method of --url.
    #[arg(long, env = "REQUEST_METHOD", default_value = "GET", requires = "url")]
    pub method: String,
    /// Header of --url, `Name: value`. Repeatable.
    #[arg(long = "header", requires = "url")]
    pub headers: Vec<String>,
    /// Body of --url; `@path` reads it from a file.
    #[arg(long, env = "REQUEST_BODY", requires = "url")]
    pub body: Option<String>,
}

impl Opts {
    pub fn into_config(self) -> Result<Config> {
        let flag = |name: &'static str| move |why: String| Error::Flag(name, why);
        let (target, workload) = match &self.url {
            Some(url) => custom_workload(self.target.as_deref(), url, &self)?,
            None => {
                let target = self.target.as_deref().unwrap_or_default();
                let actions = parse_actions(&self.actions)?;
                (target.to_string(), Workload::Actions(actions))
            }
        };
        let target = target.trim_end_matches('/').to_string();
        Target::parse(&target).map_err(flag("--target"))?;
        let shard: Shard = self
            .shard
            .parse()
            .map_err(|e: LoadError| Error::Flag("--shard", e.to_string()))?;
        let progress = match self.progress.as_str() {
            "auto" => Progress::Auto,
            "log" => Progress::Log,
            "off" => Progress::Off,
            other => {
                return Err(Error::Flag(
                    "--progress",
                    format!("`{other}` is not auto, log or off"),
                ));
            }
        };
        let arrivals = match self.arrival.as_str() {
            "uniform" => Arrivals::Uniform,
            "poisson" => Arrivals::Poisson { seed: self.seed },
            other => {
                return Err(Error::Flag(
                    "--arrival",
                    format!("`{other}` is not uniform or poisson"),
                ));
            }
        };
        let shape = self.shape()?;
        if crate::plan::curve(&shape).total() < 1.0 {
            let (name, why) = match shape {
                Shape::Stages(_) => ("--stages", "the stages plan no request; raise a rate"),
                _ => (
                    "--duration",
                    "the plan has no request; raise the rate or the duration",
                ),
            };
            return Err(Error::Flag(name, why.into()));
        }
        if self.connections == 0 {
            return Err(Error::Flag("--connections", "must be at least 1".into()));
        }
        if self.threads == Some(0) {
            return Err(Error::Flag("--threads", "must be at least 1".into()));
        }
        if self.max_in_flight == 0 {
            return Err(Error::Flag("--max-in-flight", "must be at least 1".into()));
        }
        let timeout = Duration::from(self.timeout);
        if timeout.is_zero() {
            return Err(Error::Flag("--timeout", "must be longer than 0s".into()));
        }
        let thresholds = self
            .thresholds
            .iter()
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.parse::<Threshold>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(flag("--threshold"))?;
        for path in &self.reports {
            crate::report::Format::of(path).map_err(flag("--report"))?;
        }
        Ok(Config {
            target,
            shape,
            arrivals,
            shard,
            workload,
            connections: self.connections,
            threads: self.threads,
            max_in_flight: self.max_in_flight,
            timeout,
            conn_max_age: Duration::from(self.conn_max_age),
            metrics_addr: self.metrics_addr,
            wait_for_target: self.wait_for_target.then(|| self.wait_timeout.get()),
            progress,
            thresholds,
            reports: self.reports,
            seed: self.seed,
        })
    }

    fn shape(&self) -> Result<Shape> {
        if let Some(stages) = &self.stages {
            let stages =
                parse_stages(stages).map_err(|e| Error::Flag("--stages", e.to_string()))?;
            return Ok(Shape::Stages(stages));
        }
        if let Some(name) = &self.profile {
            let p =
                Profile::parse(name.trim()).map_err(|e| Error::Flag("--profile", e.to_string()))?;
            return Ok(Shape::Profile(p));
        }
        let positive = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(Error::Flag(
                    name,
                    format!("must be a number above 0, got {v}"),
                ))
            }
        };
        positive("--base-rps", self.base_rps)?;
        positive("--ramp-factor", self.ramp_factor)?;
        if let Some(max) = self.max_rps {
            positive("--max-rps", max)?;
        }
        let ramp = Ramp {
            base_rps: self.base_rps,
            factor: self.ramp_factor,
            interval: Duration::from(self.ramp_interval),
            max_rps: self.max_rps,
            duration: Duration::from(self.duration),
        };
        ramp.curve().map_err(|e| {
            let flag = match &e {
                LoadError::BadRate("ramp base", _) => "--base-rps",
                LoadError::BadRate("ramp factor", _) => "--ramp-factor",
                LoadError::ZeroInterval => "--ramp-interval",
                _ => "--max-rps",
            };
            Error::Flag(flag, e.to_string())
        })?;
        Ok(Shape::Ramp(ramp))
    }
}

/// `--url` mode: the target is the URL's origin when `--url` is absolute, else `--target`.
fn custom_workload(target: Option<&str>, url: &str, opts: &Opts) -> Result<(String, Workload)> {
    let bad_url = |why: String| Error::Flag("--url", why);
    let (target, path) = if url.starts_with('/') {
        let target =
            target.ok_or_else(|| bad_url(format!("`{url}` is a path: give --target too")))?;
        (target.to_string(), url.to_string())
    } else {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| bad_url(format!("`{url}` is neither a /path nor a URL: {e}")))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(bad_url(format!(
                "`{url}` is neither a /path nor an http:// URL"
            )));
        };
        let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        (format!("{scheme}://{authority}"), path)
    };
    if path.parse::<http::uri::PathAndQuery>().is_err() {
        return Err(bad_url(format!("`{path}` is not a valid URL path")));
    }
    let method = http::Method::from_bytes(opts.method.trim().as_bytes()).map_err(|_| {
        Error::Flag(
            "--method",
            format!("`{}` is not an HTTP method", opts.method),
        )
    })?;
    let headers = opts
        .headers
        .iter()
        .map(|h| parse_header(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|why| Error::Flag("--header", why))?;
    let body = match opts.body.as_deref() {
        None => Bytes::new(),
        Some(b) => match b.strip_prefix('@') {
            Some(file) => std::fs::read(file)
                .map(Bytes::from)
                .map_err(|e| Error::Flag("--body", format!("cannot read `{file}`: {e}")))?,
            None => Bytes::from(b.to_string()),
        },
    };
    let custom = CustomRequest {
        path,
        method,
        headers,
        body,
    };
    Ok((target, Workload::Custom(custom)))
}

fn parse_header(h: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| format!("`{h}` is not `Name: value`"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("`{}` is not a valid header name", name.trim()))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("the value of `{h}` is not a valid header value"))?;
    Ok((name, value))
}

/// `book_ticket=5,cancel_ticket` → weighted actions (weight 1 when omitted).
fn parse_actions(input: &str) -> Result<Vec<(Action, u32)>> {
    let bad = |why: String| Error::Flag("--actions", why);
    let mut out = Vec::new();
    for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = match part.split_once('=') {
            Some((n, w)) => {
                let w: u32 = w
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("weight in `{part}` is not a whole number")))?;
                (n, w)
            }
            None => (part, 1),
        };
        let action: Action = name.parse().map_err(|e| bad(format!("{e}")))?;
        if out.iter().any(|&(a, _)| a == action) {
            return Err(bad(format!("`{action}` is listed twice")));
        }
        out.push((action, weight));
    }
    if out.iter().all(|&(_, w)| w == 0) {
        return Err(bad("no action with a weight above 0".into()));
    }
    Ok(out)
}
