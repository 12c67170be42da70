//! Committing one entry: aggregate, acknowledge and delete it, as one Lua script. Aggregating
//! only when XACK says the entry was still pending makes it exactly once even when two
//! workers hold the same entry (one stalled past `--claim-idle`, the other took it over):
//! the first to commit aggregates, the other's commit changes nothing.
//!
//! The stream's length plus the aggregated count changes only by XADD and by a commit, which
//! moves an order from one to the other atomically: the orchestrator's loss check reads both
//! in one MULTI/EXEC and relies on it.

use std::sync::LazyLock;

use redis::Script;

use crate::queue::{self, Entry, Failure, Link};

/// KEYS: stream, count hash, amount hash. ARGV: group, entry id, region ("" for an entry
/// that is not an order: acknowledged and deleted without an aggregate), amount.
const COMMIT: &str = r"
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  return 0
end
if ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
  redis.call('HINCRBYFLOAT', KEYS[3], ARGV[3], ARGV[4])
end
redis.call('XDEL', KEYS[1], ARGV[2])
return 1
";

static SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(COMMIT));

/// Commits the entry `id` (its order, or `None` for an entry that is not one); `false` when
/// another worker had already committed it.
pub(crate) async fn commit(link: &Link, id: &str, order: Option<&Entry>) -> Result<bool, Failure> {
    let mut invocation = SCRIPT.prepare_invoke();
    invocation
        .key(queue::STREAM)
        .key(queue::COUNT_BY_REGION)
        .key(queue::AMOUNT_BY_REGION)
        .arg(queue::GROUP)
        .arg(id)
        .arg(order.map_or("", |o| o.region.as_str()))
        .arg(order.map_or(0.0, |o| o.amount));
    let acknowledged: u8 = link.invoke(&invocation).await?;
    Ok(acknowledged == 1)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use redis::AsyncCommands;
    use redis::streams::StreamReadReply;
    use test_support::RedisServer;

    use super::*;

    fn order() -> Entry {
        Entry {
            region: "eu-west".into(),
            items: 2,
            amount: 12.25,
            enqueued_ms: queue::now_ms(),
        }
    }

    /// A Redis holding one order in the stream, delivered to consumer `a` of the group and
    /// claimed away by `b`: both now hold it, as a stalled worker and the one that took over
    /// do. With a connection, a worker's link and the entry's id.
    async fn held_twice() -> (RedisServer, redis::aio::MultiplexedConnection, Link, String) {
        let redis = RedisServer::start();
        let mut con = redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let con = &mut con;
        let fields: Vec<(&str, String)> = order().fields().into();
        let id: String = con.xadd(queue::STREAM, "*", &fields).await.unwrap();
        let _: () = redis::cmd("XGROUP")
            .arg(&["CREATE", queue::STREAM, queue::GROUP, "0"])
            .query_async(con)
            .await
            .unwrap();
        let read: StreamReadReply = redis::cmd("XREADGROUP")
            .arg(&["GROUP", queue::GROUP, "a", "STREAMS", queue::STREAM, ">"])
            .query_async(con)
            .await
            .unwrap();
        assert_eq!(read.keys[0].ids[0].id, id);
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(&[queue::STREAM, queue::GROUP, "b", "0", &id])
            .query_async(con)
            .await
            .unwrap();
        let link = Link::new(&redis.url(), Duration::from_secs(5), Duration::ZERO).unwrap();
        (redis, con.clone(), link, id)
    }

    #[tokio::test]
    async fn an_entry_committed_by_two_workers_is_aggregated_once() {
        let (_redis, mut con, link, id) = held_twice().await;
        let entry = order();
        assert!(
            commit(&link, &id, Some(&entry)).await.unwrap(),
            "the first commits"
        );
        assert!(
            !commit(&link, &id, Some(&entry)).await.unwrap(),
            "the second does not"
        );
        let count: i64 = con.hget(queue::COUNT_BY_REGION, "eu-west").await.unwrap();
        let amount: f64 = con.hget(queue::AMOUNT_BY_REGION, "eu-west").await.unwrap();
        let left: u64 = con.xlen(queue::STREAM).await.unwrap();
        assert_eq!((count, amount, left), (1, 12.25, 0));
    }

    #[tokio::test]
    async fn an_entry_that_is_not_an_order_is_acknowledged_without_an_aggregate() {
        let (_redis, mut con, link, id) = held_twice().await;
        assert!(commit(&link, &id, None).await.unwrap());
        let counts: Vec<i64> = con.hvals(queue::COUNT_BY_REGION).await.unwrap();
        let left: u64 = con.xlen(queue::STREAM).await.unwrap();
        let pending: redis::streams::StreamPendingReply =
            con.xpending(queue::STREAM, queue::GROUP).await.unwrap();
        assert_eq!((counts.len(), left, pending.count()), (0, 0, 0));
    }
}
