//! Async jobs and the closed loop, measured: job durations follow the backend's service
//! time, and virtual users reach users ÷ (service time + think time) requests per second.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::helpers::{Backend, config, run};
use crate::server::{Reply, Server};

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_job_durations_follow_the_backends_service_time() {
    for service_ms in [100.0, 300.0] {
        let service = format!("{service_ms}ms");
        let backend = Backend::start(&["--service-time", &service, "--workers", "8"]).await;
        let args = [
            "--mode",
            "async",
            "--actions",
            "give_feedback",
            "--base-rps",
            "20",
            "--ramp-factor",
            "1",
            "--duration",
            "1s",
            "--poll-interval",
            "10ms",
        ];
        let report = run(config(&backend.url, &args), LIMIT).await;
        let t = &report.total;
        let j = t.jobs.clone().unwrap();
        assert_eq!((j.accepted, j.succeeded), (20, 20), "{service}: {j:?}");
        // 8 workers and 20 jobs a second of 100-300 ms: no job waits for a worker, so a job
        // takes its service time, plus at most one poll interval to be seen done.
        let d = &j.duration;
        assert!(d.min_ms >= service_ms, "{service}: {d:?}");
        assert!(d.p50_ms <= service_ms + 10.0 + 60.0, "{service}: {d:?}");
        // The 202 comes before the work is done.
        assert!(
            t.latency.p99_ms < service_ms / 2.0,
            "{service}: 202s {:?}",
            t.latency
        );
        backend.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_loop_throughput_is_users_over_service_plus_think_time() {
    for (vus, service_ms, think) in [
        (10, 100, Some("100ms")),
        (10, 100, Some("50ms..150ms")),
        (8, 40, None),
    ] {
        let server =
            Server::start(move |_| Reply::ok("ok").after(Duration::from_millis(service_ms))).await;
        let vus_arg = vus.to_string();
        let mut args = vec!["--url", "/", "--vus", &vus_arg, "--duration", "3s"];
        let mean_think = match think {
            Some(t) => {
                args.extend(["--think-time", t]);
                100.0
            }
            None => 0.0,
        };
        let report = run(config(&server.url, &args), LIMIT).await;
        let want = f64::from(vus) / ((service_ms as f64 + mean_think) / 1000.0);
        let got = report.total.achieved_rps;
        assert!(
            (got - want).abs() <= 0.1 * want,
            "{vus} users, {service_ms} ms, think {think:?}: {got}/s, expected {want}/s"
        );
        assert_eq!(
            report.total.sent,
            server.state.requests.load(Ordering::SeqCst)
        );
        // The plain response time: the server's delay, nothing queued in front of it.
        let l = &report.total.latency;
        assert!(
            l.p50_ms >= service_ms as f64 && l.p50_ms <= service_ms as f64 + 30.0,
            "{l:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vu_stages_ramp_the_users_up_and_hold_them() {
    let server = Server::start(|_| Reply::ok("ok").after(Duration::from_millis(20))).await;
    let args = [
        "--url",
        "/",
        "--vu-stages",
        "2s:10,2s:10",
        "--think-time",
        "50ms",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let at = |t: f64| {
        report
            .timeline
            .iter()
            .find(|p| (p.t_s - t).abs() < 0.3)
            .and_then(|p| p.vus)
            .unwrap_or_else(|| panic!("no point near {t}s: {:?}", report.timeline))
    };
    assert!((4..=6).contains(&at(1.0)), "half-way up: {}", at(1.0));
    assert!((9..=10).contains(&at(2.0)), "at the top: {}", at(2.0));
    assert_eq!(at(3.0), 10, "held");
    assert!(server.state.max_in_flight.load(Ordering::SeqCst) <= 10);
}
