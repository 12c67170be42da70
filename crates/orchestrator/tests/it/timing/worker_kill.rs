//! A worker killed mid-climb (`kill_worker_at`), on the local runtime through the built
//! binary with the real redis-server: the run goes on without it (a worker lost is not a
//! failed run), its figures turn into gaps, the queue grows with nobody to consume it, the
//! lag rule ends the climb, and every order is still accounted for.

use orchestrator::capability::Rule;

use super::capability::SLOW_WORKER_CLIMB;

const CAPABILITY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/capability.toml"
);

/// The climb's second rung (20 orders/s) is under way when the only worker dies.
const KILL_AT: f64 = 4.0;

#[test]
fn a_worker_killed_mid_climb_is_a_gap_a_growing_queue_and_the_lag_rule() {
    let dir = tempfile::tempdir().unwrap();
    // The slow worker's climb, with a worker fast enough that only its death can end it.
    let args = [
        SLOW_WORKER_CLIMB,
        &["--set", "worker_work_cpu=0", "--set", "kill_worker_at=4s"],
    ]
    .concat();
    let (r, stdout) = super::completed_run(CAPABILITY, "kill-e2e", 25200, dir.path(), &args);
    let note = r
        .notes
        .iter()
        .find(|n| n.starts_with("kill_worker_at 4s"))
        .unwrap_or_else(|| panic!("a note of the kill: {:?}", r.notes));
    assert!(note.contains("killed worker worker-0"), "{note}");
    assert!(stdout.contains("killed worker worker-0"), "{stdout}");

    let climb = r.phase(orchestrator::timeline::phase::CAPABILITY).unwrap();
    let killed = climb.start + KILL_AT;
    let c = r.capability.as_ref().expect("a capability section");
    let ended = c.ended_by.as_ref().expect("the lost worker ends the climb");
    assert_eq!(ended.by.rule, Rule::ConsumerLag, "{c:#?}");
    assert!(ended.by.t > killed, "broke before the kill: {c:#?}");

    // After the kill the worker is a gap in every round, and the queue never shrinks: the
    // climb and every settle after it offer orders, and nobody consumes them.
    let after: Vec<_> = r
        .points
        .iter()
        .filter(|p| p.t > killed + 1.5 && p.t < climb.end)
        .collect();
    assert!(
        !after.is_empty(),
        "{:?}",
        r.points.iter().map(|p| p.t).collect::<Vec<_>>()
    );
    assert!(
        after
            .iter()
            .all(|p| p.gaps.iter().any(|g| g.starts_with("worker-0"))),
        "{:?}",
        after.iter().map(|p| &p.gaps).collect::<Vec<_>>()
    );
    let queued: Vec<f64> = after
        .iter()
        .filter_map(|p| Some(p.pipeline.as_ref()?.redis?.queued))
        .collect();
    assert!(
        queued.windows(2).all(|w| w[1] >= w[0]) && queued.last() > queued.first(),
        "{queued:?}"
    );

    // Nobody drains the queue at the end, and the check still balances: what the dead
    // worker held is queued, not lost.
    let loss = r.pipeline.as_ref().and_then(|p| p.loss.as_ref()).unwrap();
    assert!(
        loss.passed && !loss.drained && loss.queued > 0.0,
        "{loss:#?}"
    );
    assert_eq!(loss.produced, loss.acknowledged + loss.queued, "{loss:#?}");
}
