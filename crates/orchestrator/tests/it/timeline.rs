//! The shared timeline on a scripted runtime: phase order, report contents, interruption
//! and a component dying mid-run.

use std::time::Duration;

use common::HumanDuration;
use orchestrator::report::{Outcome, Report};
use orchestrator::timeline::{RunOptions, phase, run};
use scenario::Scenario;

use crate::scripted::Scripted;

fn options(dir: &std::path::Path, uuid: &str) -> RunOptions {
    let mut s = Scenario::default();
    s.uuid = uuid.into();
    s.baseline_pause = HumanDuration::from_millis(1000);
    s.load_pause = HumanDuration::from_millis(3500);
    s.load_scale_delay = HumanDuration::from_millis(3500);
    RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: dir.to_owned(),
        hold: false,
        keep: false,
        progress: false,
    }
}

#[tokio::test]
async fn a_full_run_walks_every_phase_and_reports_the_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Scripted::new();
    let shared = rt.shared.clone();
    let result = run(rt, options(dir.path(), "full"), std::future::pending()).await;
    assert_eq!(result.exit_code(), 0, "{:?}", result.report.outcome);
    let calls = shared.0.lock().unwrap().calls.clone();
    assert_eq!(
        calls,
        [
            "deploy",
            "start_load",
            "scale 2",
            "stop_load",
            "teardown keep=false"
        ]
    );
    let names: Vec<&str> = result
        .report
        .phases
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            phase::DEPLOY,
            phase::BASELINE,
            phase::LOAD,
            phase::SCALE_UP,
            phase::RECOVERY,
            phase::UNLOAD
        ]
    );
    let load = result.report.phase(phase::LOAD).unwrap();
    let rec = result.report.phase(phase::RECOVERY).unwrap();
    assert!(
        load.error_rate > 0.2 && rec.error_rate < 0.05,
        "{load:?} {rec:?}"
    );
    let (lp, rp) = (
        load.client_latency.p95.unwrap(),
        rec.client_latency.p95.unwrap(),
    );
    assert!(lp > 0.1 && rp < 0.01, "p95 load {lp} recovery {rp}");
    assert!((60.0..140.0).contains(&load.sent_rps), "{}", load.sent_rps);
    assert_eq!((rec.replicas_min, rec.replicas_max), (2, 2));
    assert!(result.report.points.iter().any(|p| {
        p.gaps
            .iter()
            .any(|g| g.contains("backend-9: connection refused"))
    }));
    // The terminal summary: a row per phase with figures, the instantaneous ones named once.
    let summary = orchestrator::timeline::summary(&result.report);
    for p in &result.report.phases {
        let has_row = summary
            .lines()
            .any(|l| l.starts_with(&format!("{} ", p.name)));
        assert_eq!(has_row, p.end - p.start >= 1.0, "{}:\n{summary}", p.name);
    }
    let footnote = summary.lines().last().unwrap();
    for short in [phase::DEPLOY, phase::SCALE_UP, phase::UNLOAD] {
        assert!(footnote.contains(short), "{footnote}");
    }
    // What was written is what was returned.
    let back = Report::read(&result.dir).unwrap();
    assert_eq!(back, result.report);
    assert!(result.dir.join("report.md").exists() && result.dir.join("report.html").exists());
}

#[tokio::test]
async fn an_interrupt_stops_the_load_and_writes_a_partial_report() {
    let dir = tempfile::tempdir().unwrap();
    let rt = Scripted::new();
    let shared = rt.shared.clone();
    // Interrupt once a sample has seen the load and the next scrape has come: mid-load, with
    // the sample recorded, however fast the machine is.
    let watched = shared.clone();
    let load_seen = async move {
        let sent = || watched.0.lock().unwrap().sent();
        while sent() <= 0.0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let first = sent();
        while sent() <= first {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let result = run(rt, options(dir.path(), "int"), load_seen).await;
    assert_eq!(result.exit_code(), 130);
    assert_eq!(
        result.report.outcome,
        Outcome::Interrupted {
            phase: phase::LOAD.into()
        }
    );
    let calls = shared.0.lock().unwrap().calls.clone();
    assert_eq!(
        calls,
        ["deploy", "start_load", "stop_load", "teardown keep=false"]
    );
    let back = Report::read(&result.dir).unwrap();
    assert!(
        back.phase(phase::LOAD).is_some_and(|p| p.sent_rps > 0.0),
        "{:?}",
        back.phases
    );
}

#[tokio::test]
async fn a_component_dying_mid_run_is_named_in_the_outcome_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let mut rt = Scripted::new();
    rt.fail_after = Some(Duration::from_millis(1500));
    let result = run(rt, options(dir.path(), "fail"), std::future::pending()).await;
    assert_eq!(result.exit_code(), 1);
    let Outcome::Failed { phase: p, error } = &result.report.outcome else {
        panic!("{:?}", result.report.outcome);
    };
    assert_eq!(p, phase::LOAD);
    assert!(error.contains("backend (backend-0)"), "{error}");
    assert!(
        result
            .report
            .failures
            .iter()
            .any(|f| f.contains("backend-0"))
    );
    let md = std::fs::read_to_string(result.dir.join("report.md")).unwrap();
    assert!(md.contains("failed during `load`"), "{md}");
}
