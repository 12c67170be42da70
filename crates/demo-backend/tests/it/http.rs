//! Every route and every error over real HTTP against `run` on 127.0.0.1:0.

use std::time::Duration;

use common::api::{ErrorBody, JobAccepted, Showtime, StatsResponse, Ticket, routes};
use demo_backend::Config;
use http::StatusCode;
use reqwest::Method;

use crate::helpers::{Server, client, config, eventually};

/// Sends one request; returns status, headers and body.
async fn send(
    server: &Server,
    method: Method,
    path: &str,
    body: &str,
) -> (StatusCode, reqwest::header::HeaderMap, String) {
    let r = client()
        .request(method, server.at(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request sent");
    let status = StatusCode::from_u16(r.status().as_u16()).expect("status");
    let headers = r.headers().clone();
    let body = r.text().await.expect("body");
    (status, headers, body)
}

fn error_of(body: &str) -> String {
    serde_json::from_str::<ErrorBody>(body)
        .unwrap_or_else(|e| panic!("not an ErrorBody ({e}): {body}"))
        .error
}

#[tokio::test]
async fn every_route_answers_over_http() {
    let server = Server::start(Config {
        enable_stress: true,
        ..config()
    })
    .await;
    let (s, _, body) = send(&server, Method::GET, routes::HEALTHZ, "").await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, _) = send(&server, Method::GET, routes::READYZ, "").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, body) = send(&server, Method::GET, routes::SHOWTIMES, "").await;
    assert_eq!(s, StatusCode::OK);
    let showtimes: Vec<Showtime> = serde_json::from_str(&body).unwrap();
    assert!(!showtimes.is_empty());

    let (s, _, body) = send(
        &server,
        Method::POST,
        routes::TICKETS,
        r#"{"showtime_id":1,"seats":2}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let ticket: Ticket = serde_json::from_str(&body).unwrap();
    let (s, _, body) = send(
        &server,
        Method::DELETE,
        &format!("/api/tickets/{}", ticket.id),
        "",
    )
    .await;
    assert_eq!((s, body.as_str()), (StatusCode::NO_CONTENT, ""));
    let (s, _, _) = send(
        &server,
        Method::POST,
        routes::FEEDBACK,
        r#"{"rating":5,"comment":"ok"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    let (s, headers, body) = send(
        &server,
        Method::POST,
        "/api/feedback?mode=async",
        r#"{"rating":3}"#,
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let job: JobAccepted = serde_json::from_str(&body).unwrap();
    let location = headers["location"].to_str().unwrap().to_owned();
    assert!(location.ends_with(&job.job_id));
    let (s, _, body) = send(&server, Method::GET, &location, "").await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let (s, _, body) = send(
        &server,
        Method::POST,
        routes::STRESS_CPU,
        r#"{"duration_ms":5}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let (s, _, body) = send(
        &server,
        Method::POST,
        routes::STRESS_MEMORY,
        r#"{"bytes":4096,"hold_ms":1}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");

    let (s, _, body) = send(&server, Method::GET, routes::STATS, "").await;
    assert_eq!(s, StatusCode::OK);
    let stats: StatsResponse = serde_json::from_str(&body).unwrap();
    assert!(stats.requests_total >= 10, "{stats:?}");
    // The replica's own CPU time from /proc (its process here: a test thread's name).
    if cfg!(target_os = "linux") {
        assert!(stats.cpu_seconds.is_some_and(|c| c >= 0.0), "{stats:?}");
    }
    let (s, _, body) = send(&server, Method::GET, routes::METRICS, "").await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains(common::names::HTTP_REQUESTS_TOTAL));
    server.stop().await;
}

#[tokio::test]
async fn every_error_is_json_over_http() {
    let server = Server::start(Config {
        max_body: 1024,
        ..config()
    })
    .await;
    let big = format!(r#"{{"rating":3,"comment":"{}"}}"#, "x".repeat(2048));
    let cases: Vec<(Method, &str, String, StatusCode, &str)> = vec![
        (
            Method::POST,
            routes::FEEDBACK,
            "{oops".into(),
            StatusCode::BAD_REQUEST,
            "malformed JSON",
        ),
        (
            Method::POST,
            routes::FEEDBACK,
            r#"{"rating":true}"#.into(),
            StatusCode::BAD_REQUEST,
            "wrong fields",
        ),
        (
            Method::POST,
            routes::FEEDBACK,
            r#"{"rating":9}"#.into(),
            StatusCode::BAD_REQUEST,
            "rating must be",
        ),
        (
            Method::POST,
            routes::FEEDBACK,
            format!(r#"{{"rating":3,"comment":"{}"}}"#, "y".repeat(501)),
            StatusCode::BAD_REQUEST,
            "comment too long",
        ),
        (
            Method::POST,
            routes::FEEDBACK,
            big,
            StatusCode::PAYLOAD_TOO_LARGE,
            "too large",
        ),
        (
            Method::POST,
            routes::TICKETS,
            r#"{"showtime_id":4242}"#.into(),
            StatusCode::NOT_FOUND,
            "does not exist",
        ),
        (
            Method::GET,
            "/api/unknown",
            String::new(),
            StatusCode::NOT_FOUND,
            "no route",
        ),
        (
            Method::GET,
            "/api/jobs/missing",
            String::new(),
            StatusCode::NOT_FOUND,
            "unknown job",
        ),
        (
            Method::PATCH,
            routes::FEEDBACK,
            String::new(),
            StatusCode::METHOD_NOT_ALLOWED,
            "not allowed",
        ),
        (
            Method::POST,
            routes::STRESS_CPU,
            r#"{"duration_ms":1}"#.into(),
            StatusCode::NOT_FOUND,
            "disabled",
        ),
    ];
    for (method, path, body, status, expected) in cases {
        let (s, headers, text) = send(&server, method.clone(), path, &body).await;
        assert_eq!(s, status, "{method} {path}: {text}");
        assert_eq!(
            headers["content-type"], "application/json",
            "{method} {path}"
        );
        let error = error_of(&text);
        assert!(error.contains(expected), "{method} {path}: {error}");
    }
    // Sold out: fill the smallest showtime with the biggest bookings, then one more.
    let (_, _, body) = send(&server, Method::GET, routes::SHOWTIMES, "").await;
    let showtimes: Vec<Showtime> = serde_json::from_str(&body).unwrap();
    let small = showtimes.iter().min_by_key(|s| s.seats_total).unwrap();
    let per = demo_backend::MAX_SEATS_PER_BOOKING;
    let booking = format!(r#"{{"showtime_id":{},"seats":{per}}}"#, small.id);
    for _ in 0..small.seats_total / u32::from(per) {
        let (s, _, text) = send(&server, Method::POST, routes::TICKETS, &booking).await;
        assert_eq!(s, StatusCode::CREATED, "{text}");
    }
    let (s, _, text) = send(&server, Method::POST, routes::TICKETS, &booking).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(error_of(&text).contains("sold out"));
    server.stop().await;
}

/// Paused clock: the held worker's 1.5 s service time is virtual, so the checks in between
/// cost none of it.
#[tokio::test(start_paused = true)]
async fn overload_and_draining_answer_503_with_retry_after_over_http() {
    let mut server = Server::start(Config {
        workers: 1,
        queue: 0,
        service_time: Duration::from_millis(1500),
        ..config()
    })
    .await;
    let holder = {
        let url = server.at(routes::FEEDBACK);
        tokio::spawn(async move {
            client()
                .post(url)
                .body(r#"{"rating":1}"#)
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    let stats_url = server.at(routes::STATS);
    eventually("the worker to be busy", || {
        let url = stats_url.clone();
        async move {
            let s: StatsResponse = client()
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            s.in_flight == 1
        }
    })
    .await;
    let (s, headers, text) = send(&server, Method::POST, routes::FEEDBACK, r#"{"rating":1}"#).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(error_of(&text).contains("overloaded"));

    server.signal_shutdown();
    let ready_url = server.at(routes::READYZ);
    eventually("/readyz to turn 503", || {
        let url = ready_url.clone();
        async move { client().get(url).send().await.unwrap().status() == 503 }
    })
    .await;
    let (s, headers, text) = send(&server, Method::POST, routes::FEEDBACK, r#"{"rating":1}"#).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert!(error_of(&text).contains("shutting down"), "{text}");
    assert_eq!(holder.await.unwrap().unwrap(), 201);
    server.stop().await;
}
