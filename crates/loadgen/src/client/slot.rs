//! One request on a connection slot that its owner keeps between requests (a worker, a
//! virtual user, an async job's poll): the slot's connection is reused while usable, else a
//! new one is opened; a request that a reused connection closed under before it was written
//! is sent once more on a new one, as hyper-util's client does.

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::Full;

use super::{Conn, Exchange, Failure, SendError};

/// Sends `req` on `slot`'s connection (opened with `open` when there is none or it is too
/// old) and reads the response. A failed connection is dropped from the slot. The caller
/// bounds the time it may take.
pub(crate) async fn exchange_on<F, Fut>(
    slot: &mut Option<Conn>,
    max_age: Duration,
    mut open: F,
    mut req: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<Exchange, Failure>
where
    // A closure returning a future rather than an async closure: the futures of async
    // closures are not yet known to be Send, which a task on a runtime needs.
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Conn, Failure>>,
{
    let mut retried = false;
    loop {
        let reused = slot.as_mut().is_some_and(|c| c.usable(max_age));
        let conn = match &mut *slot {
            Some(c) if reused => c,
            other => {
                *other = None;
                other.insert(open().await?)
            }
        };
        match conn.exchange(req, keep_body).await {
            Ok(ex) => return Ok(ex),
            Err(SendError::NotSent(back)) if reused && !retried => {
                *slot = None;
                req = *back;
                retried = true;
            }
            Err(SendError::NotSent(_)) => {
                *slot = None;
                return Err(Failure::Io("connection closed before the request".into()));
            }
            Err(SendError::Failed(f)) => {
                *slot = None;
                return Err(f);
            }
        }
    }
}
