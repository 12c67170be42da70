//! The autoscaler's sections of report.md and report.html (replicas desired/spec/ready, the
//! metric against its target, the scale events, the reaction figures) and its rows in
//! `compare`.

use std::fmt::Write;

use super::report::{AutoscaleReport, Reaction, ScaleEvent};
use crate::compare::Row;
use crate::report::Report;

/// The reaction figures: name in `compare`, label in the report, getter.
type Figure = (&'static str, &'static str, fn(&Reaction) -> Option<f64>);

const FIGURES: [Figure; 4] = [
    (
        "load_to_scale_up_s",
        "load start → first scale-up decision",
        |r| r.load_to_scale_up,
    ),
    (
        "load_to_new_replica_ready_s",
        "load start → new replica ready",
        |r| r.load_to_new_replica_ready,
    ),
    (
        "load_to_p95_recovered_s",
        "load start → p95 back under its level",
        |r| r.load_to_p95_recovered,
    ),
    ("unload_to_min_s", "unload → back at autoscale_min", |r| {
        r.unload_to_min
    }),
];

fn seconds(v: Option<f64>) -> String {
    v.map_or_else(|| "never".to_owned(), |s| format!("{s:.1} s"))
}

fn value(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "no reading".to_owned(), |v| format!("{v:.1} {unit}"))
}

/// One event's cells: time, from → to, the metric, the reason.
fn event_cells(e: &ScaleEvent, unit: &str) -> [String; 4] {
    [
        format!("{:.1}", e.t),
        format!("{} → {}", e.from, e.to),
        value(e.value, unit),
        e.reason.clone(),
    ]
}

/// The Markdown section.
pub fn markdown(a: &AutoscaleReport) -> String {
    let mut out = format!(
        "\n## Autoscaler\n\n{} on {} (target {} {}), {}–{} replicas, {} syncs.\n\n| figure | value |\n|---|---:|\n",
        a.mode,
        a.metric,
        a.target,
        a.unit,
        a.min,
        a.max,
        a.syncs.len()
    );
    for (_, label, get) in FIGURES {
        let _ = writeln!(out, "| {label} | {} |", seconds(get(&a.reaction)));
    }
    if let Some(level) = a.reaction.recovered_p95_ms {
        let _ = writeln!(
            out,
            "\nRecovered means a client p95 at or under {level:.1} ms ({}) for 3 seconds in a row.",
            a.reaction.recovered_p95_from
        );
    }
    let _ = writeln!(
        out,
        "\n### Scale events\n\n| time s | from → to | metric | reason |\n|---:|---|---:|---|"
    );
    for e in &a.events {
        let _ = writeln!(out, "| {} |", event_cells(e, &a.unit).join(" | "));
    }
    if a.events.is_empty() {
        out.push_str("| - | no change | - | - |\n");
    }
    out
}

/// The HTML section: two charts and the events table.
pub fn html(r: &Report, a: &AutoscaleReport) -> String {
    use crate::report::html::{chart, esc};
    let t: Vec<f64> = r.points.iter().map(|p| p.t).collect();
    // The count asked for at each sample: the last sync's, the starting replicas before.
    let desired: Vec<f64> = r
        .points
        .iter()
        .map(|p| {
            a.syncs
                .iter()
                .take_while(|y| y.t <= p.t)
                .last()
                .map_or(f64::from(r.scenario.backend.replicas), |y| {
                    f64::from(y.desired)
                })
        })
        .collect();
    let spec: Vec<f64> = r
        .points
        .iter()
        .map(|p| f64::from(p.backend_desired))
        .collect();
    let ready: Vec<f64> = r
        .points
        .iter()
        .map(|p| f64::from(p.backend_ready))
        .collect();
    // On a cluster: the local algorithm's count on the controller's reading, beside it.
    let expected: Vec<f64> = r
        .points
        .iter()
        .map(|p| {
            a.syncs
                .iter()
                .take_while(|y| y.t <= p.t)
                .filter_map(|y| y.expected)
                .last()
                .map_or(f64::NAN, f64::from)
        })
        .collect();
    let mut series: Vec<(&str, &str, &Vec<f64>)> = vec![
        ("desired", "#d62728", &desired),
        ("spec", "#1f77b4", &spec),
        ("ready", "#9467bd", &ready),
    ];
    if a.syncs.iter().any(|y| y.expected.is_some()) {
        series.push(("expected (local algorithm)", "#ff7f0e", &expected));
    }
    let series: Vec<(&str, &str, &[f64])> = series
        .into_iter()
        .map(|(n, c, v)| (n, c, v.as_slice()))
        .collect();
    let mut out = chart(
        "chart-autoscale-replicas",
        "Backend replicas: desired (autoscaler), spec, ready",
        "replicas",
        r,
        &t,
        &series,
    );
    let sync_t: Vec<f64> = a.syncs.iter().map(|y| y.t).collect();
    let seen: Vec<f64> = a
        .syncs
        .iter()
        .map(|y| y.value.unwrap_or(f64::NAN))
        .collect();
    let target = vec![a.target; sync_t.len()];
    out.push_str(&chart(
        "chart-autoscale-metric",
        &format!("{} seen by the autoscaler, and its target", a.metric),
        &a.unit,
        r,
        &sync_t,
        &[("metric", "#2ca02c", &seen), ("target", "#7f7f7f", &target)],
    ));
    let mut rows = String::new();
    for (_, label, get) in FIGURES {
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(label),
            seconds(get(&a.reaction))
        );
    }
    let _ = write!(
        out,
        "<table id=\"autoscale-figures\"><thead><tr><th>autoscaler</th><th>seconds</th></tr></thead><tbody>{rows}</tbody></table>"
    );
    let mut events = String::new();
    for e in &a.events {
        let cells = event_cells(e, &a.unit).map(|c| esc(&c));
        let _ = write!(events, "<tr><td>{}</td></tr>", cells.join("</td><td>"));
    }
    let _ = write!(
        out,
        "<table id=\"scale-events\"><thead><tr><th>time s</th><th>from → to</th><th>metric</th><th>reason</th></tr></thead><tbody>{events}</tbody></table>"
    );
    out
}

/// The reaction figures of two runs, for `compare` (none when neither was autoscaled).
pub fn compare_rows(a: &Report, b: &Report) -> Vec<Row> {
    if a.autoscale.is_none() && b.autoscale.is_none() {
        return Vec::new();
    }
    let get = |r: &Report, f: fn(&Reaction) -> Option<f64>| {
        r.autoscale.as_ref().and_then(|x| f(&x.reaction))
    };
    FIGURES
        .iter()
        .map(|(name, _, f)| Row::new("autoscaler", name, get(a, *f), get(b, *f)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscale::Sync;
    use crate::gate::fixture::report_with;
    use crate::report::Phase;

    fn sync(t: f64, from: u32, desired: u32, ready: u32, value: f64) -> Sync {
        Sync {
            t,
            value: Some(value),
            recommended: Some(desired),
            from,
            desired,
            ready,
            reason: "DesiredWithinRange".into(),
            expected: None,
        }
    }

    /// `report_with`'s run, autoscaled: a scale-up `up_at` seconds after the load started.
    fn autoscaled(up_at: f64) -> Report {
        let mut r = report_with(0.01, 0.0);
        let mut s = r.scenario.clone();
        s.autoscale.mode = scenario::ScaleMode::Hpa;
        let load = r.phase("load").map_or(0.0, |p| p.start);
        let phases: Vec<Phase> = r
            .phases
            .iter()
            .map(|p| Phase {
                name: p.name.clone(),
                start: p.start,
                end: p.end,
            })
            .collect();
        let syncs = vec![
            sync(load, 1, 1, 1, 50.0),
            sync(load + up_at, 1, 2, 1, 120.0),
        ];
        r.autoscale = Some(AutoscaleReport::build(&s, &phases, &r.points, syncs));
        r
    }

    #[test]
    fn compare_shows_the_reaction_of_both_runs() {
        let (a, b) = (autoscaled(4.0), autoscaled(6.0));
        let rows = crate::compare::rows(&a, &b);
        let up = rows
            .iter()
            .find(|r| r.phase == "autoscaler" && r.metric == "load_to_scale_up_s")
            .expect("an autoscaler row");
        assert_eq!((up.a, up.b), (Some(4.0), Some(6.0)));
        assert!(up.change.is_some_and(|c| (c - 0.5).abs() < 1e-9), "{up:?}");
        let plain = report_with(0.01, 0.0);
        assert!(
            crate::compare::rows(&plain, &plain)
                .iter()
                .all(|r| r.phase != "autoscaler"),
            "no autoscaler rows between manual runs"
        );
    }

    #[test]
    fn the_sections_list_every_event() {
        let r = autoscaled(4.0);
        let a = r.autoscale.as_ref().unwrap();
        assert_eq!(a.events.len(), 1);
        let md = markdown(a);
        assert!(
            md.contains("| 1 → 2 | 120.0 % | above the target, 2 recommended |"),
            "{md}"
        );
        let html = html(&r, a);
        assert!(html.contains("<td>1 → 2</td>"), "{html}");
        assert!(html.contains("chart-autoscale-replicas"), "{html}");
    }
}
