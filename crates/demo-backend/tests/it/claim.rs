//! A worker that died with orders in hand: delivered to its consumer name and never
//! acknowledged, they are taken over by a live worker once idle for `--claim-idle`
//! (XAUTOCLAIM), and aggregated exactly once. A real `redis-server`, a real backend and a
//! real worker; the dead worker is a raw XREADGROUP that never acknowledges.

use std::time::Duration;

use common::names;
use demo_backend::worker::WorkerConfig;
use redis::AsyncCommands;
use redis::streams::{StreamPendingReply, StreamReadReply};
use test_support::RedisServer;

use crate::pipeline::{
    Worker, aggregates, backend, connection, expected, post_all, queued, wait_acknowledged,
    worker_config,
};

/// Reads every entry not yet delivered as consumer `dead`, which never acknowledges them.
async fn die_holding(redis: &RedisServer) -> usize {
    let mut con = connection(redis).await;
    let _: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg(&[
            "CREATE",
            demo_backend::STREAM,
            demo_backend::GROUP,
            "0",
            "MKSTREAM",
        ])
        .query_async(&mut con)
        .await;
    let read: StreamReadReply = redis::cmd("XREADGROUP")
        .arg(&["GROUP", demo_backend::GROUP, "dead", "COUNT", "1000"])
        .arg(&["STREAMS", demo_backend::STREAM, ">"])
        .query_async(&mut con)
        .await
        .unwrap();
    read.keys.iter().map(|k| k.ids.len()).sum()
}

async fn pending(redis: &RedisServer) -> usize {
    let reply: StreamPendingReply = connection(redis)
        .await
        .xpending(demo_backend::STREAM, demo_backend::GROUP)
        .await
        .unwrap();
    reply.count()
}

fn claiming(redis: &RedisServer, idle: Duration) -> WorkerConfig {
    WorkerConfig {
        claim_idle: idle,
        ..worker_config(redis)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_orders_are_claimed_and_aggregated_once() {
    let redis = RedisServer::start();
    let server = backend(redis.url()).await;
    let posted = post_all(&server, 0..40).await;
    assert_eq!(die_holding(&redis).await, 40);
    let worker = Worker::start(claiming(&redis, Duration::from_millis(200))).await;
    wait_acknowledged(&worker, 40.0).await;

    assert_eq!(aggregates(&redis).await, expected(&posted));
    assert_eq!((queued(&redis).await, pending(&redis).await), (0, 0));
    let page = worker.metrics().await;
    assert_eq!(page.value(names::WORKER_MESSAGES_CLAIMED_TOTAL, &[]), 40.0);
    assert_eq!(page.value(names::WORKER_MESSAGES_CONSUMED_TOTAL, &[]), 40.0);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_claiming_off_a_dead_workers_orders_stay_pending() {
    let redis = RedisServer::start();
    let server = backend(redis.url()).await;
    post_all(&server, 0..20).await;
    assert_eq!(die_holding(&redis).await, 20);
    let worker = Worker::start(claiming(&redis, Duration::ZERO)).await;
    let fresh = post_all(&server, 20..30).await;
    wait_acknowledged(&worker, 10.0).await;
    // Past the time a claiming worker would have taken them (its first scan: 1 s).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    assert_eq!(aggregates(&redis).await, expected(&fresh));
    assert_eq!((queued(&redis).await, pending(&redis).await), (20, 20));
    let page = worker.metrics().await;
    assert_eq!(page.value(names::WORKER_MESSAGES_CLAIMED_TOTAL, &[]), 0.0);
    worker.stop().await;
}
