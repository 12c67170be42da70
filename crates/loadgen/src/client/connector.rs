//! Opens connections to the target: the host is resolved again for every new connection
//! (a Service's endpoints may have changed) and the addresses are tried from a rotating
//! start, so replicas added behind a connection-level balancer get their share of traffic.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::net::TcpStream;
use tokio::time::Instant;

use super::{Conn, Failure, Target};

pub(crate) struct Connector {
    target: Target,
    next_addr: AtomicUsize,
    opened: AtomicU64,
}

impl Connector {
    pub(crate) fn new(target: Target) -> Self {
        Self {
            target,
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

    /// A new connection. The caller bounds how long it may take.
    pub(crate) async fn dial(&self) -> Result<Conn, Failure> {
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
                    let conn =
                        Conn::handshake(stream, Instant::now())
                            .await
                            .map_err(|f| match f {
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
}
