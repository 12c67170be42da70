//! Latency quantiles over a recent window (the last [`WINDOW_SECS`] seconds) for
//! `/api/stats`: a ring of one-second HDR histograms, merged only when stats are read, so
//! recording stays cheap and old samples age out on their own.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Seconds of history the quantiles cover.
pub(crate) const WINDOW_SECS: u64 = 10;
/// Largest latency tracked exactly, in microseconds (larger values are clamped).
const MAX_MICROS: u64 = 120_000_000;

#[derive(Debug)]
struct Slot {
    second: u64,
    histogram: Histogram<u64>,
}

#[derive(Debug)]
pub(crate) struct LatencyWindow {
    origin: Instant,
    slots: Mutex<Vec<Slot>>,
}

/// The median and 95th percentile in milliseconds (0 with no samples).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Quantiles {
    pub(crate) p50_ms: f64,
    pub(crate) p95_ms: f64,
}

fn new_histogram() -> Option<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_MICROS, 2).ok()
}

impl LatencyWindow {
    pub(crate) fn new(origin: Instant) -> Self {
        let slots = (0..WINDOW_SECS)
            .filter_map(|_| {
                new_histogram().map(|histogram| Slot {
                    second: u64::MAX,
                    histogram,
                })
            })
            .collect();
        Self {
            origin,
            slots: Mutex::new(slots),
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.origin).as_secs()
    }

    pub(crate) fn record(&self, latency: Duration, now: Instant) {
        let second = self.second(now);
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let len = slots.len() as u64;
        if len == 0 {
            return;
        }
        let Some(slot) = slots.get_mut((second % len) as usize) else {
            return;
        };
        if slot.second != second {
            slot.histogram.reset();
            slot.second = second;
        }
        slot.histogram.saturating_record(micros);
    }

    pub(crate) fn quantiles(&self, now: Instant) -> Quantiles {
        let second = self.second(now);
        let Some(mut merged) = new_histogram() else {
            return Quantiles::default();
        };
        let slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for slot in slots.iter() {
            let fresh = slot.second != u64::MAX && second.saturating_sub(slot.second) < WINDOW_SECS;
            if fresh {
                // Same bounds everywhere, so adding cannot fail; a failure would only drop
                // that second's samples.
                let _ = merged.add(&slot.histogram);
            }
        }
        if merged.is_empty() {
            return Quantiles::default();
        }
        let ms = |q: f64| merged.value_at_quantile(q) as f64 / 1000.0;
        Quantiles {
            p50_ms: ms(0.5),
            p95_ms: ms(0.95),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_reflect_recent_samples_only() {
        let t0 = Instant::now();
        let w = LatencyWindow::new(t0);
        assert_eq!(w.quantiles(t0), Quantiles::default());
        for i in 0..100u64 {
            w.record(Duration::from_millis(i + 1), t0);
        }
        let q = w.quantiles(t0 + Duration::from_secs(1));
        assert!((q.p50_ms - 50.0).abs() <= 1.0, "{q:?}");
        assert!((q.p95_ms - 95.0).abs() <= 1.5, "{q:?}");
        // Later samples at 500 ms; the first second ages out after the window.
        w.record(Duration::from_millis(500), t0 + Duration::from_secs(5));
        let q = w.quantiles(t0 + Duration::from_secs(WINDOW_SECS + 1));
        assert!((q.p50_ms - 500.0).abs() <= 5.0, "{q:?}");
        let q = w.quantiles(t0 + Duration::from_secs(100));
        assert_eq!(q, Quantiles::default());
    }

    #[test]
    fn a_reused_slot_forgets_its_old_second() {
        let t0 = Instant::now();
        let w = LatencyWindow::new(t0);
        w.record(Duration::from_millis(900), t0);
        let later = t0 + Duration::from_secs(WINDOW_SECS);
        w.record(Duration::from_millis(3), later);
        let q = w.quantiles(later);
        assert!(q.p95_ms < 4.0, "{q:?}");
    }
}
