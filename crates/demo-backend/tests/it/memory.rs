//! Memory stays flat: the stores hold at most their caps however many requests arrive.

use common::api::routes;
use demo_backend::{FEEDBACK_CAP, JOB_CAP, TICKET_CAP};
use http::{Method, StatusCode};

use crate::helpers::{app_with, call, config};

#[tokio::test]
async fn many_requests_keep_every_store_within_its_cap() {
    // A queue deep enough for the async jobs this test spawns faster than they run.
    let (app, state) = app_with(demo_backend::Config {
        queue: JOB_CAP * 2,
        ..config()
    });
    let n = TICKET_CAP.max(FEEDBACK_CAP) * 3;
    for i in 0..n {
        let body = format!(r#"{{"showtime_id":{}}}"#, 1 + i % 5);
        let r = call(&app, Method::POST, routes::TICKETS, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "booking {i}: {:?}", r.body);
        let r = call(
            &app,
            Method::POST,
            routes::FEEDBACK,
            r#"{"rating":4,"comment":"memory"}"#,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let sizes = state.store_sizes();
    assert_eq!(sizes.tickets, TICKET_CAP);
    assert_eq!(sizes.feedback, FEEDBACK_CAP);
    for _ in 0..(JOB_CAP + 50) {
        let r = call(
            &app,
            Method::POST,
            "/api/feedback?mode=async",
            r#"{"rating":4}"#,
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let sizes = state.store_sizes();
    assert!(sizes.jobs <= JOB_CAP, "{sizes:?}");
    assert_eq!(sizes.feedback, FEEDBACK_CAP);
}
