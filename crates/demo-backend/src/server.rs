//! Serving one instance: bind-independent `run` with graceful shutdown. On the shutdown
//! signal /readyz turns 503 at once and new action requests get 503; the server keeps
//! answering until the work in flight is done (or `--drain-timeout`), then closes its
//! connections and returns.

use std::future::Future;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::state::AppState;
use crate::{Error, Result};

/// How often recorded histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// After the drain, how long open connections get to close before they are dropped.
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

    let upkeep_state = state.clone();
    let _upkeep = AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            upkeep_state.inner.metrics.upkeep();
            upkeep_state.refresh_gauges(std::time::Instant::now());
        }
    }));

    let (drain_tx, mut drain_rx) = watch::channel(false);
    let drain_state = state.clone();
    let drained = async move {
        shutdown.await;
        drain_state.start_draining();
        let _ = drain_tx.send(true);
        tracing::info!(timeout = ?drain_timeout, "shutdown requested: draining");
        if !drain_state.inner.lifecycle.wait_idle(drain_timeout).await {
            tracing::warn!(timeout = ?drain_timeout, "drain timeout reached with work still in flight");
        }
    };

    let listener = listener.tap_io(|tcp| {
        // Small JSON answers must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, crate::app(state.clone())).with_graceful_shutdown(drained);
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);

    let deadline = async {
        // Bound the whole stop: drain timeout, then a short grace for connections to close.
        if drain_rx.wait_for(|started| *started).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(drain_timeout + CLOSE_GRACE).await;
    };
    tokio::select! {
        result = &mut server => result.map_err(Error::Serve)?,
        () = deadline => tracing::warn!("connections still open after the drain: closing them"),
    }
    tracing::info!(%addr, "demo-backend stopped");
    Ok(())
}
