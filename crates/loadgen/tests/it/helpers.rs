//! Shared by the tests: configs from flags, a bounded in-process run, a raw /metrics scrape
//! and its values, and a real demo-backend on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use common::exposition;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A config for `target` from flags, quiet and with /metrics on a free port.
pub(crate) fn config(target: &str, args: &[&str]) -> loadgen::Config {
    let mut argv = vec!["loadgen", "--target", target, "--progress", "off"];
    argv.extend_from_slice(args);
    loadgen::Opts::try_parse_from(argv)
        .unwrap()
        .into_config()
        .unwrap()
}

/// A config from the shared test flags (`test_support::LoadgenArgs`), /metrics on a free port.
pub(crate) fn load(args: test_support::LoadgenArgs) -> loadgen::Config {
    loadgen::Opts::try_parse_from(args)
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

/// The value of the series `name` with (at least) `labels` on a /metrics page.
pub(crate) fn metric(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let samples =
        exposition::parse(page).unwrap_or_else(|e| panic!("unparsable /metrics ({e}):\n{page}"));
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

/// Scrapes `addr` until `pred` holds on the page, for at most `limit`; the last page then.
pub(crate) async fn scrape_until(
    addr: SocketAddr,
    limit: Duration,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let page = scrape(addr).await.unwrap_or_default();
        if !page.is_empty() && pred(&page) {
            return page;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {limit:?} for {what}; last page:\n{page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A real demo-backend running in this test's runtime on 127.0.0.1:0.
pub(crate) struct Backend {
    pub(crate) url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<demo_backend::Result<()>>,
}

impl Backend {
    /// Starts one with these extra flags (`--service-time 100ms`, ...).
    pub(crate) async fn start(args: &[&str]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let listen = addr.to_string();
        let mut argv = vec!["demo-backend", "--listen", &listen, "--drain-timeout", "1s"];
        argv.extend_from_slice(args);
        let config = demo_backend::Opts::try_parse_from(argv)
            .expect("backend flags")
            .into_config()
            .expect("backend config");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(demo_backend::run(config, listener, async move {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            stop: Some(tx),
            task,
        }
    }

    /// Its /metrics page.
    pub(crate) async fn metrics(&self) -> String {
        let addr: SocketAddr = self.url.trim_start_matches("http://").parse().unwrap();
        scrape(addr).await.expect("the backend's /metrics answers")
    }

    /// Stops it and checks it ended cleanly.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(15), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("the backend did not stop cleanly: {other:?}"),
        }
    }
}
