//! The `iterations` section in report.md and the terminal summary.

use std::fmt::Write;

use super::report::{IterationRow, IterationsReport, PodStartup};
use crate::report::markdown::ms;

fn label(r: &IterationRow) -> String {
    r.iteration
        .map_or_else(|| "total".to_owned(), |k| k.to_string())
}

fn count(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"))
}

/// `12 pods (created → ready): p50 … ms, p95 … ms, max … ms`.
pub fn startup_line(s: &PodStartup) -> String {
    let ms = |v: f64| format!("{:.1} ms", v * 1000.0);
    format!(
        "{} {}: p50 {}, p95 {}, max {}",
        s.pods,
        s.of,
        ms(s.p50),
        ms(s.p95),
        ms(s.max)
    )
}

/// A row's cells, as every rendering shows them.
fn cells(row: &IterationRow, pipeline: bool) -> Vec<String> {
    let mut c = vec![
        label(row),
        format!("{:.0}", row.sent),
        format!("{:.1}", row.sent_rps),
        format!("{:.0}", row.errors),
        ms(row.p95),
    ];
    if pipeline {
        c.extend([count(row.produced), count(row.acknowledged)]);
    }
    c
}

const HEADER: [&str; 7] = [
    "iteration",
    "sent",
    "sent/s",
    "errors",
    "p95 ms",
    "produced",
    "acknowledged",
];

/// The report.html section: the table, and the startup latency under it.
pub fn html(r: &IterationsReport) -> String {
    use crate::report::html::{esc, row};
    let pipeline = r.total.produced.is_some();
    let width = if pipeline { 7 } else { 5 };
    let head = row(&HEADER.map(str::to_owned)[..width], "th");
    let rows: String = r
        .rows
        .iter()
        .chain(std::iter::once(&r.total))
        .map(|x| row(&cells(x, pipeline), "td"))
        .collect();
    let startup = r
        .pod_startup
        .as_ref()
        .map(|s| {
            format!(
                "<p>Startup latency over every copy: {}.</p>",
                esc(&startup_line(s))
            )
        })
        .unwrap_or_default();
    format!(
        "<h2>Iterations</h2><p>{} copies of the stack, driven together.</p><table id=\"iterations\">{head}{rows}</table>{startup}",
        r.count
    )
}

/// The report.md section.
pub fn markdown(r: &IterationsReport) -> String {
    let mut out = String::new();
    let pipeline = r.total.produced.is_some();
    let _ = writeln!(
        out,
        "\n## Iterations\n\n{} copies of the stack, driven together; rates over the {:.1} s the load ran.\n",
        r.count, r.load_seconds
    );
    let (extra_head, extra_rule) = if pipeline {
        (" produced | acknowledged |", "---:|---:|")
    } else {
        ("", "")
    };
    let _ = writeln!(
        out,
        "| iteration | sent | sent/s | errors | p95 ms |{extra_head}\n|---|---:|---:|---:|---:|{extra_rule}"
    );
    for row in r.rows.iter().chain(std::iter::once(&r.total)) {
        let _ = writeln!(out, "| {} |", cells(row, pipeline).join(" | "));
    }
    if let Some(s) = &r.pod_startup {
        let _ = writeln!(
            out,
            "\nStartup latency over every copy: {}.",
            startup_line(s)
        );
    }
    out
}

/// The terminal's lines: one per copy, then the total.
pub fn summary(r: &IterationsReport) -> String {
    let mut out = format!(
        "\niteration      sent   sent/s  errors   p95 ms{}\n",
        if r.total.produced.is_some() {
            "   produced  acknowledged"
        } else {
            ""
        }
    );
    for row in r.rows.iter().chain(std::iter::once(&r.total)) {
        out.push_str(&format!(
            "{:<10} {:>8.0} {:>8.1} {:>7.0} {:>8}",
            label(row),
            row.sent,
            row.sent_rps,
            row.errors,
            ms(row.p95)
        ));
        if row.produced.is_some() {
            out.push_str(&format!(
                " {:>10} {:>13}",
                count(row.produced),
                count(row.acknowledged)
            ));
        }
        out.push('\n');
    }
    if let Some(s) = &r.pod_startup {
        out.push_str(&format!("startup latency: {}\n", startup_line(s)));
    }
    out
}
