//! Rate and latency measurements (nextest runs this module alone): rate accuracy, drops at
//! the in-flight cap, and coordinated-omission-correct latency; each load shape as the
//! server saw it (`shapes`); async job durations and closed-loop throughput (`modes`); the
//! same rate accuracy over HTTPS and HTTP/2 (`tls`).

mod modes;
mod shapes;
mod tls;

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::helpers::{config, run};
use crate::server::{Reply, Server};

const LIMIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_2000_rps_for_5s_within_2_percent_and_exactly_the_schedule() {
    let server = Server::ok().await;
    let args = [
        "--url",
        "/",
        "--base-rps",
        "2000",
        "--ramp-factor",
        "1",
        "--duration",
        "5s",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(report.planned, Some(10_000));
    assert_eq!(t.sent, 10_000, "sent equals the schedule's count");
    assert_eq!(t.dropped, 0);
    assert_eq!(t.ok, 10_000);
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 10_000);
    // The rate as the server saw it, between the 1st and the 99th percentile of arrivals:
    // one straggler delayed by a scheduler hiccup on a busy machine must not stand for the
    // rate of the other 9,999 (the per-second checks below catch a rate that is off).
    let seen = server.state.seen();
    let (lo, hi) = (seen.len() / 100, seen.len() * 99 / 100);
    let span = (seen[hi].since_first - seen[lo].since_first).as_secs_f64();
    let rate = (hi - lo) as f64 / span;
    assert!(
        (rate - 2000.0).abs() <= 40.0,
        "server-side rate {rate:.1}/s over {span:.3}s (arrivals {lo}..{hi})"
    );
    // And it was steady: every full second of the timeline near 2000.
    for p in report.timeline.iter().filter(|p| p.t_s <= 5.0) {
        assert!(
            (p.achieved_rps - 2000.0).abs() <= 200.0,
            "second ending {}: {}",
            p.t_s,
            p.achieved_rps
        );
    }
    assert!(
        report.schedule_lag.p99_ms < 50.0,
        "lag {:?}",
        report.schedule_lag
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_makes_drops_at_the_in_flight_cap() {
    let server = Server::start(|_| Reply::ok("slow").after(Duration::from_millis(250))).await;
    let args = [
        "--url",
        "/",
        "--base-rps",
        "200",
        "--ramp-factor",
        "1",
        "--duration",
        "3s",
        "--max-in-flight",
        "10",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.sent + t.dropped, 600, "every slot is sent or dropped");
    // 10 at a time, 250 ms each: about 40/s get through, the rest are dropped.
    assert!((90..=160).contains(&t.sent), "sent {}", t.sent);
    assert!(t.dropped >= 440, "dropped {}", t.dropped);
    assert_eq!(t.ok, t.sent);
    // Memory stays bounded: concurrency never went past the cap, anywhere.
    assert!(server.state.max_in_flight.load(Ordering::SeqCst) <= 10);
    assert!(report.timeline.iter().all(|p| p.in_flight <= 10));
    assert!(report.timeline.iter().filter(|p| p.dropped > 0).count() >= 2);
    // Corrected latency of a sent request is ~its service time: it was never queued.
    assert!(t.latency.p99_ms < 400.0, "{:?}", t.latency);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_corrected_latency_not_in_service_time() {
    // Every request arriving 2 s to 3 s after the first waits until the 3 s mark.
    let server = Server::start(|s| {
        let (from, to) = (Duration::from_secs(2), Duration::from_secs(3));
        if s.since_first >= from && s.since_first < to {
            Reply::ok("late").after(to - s.since_first)
        } else {
            Reply::ok("ok")
        }
    })
    .await;
    // One connection, as wrk2's model: requests due during the stall wait in the client.
    let args = [
        "--url",
        "/",
        "--base-rps",
        "200",
        "--ramp-factor",
        "1",
        "--duration",
        "5s",
        "--connections",
        "1",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.ok, 1000);
    assert!(t.latency.p99_ms >= 500.0, "corrected p99 {:?}", t.latency);
    assert!(t.latency.max_ms >= 900.0, "corrected max {:?}", t.latency);
    assert!(
        t.service_time.p99_ms < 100.0,
        "service-time p99 {:?}",
        t.service_time
    );
    assert!(
        t.service_time.max_ms >= 900.0,
        "the one stalled request {:?}",
        t.service_time
    );
}
