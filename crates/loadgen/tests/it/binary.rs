//! The built binary end to end: thresholds decide the exit code, the JSON report
//! round-trips, and SIGINT mid-run still prints the summary and writes the report.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::server::{Reply, Server};

async fn loadgen(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--metrics-addr", "127.0.0.1:0", "--progress", "off"])
        .args(args)
        .env_clear()
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("loadgen ended in time")
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_threshold_exits_99_and_says_by_how_much() {
    let server = Server::start(|_| Reply::ok("ok").after(Duration::from_millis(30))).await;
    let base = [
        "--target",
        &server.url,
        "--url",
        "/",
        "--base-rps",
        "40",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
    ];
    let mut args = base.to_vec();
    args.extend(["--threshold", "p95<10ms", "--threshold", "error_rate<1%"]);
    let (code, stdout, stderr) = loadgen(&args).await;
    assert_eq!(code, Some(99), "{stdout}{stderr}");
    assert!(stdout.contains("✗ FAILED p95<10ms"), "{stdout}");
    assert!(stdout.contains("over by"), "{stdout}");
    assert!(stdout.contains("✓ error_rate<1%"), "{stdout}");

    let mut args = base.to_vec();
    args.extend(["--threshold", "p95<5s", "--threshold", "dropped==0"]);
    let (code, stdout, stderr) = loadgen(&args).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("latency (corrected)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_report_round_trips_and_markdown_is_written() {
    let server = Server::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let md = dir.path().join("out.md");
    let (code, stdout, stderr) = loadgen(&[
        "--target",
        &server.url,
        "--base-rps",
        "30",
        "--ramp-factor",
        "2",
        "--ramp-interval",
        "1s",
        "--duration",
        "2s",
        "--report",
        json.to_str().unwrap(),
        "--report",
        md.to_str().unwrap(),
        "--threshold",
        "p99<5s",
    ])
    .await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let text = std::fs::read_to_string(&json).unwrap();
    let report: loadgen::Report = serde_json::from_str(&text).unwrap();
    let again = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(
        again.trim_end(),
        text.trim_end(),
        "JSON -> Report -> JSON is lossless"
    );
    let back: loadgen::Report = serde_json::from_str(&again).unwrap();
    assert_eq!(back, report);
    // 30 rps for 1 s, then 60 rps for 1 s.
    assert_eq!(report.total.sent, 90);
    assert_eq!(report.planned, Some(90));
    assert!(report.timeline.len() >= 2, "{:?}", report.timeline);
    assert_eq!(report.actions.len(), 3);
    assert_eq!(report.thresholds.len(), 1);
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(
        md.contains("# loadgen report") && md.contains("| total | corrected |"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_mid_run_still_prints_the_summary_and_writes_the_report() {
    let server = Server::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("interrupted.json");
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args([
            "--target",
            &server.url,
            "--url",
            "/",
            "--base-rps",
            "50",
            "--ramp-factor",
            "1",
            "--duration",
            "60s",
            "--metrics-addr",
            "127.0.0.1:0",
            "--progress",
            "off",
            "--report",
            json.to_str().unwrap(),
        ])
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    server.wait_requests(20, Duration::from_secs(15)).await;
    let pid = child.id().unwrap().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = tokio::time::timeout(Duration::from_secs(15), child.wait_with_output())
        .await
        .expect("loadgen stops soon after SIGINT")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    let report: loadgen::Report =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(report.interrupted);
    assert!(
        report.total.sent >= 20 && report.total.sent < 3000,
        "{}",
        report.total.sent
    );
    assert_eq!(report.total.completed, report.total.sent);
}
