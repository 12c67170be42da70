//! HTTP/1.1 keep-alive connections to the target: at most `--connections` in use or idle,
//! reused most-recent-first, and never reused once older than `--conn-max-age`. A new
//! connection resolves the host again and rotates over its addresses, so replicas added
//! behind a connection-level balancer (a Kubernetes Service) get their share of traffic.
//!
//! hyper-util's pooled client has neither a connection bound nor a maximum age, hence this
//! small pool over `hyper::client::conn::http1`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::Target;

/// Bodies kept for parsing (booked tickets) are small; a larger one is read and discarded.
const KEPT_BODY_LIMIT: usize = 64 * 1024;

/// Why an exchange failed before a response status arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Resolving the host or opening the TCP connection failed.
    Connect(String),
    /// The connection broke while the request or response was on the wire.
    Io(String),
}

/// A complete response.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) status: StatusCode,
    /// The body when asked for (and at most [`KEPT_BODY_LIMIT`]); empty otherwise.
    pub(crate) body: Bytes,
    /// When the request was handed to a ready connection: service time starts here.
    pub(crate) sent_at: Instant,
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
    born: Instant,
}

pub(crate) struct Pool {
    target: Target,
    idle: Mutex<Vec<Conn>>,
    /// One slot per connection that may be in use; idle + busy never exceeds the bound.
    slots: Slots,
    max_age: Duration,
    next_addr: AtomicUsize,
    opened: AtomicU64,
}

impl Pool {
    pub(crate) fn new(target: Target, connections: usize, max_age: Duration) -> Self {
        Self {
            target,
            idle: Mutex::new(Vec::new()),
            slots: Slots::new(connections.max(1)),
            max_age,
            next_addr: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
        }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// Connections opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Sends `req` and reads the whole response. Waits for a connection when all are busy;
    /// the caller bounds the whole exchange with its timeout.
    pub(crate) async fn exchange(
        &self,
        mut req: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Exchange, Failure> {
        let _slot = self.slots.acquire().await;
        let mut fresh_only = false;
        loop {
            let idle = if fresh_only { None } else { self.take_idle() };
            let reused = idle.is_some();
            let mut conn = match idle {
                Some(c) => c,
                None => self.dial().await?,
            };
            if conn.sender.ready().await.is_err() {
                // An idle connection the server closed: try the next one.
                if reused {
                    continue;
                }
                return Err(Failure::Io("connection closed before the request".into()));
            }
            let sent_at = Instant::now();
            match conn.sender.try_send_request(req).await {
                Ok(resp) => {
                    let status = resp.status();
                    let body = read_body(resp.into_body(), keep_body)
                        .await
                        .map_err(|e| Failure::Io(format!("reading the response: {e}")))?;
                    self.put_back(conn);
                    return Ok(Exchange {
                        status,
                        body,
                        sent_at,
                    });
                }
                Err(mut e) => match e.take_message() {
                    // Not sent (the connection closed under us): safe to retry once on a
                    // new connection, as hyper-util's client does.
                    Some(back) if reused => {
                        req = back;
                        fresh_only = true;
                    }
                    _ => return Err(Failure::Io(e.error().to_string())),
                },
            }
        }
    }

    /// Closes idle connections past their age (they would otherwise hold a socket open).
    pub(crate) fn sweep(&self) {
        let stale: Vec<Conn> = {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            let (keep, stale) = idle.drain(..).partition(|c| self.reusable(c));
            *idle = keep;
            stale
        };
        drop(stale);
    }

    /// Opens one connection without sending anything: the start-up reachability check.
    pub(crate) async fn probe(&self) -> Result<(), Failure> {
        let conn = self.dial().await?;
        self.put_back(conn);
        Ok(())
    }

    fn reusable(&self, c: &Conn) -> bool {
        c.born.elapsed() < self.max_age && !c.sender.is_closed()
    }

    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(c) = idle.pop() {
            if self.reusable(&c) {
                return Some(c);
            }
        }
        None
    }

    fn put_back(&self, conn: Conn) {
        if self.reusable(&conn) {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }

    /// A new connection: resolve again (the Service's endpoints may have changed), then
    /// try the addresses starting from a rotating index.
    async fn dial(&self) -> Result<Conn, Failure> {
        let name = &self.target.resolve;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(name.as_str())
            .await
            .map_err(|e| Failure::Connect(format!("cannot resolve {name}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Failure::Connect(format!("{name} resolves to no address")));
        }
        let first = self.next_addr.fetch_add(1, Ordering::Relaxed);
        let mut last = String::new();
        for i in 0..addrs.len() {
            let addr = addrs[(first + i) % addrs.len()];
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // Small requests must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    let (sender, connection) = http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|e| Failure::Connect(format!("{addr}: {e}")))?;
                    // Ends by itself once the sender is dropped and nothing is in flight.
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                    self.opened.fetch_add(1, Ordering::Relaxed);
                    return Ok(Conn {
                        sender,
                        born: Instant::now(),
                    });
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(Failure::Connect(last))
    }
}

/// Reads a body to its end; keeps it only when asked and small.
async fn read_body(mut body: Incoming, keep: bool) -> Result<Bytes, hyper::Error> {
    let mut kept = BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data()
            && keep
            && kept.len() + data.len() <= KEPT_BODY_LIMIT
        {
            kept.extend_from_slice(&data);
        }
    }
    Ok(kept.freeze())
}

/// A counting limit that costs two atomic operations per use while below the bound (tokio's
/// semaphore locks its wait list on every release, which contends at tens of thousands of
/// requests per second); only callers that find it full wait, on a [`Notify`].
struct Slots {
    used: AtomicUsize,
    bound: usize,
    waiting: AtomicUsize,
    freed: Notify,
}

/// Gives its slot back when dropped.
struct Slot<'a>(&'a Slots);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.used.fetch_sub(1, Ordering::SeqCst);
        if self.0.waiting.load(Ordering::SeqCst) > 0 {
            self.0.freed.notify_one();
        }
    }
}

impl Slots {
    fn new(bound: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            bound,
            waiting: AtomicUsize::new(0),
            freed: Notify::new(),
        }
    }

    fn try_acquire(&self) -> Option<Slot<'_>> {
        let mut used = self.used.load(Ordering::SeqCst);
        while used < self.bound {
            match self.used.compare_exchange_weak(
                used,
                used + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return Some(Slot(self)),
                Err(now) => used = now,
            }
        }
        None
    }

    async fn acquire(&self) -> Slot<'_> {
        loop {
            if let Some(slot) = self.try_acquire() {
                return slot;
            }
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            // Registered before checking again, so a release in between is not missed.
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let slot = self.try_acquire();
            if slot.is_none() {
                freed.await;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            if let Some(slot) = slot {
                return slot;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slots_never_exceed_the_bound_and_wake_waiters() {
        let slots = Arc::new(Slots::new(3));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let (slots, peak) = (slots.clone(), peak.clone());
                tokio::spawn(async move {
                    let _slot = slots.acquire().await;
                    peak.fetch_max(slots.used.load(Ordering::SeqCst), Ordering::SeqCst);
                    tokio::task::yield_now().await;
                })
            })
            .collect();
        for t in tasks {
            tokio::time::timeout(Duration::from_secs(10), t)
                .await
                .expect("no waiter is forgotten")
                .unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(slots.used.load(Ordering::SeqCst), 0);
    }
}
