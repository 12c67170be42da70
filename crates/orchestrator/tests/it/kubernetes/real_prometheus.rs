//! A real Prometheus (Debian's package) run on one generated config, for the tests of the
//! kube runtime's scrape jobs: only the API server's discovery is swapped for static
//! loopback targets, so the jobs' relabelling is evaluated by Prometheus itself.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use serde_json::Value;

/// Serves `body` at `path` on a loopback port.
pub(crate) async fn serve(path: &'static str, body: String) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(path, get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A Prometheus scraping every second under the scrape `jobs`; killed on drop.
pub(crate) struct RealPrometheus {
    web: SocketAddr,
    client: reqwest::Client,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl RealPrometheus {
    /// Starts it, or `None` (with a note) where Prometheus is not installed; on CI its
    /// absence fails the test.
    pub(crate) fn start(jobs: Vec<Value>) -> Option<Self> {
        let Some(binary) = orchestrator::local::prometheus::find() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "prometheus is not on PATH: `apt-get install prometheus`"
            );
            eprintln!("NOTE: prometheus is not on PATH; the relabelling test is skipped");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let file: PathBuf = dir.path().join("prometheus.yml");
        let doc = serde_json::json!({
            "global": {"scrape_interval": "1s"},
            "scrape_configs": jobs,
        });
        std::fs::write(&file, serde_norway::to_string(&doc).unwrap()).unwrap();
        let web = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let child = tokio::process::Command::new(binary)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Some(Self {
            web,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            _child: child,
            _dir: dir,
        })
    }

    /// Where its HTTP API listens.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.web
    }

    /// Its HTTP API's base URL.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.web)
    }

    /// The instant query's result, `None` while Prometheus does not answer.
    pub(crate) async fn query(&self, q: &str) -> Option<Vec<Value>> {
        let r = self
            .client
            .get(format!("http://{}/api/v1/query", self.web))
            .query(&[("query", q)])
            .send()
            .await
            .ok()?;
        let v: Value = r.json().await.ok()?;
        v["data"]["result"].as_array().cloned()
    }

    /// The query's result once it has at least `n` series (at most 30 s).
    pub(crate) async fn wait_for(&self, q: &str, n: usize) -> Vec<Value> {
        let start = Instant::now();
        loop {
            if let Some(r) = self.query(q).await
                && r.len() >= n
            {
                return r;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "Prometheus had no {n} series of {q} in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}
