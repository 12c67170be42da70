//! The local stand-in for a Kubernetes Service: a TCP round-robin balancer over the ready
//! backend replicas. Like kube-proxy it balances connections, not requests, which is why the
//! load generator recycles its connections.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `listener` until `stop`, sending each accepted connection to the next address of
/// `ready` (read at accept time, so scaling takes effect for new connections). With no ready
/// replica a connection is closed at once, as a Service without endpoints refuses it.
pub async fn serve(
    listener: TcpListener,
    ready: watch::Receiver<Vec<SocketAddr>>,
    stop: CancellationToken,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut conns = JoinSet::new();
    loop {
        let (client, _) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "balancer accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let targets = ready.borrow().clone();
        if targets.is_empty() {
            drop(client);
            continue;
        }
        let target = targets[next.fetch_add(1, Ordering::Relaxed) % targets.len()];
        let stop = stop.clone();
        conns.spawn(async move {
            let _ = client.set_nodelay(true);
            let upstream =
                match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
                    Ok(Ok(s)) => s,
                    _ => return,
                };
            let _ = upstream.set_nodelay(true);
            let (mut a, mut b) = (client, upstream);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut a, &mut b) => {}
                () = stop.cancelled() => {}
            }
        });
    }
    // Every proxied connection ends with the balancer: nothing is left listening.
    conns.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server that answers every connection with its name.
    async fn named(name: &'static str) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let _ = s.write_all(name.as_bytes()).await;
            }
        });
        addr
    }

    async fn ask(addr: SocketAddr) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let mut out = String::new();
        let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_string(&mut out)).await;
        out
    }

    #[tokio::test]
    async fn connections_rotate_over_ready_replicas_and_follow_scaling() {
        let a = named("a").await;
        let b = named("b").await;
        let (tx, rx) = watch::channel(vec![a]);
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(l, rx, stop.clone()));
        assert_eq!(ask(addr).await, "a");
        assert_eq!(ask(addr).await, "a");
        tx.send(vec![a, b]).unwrap();
        let got: Vec<String> = [
            ask(addr).await,
            ask(addr).await,
            ask(addr).await,
            ask(addr).await,
        ]
        .into();
        assert_eq!(got.iter().filter(|s| *s == "a").count(), 2, "{got:?}");
        assert_eq!(got.iter().filter(|s| *s == "b").count(), 2, "{got:?}");
        tx.send(vec![]).unwrap();
        assert_eq!(
            ask(addr).await,
            "",
            "no endpoints: the connection is closed"
        );
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
        assert!(
            TcpStream::connect(addr).await.is_err(),
            "the port is free after stop"
        );
    }
}
