//! The consuming loop: the consumer group made if missing, then entries read with XREADGROUP
//! and handled one by one. After a start or any failure the worker first re-reads its own
//! pending entries (id `0`: delivered to this consumer name and never acknowledged), then new
//! ones (`>`), so a failure or a restart never loses an entry and never aggregates one twice:
//! aggregate, XACK and XDEL are one script (`commit.rs`). Every so often it also takes over
//! the entries another consumer has left unacknowledged for `--claim-idle` (`claim.rs`): on
//! a cluster a deleted worker pod's name never comes back to finish them.
//!
//! A stop request is honoured between entries: the entry in hand is finished, the rest of its
//! batch stays pending for this consumer name (not lost; the next start takes it up).

use std::sync::Arc;
use std::time::Duration;

use common::names::worker_error_kind;
use redis::streams::{StreamId, StreamReadReply};
use tokio_util::sync::CancellationToken;

use super::claim::Claimer;
use super::commit::commit;
use super::config::WorkerConfig;
use super::metrics::WorkerMetrics;
use super::simulate;
use crate::queue::{self, Entry, Failure, Link};

/// How long one XREADGROUP waits in Redis for new entries: short enough that a stop is seen
/// promptly, long enough that an idle worker does not spin.
pub(crate) const BLOCK: Duration = Duration::from_millis(500);
/// Waits after a failure double from this up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Consumes the stream until `stop` is cancelled.
pub(crate) async fn consume(
    link: Link,
    config: Arc<WorkerConfig>,
    metrics: Arc<WorkerMetrics>,
    stop: CancellationToken,
) {
    let mut group_ready = false;
    let mut own_pending_first = true;
    let mut claimer = Claimer::new(config.claim_idle);
    let mut backoff = MIN_BACKOFF;
    while !stop.is_cancelled() {
        let step = async {
            if !group_ready {
                ensure_group(&link).await?;
                group_ready = true;
            }
            let entries = if claimer.due() {
                let claimed = claimer.claim(&link, &config).await?;
                metrics.claimed(claimed.len());
                claimed
            } else {
                let entries = read(&link, &config, own_pending_first).await?;
                if own_pending_first && entries.is_empty() {
                    own_pending_first = false;
                }
                metrics.consumed(entries.len());
                entries
            };
            for entry in &entries {
                if stop.is_cancelled() {
                    break;
                }
                handle(&link, &config, &metrics, entry).await?;
            }
            Ok::<_, Failure>(())
        };
        match step.await {
            Ok(()) => backoff = MIN_BACKOFF,
            Err(failure) => {
                tracing::warn!(error = %failure, ?backoff, "worker: Redis failed, retrying");
                metrics.failure(&failure);
                // Redis may have restarted empty (no group) or lost the connection mid-batch.
                group_ready = false;
                own_pending_first = true;
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// XGROUP CREATE ... MKSTREAM from the stream's start; an existing group is fine.
async fn ensure_group(link: &Link) -> Result<(), Failure> {
    let mut cmd = redis::cmd("XGROUP");
    cmd.arg("CREATE")
        .arg(queue::STREAM)
        .arg(queue::GROUP)
        .arg("0")
        .arg("MKSTREAM");
    match link.query::<()>(&cmd).await {
        Err(Failure::Redis(e)) if e.contains("BUSYGROUP") => Ok(()),
        other => other,
    }
}

/// One XREADGROUP: this consumer's own pending entries, or up to a batch of new ones.
async fn read(
    link: &Link,
    config: &WorkerConfig,
    own_pending: bool,
) -> Result<Vec<StreamId>, Failure> {
    let mut cmd = redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(queue::GROUP)
        .arg(&config.consumer)
        .arg("COUNT")
        .arg(config.batch);
    if !own_pending {
        cmd.arg("BLOCK").arg(BLOCK.as_millis() as u64);
    }
    cmd.arg("STREAMS")
        .arg(queue::STREAM)
        .arg(if own_pending { "0" } else { ">" });
    let reply: Option<StreamReadReply> = link.query_blocking(&cmd).await?;
    Ok(reply
        .into_iter()
        .flat_map(|r| r.keys)
        .flat_map(|k| k.ids)
        // A pending entry deleted meanwhile comes back without fields: nothing to do.
        .filter(|id| !(own_pending && id.map.is_empty()))
        .collect())
}

/// Works on one entry, then commits it (aggregate, XACK, XDEL: `commit.rs`).
async fn handle(
    link: &Link,
    config: &WorkerConfig,
    metrics: &WorkerMetrics,
    stream_id: &StreamId,
) -> Result<(), Failure> {
    let entry = match Entry::from_stream(stream_id) {
        Ok(entry) => {
            simulate::work(config.work_cpu, config.work_memory).await;
            Some(entry)
        }
        Err(e) => {
            // Retrying cannot repair it: acknowledged without an aggregate, and counted.
            tracing::warn!(error = %e, "worker: dropping a stream entry that is not an order");
            metrics.error(worker_error_kind::BAD_MESSAGE);
            None
        }
    };
    let acknowledged = commit(link, &stream_id.id, entry.as_ref()).await?;
    match entry {
        Some(entry) if acknowledged => {
            let waited = queue::now_ms().saturating_sub(entry.enqueued_ms);
            metrics.acknowledged(Duration::from_millis(waited));
        }
        Some(_) => tracing::debug!(
            id = %stream_id.id,
            "worker: another worker committed this entry first (it was claimed away)"
        ),
        None => {}
    }
    Ok(())
}

/// Refreshes the queue gauges from XLEN and XINFO GROUPS (at each scrape of /metrics).
pub(crate) async fn probe(link: &Link, metrics: &WorkerMetrics) {
    let mut pipe = redis::pipe();
    pipe.cmd("XLEN").arg(queue::STREAM);
    pipe.cmd("XINFO").arg("GROUPS").arg(queue::STREAM);
    match link
        .pipeline::<(u64, redis::streams::StreamInfoGroupsReply)>(&pipe)
        .await
    {
        Ok((length, info)) => {
            let group = info.groups.iter().find(|g| g.name == queue::GROUP);
            let lag = group.and_then(|g| g.lag).map(|l| l as u64);
            let pending = group.map_or(0, |g| g.pending as u64);
            metrics.set_queue(length, lag, pending);
        }
        // No stream yet (nothing produced, no worker has made the group): an empty queue.
        Err(Failure::Redis(e)) if e.contains("no such key") => metrics.set_queue(0, Some(0), 0),
        Err(failure) => {
            tracing::debug!(error = %failure, "worker: cannot read the queue's length");
            metrics.failure(&failure);
        }
    }
}
