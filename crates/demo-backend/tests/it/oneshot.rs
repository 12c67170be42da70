//! Every route through the router in-process (`oneshot`), no network; the error answers
//! are in `oneshot_errors`.

use std::time::Duration;

use common::api::{
    FeedbackReceipt, JobAccepted, JobState, JobStatus, Showtime, StatsResponse, Ticket, routes,
};
use demo_backend::{Config, Mode};
use http::{Method, Request, StatusCode, header};

use crate::helpers::{app_with, call, call_with, config, eventually};

#[tokio::test]
async fn health_readiness_and_showtimes_answer() {
    let (app, _) = app_with(config());
    let r = call(&app, Method::GET, routes::HEALTHZ, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    let r = call(&app, Method::GET, routes::READYZ, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["replica"], "test-replica");
    let r = call(&app, Method::GET, routes::SHOWTIMES, "").await;
    assert_eq!(r.status, StatusCode::OK);
    let showtimes: Vec<Showtime> = serde_json::from_slice(&r.body).unwrap();
    assert!(showtimes.len() >= 3);
    assert!(showtimes.iter().all(|s| s.seats_available == s.seats_total));
    let r = call(&app, Method::GET, routes::METRICS, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test]
async fn booking_and_cancelling_a_ticket_moves_seats() {
    let (app, _) = app_with(config());
    let r = call(
        &app,
        Method::POST,
        routes::TICKETS,
        r#"{"showtime_id":2,"seats":3}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let ticket: Ticket = serde_json::from_slice(&r.body).unwrap();
    assert_eq!((ticket.showtime_id, ticket.seats), (2, 3));

    let seats_left = |body: &[u8]| {
        let s: Vec<Showtime> = serde_json::from_slice(body).unwrap();
        let s = s.into_iter().find(|s| s.id == 2).unwrap();
        s.seats_total - s.seats_available
    };
    let r = call(&app, Method::GET, routes::SHOWTIMES, "").await;
    assert_eq!(seats_left(&r.body), 3);

    let uri = format!("/api/tickets/{}", ticket.id);
    let r = call(&app, Method::DELETE, &uri, "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.body.is_empty());
    let r = call(&app, Method::GET, routes::SHOWTIMES, "").await;
    assert_eq!(seats_left(&r.body), 0);
    // Path ids are percent-decoded: a ticket booked again and cancelled by its escaped id.
    let r = call(
        &app,
        Method::POST,
        routes::TICKETS,
        r#"{"showtime_id":2,"seats":2}"#,
    )
    .await;
    let ticket: Ticket = serde_json::from_slice(&r.body).unwrap();
    let escaped = ticket.id.replace('-', "%2D");
    let r = call(&app, Method::DELETE, &format!("/api/tickets/{escaped}"), "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = call(&app, Method::GET, routes::SHOWTIMES, "").await;
    assert_eq!(
        seats_left(&r.body),
        0,
        "cancelling by the escaped id freed the seats"
    );
    // Idempotent: a second cancel and an unknown id are 204 too.
    assert_eq!(
        call(&app, Method::DELETE, &uri, "").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::DELETE, "/api/tickets/nope", "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

#[tokio::test]
async fn feedback_is_stored() {
    let (app, state) = app_with(config());
    let r = call(
        &app,
        Method::POST,
        routes::FEEDBACK,
        r#"{"rating":5,"comment":"great"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let receipt: FeedbackReceipt = serde_json::from_slice(&r.body).unwrap();
    assert!(!receipt.id.is_empty());
    let r = call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":1}"#).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(state.store_sizes().feedback, 2);
}

#[tokio::test]
async fn stress_routes_are_404_unless_enabled_and_capped() {
    let (app, _) = app_with(config());
    let r = call(
        &app,
        Method::POST,
        routes::STRESS_CPU,
        r#"{"duration_ms":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.error().contains("disabled"));

    let (app, _) = app_with(Config {
        enable_stress: true,
        ..config()
    });
    let r = call(
        &app,
        Method::POST,
        routes::STRESS_CPU,
        r#"{"duration_ms":20}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json()["kind"], "cpu");
    let r = call(
        &app,
        Method::POST,
        routes::STRESS_CPU,
        r#"{"duration_ms":600000}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.error().contains("at most"));
    let r = call(
        &app,
        Method::POST,
        routes::STRESS_MEMORY,
        r#"{"bytes":1048576,"hold_ms":5}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["bytes"], 1_048_576);
    let r = call(
        &app,
        Method::POST,
        routes::STRESS_MEMORY,
        r#"{"bytes":1099511627776}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = call(
        &app,
        Method::POST,
        routes::STRESS_MEMORY,
        r#"{"bytes":1,"hold_ms":99999999}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test(start_paused = true)]
async fn async_mode_answers_202_and_the_job_completes() {
    let (app, _) = app_with(Config {
        service_time: Duration::from_millis(5),
        ..config()
    });
    let r = call(
        &app,
        Method::POST,
        "/api/tickets?mode=async",
        r#"{"showtime_id":1}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let accepted: JobAccepted = serde_json::from_slice(&r.body).unwrap();
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/jobs/{}", accepted.job_id));

    let job_state = |app: axum::Router, location: String| async move {
        let r = call(&app, Method::GET, &location, "").await;
        assert_eq!(r.status, StatusCode::OK);
        serde_json::from_slice::<JobStatus>(&r.body).unwrap()
    };
    eventually("the job to succeed", || {
        let (app, location) = (app.clone(), location.clone());
        async move { job_state(app, location).await.state == JobState::Succeeded }
    })
    .await;
    let job = job_state(app.clone(), location.clone()).await;
    let ticket: Ticket = serde_json::from_value(job.result.unwrap()).unwrap();
    assert_eq!(ticket.showtime_id, 1);

    // --mode async makes it the default; ?mode=sync still overrides per request.
    let (app, _) = app_with(Config {
        mode: Mode::Async,
        ..config()
    });
    let r = call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":2}"#).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = call(
        &app,
        Method::POST,
        "/api/feedback?mode=sync",
        r#"{"rating":2}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Bad input is refused at once, not turned into a failed job.
    let r = call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":9}"#).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn stats_count_requests_actions_and_sessions() {
    let (app, _) = app_with(config());
    for session in ["a", "b", "a"] {
        let req = Request::builder()
            .method(Method::POST)
            .uri(routes::FEEDBACK)
            .header(common::api::SESSION_HEADER, session);
        assert_eq!(
            call_with(&app, req, r#"{"rating":4}"#).await.status,
            StatusCode::CREATED
        );
    }
    let req = Request::builder()
        .method(Method::GET)
        .uri(routes::HEALTHZ)
        .header(header::COOKIE, "session_id=c");
    call_with(&app, req, "").await;
    call(&app, Method::POST, routes::FEEDBACK, r#"{"rating":0}"#).await;
    let r = call(&app, Method::GET, routes::STATS, "").await;
    assert_eq!(r.status, StatusCode::OK);
    let stats: StatsResponse = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(stats.replica, "test-replica");
    assert_eq!(stats.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(stats.active_sessions, 3);
    // 3 feedback + healthz + the bad feedback; the stats request itself is answered after.
    assert_eq!(stats.requests_total, 5);
    let feedback = stats
        .interactions
        .iter()
        .find(|c| c.action == common::api::Action::GiveFeedback)
        .unwrap();
    assert_eq!((feedback.ok, feedback.errors), (3, 1));
    assert_eq!(stats.workers, 8);
    assert_eq!(
        (stats.in_flight, stats.queue_depth, stats.shed_total),
        (0, 0, 0)
    );
    assert!(stats.latency_p50_ms > 0.0 && stats.latency_p95_ms >= stats.latency_p50_ms);
    assert!(stats.uptime_seconds >= 0.0);
}

/// A background job is running work, not an HTTP request in flight: /api/stats does not
/// count it in `in_flight`.
#[tokio::test(start_paused = true)]
async fn a_running_job_is_not_an_http_request_in_flight() {
    let (app, _) = app_with(Config {
        service_time: Duration::from_secs(2),
        ..config()
    });
    let r = call(
        &app,
        Method::POST,
        "/api/feedback?mode=async",
        r#"{"rating":4}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let r = call(&app, Method::GET, routes::STATS, "").await;
    let stats: StatsResponse = serde_json::from_slice(&r.body).unwrap();
    let r = call(&app, Method::GET, &location, "").await;
    let job: JobStatus = serde_json::from_slice(&r.body).unwrap();
    assert_ne!(job.state, JobState::Succeeded, "the job is still running");
    assert_eq!(stats.in_flight, 0, "{stats:?}");
}
