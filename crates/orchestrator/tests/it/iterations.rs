//! `iterations` refusals through the binary: below 1, port blocks past 65535 and an
//! autoscaler beside several copies exit 2 naming the key (and `--port-base`) before
//! anything starts.

use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let runs = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["run", "--uuid", "iter-bad", "--runs-dir"])
        .arg(runs.path())
        .args(args)
        .output()
        .unwrap();
    assert!(!runs.path().join("iter-bad").exists(), "nothing ran");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn zero_iterations_exit_2_naming_the_key() {
    let (code, err) = run(&["--set", "iterations=0", "--port-base", "24600"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("iterations") && err.contains("at least 1"),
        "{err}"
    );
}

#[test]
fn port_blocks_past_65535_exit_2_naming_iterations_and_the_port_base() {
    // One block fits below 65535 from 65000; a hundred do not.
    let (code, err) = run(&["--set", "iterations=100", "--port-base", "65000"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("iterations = 100") && err.contains("--port-base 65000"),
        "{err}"
    );
    assert!(std::net::TcpListener::bind(("127.0.0.1", 65000)).is_ok());
}

#[test]
fn an_autoscaler_beside_several_copies_exits_2() {
    let (code, err) = run(&[
        "--set",
        "iterations=2",
        "--set",
        "scale_mode=hpa",
        "--port-base",
        "24600",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("iterations") && err.contains("scale_mode = manual"),
        "{err}"
    );
}
