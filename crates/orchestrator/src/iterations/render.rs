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

/// `12 pods (created → ready): p50 …, p95 …, max … s`.
pub fn startup_line(s: &PodStartup) -> String {
    format!(
        "{} {}: p50 {:.2} s, p95 {:.2} s, max {:.2} s",
        s.pods, s.of, s.p50, s.p95, s.max
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
        let _ = write!(
            out,
            "| {} | {:.0} | {:.1} | {:.0} | {} |",
            label(row),
            row.sent,
            row.sent_rps,
            row.errors,
            ms(row.p95)
        );
        if pipeline {
            let _ = write!(
                out,
                " {} | {} |",
                count(row.produced),
                count(row.acknowledged)
            );
        }
        out.push('\n');
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
