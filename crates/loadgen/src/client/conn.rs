//! One HTTP/1.1 keep-alive connection, owned by whoever sends on it (a worker, or the
//! start-up checks). Its hyper driver is polled inside the owner's own task while an exchange
//! runs, rather than in a task of its own: a request then costs no hop between tasks (and,
//! on a multi-threaded runtime, no hop between threads).

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, Connection, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Bodies kept for parsing (booked tickets) are small; a larger one is read and discarded.
const KEPT_BODY_LIMIT: usize = 64 * 1024;

type Driver = Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// Why an exchange failed before a response status arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Resolving the host or opening the TCP connection failed.
    Connect(String),
    /// The connection broke while the request or response was on the wire.
    Io(String),
}

/// Why [`Conn::exchange`] gave no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The connection was closed before the request was written: it is handed back, and
    /// is safe to send again on another connection.
    NotSent(Box<Request<Full<Bytes>>>),
    Failed(Failure),
}

/// A complete response.
#[derive(Debug)]
pub(crate) struct Exchange {
    pub(crate) status: StatusCode,
    /// The body when asked for (and at most [`KEPT_BODY_LIMIT`]); empty otherwise.
    pub(crate) body: Bytes,
    /// When the request was handed to the ready connection: service time starts here.
    pub(crate) sent_at: Instant,
}

pub(crate) struct Conn {
    sender: SendRequest<Full<Bytes>>,
    driver: Driver,
    born: Instant,
    /// The driver has finished (closed by either side, or broken); it must not be polled
    /// again.
    done: bool,
}

impl Conn {
    /// HTTP/1.1 over an open stream. The handshake exchanges nothing on the wire.
    pub(crate) async fn handshake(stream: TcpStream, born: Instant) -> Result<Self, Failure> {
        // Small requests must not wait for Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        Ok(Self {
            sender,
            driver,
            born,
            done: false,
        })
    }

    /// A connection opened on another runtime, moved onto the current one (its socket is
    /// registered with this runtime's reactor).
    pub(crate) async fn adopt(parked: Parked) -> Result<Self, Failure> {
        let stream = TcpStream::from_std(parked.stream).map_err(|e| Failure::Io(e.to_string()))?;
        Self::handshake(stream, parked.born).await
    }

    /// Detaches the socket from this runtime so another one can [`Conn::adopt`] it. None
    /// when the connection is not idle and clean.
    pub(crate) fn park(mut self) -> Option<Parked> {
        if !self.usable(Duration::MAX) {
            return None;
        }
        let born = self.born;
        drop(self.sender);
        let parts = self.driver.into_parts();
        if !parts.read_buf.is_empty() {
            return None;
        }
        let stream = parts.io.into_inner().into_std().ok()?;
        Some(Parked { stream, born })
    }

    /// True while the connection may carry another request: younger than `max_age` and
    /// not closed. Polls the driver once (without waiting) so that a close by the server
    /// while the connection sat idle is seen before a request is risked on it.
    pub(crate) fn usable(&mut self, max_age: Duration) -> bool {
        if self.done || self.born.elapsed() >= max_age {
            return false;
        }
        let mut cx = Context::from_waker(Waker::noop());
        if Pin::new(&mut self.driver).poll(&mut cx).is_ready() {
            self.done = true;
        }
        !self.done
    }

    /// Sends `req` and reads the whole response. The caller bounds the time it may take.
    pub(crate) async fn exchange(
        &mut self,
        req: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Exchange, SendError> {
        if self.done {
            return Err(SendError::NotSent(Box::new(req)));
        }
        let Self {
            sender,
            driver,
            done,
            ..
        } = self;
        let mut work = pin!(send(sender, req, keep_body));
        poll_fn(|cx| {
            if let Poll::Ready(out) = work.as_mut().poll(cx) {
                return Poll::Ready(out);
            }
            // Once the driver has finished, what it received is already with the exchange,
            // which ends on its own (or the caller's timeout ends it).
            if *done {
                return Poll::Pending;
            }
            // The driver writes what the exchange just queued and reads what answers it;
            // the exchange is polled again so that a response already in the socket
            // completes in this same turn.
            if Pin::new(&mut *driver).poll(cx).is_ready() {
                *done = true;
            }
            work.as_mut().poll(cx)
        })
        .await
    }
}

/// A connection's socket between two runtimes.
#[derive(Debug)]
pub(crate) struct Parked {
    stream: std::net::TcpStream,
    born: Instant,
}

async fn send(
    sender: &mut SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<Exchange, SendError> {
    if sender.ready().await.is_err() {
        return Err(SendError::NotSent(Box::new(req)));
    }
    let sent_at = Instant::now();
    match sender.try_send_request(req).await {
        Ok(resp) => {
            let status = resp.status();
            let body = read_body(resp.into_body(), keep_body).await.map_err(|e| {
                SendError::Failed(Failure::Io(format!("reading the response: {e}")))
            })?;
            Ok(Exchange {
                status,
                body,
                sent_at,
            })
        }
        Err(mut e) => match e.take_message() {
            Some(req) => Err(SendError::NotSent(Box::new(req))),
            None => Err(SendError::Failed(Failure::Io(e.error().to_string()))),
        },
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
