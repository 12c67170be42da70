//! Connection setup measured apart from requests: the time to open each TCP connection and
//! to complete each TLS handshake (HDR histograms for the report, Prometheus histograms for
//! `/metrics`), and the handshakes counted, so that what `--conn-max-age` rotation costs is
//! seen. Setup is rare next to requests, so one lock shared by every lane is no contention.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::stats::{histogram, micros};

/// The `/metrics` series of connection setup.
pub(crate) struct SetupMetrics {
    pub(crate) connect: metrics::Histogram,
    pub(crate) tls: metrics::Histogram,
    pub(crate) handshakes: metrics::Counter,
    pub(crate) network: common::netcount::ByteCounters,
}

pub(crate) struct Setup {
    connect: Mutex<Histogram<u64>>,
    tls: Mutex<Histogram<u64>>,
    handshakes: AtomicU64,
    /// None for connections that are not load (the readiness polls).
    metrics: Option<SetupMetrics>,
}

/// What the setup of a run's connections measured.
pub(crate) struct SetupTotals {
    pub(crate) connect: Histogram<u64>,
    pub(crate) tls: Histogram<u64>,
    pub(crate) handshakes: u64,
}

impl Setup {
    pub(crate) fn new(metrics: Option<SetupMetrics>) -> Self {
        Self {
            connect: Mutex::new(histogram()),
            tls: Mutex::new(histogram()),
            handshakes: AtomicU64::new(0),
            metrics,
        }
    }

    /// A TCP connection opened in `took`.
    pub(crate) fn connected(&self, took: Duration) {
        record(&self.connect, took);
        if let Some(m) = &self.metrics {
            m.connect.record(took.as_secs_f64());
        }
    }

    /// A TLS handshake completed in `took`.
    pub(crate) fn handshaken(&self, took: Duration) {
        record(&self.tls, took);
        self.handshakes.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.tls.record(took.as_secs_f64());
            m.handshakes.increment(1);
        }
    }

    /// Where the connections add up their bytes (nowhere for connections that are not load).
    pub(crate) fn network(&self) -> common::netcount::ByteCounters {
        self.metrics
            .as_ref()
            .map_or_else(common::netcount::ByteCounters::noop, |m| m.network.clone())
    }

    pub(crate) fn totals(&self) -> SetupTotals {
        let copy =
            |h: &Mutex<Histogram<u64>>| h.lock().unwrap_or_else(PoisonError::into_inner).clone();
        SetupTotals {
            connect: copy(&self.connect),
            tls: copy(&self.tls),
            handshakes: self.handshakes.load(Ordering::Relaxed),
        }
    }
}

fn record(h: &Mutex<Histogram<u64>>, took: Duration) {
    h.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .saturating_record(micros(took).max(1));
}
