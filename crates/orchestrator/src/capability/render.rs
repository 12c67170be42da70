//! The capability section of report.md, report.html and the terminal: the capacity in one
//! line, then every rate offered and how it went.

use std::fmt::Write;

use super::{CapabilityReport, Kind};
use crate::report::Report;

/// "40.0 rps per iteration, 80.0 in total (2 iterations); the climb ended at 60.0 rps by
/// consumer_lag: ..." — the figure an operator asked for.
pub fn headline(c: &CapabilityReport) -> String {
    let Some(capacity) = c.capacity_rps else {
        return "not found: the run ended before a rate settled".to_owned();
    };
    let mut line = if capacity <= 0.0 {
        "below every rate tried: none held for the settle window".to_owned()
    } else if c.iterations > 1 {
        format!(
            "{capacity:.1} rps per iteration, {:.1} rps in total ({} iterations), held for {:.0} s",
            c.total_rps.unwrap_or(capacity),
            c.iterations,
            c.settle_s
        )
    } else {
        format!("{capacity:.1} rps, held for {:.0} s", c.settle_s)
    };
    if c.at_ceiling {
        line.push_str(" (at least: the climb reached capability_max_rps with no rule broken)");
    }
    if let Some(e) = &c.ended_by {
        let _ = write!(
            line,
            "; the climb ended at {:.1} rps by {}: {}",
            e.rate_rps,
            e.by.rule.as_str(),
            e.by.detail
        );
    }
    line
}

fn rows(c: &CapabilityReport) -> Vec<[String; 5]> {
    c.attempts
        .iter()
        .map(|a| {
            [
                match a.kind {
                    Kind::Climb => "climb".to_owned(),
                    Kind::Settle => "settle".to_owned(),
                },
                format!("{:.1}", a.rate_rps),
                format!("{:.1}–{:.1}", a.start, a.end.unwrap_or(a.start)),
                if a.held { "held" } else { "-" }.to_owned(),
                a.broke.as_ref().map_or_else(String::new, |b| {
                    format!("{}: {}", b.rule.as_str(), b.detail)
                }),
            ]
        })
        .collect()
}

const HEADER: [&str; 5] = ["step", "rate rps", "s", "held", "broke"];

/// The Markdown section.
pub fn markdown(c: &CapabilityReport) -> String {
    let mut out = format!("\n## Capability\n\n**Capacity**: {}\n", headline(c));
    if let Some(k) = &c.carried {
        let _ = writeln!(
            out,
            "\nCarried while it settled: {:.1} sent/s, {:.2} % errors, p95 {}{}",
            k.sent_rps,
            k.error_rate * 100.0,
            crate::report::markdown::ms(k.p95_ms.map(|m| m / 1e3)),
            k.acknowledged_rps
                .map_or_else(String::new, |a| format!(", {a:.1} acknowledged/s"))
        );
    }
    let _ = write!(
        out,
        "\n| {} |\n|---|---:|---:|---|---|\n",
        HEADER.join(" | ")
    );
    for r in rows(c) {
        let _ = writeln!(out, "| {} |", r.join(" | "));
    }
    out
}

/// The HTML section.
pub fn html(_r: &Report, c: &CapabilityReport) -> String {
    use crate::report::html::{esc, row};
    let head = row(&HEADER.map(str::to_owned), "th");
    let body: String = rows(c).iter().map(|r| row(r, "td")).collect();
    format!(
        "<h2>Capability</h2><p id=\"capacity\"><b>Capacity</b>: {}</p><table>{head}{body}</table>",
        esc(&headline(c))
    )
}

/// `compare`'s rows of the capacity: what one cluster carries against another (a reference
/// result under `results/`, or an earlier run).
pub fn compare_rows(a: &Report, b: &Report) -> Vec<crate::compare::Row> {
    use crate::compare::Row;
    if a.capability.is_none() && b.capability.is_none() {
        return Vec::new();
    }
    type Get = fn(&CapabilityReport) -> Option<f64>;
    const FIGURES: [(&str, Get); 6] = [
        ("capacity_rps", |c| c.capacity_rps),
        ("total_capacity_rps", |c| c.total_rps),
        ("carried_sent_rps", |c| {
            c.carried.as_ref().map(|k| k.sent_rps)
        }),
        ("carried_acknowledged_rps", |c| {
            c.carried.as_ref().and_then(|k| k.acknowledged_rps)
        }),
        ("carried_error_rate", |c| {
            c.carried.as_ref().map(|k| k.error_rate)
        }),
        ("carried_p95_seconds", |c| {
            c.carried.as_ref().and_then(|k| k.p95_ms).map(|m| m / 1e3)
        }),
    ];
    FIGURES
        .iter()
        .map(|(name, get)| {
            Row::new(
                crate::timeline::phase::CAPABILITY,
                name,
                a.capability.as_ref().and_then(get),
                b.capability.as_ref().and_then(get),
            )
        })
        .collect()
}
