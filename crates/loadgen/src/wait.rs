//! Before the first request: is the target there (`--wait-for-target` polls its /readyz,
//! bounded; otherwise one connection must open), and which showtimes does it sell.

use std::time::Duration;

use bytes::Bytes;
use common::api::{Showtime, routes};
use http::header::{HOST, USER_AGENT};
use http::{HeaderValue, Request};
use http_body_util::Full;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::client::{Conn, Connector, Dialing, Exchange, Failure, SendError, Setup, Target};
use crate::{Error, Result};

/// Each readiness poll and each start-up request gives up after this.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const POLL_EVERY: Duration = Duration::from_millis(250);

fn get(target: &Target, path: &str) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(Bytes::new()));
    if let Ok(uri) = target.uri(path) {
        *req.uri_mut() = uri;
    }
    req.headers_mut().insert(HOST, target.host_header.clone());
    req.headers_mut()
        .insert(USER_AGENT, HeaderValue::from_static("loadgen"));
    req
}

/// One exchange on `conn`, or on a new connection when there is none.
async fn fetch(
    connector: &Connector,
    conn: &mut Option<Conn>,
    req: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<Exchange, Failure> {
    if !conn.as_mut().is_some_and(|c| c.usable(Duration::MAX)) {
        *conn = Some(connector.dial().await?);
    }
    let Some(c) = conn.as_mut() else {
        return Err(Failure::Io("no connection".into()));
    };
    match c.exchange(req, keep_body).await {
        Ok(ex) => Ok(ex),
        Err(e) => {
            *conn = None;
            Err(match e {
                SendError::NotSent(_) => Failure::Io("connection closed before the request".into()),
                SendError::Failed(f) => f,
            })
        }
    }
}

/// One connection must open, or the run stops at once with the address in the message. The
/// connection is returned for the load to use. A target that answers but fails the TLS
/// handshake is reachable: the run goes on and counts every request's `tls` error (with
/// the reason in the summary), as it would if the certificate changed mid-run.
pub(crate) async fn reachable(url: &str, connector: &Connector) -> Result<Option<Conn>> {
    let down = |reason: String| Error::TargetDown {
        target: url.to_string(),
        reason,
    };
    match tokio::time::timeout(ATTEMPT_TIMEOUT, connector.dial()).await {
        Ok(Ok(conn)) => Ok(Some(conn)),
        Ok(Err(Failure::Tls(why))) => {
            tracing::warn!(target = url, why = %why, "the TLS handshake fails; requests will count tls errors");
            Ok(None)
        }
        Ok(Err(f)) => Err(down(f.describe())),
        Err(_) => Err(down(format!("no connection within {ATTEMPT_TIMEOUT:?}"))),
    }
}

/// Polls `/readyz` until it answers 200, for at most `limit`. Returns early (Ok) when the
/// run is stopped meanwhile.
pub(crate) async fn ready(
    url: &str,
    target: &Target,
    dialing: Dialing,
    limit: Duration,
    stop: &CancellationToken,
) -> Result<()> {
    // Its own connector (these polls are not load: no setup series) and a fresh connection
    // for every poll: the name may only start resolving later.
    let connector = Connector::new(target.clone(), dialing, Setup::new(None));
    let deadline = Instant::now() + limit;
    let mut announced = false;
    loop {
        let attempt = tokio::time::timeout(
            ATTEMPT_TIMEOUT.min(limit.max(Duration::from_millis(100))),
            fetch(&connector, &mut None, get(target, routes::READYZ), false),
        )
        .await;
        let last = match attempt {
            Ok(Ok(ex)) if ex.status.is_success() => {
                if announced {
                    tracing::info!(target = url, "target is ready");
                }
                return Ok(());
            }
            Ok(Ok(ex)) => format!("/readyz answered {}", ex.status),
            Ok(Err(f)) => f.describe(),
            Err(_) => format!("/readyz did not answer within {ATTEMPT_TIMEOUT:?}"),
        };
        if Instant::now() >= deadline {
            return Err(Error::TargetNotReady {
                target: url.to_string(),
                waited: limit,
                last,
            });
        }
        if !announced {
            tracing::info!(target = url, why = %last, "waiting for the target's /readyz");
            announced = true;
        }
        tokio::select! {
            () = stop.cancelled() => return Ok(()),
            () = tokio::time::sleep_until((Instant::now() + POLL_EVERY).min(deadline)) => {}
        }
    }
}

/// The showtime ids the target lists, to book real ones; empty when it lists none (the
/// workload then uses a small default set). Uses `conn` (or opens one and leaves it there).
pub(crate) async fn showtimes(connector: &Connector, conn: &mut Option<Conn>) -> Vec<u32> {
    let req = get(connector.target(), routes::SHOWTIMES);
    match tokio::time::timeout(ATTEMPT_TIMEOUT, fetch(connector, conn, req, true)).await {
        Ok(Ok(ex)) if ex.status.is_success() => {
            match serde_json::from_slice::<Vec<Showtime>>(&ex.body) {
                Ok(list) => list.into_iter().map(|s| s.id).collect(),
                Err(e) => {
                    tracing::debug!(error = %e, "cannot read the showtimes; using defaults");
                    Vec::new()
                }
            }
        }
        Ok(_) => Vec::new(),
        Err(_) => {
            // Timed out mid-exchange: the connection is in an unknown state.
            *conn = None;
            Vec::new()
        }
    }
}
