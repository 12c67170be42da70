//! Async mode (`--mode async`): requests carry `?mode=async`, 202s are followed to their
//! job's end, job ends are counted by kind, and polls are never counted as load. Job
//! durations against the backend's service time are measured in `timing`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::names::{self, error_kind};

use crate::helpers::{Backend, config, metric, run, scrape_until};
use crate::server::{Reply, Server};

const LIMIT: Duration = Duration::from_secs(30);

/// A backend whose feedback jobs fail, whose cancellations are forgotten at once (404) and
/// whose bookings never finish.
fn job_server() -> impl Fn(&crate::server::Seen) -> Reply + Send + Sync + 'static {
    |s| {
        let accepted = |id: &str| Reply::status(202, &format!(r#"{{"job_id":"{id}"}}"#));
        let action = s.path.starts_with("/api/tickets") || s.path == "/api/feedback";
        if action && s.query.as_deref() != Some("mode=async") {
            return Reply::status(400, r#"{"error":"expected ?mode=async"}"#);
        }
        match (s.method.as_str(), s.path.as_str()) {
            ("POST", "/api/feedback") => accepted("fb-1"),
            ("POST", "/api/tickets") => accepted("bk-1"),
            ("DELETE", _) => accepted("gone-1"),
            ("GET", "/api/jobs/fb-1") => Reply::ok(
                r#"{"job_id":"fb-1","action":"give_feedback","state":"failed","result":{"error":"x"}}"#,
            ),
            ("GET", "/api/jobs/bk-1") => {
                Reply::ok(r#"{"job_id":"bk-1","action":"book_ticket","state":"running"}"#)
            }
            ("GET", "/api/jobs/gone-1") => Reply::status(404, r#"{"error":"unknown job"}"#),
            _ => Reply::status(404, r#"{"error":"not found"}"#),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_that_fail_or_expire_are_errors_of_their_kind_and_polls_are_not_load() {
    let server = Server::start(job_server()).await;
    let cfg = config(
        &server.url,
        &[
            "--mode",
            "async",
            "--base-rps",
            "30",
            "--ramp-factor",
            "1",
            "--duration",
            "1s",
            "--poll-interval",
            "20ms",
            "--job-max-wait",
            "3s",
        ],
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let running = tokio::spawn(loadgen::run(cfg, Some(listener), std::future::pending()));
    // While the bookings' jobs are still followed, the others have ended: scrape then.
    let ended = |page: &str, action: &str, kind: &str| {
        let sent = metric(page, names::LG_SENT_REQUESTS_TOTAL, &[("action", action)]);
        let errors = metric(
            page,
            names::LG_ERRORS_TOTAL,
            &[("action", action), ("kind", kind)],
        );
        sent.is_some_and(|n| n > 0.0 && errors == Some(n))
    };
    let sent = |page: &str| -> f64 {
        ["book_ticket", "cancel_ticket", "give_feedback"]
            .iter()
            .filter_map(|a| metric(page, names::LG_SENT_REQUESTS_TOTAL, &[("action", a)]))
            .sum()
    };
    let page = scrape_until(addr, LIMIT, "feedback and cancel jobs to end", |p| {
        sent(p) == 30.0
            && ended(p, "give_feedback", error_kind::JOB_FAILED)
            && ended(p, "cancel_ticket", error_kind::JOB_EXPIRED)
    })
    .await;
    let report = tokio::time::timeout(LIMIT, running)
        .await
        .expect("the run ends once the bookings' jobs expire")
        .unwrap()
        .unwrap();

    let t = &report.total;
    assert_eq!(report.mode, "async");
    assert_eq!(t.sent, 30);
    assert_eq!(t.completed, 30, "every request ended with its job");
    assert_eq!(t.ok, 0);
    assert_eq!(t.statuses.get(&202), Some(&30));
    let by = |name: &str| report.actions.iter().find(|a| a.action == name).unwrap();
    let (book, cancel, feedback) = (by("book_ticket"), by("cancel_ticket"), by("give_feedback"));
    for a in [book, cancel, feedback] {
        let j = a.jobs.as_ref().expect("async mode reports jobs");
        assert_eq!(j.accepted, a.sent, "{}", a.action);
        assert_eq!(j.failed + j.expired + j.succeeded, a.sent, "{}", a.action);
    }
    let jobs = |a: &loadgen::report::ActionReport| a.jobs.clone().unwrap();
    assert_eq!(jobs(feedback).failed, feedback.sent);
    assert_eq!(feedback.errors[error_kind::JOB_FAILED], feedback.sent);
    assert_eq!(
        jobs(feedback).duration.count,
        feedback.sent,
        "failed jobs ended: timed"
    );
    assert_eq!(jobs(cancel).expired, cancel.sent);
    assert_eq!(cancel.errors[error_kind::JOB_EXPIRED], cancel.sent);
    assert_eq!(
        jobs(cancel).duration.count,
        0,
        "a forgotten job's end was never seen"
    );
    assert_eq!(jobs(book).expired, book.sent);
    assert_eq!(book.errors[error_kind::JOB_EXPIRED], book.sent);
    // A booking was polled until the max wait: 3 s at 20 ms is well over 100 polls.
    let polls = server
        .state
        .seen()
        .iter()
        .filter(|s| s.path == "/api/jobs/bk-1")
        .count() as u64;
    assert!(
        polls >= 100 * book.sent,
        "{polls} polls of {} bookings",
        book.sent
    );
    assert!(report.last_errors[error_kind::JOB_EXPIRED].contains("job"));

    // Polls are not load: the page counted the 30 requests only, while the server saw more.
    assert_eq!(sent(&page), 30.0);
    assert!(server.state.requests.load(Ordering::SeqCst) > 60);
    let failed_timed = metric(
        &page,
        "lg_job_duration_seconds_count",
        &[("action", "give_feedback")],
    );
    assert_eq!(failed_timed, Some(feedback.sent as f64));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_mode_against_the_demo_backend_follows_every_job_to_success() {
    let backend = Backend::start(&["--service-time", "30ms", "--workers", "4"]).await;
    let args = [
        "--mode",
        "async",
        "--base-rps",
        "40",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--poll-interval",
        "10ms",
        "--actions",
        "book_ticket=2,cancel_ticket=1,give_feedback=1",
    ];
    let report = run(config(&backend.url, &args), LIMIT).await;
    let t = &report.total;
    let j = t.jobs.clone().expect("async mode reports jobs");
    assert_eq!(t.sent, 40);
    assert_eq!(t.statuses.get(&202), Some(&40), "{:?}", t.statuses);
    assert_eq!((j.accepted, j.succeeded), (40, 40), "{j:?}");
    assert_eq!(t.ok, 40);
    assert_eq!(j.duration.count, 40);

    let page = backend.metrics().await;
    let done: f64 = ["book_ticket", "cancel_ticket", "give_feedback"]
        .iter()
        .filter_map(|a| {
            metric(
                &page,
                names::APP_INTERACTIONS_TOTAL,
                &[("action", a), ("outcome", "ok")],
            )
        })
        .sum();
    // cancel_ticket counts `ok` only for a ticket that existed: the ids came from the
    // bookings' job results (without them every cancel would be `not_found`).
    let cancelled = metric(
        &page,
        names::APP_INTERACTIONS_TOTAL,
        &[("action", "cancel_ticket"), ("outcome", "ok")],
    );
    assert!(cancelled.is_some_and(|n| n > 0.0), "{page}");
    // Early cancellations, before any booking's job ended, name tickets never booked.
    assert!(
        done >= 30.0,
        "{done} of 40 ended ok on the backend:\n{page}"
    );
    let polls = metric(
        &page,
        names::HTTP_REQUESTS_TOTAL,
        &[("route", "/api/jobs/{id}"), ("status", "200")],
    );
    assert!(
        polls.is_some_and(|n| n >= 40.0),
        "the jobs were polled: {polls:?}"
    );
    backend.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_virtual_user_waits_for_its_job_before_its_next_request() {
    let backend = Backend::start(&["--service-time", "50ms", "--workers", "4"]).await;
    let args = [
        "--mode",
        "async",
        "--actions",
        "give_feedback",
        "--vus",
        "2",
        "--duration",
        "1s",
        "--poll-interval",
        "10ms",
    ];
    let report = run(config(&backend.url, &args), LIMIT).await;
    let t = &report.total;
    let j = t.jobs.clone().expect("async mode reports jobs");
    assert!(t.sent >= 4, "{t:?}");
    assert_eq!((j.accepted, j.succeeded), (t.sent, t.sent), "{j:?}");
    // Each user's request lasts its job's 50 ms and more: 2 users send at most 2 per 50 ms.
    assert!(
        t.sent <= 2 * 20,
        "sent {}: users did not wait for their jobs",
        t.sent
    );
    assert!(j.duration.min_ms >= 50.0, "{:?}", j.duration);
    // Every job was polled at least once before its user went on.
    let page = backend.metrics().await;
    let polls = metric(
        &page,
        names::HTTP_REQUESTS_TOTAL,
        &[("route", "/api/jobs/{id}"), ("status", "200")],
    );
    assert!(polls.is_some_and(|n| n >= t.sent as f64), "{polls:?}");
    backend.stop().await;
}
