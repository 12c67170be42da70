//! A listener whose accepted connections count the bytes they carry
//! (`app_network_{receive,transmit}_bytes_total`), for the report's network figures.

use common::netcount::{ByteCounters, Counted};

/// Wraps every connection `inner` accepts in a [`Counted`] stream.
pub(crate) struct CountingListener<L> {
    pub(crate) inner: L,
    pub(crate) counters: ByteCounters,
}

impl<L> axum::serve::Listener for CountingListener<L>
where
    L: axum::serve::Listener,
{
    type Io = Counted<L::Io>;
    type Addr = L::Addr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (io, addr) = self.inner.accept().await;
        (Counted::new(io, self.counters.clone()), addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
