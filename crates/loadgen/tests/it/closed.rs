//! The closed loop (`--vus`, `--vu-stages`): users on their own connections, one request at
//! a time each, `lg_vus` on /metrics, and a summary that says what kind of latency it is.
//! Throughput against a known service time is measured in `timing`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::names;

use crate::helpers::{config, metric, scrape_until};
use crate::server::{Reply, Server};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_users_show_on_metrics_and_the_summary_says_it_is_a_closed_loop() {
    let server = Server::start(|_| Reply::ok("ok").after(Duration::from_millis(20))).await;
    let args = [
        "--url",
        "/",
        "--vus",
        "4",
        "--duration",
        "2s",
        "--think-time",
        "10ms",
    ];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = config(&server.url, &args);
    let running = tokio::spawn(loadgen::run(cfg, Some(listener), std::future::pending()));
    let page = scrape_until(addr, LIMIT, "lg_vus to reach 4", |p| {
        metric(p, names::LG_VUS, &[]) == Some(4.0)
    })
    .await;
    let report = tokio::time::timeout(LIMIT, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        metric(&page, names::LG_TARGET_RPS, &[]),
        Some(0.0),
        "no schedule"
    );
    assert!(metric(&page, names::LG_IN_FLIGHT, &[]).is_some_and(|n| n <= 4.0));

    // Each user waits for its answer: never more than 4 requests at once, on 4 connections
    // (plus the start-up check's).
    assert!(server.state.max_in_flight.load(Ordering::SeqCst) <= 4);
    assert!(server.state.connections.load(Ordering::SeqCst) <= 5);
    let t = &report.total;
    assert_eq!(report.executor, "closed_loop");
    assert_eq!(t.dropped, 0);
    assert_eq!(t.sent, t.ok);
    assert_eq!(t.sent, server.state.requests.load(Ordering::SeqCst));
    let c = report
        .closed_loop
        .as_ref()
        .expect("the closed loop is reported");
    assert_eq!((c.max_vus, c.think_time.as_str()), (4, "10ms"));
    assert!(report.timeline.iter().any(|p| p.vus == Some(4)));
    // Latency is the response time: about the server's 20 ms, with no schedule to lag.
    assert!(t.latency.p50_ms >= 20.0, "{:?}", t.latency);
    let summary = report.summary();
    for says in [
        "closed loop",
        "not comparable",
        "latency (response)",
        "at most 4",
    ] {
        assert!(summary.contains(says), "{says}:\n{summary}");
    }
    assert!(!summary.contains("schedule lag"), "{summary}");
    let md = report.markdown();
    assert!(
        md.contains("**Closed loop**") && md.contains("not comparable"),
        "{md}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(
        json["closed_loop"]["note"]
            .as_str()
            .unwrap()
            .contains("coordinated omission")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_stops_the_users_and_still_reports() {
    let server = Server::ok().await;
    let args = [
        "--url",
        "/",
        "--vus",
        "3",
        "--duration",
        "60s",
        "--think-time",
        "20ms",
    ];
    let cfg = config(&server.url, &args);
    let watcher = std::sync::Arc::new(server);
    let w = watcher.clone();
    let shutdown = async move { w.wait_requests(30, LIMIT).await };
    let started = tokio::time::Instant::now();
    let (_, report) = crate::helpers::run_until(cfg, shutdown, LIMIT).await;
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(report.interrupted);
    assert_eq!(report.total.completed, report.total.sent);
    let after = watcher.state.requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        watcher.state.requests.load(Ordering::SeqCst),
        after,
        "nothing after the end"
    );
}
