//! Graceful shutdown, on tokio's paused clock (the service times and the drain timeout are
//! timers, so virtual time tells exactly what waited): after the signal /readyz turns 503 at
//! once, the request in flight still completes, then `run` returns Ok; a request longer than
//! the drain timeout is answered 503 when it runs out and does not keep `run` from returning.

use std::time::Duration;

use common::api::{StatsResponse, routes};
use demo_backend::Config;
use tokio::time::Instant;

use crate::helpers::{Server, client, config, eventually};

/// How long `run` gives open connections after the drain (server.rs); a stop that took
/// this long waited for a connection that never closed.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

async fn wait_in_flight(server: &Server, n: u64) {
    let url = server.at(routes::STATS);
    eventually("the request to be in flight", || {
        let url = url.clone();
        async move {
            let s: StatsResponse = client()
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            s.in_flight == n
        }
    })
    .await;
}

/// Waits for `run` to return Ok after the signal; returns how long that took.
async fn stopped(server: &mut Server) -> Duration {
    let started = Instant::now();
    server.signal_shutdown();
    let result = tokio::time::timeout(Duration::from_secs(30), &mut server.task)
        .await
        .expect("run returned")
        .expect("run did not panic");
    assert!(result.is_ok(), "{result:?}");
    started.elapsed()
}

#[tokio::test(start_paused = true)]
async fn in_flight_request_completes_after_the_signal_and_readyz_turns_503_first() {
    let service_time = Duration::from_millis(1500);
    let mut server = Server::start(Config {
        workers: 1,
        service_time,
        ..config()
    })
    .await;
    let sent_at = Instant::now();
    let slow = {
        let url = server.at(routes::TICKETS);
        tokio::spawn(async move {
            let r = client()
                .post(url)
                .body(r#"{"showtime_id":1}"#)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), Instant::now())
        })
    };
    wait_in_flight(&server, 1).await;
    server.signal_shutdown();
    let ready_url = server.at(routes::READYZ);
    eventually("/readyz to turn 503", || {
        let url = ready_url.clone();
        async move { client().get(url).send().await.unwrap().status() == 503 }
    })
    .await;
    let readyz_503_at = Instant::now();
    assert!(
        readyz_503_at < sent_at + service_time,
        "readiness must drop before the in-flight request ends"
    );
    let (status, done_at) = slow.await.unwrap();
    assert_eq!(status, 201, "the in-flight request completes normally");
    assert!(done_at >= sent_at + service_time && done_at > readyz_503_at);
    // Then run returns Ok, without waiting out the close grace.
    assert!(stopped(&mut server).await < CLOSE_GRACE);
}

#[tokio::test(start_paused = true)]
async fn an_idle_server_stops_at_once() {
    let mut server = Server::start(config()).await;
    let took = stopped(&mut server).await;
    assert!(took < CLOSE_GRACE, "{took:?}");
}

/// The drain timeout bounds the stop: the request still running when it runs out is
/// answered 503 and its connection closes, so `run` returns right after.
#[tokio::test(start_paused = true)]
async fn the_drain_timeout_bounds_the_stop_and_answers_what_still_runs() {
    let drain_timeout = Duration::from_millis(300);
    let mut server = Server::start(Config {
        workers: 1,
        service_time: Duration::from_secs(20),
        drain_timeout,
        ..config()
    })
    .await;
    let url = server.at(routes::FEEDBACK);
    let stuck = tokio::spawn(async move {
        let r = client()
            .post(url)
            .body(r#"{"rating":1}"#)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    });
    wait_in_flight(&server, 1).await;
    let took = stopped(&mut server).await;
    assert!(
        took >= drain_timeout && took < drain_timeout + CLOSE_GRACE,
        "{took:?}"
    );
    let (status, body) = stuck.await.unwrap();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("stopped before answering"), "{body}");
}

/// An idle keep-alive connection is closed by the server at shutdown (not left to the
/// grace after which `run` stops waiting), and `run` returns at once.
#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_at_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut server = Server::start(config()).await;
    let addr = server.url.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    assert!(
        answer[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        &answer[..n]
    );
    let took = stopped(&mut server).await;
    assert!(took < CLOSE_GRACE, "{took:?}");
    let eof = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the connection was closed");
    assert_eq!(eof.unwrap_or(0), 0);
}
