//! The capability mode end to end on the local runtime, through the built binary, with the
//! real redis-server: a worker too slow for the climb makes the consumer lag grow, the lag
//! rule ends the climb, and the capacity found lies under what the worker can do.

use std::process::Command;

use orchestrator::capability::{Kind, Rule};
use orchestrator::report::Report;
use orchestrator::timeline::phase;

const CAPABILITY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/capability.toml"
);

const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../results/local-2core.json"
);

/// One worker burning 20 ms of CPU per order acknowledges at most 50 orders/s.
pub(super) const WORK_MS: f64 = 20.0;

/// One worker at [`WORK_MS`] under a climb from 10 to 160 orders/s in 3 s steps: the lag
/// must end it (the end-to-end p95's bound is out of its way).
pub(super) const SLOW_WORKER_CLIMB: &[&str] = &[
    "--set",
    "worker_replicas=1",
    "--set",
    "worker_work_cpu=20ms",
    "--set",
    "capability_start_rps=10",
    "--set",
    "capability_step_factor=2",
    "--set",
    "capability_step=3s",
    "--set",
    "capability_max_rps=160",
    "--set",
    "capability_settle=4s",
    "--set",
    "capability_lag_window=2s",
    "--set",
    "capability_p95=60s",
    "--set",
    "baseline_pause=1s",
];

#[test]
fn a_worker_too_slow_for_the_climb_ends_it_by_the_lag_rule_at_its_rate() {
    let dir = tempfile::tempdir().unwrap();
    let args = [SLOW_WORKER_CLIMB, &["--threshold", "run.capacity_rps>=5"]].concat();
    let (r, stdout) = super::completed_run(CAPABILITY, "cap-e2e", 24300, dir.path(), &args);
    assert!(r.phase(phase::CAPABILITY).is_some(), "{:#?}", r.phases);
    assert!(
        r.phase(phase::LOAD).is_none(),
        "the demo story does not run"
    );
    let c = r.capability.as_ref().expect("a capability section");
    let most = 1000.0 / WORK_MS;
    let ended = c.ended_by.as_ref().expect("the slow worker ends the climb");
    assert_eq!(ended.by.rule, Rule::ConsumerLag, "{c:#?}");
    // The lag can only grow once the rate exceeds what the worker acknowledges.
    let capacity = c.capacity_rps.expect("a capacity");
    assert!(capacity > 0.0, "10 orders/s is far below 50: {c:#?}");
    assert!(
        capacity <= most,
        "{capacity} above the worker's {most}: {c:#?}"
    );
    assert!(ended.rate_rps > capacity, "{c:#?}");
    assert!(!c.at_ceiling, "{c:#?}");
    assert_eq!(c.total_rps, Some(capacity), "one iteration");
    // The rung that held is the last settle, and the climb held every rung below the break.
    let settled = c
        .attempts
        .iter()
        .rfind(|a| a.kind == Kind::Settle)
        .expect("a settle window");
    assert!(settled.held && settled.rate_rps == capacity, "{c:#?}");
    for a in c.attempts.iter().filter(|a| a.kind == Kind::Climb) {
        assert_eq!(a.held, a.rate_rps < ended.rate_rps, "{c:#?}");
    }
    // What it carried while settling is what was offered, acknowledged as fast as sent.
    let carried = c.carried.as_ref().expect("figures of the settle window");
    assert!(
        (carried.sent_rps - capacity).abs() <= 0.25 * capacity,
        "{carried:#?} vs {capacity}"
    );
    let acked = carried
        .acknowledged_rps
        .expect("the pipeline's acknowledgements");
    assert!(
        (acked - capacity).abs() <= 0.35 * capacity,
        "{carried:#?} vs {capacity}"
    );
    // Every order is still accounted for after the step-backs and the drain.
    let loss = r.pipeline.as_ref().and_then(|p| p.loss.as_ref()).unwrap();
    assert!(loss.passed, "{loss:#?}");
    // The gate read the report's capacity.
    let gate = r.gate.as_ref().expect("a gate");
    assert!(gate.passed, "{gate:#?}");
    assert!(stdout.contains("capacity: "), "{stdout}");
    let md = std::fs::read_to_string(dir.path().join("cap-e2e/report.md")).unwrap();
    assert!(
        md.contains("## Capability") && md.contains("consumer_lag"),
        "{md}"
    );
    compare_with_the_reference(&dir.path().join("cap-e2e"), capacity);
}

/// `compare` against the reference result in `results/` reads it with today's schema and
/// puts its capacity beside this run's.
fn compare_with_the_reference(run: &std::path::Path, capacity: f64) {
    let reference = Report::read(std::path::Path::new(REFERENCE)).expect("the reference reads");
    let expected = reference
        .capability
        .as_ref()
        .and_then(|c| c.capacity_rps)
        .expect("the reference states a capacity");
    let out = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["compare", REFERENCE])
        .arg(run)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["phase"] == phase::CAPABILITY && r["metric"] == "capacity_rps")
        .cloned()
        .expect("a capacity row");
    assert_eq!(row["a"].as_f64(), Some(expected), "{row}");
    assert_eq!(row["b"].as_f64(), Some(capacity), "{row}");
    let change = row["change"].as_f64().unwrap();
    assert!(
        (change - (capacity - expected) / expected).abs() < 1e-9,
        "{row}"
    );
}
