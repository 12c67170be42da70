//! Shared test helpers: configs, a real server on 127.0.0.1:0, `oneshot` calls, the
//! Prometheus page parsed back, and waits on a condition.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use common::exposition::{self, Sample};
use demo_backend::{AppState, Config};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower::ServiceExt;

/// Bound on every wait in these tests, so nothing hangs.
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// A config for tests: no simulated service time unless a test sets one.
pub(crate) fn config() -> Config {
    Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        service_time: Duration::ZERO,
        replica_name: "test-replica".into(),
        drain_timeout: Duration::from_secs(5),
        ..Config::default()
    }
}

/// A response read to the end.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Answer {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The `error` field of a JSON error body (asserting it is one).
    pub(crate) fn error(&self) -> String {
        let body: common::api::ErrorBody = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not an ErrorBody ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        });
        assert!(!body.error.is_empty());
        body.error
    }
}

/// Sends one request through the router without a network.
pub(crate) async fn call(app: &Router, method: Method, uri: &str, body: impl Into<Body>) -> Answer {
    call_with(app, Request::builder().method(method).uri(uri), body).await
}

pub(crate) async fn call_with(
    app: &Router,
    builder: http::request::Builder,
    body: impl Into<Body>,
) -> Answer {
    let request = builder.body(body.into()).expect("a valid test request");
    let response = tokio::time::timeout(WAIT, app.clone().oneshot(request))
        .await
        .expect("oneshot timed out")
        .expect("the router is infallible");
    let (parts, body) = response.into_parts();
    let body = tokio::time::timeout(WAIT, body.collect())
        .await
        .expect("body timed out")
        .expect("body readable")
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A backend served on 127.0.0.1:0 by the library's `run`.
pub(crate) struct Server {
    pub(crate) url: String,
    stop: Option<oneshot::Sender<()>>,
    pub(crate) task: JoinHandle<demo_backend::Result<()>>,
}

impl Server {
    pub(crate) async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(demo_backend::run(config, listener, async move {
            let _ = rx.await;
        }));
        let server = Self {
            url: format!("http://{addr}"),
            stop: Some(tx),
            task,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let client = client();
        let url = format!("{}/readyz", self.url);
        let ready = async {
            loop {
                if let Ok(r) = client.get(&url).send().await
                    && r.status() == StatusCode::OK
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        tokio::time::timeout(WAIT, ready)
            .await
            .expect("server never became ready");
    }

    /// Sends the shutdown signal (once).
    pub(crate) fn signal_shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Signals shutdown and waits for `run` to return.
    pub(crate) async fn stop(mut self) {
        self.signal_shutdown();
        let result = tokio::time::timeout(WAIT, &mut self.task)
            .await
            .expect("run did not return after shutdown")
            .expect("run panicked");
        result.expect("run returned an error");
    }

    pub(crate) fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("a reqwest client")
}

/// `GET /metrics` parsed back.
pub(crate) struct Metrics {
    pub(crate) text: String,
    pub(crate) samples: Vec<Sample>,
}

impl Metrics {
    pub(crate) fn parse(text: String) -> Self {
        let samples = exposition::parse(&text).expect("parsable /metrics");
        Self { text, samples }
    }

    /// The sum of the samples `name` whose labels include all of `labels`; 0 if absent.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|s| s.value).sum()
    }

    /// The samples `name` whose labels include all of `labels`.
    pub(crate) fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.samples
            .iter()
            .filter(move |s| s.name == name && labels.iter().all(|(k, v)| s.label(k) == Some(v)))
    }

    pub(crate) fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .samples
            .iter()
            .filter(|s| s.name == name)
            .filter_map(|s| s.label(label).map(str::to_owned))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

pub(crate) async fn scrape(server: &Server) -> Metrics {
    let text = client()
        .get(server.at("/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    Metrics::parse(text)
}

/// Waits until `check` is true, polling every 10 ms, at most [`WAIT`] (of the paused clock's
/// virtual time in tests that pause it, where the polls cost no real time).
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let wait = async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
}

/// An app with its state, for oneshot tests that also inspect the state.
pub(crate) fn app_with(config: Config) -> (Router, AppState) {
    let state = AppState::new(config);
    (demo_backend::app(state.clone()), state)
}
