//! The gate on whole local runs of scenarios/ci.toml (ports 23400-23599): a run whose
//! thresholds fail exits 99 with its report and a valid JUnit file; alerts are evaluated on
//! the real Prometheus; a run made worse (one backend worker fewer) fails on the right
//! regression rule through scripts/loadtest-gate.sh, whose pull-request comment is posted
//! once and then edited in place.

use std::path::{Path, PathBuf};
use std::process::Command;

use orchestrator::gate::{GateReport, Status};
use orchestrator::report::Report;

const CI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/ci.toml");
const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const MARKER: &str = "<!-- load-demo:loadtest-gate -->";

fn prometheus_installed() -> bool {
    let found = orchestrator::gate::alerts::on_path("prometheus").is_some();
    if !found {
        println!(
            "note: prometheus is not on PATH, so the alerts are checked as skipped (scripts/test.sh installs it)"
        );
    }
    found
}

fn gate(r: &Report) -> &GateReport {
    r.gate.as_ref().expect("the report has a gate")
}

fn check<'a>(g: &'a GateReport, name: &str) -> &'a orchestrator::gate::Check {
    g.checks()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check `{name}` in {g:#?}"))
}

/// The JUnit file parsed: (failures attribute, names of the failed test cases).
fn junit(path: &Path) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let failures = doc
        .root_element()
        .attribute("failures")
        .unwrap()
        .parse()
        .unwrap();
    let failed = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .filter(|n| n.children().any(|c| c.has_tag_name("failure")))
        .map(|n| n.attribute("name").unwrap().to_owned())
        .collect();
    (failures, failed)
}

#[test]
fn failing_thresholds_and_an_error_alert_exit_99_after_the_report_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    // ci.toml and one more alert, an error this time, that fires while one replica sheds.
    let scenario = dir.path().join("ci-alerts.toml");
    let text = std::fs::read_to_string(CI).unwrap()
        + "\n[[alerts]]\nexpr = 'sum(rate(app_shed_requests_total[5s])) > 1'\n\
           description = \"shedding {{$value}}/s\"\nseverity = \"error\"\n";
    std::fs::write(&scenario, text).unwrap();
    let junit_path = dir.path().join("out/junit.xml");
    let status = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args([
            "run",
            "--uuid",
            "gate-fail",
            "--port-base",
            "23400",
            "--threshold",
            "load.p95<50ms",
        ])
        .arg("--scenario")
        .arg(&scenario)
        .arg("--runs-dir")
        .arg(dir.path())
        .arg("--junit")
        .arg(&junit_path)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(99));
    let r = Report::read(&dir.path().join("gate-fail")).unwrap();
    let g = gate(&r);
    assert!(!g.passed);
    let p95 = check(g, "load.p95<50ms");
    assert_eq!(p95.status, Status::Failed);
    let over = p95.actual.unwrap() - 50.0;
    assert!(
        over > 0.0 && p95.detail.contains("over by"),
        "{}",
        p95.detail
    );
    // The scenario's own thresholds still hold: only what was made to fail fails.
    assert_eq!(
        check(g, "recovery.settled_p95<150ms").status,
        Status::Passed
    );
    assert_eq!(g.alerts.len(), 3, "ci.toml's two and the added one: {g:#?}");
    if prometheus_installed() {
        let error = g
            .alerts
            .iter()
            .find(|c| {
                c.description
                    .as_deref()
                    .is_some_and(|d| d.ends_with("(error)"))
                    && c.name.contains("shed")
            })
            .unwrap();
        assert_eq!(error.status, Status::Failed, "{error:?}");
        assert!(
            error.detail.starts_with("fired: shedding"),
            "{}",
            error.detail
        );
        let warning = g
            .alerts
            .iter()
            .find(|c| c.status == Status::Warned)
            .expect("the warning fired");
        assert!(warning.actual.is_some_and(|v| v > 1.0), "{warning:?}");
        // No backend replica went down in a healthy run.
        assert_eq!(
            check(g, r#"(up{job="backend"} or up{component="backend"}) == 0"#).status,
            Status::Passed
        );
    } else {
        assert!(
            g.alerts.iter().all(|c| c.status == Status::Skipped),
            "{g:#?}"
        );
    }
    let (failures, failed) = junit(&junit_path);
    assert_eq!(failures, g.failed().count());
    assert!(failed.contains(&"load.p95<50ms".to_owned()), "{failed:?}");
    let md = std::fs::read_to_string(dir.path().join("gate-fail/report.md")).unwrap();
    assert!(
        md.contains("## Gate: FAILED") && md.contains("`load.p95<50ms`"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("gate-fail/report.html")).unwrap();
    assert!(html.contains("id=\"checks\"") && html.contains("data-status=\"FAILED\""));
}

/// A stand-in for GitHub's `gh`: logs its arguments; the comment "exists" once posted.
fn fake_gh(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let gh = bin.join("gh");
    std::fs::write(
        &gh,
        r#"#!/usr/bin/env bash
echo "$*" >>"${GH_LOG}"
if [ "$1 $2" = "api repos/o/r/issues/7/comments" ]; then
  [ -f "${GH_COMMENT}" ] && echo 4242
  exit 0
fi
for arg in "$@"; do
  case "${arg}" in body=@*) cp "${arg#body=@}" "${GH_COMMENT}" ;; esac
done
"#,
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gh, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

fn gate_script(dir: &Path, bin: &Path, args: &[&str]) -> std::process::ExitStatus {
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg(Path::new(REPO).join("scripts/loadtest-gate.sh"))
        .args(args)
        .env("PATH", path)
        .env("RUNTIME", "local")
        .env("SCENARIO", CI)
        .env("UUID", "worse")
        .env("RUNS_DIR", dir.join("runs"))
        .env("BASELINE", dir.join("runs/base"))
        .env("PR", "7")
        .env("GITHUB_REPOSITORY", "o/r")
        .env("ORCHESTRATOR", env!("CARGO_BIN_EXE_orchestrator"))
        .env("GH_LOG", dir.join("gh.log"))
        .env("GH_COMMENT", dir.join("comment.posted"))
        .env_remove("GITHUB_ACTIONS")
        .status()
        .unwrap()
}

#[test]
fn a_run_with_one_worker_fewer_fails_on_the_right_rule_through_the_workflow_script() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let status = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args([
            "run",
            "--scenario",
            CI,
            "--uuid",
            "base",
            "--port-base",
            "23420",
            "--runs-dir",
        ])
        .arg(&runs)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0), "the baseline passes its thresholds");
    assert!(gate(&Report::read(&runs.join("base")).unwrap()).passed);

    let bin = fake_gh(dir.path());
    let status = gate_script(
        dir.path(),
        &bin,
        &["--", "--port-base", "23440", "--set", "backend_workers=1"],
    );
    assert_eq!(status.code(), Some(99));
    let r = Report::read(&runs.join("worse")).unwrap();
    let g = gate(&r);
    let info = g.baseline.as_ref().expect("compared with the baseline");
    assert_eq!(info.uuid, "base");
    assert!(
        info.warnings
            .iter()
            .any(|w| w.starts_with("backend_capacity.workers: 2 in the baseline")),
        "{:?}",
        info.warnings
    );
    // Two replicas of one worker carry 100 of the 150 rps: the recovery keeps shedding.
    let rule = check(g, "recovery.error_rate=+2pp");
    assert_eq!(rule.status, Status::Failed, "{rule:?}");
    assert!(
        rule.detail
            .contains("more than the 2 percentage points allowed"),
        "{}",
        rule.detail
    );
    // The load generator kept its schedule in both runs: that rule holds.
    assert_eq!(check(g, "run.drop_rate=+1pp").status, Status::Passed);
    let (_, failed) = junit(&runs.join("worse/junit.xml"));
    assert!(
        failed.contains(&"recovery.error_rate=+2pp".to_owned()),
        "{failed:?}"
    );

    let log = std::fs::read_to_string(dir.path().join("gh.log")).unwrap();
    assert!(
        log.contains("api -X POST repos/o/r/issues/7/comments"),
        "{log}"
    );
    let posted = std::fs::read_to_string(dir.path().join("comment.posted")).unwrap();
    assert!(posted.starts_with(MARKER), "{posted}");
    assert!(
        posted.contains("FAILED") && posted.contains("Compared with baseline `base`"),
        "{posted}"
    );
    assert!(
        posted.contains("`recovery.error_rate=+2pp` | FAILED"),
        "{posted}"
    );

    // The next push edits the same comment instead of adding one.
    let status = gate_script(dir.path(), &bin, &["--post-only"]);
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(dir.path().join("gh.log")).unwrap();
    assert!(
        log.contains("api -X PATCH repos/o/r/issues/comments/4242"),
        "{log}"
    );
    assert_eq!(log.matches("-X POST").count(), 1, "{log}");
}
