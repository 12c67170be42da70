//! Command-line flags (each also read from its environment variable) and their validation
//! into a [`Config`]; every rejection names the flag and says what is accepted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use common::HumanDuration;
use common::api::Action;
use common::load::{Arrivals, Error as LoadError, Profile, Ramp, Shard, parse_stages};

use crate::client::Target;
use crate::threshold::Threshold;
use crate::{Config, Error, Executor, JobPolling, Mode, Progress, Result, Shape, Workload};
use common::load::vus::{ClosedLoop, ThinkTime, parse_vu_stages};

mod transport;
mod workload;

pub use transport::TransportOpts;
use workload::{custom_workload, parse_actions};

/// Flags that give the ramp; `--stages` and `--profile` replace all of them.
const RAMP_FLAGS: [&str; 5] = [
    "base_rps",
    "ramp_factor",
    "ramp_interval",
    "duration",
    "max_rps",
];
/// Flags of the open loop's schedule, which the closed loop (`--vus`, `--vu-stages`) has not.
const OPEN_LOOP_FLAGS: [&str; 7] = [
    "base_rps",
    "ramp_factor",
    "ramp_interval",
    "max_rps",
    "stages",
    "profile",
    "arrival",
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
    /// Base URL of the service under load (`http://host:port` or `https://host:port`).
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
    #[arg(long, env = "STAGES", conflicts_with_all = RAMP_FLAGS, allow_hyphen_values = true)]
    pub stages: Option<String>,
    /// A named load profile instead of the ramp: light, medium, heavy, burst, sustained,
    /// spike, cpu-stress, memory-stress.
    #[arg(long, env = "PROFILE", conflicts_with_all = RAMP_FLAGS, conflicts_with = "stages")]
    pub profile: Option<String>,
    /// Play the plan this many times as fast (0.1) or as slow (2): every duration of the
    /// ramp, stages, profile or VU stages is multiplied by it, rates and VU counts kept.
    /// A profile runs briefly with e.g. `--profile spike --time-scale 0.05`.
    #[arg(long, env = "TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Closed loop: this many virtual users for --duration, each sending the action mix in
    /// a loop on its own connection (k6's constant-vus). Replaces the open-loop schedule.
    #[arg(long, env = "VUS", conflicts_with_all = OPEN_LOOP_FLAGS)]
    pub vus: Option<u32>,
    /// Closed loop with a changing number of virtual users, from 0: `30s:20,1m:20,10s:0`
    /// (k6's ramping-vus).
    #[arg(
        long,
        env = "VU_STAGES",
        conflicts_with_all = OPEN_LOOP_FLAGS,
        conflicts_with_all = ["vus", "duration"],
        allow_hyphen_values = true
    )]
    pub vu_stages: Option<String>,
    /// Closed loop: each user's pause after an answer, fixed (`1s`) or uniform in a range
    /// (`500ms..2s`). Default 0s.
    #[arg(long, env = "THINK_TIME")]
    pub think_time: Option<String>,
    /// sync: action requests are answered when done; async: they carry `?mode=async`, the
    /// backend answers 202 with a job, and the job is polled until it ends.
    #[arg(long, env = "MODE", default_value = "sync")]
    pub mode: String,
    /// Async mode: time between two polls of one job (the resolution of job durations).
    #[arg(long, env = "POLL_INTERVAL", default_value = "100ms")]
    pub poll_interval: HumanDuration,
    /// Async mode: a job not done this long after its 202 counts as job_expired.
    #[arg(long, env = "JOB_MAX_WAIT", default_value = "30s")]
    pub job_max_wait: HumanDuration,
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
    /// Actions and optional weights: `book_ticket=5,cancel_ticket,give_feedback=2`, or
    /// `place_order` (the pipeline workload: orders to `POST /api/orders`).
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
    /// Once the plan is done, keep serving /metrics (and exit only on SIGTERM or Ctrl-C), so
    /// a scraper reads the final counts and a supervisor does not restart a finished run.
    #[arg(long, env = "LINGER")]
    pub linger: bool,
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
    #[command(flatten)]
    pub transport: TransportOpts,
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
        let time_scale = self.time_scale;
        if !time_scale.is_finite() || time_scale <= 0.0 {
            return Err(Error::Flag(
                "--time-scale",
                format!(
                    "must be a number above 0 (0.1 plays the plan 10x as fast), got {time_scale}"
                ),
            ));
        }
        let mode = match self.mode.as_str() {
            "sync" => Mode::Sync,
            "async" => Mode::Async,
            other => {
                return Err(Error::Flag(
                    "--mode",
                    format!("`{other}` is not sync or async"),
                ));
            }
        };
        if mode == Mode::Async && self.url.is_some() {
            return Err(Error::Flag(
                "--mode",
                "async applies to the action mix, not to --url; leave one of them out".into(),
            ));
        }
        let orders = matches!(&workload, Workload::Actions(mix)
            if mix.iter().any(|&(a, w)| a == Action::PlaceOrder && w > 0));
        if mode == Mode::Async && orders {
            return Err(Error::Flag(
                "--mode",
                "async does not apply to place_order (an order is answered 202 with no job to follow); use --mode sync".into(),
            ));
        }
        let polling = self.polling()?;
        let shape = self.shape()?;
        let executor = self.executor(time_scale)?;
        if executor == Executor::OpenLoop && crate::plan::curve(&shape, time_scale).total() < 1.0 {
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
        let transport = self.transport.into_transport(&target)?;
        Ok(Config {
            target,
            transport,
            executor,
            shape,
            time_scale,
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
            mode,
            polling,
            linger: self.linger,
        })
    }

    fn polling(&self) -> Result<JobPolling> {
        let interval = self.poll_interval.get();
        let max_wait = self.job_max_wait.get();
        if interval.is_zero() {
            return Err(Error::Flag(
                "--poll-interval",
                "must be longer than 0s".into(),
            ));
        }
        if max_wait < interval {
            return Err(Error::Flag(
                "--job-max-wait",
                format!(
                    "{} is shorter than --poll-interval {}: a job would never be polled",
                    self.job_max_wait, self.poll_interval
                ),
            ));
        }
        Ok(JobPolling { interval, max_wait })
    }

    /// The closed loop when `--vus` or `--vu-stages` is given, else the open loop.
    fn executor(&self, time_scale: f64) -> Result<Executor> {
        let think_time = match &self.think_time {
            Some(t) => t
                .parse::<ThinkTime>()
                .map_err(|e| Error::Flag("--think-time", e))?,
            None => ThinkTime::default(),
        };
        let closed = match (self.vus, &self.vu_stages) {
            (Some(0), _) => {
                return Err(Error::Flag(
                    "--vus",
                    "must be at least 1 (leave it out for the open loop)".into(),
                ));
            }
            (Some(n), _) => ClosedLoop::constant(n, self.duration.get(), think_time),
            (None, Some(stages)) => {
                let stages = parse_vu_stages(stages).map_err(|e| Error::Flag("--vu-stages", e))?;
                if stages.iter().all(|s| s.vus == 0) {
                    return Err(Error::Flag(
                        "--vu-stages",
                        "no stage has a user; raise a count".into(),
                    ));
                }
                ClosedLoop::staged(&stages, think_time)
            }
            (None, None) => {
                if self.think_time.is_some() {
                    return Err(Error::Flag(
                        "--think-time",
                        "applies to the closed loop: give --vus or --vu-stages too".into(),
                    ));
                }
                return Ok(Executor::OpenLoop);
            }
        };
        let flag = if self.vus.is_some() {
            "--vus"
        } else {
            "--vu-stages"
        };
        if self.shard.trim() != "0/1" {
            return Err(Error::Flag(
                "--shard",
                format!("splits the open-loop schedule; {flag} runs whole (leave --shard out)"),
            ));
        }
        let vus = closed
            .vus
            .scaled(time_scale)
            .map_err(|e| Error::Flag("--time-scale", e.to_string()))?;
        if vus.duration().is_zero() {
            let which = if self.vus.is_some() {
                "--duration"
            } else {
                "--vu-stages"
            };
            return Err(Error::Flag(
                which,
                "the closed loop would run for 0s".into(),
            ));
        }
        Ok(Executor::ClosedLoop(ClosedLoop { vus, ..closed }))
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
