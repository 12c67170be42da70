//! The run's result: per action and total (requests, rates, success, errors by kind and by
//! status, drops, corrected latency and service time, async jobs), schedule lag or the
//! closed loop's users, thresholds and a per-second timeline. Serialisable as JSON,
//! rendered as text (stdout) or Markdown.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::names::error_kind;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::client::SetupTotals;
use crate::stats::{LabelStats, Stats};
use crate::threshold::{Facts, ThresholdOutcome, round3};
use crate::{Config, Error, Executor, Mode, Result};

/// Latency statistics in milliseconds (3 decimals); zeros when nothing was recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub avg_ms: f64,
    pub min_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencySummary {
    pub(crate) fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        let ms = |us: f64| round3(us / 1000.0);
        let q = |q: f64| ms(h.value_at_quantile(q) as f64);
        Self {
            count: h.len(),
            avg_ms: ms(h.mean()),
            min_ms: ms(h.min() as f64),
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: ms(h.max() as f64),
        }
    }
}

/// Async mode: the jobs of one action (or of all).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobsReport {
    /// 202 answers with a job to follow.
    pub accepted: u64,
    pub succeeded: u64,
    /// Ended in state `failed` (counted as `job_failed` errors).
    pub failed: u64,
    /// Forgotten by the backend (404) or not done within `--job-max-wait` (`job_expired`).
    pub expired: u64,
    /// From the intended send time of the request to the poll that saw its job end
    /// (succeeded or failed); its resolution is `--poll-interval`.
    pub duration: LatencySummary,
}

/// The closed loop's facts (`--vus`, `--vu-stages`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClosedLoopReport {
    /// The most virtual users the plan runs at once.
    pub max_vus: u64,
    /// `1s`, or a uniform range `500ms..2s`.
    pub think_time: String,
    /// Why this run's latency is not comparable with an open loop's.
    pub note: String,
}

/// Said in every closed-loop summary and report.
pub const CLOSED_LOOP_NOTE: &str = "closed loop: each virtual user waits for an answer before \
     its next request, so a slow target lowers the request rate instead of queueing requests; \
     latency is the plain response time and leaves out the wait that requests held back would \
     have had (coordinated omission): it is not comparable with open-loop latency, which is \
     measured from each request's intended send time";

/// How the run's connections were made, and what setting them up cost.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsReport {
    /// `http/1.1`, `h2` (HTTP/2 over TLS, by ALPN) or `h2c` (HTTP/2 with prior knowledge).
    pub protocol: String,
    /// HTTP/2: requests at once per connection (`--h2-streams`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub h2_streams: Option<usize>,
    /// https only: which server certificates were trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted: Option<String>,
    /// https with `--insecure`: no certificate was verified.
    #[serde(default)]
    pub insecure: bool,
    /// TLS handshakes completed (one per https connection opened).
    #[serde(default)]
    pub handshakes: u64,
    /// Opening each TCP connection (resolving excluded).
    #[serde(default)]
    pub connect: LatencySummary,
    /// Each TLS handshake, from the open TCP connection on.
    #[serde(default)]
    pub tls_handshake: LatencySummary,
}

/// One action's numbers (or the total, as action `total`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActionReport {
    pub action: String,
    /// Requests that went out.
    pub sent: u64,
    /// Slots not sent because the in-flight cap was reached.
    pub dropped: u64,
    /// Requests that ended (response, error or timeout).
    pub completed: u64,
    /// Completed with a status below 400.
    pub ok: u64,
    /// Sent per second over the sending period.
    pub achieved_rps: f64,
    /// ok / completed.
    pub success_ratio: f64,
    /// Failed requests by kind (timeout, connect, http_4xx, http_5xx, io).
    pub errors: BTreeMap<String, u64>,
    /// Every response by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// From the intended send instant to the end of the response (the headline).
    pub latency: LatencySummary,
    /// From the actual send on a connection to the end of the response.
    pub service_time: LatencySummary,
    /// Async mode: what became of the jobs the requests started. A request of a job ends
    /// with its job: `ok`, `completed` and `errors` count job ends, `latency` is the 202's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<JobsReport>,
}

/// One second of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Seconds since the start at the end of this window.
    pub t_s: f64,
    pub target_rps: f64,
    pub achieved_rps: f64,
    pub sent: u64,
    pub completed: u64,
    pub errors: u64,
    pub dropped: u64,
    pub in_flight: u64,
    /// Corrected latency of requests completed in this window.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// Longest schedule lag of the window.
    pub max_lag_ms: f64,
    /// Closed loop: virtual users running at the end of this window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub loadgen_version: String,
    pub target: String,
    /// `open_loop` or `closed_loop`.
    #[serde(default)]
    pub executor: String,
    /// `sync` or `async` (`--mode`).
    #[serde(default)]
    pub mode: String,
    /// Closed loop only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_loop: Option<ClosedLoopReport>,
    /// `i/n`.
    pub shard: String,
    pub started_unix_ms: u64,
    /// From the first slot to the end of the last response.
    pub duration_s: f64,
    /// The sending period: the plan's length, or until the run was interrupted.
    pub sending_s: f64,
    /// Stopped early by a signal (or the caller's shutdown).
    pub interrupted: bool,
    /// Requests in this shard's schedule when known in advance (uniform arrivals).
    pub planned: Option<u64>,
    /// Slots of the plan handled: sent + dropped (skipped included).
    pub scheduled: u64,
    /// Slots never reached because the plan ran past what the machine could send (counted
    /// in the total's drops, not in any action's).
    pub skipped: u64,
    pub connections_opened: u64,
    /// Protocol, TLS trust and connection setup times.
    #[serde(default)]
    pub connections: ConnectionsReport,
    /// Requests still running when the run gave up waiting for them.
    pub unfinished: u64,
    /// Actual send minus intended send.
    pub schedule_lag: LatencySummary,
    pub total: ActionReport,
    pub actions: Vec<ActionReport>,
    /// The latest message of each failure kind that had no response.
    pub last_errors: BTreeMap<String, String>,
    pub thresholds: Vec<ThresholdOutcome>,
    pub timeline: Vec<TimelinePoint>,
}

impl Report {
    /// True when every threshold passed (or none was given).
    pub fn thresholds_passed(&self) -> bool {
        self.thresholds.iter().all(|t| t.passed)
    }

    /// Writes the report to `path` as JSON or Markdown, by its extension.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        let fail = |source| Error::WriteReport {
            path: path.to_path_buf(),
            source,
        };
        let text = match Format::of(path).map_err(|e| fail(std::io::Error::other(e)))? {
            Format::Json => {
                serde_json::to_string_pretty(self).map_err(|e| fail(std::io::Error::other(e)))?
            }
            Format::Markdown => self.markdown(),
        };
        std::fs::write(path, text + "\n").map_err(fail)
    }
}

/// Report file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
}

impl Format {
    pub fn of(path: &Path) -> Result<Self, String> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Ok(Format::Json),
            Some("md" | "markdown") => Ok(Format::Markdown),
            _ => Err(format!(
                "`{}` must end in .json or .md (the extension picks the format)",
                path.display()
            )),
        }
    }
}

/// What the engine knows at the end of a run, besides the stats.
pub(crate) struct Run<'a> {
    pub(crate) config: &'a Config,
    pub(crate) started_unix_ms: u64,
    pub(crate) duration: Duration,
    pub(crate) sending: Duration,
    pub(crate) interrupted: bool,
    pub(crate) planned: Option<u64>,
    pub(crate) skipped: u64,
    pub(crate) connections_opened: u64,
    pub(crate) setup: SetupTotals,
    pub(crate) unfinished: u64,
    pub(crate) lag: &'a Histogram<u64>,
    pub(crate) timeline: Vec<TimelinePoint>,
}

fn action_report(
    name: &str,
    s: &LabelStats,
    sent: u64,
    dropped: u64,
    sending_s: f64,
    mode: Mode,
) -> ActionReport {
    let failed: u64 = s.errors.iter().sum();
    let completed = s.ok + failed;
    ActionReport {
        action: name.to_string(),
        sent,
        dropped,
        completed,
        ok: s.ok,
        achieved_rps: round3(if sending_s > 0.0 {
            sent as f64 / sending_s
        } else {
            0.0
        }),
        success_ratio: if completed > 0 {
            round3(s.ok as f64 / completed as f64)
        } else {
            0.0
        },
        errors: error_kind::ALL
            .iter()
            .zip(s.errors)
            .map(|(k, n)| (k.to_string(), n))
            .collect(),
        statuses: s.statuses.clone(),
        latency: LatencySummary::of(&s.corrected),
        service_time: LatencySummary::of(&s.service),
        jobs: (mode == Mode::Async).then(|| {
            let j = &s.jobs;
            JobsReport {
                accepted: j.accepted,
                succeeded: j.succeeded,
                failed: j.failed,
                expired: j.expired,
                duration: j
                    .duration
                    .as_ref()
                    .map(LatencySummary::of)
                    .unwrap_or_default(),
            }
        }),
    }
}

pub(crate) fn build(run: Run<'_>, stats: &Stats, labels: &[&'static str]) -> Report {
    let sending_s = run.sending.as_secs_f64();
    let mode = run.config.mode;
    let (executor, closed_loop) = match &run.config.executor {
        Executor::OpenLoop => ("open_loop", None),
        Executor::ClosedLoop(c) => (
            "closed_loop",
            Some(ClosedLoopReport {
                max_vus: c.peak() as u64,
                think_time: c.think_time.to_string(),
                note: CLOSED_LOOP_NOTE.to_string(),
            }),
        ),
    };
    let r = stats.merged();
    let mut total_stats: Option<LabelStats> = None;
    let mut actions = Vec::new();
    for (i, (name, s)) in labels.iter().zip(&r.labels).enumerate() {
        let sent = stats.sent_of(i);
        let dropped = stats.dropped_of(i);
        actions.push(action_report(name, s, sent, dropped, sending_s, mode));
        match &mut total_stats {
            Some(t) => t.merge(s),
            None => total_stats = Some(s.clone()),
        }
    }
    let (sent, dropped) = (stats.sent_total(), stats.dropped_total() + run.skipped);
    let total = match &total_stats {
        Some(t) => action_report("total", t, sent, dropped, sending_s, mode),
        None => ActionReport {
            action: "total".into(),
            ..ActionReport::default()
        },
    };
    let scheduled = sent + dropped;
    let pct = |a: u64, b: u64| {
        if b > 0 {
            100.0 * a as f64 / b as f64
        } else {
            0.0
        }
    };
    let empty = crate::stats::histogram();
    let facts = Facts {
        latency: total_stats.as_ref().map_or(&empty, |t| &t.corrected),
        error_rate_pct: pct(total.completed - total.ok, total.completed),
        dropped,
        drop_rate_pct: pct(dropped, scheduled),
    };
    let thresholds = run
        .config
        .thresholds
        .iter()
        .map(|t| t.evaluate(&facts))
        .collect();
    Report {
        loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
        target: run.config.target.clone(),
        executor: executor.to_string(),
        mode: mode.as_str().to_string(),
        closed_loop,
        shard: format!("{}/{}", run.config.shard.index, run.config.shard.count),
        started_unix_ms: run.started_unix_ms,
        duration_s: round3(run.duration.as_secs_f64()),
        sending_s: round3(sending_s),
        interrupted: run.interrupted,
        planned: run.planned,
        scheduled,
        skipped: run.skipped,
        connections_opened: run.connections_opened,
        connections: connections_report(run.config, &run.setup),
        unfinished: run.unfinished,
        schedule_lag: LatencySummary::of(run.lag),
        total,
        actions,
        last_errors: r
            .last_failure
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        thresholds,
        timeline: run.timeline,
    }
}

fn connections_report(config: &Config, setup: &SetupTotals) -> ConnectionsReport {
    let t = &config.transport;
    let tls = config.target.starts_with("https://");
    ConnectionsReport {
        protocol: t.protocol(tls).to_string(),
        h2_streams: t.http2.then_some(t.h2_streams),
        trusted: tls.then(|| t.trust.to_string()),
        insecure: tls && t.trust == common::tls::Trust::Insecure,
        handshakes: setup.handshakes,
        connect: LatencySummary::of(&setup.connect),
        tls_handshake: LatencySummary::of(&setup.tls),
    }
}

/// Milliseconds for people: `523µs`, `12.3ms`, `1.25s` (at most 3 decimals, no trailing 0).
pub fn fmt_ms(ms: f64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    };
    if ms.abs() >= 1000.0 {
        format!("{}s", trim(ms / 1000.0))
    } else if ms.abs() < 1.0 && ms != 0.0 {
        format!("{}µs", trim(ms * 1000.0))
    } else {
        format!("{}ms", trim(ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_read_naturally() {
        assert_eq!(fmt_ms(0.523), "523µs");
        assert_eq!(fmt_ms(12.3), "12.3ms");
        assert_eq!(fmt_ms(45.039), "45.039ms");
        assert_eq!(fmt_ms(1250.0), "1.25s");
        assert_eq!(fmt_ms(0.0), "0ms");
    }

    #[test]
    fn formats_follow_the_extension() {
        assert_eq!(Format::of(Path::new("a/b.json")), Ok(Format::Json));
        assert_eq!(Format::of(Path::new("b.md")), Ok(Format::Markdown));
        assert!(
            Format::of(Path::new("b.html"))
                .unwrap_err()
                .contains(".json or .md")
        );
    }
}
