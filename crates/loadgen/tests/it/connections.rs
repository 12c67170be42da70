//! The engine's connections and lanes: connections bounded by --connections, idle ones closed
//! once past their age, requests moving to a new connection when one breaks or is closed,
//! timeouts of requests waiting for a connection, and lanes that split the schedule exactly
//! and share the in-flight cap.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{config, run, run_until};
use crate::metrics::backend;
use crate::server::{Reply, Server};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_never_exceed_the_flag_when_requests_queue_for_them() {
    let server = Server::start(|_| Reply::ok("slow").after(Duration::from_millis(100))).await;
    // 60 requests in 1 s on 3 connections of 100 ms each: most wait for a connection.
    let args = [
        "--url",
        "/",
        "--base-rps",
        "60",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--connections",
        "3",
        "--threads",
        "2",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.ok, 60, "{t:?}");
    let conns = server.state.connections.load(Ordering::SeqCst);
    assert!(conns <= 3, "{conns} connections");
    assert_eq!(report.connections_opened, conns);
    assert!(server.state.max_in_flight.load(Ordering::SeqCst) <= 3);
    // Queued requests show it in their corrected latency, not in their service time.
    assert!(t.latency.max_ms >= 500.0, "{:?}", t.latency);
    assert!(t.service_time.p99_ms < 500.0, "{:?}", t.service_time);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_once_past_its_age() {
    let server = Arc::new(Server::ok().await);
    // Requests at 0 s and 5 s; the first one's connection idles past its 300 ms age.
    let args = [
        "--url",
        "/",
        "--base-rps",
        "0.2",
        "--ramp-factor",
        "1",
        "--duration",
        "10s",
        "--conn-max-age",
        "300ms",
    ];
    let watcher = server.clone();
    let closed_idle = async move {
        watcher.wait_requests(1, LIMIT).await;
        while watcher.state.closed.load(Ordering::SeqCst) < 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let (_, report) = run_until(config(&server.url, &args), closed_idle, LIMIT).await;
    // Stopped by the close, before the second request was due.
    assert!(report.interrupted);
    assert_eq!(report.total.sent, 1);
    assert_eq!(report.total.ok, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_move_to_a_new_connection_when_the_server_closes_one() {
    let n = Arc::new(AtomicU64::new(0));
    let count = n.clone();
    // Every 10th response ends its connection.
    let server = Server::start(move |_| {
        if count.fetch_add(1, Ordering::SeqCst) % 10 == 9 {
            Reply::ok("bye").closing()
        } else {
            Reply::ok("ok")
        }
    })
    .await;
    let args = [
        "--url",
        "/",
        "--base-rps",
        "100",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--connections",
        "2",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.ok, 100, "{:?} {:?}", t.errors, report.last_errors);
    let conns = server.state.connections.load(Ordering::SeqCst);
    assert!(conns >= 10, "{conns} connections for 10 closes");
    assert_eq!(report.connections_opened, conns);
}

/// A server that answers one request per connection, then closes it without saying so
/// (no `Connection: close`), as a keep-alive timeout would. Returns its URL and the number of
/// connections it accepted.
async fn one_request_per_connection() -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await;
            });
        }
    });
    (url, accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_while_idle_is_replaced_without_an_error() {
    let (url, accepted) = one_request_per_connection().await;
    let args = [
        "--url",
        "/",
        "--base-rps",
        "20",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--connections",
        "1",
    ];
    let report = run(config(&url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.ok, 20, "{:?} {:?}", t.errors, report.last_errors);
    // The start-up check's connection carried the first request; each other one a new one.
    assert_eq!(accepted.load(Ordering::SeqCst), 20);
    assert_eq!(report.connections_opened, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waiting_for_a_connection_times_out_from_its_dispatch() {
    let server = Server::start(|_| Reply::ok("slow").after(Duration::from_millis(300))).await;
    // One connection serves ~3 requests a second; 20 are due in 1 s with a 500 ms timeout.
    let args = [
        "--url",
        "/",
        "--base-rps",
        "20",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--connections",
        "1",
        "--timeout",
        "500ms",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.sent, 20);
    assert_eq!(t.completed, 20);
    assert_eq!(t.ok + t.errors["timeout"], 20, "{:?}", t.errors);
    assert!(t.errors["timeout"] >= 10, "{:?}", t.errors);
    // The time spent waiting for the connection counts: no timeout is shorter than 500 ms
    // from its slot, and none much longer.
    assert!(t.latency.max_ms < 1500.0, "{:?}", t.latency);
    assert!(report.last_errors["timeout"].contains("500ms"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_split_the_schedule_exactly_and_the_mix_does_not_depend_on_them() {
    let mut mixes = Vec::new();
    for threads in ["1", "3"] {
        let server = Server::start(backend()).await;
        let args = [
            "--base-rps",
            "300",
            "--ramp-factor",
            "1",
            "--duration",
            "1s",
            "--arrival",
            "poisson",
            "--seed",
            "9",
            "--threads",
            threads,
        ];
        let report = run(config(&server.url, &args), LIMIT).await;
        let t = &report.total;
        assert_eq!(t.dropped, 0);
        assert_eq!(t.completed, t.sent);
        assert_eq!(server.state.requests.load(Ordering::SeqCst), t.sent);
        let mix: BTreeMap<String, u64> = report
            .actions
            .iter()
            .map(|a| (a.action.clone(), a.sent))
            .collect();
        mixes.push(mix);
    }
    assert_eq!(mixes[0], mixes[1], "same seed, same slots, same actions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lanes_share_one_in_flight_cap() {
    let server = Server::start(|_| Reply::ok("slow").after(Duration::from_millis(200))).await;
    let args = [
        "--url",
        "/",
        "--base-rps",
        "300",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--max-in-flight",
        "7",
        "--threads",
        "3",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.sent + t.dropped, 300);
    assert!(t.dropped >= 200, "dropped {}", t.dropped);
    assert!(server.state.max_in_flight.load(Ordering::SeqCst) <= 7);
    assert!(report.timeline.iter().all(|p| p.in_flight <= 7));
}
