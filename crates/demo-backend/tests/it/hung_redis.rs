//! A worker's /metrics while its Redis hangs (SIGSTOP: connections open, nothing answers):
//! the page comes back at once with every counter, the queue gauges as last read, and the
//! refresh it could not make counted as a Redis timeout, instead of holding the scrape for
//! the whole Redis timeout (5 s here, longer than any scraper waits).

use std::time::Duration;

use common::api::routes;
use common::names::{self, label, worker_error_kind};
use test_support::RedisServer;

use crate::helpers::Metrics;
use crate::pipeline::{Worker, backend, post_all, wait_acknowledged, worker_config};

/// Well under the worker's Redis timeout in these tests (5 s): a scrape that waited for Redis
/// fails here.
const SCRAPER_PATIENCE: Duration = Duration::from_secs(2);

async fn scrape(worker: &Worker) -> Metrics {
    let text = reqwest::Client::new()
        .get(format!("{}{}", worker.url, routes::METRICS))
        .timeout(SCRAPER_PATIENCE)
        .send()
        .await
        .expect("the worker answers /metrics while Redis hangs")
        .text()
        .await
        .unwrap();
    Metrics::parse(text)
}

fn timeouts(m: &Metrics) -> f64 {
    m.value(
        names::WORKER_ERRORS_TOTAL,
        &[(label::KIND, worker_error_kind::TIMEOUT)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_redis_does_not_hold_up_the_workers_metrics() {
    let redis = RedisServer::start();
    let worker = Worker::start(worker_config(&redis)).await;
    let server = backend(redis.url()).await;
    post_all(&server, 0..5).await;
    wait_acknowledged(&worker, 5.0).await;
    let before = scrape(&worker).await;

    redis.pause();
    let during = scrape(&worker).await;
    redis.resume();

    assert_eq!(
        during.value(names::WORKER_MESSAGES_ACKNOWLEDGED_TOTAL, &[]),
        5.0,
        "{}",
        during.text
    );
    assert_eq!(
        during.value(names::WORKER_QUEUE_LENGTH, &[]),
        before.value(names::WORKER_QUEUE_LENGTH, &[]),
        "the gauges stay as last read"
    );
    assert!(
        timeouts(&during) > timeouts(&before),
        "the refresh it could not make is a timeout: {}",
        during.text
    );
    worker.stop().await;
}
