//! Rate accuracy over HTTPS, HTTP/1.1 and HTTP/2, held to the same bounds as plain HTTP:
//! exactly the schedule's count, and the rate the server saw within 2 %.

use std::sync::atomic::Ordering;

use crate::helpers::{config, run};
use crate::pki::Ca;
use crate::server::{Reply, Server, Speaks};

use super::LIMIT;

/// 2000 rps for 5 s over https with `extra` flags; checks count and server-side rate.
async fn holds_2000_rps_over_https(extra: &[&str]) -> loadgen::Report {
    let ca = Ca::new("test CA");
    let speaks = Speaks {
        tls: Some(ca.server(&["127.0.0.1"])),
        h2c: false,
    };
    let server = Server::start_with(speaks, |_| Reply::ok("ok")).await;
    let cacert = ca.pem_file();
    let mut args = vec![
        "--url",
        "/",
        "--base-rps",
        "2000",
        "--ramp-factor",
        "1",
        "--duration",
        "5s",
        "--cacert",
        cacert.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let report = run(config(&server.url, &args), LIMIT).await;
    let t = &report.total;
    assert_eq!(report.planned, Some(10_000));
    assert_eq!((t.sent, t.dropped), (10_000, 0));
    assert_eq!(t.ok, 10_000, "{:?}", report.last_errors);
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 10_000);
    // Between the 1st and 99th percentile of arrivals, as in the plain-HTTP test.
    let seen = server.state.seen();
    let (lo, hi) = (seen.len() / 100, seen.len() * 99 / 100);
    let span = (seen[hi].since_first - seen[lo].since_first).as_secs_f64();
    let rate = (hi - lo) as f64 / span;
    assert!(
        (rate - 2000.0).abs() <= 40.0,
        "server-side rate {rate:.1}/s over {span:.3}s"
    );
    assert!(report.connections.handshakes >= 1);
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_2000_rps_over_https_within_2_percent() {
    let report = holds_2000_rps_over_https(&[]).await;
    assert_eq!(report.connections.protocol, "http/1.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_2000_rps_over_h2_within_2_percent() {
    let report = holds_2000_rps_over_https(&["--http2", "--h2-streams", "8"]).await;
    assert_eq!(report.connections.protocol, "h2");
}
