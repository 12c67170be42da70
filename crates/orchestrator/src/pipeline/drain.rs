//! The end of a pipeline run, the same on every runtime: once the load has stopped, Redis is
//! read until the workers have emptied the queue (or [`DRAIN_TIMEOUT`] has passed; what is
//! left counts as still queued), and that last reading is what the loss check balances.

use std::time::Duration;

use tokio::time::Instant;

use super::probe::Reading;
use super::report::{End, Unread};

/// How long the end of a run waits for the workers to empty the queue before the loss check.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Between two readings while draining.
const EVERY: Duration = Duration::from_millis(100);

/// Reads with `read` (waiting for the queue to empty when `drain`) and returns the last
/// reading, or why there is none.
pub async fn end<F, Fut>(drain: bool, mut read: F) -> Result<End, Unread>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Reading, Unread>>,
{
    let start = Instant::now();
    loop {
        let reading = read().await?;
        let drained = reading.queued == 0;
        let waited = start.elapsed();
        if drained || !drain || waited >= DRAIN_TIMEOUT {
            return Ok(End {
                queued: reading.queued,
                pending: reading.pending,
                aggregated: reading.aggregated,
                memory_bytes: reading.used_memory,
                drained,
                drain_seconds: waited.as_secs_f64(),
            });
        }
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    fn queued(n: u64) -> Reading {
        Reading {
            queued: n,
            aggregated: 100 - n,
            ..Reading::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_queue_to_empty() {
        let left = AtomicU64::new(5);
        let end = end(true, || async {
            Ok(queued(left.fetch_sub(1, Ordering::Relaxed)))
        })
        .await
        .unwrap();
        assert!(end.drained);
        assert_eq!((end.queued, end.aggregated), (0, 100));
        assert!(end.drain_seconds >= 0.5, "{end:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_the_timeout_and_reports_what_is_left() {
        let end = end(true, || async { Ok(queued(3)) }).await.unwrap();
        assert!(!end.drained);
        assert_eq!(end.queued, 3);
        assert!(end.drain_seconds >= DRAIN_TIMEOUT.as_secs_f64());
    }

    #[tokio::test(start_paused = true)]
    async fn without_drain_one_reading_and_a_failure_is_unreachable() {
        let end = end(false, || async { Ok(queued(3)) }).await.unwrap();
        assert_eq!((end.queued, end.drained), (3, false));
        let failed = super::end(true, || async {
            Err(Unread::Unreachable("refused".into()))
        })
        .await;
        assert_eq!(failed, Err(Unread::Unreachable("refused".into())));
    }
}
