//! The /metrics page of a run against a demo-like backend: every series of DESIGN.md with
//! its labels, the exact LG_LATENCY_BUCKETS, live gauges, and `promtool check metrics`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::api::Action;
use common::exposition::{self, Sample};
use common::names::{self, LG_LATENCY_BUCKETS, error_kind};

use crate::helpers::{config, scrape};
use crate::server::{Reply, Seen, Server};

/// Answers like the demo backend: issues ticket ids, lists showtimes 7 and 9.
pub(crate) fn backend() -> impl Fn(&Seen) -> Reply + Send + Sync + 'static {
    let next = Arc::new(AtomicU64::new(0));
    move |s: &Seen| match (s.method.as_str(), s.path.as_str()) {
        ("POST", "/api/tickets") => {
            let n = next.fetch_add(1, Ordering::SeqCst);
            let req: common::api::BookTicketRequest = match serde_json::from_slice(&s.body) {
                Ok(r) => r,
                Err(_) => return Reply::status(400, r#"{"error":"bad body"}"#),
            };
            let t = common::api::Ticket {
                id: format!("t-{n}"),
                showtime_id: req.showtime_id,
                seats: req.seats,
            };
            Reply::status(201, &serde_json::to_string(&t).unwrap())
        }
        ("DELETE", p) if p.starts_with("/api/tickets/") => Reply::status(204, ""),
        ("POST", "/api/feedback") => Reply::status(201, r#"{"id":"f"}"#),
        ("GET", "/api/showtimes") => Reply::ok(
            r#"[{"id":7,"title":"A","starts_at":"20:00","seats_total":9,"seats_available":9},
                {"id":9,"title":"B","starts_at":"22:00","seats_total":9,"seats_available":9}]"#,
        ),
        ("GET", "/readyz") => Reply::ok("ready"),
        _ => Reply::status(404, r#"{"error":"not found"}"#),
    }
}

fn parse(page: &str) -> Vec<Sample> {
    exposition::parse(page).unwrap_or_else(|e| panic!("unparsable /metrics ({e}):\n{page}"))
}

fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == metric && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

/// The `(le, count)` buckets of histogram `metric` for `action`, in bucket order.
fn buckets(samples: &[Sample], metric: &str, action: &str) -> Vec<(f64, f64)> {
    let name = format!("{metric}_bucket");
    let mut b: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.name == name && s.label("action") == Some(action))
        .filter_map(|s| {
            let le = s.label("le")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, s.value))
        })
        .collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_page_has_every_series_and_passes_promtool() {
    let server = Server::start(backend()).await;
    let cfg = config(
        &server.url,
        &[
            "--base-rps",
            "100",
            "--ramp-factor",
            "1",
            "--duration",
            "4s",
            "--actions",
            "book_ticket=2,cancel_ticket=1,give_feedback=1",
        ],
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let run = tokio::spawn(loadgen::run(cfg, Some(listener), async move {
        let _ = stop_rx.await;
    }));
    // Past the first one-second tick, so the rate gauges are set.
    server.wait_requests(160, Duration::from_secs(10)).await;
    let page = scrape(addr).await.expect("/metrics answers during the run");
    let _ = stop_tx.send(());
    let report = tokio::time::timeout(Duration::from_secs(15), run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let s = parse(&page);
    let mut sent = 0.0;
    for action in Action::ALL {
        let a = action.as_str();
        let n = value(&s, names::LG_SENT_REQUESTS_TOTAL, &[("action", a)])
            .unwrap_or_else(|| panic!("no lg_sent_requests_total for {a}:\n{page}"));
        assert!(n > 0.0, "{a} sent nothing");
        sent += n;
        for kind in error_kind::ALL {
            let e = value(&s, names::LG_ERRORS_TOTAL, &[("action", a), ("kind", kind)]);
            assert_eq!(e, Some(0.0), "lg_errors_total{{{a},{kind}}}");
        }
        let buckets = buckets(&s, names::LG_REQUEST_DURATION_SECONDS, a);
        assert!(!buckets.is_empty(), "no histogram for {a}");
        let les: Vec<f64> = buckets.iter().map(|b| b.0).collect();
        let mut want = LG_LATENCY_BUCKETS.to_vec();
        want.push(f64::INFINITY);
        assert_eq!(les, want, "bucket boundaries of {a}");
        assert!(buckets.last().is_some_and(|b| b.1 > 0.0));
    }
    assert!(sent >= 160.0, "sent {sent}");
    assert_eq!(value(&s, names::LG_TARGET_RPS, &[]), Some(100.0));
    let current = value(&s, names::LG_CURRENT_RPS, &[]).unwrap();
    assert!(
        (50.0..=150.0).contains(&current),
        "lg_current_rps {current}"
    );
    assert_eq!(value(&s, names::LG_DROPPED_REQUESTS_TOTAL, &[]), Some(0.0));
    assert!(value(&s, names::LG_IN_FLIGHT, &[]).is_some());
    test_support::assert_promtool_accepts(&page);

    // The run behaved like a client of the demo: real showtimes, its own tickets, sessions.
    assert!(report.interrupted);
    let seen = server.state.seen();
    let booked: BTreeSet<u32> = seen
        .iter()
        .filter(|x| x.path == "/api/tickets")
        .map(|x| {
            serde_json::from_slice::<common::api::BookTicketRequest>(&x.body)
                .unwrap()
                .showtime_id
        })
        .collect();
    assert!(booked.iter().all(|id| [7, 9].contains(id)), "{booked:?}");
    let cancelled_own = seen
        .iter()
        .filter(|x| x.path.starts_with("/api/tickets/t-"))
        .count();
    assert!(
        cancelled_own > 10,
        "cancels of booked tickets: {cancelled_own}"
    );
    let sessions: BTreeSet<_> = seen.iter().filter_map(|x| x.session.clone()).collect();
    assert!(seen.iter().all(|x| x.session.is_some()));
    assert!(
        (10..=200).contains(&sessions.len()),
        "{} sessions",
        sessions.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_linger_the_final_counts_stay_readable_until_shutdown() {
    let server = Server::start(backend()).await;
    let cfg = config(
        &server.url,
        &[
            "--stages",
            "1s:40",
            "--actions",
            "give_feedback",
            "--linger",
        ],
    );
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let run = tokio::spawn(loadgen::run(cfg, Some(listener), async move {
        let _ = stop_rx.await;
    }));
    // The plan is 20 requests; once all arrived the generator has nothing left to send.
    server.wait_requests(20, Duration::from_secs(10)).await;
    let sent = || async {
        let page = scrape(addr)
            .await
            .expect("/metrics answers after the plan ended");
        value(
            &parse(&page),
            names::LG_SENT_REQUESTS_TOTAL,
            &[("action", "give_feedback")],
        )
    };
    // Without --linger the run returns, and /metrics closes, right after the last answer; a
    // negative can only be watched for a while: half a second is many times that.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sent().await, Some(20.0));
    assert!(!run.is_finished(), "a lingering run waits for its shutdown");
    let _ = stop_tx.send(());
    let report = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("it ends once told to")
        .unwrap()
        .unwrap();
    assert!(
        !report.interrupted,
        "the plan had ended before the shutdown"
    );
}
