//! Serving one instance: bind-independent `run` over `axum::serve`, with graceful shutdown.
//! On the shutdown signal /readyz turns 503 at once and new action requests get 503; the
//! server keeps accepting and answering until the work in flight is done (or
//! `--drain-timeout`, when whatever still runs is answered 503), then stops accepting and
//! closes its connections (idle ones at once, busy ones after their response) and returns.

use std::future::{Future, IntoFuture};
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::state::AppState;
use crate::{Error, Result};

/// How often recorded histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// After the drain, how long open connections get to close before `run` returns anyway.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// Aborts a background task when dropped, so nothing outlives [`run`].
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves the backend on `listener` until `shutdown` resolves, then drains and returns.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener.local_addr().map_err(Error::LocalAddr)?;
    let drain_timeout = config.drain_timeout;
    let state = AppState::new(config);
    let c = state.config();
    tracing::info!(
        %addr,
        replica = %c.replica_name,
        workers = c.workers,
        service_time = %common::HumanDuration(c.service_time),
        queue = c.queue,
        mode = c.mode.as_str(),
        "demo-backend listening"
    );
    let _upkeep = AbortOnDrop(tokio::spawn(upkeep(state.clone())));

    let listener = crate::counted::CountingListener {
        inner: listener.tap_io(|stream| {
            // Small JSON answers must not wait for Nagle's algorithm.
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        }),
        counters: state.network(),
    };
    let stopped = {
        let lifecycle = state.lifecycle().clone();
        async move { lifecycle.stopped().await }
    };
    let serve = axum::serve(listener, crate::app(state.clone()))
        .with_graceful_shutdown(stopped)
        .into_future();
    tokio::pin!(serve);
    tokio::select! {
        served = &mut serve => return served.map_err(Error::Serve),
        () = drain(&state, shutdown, drain_timeout) => {}
    }
    // The stop has made every request still running answer, so busy connections close
    // after that answer; the grace only bounds a client that never reads it.
    if tokio::time::timeout(CLOSE_GRACE, serve).await.is_err() {
        tracing::warn!("connections still open after the drain: leaving them");
    }
    tracing::info!(%addr, "demo-backend stopped");
    Ok(())
}

/// Waits for `shutdown`, drains (at most `timeout`), then stops the instance.
async fn drain(state: &AppState, shutdown: impl Future<Output = ()>, timeout: Duration) {
    shutdown.await;
    tracing::info!(?timeout, "shutdown requested: draining");
    if !state.lifecycle().drain(timeout).await {
        tracing::warn!(
            ?timeout,
            "drain timeout reached with work still in flight: answering it 503"
        );
    }
    state.lifecycle().stop();
}

async fn upkeep(state: AppState) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        state.upkeep();
    }
}
