//! `compare A B`: the phase-by-phase differences of two reports.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::report::markdown::ms;
use crate::report::{PhaseStats, Report};

/// One metric of one phase in both runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub phase: String,
    pub metric: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// `(b - a) / a`, when both exist and `a` is not zero.
    pub change: Option<f64>,
}

impl Row {
    /// A row of `metric` in both runs, with its relative change.
    pub fn new(phase: &str, metric: &str, a: Option<f64>, b: Option<f64>) -> Self {
        let change = match (a, b) {
            (Some(x), Some(y)) if x != 0.0 => Some((y - x) / x),
            _ => None,
        };
        Self {
            phase: phase.to_owned(),
            metric: metric.to_owned(),
            a,
            b,
            change,
        }
    }
}

/// Reads one metric of a phase.
type Getter = fn(&PhaseStats) -> Option<f64>;

const METRICS: [(&str, Getter); 8] = [
    ("sent_rps", |p| Some(p.sent_rps)),
    ("served_rps", |p| Some(p.served_rps)),
    ("error_rate", |p| Some(p.error_rate)),
    ("drop_rate", |p| Some(p.drop_rate)),
    ("p50_seconds", |p| p.client_latency.p50),
    ("p95_seconds", |p| p.client_latency.p95),
    ("p99_seconds", |p| p.client_latency.p99),
    ("settled_p95_seconds", |p| p.settled_client_latency.p95),
];

/// Rows for every phase present in either report, in A's order then B's extras.
pub fn rows(a: &Report, b: &Report) -> Vec<Row> {
    let mut names: Vec<&str> = a.phases.iter().map(|p| p.name.as_str()).collect();
    for p in &b.phases {
        if !names.contains(&p.name.as_str()) {
            names.push(&p.name);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let (pa, pb) = (a.phase(name), b.phase(name));
        for (metric, get) in METRICS {
            out.push(Row::new(name, metric, pa.and_then(get), pb.and_then(get)));
        }
    }
    out.extend(crate::autoscale::render::compare_rows(a, b));
    out.extend(crate::resources::compare::rows(a, b));
    out.extend(crate::capability::render::compare_rows(a, b));
    out
}

fn cell(metric: &str, v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if metric.ends_with("_seconds") => format!("{} ms", ms(Some(v))),
        Some(v) if metric.ends_with("_rate") => format!("{:.2}%", v * 100.0),
        Some(v) if metric.ends_with("cpu_cores") || metric.ends_with("_1k_requests") => {
            format!("{v:.3}")
        }
        Some(v) => format!("{v:.1}"),
    }
}

pub fn markdown(a: &Report, b: &Report) -> String {
    markdown_rows(&a.uuid, &b.uuid, &rows(a, b))
}

/// The table of `rows`, A's column named `a`, B's `b`.
pub fn markdown_rows(a: &str, b: &str, rows: &[Row]) -> String {
    let mut out =
        format!("| phase | metric | A ({a}) | B ({b}) | change |\n|---|---|---:|---:|---:|\n");
    for r in rows {
        let change = r
            .change
            .map_or_else(|| "-".to_owned(), |c| format!("{:+.1}%", c * 100.0));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {change} |",
            r.phase,
            r.metric,
            cell(&r.metric, r.a),
            cell(&r.metric, r.b)
        );
    }
    out
}

pub fn json(a: &Report, b: &Report) -> String {
    let value = serde_json::json!({ "a": a.uuid, "b": b.uuid, "rows": rows(a, b) });
    serde_json::to_string_pretty(&value).unwrap_or_default()
}
