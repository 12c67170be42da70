//! One keep-alive connection, HTTP/1.1 or HTTP/2, owned by whoever sends on it (a worker, a
//! virtual user, the start-up checks). An HTTP/1.1 connection's hyper driver is polled
//! inside the owner's own task while an exchange runs, rather than in a task of its own: a
//! request then costs no hop between tasks (and, on a multi-threaded runtime, no hop
//! between threads). An HTTP/2 connection carries several exchanges at once, so its driver
//! runs in a task of the runtime that opened it, and its owners hold clones of its sender.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::netcount::{ByteCounters, Counted};
use http::header::HOST;
use http::uri::{Authority, Scheme};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::Stream;

/// Bodies kept for parsing (booked tickets) are small; a larger one is read and discarded.
const KEPT_BODY_LIMIT: usize = 64 * 1024;

type Driver = http1::Connection<TokioIo<Stream>, Full<Bytes>>;

/// Why an exchange failed before a response status arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Resolving the host or opening the TCP connection failed.
    Connect(String),
    /// The TLS handshake failed (certificate refused, wrong host, expired, ...).
    Tls(String),
    /// The connection broke while the request or response was on the wire.
    Io(String),
}

impl Failure {
    /// The reason, with what failed when it is not plain from the kind.
    pub(crate) fn describe(self) -> String {
        match self {
            Failure::Connect(why) => format!("cannot connect: {why}"),
            Failure::Tls(why) => format!("tls: {why}"),
            Failure::Io(why) => why,
        }
    }
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
    proto: Proto,
    born: Instant,
}

// The HTTP/1.1 driver stays inline: it is polled on every exchange of the plain hot path,
// and a few hundred connections' worth of unused bytes in the HTTP/2 case cost nothing.
#[expect(
    clippy::large_enum_variant,
    reason = "no indirection on the HTTP/1.1 hot path"
)]
enum Proto {
    H1 {
        sender: http1::SendRequest<Full<Bytes>>,
        driver: Driver,
        /// The driver has finished (closed by either side, or broken); it must not be
        /// polled again.
        done: bool,
    },
    H2 {
        sender: http2::SendRequest<Full<Bytes>>,
        /// HTTP/2 names the target in pseudo-headers rather than in `Host`.
        scheme: Scheme,
        authority: Authority,
    },
}

impl Conn {
    /// HTTP/1.1 over an open stream. The handshake exchanges nothing on the wire.
    pub(crate) async fn http1(stream: Stream, born: Instant) -> Result<Self, Failure> {
        let (sender, driver) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(e.to_string()))?;
        Ok(Self {
            proto: Proto::H1 {
                sender,
                driver,
                done: false,
            },
            born,
        })
    }

    /// HTTP/2 over an open stream (negotiated by ALPN, or with prior knowledge on plain
    /// TCP). Its driver becomes a task of the current runtime, ending once every clone of
    /// the connection is gone.
    pub(crate) async fn http2(
        stream: Stream,
        born: Instant,
        scheme: Scheme,
        authority: Authority,
    ) -> Result<Self, Failure> {
        let (sender, driver) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .map_err(|e| Failure::Connect(format!("HTTP/2 handshake: {e}")))?;
        tokio::spawn(async move {
            if let Err(e) = driver.await {
                tracing::debug!(error = %e, "an HTTP/2 connection ended");
            }
        });
        Ok(Self {
            proto: Proto::H2 {
                sender,
                scheme,
                authority,
            },
            born,
        })
    }

    /// A connection opened on another runtime, moved onto the current one (its socket is
    /// registered with this runtime's reactor), its bytes counted from now on in `network`
    /// (it may have been opened by a start-up check, which counts nothing).
    pub(crate) async fn adopt(parked: Parked, network: ByteCounters) -> Result<Self, Failure> {
        let stream = TcpStream::from_std(parked.stream).map_err(|e| Failure::Io(e.to_string()))?;
        let stream = Counted::new(stream, network);
        Self::http1(Stream::Plain(stream), parked.born).await
    }

    /// Another handle on an HTTP/2 connection, for one more owner; None for HTTP/1.1,
    /// which carries one exchange at a time.
    pub(crate) fn share(&self) -> Option<Self> {
        match &self.proto {
            Proto::H1 { .. } => None,
            Proto::H2 {
                sender,
                scheme,
                authority,
            } => Some(Self {
                proto: Proto::H2 {
                    sender: sender.clone(),
                    scheme: scheme.clone(),
                    authority: authority.clone(),
                },
                born: self.born,
            }),
        }
    }

    /// Detaches the socket from this runtime so another one can [`Conn::adopt`] it. None
    /// when the connection is not an idle and clean plain HTTP/1.1 one.
    pub(crate) fn park(mut self) -> Option<Parked> {
        if !self.usable(Duration::MAX) {
            return None;
        }
        let born = self.born;
        let Proto::H1 { sender, driver, .. } = self.proto else {
            return None;
        };
        drop(sender);
        let parts = driver.into_parts();
        if !parts.read_buf.is_empty() {
            return None;
        }
        let Stream::Plain(stream) = parts.io.into_inner() else {
            return None;
        };
        let stream = stream.into_inner().into_std().ok()?;
        Some(Parked { stream, born })
    }

    /// True while the connection may carry another request: younger than `max_age` and
    /// not closed. Polls an HTTP/1.1 driver once (without waiting) so that a close by the
    /// server while the connection sat idle is seen before a request is risked on it.
    pub(crate) fn usable(&mut self, max_age: Duration) -> bool {
        if self.born.elapsed() >= max_age {
            return false;
        }
        match &mut self.proto {
            Proto::H1 { driver, done, .. } => {
                if *done {
                    return false;
                }
                let mut cx = Context::from_waker(Waker::noop());
                if Pin::new(driver).poll(&mut cx).is_ready() {
                    *done = true;
                }
                !*done
            }
            Proto::H2 { sender, .. } => !sender.is_closed(),
        }
    }

    /// Sends `req` and reads the whole response. The caller bounds the time it may take.
    pub(crate) async fn exchange(
        &mut self,
        req: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Exchange, SendError> {
        match &mut self.proto {
            Proto::H1 {
                sender,
                driver,
                done,
            } => exchange_h1(sender, driver, done, req, keep_body).await,
            Proto::H2 {
                sender,
                scheme,
                authority,
            } => {
                let req = absolute(req, scheme, authority);
                if sender.ready().await.is_err() {
                    return Err(SendError::NotSent(Box::new(req)));
                }
                let sent_at = Instant::now();
                let sent = sender.try_send_request(req).await;
                response(sent, sent_at, keep_body).await
            }
        }
    }
}

async fn exchange_h1(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    driver: &mut Driver,
    done: &mut bool,
    req: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<Exchange, SendError> {
    if *done {
        return Err(SendError::NotSent(Box::new(req)));
    }
    let mut work = pin!(send_h1(sender, req, keep_body));
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

/// An origin-form request made fit for HTTP/2: scheme and authority in the URI (they
/// become the `:scheme` and `:authority` pseudo-headers), no `Host` header.
fn absolute(
    mut req: Request<Full<Bytes>>,
    scheme: &Scheme,
    authority: &Authority,
) -> Request<Full<Bytes>> {
    if req.uri().authority().is_none() {
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        parts.scheme = Some(scheme.clone());
        parts.authority = Some(authority.clone());
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req.headers_mut().remove(HOST);
    req
}

/// A connection's socket between two runtimes.
#[derive(Debug)]
pub(crate) struct Parked {
    stream: std::net::TcpStream,
    born: Instant,
}

async fn send_h1(
    sender: &mut http1::SendRequest<Full<Bytes>>,
    req: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<Exchange, SendError> {
    if sender.ready().await.is_err() {
        return Err(SendError::NotSent(Box::new(req)));
    }
    let sent_at = Instant::now();
    let sent = sender.try_send_request(req).await;
    response(sent, sent_at, keep_body).await
}

/// The response to a request handed to hyper at `sent_at`, body read.
async fn response(
    sent: Result<http::Response<Incoming>, hyper::client::conn::TrySendError<Request<Full<Bytes>>>>,
    sent_at: Instant,
    keep_body: bool,
) -> Result<Exchange, SendError> {
    match sent {
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
