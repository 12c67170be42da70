//! The report's resource section as Markdown (a table per run) and HTML (the same table, a
//! CPU chart and a memory chart per component, drawn by the report's chart code).

use std::fmt::Write;

use super::Section;
use super::summary::{Line, cpu_lines, memory_lines};
use crate::report::Report;
use crate::report::html::{chart, esc};

const HEADER: [&str; 9] = [
    "phase",
    "instance",
    "CPU avg (cores)",
    "CPU max (cores)",
    "memory avg (MiB)",
    "memory max (MiB)",
    "net in (KiB/s)",
    "net out (KiB/s)",
    "holds (avg / max)",
];

const COLORS: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

fn fixed(v: Option<f64>, scale: f64, digits: usize) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{:.digits$}", v / scale))
}

/// The table's cells, a row per phase and instance; an instance with no figure in a phase
/// (a phase shorter than one sampling interval) has no row (report.json keeps it).
fn rows(s: &Section) -> Vec<[String; 9]> {
    let mib = 1_048_576.0;
    s.phases
        .iter()
        .flat_map(|p| {
            p.components.iter().filter_map(|c| {
                let figures = [
                    c.cpu_cores_avg,
                    c.cpu_cores_max,
                    c.memory_bytes_avg,
                    c.memory_bytes_max,
                    c.net_rx_bytes_per_s,
                    c.net_tx_bytes_per_s,
                ];
                let measured = figures.iter().any(Option::is_some) || !c.held.is_empty();
                measured.then(|| {
                    [
                        p.phase.clone(),
                        c.instance.clone(),
                        fixed(c.cpu_cores_avg, 1.0, 3),
                        fixed(c.cpu_cores_max, 1.0, 3),
                        fixed(c.memory_bytes_avg, mib, 1),
                        fixed(c.memory_bytes_max, mib, 1),
                        fixed(c.net_rx_bytes_per_s, 1024.0, 1),
                        fixed(c.net_tx_bytes_per_s, 1024.0, 1),
                        holds(c),
                    ]
                })
            })
        })
        .collect()
}

/// `sessions 120.4 / 200, requests_in_flight 2.1 / 9`, or `-`.
fn holds(c: &super::ComponentUsage) -> String {
    if c.held.is_empty() {
        return "-".to_owned();
    }
    c.held
        .iter()
        .map(|(name, h)| format!("{name} {:.1} / {:.0}", h.avg, h.max))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where the figures came from, their resolution, notes and gaps: one line each.
fn about(s: &Section) -> Vec<String> {
    let src = &s.source;
    let mut out = vec![
        format!("CPU: {}", src.cpu),
        format!("memory: {}", src.memory),
        format!("network: {}", src.network),
        format!("resolution: {}", src.resolution),
    ];
    out.extend(src.notes.iter().map(|n| format!("note: {n}")));
    out.extend(s.gaps.iter().map(|g| format!("gap: {g}")));
    out
}

fn per_thousand(s: &Section) -> Vec<(String, String)> {
    s.phases
        .iter()
        .filter_map(|p| {
            let v = p.backend_cpu_seconds_per_1k_requests?;
            Some((p.phase.clone(), format!("{v:.3}")))
        })
        .collect()
}

pub fn markdown(s: &Section) -> String {
    let mut out = String::from("\n## Resources\n\n");
    for line in about(s) {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(
        out,
        "\n| {} |\n|---|---|{}",
        HEADER.join(" | "),
        "---:|".repeat(HEADER.len() - 2)
    );
    for row in rows(s) {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    let costs = per_thousand(s);
    if !costs.is_empty() {
        let _ = writeln!(
            out,
            "\nBackend CPU seconds per 1,000 served requests: {}",
            costs
                .iter()
                .map(|(p, v)| format!("{p} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out
}

/// The components of `lines`, each once, in order.
fn components(lines: &[Line]) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for l in lines {
        if !out.contains(&l.component.as_str()) {
            out.push(&l.component);
        }
    }
    out
}

fn charts(r: &Report, t: &[f64], what: &str, unit: &str, lines: &[Line]) -> String {
    let mut out = String::new();
    for component in components(lines) {
        let mine: Vec<(&str, &str, &[f64])> = lines
            .iter()
            .filter(|l| l.component == component)
            .enumerate()
            .map(|(i, l)| {
                (
                    l.instance.as_str(),
                    COLORS[i % COLORS.len()],
                    l.values.as_slice(),
                )
            })
            .collect();
        out.push_str(&chart(
            &format!("chart-{what}-{component}"),
            &format!(
                "{} of {component}",
                if what == "cpu" { "CPU" } else { "Memory" }
            ),
            unit,
            r,
            t,
            &mine,
        ));
    }
    out
}

pub fn html(r: &Report, s: &Section) -> String {
    let mut out = String::from("<section id=\"resources\"><h2>Resources</h2><ul class=\"facts\">");
    for line in about(s) {
        let _ = write!(out, "<li>{}</li>", esc(&line));
    }
    out.push_str("</ul><table id=\"resource-table\"><thead><tr>");
    for h in HEADER {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows(s) {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", esc(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    let t = crate::report::series(&r.points).t;
    out.push_str(&charts(r, &t, "cpu", "cores", &cpu_lines(&r.points)));
    out.push_str(&charts(r, &t, "memory", "MiB", &memory_lines(&r.points)));
    out.push_str("</section>");
    out
}
