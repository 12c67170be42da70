//! A worker that all but stops: one worker at 1 s of work per order (the most a scenario
//! allows) under a load of 50 orders/s. Acknowledgements trickle at its one per second, the
//! queue and the consumer lag grow in every reading, the queue does not drain at the end, and
//! the loss check still balances exactly: nothing is lost, it is all still queued.

use orchestrator::pipeline::sample::PipelinePoint;
use orchestrator::timeline::phase;

const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pipeline.toml");

#[test]
fn a_stalled_worker_lets_the_queue_grow_and_the_loss_check_still_balances() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--set",
        "load_pause=6s",
        "--set",
        "load_scale_delay=2s",
        "--set",
        "worker_replicas=1",
        "--set",
        "worker_work_cpu=1s",
        // One order in hand at a time: what is not in hand is lag.
        "--set",
        "worker_batch=1",
    ];
    let (r, stdout) = super::completed_run(PIPELINE, "stalled", 24700, dir.path(), &args);
    let p = r.pipeline.as_ref().expect("a pipeline section");

    // One worker, one order a second: the acknowledgements can go no faster.
    let load = p.phases.iter().find(|x| x.name == phase::LOAD).unwrap();
    assert!(load.produced_per_s > 20.0, "{load:#?}");
    assert!(load.acknowledged_per_s <= 1.5, "{load:#?}");

    // In the load phase every reading of the queue and the lag is above the one before, by
    // what was produced and not acknowledged in between.
    let span = r.phase(phase::LOAD).unwrap();
    let readings: Vec<(&PipelinePoint, f64, f64)> = r
        .points
        .iter()
        .filter(|x| x.t >= span.start && x.t <= span.end)
        .filter_map(|x| {
            let pipe = x.pipeline.as_ref()?;
            let redis = pipe.redis?;
            Some((pipe, redis.queued, redis.lag))
        })
        .collect();
    assert!(readings.len() >= 4, "{readings:#?}");
    for w in readings.windows(2) {
        let ((a, qa, la), (b, qb, lb)) = (w[0], w[1]);
        assert!(qb > qa && lb > la, "the queue fell: {w:#?}");
        let backlog = (b.produced - a.produced) - (b.acknowledged - a.acknowledged);
        assert!(
            (qb - qa) >= 0.5 * backlog,
            "grew {} for a backlog of {backlog}",
            qb - qa
        );
    }

    // Nothing lost: the backlog is still queued, the check says so and that it did not drain.
    let loss = p.loss.as_ref().expect("a loss check");
    assert!(loss.passed && !loss.drained, "{loss:#?}");
    assert_eq!(loss.produced, loss.acknowledged + loss.queued, "{loss:#?}");
    assert!(loss.queued > loss.acknowledged, "{loss:#?}");
    assert!(loss.detail.contains("did not drain"), "{}", loss.detail);
    assert!(
        stdout.contains("pipeline loss check: passed") && stdout.contains("did not drain"),
        "{stdout}"
    );
}
