//! Closing open keep-alive connections at shutdown: each connection finishes the response
//! it is writing, then closes; idle ones close at once.
//!
//! Instead of hyper-util's `GracefulShutdown`, whose watcher takes a lock on every poll of
//! every connection (twice per request), a connection here checks one atomic flag per poll
//! and registers its waker only when the waker changes, which for a spawned task is once.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use hyper::server::conn::http1;
use hyper::service::HttpService;
use pin_project_lite::pin_project;

/// The shutdown side: tells every watched connection to close.
#[derive(Debug, Default)]
pub(crate) struct CloseSignal {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    closing: AtomicBool,
    next_id: AtomicU64,
    wakers: Mutex<HashMap<u64, Waker>>,
}

impl Shared {
    fn wakers(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        self.wakers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CloseSignal {
    /// `conn`, closing gracefully once [`CloseSignal::close`] is called.
    pub(crate) fn watch<C>(&self, conn: C) -> Watched<C> {
        Watched {
            conn,
            shared: self.shared.clone(),
            id: self.shared.next_id.fetch_add(1, Ordering::Relaxed),
            registered: None,
            closing: false,
        }
    }

    /// Every watched connection, now and later, closes after its current response.
    pub(crate) fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *self.shared.wakers());
        for waker in wakers.into_values() {
            waker.wake();
        }
    }
}

/// A connection that can be told to close.
pub(crate) trait GracefulClose: Future {
    fn close_gracefully(self: Pin<&mut Self>);
}

impl<I, S> GracefulClose for http1::Connection<I, S>
where
    S: HttpService<hyper::body::Incoming>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
    S::ResBody: 'static,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn close_gracefully(self: Pin<&mut Self>) {
        self.graceful_shutdown();
    }
}

pin_project! {
    /// A connection under a [`CloseSignal`].
    pub(crate) struct Watched<C> {
        #[pin]
        conn: C,
        shared: Arc<Shared>,
        id: u64,
        // The waker the signal holds for this connection, if any.
        registered: Option<Waker>,
        closing: bool,
    }

    impl<C> PinnedDrop for Watched<C> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.registered.is_some() {
                this.shared.wakers().remove(this.id);
            }
        }
    }
}

impl<C: GracefulClose> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        if !*this.closing && close_requested(this.shared, *this.id, this.registered, cx) {
            *this.closing = true;
            this.conn.as_mut().close_gracefully();
        }
        this.conn.poll(cx)
    }
}

/// Whether the signal fired; otherwise makes sure it will wake this task when it does.
fn close_requested(
    shared: &Shared,
    id: u64,
    registered: &mut Option<Waker>,
    cx: &Context<'_>,
) -> bool {
    if shared.closing.load(Ordering::SeqCst) {
        return true;
    }
    if registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
        return false;
    }
    let mut wakers = shared.wakers();
    // Checked again under the lock: `close` sets the flag before it takes the wakers, so
    // either it sees this waker or this sees the flag.
    if shared.closing.load(Ordering::SeqCst) {
        return true;
    }
    wakers.insert(id, cx.waker().clone());
    *registered = Some(cx.waker().clone());
    false
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Stands in for a connection: pending until told to close, then done.
    struct FakeConn {
        told: Arc<AtomicUsize>,
        closing: bool,
    }

    impl Future for FakeConn {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.closing {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    impl GracefulClose for FakeConn {
        fn close_gracefully(mut self: Pin<&mut Self>) {
            self.told.fetch_add(1, Ordering::SeqCst);
            self.closing = true;
        }
    }

    /// Lets the spawned connections run until `n` of them have registered.
    async fn until_registered(signal: &CloseSignal, n: usize) {
        for _ in 0..1_000 {
            if signal.shared.wakers().len() == n {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("{n} connections never registered");
    }

    fn conn(told: &Arc<AtomicUsize>) -> FakeConn {
        FakeConn {
            told: told.clone(),
            closing: false,
        }
    }

    #[tokio::test]
    async fn close_wakes_every_waiting_connection_once() {
        let signal = CloseSignal::default();
        let told = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|_| tokio::spawn(signal.watch(conn(&told))))
            .collect();
        until_registered(&signal, 8).await;
        assert_eq!(told.load(Ordering::SeqCst), 0);
        signal.close();
        for task in tasks {
            tokio::time::timeout(std::time::Duration::from_secs(5), task)
                .await
                .expect("a watched connection closed")
                .unwrap();
        }
        assert_eq!(told.load(Ordering::SeqCst), 8);
        assert!(signal.shared.wakers().is_empty());
    }

    #[tokio::test]
    async fn a_connection_watched_after_close_closes_at_its_first_poll() {
        let signal = CloseSignal::default();
        signal.close();
        let told = Arc::new(AtomicUsize::new(0));
        signal.watch(conn(&told)).await;
        assert_eq!(told.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_dropped_connection_leaves_no_waker_behind() {
        let signal = CloseSignal::default();
        let told = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(signal.watch(conn(&told)));
        until_registered(&signal, 1).await;
        task.abort();
        let _ = task.await;
        assert!(signal.shared.wakers().is_empty());
    }
}
