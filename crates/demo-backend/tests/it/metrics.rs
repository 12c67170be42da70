//! `/metrics` parsed back: DESIGN.md's names, counters equal to the requests sent, the
//! exact latency buckets, bounded labels, one page per instance, and promtool's approval.

use std::time::Duration;

use common::api::{JobState, JobStatus, routes};
use common::names::{self, label, outcome};
use demo_backend::Config;
use http::StatusCode;

use crate::helpers::{Server, client, config, eventually, scrape};

async fn post(server: &Server, path: &str, body: &str) -> u16 {
    client()
        .post(server.at(path))
        .body(body.to_owned())
        .send()
        .await
        .expect("sent")
        .status()
        .as_u16()
}

#[tokio::test]
async fn counters_match_the_requests_sent_and_promtool_accepts_the_page() {
    let server = Server::start(config()).await;
    let (books, feedbacks, bad, cancels, unknown) = (7, 5, 3, 2, 4);
    for _ in 0..books {
        assert_eq!(
            post(&server, routes::TICKETS, r#"{"showtime_id":1}"#).await,
            201
        );
    }
    for _ in 0..feedbacks {
        assert_eq!(
            post(&server, routes::FEEDBACK, r#"{"rating":5}"#).await,
            201
        );
    }
    for _ in 0..bad {
        assert_eq!(
            post(&server, routes::FEEDBACK, r#"{"rating":0}"#).await,
            400
        );
    }
    for i in 0..cancels {
        let r = client()
            .delete(server.at(&format!("/api/tickets/none-{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }
    for i in 0..unknown {
        let r = client()
            .get(server.at(&format!("/no/such/path/{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let r = client()
        .get(server.at(routes::FEEDBACK))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);

    let m = scrape(&server).await;
    let interactions = |action: &str, outcome: &str| {
        m.value(
            names::APP_INTERACTIONS_TOTAL,
            &[(label::ACTION, action), (label::OUTCOME, outcome)],
        )
    };
    assert_eq!(interactions("book_ticket", outcome::OK), books as f64);
    assert_eq!(interactions("give_feedback", outcome::OK), feedbacks as f64);
    assert_eq!(interactions("give_feedback", outcome::REJECTED), bad as f64);
    assert_eq!(
        interactions("cancel_ticket", outcome::NOT_FOUND),
        cancels as f64
    );
    assert_eq!(interactions("cancel_ticket", outcome::SHED), 0.0);

    let requests = |method: &str, route: &str, status: &str| {
        m.value(
            names::HTTP_REQUESTS_TOTAL,
            &[
                (label::METHOD, method),
                (label::ROUTE, route),
                (label::STATUS, status),
            ],
        )
    };
    assert_eq!(requests("POST", routes::TICKETS, "201"), books as f64);
    assert_eq!(requests("POST", routes::FEEDBACK, "201"), feedbacks as f64);
    assert_eq!(requests("POST", routes::FEEDBACK, "400"), bad as f64);
    assert_eq!(requests("DELETE", routes::TICKET, "204"), cancels as f64);
    assert_eq!(requests("GET", "unmatched", "404"), unknown as f64);
    assert_eq!(requests("GET", routes::FEEDBACK, "405"), 1.0);
    // The template itself is the label, braces included.
    assert!(m.text.contains(r#"route="/api/tickets/{id}""#));
    // Raw paths and ids never become labels.
    let route_labels = m.label_values(names::HTTP_REQUESTS_TOTAL, label::ROUTE);
    assert!(
        route_labels
            .iter()
            .all(|r| r == "unmatched" || r.starts_with('/'))
    );
    assert!(
        !route_labels
            .iter()
            .any(|r| r.contains("none-") || r.contains("/no/such")),
        "{route_labels:?}"
    );

    // A real histogram with exactly the shared buckets, counting the same requests.
    let bucket_name = format!("{}_bucket", names::HTTP_REQUEST_DURATION_SECONDS);
    let mut buckets: Vec<(f64, f64)> = m
        .matching(
            &bucket_name,
            &[(label::ROUTE, routes::TICKETS), (label::STATUS, "201")],
        )
        .map(|s| {
            let le = s.label("le").expect("a bucket has `le`");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().expect("numeric le")
            };
            (le, s.value)
        })
        .collect();
    assert!(
        !buckets.is_empty(),
        "a latency histogram for POST /api/tickets 201"
    );
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let les: Vec<f64> = buckets
        .iter()
        .map(|b| b.0)
        .filter(|le| le.is_finite())
        .collect();
    assert_eq!(les, names::HTTP_LATENCY_BUCKETS);
    assert_eq!(
        buckets.last().map(|b| (b.0, b.1)),
        Some((f64::INFINITY, books as f64))
    );
    let count_name = format!("{}_count", names::HTTP_REQUEST_DURATION_SECONDS);
    assert_eq!(
        m.value(
            &count_name,
            &[(label::ROUTE, routes::TICKETS), (label::STATUS, "201")]
        ),
        books as f64
    );

    for gauge in [
        names::APP_ACTIVE_SESSIONS,
        names::APP_QUEUE_DEPTH,
        names::APP_JOBS_PENDING,
        names::HTTP_REQUESTS_IN_FLIGHT,
    ] {
        assert!(
            m.text.contains(&format!("# TYPE {gauge} gauge")),
            "{gauge} missing"
        );
    }
    assert!(m.text.contains(&format!(
        "# TYPE {} counter",
        names::APP_SHED_REQUESTS_TOTAL
    )));
    assert!(
        m.text
            .contains(&format!("# HELP {}", names::HTTP_REQUESTS_TOTAL))
    );
    // The scrape itself is in flight while rendering; nothing is queued.
    assert_eq!(m.value(names::HTTP_REQUESTS_IN_FLIGHT, &[]), 1.0);
    assert_eq!(m.value(names::APP_QUEUE_DEPTH, &[]), 0.0);

    test_support::assert_promtool_accepts(&m.text);
    server.stop().await;
}

#[tokio::test]
async fn each_instance_renders_only_its_own_series() {
    let a = Server::start(config()).await;
    let b = Server::start(config()).await;
    for _ in 0..3 {
        assert_eq!(post(&a, routes::FEEDBACK, r#"{"rating":2}"#).await, 201);
    }
    let ma = scrape(&a).await;
    let mb = scrape(&b).await;
    let ok = [
        (label::ACTION, "give_feedback"),
        (label::OUTCOME, outcome::OK),
    ];
    assert_eq!(ma.value(names::APP_INTERACTIONS_TOTAL, &ok), 3.0);
    assert_eq!(mb.value(names::APP_INTERACTIONS_TOTAL, &ok), 0.0);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn sessions_gauge_counts_distinct_session_ids() {
    let server = Server::start(config()).await;
    for id in ["s1", "s2", "s3", "s1"] {
        let r = client()
            .get(server.at(routes::HEALTHZ))
            .header(common::api::SESSION_HEADER, id)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    let m = scrape(&server).await;
    assert_eq!(m.value(names::APP_ACTIVE_SESSIONS, &[]), 3.0);
    server.stop().await;
}

/// `app_jobs_pending` over real HTTP, on the paused clock: 1 while an async job runs its
/// service time, 0 once it has finished, and never touched by sync requests.
#[tokio::test(start_paused = true)]
async fn jobs_pending_counts_an_async_job_until_it_finishes() {
    let service_time = Duration::from_secs(2);
    let server = Server::start(Config {
        service_time,
        ..config()
    })
    .await;
    let pending = |m: &crate::helpers::Metrics| m.value(names::APP_JOBS_PENDING, &[]);
    assert_eq!(pending(&scrape(&server).await), 0.0);

    let accepted_at = tokio::time::Instant::now();
    let r = client()
        .post(server.at("/api/feedback?mode=async"))
        .body(r#"{"rating":4}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = server.at(r.headers()["location"].to_str().unwrap());
    let job = || async {
        let r = client().get(location.as_str()).send().await.unwrap();
        r.json::<JobStatus>().await.unwrap()
    };
    assert_ne!(job().await.state, JobState::Succeeded);
    assert_eq!(pending(&scrape(&server).await), 1.0);

    eventually("the job to finish", || async {
        job().await.state == JobState::Succeeded
    })
    .await;
    assert!(accepted_at.elapsed() >= service_time);
    let m = scrape(&server).await;
    assert_eq!(pending(&m), 0.0);
    assert_eq!(
        m.value(
            names::APP_INTERACTIONS_TOTAL,
            &[
                (label::ACTION, "give_feedback"),
                (label::OUTCOME, outcome::OK)
            ]
        ),
        1.0
    );
    server.stop().await;
}
