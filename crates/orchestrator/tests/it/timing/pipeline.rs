//! The pipeline workload end to end on the local runtime, through the built binary, with the
//! real redis-server: orders go through the backend and the stream to the workers, and the
//! report's loss check accounts for every one of them.

use orchestrator::report::Report;
use orchestrator::timeline::phase;

const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pipeline.toml");

#[test]
fn every_order_produced_is_acknowledged_or_still_queued() {
    let dir = tempfile::tempdir().unwrap();
    // Short: the story, not its length, is under test.
    let short = ["--set", "load_pause=4s", "--set", "load_scale_delay=3s"];
    let (r, stdout) = super::completed_run(PIPELINE, "pipe-e2e", 24100, dir.path(), &short);
    let p = r.pipeline.as_ref().expect("a pipeline section");
    let loss = p.loss.as_ref().expect("a loss check");
    assert!(loss.passed, "{loss:#?}");
    assert!(loss.produced > 100.0, "{loss:#?}");
    assert_eq!(loss.produced, loss.acknowledged + loss.queued, "{loss:#?}");
    // Two workers far from saturated drain the queue, and their own count agrees.
    assert!(loss.drained, "{loss:#?}");
    assert_eq!(loss.acknowledged_by_workers, loss.acknowledged);
    // The load generator's count of orders sent agrees with what the backends enqueued
    // (its last scrape may miss its final second, hence the tolerance).
    let sent = r.points.last().unwrap().totals.sent;
    assert!(
        (sent - loss.produced).abs() <= 0.1 * loss.produced,
        "sent {sent} vs {loss:#?}"
    );

    let load = p.phases.iter().find(|x| x.name == phase::LOAD).unwrap();
    assert!(load.produced_per_s > 20.0, "{load:#?}");
    assert!(load.acknowledged_per_s > 20.0, "{load:#?}");
    let p95 = load.end_to_end_p95.expect("an end-to-end p95");
    assert!(p95 > 0.0 && p95 < 1.0, "{load:#?}");
    assert!(
        load.redis_memory_max_bytes.is_some_and(|m| m > 100_000.0),
        "{load:#?}"
    );
    assert!(load.queue_max.is_some(), "{load:#?}");
    // The workers' and Redis' CPU are measured like every component's.
    let res = r.resources.as_ref().unwrap();
    let json = serde_json::to_string(res).unwrap();
    assert!(
        json.contains("worker-0") && json.contains("worker-1"),
        "{json}"
    );
    assert!(json.contains("\"redis\""), "{json}");
    assert!(stdout.contains("pipeline loss check: passed"), "{stdout}");
    let md = std::fs::read_to_string(dir.path().join("pipe-e2e/report.md")).unwrap();
    assert!(
        md.contains("## Pipeline") && md.contains("**Loss check**: passed"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("pipe-e2e/report.html")).unwrap();
    assert!(html.contains("chart-queue"));
    assert!(dir.path().join("pipe-e2e/redis/redis.log").exists());
    assert_no_redis_left(&r);
}

/// The run's redis-server is gone: nothing answers on the port the report names for it.
fn assert_no_redis_left(r: &Report) {
    let url = &r
        .endpoints
        .iter()
        .find(|e| e.name == "redis")
        .expect("the report names Redis' address")
        .url;
    let addr = url.trim_start_matches("redis://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "redis-server still answers on {addr}"
    );
}
