//! The capacity model, measured on the wall clock (run alone by nextest), with the project's
//! own open-loop load generator (`loadgen::run`): 4 workers × 20 ms carry 150 rps with low
//! latency and no 503; 600 rps queues then sheds; two replicas carry 300 rps. And
//! `--cpu-work`, which is real CPU, not a timer.

use std::time::Duration;

use clap::Parser;
use common::api::{StatsResponse, routes};
use common::names::{self, label};
use demo_backend::Config;
use tokio::net::TcpListener;

use crate::helpers::{Metrics, Server, client, config, scrape};

/// The orchestrator's default replica: 4 workers × 20 ms (200 rps), queue 32.
fn replica() -> Config {
    Config {
        workers: 4,
        service_time: Duration::from_millis(20),
        queue: 32,
        ..config()
    }
}

/// `give_feedback` at a constant `rps` for `duration` against `server`, open loop
/// (latency from each request's intended send time, as wrk2 and oha measure it).
async fn load(server: &Server, rps: u32, duration: Duration) -> loadgen::Report {
    let seconds = format!("{}ms", duration.as_millis());
    let opts = loadgen::Opts::try_parse_from([
        "loadgen",
        "--target",
        server.url.as_str(),
        "--actions",
        "give_feedback",
        "--base-rps",
        &rps.to_string(),
        "--ramp-factor",
        "1",
        "--duration",
        &seconds,
        "--timeout",
        "5s",
        "--progress",
        "off",
    ])
    .expect("loadgen flags");
    let config = opts.into_config().expect("loadgen config");
    let metrics = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let limit = duration + Duration::from_secs(15);
    tokio::time::timeout(
        limit,
        loadgen::run(config, Some(metrics), std::future::pending()),
    )
    .await
    .expect("the load run ended in time")
    .expect("the load run succeeded")
}

fn status_count(report: &loadgen::Report, status: u16) -> u64 {
    report.total.statuses.get(&status).copied().unwrap_or(0)
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

/// The share of `POST /api/feedback` answers of `status` the server itself answered within
/// `le` seconds (a bucket bound), from its own latency histogram.
fn answered_within(m: &Metrics, status: &str, le: &str) -> f64 {
    let name = format!("{}_bucket", names::HTTP_REQUEST_DURATION_SECONDS);
    let filter = |le: &str| {
        m.value(
            &name,
            &[
                (label::ROUTE, routes::FEEDBACK),
                (label::STATUS, status),
                ("le", le),
            ],
        )
    };
    filter(le) / filter("+Inf")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_serves_150_rps_with_p95_under_40ms() {
    let server = Server::start(replica()).await;
    let report = load(&server, 150, Duration::from_secs(4)).await;
    let total = &report.total;
    eprintln!(
        "150 rps: {:?}, p50 {} ms, p95 {} ms",
        total.statuses, total.latency.p50_ms, total.latency.p95_ms
    );
    assert_eq!(total.sent, 600, "the whole schedule went out");
    assert_eq!((total.dropped, report.skipped), (0, 0));
    assert_eq!(
        status_count(&report, 201),
        total.sent,
        "{:?}",
        total.statuses
    );
    // Each request holds a worker 20 ms: nothing can be faster, and with spare workers
    // nothing should wait long.
    assert!(total.latency.p50_ms >= 20.0, "{:?}", total.latency);
    assert!(total.latency.p95_ms < 40.0, "{:?}", total.latency);
    let s = stats(&server).await;
    assert_eq!(s.shed_total, 0);
    assert!(s.latency_p95_ms >= 20.0 && s.latency_p95_ms < 40.0, "{s:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_at_600_rps_queues_then_sheds() {
    let server = Server::start(replica()).await;
    let duration = Duration::from_secs(3);
    let report = load(&server, 600, duration).await;
    let total = &report.total;
    eprintln!("600 rps: {:?}, latency {:?}", total.statuses, total.latency);
    let (ok, shed) = (status_count(&report, 201), status_count(&report, 503));
    assert_eq!(
        ok + shed,
        total.sent,
        "only 201 and 503: {:?}",
        total.statuses
    );
    assert_eq!(total.completed, total.sent, "{:?}", report.last_errors);
    // Capacity is 4 / 20 ms = 200 rps: about 600 served in 3 s (plus the queue), the rest
    // shed. A model that did not limit (or limited on CPU) would be far off either way.
    let served_rate = ok as f64 / duration.as_secs_f64();
    assert!(
        (150.0..=250.0).contains(&served_rate),
        "served {served_rate:.0} rps: {:?}",
        total.statuses
    );
    assert!(
        shed as f64 > total.sent as f64 * 0.5,
        "{:?}",
        total.statuses
    );
    // Queue wait shows in latency: with 32 queued ahead a request waits about 160 ms, in
    // the clients' view and in the server's own histogram of its 201s.
    assert!(total.latency.p95_ms > 100.0, "{:?}", total.latency);
    let m = scrape(&server).await;
    let quick = answered_within(&m, "201", "0.1");
    assert!(
        quick < 0.95,
        "{quick:.2} of the 201s within 100 ms: no queueing"
    );
    // Shed answers are immediate.
    let instant = answered_within(&m, "503", "0.01");
    assert!(instant > 0.9, "only {instant:.2} of the 503s within 10 ms");
    // The replica counted exactly what the clients saw.
    assert_eq!(stats(&server).await.shed_total, shed);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_serve_300_rps_without_503() {
    let a = Server::start(replica()).await;
    let b = Server::start(replica()).await;
    let duration = Duration::from_secs(4);
    // Half the rate on each, as a round-robin balancer would send it.
    let (ra, rb) = tokio::join!(load(&a, 150, duration), load(&b, 150, duration));
    for (name, report) in [("a", &ra), ("b", &rb)] {
        let total = &report.total;
        eprintln!("replica {name} at 150 of 300 rps: {:?}", total.statuses);
        assert_eq!(total.sent, 600);
        assert_eq!(
            status_count(report, 201),
            total.sent,
            "{:?}",
            total.statuses
        );
        assert!(total.latency.p95_ms < 60.0, "{:?}", total.latency);
    }
    let (sa, sb) = (stats(&a).await, stats(&b).await);
    assert_eq!(sa.shed_total + sb.shed_total, 0);
    a.stop().await;
    b.stop().await;
}

/// `--cpu-work 25ms`: each request burns (at least) that long, on the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_work_takes_real_time() {
    let work = Duration::from_millis(25);
    let app = demo_backend::app(demo_backend::AppState::new(Config {
        cpu_work: work,
        ..config()
    }));
    for _ in 0..5 {
        let start = std::time::Instant::now();
        let r = crate::helpers::call(
            &app,
            http::Method::POST,
            routes::FEEDBACK,
            r#"{"rating":3}"#,
        )
        .await;
        assert_eq!(r.status, http::StatusCode::CREATED);
        let took = start.elapsed();
        assert!(took >= work, "{took:?}");
    }
}
