//! Every error answer through the router in-process (`oneshot`): 400, 404, 405, 409, 413,
//! and 503 for timeouts, a full queue and draining, always as a JSON `ErrorBody`.

use std::time::Duration;

use axum::body::Body;
use common::api::{MAX_COMMENT_CHARS, Showtime, StatsResponse, routes};
use demo_backend::{Config, MAX_SEATS_PER_BOOKING};
use http::{Method, StatusCode, header};
use tokio::time::Instant;

use crate::helpers::{app_with, call, config, eventually};

#[tokio::test]
async fn bad_input_gets_a_json_400() {
    let (app, state) = app_with(config());
    let long = "x".repeat(MAX_COMMENT_CHARS + 1);
    let exact = "é".repeat(MAX_COMMENT_CHARS);
    let cases = [
        (routes::FEEDBACK, "{".to_owned(), "malformed JSON"),
        (routes::FEEDBACK, "".to_owned(), "empty"),
        (
            routes::FEEDBACK,
            r#"{"rating":"five"}"#.to_owned(),
            "wrong fields or types",
        ),
        (
            routes::FEEDBACK,
            r#"{"rating":5,"extra":1}"#.to_owned(),
            "wrong fields or types",
        ),
        (
            routes::FEEDBACK,
            r#"{"rating":0}"#.to_owned(),
            "rating must be between 1 and 5",
        ),
        (
            routes::FEEDBACK,
            r#"{"rating":6}"#.to_owned(),
            "rating must be between 1 and 5",
        ),
        (
            routes::FEEDBACK,
            r#"{"rating":300}"#.to_owned(),
            "wrong fields or types",
        ),
        (
            routes::FEEDBACK,
            format!(r#"{{"rating":3,"comment":"{long}"}}"#),
            "comment too long",
        ),
        (
            routes::TICKETS,
            r#"{"showtime_id":-1}"#.to_owned(),
            "wrong fields or types",
        ),
        (
            routes::TICKETS,
            r#"{"showtime_id":1,"seats":0}"#.to_owned(),
            "seats must be between",
        ),
        (
            routes::TICKETS,
            r#""one""#.to_owned(),
            "wrong fields or types",
        ),
        (
            routes::TICKETS,
            r#"{"showtime_id":1}?mode"#.to_owned(),
            "malformed JSON",
        ),
    ];
    for (route, body, expected) in cases {
        let r = call(&app, Method::POST, route, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{route} {body:.60}");
        let error = r.error();
        assert!(error.contains(expected), "{route} {body:.60}: {error}");
    }
    let too_many = format!(
        r#"{{"showtime_id":1,"seats":{}}}"#,
        MAX_SEATS_PER_BOOKING + 1
    );
    assert_eq!(
        call(&app, Method::POST, routes::TICKETS, too_many)
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    let r = call(
        &app,
        Method::POST,
        "/api/feedback?mode=later",
        r#"{"rating":3}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("unknown mode"));
    // Exactly the limit, in multi-byte characters, is fine: the limit counts characters.
    let r = call(
        &app,
        Method::POST,
        routes::FEEDBACK,
        format!(r#"{{"rating":3,"comment":"{exact}"}}"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(
        state.store_sizes().feedback,
        1,
        "rejected requests store nothing"
    );
}

#[tokio::test]
async fn unknown_showtime_is_404_and_sold_out_is_409() {
    let (app, _) = app_with(config());
    let r = call(
        &app,
        Method::POST,
        routes::TICKETS,
        r#"{"showtime_id":999}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("showtime 999"));

    let r = call(&app, Method::GET, routes::SHOWTIMES, "").await;
    let showtimes: Vec<Showtime> = serde_json::from_slice(&r.body).unwrap();
    let first = &showtimes[0];
    let per = u32::from(MAX_SEATS_PER_BOOKING);
    for _ in 0..first.seats_total / per {
        let body = format!(r#"{{"showtime_id":{},"seats":{per}}}"#, first.id);
        assert_eq!(
            call(&app, Method::POST, routes::TICKETS, body).await.status,
            StatusCode::CREATED
        );
    }
    let body = format!(r#"{{"showtime_id":{},"seats":{per}}}"#, first.id);
    let r = call(&app, Method::POST, routes::TICKETS, body).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.error().contains("sold out"));
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let (app, _) = app_with(Config {
        max_body: 64,
        ..config()
    });
    let body = format!(r#"{{"rating":3,"comment":"{}"}}"#, "x".repeat(100));
    let r = call(&app, Method::POST, routes::FEEDBACK, body).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.error().contains("too large"));
}

/// A body streamed in several chunks (no Content-Length) is read whole, and the limit
/// counts all of it.
#[tokio::test]
async fn a_chunked_body_is_read_whole_and_limited_as_a_whole() {
    let (app, _) = app_with(Config {
        max_body: 64,
        ..config()
    });
    let chunked = |parts: &[&str]| {
        let chunks: Vec<Result<String, std::io::Error>> =
            parts.iter().map(|p| Ok((*p).to_owned())).collect();
        Body::from_stream(futures::stream::iter(chunks))
    };
    let r = call(
        &app,
        Method::POST,
        routes::FEEDBACK,
        chunked(&[r#"{"rat"#, r#"ing":4,"#, r#""comment":"in parts"}"#]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // Each chunk is under the limit, together they are over it.
    let part = format!(r#""{}","#, "x".repeat(40));
    let r = call(
        &app,
        Method::POST,
        routes::FEEDBACK,
        chunked(&[r#"{"rating":4,"comment":"#, &part, &part]),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.error().contains("too large"));
}

#[tokio::test]
async fn a_path_id_that_is_not_utf8_once_decoded_is_a_400() {
    let (app, _) = app_with(config());
    for uri in ["/api/tickets/%FF", "/api/jobs/a%C3"] {
        let method = if uri.contains("tickets") {
            Method::DELETE
        } else {
            Method::GET
        };
        let r = call(&app, method, uri, "").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(r.error().contains("invalid id in the path"), "{uri}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_json() {
    let (app, _) = app_with(config());
    let r = call(&app, Method::GET, "/nope", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("/nope"));
    let r = call(&app, Method::GET, routes::TICKETS, "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.error().contains("not allowed"));
    assert_eq!(r.headers[header::ALLOW], "POST");
    let r = call(&app, Method::PUT, "/api/tickets/abc", "").await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    r.error();
    let r = call(&app, Method::GET, "/api/jobs/unknown", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("unknown job"));
}

/// Paused clock: the answer comes exactly at the timeout, and the work it cut short is
/// counted as an error and gives its worker back.
#[tokio::test(start_paused = true)]
async fn a_request_beyond_the_timeout_is_a_json_503() {
    let (app, state) = app_with(Config {
        workers: 1,
        queue: 0,
        service_time: Duration::from_secs(5),
        request_timeout: Duration::from_millis(50),
        ..config()
    });
    for _ in 0..2 {
        // Had the first request kept the one worker, the second would be shed at once.
        let started = Instant::now();
        let r = call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":4}"#).await;
        assert_eq!(started.elapsed(), Duration::from_millis(50));
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.error().contains("timed out"), "{:?}", r.body);
        assert!(r.json()["detail"].as_str().unwrap().contains("50ms"));
        assert_eq!(r.headers[header::RETRY_AFTER], "1");
    }
    let r = call(&app, Method::GET, routes::STATS, "").await;
    let stats: StatsResponse = serde_json::from_slice(&r.body).unwrap();
    let feedback = stats
        .interactions
        .iter()
        .find(|c| c.action == common::api::Action::GiveFeedback)
        .unwrap();
    assert_eq!((feedback.ok, feedback.errors), (0, 2), "{stats:?}");
    assert_eq!(stats.shed_total, 0);
    assert_eq!(state.store_sizes().feedback, 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_sheds_with_503_and_retry_after() {
    let (app, state) = app_with(Config {
        workers: 1,
        queue: 1,
        service_time: Duration::from_secs(2),
        ..config()
    });
    // One request holds the worker, one waits in the queue; the third is shed at once.
    let busy: Vec<_> = (0..2)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":4}"#).await
            })
        })
        .collect();
    eventually("one running and one queued", || {
        let app = app.clone();
        async move {
            let r = call(&app, Method::GET, routes::STATS, "").await;
            let s: StatsResponse = serde_json::from_slice(&r.body).unwrap();
            s.queue_depth == 1
        }
    })
    .await;
    let started = Instant::now();
    let r = call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":4}"#).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(started.elapsed(), Duration::ZERO, "shed at once");
    assert!(r.error().contains("overloaded"));
    assert_eq!(r.headers[header::RETRY_AFTER], "1");
    // Read-only routes still answer while overloaded.
    assert_eq!(
        call(&app, Method::GET, routes::HEALTHZ, "").await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::GET, routes::SHOWTIMES, "").await.status,
        StatusCode::OK
    );
    for b in busy {
        b.abort();
    }
    eventually("the aborted requests to leave", || {
        let app = app.clone();
        async move {
            let r = call(&app, Method::GET, routes::STATS, "").await;
            let s: StatsResponse = serde_json::from_slice(&r.body).unwrap();
            s.queue_depth == 0 && s.in_flight == 0
        }
    })
    .await;
    assert_eq!(state.store_sizes().feedback, 0);
}

#[tokio::test]
async fn draining_refuses_new_actions_and_unreadies() {
    let (app, state) = app_with(config());
    state.start_draining();
    let r = call(&app, Method::GET, routes::READYZ, "").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.error().contains("draining"));
    let r = call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":4}"#).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.error().contains("shutting down"));
    assert_eq!(
        call(&app, Method::GET, routes::HEALTHZ, "").await.status,
        StatusCode::OK
    );
}
