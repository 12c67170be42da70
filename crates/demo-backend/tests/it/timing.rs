//! The capacity model, measured (run alone by nextest): 4 workers × 20 ms carry 150 rps
//! with low latency and no 503; 600 rps queues then sheds; two replicas carry 300 rps.

use std::time::Duration;

use common::api::{StatsResponse, routes};
use demo_backend::Config;

use crate::helpers::{Sent, Server, client, config, open_loop, quantile, statuses};

/// The orchestrator's default replica: 4 workers × 20 ms (200 rps), queue 32.
fn replica() -> Config {
    Config {
        workers: 4,
        service_time: Duration::from_millis(20),
        queue: 32,
        ..config()
    }
}

fn latencies(sent: &[Sent], status: u16) -> Vec<Duration> {
    sent.iter()
        .filter(|s| s.status == Some(status))
        .map(|s| s.latency)
        .collect()
}

async fn stats(server: &Server) -> StatsResponse {
    client()
        .get(server.at(routes::STATS))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_serves_150_rps_with_p95_under_40ms() {
    let server = Server::start(replica()).await;
    let sent = open_loop(
        std::slice::from_ref(&server.url),
        150.0,
        Duration::from_secs(4),
    )
    .await;
    let counts = statuses(&sent);
    assert_eq!(
        counts.get(&Some(201)).copied().unwrap_or(0),
        sent.len(),
        "{counts:?}"
    );
    let mut ok = latencies(&sent, 201);
    let p50 = quantile(&mut ok, 0.50);
    let p95 = quantile(&mut ok, 0.95);
    eprintln!("150 rps: p50 {p50:?} p95 {p95:?} n {}", ok.len());
    // Each request holds a worker 20 ms: nothing can be faster, and with spare workers
    // nothing should wait long.
    assert!(
        p50 >= Duration::from_millis(20),
        "p50 {p50:?} below the service time"
    );
    assert!(p95 < Duration::from_millis(40), "p95 {p95:?}");
    let s = stats(&server).await;
    assert_eq!(s.shed_total, 0);
    assert!(s.latency_p95_ms >= 20.0 && s.latency_p95_ms < 40.0, "{s:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_at_600_rps_queues_then_sheds() {
    let server = Server::start(replica()).await;
    let duration = Duration::from_secs(3);
    let sent = open_loop(std::slice::from_ref(&server.url), 600.0, duration).await;
    let counts = statuses(&sent);
    let ok = counts.get(&Some(201)).copied().unwrap_or(0);
    let shed = counts.get(&Some(503)).copied().unwrap_or(0);
    eprintln!("600 rps: {counts:?}");
    assert_eq!(
        ok + shed,
        sent.len(),
        "only 201 and 503 expected: {counts:?}"
    );
    // Capacity is 4 / 20 ms = 200 rps: about 600 served in 3 s (plus the queue), the rest
    // shed. A model that did not limit (or limited on CPU) would be far off either way.
    let served_rate = ok as f64 / duration.as_secs_f64();
    assert!(
        (150.0..=250.0).contains(&served_rate),
        "served {served_rate:.0} rps: {counts:?}"
    );
    assert!(shed as f64 > sent.len() as f64 * 0.5, "{counts:?}");
    // Queue wait shows in latency: with 32 queued ahead, a request waits about 160 ms.
    let mut ok_latency = latencies(&sent, 201);
    let p95 = quantile(&mut ok_latency, 0.95);
    assert!(
        p95 > Duration::from_millis(100),
        "p95 {p95:?}: no queueing seen"
    );
    // Shed answers are immediate.
    let mut shed_latency = latencies(&sent, 503);
    let shed_p50 = quantile(&mut shed_latency, 0.50);
    assert!(
        shed_p50 < Duration::from_millis(60),
        "shed p50 {shed_p50:?}"
    );
    // The replica counted exactly what the client saw.
    let s = stats(&server).await;
    assert_eq!(s.shed_total as usize, shed);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_serve_300_rps_without_503() {
    let a = Server::start(replica()).await;
    let b = Server::start(replica()).await;
    let sent = open_loop(
        &[a.url.clone(), b.url.clone()],
        300.0,
        Duration::from_secs(4),
    )
    .await;
    let counts = statuses(&sent);
    eprintln!("2 replicas at 300 rps: {counts:?}");
    assert_eq!(
        counts.get(&Some(201)).copied().unwrap_or(0),
        sent.len(),
        "{counts:?}"
    );
    let mut ok = latencies(&sent, 201);
    let p95 = quantile(&mut ok, 0.95);
    assert!(p95 < Duration::from_millis(60), "p95 {p95:?}");
    let (sa, sb) = (stats(&a).await, stats(&b).await);
    assert_eq!(sa.shed_total + sb.shed_total, 0);
    a.stop().await;
    b.stop().await;
}

/// Times `n` sequential feedback requests through the router, in order.
async fn sequential(config: Config, n: usize) -> Vec<Duration> {
    let app = demo_backend::app(demo_backend::AppState::new(config));
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = std::time::Instant::now();
        let r = crate::helpers::call(
            &app,
            http::Method::POST,
            routes::FEEDBACK,
            r#"{"rating":3}"#,
        )
        .await;
        assert_eq!(r.status, http::StatusCode::CREATED);
        out.push(start.elapsed());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_jitter_and_cpu_work_shape_the_latency() {
    use demo_backend::DelayRange;
    let ms = Duration::from_millis;
    // --delay 30ms..60ms: every request waits within the range.
    let delayed = sequential(
        Config {
            delay: Some(DelayRange {
                min: ms(30),
                max: ms(60),
            }),
            ..config()
        },
        20,
    )
    .await;
    assert!(delayed.iter().all(|d| *d >= ms(30)), "{delayed:?}");
    let mut sorted = delayed.clone();
    assert!(quantile(&mut sorted, 0.5) < ms(80), "{delayed:?}");
    assert!(
        quantile(&mut sorted, 1.0) - quantile(&mut sorted, 0.0) > ms(5),
        "no spread: {delayed:?}"
    );

    // --service-time 20ms --jitter 10ms: within 10..30 ms (plus scheduling slack), spread out.
    let jittered = sequential(
        Config {
            service_time: ms(20),
            jitter: ms(10),
            ..config()
        },
        30,
    )
    .await;
    assert!(jittered.iter().all(|d| *d >= ms(9)), "{jittered:?}");
    let mut sorted = jittered.clone();
    assert!(quantile(&mut sorted, 0.5) < ms(35), "{jittered:?}");
    assert!(
        quantile(&mut sorted, 1.0) - quantile(&mut sorted, 0.0) > ms(5),
        "no jitter: {jittered:?}"
    );

    // --cpu-work 25ms: each request burns (at least) that long.
    let burnt = sequential(
        Config {
            cpu_work: ms(25),
            ..config()
        },
        5,
    )
    .await;
    assert!(burnt.iter().all(|d| *d >= ms(25)), "{burnt:?}");
}
