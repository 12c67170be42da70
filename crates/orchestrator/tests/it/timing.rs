//! The real stack on the local runtime, `ci` scenario end to end, through the built binary.
//! Runs alone under nextest (module name `timing`).

mod autoscale;
mod capability;
mod gate;
mod iterations;
mod pipeline;
mod plans;
mod redis_kill;
mod stalled_worker;
mod worker_kill;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use orchestrator::report::Report;
use orchestrator::timeline::phase;

const CI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/ci.toml");

/// A run of `scenario` through the built binary with more flags `args` (`--set`,
/// `--threshold`), checked to exit 0: its report and what it printed.
fn completed_run(
    scenario: &str,
    uuid: &str,
    port_base: u16,
    runs: &Path,
    args: &[&str],
) -> (Report, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["run", "--scenario", scenario, "--uuid", uuid])
        .args(["--port-base", &port_base.to_string(), "--runs-dir"])
        .arg(runs)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (Report::read(&runs.join(uuid)).unwrap(), stdout)
}

fn run_ci(runs: &Path, port_base: u16, uuid: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args([
            "run",
            "--scenario",
            CI,
            "--uuid",
            uuid,
            "--port-base",
            &port_base.to_string(),
            "--runs-dir",
        ])
        .arg(runs)
        .spawn()
        .unwrap()
}

/// Requests the load generator listening on `port` has sent so far (0 while it is not up).
fn loadgen_sent(port: u16) -> f64 {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return 0.0;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut page = String::new();
    if stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .and_then(|()| stream.read_to_string(&mut page))
        .is_err()
    {
        return 0.0;
    }
    let body = page.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    common::exposition::parse(body)
        .unwrap_or_default()
        .iter()
        .filter(|s| s.name == common::names::LG_SENT_REQUESTS_TOTAL)
        .map(|s| s.value)
        .sum()
}

fn ports_free(base: u16) -> bool {
    (base..base + 8).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok())
}

#[test]
fn ci_scenario_saturates_one_replica_and_recovers_after_the_scale_up() {
    let dir = tempfile::tempdir().unwrap();
    let status = run_ci(dir.path(), 23100, "ci-e2e").wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let r = Report::read(&dir.path().join("ci-e2e")).unwrap();
    let load = r.phase(phase::LOAD).unwrap();
    let rec = r.phase(phase::RECOVERY).unwrap();
    let (lp, rp) = (
        load.client_latency.p95.unwrap(),
        rec.client_latency.p95.unwrap(),
    );
    // One replica: a third of the load is shed and the queue adds over 100 ms.
    assert!(
        load.error_rate > 0.10,
        "load error rate {}",
        load.error_rate
    );
    assert!(lp > 0.080, "load p95 {lp}");
    // Two replicas: errors and p95 fall measurably.
    assert!(
        rec.error_rate < load.error_rate / 2.0,
        "{} vs {}",
        rec.error_rate,
        load.error_rate
    );
    // The whole recovery phase includes the first second or two after the scale-up, while
    // the old replica's queue drains and connections move: its p95 falls; once settled (the
    // phase's second half) it falls far.
    assert!(rp < lp, "recovery p95 {rp} vs load p95 {lp}");
    let settled = rec.settled_client_latency.p95.unwrap();
    assert!(
        settled < lp * 0.5,
        "settled recovery p95 {settled} vs load p95 {lp}"
    );
    assert_eq!(rec.replicas_max, 2);
    assert!(r.time_to_ready.is_some_and(|t| t < 20.0));
    // ci.toml's thresholds hold (the exit code says so too).
    assert!(r.gate.as_ref().is_some_and(|g| g.passed), "{:#?}", r.gate);
    assert!(ports_free(23100));
}

#[cfg(unix)]
#[test]
fn sigint_mid_load_exits_130_with_a_partial_report_and_frees_every_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = run_ci(dir.path(), 23200, "ci-int");
    // Interrupt once the load generator (port base + 2) has sent requests: mid-load.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while loadgen_sent(23202) < 50.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let r = Report::read(&dir.path().join("ci-int")).unwrap();
    assert!(
        matches!(r.outcome, orchestrator::report::Outcome::Interrupted { .. }),
        "{:?}",
        r.outcome
    );
    assert!(r.phase(phase::LOAD).is_some_and(|p| p.sent_rps > 0.0));
    assert!(ports_free(23200), "a listener was left behind");
}

/// Guards the ramp-from-zero defect end to end: a scenario's stages reach the real load
/// generator, which sends them as planned (no silent first stage followed by a burst).
#[test]
fn a_stages_scenario_sends_its_plan_from_the_first_second() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stages.toml");
    std::fs::write(
        &file,
        "baseline_pause = \"1s\"\nload_pause = \"4s\"\nload_scale_delay = \"3s\"\n\
         backend_scale_replicas = 1\nload_stages = \"3s:30,2s:30\"\n",
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args([
            "run",
            "--uuid",
            "stages",
            "--port-base",
            "23300",
            "--scenario",
        ])
        .arg(&file)
        .arg("--runs-dir")
        .arg(dir.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let r = Report::read(&dir.path().join("stages")).unwrap();
    let curve = r.scenario.load.curve();
    let planned = common::load::Schedule::new(
        curve,
        common::load::Arrivals::Uniform,
        common::load::Shard::WHOLE,
    )
    .uniform_total() as f64;
    let sent = r.points.last().unwrap().totals.sent;
    assert!(
        (sent - planned).abs() <= 2.0,
        "sent {sent}, planned {planned}"
    );
    // The plan never exceeds 30 rps; the defect sent the first stage's 45 requests at once.
    let series = orchestrator::report::series(&r.points);
    let peak = series.sent_rps.iter().copied().fold(0.0, f64::max);
    assert!(
        peak < 30.0 * 1.4,
        "a burst of {peak} rps: {:?}",
        series.sent_rps
    );
    assert!(ports_free(23300));
}

/// `load_mode = "async"` end to end: the backend answers 202 at once, the load generator
/// follows each job, and the report shows the jobs' durations beside the 202s' latency.
#[test]
fn an_async_scenario_reports_job_durations_beside_the_202s() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("async.toml");
    std::fs::write(
        &file,
        "baseline_pause = \"1s\"\nload_pause = \"3s\"\nload_scale_delay = \"2s\"\n\
         backend_scale_replicas = 1\nload_base_rps = 20\nload_ramp_factor = 1\n\
         load_run_duration = \"20s\"\nbackend_service_time = \"100ms\"\nload_mode = \"async\"\n",
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args([
            "run",
            "--uuid",
            "async",
            "--port-base",
            "23320",
            "--scenario",
        ])
        .arg(&file)
        .arg("--runs-dir")
        .arg(dir.path())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let r = Report::read(&dir.path().join("async")).unwrap();
    let load = r.phase(phase::LOAD).unwrap();
    let accepted = load.client_latency.p50.unwrap();
    let job = load.job_latency.p50.expect("job durations were sampled");
    // Each job holds a worker for the service time; the 202 does not wait for it.
    assert!(job >= 0.1, "job p50 {job}");
    assert!(accepted < job / 2.0, "202 p50 {accepted} vs job p50 {job}");
    assert!(load.error_rate < 0.01, "{}", load.error_rate);
    assert!(load.jobs_pending_max >= 1.0, "{}", load.jobs_pending_max);
    let md = std::fs::read_to_string(dir.path().join("async/report.md")).unwrap();
    assert!(md.contains("## Async jobs"), "{md}");
    assert!(ports_free(23320));
}
