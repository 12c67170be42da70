//! The end-of-run summary on stdout (k6-like) and the Markdown report: the same facts,
//! drops and schedule lag up front, corrected latency as the headline; async jobs and the
//! closed loop's users (with why its latency is another measure) when the run had them;
//! the protocol and connection setup, and a warning that cannot be missed under `--insecure`.

use std::fmt::Write;

use crate::report::{ActionReport, ConnectionsReport, JobsReport, LatencySummary, Report, fmt_ms};

/// Said at the top of the summary and the Markdown report of an `--insecure` run.
const INSECURE_WARNING: &str = "WARNING: --insecure: TLS certificates were NOT verified;      any server could have answered for this host";

fn connections_line(c: &ConnectionsReport, opened: u64) -> String {
    let streams = c
        .h2_streams
        .map_or(String::new(), |n| format!(", up to {n} streams each"));
    let protocol = if c.protocol.is_empty() {
        "http/1.1"
    } else {
        &c.protocol
    };
    format!("{opened} opened ({protocol}{streams})")
}

fn latency_line(l: &LatencySummary) -> String {
    if l.count == 0 {
        return "-".into();
    }
    format!(
        "avg={} min={} med={} p90={} p95={} p99={} p99.9={} max={}",
        fmt_ms(l.avg_ms),
        fmt_ms(l.min_ms),
        fmt_ms(l.p50_ms),
        fmt_ms(l.p90_ms),
        fmt_ms(l.p95_ms),
        fmt_ms(l.p99_ms),
        fmt_ms(l.p999_ms),
        fmt_ms(l.max_ms)
    )
}

fn errors_line(a: &ActionReport) -> String {
    let parts: Vec<String> = a
        .errors
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" · ")
    }
}

fn statuses_line(a: &ActionReport) -> String {
    let parts: Vec<String> = a
        .statuses
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(" · ")
    }
}

fn jobs_line(j: &JobsReport) -> String {
    format!(
        "{} accepted, {} succeeded, {} failed, {} expired",
        j.accepted, j.succeeded, j.failed, j.expired
    )
}

/// Breaks `text` into lines of at most `width` characters, at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let last = lines.last_mut().expect("never empty");
        if !last.is_empty() && last.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !last.is_empty() {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    lines
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn pct(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

impl Report {
    /// The human summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let t = &self.total;
        let mut out = String::new();
        let row = |out: &mut String, name: &str, value: String| {
            let dots = ".".repeat(22usize.saturating_sub(name.len() + 1));
            let _ = writeln!(out, "  {name} {dots}: {value}");
        };
        let closed = self.closed_loop.as_ref();
        let how = match closed {
            Some(_) => "closed loop".to_string(),
            None => format!("open loop, shard {}", self.shard),
        };
        let _ = writeln!(
            out,
            "\n  loadgen {} → {} ({how}, {} mode){}\n",
            self.loadgen_version,
            self.target,
            if self.mode.is_empty() {
                "sync"
            } else {
                &self.mode
            },
            if self.interrupted {
                "  INTERRUPTED"
            } else {
                ""
            }
        );
        if self.connections.insecure {
            let _ = writeln!(out, "  {INSECURE_WARNING}\n");
        }
        if let Some(c) = closed {
            for line in wrap(&c.note, 86) {
                let _ = writeln!(out, "  {line}");
            }
            let _ = writeln!(out);
            row(
                &mut out,
                "virtual users",
                format!("at most {}, think time {}", c.max_vus, c.think_time),
            );
        }
        let planned = self
            .planned
            .map_or(String::new(), |p| format!(", planned {p}"));
        row(
            &mut out,
            "requests",
            format!(
                "{} sent, {}/s over {}s{planned}",
                t.sent, t.achieved_rps, self.sending_s
            ),
        );
        let drop_note = if closed.is_some() {
            "  (a closed loop never drops)".to_string()
        } else if self.skipped > 0 {
            format!(
                "  ← {} never reached: the plan is beyond this machine (cap it with --max-rps)",
                self.skipped
            )
        } else if t.dropped > 0 {
            "  ← in-flight cap (--max-in-flight) reached".to_string()
        } else {
            String::new()
        };
        row(
            &mut out,
            "dropped",
            format!(
                "{} ({:.2}%){drop_note}",
                t.dropped,
                pct(t.dropped, self.scheduled)
            ),
        );
        let lag = &self.schedule_lag;
        if closed.is_none() {
            row(
                &mut out,
                "schedule lag",
                format!(
                    "avg={} p99={} max={}",
                    fmt_ms(lag.avg_ms),
                    fmt_ms(lag.p99_ms),
                    fmt_ms(lag.max_ms)
                ),
            );
        }
        row(
            &mut out,
            "success",
            format!(
                "{:.2}% ({} ok of {} completed)",
                100.0 * t.success_ratio,
                t.ok,
                t.completed
            ),
        );
        row(&mut out, "errors", errors_line(t));
        for (kind, why) in &self.last_errors {
            row(&mut out, &format!("  last {kind}"), why.clone());
        }
        row(&mut out, "statuses", statuses_line(t));
        let headline = if closed.is_some() {
            "latency (response)"
        } else {
            "latency (corrected)"
        };
        row(&mut out, headline, latency_line(&t.latency));
        row(&mut out, "service time", latency_line(&t.service_time));
        if let Some(j) = &t.jobs {
            row(&mut out, "jobs", jobs_line(j));
            row(&mut out, "job duration", latency_line(&j.duration));
        }
        let c = &self.connections;
        row(
            &mut out,
            "connections",
            connections_line(c, self.connections_opened),
        );
        row(&mut out, "connect", latency_line(&c.connect));
        if let Some(trusted) = &c.trusted {
            row(&mut out, "tls trusts", trusted.clone());
            row(
                &mut out,
                "tls handshakes",
                format!("{}: {}", c.handshakes, latency_line(&c.tls_handshake)),
            );
        }
        if self.unfinished > 0 {
            row(
                &mut out,
                "unfinished",
                format!("{} still in flight at the end", self.unfinished),
            );
        }
        let _ = writeln!(
            out,
            "\n  {:<14} {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9}",
            "action", "sent", "rps", "ok", "p50", "p95", "p99", "dropped"
        );
        for a in &self.actions {
            let _ = writeln!(
                out,
                "  {:<14} {:>9} {:>9} {:>7.2}% {:>9} {:>9} {:>9} {:>9}",
                a.action,
                a.sent,
                a.achieved_rps,
                100.0 * a.success_ratio,
                fmt_ms(a.latency.p50_ms),
                fmt_ms(a.latency.p95_ms),
                fmt_ms(a.latency.p99_ms),
                a.dropped
            );
        }
        if t.jobs.is_some() {
            let _ = writeln!(
                out,
                "\n  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                "jobs", "accepted", "ok", "failed", "expired", "p50", "p95", "p99"
            );
            for a in &self.actions {
                let Some(j) = &a.jobs else { continue };
                let _ = writeln!(
                    out,
                    "  {:<14} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    a.action,
                    j.accepted,
                    j.succeeded,
                    j.failed,
                    j.expired,
                    fmt_ms(j.duration.p50_ms),
                    fmt_ms(j.duration.p95_ms),
                    fmt_ms(j.duration.p99_ms)
                );
            }
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(out, "\n  thresholds");
            for th in &self.thresholds {
                let mark = if th.passed { "✓" } else { "✗ FAILED" };
                let _ = writeln!(out, "    {mark} {}: {}", th.threshold, th.detail);
            }
        }
        out
    }

    /// The Markdown report.
    pub fn markdown(&self) -> String {
        let t = &self.total;
        let mut md = String::new();
        let _ = writeln!(md, "# loadgen report\n");
        let _ = writeln!(
            md,
            "Target `{}`, shard {}, {} s of sending{}.\n",
            self.target,
            self.shard,
            self.sending_s,
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        if self.connections.insecure {
            let _ = writeln!(md, "**{INSECURE_WARNING}.**\n");
        }
        if let Some(c) = &self.closed_loop {
            let _ = writeln!(
                md,
                "**Closed loop**: at most {} virtual users, think time {}. {}.\n",
                c.max_vus,
                c.think_time,
                upper_first(&c.note)
            );
        }
        let _ = writeln!(md, "| | |\n|---|---|");
        let planned = self.planned.map_or("-".to_string(), |p| p.to_string());
        for (k, v) in [
            (
                "requests sent",
                format!("{} ({} /s; planned {planned})", t.sent, t.achieved_rps),
            ),
            (
                "dropped",
                format!("{} ({:.2}%)", t.dropped, pct(t.dropped, self.scheduled)),
            ),
            ("success", format!("{:.2}%", 100.0 * t.success_ratio)),
            ("errors", errors_line(t)),
            ("statuses", statuses_line(t)),
            ("schedule lag", latency_line(&self.schedule_lag)),
            (
                "connections",
                connections_line(&self.connections, self.connections_opened),
            ),
            ("connect", latency_line(&self.connections.connect)),
            (
                "tls handshakes",
                match &self.connections.trusted {
                    Some(trusted) => format!(
                        "{}: {} (trusting {trusted})",
                        self.connections.handshakes,
                        latency_line(&self.connections.tls_handshake)
                    ),
                    None => "- (http)".into(),
                },
            ),
        ] {
            let _ = writeln!(md, "| {k} | {v} |");
        }
        let _ = writeln!(
            md,
            "\n## Latency\n\n| action | measure | count | avg | min | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for a in self.actions.iter().chain(std::iter::once(t)) {
            let headline = if self.closed_loop.is_some() {
                "response"
            } else {
                "corrected"
            };
            for (what, l) in [(headline, &a.latency), ("service time", &a.service_time)] {
                let _ = writeln!(
                    md,
                    "| {} | {what} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    a.action,
                    l.count,
                    fmt_ms(l.avg_ms),
                    fmt_ms(l.min_ms),
                    fmt_ms(l.p50_ms),
                    fmt_ms(l.p90_ms),
                    fmt_ms(l.p95_ms),
                    fmt_ms(l.p99_ms),
                    fmt_ms(l.p999_ms),
                    fmt_ms(l.max_ms)
                );
            }
        }
        if t.jobs.is_some() {
            let _ = writeln!(
                md,
                "\n## Async jobs\n\nDuration: from the request's intended send time to the poll that saw its job end.\n\n| action | accepted | succeeded | failed | expired | p50 | p95 | p99 | max |\n|---|---|---|---|---|---|---|---|---|"
            );
            for a in self.actions.iter().chain(std::iter::once(t)) {
                let Some(j) = &a.jobs else { continue };
                let d = &j.duration;
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    a.action,
                    j.accepted,
                    j.succeeded,
                    j.failed,
                    j.expired,
                    fmt_ms(d.p50_ms),
                    fmt_ms(d.p95_ms),
                    fmt_ms(d.p99_ms),
                    fmt_ms(d.max_ms)
                );
            }
        }
        let _ = writeln!(
            md,
            "\n## Per action\n\n| action | sent | rps | ok | dropped | errors |\n|---|---|---|---|---|---|"
        );
        for a in self.actions.iter().chain(std::iter::once(t)) {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {:.2}% | {} | {} |",
                a.action,
                a.sent,
                a.achieved_rps,
                100.0 * a.success_ratio,
                a.dropped,
                errors_line(a)
            );
        }
        if !self.thresholds.is_empty() {
            let _ = writeln!(
                md,
                "\n## Thresholds\n\n| threshold | result | detail |\n|---|---|---|"
            );
            for th in &self.thresholds {
                let r = if th.passed { "pass" } else { "**FAIL**" };
                let _ = writeln!(md, "| `{}` | {r} | {} |", th.threshold, th.detail);
            }
        }
        let _ = writeln!(
            md,
            "\n## Timeline\n\n| t (s) | target rps | achieved rps | errors | dropped | in flight | p50 | p99 |\n|---|---|---|---|---|---|---|---|"
        );
        let ms = |v: Option<f64>| v.map_or("-".to_string(), fmt_ms);
        for p in &self.timeline {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                p.t_s,
                p.target_rps,
                p.achieved_rps,
                p.errors,
                p.dropped,
                p.in_flight,
                ms(p.p50_ms),
                ms(p.p99_ms)
            );
        }
        md
    }
}
