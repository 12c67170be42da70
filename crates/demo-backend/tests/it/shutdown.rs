//! Graceful shutdown: after the signal /readyz turns 503 at once, the request in flight
//! still completes, then `run` returns Ok; a request longer than the drain timeout does
//! not keep `run` from returning.

use std::time::{Duration, Instant};

use common::api::{StatsResponse, routes};
use demo_backend::Config;

use crate::helpers::{Server, client, config, eventually};

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

#[tokio::test]
async fn in_flight_request_completes_after_the_signal_and_readyz_turns_503_first() {
    let mut server = Server::start(Config {
        workers: 1,
        service_time: Duration::from_millis(1500),
        ..config()
    })
    .await;
    let slow = {
        let url = server.at(routes::TICKETS);
        tokio::spawn(async move {
            let r = client()
                .post(url)
                .body(r#"{"showtime_id":1}"#)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, Instant::now())
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
        !slow.is_finished(),
        "readiness must drop before the in-flight request ends"
    );
    let (status, done_at) = tokio::time::timeout(Duration::from_secs(10), slow)
        .await
        .expect("the slow request finished")
        .unwrap();
    assert_eq!(status, 201, "the in-flight request completes normally");
    assert!(done_at > readyz_503_at);
    // Then run returns Ok, promptly.
    server.stop().await;
}

#[tokio::test]
async fn an_idle_server_stops_at_once() {
    let server = Server::start(config()).await;
    let started = Instant::now();
    server.stop().await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_drain_timeout_bounds_the_stop() {
    let mut server = Server::start(Config {
        workers: 1,
        service_time: Duration::from_secs(20),
        drain_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let url = server.at(routes::FEEDBACK);
    let stuck =
        tokio::spawn(async move { client().post(url).body(r#"{"rating":1}"#).send().await });
    wait_in_flight(&server, 1).await;
    let started = Instant::now();
    server.signal_shutdown();
    let result = tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("run returned within the drain timeout and grace")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "{took:?}"
    );
    stuck.abort();
}

/// An idle keep-alive connection is closed by the server at shutdown (not left to the
/// half-second grace after which connections are dropped), and `run` returns at once.
#[tokio::test]
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

    let started = Instant::now();
    server.signal_shutdown();
    let result = tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("run returned")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_millis(450), "{took:?}");
    let eof = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the connection was closed");
    assert_eq!(eof.unwrap_or(0), 0);
}
