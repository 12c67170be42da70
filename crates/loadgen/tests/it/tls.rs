//! HTTPS and HTTP/2 against test servers with certificates made at test time: trust by
//! `--cacert` or `--insecure`, refusals counted as `tls` errors with their cause, the URL's
//! host as the TLS name with `--resolve`, handshakes measured and counted, h2 streams
//! sharing connections, and h2c with prior knowledge.

use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Parser;
use common::names;
use tokio::net::TcpListener;

use crate::helpers::{config, metric, run, scrape_until};
use crate::pki::Ca;
use crate::server::{Reply, Server, Speaks};

const LIMIT: Duration = Duration::from_secs(30);

async fn https_server(ca: &Ca, names: &[&str]) -> Server {
    serve_tls(ca.server(names)).await
}

async fn serve_tls(config: std::sync::Arc<tokio_rustls::rustls::ServerConfig>) -> Server {
    let speaks = Speaks {
        tls: Some(config),
        h2c: false,
    };
    Server::start_with(speaks, |_| Reply::ok("ok")).await
}

fn port_of(server: &Server) -> u16 {
    server.url.rsplit(':').next().unwrap().parse().unwrap()
}

/// `/` at 20 requests per second for `duration`, plus `extra`.
fn args<'a>(duration: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "--url",
        "/",
        "--base-rps",
        "20",
        "--ramp-factor",
        "1",
        "--duration",
        duration,
    ];
    a.extend_from_slice(extra);
    a
}

#[tokio::test]
async fn a_trusted_ca_is_accepted_the_url_host_names_the_server_and_handshakes_are_measured() {
    let ca = Ca::new("test CA");
    let server = https_server(&ca, &["svc.test"]).await;
    let port = port_of(&server);
    let url = format!("https://svc.test:{port}");
    let pin = format!("svc.test:{port}:127.0.0.1");
    let cacert = ca.pem_file();
    let extra = ["--cacert", cacert.to_str().unwrap(), "--resolve", &pin];
    let cfg = config(&url, &args("2s", &extra));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let running = tokio::spawn(loadgen::run(cfg, Some(listener), std::future::pending()));
    let page = scrape_until(addr, Duration::from_secs(10), "a handshake", |p| {
        metric(p, names::LG_HANDSHAKES_TOTAL, &[]).unwrap_or(0.0) >= 1.0
    })
    .await;
    let tls_count = format!("{}_count", names::LG_TLS_HANDSHAKE_DURATION_SECONDS);
    let connect_count = format!("{}_count", names::LG_CONNECT_DURATION_SECONDS);
    assert!(metric(&page, &tls_count, &[]).unwrap() >= 1.0, "{page}");
    assert!(metric(&page, &connect_count, &[]).unwrap() >= 1.0, "{page}");
    let report = tokio::time::timeout(LIMIT, running)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let t = &report.total;
    assert_eq!((t.sent, t.ok), (40, 40), "{:?}", report.last_errors);
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 40);
    assert_eq!(
        server.state.http2.load(Ordering::SeqCst),
        0,
        "HTTP/1.1 by default"
    );
    let names_seen = server.state.names.lock().unwrap().clone();
    assert!(!names_seen.is_empty());
    assert!(names_seen.iter().all(|n| n == "svc.test"), "{names_seen:?}");
    let c = &report.connections;
    assert_eq!(c.protocol, "http/1.1");
    assert!(!c.insecure);
    assert!(c.trusted.as_deref().unwrap().contains("ca.pem"), "{c:?}");
    // Every connection opened made one handshake, measured once.
    assert_eq!(c.handshakes, report.connections_opened);
    assert_eq!(c.tls_handshake.count, c.handshakes);
    assert_eq!(c.connect.count, c.handshakes);
    assert_eq!(c.handshakes as usize, names_seen.len());
    let summary = report.summary();
    assert!(summary.contains("tls handshakes"), "{summary}");
    assert!(!summary.contains("NOT verified"), "{summary}");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_as_a_tls_error_naming_the_cause() {
    let (ca, other) = (Ca::new("server CA"), Ca::new("another CA"));
    let server = https_server(&ca, &["127.0.0.1"]).await;
    let cacert = other.pem_file();
    let extra = ["--cacert", cacert.to_str().unwrap()];
    let report = run(config(&server.url, &args("1s", &extra)), LIMIT).await;
    let t = &report.total;
    assert_eq!(t.sent, 20);
    assert_eq!(t.ok, 0);
    assert_eq!(t.errors["tls"], 20, "{:?}", t.errors);
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 0);
    assert!(server.state.refused.load(Ordering::SeqCst) >= 20);
    let why = &report.last_errors["tls"];
    assert!(why.contains("unknown issuer"), "{why}");
    assert!(why.contains("--cacert"), "says what to do: {why}");
    assert!(report.summary().contains("last tls"));
}

#[tokio::test]
async fn a_certificate_for_another_host_is_refused() {
    let ca = Ca::new("test CA");
    let server = https_server(&ca, &["other.test"]).await;
    let port = port_of(&server);
    let url = format!("https://svc.test:{port}");
    let pin = format!("svc.test:{port}:127.0.0.1");
    let cacert = ca.pem_file();
    let extra = ["--cacert", cacert.to_str().unwrap(), "--resolve", &pin];
    let report = run(config(&url, &args("1s", &extra)), LIMIT).await;
    assert_eq!(report.total.errors["tls"], 20);
    let why = &report.last_errors["tls"];
    assert!(why.contains("not valid for host svc.test"), "{why}");
    assert!(why.contains("other.test"), "names what it presented: {why}");
}

#[tokio::test]
async fn an_expired_certificate_is_refused_as_expired() {
    let ca = Ca::new("test CA");
    let server = serve_tls(ca.expired_server(&["127.0.0.1"])).await;
    let cacert = ca.pem_file();
    let extra = ["--cacert", cacert.to_str().unwrap()];
    let report = run(config(&server.url, &args("1s", &extra)), LIMIT).await;
    assert_eq!(report.total.errors["tls"], 20, "{:?}", report.total.errors);
    assert_eq!(server.state.requests.load(Ordering::SeqCst), 0);
    let why = &report.last_errors["tls"];
    assert!(why.contains("certificate expired"), "{why}");
}

#[tokio::test]
async fn insecure_accepts_any_certificate_and_says_so_loudly() {
    let ca = Ca::new("unknown CA");
    let server = https_server(&ca, &["other.test"]).await;
    let report = run(config(&server.url, &args("1s", &["--insecure"])), LIMIT).await;
    assert_eq!(report.total.ok, 20, "{:?}", report.last_errors);
    assert!(report.connections.insecure);
    let summary = report.summary();
    assert!(summary.contains("NOT verified"), "{summary}");
    assert!(report.markdown().contains("NOT verified"));
}

#[tokio::test]
async fn h2_streams_share_few_connections() {
    let ca = Ca::new("test CA");
    let speaks = Speaks {
        tls: Some(ca.server(&["127.0.0.1"])),
        h2c: false,
    };
    // 200 rps answered in 100 ms: about 20 requests at once, on at most 2 connections.
    let delay = Duration::from_millis(100);
    let server = Server::start_with(speaks, move |_| Reply::ok("ok").after(delay)).await;
    let cacert = ca.pem_file();
    let flags = [
        "--url",
        "/",
        "--base-rps",
        "200",
        "--ramp-factor",
        "1",
        "--duration",
        "1s",
        "--cacert",
        cacert.to_str().unwrap(),
        "--http2",
        "--h2-streams",
        "16",
        "--connections",
        "2",
        "--threads",
        "1",
    ];
    let report = run(config(&server.url, &flags), LIMIT).await;
    let t = &report.total;
    assert_eq!((t.sent, t.ok), (200, 200), "{:?}", report.last_errors);
    let st = &server.state;
    assert_eq!(
        st.http2.load(Ordering::SeqCst),
        200,
        "every request over h2"
    );
    let concurrent = st.max_in_flight.load(Ordering::SeqCst);
    // The start-up check's connection, then at most one per --connections.
    let connections = st.connections.load(Ordering::SeqCst);
    assert!(connections <= 3, "{connections} connections");
    assert!(
        concurrent > connections,
        "{concurrent} requests at once on {connections} connections"
    );
    assert_eq!(report.connections.protocol, "h2");
    assert_eq!(report.connections.h2_streams, Some(16));
}

#[tokio::test]
async fn h2c_speaks_http2_with_prior_knowledge() {
    let speaks = Speaks {
        tls: None,
        h2c: true,
    };
    let server = Server::start_with(speaks, |_| Reply::ok("ok")).await;
    let report = run(config(&server.url, &args("1s", &["--http2"])), LIMIT).await;
    assert_eq!(report.total.ok, 20, "{:?}", report.last_errors);
    assert_eq!(server.state.http2.load(Ordering::SeqCst), 20);
    assert_eq!(report.connections.protocol, "h2c");
    assert_eq!(report.connections.handshakes, 0);
    assert!(report.connections.trusted.is_none());
}

#[tokio::test]
async fn connection_rotation_shows_in_the_handshakes() {
    let ca = Ca::new("test CA");
    let server = https_server(&ca, &["127.0.0.1"]).await;
    let cacert = ca.pem_file();
    let extra = [
        "--cacert",
        cacert.to_str().unwrap(),
        "--conn-max-age",
        "300ms",
        "--connections",
        "1",
    ];
    let report = run(config(&server.url, &args("2s", &extra)), LIMIT).await;
    assert_eq!(report.total.ok, 40, "{:?}", report.last_errors);
    // One connection at a time, replaced every 300 ms over 2 s.
    let handshakes = report.connections.handshakes;
    assert!(handshakes >= 4, "{handshakes} handshakes");
    assert_eq!(handshakes, report.connections_opened);
}

#[test]
fn transport_flags_that_cannot_apply_are_refused_by_name() {
    let ca = Ca::new("test CA");
    let cacert = ca.pem_file();
    let cacert = cacert.to_str().unwrap();
    let parse = |args: &[&str]| {
        let mut argv = vec!["loadgen", "--progress", "off"];
        argv.extend_from_slice(args);
        loadgen::Opts::try_parse_from(argv)
            .unwrap()
            .into_config()
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let https = ["--target", "https://svc.test:8443"];
    let cases: [(Vec<&str>, &str); 6] = [
        (vec!["--target", "http://a:1", "--insecure"], "--insecure"),
        (
            [&https[..], &["--cacert", "/nonexistent/ca.pem"]].concat(),
            "cannot read it",
        ),
        (
            [&https[..], &["--cacert", cacert, "--insecure"]].concat(),
            "contradict",
        ),
        (
            [&https[..], &["--resolve", "other:8443:127.0.0.1"]].concat(),
            "--resolve",
        ),
        (
            [&https[..], &["--resolve", "svc.test:8443:nowhere"]].concat(),
            "not an IP address",
        ),
        ([&https[..], &["--h2-streams", "8"]].concat(), "--http2"),
    ];
    for (args, says) in cases {
        let e = parse(&args).unwrap_err();
        assert!(e.contains(says), "{args:?}: {e}");
    }
    assert!(
        parse(
            &[
                &https[..],
                &["--cacert", cacert, "--http2", "--h2-streams", "8"]
            ]
            .concat()
        )
        .is_ok()
    );
}
