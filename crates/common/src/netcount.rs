//! Bytes a component reads and writes on its connections, counted by a stream wrapper.
//!
//! The local runtime runs every component in one process, where the kernel's per-interface
//! or per-process figures cannot tell them apart; a component that counts what passes
//! through its own sockets can. On a cluster the same counters sit beside cAdvisor's.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Where the bytes of a component's connections are added up: `received` for reads,
/// `sent` for writes. Cheap to clone (counter handles).
#[derive(Clone)]
pub struct ByteCounters {
    pub received: metrics::Counter,
    pub sent: metrics::Counter,
}

impl ByteCounters {
    /// Counters that count nothing, for connections that are not the component's traffic.
    pub fn noop() -> Self {
        Self {
            received: metrics::Counter::noop(),
            sent: metrics::Counter::noop(),
        }
    }
}

impl std::fmt::Debug for ByteCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteCounters").finish_non_exhaustive()
    }
}

/// A stream whose reads and writes are added to [`ByteCounters`]. Wrapped around the TCP
/// stream, under TLS, so the counts are the bytes on the wire.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    counters: ByteCounters,
}

impl<S> Counted<S> {
    pub fn new(inner: S, counters: ByteCounters) -> Self {
        Self { inner, counters }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn counters(&self) -> &ByteCounters {
        &self.counters
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        if read > 0 {
            this.counters.received.increment(read as u64);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.counters.sent.increment(n as u64);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.counters.sent.increment(n as u64);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use metrics::{Counter, CounterFn};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A counter the test can read back.
    #[derive(Default)]
    struct Cell(AtomicU64);

    impl CounterFn for Cell {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::Relaxed);
        }
        fn absolute(&self, value: u64) {
            self.0.store(value, Ordering::Relaxed);
        }
    }

    #[tokio::test]
    async fn both_directions_are_counted_exactly() {
        let (received, sent) = (Arc::new(Cell::default()), Arc::new(Cell::default()));
        let counters = ByteCounters {
            received: Counter::from_arc(received.clone()),
            sent: Counter::from_arc(sent.clone()),
        };
        // A pipe smaller than the message: writes and reads come in pieces.
        let (a, mut b) = tokio::io::duplex(64);
        let mut a = Counted::new(a, counters);
        let writer = tokio::spawn(async move {
            a.write_all(&[7u8; 1000]).await.unwrap();
            let mut back = [0u8; 10];
            a.read_exact(&mut back).await.unwrap();
        });
        let mut got = vec![0u8; 1000];
        b.read_exact(&mut got).await.unwrap();
        b.write_all(&[1u8; 10]).await.unwrap();
        writer.await.unwrap();
        assert_eq!(sent.0.load(Ordering::Relaxed), 1000);
        assert_eq!(received.0.load(Ordering::Relaxed), 10);
    }
}
