//! report.md: the run summary a person reads in a terminal or a pull request.

use std::fmt::Write;

use super::{Latency, Outcome, Report};

/// Milliseconds with one decimal, or `-` when nothing was observed.
pub fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |s| format!("{:.1}", s * 1000.0))
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn latency_cells(l: &Latency) -> String {
    format!("{} | {} | {}", ms(l.p50), ms(l.p95), ms(l.p99))
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Load run `{}`\n", r.uuid);
    let outcome = match &r.outcome {
        Outcome::Completed => "completed".to_owned(),
        Outcome::Interrupted { phase } => format!("interrupted during `{phase}` (partial report)"),
        Outcome::Failed { phase, error } => format!("failed during `{phase}`: {error}"),
    };
    let _ = writeln!(
        out,
        "- runtime: {}\n- started: {}\n- outcome: {outcome}",
        r.runtime, r.started_at
    );
    if let Some(t) = r.time_to_ready {
        let _ = writeln!(out, "- time to all-ready: {t:.2} s");
    }
    for f in &r.failures {
        let _ = writeln!(out, "- failure: {f}");
    }
    for n in &r.notes {
        let _ = writeln!(out, "- note: {n}");
    }
    let _ = writeln!(
        out,
        "\n## Phases\n\n| phase | start s | end s | sent/s | served/s | errors | drops | shed | p50 ms | p95 ms | p99 ms | settled p95 ms | server p95 ms | replicas |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for p in &r.phases {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} | {} | {}–{} |",
            p.name,
            p.start,
            p.end,
            p.sent_rps,
            p.served_rps,
            pct(p.error_rate),
            pct(p.drop_rate),
            pct(p.shed_rate),
            latency_cells(&p.client_latency),
            ms(p.settled_client_latency.p95),
            ms(p.server_latency.p95),
            p.replicas_min,
            p.replicas_max,
        );
    }
    if r.phases.iter().any(|p| p.job_latency.p50.is_some()) {
        let _ = writeln!(
            out,
            "\n## Async jobs\n\nThe latency above is the 202's; a job's duration runs from the request's intended send time to the job's end.\n\n| phase | job p50 ms | job p95 ms | job p99 ms | jobs pending (max) |\n|---|---:|---:|---:|---:|"
        );
        for p in &r.phases {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                p.name,
                latency_cells(&p.job_latency),
                p.jobs_pending_max
            );
        }
    }
    if let Some(s) = &r.resources {
        out.push_str(&crate::resources::render::markdown(s));
    }
    if !r.scenario.plans.is_empty() {
        plans(&mut out, r);
    }
    if let Some(a) = &r.autoscale {
        out.push_str(&crate::autoscale::render::markdown(a));
    }
    if let Some(p) = &r.pipeline {
        out.push_str(&crate::pipeline::render::markdown(p));
    }
    if let Some(i) = &r.iterations {
        out.push_str(&crate::iterations::render::markdown(i));
    }
    if let Some(c) = &r.capability {
        out.push_str(&crate::capability::render::markdown(c));
    }
    if let Some(g) = &r.gate {
        out.push_str(&crate::gate::render::markdown(g));
    }
    let _ = writeln!(out, "\n## Endpoints\n");
    for e in &r.endpoints {
        let _ = writeln!(out, "- {}: {}", e.name, e.url);
    }
    let latency = if r.scenario.any_closed_loop() {
        "Closed loop: each virtual user waits for its answer before the next request, so latency is the plain response time and a slow service lowers the load instead of queueing it; it is not comparable with open-loop figures"
    } else {
        "Latency is measured from each request's intended send time (coordinated omission corrected)"
    };
    let _ = writeln!(
        out,
        "\n{latency}; p-values are interpolated from histogram buckets; settled p95 is the p95 of the phase's second half. Charts: report.html."
    );
    out
}

/// Each load plan's own generators, phase by phase (the phase table holds their total).
fn plans(out: &mut String, r: &Report) {
    let _ = writeln!(
        out,
        "\n## Load plans\n\n{}\n\n| phase | plan | sent | sent/s | errors | drops | p50 ms | p95 ms | p99 ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|",
        r.scenario.describe_load()
    );
    for p in &r.phases {
        for plan in &p.plans {
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.1} | {} | {} | {} |",
                p.name,
                plan.name,
                plan.sent,
                plan.sent_rps,
                pct(plan.error_rate),
                pct(plan.drop_rate),
                latency_cells(&plan.client_latency),
            );
        }
    }
}
