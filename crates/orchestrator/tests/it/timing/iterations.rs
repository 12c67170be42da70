//! `iterations = 2` end to end on the local runtime with the real redis-server: two copies
//! of the pipeline stack on consecutive port blocks, driven together; each served traffic,
//! the report's row per copy adds up to the run's total exactly, and the gate's alerts are
//! evaluated on each copy's Prometheus.

use orchestrator::local::ports::BLOCK;

const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pipeline.toml");
const BASE: u16 = 24500;

#[test]
fn two_copies_each_serve_and_their_rows_add_up_to_the_total() {
    let dir = tempfile::tempdir().unwrap();
    // One warning per copy, each true only of its copy's own targets (their namespace ends
    // in the copy's number): the gate must ask both copies' Prometheus to see both fire.
    let scenario = dir.path().join("pipeline-alerts.toml");
    let alerts: String = [1, 2]
        .map(|k| {
            format!(
                "\n[[alerts]]\nexpr = 'count(up{{namespace=~\".+-{k}\"}}) > 0'\n\
                 description = \"copy {{{{$labels.iteration}}}} is up\"\nseverity = \"warning\"\n"
            )
        })
        .concat();
    std::fs::write(
        &scenario,
        std::fs::read_to_string(PIPELINE).unwrap() + &alerts,
    )
    .unwrap();
    let (r, stdout) = super::completed_run(
        scenario.to_str().unwrap(),
        "iter-e2e",
        BASE,
        dir.path(),
        &[
            "--set",
            "iterations=2",
            "--set",
            "load_pause=3s",
            "--set",
            "load_scale_delay=2s",
        ],
    );
    let it = r.iterations.as_ref().expect("an iterations section");
    assert_eq!(it.count, 2);
    assert_eq!(
        it.rows.iter().map(|x| x.iteration).collect::<Vec<_>>(),
        [Some(1), Some(2)]
    );
    for row in &it.rows {
        assert!(row.sent > 50.0, "each copy sent: {row:#?}");
        assert!(row.sent_rps > 0.0 && row.p95.is_some(), "{row:#?}");
        assert!(row.acknowledged.is_some_and(|a| a > 50.0), "{row:#?}");
    }
    let sum = |f: fn(&orchestrator::iterations::report::IterationRow) -> f64| {
        it.rows.iter().map(f).sum::<f64>()
    };
    assert_eq!(sum(|x| x.sent), it.total.sent, "{it:#?}");
    assert_eq!(sum(|x| x.errors), it.total.errors, "{it:#?}");
    assert_eq!(
        sum(|x| x.produced.unwrap_or(0.0)),
        it.total.produced.unwrap(),
        "{it:#?}"
    );
    assert_eq!(
        sum(|x| x.acknowledged.unwrap_or(0.0)),
        it.total.acknowledged.unwrap(),
        "{it:#?}"
    );
    // The total is the run's own count, not a second bookkeeping.
    let last = r.points.last().unwrap();
    assert_eq!(it.total.sent, last.totals.sent);
    // Both copies' Redis count in the loss check, and nothing is lost.
    let loss = r.pipeline.as_ref().unwrap().loss.as_ref().unwrap();
    assert_eq!(loss.produced, it.total.produced.unwrap(), "{loss:#?}");
    assert_eq!(loss.produced, loss.acknowledged + loss.queued, "{loss:#?}");
    // Each copy on its own block, its own instances in the resources.
    let url = |name: &str| {
        r.endpoints
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.url.clone())
            .unwrap_or_else(|| panic!("endpoint {name} in {:#?}", r.endpoints))
    };
    assert_eq!(
        url("i1: frontend (web UI)"),
        format!("http://127.0.0.1:{BASE}/")
    );
    assert_eq!(
        url("i2: frontend (web UI)"),
        format!("http://127.0.0.1:{}/", BASE + BLOCK)
    );
    let res = serde_json::to_string(r.resources.as_ref().unwrap()).unwrap();
    for instance in ["i1/backend-0", "i2/backend-0", "i1/worker-1", "i2/worker-1"] {
        assert!(res.contains(instance), "{instance} in {res}");
    }
    // Locally the startup latency is each component's, spawn to ready: per copy a frontend,
    // a loadgen, two workers and the backends of the scale-up.
    let startup = it.pod_startup.as_ref().expect("a startup latency");
    assert_eq!(startup.of, "components (spawned → ready)");
    assert!(startup.pods >= 2 * 6, "{startup:?}");
    assert!(startup.p50 > 0.0 && startup.p50 <= startup.p95 && startup.p95 <= startup.max);
    assert!(startup.max < 30.0, "{startup:?}");
    // report.md and the terminal have the rows.
    let md = std::fs::read_to_string(dir.path().join("iter-e2e/report.md")).unwrap();
    assert!(md.contains("## Iterations"), "{md}");
    assert!(md.contains("| total |"), "{md}");
    let html = std::fs::read_to_string(dir.path().join("iter-e2e/report.html")).unwrap();
    assert!(
        html.contains("<table id=\"iterations\">"),
        "no iterations table in report.html"
    );
    assert!(
        stdout.contains("iteration ") && stdout.contains("\ntotal "),
        "{stdout}"
    );
    let gate = r.gate.as_ref().expect("a gate of the alerts");
    assert!(gate.passed, "warnings only: {gate:#?}");
    for (alert, k) in gate.alerts.iter().zip(1..) {
        assert_eq!(
            alert.status,
            orchestrator::gate::Status::Warned,
            "{alert:#?}"
        );
        assert!(
            alert
                .detail
                .starts_with(&format!("fired: copy {k} is up ("))
                && alert.detail.ends_with(&format!(" in copy {k})")),
            "{alert:#?}"
        );
    }
    // Everything stopped: both blocks are free again.
    for port in [BASE, BASE + 1, BASE + BLOCK, BASE + BLOCK + 1] {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} still taken"
        );
    }
}

const CAPABILITY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../scenarios/capability.toml"
);

/// Two copies climbing together: each is offered the climb's rate, each one's slow worker
/// bounds the capacity per copy, and the stack's is twice that.
#[test]
fn two_copies_climb_together_and_the_capacity_counts_both() {
    use super::capability::WORK_MS;
    let dir = tempfile::tempdir().unwrap();
    let args = [
        super::capability::SLOW_WORKER_CLIMB,
        &["--set", "iterations=2"],
    ]
    .concat();
    let (r, stdout) = super::completed_run(CAPABILITY, "iter-cap", 24900, dir.path(), &args);
    let c = r.capability.as_ref().expect("a capability section");
    assert_eq!(c.iterations, 2, "{c:#?}");
    let capacity = c.capacity_rps.expect("a capacity");
    assert!(
        capacity > 0.0 && capacity <= 1000.0 / WORK_MS,
        "{capacity} per copy: {c:#?}"
    );
    assert_eq!(c.total_rps, Some(2.0 * capacity), "{c:#?}");
    // Both copies were driven: each sent, and their rows add up to the run's total.
    let it = r.iterations.as_ref().expect("an iterations section");
    assert!(it.rows.iter().all(|x| x.sent > 0.0), "{it:#?}");
    assert_eq!(it.rows.iter().map(|x| x.sent).sum::<f64>(), it.total.sent);
    let loss = r.pipeline.as_ref().and_then(|p| p.loss.as_ref()).unwrap();
    assert!(loss.passed, "{loss:#?}");
    assert!(stdout.contains("in total (2 iterations)"), "{stdout}");
}
