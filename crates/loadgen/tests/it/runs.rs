//! Whole runs against test servers: error kinds, a target dying mid-run, a target down at
//! start, --wait-for-target, shutdown mid-run, shards and connection recycling.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::load::{Arrivals, Ramp, Schedule, Shard};
use tokio::time::Instant;

use test_support::LoadgenArgs;

use crate::helpers::{config, dead_port, load, run, run_until};
use crate::server::{Reply, Server};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_kind_and_status() {
    let server = Server::start(|s| match s.path.as_str() {
        "/api/tickets" => Reply::status(409, r#"{"error":"sold out"}"#),
        "/api/feedback" => Reply::status(503, r#"{"error":"overloaded"}"#),
        _ => Reply::status(204, "").after(Duration::from_secs(3)),
    })
    .await;
    let args = LoadgenArgs::constant(&server.url, 40, "1s").with("--timeout", "300ms");
    let report = run(load(args), LIMIT).await;
    let by = |name: &str| {
        report
            .actions
            .iter()
            .find(|a| a.action == name)
            .unwrap()
            .clone()
    };
    let (book, cancel, feedback) = (by("book_ticket"), by("cancel_ticket"), by("give_feedback"));
    assert!(book.sent > 0 && cancel.sent > 0 && feedback.sent > 0);
    assert_eq!(
        book.errors["http_4xx"], book.sent,
        "409 sold out is http_4xx"
    );
    assert_eq!(book.statuses.get(&409), Some(&book.sent));
    assert_eq!(feedback.errors["http_5xx"], feedback.sent);
    assert_eq!(cancel.errors["timeout"], cancel.sent);
    // A timed-out request keeps its (long) corrected latency; it has no service time.
    assert!(cancel.latency.min_ms >= 300.0, "{:?}", cancel.latency);
    assert_eq!(cancel.service_time.count, 0);
    assert_eq!(report.total.ok, 0);
    assert_eq!(report.total.success_ratio, 0.0);
    assert!(report.last_errors["timeout"].contains("300ms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_dying_mid_run_is_counted_never_a_crash() {
    let server = Arc::new(Server::ok().await);
    let killer = server.clone();
    tokio::spawn(async move {
        killer.wait_requests(30, LIMIT).await;
        killer.kill();
    });
    let args = LoadgenArgs::constant(&server.url, 50, "2s").with("--timeout", "1s");
    let report = run(load(args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.sent, 100);
    assert_eq!(t.completed, 100);
    assert!(t.ok >= 29, "{t:?}");
    let failed = t.errors["connect"] + t.errors["io"] + t.errors["timeout"];
    assert!(failed >= 40, "failures after the kill: {:?}", t.errors);
    assert_eq!(t.ok + failed, 100);
    assert!(
        report.last_errors.contains_key("connect"),
        "{:?}",
        report.last_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_down_at_start_is_named() {
    let port = dead_port().await;
    let target = format!("http://127.0.0.1:{port}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = loadgen::run(config(&target, &[]), Some(listener), std::future::pending())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&target) && msg.contains("--wait-for-target"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_target_waits_for_readyz_then_gives_up_bounded() {
    let ready_at = Instant::now() + Duration::from_millis(700);
    let server = Server::start(move |s| {
        if s.path == "/readyz" && Instant::now() < ready_at {
            Reply::status(503, "draining")
        } else {
            Reply::ok("ok")
        }
    })
    .await;
    let args = LoadgenArgs::constant(&server.url, 20, "1s")
        .flag("--wait-for-target")
        .with("--wait-timeout", "10s");
    let report = run(load(args), LIMIT).await;
    assert!(Instant::now() >= ready_at);
    assert_eq!(report.total.sent, 20);
    assert_eq!(report.total.ok, 20);

    let target = format!("http://127.0.0.1:{}", dead_port().await);
    let cfg = config(&target, &["--wait-for-target", "--wait-timeout", "600ms"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let started = Instant::now();
    let err = loadgen::run(cfg, Some(listener), std::future::pending())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the wait is bounded"
    );
    assert!(err.contains(&target) && err.contains("/readyz"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_run_stops_sending_and_still_reports() {
    let server = Arc::new(Server::ok().await);
    let watcher = server.clone();
    let cfg = load(LoadgenArgs::constant(&server.url, 50, "60s"));
    let stopped_at = Arc::new(std::sync::Mutex::new(None));
    let at = stopped_at.clone();
    let shutdown = async move {
        watcher.wait_requests(25, LIMIT).await;
        *at.lock().unwrap() = Some(Instant::now());
    };
    let (_, report) = run_until(cfg, shutdown, LIMIT).await;
    let stopped = stopped_at.lock().unwrap().unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(2),
        "returns promptly"
    );
    assert!(report.interrupted);
    assert!(
        (25..60).contains(&report.total.sent),
        "sent {}",
        report.total.sent
    );
    assert_eq!(report.total.completed, report.total.sent);
    assert_eq!(report.planned, Some(3000));
    // Nothing goes out after the run returned.
    let after = server.state.requests.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(server.state.requests.load(Ordering::SeqCst), after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_send_exactly_the_whole_schedule() {
    for arrival in ["uniform", "poisson"] {
        let server = Server::ok().await;
        let runs = (0..3).map(|i| {
            let cfg = load(
                LoadgenArgs::constant(&server.url, 150, "2s")
                    .with("--arrival", arrival)
                    .with("--seed", 42)
                    .with("--shard", format!("{i}/3")),
            );
            tokio::spawn(run(cfg, LIMIT))
        });
        let mut sent = 0;
        for r in runs.collect::<Vec<_>>() {
            let report = r.await.unwrap();
            if arrival == "uniform" {
                assert_eq!(Some(report.total.sent), report.planned, "{}", report.shard);
            }
            assert_eq!(report.total.dropped, 0);
            sent += report.total.sent;
        }
        let curve = Ramp {
            base_rps: 150.0,
            factor: 1.0,
            interval: Duration::from_secs(45),
            max_rps: None,
            duration: Duration::from_secs(2),
        }
        .curve()
        .unwrap();
        let arrivals = match arrival {
            "uniform" => Arrivals::Uniform,
            _ => Arrivals::Poisson { seed: 42 },
        };
        let whole = Schedule::new(curve, arrivals, Shard::WHOLE).iter().count() as u64;
        assert_eq!(sent, whole, "{arrival}");
        assert_eq!(
            server.state.requests.load(Ordering::SeqCst),
            whole,
            "{arrival}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_older_than_max_age_are_replaced() {
    let mut opened = Vec::new();
    for age in ["200ms", "1m"] {
        let server = Server::ok().await;
        let args = LoadgenArgs::constant(&server.url, 100, "2s")
            .with("--conn-max-age", age)
            .with("--connections", 4);
        let report = run(load(args), LIMIT).await;
        assert_eq!(report.total.ok, 200);
        let conns = server.state.connections.load(Ordering::SeqCst);
        // The start-up probe's connection is reused, so the report and the server agree.
        assert_eq!(report.connections_opened, conns);
        opened.push(conns);
    }
    let (recycled, kept) = (opened[0], opened[1]);
    // 2 s of traffic with a 200 ms age: about 10 generations of connections.
    assert!(recycled >= 7, "with a 200ms age: {recycled} connections");
    assert!(kept <= 4, "with a 1m age: {kept} connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_beyond_the_machine_ends_on_time_with_the_rest_dropped() {
    let server = Server::ok().await;
    let args = LoadgenArgs::constant(&server.url, 100_000_000, "1s")
        .with("--url", "/")
        .with("--max-in-flight", 20);
    let started = Instant::now();
    let report = run(load(args), LIMIT).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.planned, Some(100_000_000));
    assert!(report.skipped > 0);
    let t = &report.total;
    assert_eq!(
        t.sent + t.dropped,
        100_000_000,
        "every slot is sent or dropped"
    );
    assert_eq!(server.state.requests.load(Ordering::SeqCst), t.sent);
}
