//! The binary: exit codes, `config` with sources, a bad scenario listing all its errors,
//! `compare` on written reports.

use std::process::Command;

fn orchestrator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_orchestrator"))
}

#[test]
fn bad_flags_exit_2() {
    let out = orchestrator()
        .args(["run", "--runtime", "mars"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mars"), "{err}");
}

#[test]
fn compare_of_missing_reports_names_both_files_and_exits_2() {
    let out = orchestrator()
        .args(["compare", "/nonexistent/a.json", "/nonexistent/b.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/a.json") && err.contains("/nonexistent/b.json"),
        "{err}"
    );
}

#[test]
fn config_prints_every_value_with_its_source() {
    let out = orchestrator()
        .args([
            "config",
            "--scenario",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/ci.toml"),
            "--set",
            "load_pause=9s",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ci.toml"), "file source named: {text}");
    assert!(
        text.contains("9s") && text.contains("--set"),
        "flag source named: {text}"
    );
}

#[test]
fn a_bad_scenario_exits_2_listing_all_its_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "load_base_rps = -1.0\nload_ramp_factor = 0.5\nbaselin_pause = \"5s\"\n",
    )
    .unwrap();
    let out = orchestrator()
        .args(["run"])
        .arg("--scenario")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for key in ["load_base_rps", "load_ramp_factor", "baselin_pause"] {
        assert!(err.contains(key), "{key} missing from: {err}");
    }
}

#[test]
fn bad_load_plans_exit_2_naming_each_entry() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plans.toml");
    std::fs::write(
        &file,
        "load_stages = \"3s:10\"\n\n[[load]]\nname = \"a\"\nvus = 2\nstages = \"3s:10\"\n\n\
         [[load]]\nname = \"a\"\n",
    )
    .unwrap();
    let runs = dir.path().join("runs");
    let out = orchestrator()
        .args(["run", "--runs-dir"])
        .arg(&runs)
        .arg("--scenario")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for what in [
        "load[0].vus = `2`: vus and stages",
        "load[1].name = `\"a\"`: load[0] has the same name",
        "load_stages = `3s:10`: the [[load]] entries",
    ] {
        assert!(err.contains(what), "{what} missing from: {err}");
    }
    assert!(!runs.exists(), "a run started");
}

#[test]
fn config_shows_each_load_plan() {
    let out = orchestrator()
        .args([
            "config",
            "--scenario",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scenarios/two-plans.toml"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for plan in [
        "load[0]  ",
        "checkout: stages",
        "load[1]  ",
        "reviews: 30 rps",
    ] {
        assert!(text.contains(plan), "{plan} missing from: {text}");
    }
}

#[test]
fn an_autoscaler_with_min_above_max_exits_2_before_anything_starts_and_cpu_is_accepted_locally() {
    let dir = tempfile::tempdir().unwrap();
    let out = orchestrator()
        .args(["run", "--scenario"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/hpa.toml"
        ))
        .args(["--set", "autoscale_metric=cpu", "--set", "autoscale_min=9"])
        .arg("--runs-dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("autoscale_min = `9`"), "{err}");
    // Locally the replicas' CPU is measured (their named threads): cpu is no error.
    assert!(!err.contains("autoscale_metric"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no run started"
    );
}

/// An HPA reads `utilization` only through a custom-metrics adapter: on the kube runtime the
/// scenario says to use keda before any connection is tried.
#[test]
fn an_hpa_on_a_metric_without_an_adapter_exits_2_on_kube_naming_keda() {
    let out = orchestrator()
        .args(["run", "--runtime", "kube", "--scenario"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scenarios/hpa.toml"
        ))
        // No cluster is reachable: the refusal must come before any connection.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("autoscale_metric") && err.contains("scale_mode = keda"),
        "{err}"
    );
    assert!(!err.contains("no usable Kubernetes cluster"), "{err}");
}
