//! The gate through the binary, without a whole run: every bad input exits 2 before
//! anything starts, and `compare --fail-on` applies the regression rules to stored reports.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use orchestrator::timeline::{RunOptions, run};

use crate::scripted::Scripted;

fn orchestrator(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_gate_input_exits_2_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let runs = dir.path().join("runs");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"schema\": 1, \"uuid\": ").unwrap();
    let missing = dir.path().join("no-such-run");
    for (flags, says) in [
        (
            vec!["--threshold", "recovery.p95<<300ms"],
            vec!["column 14", "not a duration", "^"],
        ),
        (
            vec!["--threshold", "recovery.p90<1s"],
            vec!["unknown figure `p90`", "p50, p95, p99"],
        ),
        (
            vec!["--threshold", "recover.p95<1s"],
            vec!["unknown phase `recover`", "recovery"],
        ),
        (
            vec!["--baseline", missing.to_str().unwrap()],
            vec!["no such file"],
        ),
        (
            vec!["--baseline", broken.to_str().unwrap()],
            vec!["is not a report.json"],
        ),
        (
            vec!["--max-regression", "recovery.p95=+15%"],
            vec!["needs --baseline"],
        ),
        (
            vec![
                "--baseline",
                broken.to_str().unwrap(),
                "--max-regression",
                "recovery.p95=15%",
            ],
            vec!["needs a sign", "column 14"],
        ),
    ] {
        let mut args = vec![
            "run",
            "--port-base",
            "23590",
            "--runs-dir",
            runs.to_str().unwrap(),
        ];
        args.extend(flags.iter().copied());
        let out = orchestrator(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        for s in says {
            assert!(err.contains(s), "{flags:?} should say {s:?}: {err}");
        }
        assert!(!runs.exists(), "{flags:?} started a run");
    }
}

#[test]
fn promql_that_promtool_rejects_exits_2_before_the_run() {
    if orchestrator::gate::alerts::on_path("promtool").is_none() {
        println!("SKIPPED: promtool is not on PATH (scripts/test.sh installs Debian's prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    std::fs::write(
        &scenario,
        "[[alerts]]\nexpr = 'rate(app_shed_requests_total[5s] > 1'\ndescription = \"x\"\nseverity = \"error\"\n",
    )
    .unwrap();
    let runs = dir.path().join("runs");
    let out = orchestrator(&[
        "run",
        "--port-base",
        "23590",
        "--runs-dir",
        runs.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("alerts[0].expr") && err.contains("promtool rejects it"),
        "{err}"
    );
    assert!(!runs.exists());
}

async fn stored_report(dir: &Path) -> serde_json::Value {
    let mut s = scenario::Scenario::default();
    s.uuid = "a".into();
    s.baseline_pause = Duration::from_millis(500).into();
    s.load_pause = Duration::from_millis(1500).into();
    s.load_scale_delay = Duration::from_millis(1500).into();
    let opts = RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: dir.to_owned(),
        hold: false,
        keep: false,
        progress: false,
    };
    let result = run(Scripted::new(), opts, std::future::pending()).await;
    assert!(result.write_error.is_none());
    serde_json::from_str(&std::fs::read_to_string(dir.join("a/report.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn compare_fail_on_applies_the_rules_to_two_stored_reports() {
    let dir = tempfile::tempdir().unwrap();
    let a = stored_report(dir.path()).await;
    let recovery = a["phases"]
        .as_array()
        .unwrap()
        .iter()
        .position(|p| p["name"] == "recovery")
        .unwrap();
    let before = a["phases"][recovery]["error_rate"].as_f64().unwrap();
    // B: ten percentage points more errors in the recovery.
    let mut b = a.clone();
    b["uuid"] = "b".into();
    b["phases"][recovery]["error_rate"] = (before + 0.10).into();
    let write = |name: &str, v: &serde_json::Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, v.to_string()).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (pa, pb) = (write("a.json", &a), write("b.json", &b));
    let out = orchestrator(&["compare", &pa, &pb, "--fail-on", "recovery.error_rate=+2pp"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(99), "{err}");
    assert!(
        err.contains("✗ recovery.error_rate=+2pp") && err.contains("worse by 10.00%"),
        "{err}"
    );
    let out = orchestrator(&[
        "compare",
        &pa,
        &pb,
        "--fail-on",
        "recovery.error_rate=+20pp",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The default rules include recovery.error_rate=+2pp.
    let out = orchestrator(&["compare", &pa, &pb, "--fail-on", "defaults"]);
    assert_eq!(out.status.code(), Some(99), "{}", stderr(&out));
    let out = orchestrator(&["compare", &pa, &pb, "--fail-on", "recovery.error_rate=2pp"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("needs a sign"), "{}", stderr(&out));
    // Unlike runs: refused with rules, shown with a warning without.
    let mut kube = b.clone();
    kube["runtime"] = "kube".into();
    let pk = write("kube.json", &kube);
    let out = orchestrator(&["compare", &pa, &pk, "--fail-on", "defaults"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("refused: runtime"),
        "{}",
        stderr(&out)
    );
    let out = orchestrator(&["compare", &pa, &pk]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("warning: the reports differ in runtime"),
        "{}",
        stderr(&out)
    );
}
