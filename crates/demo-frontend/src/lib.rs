//! demo-frontend: live web UI that polls every backend replica and proxies the actions.
//!
//! Data flow: [`poll`] fetches `GET /api/stats` of every replica (and the load generator's
//! `/metrics`, read by `common::loadgen_page`) once per interval, [`aggregate`] turns the samples into rates and a 10-minute
//! history, and [`server`] serves the result as `GET /api/summary` (types in [`summary`])
//! to the embedded page ([`page`]). [`proxy`] forwards the three user actions to the backend.

pub mod aggregate;
pub mod autoscaler;
pub mod cli;
pub mod hpa_status;
pub mod metrics;
pub mod page;
pub mod poll;
pub mod proxy;
pub mod server;
pub mod summary;

use std::{net::SocketAddr, time::Duration};

pub use autoscaler::{AutoscalerSource, HpaRef};
pub use cli::Opts;
pub use server::{AppState, app};

/// Errors of the frontend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag failed validation; the message names it and how to fix it.
    #[error("{0}")]
    Flag(String),
    /// The HTTP client could not be built (TLS or resolver set-up of the platform).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// TLS for https URLs could not be set up (no system roots, ...).
    #[error("cannot set up TLS: {0}")]
    Tls(#[source] common::tls::TlsError),
    /// No client of the API server for `--autoscaler-hpa` (no ServiceAccount token mounted,
    /// no kubeconfig).
    #[error("cannot reach the API server to read {0}: {1}")]
    Kube(String, #[source] kube::Error),
    /// Serving on the listener failed.
    #[error("serving HTTP failed: {0}")]
    Serve(#[source] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the replicas to poll come from.
#[derive(Clone, Debug)]
pub enum ReplicaSource {
    /// A fixed list of base URLs.
    Static(Vec<String>),
    /// `host:port` of a headless Service, re-resolved every poll.
    Headless(String),
    /// Base URLs pushed by the orchestrator's local runtime when it scales.
    Watch(tokio::sync::watch::Receiver<Vec<String>>),
}

/// Validated frontend configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Backend Service base URL the three actions are proxied to.
    pub backend_url: String,
    pub replicas: ReplicaSource,
    /// Base URL of the load generator (its `/metrics` is polled), if any.
    pub loadgen_url: Option<String>,
    /// Where the autoscaler card's status comes from, if the run has an autoscaler.
    pub autoscaler: Option<AutoscalerSource>,
    pub poll_interval: Duration,
    /// Longest a proxied action may take before the page gets a 504.
    pub proxy_timeout: Duration,
    /// Which certificates https URLs may present (`--cacert`, `--insecure`).
    pub trust: common::tls::Trust,
}

impl Config {
    /// True when any URL it reaches is https (the watched replicas are the orchestrator's
    /// plain-http ones).
    fn uses_tls(&self) -> bool {
        let https = |u: &str| u.starts_with("https://");
        let replicas = match &self.replicas {
            ReplicaSource::Static(urls) => urls.iter().any(|u| https(u)),
            ReplicaSource::Headless(_) | ReplicaSource::Watch(_) => false,
        };
        https(&self.backend_url)
            || self.loadgen_url.as_deref().is_some_and(https)
            || matches!(&self.autoscaler, Some(AutoscalerSource::Url(u)) if https(u))
            || replicas
    }
}

/// How long open connections may keep the server alive after the shutdown signal.
const DRAIN_GRACE: Duration = Duration::from_secs(10);

/// Serves the frontend on `listener` until `shutdown` completes.
///
/// The poller starts at once; `/api/summary` answers 200 from the first request on (with
/// "waiting for the first poll" until a poll completed). After `shutdown`, `/readyz` turns
/// 503, new connections are refused and open ones get up to 10 s to finish.
pub async fn run(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut builder = reqwest::Client::builder()
        // Environment proxies must not capture loopback or in-cluster traffic.
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(30));
    if config.uses_tls() {
        // The system's roots are read only when an https URL needs them.
        let tls =
            common::tls::client_config(&config.trust, &[b"h2", b"http/1.1"]).map_err(Error::Tls)?;
        builder = builder.use_preconfigured_tls(tls);
    }
    let client = builder.build().map_err(Error::Client)?;
    let autoscaler = match &config.autoscaler {
        Some(source) => Some(autoscaler::Reader::connect(source).await?),
        None => None,
    };
    let state = AppState::new(&config, client.clone());
    let poller = tokio::spawn(poll::run(
        poll::PollConfig::from_config(&config, autoscaler),
        client,
        state.clone(),
    ));
    let (fired_tx, mut fired_rx) = tokio::sync::watch::channel(false);
    let draining = state.clone();
    let graceful = async move {
        shutdown.await;
        draining.set_draining();
        let _ = fired_tx.send(true);
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, backend = %config.backend_url, "demo-frontend listening");
    }
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        // Small JSON answers must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let serve = axum::serve(listener, app(state))
        .with_graceful_shutdown(graceful)
        .into_future();
    let grace = async move {
        // Only starts counting once the shutdown signal fired.
        let _ = fired_rx.wait_for(|fired| *fired).await;
        tokio::time::sleep(DRAIN_GRACE).await;
    };
    let result = tokio::select! {
        r = serve => r.map_err(Error::Serve),
        () = grace => {
            tracing::warn!("connections still open {DRAIN_GRACE:?} after shutdown; closing them");
            Ok(())
        }
    };
    poller.abort();
    result
}
