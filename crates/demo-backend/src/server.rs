//! Serving one instance: bind-independent `run` with graceful shutdown. On the shutdown
//! signal /readyz turns 503 at once and new action requests get 503; the server keeps
//! accepting and answering until the work in flight is done (or `--drain-timeout`), then
//! stops accepting, closes its connections (idle ones at once, busy ones after their
//! response, all within a short grace) and returns. No connection outlives `run`.

use std::future::Future;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::close::CloseSignal;
use crate::config::Config;
use crate::middleware::App;
use crate::state::AppState;
use crate::{Error, Result};

/// How often recorded histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// After the drain, how long open connections get to close before they are dropped.
const CLOSE_GRACE: Duration = Duration::from_millis(500);
/// Pause after a failed accept (out of file descriptors, say) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

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

    let drain_state = state.clone();
    let drained = async move {
        shutdown.await;
        drain_state.start_draining();
        tracing::info!(timeout = ?drain_timeout, "shutdown requested: draining");
        if !drain_state.inner.lifecycle.wait_idle(drain_timeout).await {
            tracing::warn!(timeout = ?drain_timeout, "drain timeout reached with work still in flight");
        }
    };

    tokio::pin!(drained);
    let app = crate::app(state.clone());
    let close = CloseSignal::default();
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = &mut drained => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let conn = serve_connection(stream, app.clone());
                    connections.spawn(close.watch(conn));
                }
                Err(e) => {
                    // Out of file descriptors and the like: the next accept may succeed.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            // Reap finished connections so the set stays as small as the open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Idle keep-alive connections close now; busy ones after their response.
    close.close();
    let all_closed = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(CLOSE_GRACE, all_closed).await.is_err() {
        tracing::warn!("connections still open after the drain: closing them");
    }
    connections.abort_all();
    tracing::info!(%addr, "demo-backend stopped");
    Ok(())
}

/// One HTTP/1.1 keep-alive connection. hyper's own connection rather than `axum::serve`:
/// its HTTP/2 detection and extra service layers cost a fifth of the backend's CPU per
/// request in the benchmark, and nothing talks HTTP/2 to the backend.
fn serve_connection(stream: TcpStream, app: App) -> http1::Connection<TokioIo<TcpStream>, App> {
    // Small JSON answers must not wait for Nagle's algorithm.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
    http1::Builder::new().serve_connection(TokioIo::new(stream), app)
}
