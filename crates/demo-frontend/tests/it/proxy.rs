//! The proxy forwards exactly the three actions, passes answers through, and fails with a
//! clear JSON error on a large body (413), an unknown route (404/405), a backend that is
//! down (502) or too slow (504).

use std::time::{Duration, Instant};

use common::api::{ErrorBody, FeedbackReceipt, Ticket, routes};
use demo_frontend::ReplicaSource;
use serde_json::json;

use crate::support::{Backend, Frontend, closed_url, config, replicas};

async fn error_body(resp: reqwest::Response) -> ErrorBody {
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(ct.starts_with("application/json"), "content-type {ct}");
    resp.json().await.expect("JSON error body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_actions_reach_the_backend_and_answers_pass_through() {
    let a = Backend::start("proxied").await;
    let fe = Frontend::start(config(&a.url, replicas(&[&a]))).await;
    let http = &fe.client;

    let resp = http
        .post(format!("{}{}", fe.url, routes::TICKETS))
        .header(common::api::SESSION_HEADER, "test-session")
        .json(&json!({"showtime_id": 2, "seats": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let ticket: Ticket = resp.json().await.unwrap();
    assert_eq!((ticket.showtime_id, ticket.seats), (2, 2));

    let resp = http
        .delete(format!("{}/api/tickets/{}", fe.url, ticket.id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);

    let resp = http
        .post(format!("{}{}", fe.url, routes::FEEDBACK))
        .json(&json!({"rating": 4, "comment": "nice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let receipt: FeedbackReceipt = resp.json().await.unwrap();
    assert!(!receipt.id.is_empty());

    // The backend's own refusal comes back unchanged.
    let resp = http
        .post(format!("{}{}", fe.url, routes::FEEDBACK))
        .json(&json!({"rating": 9}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(!error_body(resp).await.error.is_empty());

    // The backend counted them: the summary shows one of each.
    fe.wait_for("one booking, one cancel, two feedbacks counted", |s| {
        let total = |i: usize| s.actions[i].ok_total + s.actions[i].errors_total;
        s.actions[0].ok_total == 1 && s.actions[1].ok_total == 1 && total(2) == 2
    })
    .await;

    let metrics = fe.get(routes::METRICS).await.text().await.unwrap();
    assert!(
        metrics.contains(r#"frontend_proxy_requests_total{route="/api/tickets",status="201"} 1"#),
        "{metrics}"
    );
    fe.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_16_kib_is_refused_with_413() {
    let a = Backend::start("limit").await;
    let fe = Frontend::start(config(&a.url, replicas(&[&a]))).await;
    let big = format!(r#"{{"rating":5,"comment":"{}"}}"#, "x".repeat(17 * 1024));
    let resp = fe
        .client
        .post(format!("{}{}", fe.url, routes::FEEDBACK))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(error_body(resp).await.error.contains("16384"));
    fe.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_three_actions_are_proxied() {
    let a = Backend::start("routes").await;
    let fe = Frontend::start(config(&a.url, replicas(&[&a]))).await;
    let http = &fe.client;
    // Backend routes that are not actions are not reachable through the frontend.
    for path in [routes::STATS, routes::SHOWTIMES, "/api/stress/cpu", "/nope"] {
        let resp = fe.get(path).await;
        assert_eq!(resp.status(), 404, "GET {path}");
        assert_eq!(error_body(resp).await.error, "no such route");
    }
    let resp = http
        .get(format!("{}{}", fe.url, routes::TICKETS))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert!(
        error_body(resp)
            .await
            .detail
            .unwrap()
            .contains("POST /api/tickets")
    );
    let resp = http
        .put(format!("{}{}", fe.url, routes::FEEDBACK))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    fe.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_is_down_gives_502_naming_it() {
    let down = closed_url().await;
    let fe = Frontend::start(config(&down, ReplicaSource::Static(vec![down.clone()]))).await;
    let resp = fe
        .client
        .post(format!("{}{}", fe.url, routes::TICKETS))
        .json(&json!({"showtime_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 502);
    let body = error_body(resp).await;
    assert!(body.error.contains(&down), "{body:?}");
    fe.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_does_not_answer_gives_504_after_the_timeout() {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let mut cfg = config(&url, ReplicaSource::Static(vec![url.clone()]));
    cfg.proxy_timeout = Duration::from_millis(400);
    let fe = Frontend::start(cfg).await;
    let started = Instant::now();
    let resp = fe
        .client
        .post(format!("{}{}", fe.url, routes::TICKETS))
        .json(&json!({"showtime_id": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 504);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let body = error_body(resp).await;
    assert!(
        body.error.contains("400ms") && body.error.contains(&url),
        "{body:?}"
    );
    // The poller times out on it too, and says so.
    let s = fe
        .wait_for("silent backend unreachable", |s| {
            s.backend.state == demo_frontend::summary::BackendState::Unreachable
        })
        .await;
    assert!(
        s.backend.message.contains("no answer within"),
        "{}",
        s.backend.message
    );
    fe.stop().await;
    hold.abort();
}
