//! What the orchestrator reads from the pipeline's Redis itself, once a second and at the
//! end: the queue (XLEN, and XINFO GROUPS' pending and lag), the orders aggregated (the sum
//! of the per-region count hash) and Redis' memory (INFO memory `used_memory`).
//!
//! The queue's length and the aggregated count are read in one MULTI/EXEC: a worker adds an
//! order to its aggregate and deletes it from the stream in one transaction too, so the two
//! figures always account for the same orders — the loss check's exactness rests on it.
//!
//! Each reading becomes a small Prometheus page ([`Reading::page`]), the `redis` target of
//! the sampling round, so it travels through the same seam as every component's /metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::exposition;
use common::names;
use redis::aio::MultiplexedConnection;

/// Longest a reading may take: a sampling round must fit in its second.
const TIMEOUT: Duration = Duration::from_millis(800);

/// Redis' memory in use (redis_exporter's name for `used_memory`).
pub const REDIS_MEMORY_USED_BYTES: &str = "redis_memory_used_bytes";
/// Orders added to the per-region aggregates: the orders acknowledged, as Redis counts them.
pub const REDIS_AGGREGATED_ORDERS: &str = "redis_aggregated_orders";

/// One look at the pipeline's Redis.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Reading {
    /// Entries in the stream: not yet acknowledged (acknowledged ones are deleted).
    pub queued: u64,
    /// Delivered to a worker and not yet acknowledged (part of `queued`).
    pub pending: u64,
    /// Not yet delivered to the group; `queued` when Redis cannot say.
    pub lag: u64,
    /// Orders in the aggregates.
    pub aggregated: u64,
    pub used_memory: u64,
}

impl Reading {
    /// The reading as Prometheus text: the queue under the workers' gauge names, memory
    /// and the aggregated count under the names above.
    pub fn page(&self) -> String {
        [
            (names::WORKER_QUEUE_LENGTH, self.queued),
            (names::WORKER_PENDING_MESSAGES, self.pending),
            (names::WORKER_CONSUMER_LAG, self.lag),
            (REDIS_AGGREGATED_ORDERS, self.aggregated),
            (REDIS_MEMORY_USED_BYTES, self.used_memory),
        ]
        .iter()
        .map(|(name, v)| format!("# TYPE {name} gauge\n{name} {v}\n"))
        .collect()
    }

    /// Reads back what [`Reading::page`] wrote; `None` for another page.
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
            aggregated: get(REDIS_AGGREGATED_ORDERS)?,
            used_memory: get(REDIS_MEMORY_USED_BYTES)?,
        })
    }
}

/// Reads the pipeline's Redis over one connection, kept between readings and made again
/// after any failure (a connection per reading would cost a handshake every second, and a
/// broken one must not be reused); cheap to clone, clones share the connection.
#[derive(Debug, Clone)]
pub struct Probe {
    client: redis::Client,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl Probe {
    pub fn new(url: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Arc::default(),
        })
    }

    /// The kept connection, or a new one (then kept); `true` when it is new.
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), String> {
        if let Some(c) = self.connection.lock().ok().and_then(|c| c.clone()) {
            return Ok((c, false));
        }
        let c = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("cannot reach Redis: {e}"))?;
        if let Ok(mut kept) = self.connection.lock() {
            *kept = Some(c.clone());
        }
        Ok((c, true))
    }

    /// Drops the kept connection: after a failure its state is unknown.
    fn forget(&self) {
        if let Ok(mut kept) = self.connection.lock() {
            *kept = None;
        }
    }

    /// Runs `f` on the kept connection, within [`TIMEOUT`] in all. A kept connection that
    /// fails may only be stale (Redis restarted, the server closed it idle): one new
    /// connection is tried before the reading counts as failed.
    async fn on_connection<T, F>(&self, f: impl Fn(MultiplexedConnection) -> F) -> Result<T, String>
    where
        F: Future<Output = Result<T, String>>,
    {
        let attempt = async {
            let (c, fresh) = self.connection().await?;
            match f(c).await {
                Err(_) if !fresh => {
                    self.forget();
                    let (c, _) = self.connection().await?;
                    f(c).await
                }
                other => other,
            }
        };
        let result = bounded(attempt).await;
        if result.is_err() {
            self.forget();
        }
        result
    }

    pub async fn ping(&self) -> Result<(), String> {
        self.on_connection(|mut c| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// The queue, the aggregates and the memory now.
    pub async fn read(&self) -> Result<Reading, String> {
        self.on_connection(read_on).await
    }
}

async fn read_on(mut c: MultiplexedConnection) -> Result<Reading, String> {
    let mut atomic = redis::pipe();
    atomic
        .atomic()
        .cmd("XLEN")
        .arg(demo_backend::STREAM)
        .cmd("HVALS")
        .arg(demo_backend::COUNT_BY_REGION)
        .cmd("INFO")
        .arg("memory");
    let (queued, counts, info): (u64, Vec<u64>, String) = atomic
        .query_async(&mut c)
        .await
        .map_err(|e| format!("reading the queue: {e}"))?;
    let groups: redis::RedisResult<redis::streams::StreamInfoGroupsReply> = redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(demo_backend::STREAM)
        .query_async(&mut c)
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
    let group = groups.and_then(|g| g.groups.into_iter().find(|g| g.name == demo_backend::GROUP));
    Ok(Reading {
        queued,
        pending: group.as_ref().map_or(0, |g| g.pending as u64),
        lag: group.and_then(|g| g.lag).map_or(queued, |l| l as u64),
        aggregated: counts.iter().sum(),
        used_memory: used_memory(&info).unwrap_or(0),
    })
}

async fn bounded<T>(f: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(format!("Redis did not answer within {TIMEOUT:?}")))
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
