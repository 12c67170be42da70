//! Taking over what a dead worker left: entries delivered to another consumer and left
//! unacknowledged for `--claim-idle` are claimed with XAUTOCLAIM and handled as this worker's
//! own. On a cluster each worker's consumer name is its pod's, so a deleted pod's pending
//! entries would otherwise stay in the group forever: counted as queued by the loss check,
//! never aggregated, and the queue would never drain.
//!
//! XAUTOCLAIM scans the group's pending list from a cursor, a page (`--batch`) at a time; the
//! cursor is kept between calls and starts over when Redis says the scan is complete. A scan
//! runs at most every half `--claim-idle` (and at most once a second), not on every read.

use std::time::Duration;

use redis::streams::{StreamAutoClaimReply, StreamId};
use tokio::time::Instant;

use super::config::WorkerConfig;
use crate::queue::{self, Failure, Link};

/// The most often a scan runs, whatever `--claim-idle`.
const MIN_EVERY: Duration = Duration::from_secs(1);
/// Where a scan of the pending list starts.
const START: &str = "0-0";

/// When to scan next and where.
#[derive(Debug)]
pub(crate) struct Claimer {
    idle: Duration,
    every: Duration,
    next: Instant,
    cursor: String,
}

impl Claimer {
    /// Claims entries idle for `idle`; never when it is zero. The first scan is one period
    /// after the start: entries left by a previous life of this worker are its own pending
    /// entries, read first anyway.
    pub(crate) fn new(idle: Duration) -> Self {
        let every = (idle / 2).max(MIN_EVERY);
        Self {
            idle,
            every,
            next: Instant::now() + every,
            cursor: START.to_owned(),
        }
    }

    pub(crate) fn due(&self) -> bool {
        !self.idle.is_zero() && Instant::now() >= self.next
    }

    /// One page of the scan: the entries now this consumer's, deleted ones left out (Redis
    /// drops them from the pending list itself). A page that ends the scan, or a failure,
    /// waits for the next period; a full page goes on at the next turn.
    pub(crate) async fn claim(
        &mut self,
        link: &Link,
        config: &WorkerConfig,
    ) -> Result<Vec<StreamId>, Failure> {
        self.next = Instant::now() + self.every;
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(queue::STREAM)
            .arg(queue::GROUP)
            .arg(&config.consumer)
            .arg(u64::try_from(self.idle.as_millis()).unwrap_or(u64::MAX))
            .arg(&self.cursor)
            .arg("COUNT")
            .arg(config.batch);
        let reply: StreamAutoClaimReply = link.query(&cmd).await?;
        let done = reply.next_stream_id == START;
        self.cursor = reply.next_stream_id;
        if !done {
            self.next = Instant::now();
        }
        Ok(reply
            .claimed
            .into_iter()
            .filter(|id| !id.map.is_empty())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scans_every_half_idle_at_most_once_a_second_and_never_when_off() {
        let c = Claimer::new(Duration::from_secs(30));
        assert_eq!(c.every, Duration::from_secs(15));
        assert!(!c.due());
        tokio::time::advance(Duration::from_secs(15)).await;
        assert!(c.due());
        assert_eq!(Claimer::new(Duration::from_millis(200)).every, MIN_EVERY);
        let off = Claimer::new(Duration::ZERO);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert!(!off.due());
    }
}
