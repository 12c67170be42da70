//! Command-line flags (each also read from its environment variable) and their validation.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use common::HumanDuration;
use common::api::Action;
use common::load::{Error as LoadError, Ramp, Shard};

use crate::{Config, Error, Progress, Result};

#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about = "Open-loop HTTP load generator")]
pub struct Opts {
    /// Base URL of the service under load.
    #[arg(long, env = "TARGET_URL")]
    pub target: String,
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
        default_value = "book_ticket,cancel_ticket,give_feedback"
    )]
    pub actions: String,
    /// Close a connection after this age so new replicas behind a Service get traffic.
    #[arg(long, env = "CONN_MAX_AGE", default_value = "10s")]
    pub conn_max_age: HumanDuration,
    /// Terminal progress: auto, log or off.
    #[arg(long, env = "PROGRESS", default_value = "auto")]
    pub progress: String,
}

impl Opts {
    pub fn into_config(self) -> Result<Config> {
        let target = self.target.trim_end_matches('/').to_string();
        if !(target.starts_with("http://") || target.starts_with("https://")) {
            return Err(Error::Flag(
                "--target",
                format!("`{target}` is not an http:// URL"),
            ));
        }
        let shard: Shard = self
            .shard
            .parse()
            .map_err(|e| Error::Flag("--shard", format!("{e}")))?;
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
        let actions = parse_actions(&self.actions)?;
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
            Error::Flag(flag, format!("{e}"))
        })?;
        Ok(Config {
            target,
            ramp,
            actions,
            conn_max_age: Duration::from(self.conn_max_age),
            metrics_addr: self.metrics_addr,
            shard,
            progress,
        })
    }
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
        out.push((action, weight));
    }
    if out.iter().all(|&(_, w)| w == 0) {
        return Err(bad("no action with a weight above 0".into()));
    }
    Ok(out)
}
