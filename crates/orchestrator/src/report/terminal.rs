//! The end-of-run summary printed to the terminal: a row per phase long enough for
//! figures, each plan's share, and the pipeline's and the capability mode's one-liners.

use super::Report;

/// The end-of-run summary for the terminal.
pub fn summary(r: &Report) -> String {
    use crate::report::markdown::ms;
    let mut out = String::from(
        "\nphase        sent/s  errors   p50 ms   p95 ms   p99 ms  settled p95  replicas\n",
    );
    // Phases shorter than one sampling interval (locally: deploy, scale_up, unload) have no
    // figures of their own; a row of dashes would only look like missing data.
    let (rows, short): (Vec<_>, Vec<_>) = r.phases.iter().partition(|p| p.end - p.start >= 1.0);
    for p in rows {
        out.push_str(&format!(
            "{:<12} {:>6.1} {:>6.1}% {:>8} {:>8} {:>8} {:>12}  {}–{}\n",
            p.name,
            p.sent_rps,
            p.error_rate * 100.0,
            ms(p.client_latency.p50),
            ms(p.client_latency.p95),
            ms(p.client_latency.p99),
            ms(p.settled_client_latency.p95),
            p.replicas_min,
            p.replicas_max
        ));
        // Several plans: each one's share under its phase.
        for plan in p.plans.iter().filter(|_| !r.scenario.plans.is_empty()) {
            out.push_str(&format!(
                "  {:<10} {:>6.1} {:>6.1}% {:>8} {:>8} {:>8}\n",
                plan.name,
                plan.sent_rps,
                plan.error_rate * 100.0,
                ms(plan.client_latency.p50),
                ms(plan.client_latency.p95),
                ms(plan.client_latency.p99),
            ));
        }
    }
    if !short.is_empty() {
        let names: Vec<&str> = short.iter().map(|p| p.name.as_str()).collect();
        out.push_str(&format!(
            "({}: under a second, too short for figures of their own; see report.json)\n",
            names.join(", ")
        ));
    }
    if let Some(i) = &r.iterations {
        out.push_str(&crate::iterations::render::summary(i));
    }
    if let Some(p) = &r.pipeline {
        out.push_str(&format!(
            "pipeline loss check: {}\n",
            crate::pipeline::render::loss_line(p)
        ));
    }
    if let Some(c) = &r.capability {
        out.push_str(&format!(
            "capacity: {}\n",
            crate::capability::render::headline(c)
        ));
    }
    out
}
