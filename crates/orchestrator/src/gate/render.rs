//! The gate in words: a section of report.md, a section of the HTML page, and the lines of
//! the end-of-run summary that say which checks failed and by how much.

use std::fmt::Write;

use super::{Check, GateReport, Status};

fn verdict(g: &GateReport) -> String {
    let failed = g.failed().count();
    let total = g.checks().count();
    if g.passed {
        format!("PASSED ({total} checks)")
    } else {
        format!("FAILED ({failed} of {total} checks failed)")
    }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn md_table(out: &mut String, title: &str, checks: &[Check]) {
    if checks.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### {title}\n\n| check | result | detail |\n|---|---|---|"
    );
    for c in checks {
        let name = match &c.description {
            Some(d) => format!("`{}` ({})", md_cell(&c.name), md_cell(d)),
            None => format!("`{}`", md_cell(&c.name)),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} |",
            c.status.as_str(),
            md_cell(&c.detail)
        );
    }
}

/// The `## Gate` section of report.md, comparison with the baseline included.
pub fn markdown(g: &GateReport) -> String {
    let mut out = format!("\n## Gate: {}\n", verdict(g));
    md_table(&mut out, "Thresholds", &g.thresholds);
    md_table(&mut out, "Regressions against the baseline", &g.regressions);
    md_table(&mut out, "Alerts", &g.alerts);
    if let Some(b) = &g.baseline {
        let _ = writeln!(
            out,
            "\n### Compared with baseline `{}` (started {}, from `{}`)\n",
            b.uuid, b.started_at, b.path
        );
        for w in &b.warnings {
            let _ = writeln!(out, "- warning: the runs differ in {w}");
        }
        if !b.warnings.is_empty() {
            out.push('\n');
        }
        out.push_str(&crate::compare::markdown_rows(&b.uuid, "this run", &b.rows));
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The gate as an HTML table (one row per check), for report.html.
pub fn html(g: &GateReport) -> String {
    let mut rows = String::new();
    for c in g.checks() {
        let color = match c.status {
            Status::Passed => "#2ca02c",
            Status::Failed => "#d62728",
            Status::Warned => "#ff7f0e",
            Status::Skipped => "#7f7f7f",
        };
        let _ = write!(
            rows,
            "<tr class=\"check\" data-status=\"{status}\"><td>{kind:?}</td><td><code>{name}</code>{desc}</td><td style=\"color:{color};font-weight:600\">{status}</td><td style=\"text-align:left\">{detail}</td></tr>",
            status = c.status.as_str(),
            kind = c.kind,
            name = esc(&c.name),
            desc = c
                .description
                .as_ref()
                .map_or_else(String::new, |d| format!("<br><small>{}</small>", esc(d))),
            detail = esc(&c.detail),
        );
    }
    let mut baseline = String::new();
    if let Some(b) = &g.baseline {
        let _ = write!(
            baseline,
            "<p>Compared with baseline <code>{}</code> (started {}).</p>",
            esc(&b.uuid),
            esc(&b.started_at)
        );
        for w in &b.warnings {
            let _ = write!(
                baseline,
                "<p class=\"facts\">warning: the runs differ in {}</p>",
                esc(w)
            );
        }
    }
    format!(
        "<h2 id=\"gate\">Gate: {}</h2>{baseline}<table id=\"checks\"><thead><tr><th>kind</th><th>check</th><th>result</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table>",
        esc(&verdict(g))
    )
}

/// The lines the terminal summary ends with.
pub fn summary(g: &GateReport) -> String {
    let mut out = format!("\ngate: {}\n", verdict(g));
    for c in g.checks() {
        let mark = match c.status {
            Status::Passed => "✓",
            Status::Failed => "✗",
            Status::Warned => "!",
            Status::Skipped => "-",
        };
        let _ = writeln!(out, "  {mark} {}: {}", c.name, c.detail);
    }
    out
}
