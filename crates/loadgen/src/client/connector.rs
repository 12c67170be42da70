//! Opens connections to the target: the host is resolved again for every new connection
//! (a Service's endpoints may have changed) unless `--resolve` pins it, and the addresses
//! are tried from a rotating start, so replicas added behind a connection-level balancer get
//! their share of traffic. Then TLS when the target is https (the URL's host named by SNI),
//! and HTTP/1.1 or HTTP/2 (by ALPN over TLS, with prior knowledge over plain TCP).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use common::tls::rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::stream::Tcp;
use super::{Conn, Failure, Setup, Stream, Target};
use crate::Transport;

/// ALPN's name of HTTP/2.
const H2: &[u8] = b"h2";

/// How connections are made, decided once per run.
#[derive(Clone)]
pub(crate) struct Dialing {
    tls: Option<(TlsConnector, ServerName<'static>)>,
    http2: bool,
    /// `--resolve` addresses for the target's host and port; empty: resolve the name.
    pinned: Vec<SocketAddr>,
}

impl Dialing {
    /// Reads the trusted certificates (once) when the target is https. The error names
    /// what is wrong.
    pub(crate) fn new(target: &Target, transport: &Transport) -> Result<Self, String> {
        let tls = if target.is_tls() {
            let alpn: &[&[u8]] = if transport.http2 {
                &[H2]
            } else {
                &[b"http/1.1"]
            };
            let config =
                common::tls::client_config(&transport.trust, alpn).map_err(|e| e.to_string())?;
            let name = ServerName::try_from(target.host.clone()).map_err(|e| {
                format!("`{}` cannot be named in a TLS handshake: {e}", target.host)
            })?;
            Some((TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        let pinned = transport
            .resolve
            .iter()
            .filter(|r| r.host.eq_ignore_ascii_case(&target.host) && r.port == target.port)
            .map(|r| SocketAddr::new(r.addr, r.port))
            .collect();
        Ok(Self {
            tls,
            http2: transport.http2,
            pinned,
        })
    }
}

pub(crate) struct Connector {
    target: Target,
    dialing: Dialing,
    setup: Setup,
    next_addr: AtomicUsize,
    opened: AtomicU64,
}

impl Connector {
    pub(crate) fn new(target: Target, dialing: Dialing, setup: Setup) -> Self {
        Self {
            target,
            dialing,
            setup,
            next_addr: AtomicUsize::new(0),
            opened: AtomicU64::new(0),
        }
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn setup(&self) -> &Setup {
        &self.setup
    }

    /// Connections opened so far.
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// A new connection. The caller bounds how long it may take.
    pub(crate) async fn dial(&self) -> Result<Conn, Failure> {
        let addrs = self.addresses().await?;
        let first = self.next_addr.fetch_add(1, Ordering::Relaxed);
        let mut last = String::new();
        for i in 0..addrs.len() {
            let addr = addrs[(first + i) % addrs.len()];
            let start = Instant::now();
            match TcpStream::connect(addr).await {
                Ok(tcp) => {
                    let born = Instant::now();
                    self.setup.connected(born.saturating_duration_since(start));
                    // Small requests must not wait for Nagle's algorithm.
                    let _ = tcp.set_nodelay(true);
                    let tcp = Tcp::new(tcp, self.setup.network());
                    let conn = self.speak(tcp, born).await.map_err(|f| match f {
                        Failure::Tls(e) => Failure::Tls(format!("{addr}: {e}")),
                        Failure::Connect(e) | Failure::Io(e) => {
                            Failure::Connect(format!("{addr}: {e}"))
                        }
                    })?;
                    self.opened.fetch_add(1, Ordering::Relaxed);
                    return Ok(conn);
                }
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(Failure::Connect(last))
    }

    async fn addresses(&self) -> Result<Vec<SocketAddr>, Failure> {
        if !self.dialing.pinned.is_empty() {
            return Ok(self.dialing.pinned.clone());
        }
        let name = &self.target.resolve;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(name.as_str())
            .await
            .map_err(|e| Failure::Connect(format!("cannot resolve {name}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(Failure::Connect(format!("{name} resolves to no address")));
        }
        Ok(addrs)
    }

    /// TLS when the target is https, then the connection's HTTP version.
    async fn speak(&self, tcp: Tcp, born: Instant) -> Result<Conn, Failure> {
        let stream = match &self.dialing.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => {
                let tls = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| Failure::Tls(common::tls::handshake_failure(&e)))?;
                self.setup.handshaken(born.elapsed());
                if self.dialing.http2 && tls.get_ref().1.alpn_protocol() != Some(H2) {
                    return Err(Failure::Tls(
                        "the server did not agree to HTTP/2 in the handshake (ALPN); leave out \
                         --http2 for HTTP/1.1"
                            .into(),
                    ));
                }
                Stream::Tls(Box::new(tls))
            }
        };
        if self.dialing.http2 {
            let t = &self.target;
            Conn::http2(stream, born, t.scheme.clone(), t.authority.clone()).await
        } else {
            Conn::http1(stream, born).await
        }
    }
}
