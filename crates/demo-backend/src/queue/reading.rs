//! One look at the pipeline's Redis: the queue (XLEN, and XINFO GROUPS' pending and lag), the
//! orders aggregated (the sum of the per-region count hash) and Redis' memory (INFO memory
//! `used_memory`). The orchestrator takes it straight from Redis on the local runtime, and
//! from a worker's [`common::api::routes::PIPELINE`] on a cluster, where it reaches pods only
//! over HTTP: both read it with [`read`], so the two runtimes' figures mean the same.
//!
//! The queue's length and the aggregated count are read in one MULTI/EXEC: a worker adds an
//! order to its aggregate and deletes it from the stream in one transaction too, so the two
//! figures always account for the same orders — the loss check's exactness rests on it.

use common::exposition;
use common::names;
use redis::aio::ConnectionLike;

use super::{COUNT_BY_REGION, GROUP, STREAM};

/// The pipeline's Redis at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    /// Entries in the stream: not yet acknowledged (acknowledged ones are deleted).
    pub queued: u64,
    /// Delivered to a worker and not yet acknowledged (part of `queued`).
    pub pending: u64,
    /// Not yet delivered to the group (see [`lag`]).
    pub lag: u64,
    /// Orders in the aggregates.
    pub aggregated: u64,
    pub used_memory: u64,
}

impl Reading {
    /// The reading as Prometheus text: the queue under the workers' gauge names, memory
    /// and the aggregated count under the `redis_*` names.
    pub fn page(&self) -> String {
        [
            (names::WORKER_QUEUE_LENGTH, self.queued),
            (names::WORKER_PENDING_MESSAGES, self.pending),
            (names::WORKER_CONSUMER_LAG, self.lag),
            (names::REDIS_AGGREGATED_ORDERS, self.aggregated),
            (names::REDIS_MEMORY_USED_BYTES, self.used_memory),
        ]
        .iter()
        .map(|(name, v)| format!("# TYPE {name} gauge\n{name} {v}\n"))
        .collect()
    }

    /// Reads back what [`Reading::page`] wrote; `None` for any other page.
    pub fn from_page(text: &str) -> Option<Self> {
        let samples = exposition::parse(text).ok()?;
        let get = |name: &str| {
            samples
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.value.max(0.0) as u64)
        };
        Some(Self {
            queued: get(names::WORKER_QUEUE_LENGTH)?,
            pending: get(names::WORKER_PENDING_MESSAGES)?,
            lag: get(names::WORKER_CONSUMER_LAG)?,
            aggregated: get(names::REDIS_AGGREGATED_ORDERS)?,
            used_memory: get(names::REDIS_MEMORY_USED_BYTES)?,
        })
    }
}

/// Reads the pipeline's Redis on `con`; the error names what could not be read. Unbounded:
/// the caller holds the timeout it can afford.
pub async fn read(con: &mut impl ConnectionLike) -> Result<Reading, String> {
    let mut atomic = redis::pipe();
    atomic
        .atomic()
        .cmd("XLEN")
        .arg(STREAM)
        .cmd("HVALS")
        .arg(COUNT_BY_REGION)
        .cmd("INFO")
        .arg("memory");
    let (queued, counts, info): (u64, Vec<u64>, String) = atomic
        .query_async(con)
        .await
        .map_err(|e| format!("reading the queue: {e}"))?;
    let groups: redis::RedisResult<redis::streams::StreamInfoGroupsReply> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(STREAM)
        .query_async(con)
        .await;
    let groups = match groups {
        Ok(g) => Some(g),
        // The connection, not the stream, failed: the reading is lost with it.
        Err(e) if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() => {
            return Err(format!("reading the consumer group: {e}"));
        }
        // No stream yet (nothing produced, no worker made the group): nothing pending.
        Err(_) => None,
    };
    let group = groups.and_then(|g| g.groups.into_iter().find(|g| g.name == GROUP));
    let pending = group.as_ref().map_or(0, |g| g.pending as u64);
    Ok(Reading {
        queued,
        pending,
        lag: lag(queued, pending, group.and_then(|g| g.lag).map(|l| l as u64)),
        aggregated: counts.iter().sum(),
        used_memory: used_memory(&info).unwrap_or(0),
    })
}

/// The entries not yet delivered to the group: `reported` by XINFO GROUPS, or else
/// `queued - pending`. Redis answers nil once a deleted entry lies past the oldest one left
/// (a worker acknowledged an order while another still holds an older one): under load,
/// most of the time. A worker acknowledges and deletes an order in one script, so every
/// entry in the stream is either pending or not yet delivered and the difference is the lag
/// too; the stream length in its place made the figure jump between the two.
pub(crate) fn lag(queued: u64, pending: u64, reported: Option<u64>) -> u64 {
    reported.unwrap_or(queued.saturating_sub(pending))
}

/// `used_memory` of an INFO memory answer.
fn used_memory(info: &str) -> Option<u64> {
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reading_round_trips_through_its_page() {
        let r = Reading {
            queued: 7,
            pending: 2,
            lag: 5,
            aggregated: 120,
            used_memory: 1_048_576,
        };
        assert_eq!(Reading::from_page(&r.page()), Some(r));
        assert_eq!(Reading::from_page("lg_sent_requests_total 3\n"), None);
    }

    #[test]
    fn used_memory_is_read_from_info() {
        let info = "# Memory\r\nused_memory:1003520\r\nused_memory_human:980.00K\r\n";
        assert_eq!(used_memory(info), Some(1_003_520));
        assert_eq!(used_memory("# Memory\r\n"), None);
    }
}
