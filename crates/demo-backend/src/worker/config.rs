//! The worker's flags and environment variables (one clap derive) and the validated
//! [`WorkerConfig`]; every error names its flag and how to fix it.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use common::HumanDuration;

use crate::Result;
use crate::config::{invalid, non_empty_env, redis_timeout};
use crate::queue::Link;

/// Longest `--work-cpu`: one message must never hold a core for long.
pub const MAX_WORK_CPU: Duration = Duration::from_secs(1);
/// Largest `--work-memory`, in bytes.
pub const MAX_WORK_MEMORY: usize = 256 * 1024 * 1024;
/// Longest `--claim-idle`: longer, a dead worker's orders would outwait any run.
pub const MAX_CLAIM_IDLE: Duration = Duration::from_secs(3600);

/// The worker's flags; each one can also come from the environment variable in brackets.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "demo-worker",
    version,
    about = "The pipeline workload's consumer: orders from a Redis stream into per-region aggregates"
)]
pub struct WorkerOpts {
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Redis holding the order stream and the aggregates, e.g. redis://127.0.0.1:6379.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: String,
    /// Longest wait for one Redis command (connecting included).
    #[arg(long, env = "WORKER_REDIS_TIMEOUT", default_value = "1s")]
    pub redis_timeout: HumanDuration,
    /// This worker's consumer name in the group [default: $POD_NAME, else $HOSTNAME, else
    /// "worker"]. A restarted worker with the same name finishes what it left unacknowledged.
    #[arg(long, env = "WORKER_CONSUMER")]
    pub consumer: Option<String>,
    /// CPU time burnt per message (simulated work).
    #[arg(long, env = "WORKER_WORK_CPU", default_value = "0")]
    pub work_cpu: HumanDuration,
    /// Bytes allocated and touched per message, held while it is worked on.
    #[arg(long, env = "WORKER_WORK_MEMORY", default_value_t = 0)]
    pub work_memory: usize,
    /// Messages read from the stream at once.
    #[arg(long, env = "WORKER_BATCH", default_value_t = 16)]
    pub batch: usize,
    /// After a shutdown signal, how long the message in hand gets to finish.
    #[arg(long, env = "WORKER_DRAIN_TIMEOUT", default_value = "10s")]
    pub drain_timeout: HumanDuration,
    /// Entries another consumer has held unacknowledged this long are taken over (XAUTOCLAIM):
    /// a worker that died leaves them pending under a name no new worker has. 0: never.
    #[arg(long, env = "WORKER_CLAIM_IDLE", default_value = "30s")]
    pub claim_idle: HumanDuration,
}

/// The validated configuration of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    pub listen: SocketAddr,
    pub redis_url: String,
    pub redis_timeout: Duration,
    pub consumer: String,
    pub work_cpu: Duration,
    pub work_memory: usize,
    pub batch: usize,
    pub drain_timeout: Duration,
    /// Zero: claiming is off.
    pub claim_idle: Duration,
}

impl WorkerConfig {
    /// A worker of `redis_url` with the flag defaults, consumer "worker", listening on
    /// loopback port 0 (for tests and the local runtime).
    pub fn new(redis_url: impl Into<String>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            redis_url: redis_url.into(),
            redis_timeout: Duration::from_secs(1),
            consumer: "worker".to_owned(),
            work_cpu: Duration::ZERO,
            work_memory: 0,
            batch: 16,
            drain_timeout: Duration::from_secs(10),
            claim_idle: Duration::from_secs(30),
        }
    }
}

impl WorkerOpts {
    /// Validates the flags into a [`WorkerConfig`].
    pub fn into_config(self) -> Result<WorkerConfig> {
        let redis_url = self.redis_url.trim().to_owned();
        Link::check_url(&redis_url).map_err(|e| invalid("--redis-url", e))?;
        let redis_timeout = redis_timeout(self.redis_timeout)?;
        if self.work_cpu.get() > MAX_WORK_CPU {
            return Err(invalid(
                "--work-cpu",
                format!("{} is too long: use at most 1s", self.work_cpu),
            ));
        }
        if self.work_memory > MAX_WORK_MEMORY {
            return Err(invalid(
                "--work-memory",
                format!(
                    "{} bytes is too much: use at most {MAX_WORK_MEMORY}",
                    self.work_memory
                ),
            ));
        }
        if !(1..=1000).contains(&self.batch) {
            return Err(invalid(
                "--batch",
                format!("{} is out of range: use 1 to 1000", self.batch),
            ));
        }
        if self.drain_timeout.get() > Duration::from_secs(600) {
            return Err(invalid(
                "--drain-timeout",
                format!("{} is too long: use at most 10m", self.drain_timeout),
            ));
        }
        if self.claim_idle.get() > MAX_CLAIM_IDLE {
            return Err(invalid(
                "--claim-idle",
                format!(
                    "{} is too long: use at most 1h, or 0 to never claim",
                    self.claim_idle
                ),
            ));
        }
        let consumer = match self.consumer.map(|n| n.trim().to_owned()) {
            Some(name) if name.is_empty() => {
                return Err(invalid(
                    "--consumer",
                    "it is empty: give a name or leave the flag out",
                ));
            }
            Some(name) => name,
            None => non_empty_env("POD_NAME")
                .or_else(|| non_empty_env("HOSTNAME"))
                .unwrap_or_else(|| "worker".to_owned()),
        };
        Ok(WorkerConfig {
            listen: self.listen,
            redis_url,
            redis_timeout,
            consumer,
            work_cpu: self.work_cpu.get(),
            work_memory: self.work_memory,
            batch: self.batch,
            drain_timeout: self.drain_timeout.get(),
            claim_idle: self.claim_idle.get(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<WorkerConfig, String> {
        let opts =
            WorkerOpts::try_parse_from(std::iter::once("demo-worker").chain(args.iter().copied()))
                .map_err(|e| e.to_string())?;
        opts.into_config().map_err(|e| e.to_string())
    }

    #[test]
    fn the_flags_parse() {
        let c = parse(&[
            "--redis-url",
            "redis://127.0.0.1:6390",
            "--consumer",
            "w-1",
            "--work-cpu",
            "5ms",
            "--work-memory",
            "65536",
            "--batch",
            "4",
            "--claim-idle",
            "5s",
        ])
        .unwrap();
        assert_eq!(c.redis_url, "redis://127.0.0.1:6390");
        assert_eq!(c.consumer, "w-1");
        assert_eq!(c.work_cpu, Duration::from_millis(5));
        assert_eq!(c.work_memory, 65536);
        assert_eq!(c.batch, 4);
        assert_eq!(c.claim_idle, Duration::from_secs(5));
        let off = parse(&["--redis-url", "redis://x:1", "--claim-idle", "0"]).unwrap();
        assert_eq!(off.claim_idle, Duration::ZERO);
    }

    #[test]
    fn bad_values_name_their_flag() {
        let url = ["--redis-url", "redis://127.0.0.1:6390"];
        for (extra, flag) in [
            (&["--work-cpu", "2s"][..], "--work-cpu"),
            (&["--work-memory", "999999999999"][..], "--work-memory"),
            (&["--batch", "0"][..], "--batch"),
            (&["--redis-timeout", "0"][..], "--redis-timeout"),
            (&["--consumer", " "][..], "--consumer"),
            (&["--claim-idle", "2h"][..], "--claim-idle"),
            (&["--claim-idle", "soon"][..], "--claim-idle"),
        ] {
            let args: Vec<&str> = url.iter().chain(extra).copied().collect();
            let e = parse(&args).unwrap_err();
            assert!(e.contains(flag), "{extra:?}: {e}");
        }
        let e = parse(&["--redis-url", "http://x"]).unwrap_err();
        assert!(e.contains("--redis-url") && e.contains("redis://"), "{e}");
        let e = parse(&[]).unwrap_err();
        assert!(e.contains("--redis-url"), "{e}");
    }
}
