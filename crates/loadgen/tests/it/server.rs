//! A tiny HTTP server on 127.0.0.1:0 for the tests: HTTP/1.1 by default, or with
//! [`Server::start_with`] HTTPS (HTTP/1.1 and h2 by ALPN) or h2c too. It counts connections
//! (opened and closed), requests (and those over HTTP/2) and concurrency, remembers arrivals
//! and the TLS names asked for, and answers through a closure that may ask for a delay or
//! for the connection to be closed.

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// One request as the handler sees it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: http::Method,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) session: Option<String>,
    pub(crate) body: Bytes,
    /// Since the first request reached the server.
    pub(crate) since_first: Duration,
}

/// What the handler answers.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) delay: Duration,
    /// Answer with `Connection: close`, so the connection ends after this response.
    pub(crate) close: bool,
}

impl Reply {
    pub(crate) fn ok(body: &str) -> Self {
        Self::status(200, body)
    }
    pub(crate) fn status(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
            close: false,
        }
    }
    pub(crate) fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    pub(crate) fn closing(mut self) -> Self {
        self.close = true;
        self
    }
}

type Handler = dyn Fn(&Seen) -> Reply + Send + Sync;

#[derive(Default)]
pub(crate) struct State {
    pub(crate) connections: AtomicU64,
    /// Connections that ended (closed by either side).
    pub(crate) closed: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) in_flight: AtomicU64,
    pub(crate) max_in_flight: AtomicU64,
    /// Load requests that came over HTTP/2.
    pub(crate) http2: AtomicU64,
    /// The server name (SNI) of every TLS handshake that completed.
    pub(crate) names: Mutex<Vec<String>>,
    /// TLS handshakes that failed (the client refused the certificate, ...).
    pub(crate) refused: AtomicU64,
    first: OnceLock<Instant>,
    /// Every load request (not /readyz or /api/showtimes), in arrival order.
    pub(crate) seen: Mutex<Vec<Seen>>,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl State {
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub(crate) struct Server {
    pub(crate) url: String,
    pub(crate) state: Arc<State>,
}

/// How a test server speaks.
#[derive(Default, Clone)]
pub(crate) struct Speaks {
    /// HTTPS with this certificate, HTTP/1.1 and h2 offered by ALPN.
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// Plain http: h2c with prior knowledge accepted beside HTTP/1.1.
    pub(crate) h2c: bool,
}

impl Server {
    pub(crate) async fn start(handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        Self::start_with(Speaks::default(), handler).await
    }

    pub(crate) async fn start_with(
        speaks: Speaks,
        handler: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let tls = speaks.tls.is_some();
        let st = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                st.connections.fetch_add(1, Ordering::SeqCst);
                let (st2, h) = (st.clone(), handler.clone());
                let ended = st.clone();
                let speaks = speaks.clone();
                let conn = tokio::spawn(async move {
                    connection(stream, speaks, st2, h).await;
                    ended.closed.fetch_add(1, Ordering::SeqCst);
                });
                st.tasks.lock().unwrap().push(conn.abort_handle());
            }
        });
        state.tasks.lock().unwrap().push(accept.abort_handle());
        let scheme = if tls { "https" } else { "http" };
        Self {
            url: format!("{scheme}://{addr}"),
            state,
        }
    }

    /// Answers 200 "ok" at once.
    pub(crate) async fn ok() -> Self {
        Self::start(|_| Reply::ok("ok")).await
    }

    /// Stops listening and cuts every open connection.
    pub(crate) fn kill(&self) {
        for t in self.state.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Waits until at least `n` requests arrived (bounded).
    pub(crate) async fn wait_requests(&self, n: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.state.requests.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} requests within {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Serves one accepted connection as `speaks` says.
async fn connection(stream: TcpStream, speaks: Speaks, st: Arc<State>, h: Arc<Handler>) {
    let st2 = st.clone();
    let svc = service_fn(move |req| serve(st2.clone(), h.clone(), req));
    match speaks.tls {
        Some(config) => {
            let tls = match TlsAcceptor::from(config).accept(stream).await {
                Ok(tls) => tls,
                Err(_) => {
                    st.refused.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            };
            if let Some(name) = tls.get_ref().1.server_name() {
                st.names.lock().unwrap().push(name.to_string());
            }
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), svc)
                .await;
        }
        None if speaks.h2c => {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
        None => {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        }
    }
}

async fn serve(
    st: Arc<State>,
    handler: Arc<Handler>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let now = Instant::now();
    let first = *st.first.get_or_init(|| now);
    let method = req.method().clone();
    let http2 = req.version() == http::Version::HTTP_2;
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let session = req
        .headers()
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let seen = Seen {
        method,
        path,
        query,
        session,
        body,
        since_first: now - first,
    };
    let reply = handler(&seen);
    // Start-up requests (readiness, the showtimes list) are not load.
    if seen.path != "/readyz" && seen.path != "/api/showtimes" {
        st.requests.fetch_add(1, Ordering::SeqCst);
        if http2 {
            st.http2.fetch_add(1, Ordering::SeqCst);
        }
        st.seen.lock().unwrap().push(seen);
    }
    let now_in = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(now_in, Ordering::SeqCst);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    st.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut resp = Response::new(Full::new(Bytes::from(reply.body)));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap();
    if reply.close {
        resp.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    Ok(resp)
}
