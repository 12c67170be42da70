//! Shared helpers: real demo-backend replicas and frontends on 127.0.0.1 port 0, and a
//! wait that polls `/api/summary` until a condition holds (never a fixed sleep).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Parser;
use common::api::{BookTicketRequest, Ticket, routes};
use demo_frontend::summary::Summary;
use demo_frontend::{Config, ReplicaSource};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How often the frontends under test poll: fast, so waits are short.
pub(crate) const POLL: Duration = Duration::from_millis(200);
/// Longest any wait for a summary condition may take.
pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// An HTTP client that never goes through an environment proxy.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("reqwest client")
}

/// A demo-backend replica running in this process.
pub(crate) struct Backend {
    pub(crate) url: String,
    pub(crate) addr: SocketAddr,
    pub(crate) name: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<demo_backend::Result<()>>,
}

impl Backend {
    pub(crate) async fn start(name: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind backend");
        Self::serve(name, listener)
    }

    /// Starts a replica on `addr` again (after [`Backend::stop`]), retrying the bind for a
    /// moment while the old socket is released.
    pub(crate) async fn restart_on(name: &str, addr: SocketAddr) -> Self {
        Self::serve(name, bind_retrying(addr).await)
    }

    fn serve(name: &str, listener: TcpListener) -> Self {
        let addr = listener.local_addr().expect("local addr");
        let config = demo_backend::Opts::try_parse_from([
            "demo-backend",
            "--listen",
            &addr.to_string(),
            "--replica-name",
            name,
            "--drain-timeout",
            "1s",
        ])
        .expect("backend flags")
        .into_config()
        .expect("backend config");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(demo_backend::run(config, listener, async move {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            addr,
            name: name.to_owned(),
            stop: Some(tx),
            task,
        }
    }

    /// Stops the replica and waits until it no longer listens.
    pub(crate) async fn stop(mut self) -> SocketAddr {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(15), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("backend {} did not stop cleanly: {other:?}", self.name),
        }
        self.addr
    }
}

/// A frontend running in this process.
pub(crate) struct Frontend {
    pub(crate) url: String,
    pub(crate) client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<demo_frontend::Result<()>>,
}

/// A frontend configuration polling `replicas` every [`POLL`].
pub(crate) fn config(backend_url: &str, replicas: ReplicaSource) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        backend_url: backend_url.to_owned(),
        replicas,
        loadgen_url: None,
        autoscaler: None,
        poll_interval: POLL,
        proxy_timeout: Duration::from_secs(2),
        trust: common::tls::Trust::System,
    }
}

/// Static replica list of these backends.
pub(crate) fn replicas(backends: &[&Backend]) -> ReplicaSource {
    ReplicaSource::Static(backends.iter().map(|b| b.url.clone()).collect())
}

impl Frontend {
    pub(crate) async fn start(config: Config) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind frontend");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(demo_frontend::run(config, listener, async move {
            let _ = rx.await;
        }));
        Self {
            url: format!("http://{addr}"),
            client: client(),
            stop: Some(tx),
            task,
        }
    }

    pub(crate) async fn summary(&self) -> Summary {
        let resp = self
            .client
            .get(format!("{}{}", self.url, routes::SUMMARY))
            .send()
            .await
            .expect("GET /api/summary");
        assert_eq!(resp.status(), 200, "/api/summary status");
        resp.json().await.expect("summary JSON")
    }

    /// Polls the summary until `pred` holds; on timeout fails showing the last summary.
    pub(crate) async fn wait_for(&self, what: &str, pred: impl Fn(&Summary) -> bool) -> Summary {
        let deadline = Instant::now() + WAIT;
        loop {
            let s = self.summary().await;
            if pred(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "timed out after {WAIT:?} waiting for: {what}\nlast summary: {:#}",
                    serde_json::to_value(&s).expect("json")
                );
            }
            tokio::time::sleep(POLL / 2).await;
        }
    }

    pub(crate) async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// Stops the frontend and checks it exits cleanly and promptly.
    pub(crate) async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(Duration::from_secs(15), &mut self.task).await {
            Ok(Ok(Ok(()))) => {}
            other => panic!("frontend did not stop cleanly: {other:?}"),
        }
    }
}

/// Books one ticket directly on a backend replica.
pub(crate) async fn book(client: &reqwest::Client, base: &str) -> Ticket {
    let resp = client
        .post(format!("{base}{}", routes::TICKETS))
        .json(&BookTicketRequest {
            showtime_id: 1,
            seats: 1,
        })
        .send()
        .await
        .expect("book");
    assert_eq!(resp.status(), 201, "booking on {base}");
    resp.json().await.expect("ticket JSON")
}

/// A URL on which nothing listens (bound, then released).
pub(crate) async fn closed_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("http://{addr}")
}

/// The replica row of `url`.
pub(crate) fn replica<'a>(
    s: &'a Summary,
    url: &str,
) -> Option<&'a demo_frontend::summary::ReplicaSummary> {
    s.replicas.iter().find(|r| r.url == url)
}

/// The real load generator (the loadgen library), one per target at `rps` each, sending
/// feedback and cancellations (never bookings, so a booking counter moves only when a test
/// books); the first one serves its `/metrics` on `metrics_on`, so the frontend's loadgen
/// block is tested against the page the load generator itself writes. Stopped when dropped.
pub(crate) struct TestLoad {
    stop: Vec<oneshot::Sender<()>>,
}

impl TestLoad {
    pub(crate) async fn start(targets: &[String], rps: f64, metrics_on: SocketAddr) -> Self {
        let mut stop = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            let listener = if i == 0 {
                bind_retrying(metrics_on).await
            } else {
                TcpListener::bind("127.0.0.1:0").await.expect("bind")
            };
            let args = test_support::LoadgenArgs::constant(target, rps, "10m")
                .with("--actions", "give_feedback=2,cancel_ticket=1");
            let config = loadgen::Opts::try_parse_from(args)
                .expect("loadgen flags")
                .into_config()
                .expect("loadgen config");
            let (tx, rx) = oneshot::channel::<()>();
            tokio::spawn(loadgen::run(config, Some(listener), async move {
                let _ = rx.await;
            }));
            stop.push(tx);
        }
        Self { stop }
    }
}

impl Drop for TestLoad {
    fn drop(&mut self) {
        for tx in self.stop.drain(..) {
            let _ = tx.send(());
        }
    }
}

/// Binds `addr`, retrying for a moment while a socket just closed there is released.
async fn bind_retrying(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr).await {
            Ok(l) => return l,
            Err(e) if Instant::now() < deadline => {
                eprintln!("binding {addr}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("cannot bind {addr}: {e}"),
        }
    }
}

/// An autoscaler status source on 127.0.0.1 port 0 answering `GET /api/autoscaler` with
/// `status` (the contract's type, as the orchestrator's local runtime serves it); stopped
/// when dropped.
pub(crate) struct AutoscalerSource {
    pub(crate) url: String,
    task: JoinHandle<()>,
}

impl AutoscalerSource {
    pub(crate) async fn start(status: common::api::AutoscalerStatus) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = axum::Router::new().route(
            routes::AUTOSCALER,
            axum::routing::get(move || {
                let status = status.clone();
                async move { axum::Json(status) }
            }),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, task }
    }
}

impl Drop for AutoscalerSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An autoscaler that wants 3 replicas while 2 are ready, above its target.
pub(crate) fn scaling_up() -> common::api::AutoscalerStatus {
    common::api::AutoscalerStatus {
        mode: "hpa".into(),
        metric: "rps_per_replica".into(),
        target: 50.0,
        value: Some(75.0),
        desired: 3,
        ready: 2,
        min: 1,
        max: 4,
        reason: "ScaleUp".into(),
    }
}
