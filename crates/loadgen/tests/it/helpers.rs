//! Shared by the tests: configs from flags, a bounded in-process run, a raw /metrics scrape.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A config for `target` from flags, quiet and with /metrics on a free port.
pub(crate) fn config(target: &str, args: &[&str]) -> loadgen::Config {
    let mut argv = vec!["loadgen", "--target", target, "--progress", "off"];
    argv.extend_from_slice(args);
    loadgen::Opts::try_parse_from(argv)
        .unwrap()
        .into_config()
        .unwrap()
}

/// Runs to the end (bounded by `limit`) with /metrics on a port-0 listener.
pub(crate) async fn run(config: loadgen::Config, limit: Duration) -> loadgen::Report {
    run_until(config, std::future::pending(), limit).await.1
}

/// Runs with a shutdown future; returns the /metrics address used and the report.
pub(crate) async fn run_until(
    config: loadgen::Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limit: Duration,
) -> (SocketAddr, loadgen::Report) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let report = tokio::time::timeout(limit, loadgen::run(config, Some(listener), shutdown))
        .await
        .expect("the run ended in time")
        .expect("the run succeeded");
    (addr, report)
}

/// GET /metrics over a plain TCP connection; None when nothing answers.
pub(crate) async fn scrape(addr: SocketAddr) -> Option<String> {
    let fetch = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            .await
            .ok()?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.ok()?;
        let text = String::from_utf8(buf).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        head.starts_with("HTTP/1.0 200").then(|| body.to_string())
    };
    tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .ok()
        .flatten()
}

/// A port nothing listens on (bound, then released).
pub(crate) async fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}
