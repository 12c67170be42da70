//! The pipeline workload's refusals, through the binary: a bad `workload`, a mix that
//! contradicts it and `redis_image` beside movie-night exit 2 naming the fix; no redis-server
//! on PATH exits 1 naming the package before anything starts; `render` takes the pipeline.

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

#[test]
fn redis_image_beside_movie_night_exits_2_as_ignored() {
    let (code, err) = run(&["--set", "redis_image=redis:7", "--port-base", "24200"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("redis_image") && err.contains("workload = pipeline"),
        "{err}"
    );
}

#[test]
fn the_pipeline_renders_for_a_cluster_with_redis_and_its_workers() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["render", "--scenario", PIPELINE, "--out"])
        .arg(out_dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let files: Vec<String> = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in [
        "-service-redis.yaml",
        "-deployment-redis.yaml",
        "-deployment-worker.yaml",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "{name} in {files:?}"
        );
    }
}
