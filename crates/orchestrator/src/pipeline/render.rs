//! The pipeline's sections of report.md and report.html: the per-phase table, the loss
//! check, and on the page a chart of the queue and the consumer lag.

use std::fmt::Write;

use super::report::{PipelinePhase, PipelineReport};
use crate::report::Report;
use crate::report::markdown::ms;

fn count(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

fn mib(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.1}", v / 1_048_576.0))
}

const HEADER: [&str; 12] = [
    "phase",
    "produced/s",
    "failed orders",
    "consumed/s",
    "acked/s",
    "queue max",
    "queue end",
    "lag max",
    "lag end",
    "e2e p50 ms",
    "e2e p95 ms",
    "Redis MiB",
];

fn cells(p: &PipelinePhase) -> [String; 12] {
    [
        p.name.clone(),
        format!("{:.1}", p.produced_per_s),
        format!("{:.0}", p.orders_failed),
        format!("{:.1}", p.consumed_per_s),
        format!("{:.1}", p.acknowledged_per_s),
        count(p.queue_max),
        count(p.queue_end),
        count(p.lag_max),
        count(p.lag_end),
        ms(p.end_to_end_p50),
        ms(p.end_to_end_p95),
        mib(p.redis_memory_max_bytes),
    ]
}

/// The loss check's line: `passed` or `FAILED` with its numbers, or what was in flight when
/// Redis could not be read at the end.
pub fn loss_line(p: &PipelineReport) -> String {
    if let Some(u) = &p.redis_unreachable {
        return u.detail.clone();
    }
    p.loss.as_ref().map_or_else(
        || {
            p.notes
                .first()
                .and_then(|n| n.strip_prefix("no loss check: "))
                .map_or_else(
                    || "not checked: Redis could not be read at the end".to_owned(),
                    |why| format!("not checked: {why}"),
                )
        },
        |l| l.detail.clone(),
    )
}

/// The Markdown section.
pub fn markdown(p: &PipelineReport) -> String {
    let mut out = format!(
        "\n## Pipeline\n\n| {} |\n|---|{}\n",
        HEADER.join(" | "),
        "---:|".repeat(HEADER.len() - 1)
    );
    for phase in &p.phases {
        let _ = writeln!(out, "| {} |", cells(phase).join(" | "));
    }
    let _ = writeln!(out, "\n**Loss check**: {}", loss_line(p));
    for n in &p.notes {
        let _ = writeln!(out, "- note: {n}");
    }
    out
}

/// The HTML section: the table, the loss check, the queue chart.
pub fn html(r: &Report, p: &PipelineReport) -> String {
    use crate::report::html::{chart, esc, row};
    let head = row(&HEADER.map(str::to_owned), "th");
    let rows: String = p.phases.iter().map(|x| row(&cells(x), "td")).collect();
    let passed = p.loss.as_ref().is_some_and(|l| l.passed);
    let t: Vec<f64> = r.points.iter().map(|x| x.t).collect();
    let redis = |f: fn(&super::sample::RedisFigures) -> f64| -> Vec<f64> {
        r.points
            .iter()
            .map(|x| {
                x.pipeline
                    .as_ref()
                    .and_then(|p| p.redis.as_ref())
                    .map_or(f64::NAN, f)
            })
            .collect()
    };
    let (queued, lag) = (redis(|x| x.queued), redis(|x| x.lag));
    format!(
        "<h2>Pipeline</h2><table>{head}{rows}</table><p class=\"{}\"><b>Loss check</b>: {}</p>{}",
        if passed { "pass" } else { "fail" },
        esc(&loss_line(p)),
        chart(
            "chart-queue",
            "Order queue",
            "entries",
            r,
            &t,
            &[
                ("queue length", "#1f77b4", queued.as_slice()),
                ("consumer lag", "#ff7f0e", lag.as_slice()),
            ],
        )
    )
}
