//! The report files: JSON round trip, the HTML charts with data and phase markers, compare.

use std::path::Path;
use std::time::Duration;

use orchestrator::report::Report;
use orchestrator::timeline::{RunOptions, run};
use orchestrator::{compare, timeline::phase};

use crate::scripted::Scripted;

async fn sample_report(dir: &Path, uuid: &str) -> Report {
    let mut s = scenario::Scenario::default();
    s.uuid = uuid.into();
    s.baseline_pause = Duration::from_millis(500).into();
    s.load_pause = Duration::from_millis(2500).into();
    s.load_scale_delay = Duration::from_millis(2500).into();
    let opts = RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: dir.to_owned(),
        hold: false,
        keep: false,
        progress: false,
    };
    run(Scripted::new(), opts, std::future::pending())
        .await
        .report
}

#[tokio::test]
async fn report_json_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let r = sample_report(dir.path(), "rt").await;
    let text = serde_json::to_string(&r).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    assert_eq!(serde_json::to_string(&back).unwrap(), text);
    // A report of another schema is refused with a message naming the file.
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["schema"] = 99.into();
    let other = dir.path().join("other.json");
    std::fs::write(&other, v.to_string()).unwrap();
    let err = Report::read(&other).unwrap_err();
    assert!(
        err.contains("other.json") && err.contains("schema 99"),
        "{err}"
    );
}

#[tokio::test]
async fn html_has_four_charts_with_data_and_phase_markers() {
    let dir = tempfile::tempdir().unwrap();
    let r = sample_report(dir.path(), "html").await;
    let html = std::fs::read_to_string(dir.path().join("html/report.html")).unwrap();
    assert!(
        !html.contains("http://") || !html.contains("<script src"),
        "no network resources"
    );
    for id in ["chart-rps", "chart-p95", "chart-errors", "chart-replicas"] {
        let start = html
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("{id} missing"));
        let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
        // Every chart has at least one series with several points.
        let counts: Vec<usize> = svg
            .split("data-points=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect();
        assert!(counts.iter().any(|&n| n >= 3), "{id}: {counts:?}");
        for p in &r.phases {
            assert!(
                svg.contains(&format!("data-phase=\"{}\"", p.name)),
                "{id} lacks {}",
                p.name
            );
        }
    }
    // The phase table: a row per phase, each with its numbers.
    let table = &html[html.find("<table id=\"phases\"").expect("phase table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(table.matches("<tr><td>").count(), r.phases.len());
    for p in &r.phases {
        assert!(
            table.contains(&format!(
                "<tr><td>{}</td><td>{:.1}</td>",
                p.name, p.sent_rps
            )),
            "{} missing from the table",
            p.name
        );
    }
}

#[tokio::test]
async fn compare_lists_every_phase_and_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let a = sample_report(dir.path(), "a").await;
    let mut b = a.clone();
    b.uuid = "b".into();
    let load = b.phases.iter_mut().find(|p| p.name == phase::LOAD).unwrap();
    load.sent_rps = a.phase(phase::LOAD).unwrap().sent_rps * 2.0;
    let md = compare::markdown(&a, &b);
    assert!(
        md.starts_with("| phase | metric | A (a) | B (b) | change |"),
        "{md}"
    );
    let line = md
        .lines()
        .find(|l| l.starts_with("| load | sent_rps |"))
        .unwrap();
    assert!(line.ends_with("| +100.0% |"), "{line}");
    for p in &a.phases {
        assert!(
            md.contains(&format!("| {} | p95_seconds |", p.name)),
            "{md}"
        );
    }
    let json: serde_json::Value = serde_json::from_str(&compare::json(&a, &b)).unwrap();
    let rows = json["rows"].as_array().unwrap();
    let row = rows
        .iter()
        .find(|r| r["phase"] == "load" && r["metric"] == "sent_rps")
        .unwrap();
    assert!((row["change"].as_f64().unwrap() - 1.0).abs() < 1e-9);
}

#[tokio::test]
async fn the_rate_chart_draws_the_planned_curve_from_the_load_phase_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = scenario::Scenario::default();
    s.uuid = "planned".into();
    s.baseline_pause = Duration::from_millis(1500).into();
    s.load_pause = Duration::from_millis(2500).into();
    s.load_scale_delay = Duration::from_millis(1500).into();
    s.load.stages = Some("2s:40,2s:40".into());
    let opts = RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: dir.path().to_owned(),
        hold: false,
        keep: false,
        progress: false,
    };
    let r = run(Scripted::new(), opts, std::future::pending())
        .await
        .report;
    let planned = orchestrator::report::planned_rps(&r).expect("a load phase ran");
    let windows: Vec<(f64, f64)> = r
        .points
        .windows(2)
        .filter(|w| w[1].t > w[0].t)
        .map(|w| (w[0].t, w[1].t))
        .collect();
    assert_eq!(planned.len(), windows.len());
    let load = r.phases.iter().find(|p| p.name == phase::LOAD).unwrap();
    let curve = r.scenario.load.curve();
    for (&rate, &(a, b)) in planned.iter().zip(&windows) {
        if b <= load.start {
            assert_eq!(
                rate, 0.0,
                "nothing is planned before the load starts ({a}..{b})"
            );
        }
        assert!(
            (-1e-6..=40.0 + 1e-6).contains(&rate),
            "{rate} outside the stages"
        );
    }
    // Over the whole run the chart's planned requests are the plan's integral.
    let charted: f64 = planned
        .iter()
        .zip(&windows)
        .map(|(r, (a, b))| r * (b - a))
        .sum();
    let last = windows.last().unwrap().1;
    let want = curve.count_before(((last - load.start) * 1e9) as u64);
    assert!((charted - want).abs() < 1e-6, "{charted} vs {want}");
    assert!(want > 40.0, "the run covered most of the stages: {want}");
    let html = std::fs::read_to_string(dir.path().join("planned/report.html")).unwrap();
    let rps = &html[html.find("id=\"chart-rps\"").unwrap()..];
    let rps = &rps[..rps.find("</figure>").unwrap()];
    assert!(rps.contains("planned (scenario)"), "legend names the plan");
}
