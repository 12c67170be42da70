//! report.html: one self-contained page with four inline SVG charts (requests/s, p95
//! latency, errors/s, replicas) and the phases marked, readable without network access.

use std::fmt::Write;

use super::{Report, plan_sent_rps, planned_rps, series};

/// Line colours of the load plans' sent rates (the total's is blue).
const PLAN_COLORS: [&str; 4] = ["#9467bd", "#ff7f0e", "#8c564b", "#e377c2"];

const W: f64 = 760.0;
const H: f64 = 200.0;
const PAD_L: f64 = 56.0;
const PAD_B: f64 = 24.0;
const PAD_T: f64 = 12.0;
const PHASE_COLORS: [&str; 6] = [
    "#eef3fb", "#fdf6e3", "#fbeaea", "#eaf6ee", "#f3eefb", "#eeeeee",
];

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A table row of escaped `cells`, each in `tag` (`th` or `td`).
pub(crate) fn row(cells: &[String], tag: &str) -> String {
    let inner: String = cells
        .iter()
        .map(|c| format!("<{tag}>{}</{tag}>", esc(c)))
        .collect();
    format!("<tr>{inner}</tr>")
}

/// One chart: a polyline per series (NaN values break nothing: they are skipped), phase bands.
pub(crate) fn chart(
    id: &str,
    title: &str,
    unit: &str,
    r: &Report,
    t: &[f64],
    lines: &[(&str, &str, &[f64])],
) -> String {
    let t_max = r
        .phases
        .iter()
        .map(|p| p.end)
        .chain(t.iter().copied())
        .fold(1.0_f64, f64::max);
    let y_max = lines
        .iter()
        .flat_map(|(_, _, v)| v.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.1;
    let x = |v: f64| PAD_L + (W - PAD_L - 8.0) * v / t_max;
    let y = |v: f64| PAD_T + (H - PAD_T - PAD_B) * (1.0 - v / y_max);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg id="{id}" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    for (i, p) in r.phases.iter().enumerate() {
        let color = PHASE_COLORS[i % PHASE_COLORS.len()];
        let _ = write!(
            s,
            r##"<g class="phase" data-phase="{name}"><rect x="{:.1}" y="{PAD_T}" width="{:.1}" height="{:.1}" fill="{color}"/><line x1="{:.1}" x2="{:.1}" y1="{PAD_T}" y2="{:.1}" stroke="#999" stroke-dasharray="3,3"/><text x="{:.1}" y="{:.1}" font-size="10" fill="#555">{name}</text></g>"##,
            x(p.start),
            (x(p.end) - x(p.start)).max(0.0),
            H - PAD_T - PAD_B,
            x(p.start),
            x(p.start),
            H - PAD_B,
            x(p.start) + 2.0,
            // Alternate rows so the names of short neighbouring phases do not overlap.
            PAD_T + 10.0 + 11.0 * (i % 2) as f64,
            name = esc(&p.name),
        );
    }
    // Axes with the max value and the time span labelled.
    let _ = write!(
        s,
        r##"<line x1="{PAD_L}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/><line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{:.1}" stroke="#333"/><text x="4" y="{:.1}" font-size="10">{:.1} {}</text><text x="4" y="{:.1}" font-size="10">0</text><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end">{:.0} s</text>"##,
        H - PAD_B,
        W - 8.0,
        H - PAD_B,
        H - PAD_B,
        PAD_T + 10.0,
        y_max / 1.1,
        esc(unit),
        H - PAD_B,
        W - 8.0,
        H - 6.0,
        t_max,
    );
    for (name, color, values) in lines {
        let pts: Vec<String> = t
            .iter()
            .zip(values.iter())
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline class="series" data-series="{}" data-points="{}" points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
            esc(name),
            pts.len(),
            pts.join(" ")
        );
    }
    s.push_str("</svg>");
    let legend: Vec<String> = lines
        .iter()
        .map(|(n, c, _)| format!(r#"<span style="color:{c}">■</span> {}"#, esc(n)))
        .collect();
    let _ = write!(
        s,
        "<div class=\"legend\">{}</div></figure>",
        legend.join(" &nbsp; ")
    );
    s
}

pub fn render(r: &Report) -> String {
    let sr = series(&r.points);
    let planned = planned_rps(r);
    let mut rate_lines: Vec<(&str, &str, &[f64])> = vec![
        ("sent (load generator)", "#1f77b4", &sr.sent_rps),
        ("served (backend)", "#2ca02c", &sr.served_rps),
    ];
    if let Some(planned) = &planned {
        rate_lines.insert(0, ("planned (scenario)", "#7f7f7f", planned));
    }
    // Several plans: each one's sent rate beside the total.
    let plans: Vec<(String, Vec<f64>)> = r
        .scenario
        .plans
        .iter()
        .map(|p| {
            (
                format!("sent ({})", p.name),
                plan_sent_rps(&r.points, &p.name),
            )
        })
        .collect();
    for ((name, rates), color) in plans.iter().zip(PLAN_COLORS.into_iter().cycle()) {
        rate_lines.push((name.as_str(), color, rates.as_slice()));
    }
    let mut body = String::new();
    body.push_str(&chart(
        "chart-rps",
        "Requests per second",
        "req/s",
        r,
        &sr.t,
        &rate_lines,
    ));
    body.push_str(&chart(
        "chart-p95",
        "p95 latency",
        "ms",
        r,
        &sr.t,
        &[("p95", "#d62728", &sr.p95_ms)],
    ));
    body.push_str(&chart(
        "chart-errors",
        "Errors per second",
        "err/s",
        r,
        &sr.t,
        &[("errors", "#ff7f0e", &sr.errors_per_s)],
    ));
    body.push_str(&chart(
        "chart-replicas",
        "Ready backend replicas",
        "replicas",
        r,
        &sr.t,
        &[("ready", "#9467bd", &sr.replicas)],
    ));
    if let Some(s) = &r.resources {
        body.push_str(&crate::resources::render::html(r, s));
    }
    if let Some(a) = &r.autoscale {
        body.push_str(&crate::autoscale::render::html(r, a));
    }
    if let Some(p) = &r.pipeline {
        body.push_str(&crate::pipeline::render::html(r, p));
    }
    if let Some(i) = &r.iterations {
        body.push_str(&crate::iterations::render::html(i));
    }
    if let Some(c) = &r.capability {
        body.push_str(&crate::capability::render::html(r, c));
    }
    let md = super::markdown::render(r);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Load run {uuid}</title>\
<style>body{{font-family:system-ui,sans-serif;max-width:900px;margin:2em auto;color:#222}}figure{{margin:1.5em 0}}figcaption{{font-weight:600;margin-bottom:.3em}}pre{{white-space:pre-wrap;background:#f6f6f6;padding:1em;font-size:12px}}\
table{{border-collapse:collapse;font-size:14px;width:100%}}th,td{{padding:.3em .6em;border-bottom:1px solid #ddd;text-align:right}}th:first-child,td:first-child{{text-align:left}}th{{background:#f3f3f3}}.facts{{color:#555}}</style>\
</head><body><h1>Load run {uuid}</h1>{facts}{table}{gate}{body}<details><summary>report.md</summary><pre>{summary}</pre></details></body></html>\n",
        uuid = esc(&r.uuid),
        facts = facts(r),
        table = phase_table(r),
        gate = r
            .gate
            .as_ref()
            .map(crate::gate::render::html)
            .unwrap_or_default(),
        summary = esc(&md),
    )
}

/// One line of context: runtime, outcome, time to ready.
fn facts(r: &Report) -> String {
    let outcome = match &r.outcome {
        super::Outcome::Completed => "completed".to_owned(),
        super::Outcome::Interrupted { phase } => format!("interrupted during {phase}"),
        super::Outcome::Failed { phase, error } => format!("failed during {phase}: {error}"),
    };
    let ready = r
        .time_to_ready
        .map_or_else(String::new, |t| format!(" · all ready in {t:.1} s"));
    format!(
        "<p class=\"facts\">{} runtime · started {} · {}{}</p>",
        esc(&r.runtime),
        esc(&r.started_at),
        esc(&outcome),
        ready
    )
}

/// The phases at a glance, the numbers that tell the story before the charts show it.
fn phase_table(r: &Report) -> String {
    use super::markdown::ms;
    let mut rows = String::new();
    for p in &r.phases {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}%</td><td>{:.1}%</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}–{}</td></tr>",
            esc(&p.name),
            p.sent_rps,
            p.served_rps,
            p.error_rate * 100.0,
            p.drop_rate * 100.0,
            ms(p.client_latency.p50),
            ms(p.client_latency.p95),
            ms(p.client_latency.p99),
            ms(p.settled_client_latency.p95),
            p.replicas_min,
            p.replicas_max,
        ));
    }
    format!(
        "<table id=\"phases\"><thead><tr><th>phase</th><th>sent/s</th><th>served/s</th><th>errors</th><th>drops</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>settled p95 ms</th><th>replicas</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}
