//! A worker's `GET /api/pipeline`: the whole pipeline's Redis in one reading (how the
//! orchestrator reads Redis on a cluster), parsed back as Prometheus text; a 503 naming
//! Redis once Redis is gone; and the consumer lag where Redis itself cannot tell it.

use common::api::routes;
use demo_backend::PipelineReading;
use http::StatusCode;
use test_support::RedisServer;

use crate::helpers::client;
use crate::pipeline::{Worker, backend, connection, post_all, wait_acknowledged, worker_config};

async fn get(worker: &Worker) -> reqwest::Response {
    client()
        .get(format!("{}{}", worker.url, routes::PIPELINE))
        .send()
        .await
        .expect("GET /api/pipeline")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reading_accounts_for_every_order_and_names_redis_when_it_is_gone() {
    let mut redis = RedisServer::start();
    let worker = Worker::start(worker_config(&redis)).await;
    let empty = get(&worker).await;
    assert_eq!(empty.status(), StatusCode::OK);
    let empty = PipelineReading::from_page(&empty.text().await.unwrap()).expect("a reading");
    assert_eq!((empty.queued, empty.aggregated), (0, 0));

    let server = backend(redis.url()).await;
    post_all(&server, 0..25).await;
    wait_acknowledged(&worker, 25.0).await;
    let answer = get(&worker).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert!(
        answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "Prometheus text"
    );
    let text = answer.text().await.unwrap();
    let reading = PipelineReading::from_page(&text).expect("a reading");
    assert_eq!(
        (reading.queued, reading.pending, reading.aggregated),
        (0, 0, 25),
        "{text}"
    );
    assert!(reading.used_memory > 0, "{text}");

    redis.kill();
    let down = get(&worker).await;
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = down.text().await.unwrap();
    assert!(body.contains("Redis"), "{body}");
    worker.stop().await;
}

/// Two orders delivered, the newer acknowledged and deleted while the older is still held,
/// a third not yet delivered: Redis answers nil for the lag (a deleted entry past the oldest
/// left), and the reading still says one order waits, not the stream's two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lag_is_the_undelivered_orders_when_redis_cannot_tell_it() {
    let redis = RedisServer::start();
    let mut con = connection(&redis).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let id: String = redis::cmd("XADD")
            .arg(&[demo_backend::STREAM, "*", "n", &n.to_string()])
            .query_async(&mut con)
            .await
            .unwrap();
        ids.push(id);
    }
    let () = redis::cmd("XGROUP")
        .arg(&["CREATE", demo_backend::STREAM, demo_backend::GROUP, "0"])
        .query_async(&mut con)
        .await
        .unwrap();
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg(&["GROUP", demo_backend::GROUP, "w", "COUNT", "2"])
        .arg(&["STREAMS", demo_backend::STREAM, ">"])
        .query_async(&mut con)
        .await
        .unwrap();
    let _: redis::Value = redis::pipe()
        .atomic()
        .cmd("XACK")
        .arg(&[demo_backend::STREAM, demo_backend::GROUP, &ids[1]])
        .cmd("XDEL")
        .arg(&[demo_backend::STREAM, &ids[1]])
        .query_async(&mut con)
        .await
        .unwrap();
    let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
        .arg(&["GROUPS", demo_backend::STREAM])
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(groups.groups[0].lag, None, "Redis cannot tell the lag here");

    let reading = demo_backend::read_pipeline(&mut con).await.unwrap();
    assert_eq!((reading.queued, reading.pending, reading.lag), (2, 1, 1));
}
