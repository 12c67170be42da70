//! Flag parsing: bad flags exit 2 naming the flag, environment variables are read, and
//! conflicting load shapes are refused.

use std::process::Command;

use clap::Parser;
use loadgen::{Executor, Mode, Shape, Workload};

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn parse(args: &[&str]) -> Result<loadgen::Config, String> {
    let mut argv = vec!["loadgen"];
    argv.extend_from_slice(args);
    loadgen::Opts::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .into_config()
        .map_err(|e| e.to_string())
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let x = "http://x";
    for (args, flag) in [
        (&["--target", "ftp://x"][..], "--target"),
        (
            &["--target", "https://x", "--http2", "--h2-streams", "0"],
            "--h2-streams",
        ),
        (&["--target", x, "--shard", "2/2"], "--shard"),
        (&["--target", x, "--progress", "loud"], "--progress"),
        (&["--target", x, "--ramp-interval", "0s"], "--ramp-interval"),
        (&["--target", x, "--duration", "soon"], "--duration"),
        (&["--target", x, "--duration", "0s"], "--duration"),
        (&["--target", x, "--base-rps=-1"], "--base-rps"),
        (&["--target", x, "--base-rps", "0"], "--base-rps"),
        (&["--target", x, "--ramp-factor", "0"], "--ramp-factor"),
        (&["--target", x, "--max-rps", "0"], "--max-rps"),
        (&["--target", x, "--actions", "dance"], "--actions"),
        (&["--target", x, "--actions", "book_ticket=x"], "--actions"),
        (&["--target", x, "--actions", "book_ticket=0"], "--actions"),
        (
            &["--target", x, "--conn-max-age", "later"],
            "--conn-max-age",
        ),
        (&["--target", x, "--profile", "huge"], "--profile"),
        (&["--target", x, "--stages", "30s"], "--stages"),
        (&["--target", x, "--stages", "5s:0"], "--stages"),
        (&["--target", x, "--arrival", "bursty"], "--arrival"),
        (&["--target", x, "--threshold", "p95<700"], "--threshold"),
        (&["--target", x, "--report", "out.html"], "--report"),
        (&["--target", x, "--connections", "0"], "--connections"),
        (&["--target", x, "--max-in-flight", "0"], "--max-in-flight"),
        (&["--target", x, "--timeout", "0s"], "--timeout"),
        (&["--target", x, "--threads", "0"], "--threads"),
        (
            &["--target", x, "--stages", "5s:10", "--base-rps", "3"],
            "--base-rps",
        ),
        (
            &["--target", x, "--profile", "spike", "--duration", "3s"],
            "--duration",
        ),
        (
            &["--target", x, "--profile", "spike", "--stages", "5s:1"],
            "--stages",
        ),
        (
            &["--target", x, "--url", "/a", "--method", "GE T"],
            "--method",
        ),
        (
            &["--target", x, "--url", "/a", "--header", "nocolon"],
            "--header",
        ),
        (
            &["--target", x, "--url", "/a", "--actions", "book_ticket"],
            "--actions",
        ),
        (&["--url", "/a"], "--target"),
        (&["--target", x, "--method", "POST"], "--url"),
        (&["--target", x, "--stages", "5s:-3"], "--stages"),
        (&["--target", x, "--stages", "-5s:3"], "--stages"),
        (&["--target", x, "--stages", "5s:lots"], "--stages"),
        (&["--target", x, "--stages", "5s:10,,oops"], "--stages"),
        (&["--target", x, "--vus", "0"], "--vus"),
        (&["--target", x, "--vus=-2"], "--vus"),
        (&["--target", x, "--vu-stages", "-5s:2"], "--vu-stages"),
        (
            &["--target", x, "--vus", "3", "--think-time", "2s..500ms"],
            "--think-time",
        ),
        (
            &["--target", x, "--vus", "3", "--think-time", "later"],
            "--think-time",
        ),
        (&["--target", x, "--think-time", "1s"], "--think-time"),
        (
            &["--target", x, "--vus", "3", "--stages", "5s:1"],
            "--stages",
        ),
        (
            &["--target", x, "--vus", "3", "--profile", "spike"],
            "--profile",
        ),
        (
            &["--target", x, "--vus", "3", "--base-rps", "5"],
            "--base-rps",
        ),
        (
            &["--target", x, "--vus", "3", "--ramp-factor", "2"],
            "--ramp-factor",
        ),
        (
            &["--target", x, "--vus", "3", "--max-rps", "9"],
            "--max-rps",
        ),
        (
            &["--target", x, "--vus", "3", "--arrival", "poisson"],
            "--arrival",
        ),
        (&["--target", x, "--vus", "3", "--shard", "1/2"], "--shard"),
        (
            &["--target", x, "--vu-stages", "5s:3", "--stages", "5s:3"],
            "--stages",
        ),
        (
            &["--target", x, "--vu-stages", "5s:3", "--vus", "3"],
            "--vus",
        ),
        (
            &["--target", x, "--vu-stages", "5s:3", "--duration", "3s"],
            "--duration",
        ),
        (&["--target", x, "--vu-stages", "5s:0"], "--vu-stages"),
        (&["--target", x, "--vu-stages", "5s:2.5"], "--vu-stages"),
        (
            &["--target", x, "--vus", "2", "--duration", "0s"],
            "--duration",
        ),
        (&["--target", x, "--mode", "later"], "--mode"),
        (&["--target", x, "--mode", "async", "--url", "/a"], "--mode"),
        (&["--target", x, "--poll-interval", "0s"], "--poll-interval"),
        (&["--target", x, "--job-max-wait", "10ms"], "--job-max-wait"),
        (&["--target", x, "--time-scale", "0"], "--time-scale"),
        (&["--target", x, "--time-scale=-1"], "--time-scale"),
        (&["--target", x, "--time-scale", "fast"], "--time-scale"),
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?} should name {flag}: {err}");
    }
}

#[test]
fn an_unknown_profile_lists_the_known_ones() {
    let (code, err) = run(&["--target", "http://x", "--profile", "huge"]);
    assert_eq!(code, Some(2));
    for p in common::load::Profile::ALL {
        assert!(err.contains(p.name()), "{err}");
    }
}

#[test]
fn a_bad_stage_is_named_with_what_is_wrong() {
    let (_, err) = run(&["--target", "http://x", "--stages", "5s:10,4s:-3"]);
    assert!(err.contains("4s:-3") && err.contains("0 or more"), "{err}");
    let (_, err) = run(&[
        "--target",
        "http://x",
        "--vus",
        "2",
        "--think-time",
        "2s..1s",
    ]);
    assert!(err.contains("upside down"), "{err}");
}

#[test]
fn closed_loop_async_mode_and_time_scale_parse() {
    let c = parse(&[
        "--target",
        "http://h",
        "--vus",
        "7",
        "--duration",
        "20s",
        "--think-time",
        "500ms..2s",
        "--mode",
        "async",
        "--poll-interval",
        "50ms",
        "--job-max-wait",
        "5s",
    ])
    .unwrap();
    let Executor::ClosedLoop(cl) = &c.executor else {
        panic!("--vus is the closed loop")
    };
    assert_eq!(cl.peak(), 7);
    assert_eq!(cl.duration().as_secs(), 20);
    assert_eq!(cl.think_time.to_string(), "500ms..2s");
    assert_eq!(c.mode, Mode::Async);
    assert_eq!(c.polling.interval.as_millis(), 50);
    assert_eq!(c.polling.max_wait.as_secs(), 5);
    let c = parse(&[
        "--target",
        "http://h",
        "--vu-stages",
        "10s:4,10s:0",
        "--time-scale",
        "0.5",
    ])
    .unwrap();
    let Executor::ClosedLoop(cl) = &c.executor else {
        panic!("--vu-stages is the closed loop")
    };
    assert_eq!(
        cl.duration().as_secs(),
        10,
        "the VU plan is time-scaled too"
    );
    let c = parse(&[
        "--target",
        "http://h",
        "--profile",
        "spike",
        "--time-scale",
        "0.05",
    ])
    .unwrap();
    assert_eq!(c.executor, Executor::OpenLoop);
    assert_eq!(c.time_scale, 0.05);
    let c = parse(&["--target", "http://h"]).unwrap();
    assert_eq!(c.mode, Mode::Sync, "sync by default");
    assert_eq!(c.polling.interval.as_millis(), 100);
    assert_eq!(c.polling.max_wait.as_secs(), 30);
}

#[test]
fn version_exits_0() {
    let (code, _) = run(&["--version"]);
    assert_eq!(code, Some(0));
}

#[test]
fn defaults_follow_the_original_demo() {
    let c = parse(&["--target", "http://127.0.0.1:1/"]).unwrap();
    assert_eq!(c.target, "http://127.0.0.1:1");
    let Shape::Ramp(r) = c.shape else {
        panic!("the ramp is the default shape")
    };
    assert_eq!(r.base_rps, 2.0);
    assert_eq!(r.factor, 1.35);
    assert_eq!(r.interval.as_secs(), 45);
    assert_eq!(r.max_rps, None);
    let Workload::Actions(actions) = c.workload else {
        panic!("actions are the default workload")
    };
    assert_eq!(actions.len(), 3);
    assert_eq!(c.conn_max_age.as_secs(), 10);
    assert_eq!(c.timeout.as_secs(), 10);
    assert_eq!(c.max_in_flight, 10_000);
    assert_eq!(c.wait_for_target, None);
}

#[test]
fn the_orchestrator_flags_parse() {
    let c = parse(&[
        "--target",
        "http://127.0.0.1:9",
        "--base-rps",
        "40",
        "--ramp-factor",
        "2",
        "--ramp-interval",
        "1s",
        "--duration",
        "60s",
        "--actions",
        "book_ticket,cancel_ticket,give_feedback",
        "--metrics-addr",
        "127.0.0.1:9100",
        "--conn-max-age",
        "1s",
        "--max-rps",
        "150",
        "--shard",
        "1/3",
    ])
    .unwrap();
    assert_eq!(c.shard.index, 1);
    assert_eq!(c.conn_max_age.as_millis(), 1000);
    assert!(matches!(c.shape, Shape::Ramp(r) if r.max_rps == Some(150.0)));
}

#[test]
fn other_shapes_and_url_mode_parse() {
    let c = parse(&[
        "--target",
        "http://h",
        "--stages",
        "10s:20,5s:0",
        "--arrival",
        "poisson",
    ])
    .unwrap();
    assert!(matches!(c.shape, Shape::Stages(ref s) if s.len() == 2));
    let c = parse(&["--target", "http://h", "--profile", "spike"]).unwrap();
    assert!(matches!(c.shape, Shape::Profile(_)));
    let c = parse(&[
        "--url",
        "http://svc:8081/api/x?y=1",
        "--method",
        "POST",
        "--header",
        "X-Test: 1",
        "--body",
        "{}",
    ])
    .unwrap();
    assert_eq!(c.target, "http://svc:8081");
    let Workload::Custom(r) = c.workload else {
        panic!("--url is custom mode")
    };
    assert_eq!(r.path, "/api/x?y=1");
    assert_eq!(r.method, http::Method::POST);
    assert_eq!(r.headers.len(), 1);
    assert_eq!(&r.body[..], b"{}");
}

#[test]
fn flags_read_their_environment_variables() {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .env_clear()
        .env("TARGET_URL", "http://127.0.0.1:1")
        .env("RAMP_INTERVAL_SECONDS", "0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "RAMP_INTERVAL_SECONDS=0 is read and rejected"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .env_clear()
        .env("TARGET_URL", "http://127.0.0.1:1")
        .env("THRESHOLDS", "p95<1s,bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bogus"));
    for (var, value, flag) in [
        ("MODE", "later", "--mode"),
        ("VUS", "0", "--vus"),
        ("THINK_TIME", "2s..1s", "--think-time"),
        ("TIME_SCALE", "0", "--time-scale"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
        cmd.env_clear()
            .env("TARGET_URL", "http://127.0.0.1:1")
            .env(var, value);
        if var == "THINK_TIME" {
            cmd.env("VUS", "2");
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{var}={value} is read and rejected"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains(flag), "{var}");
    }
}
