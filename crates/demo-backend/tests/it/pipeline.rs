//! The pipeline workload end to end with a real `redis-server` (test_support::RedisServer):
//! orders posted through the real backend over HTTP, consumed by a real worker, the
//! aggregates and the stream read back from Redis, the worker's /metrics parsed back (and
//! checked by promtool). Redis is killed and restarted under both processes.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::api::{OrderAccepted, OrderRequest, routes};
use common::names::{self, order_outcome, worker_error_kind};
use demo_backend::worker::WorkerConfig;
use http::{Method, StatusCode};
use redis::AsyncCommands;
use test_support::RedisServer;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::helpers::{self, Metrics, Server, WAIT, call, client, config};

/// Redis's timeout in the tests of a dead Redis: short, so they are quick.
const REDIS_TIMEOUT: Duration = Duration::from_millis(500);
/// Redis's timeout where Redis is up: a loaded CI machine (an fsync per write, two cores
/// shared with other tests) may take longer than the short one to answer.
const LIVE_REDIS_TIMEOUT: Duration = Duration::from_secs(5);
const REGIONS: [&str; 3] = ["eu-west", "us-east", "ap-south"];

/// A worker served on 127.0.0.1:0 by `demo_backend::worker::run`.
pub(crate) struct Worker {
    pub(crate) url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<demo_backend::Result<()>>,
}

impl Worker {
    pub(crate) async fn start(config: WorkerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(demo_backend::worker::run(config, listener, async move {
            let _ = rx.await;
        }));
        Self {
            url,
            stop: Some(tx),
            task,
        }
    }

    pub(crate) async fn metrics(&self) -> Metrics {
        let text = client()
            .get(format!("{}{}", self.url, routes::METRICS))
            .send()
            .await
            .expect("GET the worker's /metrics")
            .text()
            .await
            .unwrap();
        Metrics::parse(text)
    }

    async fn acknowledged(&self) -> f64 {
        self.metrics()
            .await
            .value(names::WORKER_MESSAGES_ACKNOWLEDGED_TOTAL, &[])
    }

    /// Signals shutdown and waits for `run` to return without error.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("the worker did not stop")
            .expect("the worker panicked")
            .expect("the worker's run failed");
    }
}

pub(crate) fn worker_config(redis: &RedisServer) -> WorkerConfig {
    WorkerConfig {
        redis_timeout: LIVE_REDIS_TIMEOUT,
        consumer: "worker-a".into(),
        drain_timeout: Duration::from_secs(5),
        ..WorkerConfig::new(redis.url())
    }
}

pub(crate) async fn backend(redis_url: String) -> Server {
    backend_timing_out(redis_url, LIVE_REDIS_TIMEOUT).await
}

async fn backend_timing_out(redis_url: String, redis_timeout: Duration) -> Server {
    Server::start(demo_backend::Config {
        redis_url: Some(redis_url),
        redis_timeout,
        ..config()
    })
    .await
}

/// The `i`th order of a test: regions in turn, amounts in quarters (exact in binary, so sums
/// compare exactly).
fn order(i: usize) -> OrderRequest {
    OrderRequest {
        region: REGIONS[i % REGIONS.len()].into(),
        items: 1 + (i % 4) as u32,
        amount: 10.0 + (i % 7) as f64 * 0.25,
    }
}

async fn post(server: &Server, order: &OrderRequest) -> reqwest::Response {
    client()
        .post(server.at(routes::ORDERS))
        .json(order)
        .send()
        .await
        .expect("POST /api/orders")
}

/// Posts orders `range`, each answered 202 with its stream id; returns the orders.
pub(crate) async fn post_all(server: &Server, range: std::ops::Range<usize>) -> Vec<OrderRequest> {
    let mut posted = Vec::new();
    for i in range {
        let order = order(i);
        let answer = post(server, &order).await;
        assert_eq!(answer.status(), StatusCode::ACCEPTED);
        let accepted: OrderAccepted = answer.json().await.unwrap();
        assert!(accepted.id.contains('-'), "a stream id: {}", accepted.id);
        posted.push(order);
    }
    posted
}

/// Per region: (count, amount) of `orders`.
pub(crate) fn expected(orders: &[OrderRequest]) -> BTreeMap<String, (i64, f64)> {
    let mut sums = BTreeMap::new();
    for o in orders {
        let e = sums.entry(o.region.clone()).or_insert((0, 0.0));
        e.0 += 1;
        e.1 += o.amount;
    }
    sums
}

pub(crate) async fn connection(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the test's redis-server")
}

/// Per region: (count, amount) as the worker wrote them.
pub(crate) async fn aggregates(redis: &RedisServer) -> BTreeMap<String, (i64, f64)> {
    let mut con = connection(redis).await;
    let counts: BTreeMap<String, i64> = con.hgetall(demo_backend::COUNT_BY_REGION).await.unwrap();
    let amounts: BTreeMap<String, f64> = con.hgetall(demo_backend::AMOUNT_BY_REGION).await.unwrap();
    counts
        .into_iter()
        .map(|(region, count)| {
            let amount = amounts.get(&region).copied().unwrap_or(f64::NAN);
            (region, (count, amount))
        })
        .collect()
}

pub(crate) async fn queued(redis: &RedisServer) -> u64 {
    connection(redis)
        .await
        .xlen(demo_backend::STREAM)
        .await
        .unwrap()
}

pub(crate) async fn wait_acknowledged(worker: &Worker, n: f64) {
    helpers::eventually(&format!("{n} orders acknowledged"), || async {
        worker.acknowledged().await >= n
    })
    .await;
}

async fn enqueued(server: &Server) -> f64 {
    helpers::scrape(server).await.value(
        names::APP_ORDERS_TOTAL,
        &[("outcome", order_outcome::ENQUEUED)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_posted_is_aggregated_once_by_the_worker() {
    let redis = RedisServer::start();
    let server = backend(redis.url()).await;
    let worker = Worker::start(worker_config(&redis)).await;
    let posted = post_all(&server, 0..60).await;
    wait_acknowledged(&worker, 60.0).await;

    let written = aggregates(&redis).await;
    assert_eq!(written, expected(&posted));
    let total: i64 = written.values().map(|(count, _)| count).sum();
    assert_eq!(total, posted.len() as i64);
    assert_eq!(
        queued(&redis).await,
        0,
        "acknowledged entries leave the stream"
    );
    assert_eq!(enqueued(&server).await, 60.0);

    let page = worker.metrics().await;
    assert_eq!(
        page.value(names::WORKER_MESSAGES_ACKNOWLEDGED_TOTAL, &[]),
        60.0
    );
    assert_eq!(page.value(names::WORKER_MESSAGES_CONSUMED_TOTAL, &[]), 60.0);
    assert_eq!(
        page.value(&format!("{}_count", names::WORKER_END_TO_END_SECONDS), &[]),
        60.0
    );
    for gauge in [
        names::WORKER_QUEUE_LENGTH,
        names::WORKER_CONSUMER_LAG,
        names::WORKER_PENDING_MESSAGES,
    ] {
        assert_eq!(page.matching(gauge, &[]).count(), 1, "{gauge} is exported");
        assert_eq!(page.value(gauge, &[]), 0.0, "{gauge}: {}", page.text);
    }
    assert_eq!(
        page.value(names::WORKER_ERRORS_TOTAL, &[]),
        0.0,
        "{}",
        page.text
    );
    test_support::assert_promtool_accepts(&page.text);
    test_support::assert_promtool_accepts(&helpers::scrape(&server).await.text);

    worker.stop().await;
    server.stop().await;
}

/// A worker stopped with work still queued leaves it there, unacknowledged: produced =
/// acknowledged + queued at the stop, and a worker started again finishes the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_loses_nothing_and_a_new_one_finishes_the_rest() {
    let redis = RedisServer::start();
    let server = backend(redis.url()).await;
    let slow = WorkerConfig {
        work_cpu: Duration::from_millis(20),
        work_memory: 256 * 1024,
        batch: 4,
        ..worker_config(&redis)
    };
    let worker = Worker::start(slow.clone()).await;
    let posted = post_all(&server, 0..40).await;
    wait_acknowledged(&worker, 5.0).await;
    worker.stop().await;

    let produced = enqueued(&server).await;
    assert_eq!(produced, posted.len() as f64);
    let acknowledged: i64 = aggregates(&redis).await.values().map(|(c, _)| c).sum();
    let still_queued = queued(&redis).await;
    assert!(still_queued > 0, "the stop came before the queue was empty");
    assert_eq!(
        produced,
        acknowledged as f64 + still_queued as f64,
        "produced = acknowledged + queued"
    );

    let again = Worker::start(slow).await;
    wait_acknowledged(&again, still_queued as f64).await;
    assert_eq!(aggregates(&redis).await, expected(&posted));
    assert_eq!(queued(&redis).await, 0);
    again.stop().await;
    server.stop().await;
}

/// Two workers in the group share the stream: each order is delivered to one of them only,
/// so their acknowledgements add up to the orders and the aggregates are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_never_take_the_same_order() {
    let redis = RedisServer::start();
    let server = backend(redis.url()).await;
    let config = |name: &str| WorkerConfig {
        consumer: name.into(),
        work_cpu: Duration::from_millis(2),
        batch: 2,
        ..worker_config(&redis)
    };
    let a = Worker::start(config("worker-a")).await;
    let b = Worker::start(config("worker-b")).await;
    let posted = post_all(&server, 0..80).await;
    helpers::eventually("80 orders acknowledged by the two", || async {
        a.acknowledged().await + b.acknowledged().await >= 80.0
    })
    .await;
    let (by_a, by_b) = (a.acknowledged().await, b.acknowledged().await);
    assert_eq!(by_a + by_b, 80.0);
    assert!(by_a > 0.0 && by_b > 0.0, "both consumed: {by_a} + {by_b}");
    assert_eq!(aggregates(&redis).await, expected(&posted));
    a.stop().await;
    b.stop().await;
    server.stop().await;
}

/// An entry on the stream that is not an order (written by something else) is counted,
/// acknowledged and dropped: it neither blocks the queue nor touches the aggregates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_entry_is_counted_and_dropped() {
    let redis = RedisServer::start();
    let server = backend(redis.url()).await;
    let _: String = connection(&redis)
        .await
        .xadd(demo_backend::STREAM, "*", &[("hello", "world")])
        .await
        .unwrap();
    let worker = Worker::start(worker_config(&redis)).await;
    let posted = post_all(&server, 0..3).await;
    wait_acknowledged(&worker, 3.0).await;
    let page = worker.metrics().await;
    assert_eq!(
        page.value(
            names::WORKER_ERRORS_TOTAL,
            &[("kind", worker_error_kind::BAD_MESSAGE)]
        ),
        1.0
    );
    assert_eq!(page.value(names::WORKER_MESSAGES_CONSUMED_TOTAL, &[]), 4.0);
    assert_eq!(aggregates(&redis).await, expected(&posted));
    assert_eq!(queued(&redis).await, 0);
    worker.stop().await;
    server.stop().await;
}

/// Redis killed under a running backend and worker: orders get a 503 naming Redis within the
/// timeout, both count the errors, and both carry on when Redis comes back on its port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_run_is_counted_and_both_recover() {
    let mut redis = RedisServer::start();
    let server = backend_timing_out(redis.url(), REDIS_TIMEOUT).await;
    let worker = Worker::start(WorkerConfig {
        redis_timeout: REDIS_TIMEOUT,
        ..worker_config(&redis)
    })
    .await;
    let mut posted = post_all(&server, 0..10).await;
    wait_acknowledged(&worker, 10.0).await;

    redis.kill();
    for i in 10..15 {
        let started = Instant::now();
        let answer = post(&server, &order(i)).await;
        assert!(
            started.elapsed() < REDIS_TIMEOUT * 4,
            "bounded: {:?}",
            started.elapsed()
        );
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: common::api::ErrorBody = answer.json().await.unwrap();
        assert!(body.error.contains("Redis"), "{body:?}");
    }
    let page = helpers::scrape(&server).await;
    let failed = page.value(
        names::APP_ORDERS_TOTAL,
        &[("outcome", order_outcome::REDIS_ERROR)],
    ) + page.value(
        names::APP_ORDERS_TOTAL,
        &[("outcome", order_outcome::REDIS_TIMEOUT)],
    );
    assert_eq!(failed, 5.0, "{}", page.text);
    helpers::eventually("the worker counts Redis errors", || async {
        let page = worker.metrics().await;
        page.value(
            names::WORKER_ERRORS_TOTAL,
            &[("kind", worker_error_kind::REDIS)],
        ) + page.value(
            names::WORKER_ERRORS_TOTAL,
            &[("kind", worker_error_kind::TIMEOUT)],
        ) > 0.0
    })
    .await;
    let health = client()
        .get(format!("{}{}", worker.url, routes::HEALTHZ))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the worker stays up");

    redis.restart();
    // The first orders after the restart may meet the connection Redis dropped.
    let deadline = Instant::now() + WAIT;
    loop {
        let order = order(posted.len() + 5);
        if post(&server, &order).await.status() == StatusCode::ACCEPTED {
            posted.push(order);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backend never enqueued again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = posted.len() + 5;
    posted.extend(post_all(&server, start..start + 10).await);
    helpers::eventually("every order aggregated after the restart", || async {
        aggregates(&redis).await == expected(&posted)
    })
    .await;
    assert_eq!(queued(&redis).await, 0);
    worker.stop().await;
    server.stop().await;
}

#[tokio::test]
async fn without_redis_the_orders_route_says_it_is_not_configured() {
    let (app, state) = helpers::app_with(config());
    let answer = call(
        &app,
        Method::POST,
        routes::ORDERS,
        r#"{"region":"eu","items":1,"amount":1}"#,
    )
    .await;
    assert_eq!(answer.status, StatusCode::NOT_IMPLEMENTED);
    assert!(answer.error().contains("not configured"));
    assert!(
        answer.json()["detail"]
            .as_str()
            .unwrap()
            .contains("--redis-url")
    );
    let _ = state;
}

/// Nothing listens on the Redis port: a 503 naming Redis, within the timeout; bad input is
/// refused before Redis is asked.
#[tokio::test]
async fn an_unreachable_redis_is_a_bounded_503_and_bad_orders_are_400() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = backend_timing_out(format!("redis://127.0.0.1:{port}"), REDIS_TIMEOUT).await;
    let started = Instant::now();
    let answer = post(&server, &order(0)).await;
    assert!(started.elapsed() < REDIS_TIMEOUT * 4);
    assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers().contains_key("retry-after"));
    let body: common::api::ErrorBody = answer.json().await.unwrap();
    assert!(body.error.contains("Redis"), "{body:?}");

    for bad in [
        r#"{"region":"","items":1,"amount":1}"#,
        r#"{"region":"eu","items":0,"amount":1}"#,
        r#"{"region":"eu","items":1,"amount":-1}"#,
        r#"{"region":"eu","items":1}"#,
        r#"{"region":"eu","items":1,"amount":1,"extra":true}"#,
        "{",
    ] {
        let answer = client()
            .post(server.at(routes::ORDERS))
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: common::api::ErrorBody = answer.json().await.unwrap();
        assert!(!body.error.is_empty());
    }
    let page = helpers::scrape(&server).await;
    assert_eq!(
        page.value(
            names::APP_ORDERS_TOTAL,
            &[("outcome", order_outcome::REJECTED)]
        ),
        6.0
    );
    assert_eq!(
        page.value(
            names::HTTP_REQUESTS_TOTAL,
            &[("route", routes::ORDERS), ("status", "400")]
        ),
        6.0,
        "the observing layer labels the route"
    );
    server.stop().await;
}
