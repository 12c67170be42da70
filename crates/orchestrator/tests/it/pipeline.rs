//! The pipeline workload's refusals, through the binary: a bad `workload` and a mix that
//! contradicts it exit 2 naming the fix; no redis-server on PATH exits 1 naming the package
//! before anything starts.

use std::process::Command;

const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pipeline.toml");

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .arg("run")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_unknown_workload_exits_2_listing_the_choices() {
    let (code, err) = run(&["--set", "workload=batch", "--port-base", "24200"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("workload")
            && err.contains("`batch`")
            && err.contains("movie-night")
            && err.contains("pipeline"),
        "{err}"
    );
}

#[test]
fn an_explicit_mix_beside_the_pipeline_exits_2() {
    let (code, err) = run(&[
        "--scenario",
        PIPELINE,
        "--set",
        "actions=book_ticket",
        "--port-base",
        "24200",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("actions") && err.contains("place_order"),
        "{err}"
    );
}

#[test]
fn no_redis_server_on_path_exits_1_before_anything_starts() {
    let empty = tempfile::tempdir().unwrap();
    let runs = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["run", "--scenario", PIPELINE, "--uuid", "no-redis"])
        .args(["--port-base", "24200", "--runs-dir"])
        .arg(runs.path())
        .env("PATH", empty.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("redis-server") && err.contains("apt-get install redis-server"),
        "{err}"
    );
    // Nothing ran: no run directory, and the port plan's first port is free.
    assert!(!runs.path().join("no-redis").exists());
    assert!(std::net::TcpListener::bind(("127.0.0.1", 24200)).is_ok());
}
