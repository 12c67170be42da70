//! `place_order` (the pipeline workload) against the real backend and a real redis-server:
//! every order the generator counts as a success is on the Redis stream, and the backend
//! counted it as enqueued.

use std::time::Duration;

use clap::Parser;

use common::names::{self, order_outcome};
use redis::AsyncCommands;
use test_support::{LoadgenArgs, RedisServer};

use crate::helpers::{Backend, load, metric, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_placed_is_on_the_stream() {
    let redis = RedisServer::start();
    let backend = Backend::start(&["--redis-url", &redis.url()]).await;
    let args = LoadgenArgs::constant(&backend.url, 40, "1s").with("--actions", "place_order");
    let report = run(load(args), Duration::from_secs(30)).await;

    let orders = report
        .actions
        .iter()
        .find(|a| a.action == "place_order")
        .expect("a place_order row");
    assert!(orders.sent >= 30, "{orders:?}");
    assert_eq!(orders.ok, orders.sent, "every order accepted: {orders:?}");
    assert_eq!(orders.statuses.get(&202), Some(&orders.sent), "{orders:?}");
    assert_eq!(report.actions.len(), 1, "only orders were sent");

    let page = backend.metrics().await;
    let enqueued = metric(
        &page,
        names::APP_ORDERS_TOTAL,
        &[("outcome", order_outcome::ENQUEUED)],
    );
    assert_eq!(enqueued, Some(orders.sent as f64));
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let queued: u64 = conn.xlen(demo_backend::STREAM).await.unwrap();
    assert_eq!(queued, orders.sent);
    backend.stop().await;
}

#[test]
fn orders_are_not_followed_as_async_jobs() {
    let args = LoadgenArgs::constant("http://127.0.0.1:1", 1, "1s")
        .with("--actions", "place_order")
        .with("--mode", "async");
    let err = loadgen::Opts::try_parse_from(args)
        .unwrap()
        .into_config()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--mode") && err.contains("place_order"),
        "{err}"
    );
}
