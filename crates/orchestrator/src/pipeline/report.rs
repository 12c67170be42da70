//! The pipeline section of the report: per phase, orders produced, consumed and
//! acknowledged per second, the queue and the consumer lag (most, and at the end), the
//! end-to-end p50/p95 and Redis' memory; then the loss check: every order produced is
//! acknowledged or still queued.

use serde::{Deserialize, Serialize};

use common::names;

use super::sample::PipelinePoint;
use crate::report::{Phase, round6};
use crate::sample::{Point, diff, quantile};

/// The pipeline's figures of one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelinePhase {
    pub name: String,
    pub produced_per_s: f64,
    pub consumed_per_s: f64,
    pub acknowledged_per_s: f64,
    pub worker_errors: f64,
    /// Queue length (entries in the stream) and consumer lag: the most seen, and at the
    /// phase's end; `None` when Redis was never read during the phase.
    pub queue_max: Option<f64>,
    pub queue_end: Option<f64>,
    pub lag_max: Option<f64>,
    pub lag_end: Option<f64>,
    /// Enqueued → aggregated, in seconds, interpolated in the workers' histogram buckets.
    pub end_to_end_p50: Option<f64>,
    pub end_to_end_p95: Option<f64>,
    pub redis_memory_max_bytes: Option<f64>,
}

/// What Redis held once the run had drained the queue (or given up waiting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct End {
    /// Entries left in the stream.
    pub queued: u64,
    /// Of those, delivered to a worker and not acknowledged.
    pub pending: u64,
    /// Orders in the aggregates (acknowledged, as Redis counts them).
    pub aggregated: u64,
    pub memory_bytes: u64,
    /// The queue emptied within the drain.
    pub drained: bool,
    /// Seconds spent draining.
    pub drain_seconds: f64,
}

/// produced = acknowledged + still queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossCheck {
    pub passed: bool,
    /// Orders the backends enqueued (`app_orders_total{outcome="enqueued"}`).
    pub produced: f64,
    /// Orders in the aggregates at the end: acknowledged in the same transaction.
    pub acknowledged: f64,
    /// The workers' own count of acknowledgements (may trail: scraped before the last).
    pub acknowledged_by_workers: f64,
    pub queued: f64,
    pub pending: f64,
    pub drained: bool,
    pub drain_seconds: f64,
    /// The check in words, with its numbers.
    pub detail: String,
}

/// The report's `pipeline` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReport {
    pub phases: Vec<PipelinePhase>,
    /// `None` when Redis could not be read at the end (the reason is the first note).
    pub loss: Option<LossCheck>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

fn pipeline_at(points: &[Point], t: f64) -> Option<&PipelinePoint> {
    points
        .iter()
        .take_while(|p| p.t <= t + 1e-9)
        .filter_map(|p| p.pipeline.as_ref())
        .last()
        .or_else(|| points.iter().find_map(|p| p.pipeline.as_ref()))
}

/// The figures of `phase` from the points sampled during it.
pub fn phase(points: &[Point], phase: &Phase) -> PipelinePhase {
    let mut out = PipelinePhase {
        name: phase.name.clone(),
        ..PipelinePhase::default()
    };
    let (Some(a), Some(b)) = (
        pipeline_at(points, phase.start),
        pipeline_at(points, phase.end),
    ) else {
        return out;
    };
    let span = (phase.end - phase.start).max(1e-9);
    let rate = |x: f64, y: f64| round6((y - x).max(0.0) / span);
    out.produced_per_s = rate(a.produced, b.produced);
    out.consumed_per_s = rate(a.consumed, b.consumed);
    out.acknowledged_per_s = rate(a.acknowledged, b.acknowledged);
    out.worker_errors = round6((b.worker_errors - a.worker_errors).max(0.0));
    let window = diff(&b.end_to_end, &a.end_to_end);
    let q = |q| quantile(names::PIPELINE_LATENCY_BUCKETS, &window, q).map(round6);
    (out.end_to_end_p50, out.end_to_end_p95) = (q(0.5), q(0.95));
    let redis: Vec<_> = points
        .iter()
        .filter(|p| p.t >= phase.start - 1e-9 && p.t <= phase.end + 1e-9)
        .filter_map(|p| p.pipeline.as_ref()?.redis)
        .collect();
    let max = |f: fn(&super::sample::RedisFigures) -> f64| redis.iter().map(f).reduce(f64::max);
    out.queue_max = max(|r| r.queued);
    out.lag_max = max(|r| r.lag);
    out.redis_memory_max_bytes = max(|r| r.memory_bytes);
    out.queue_end = redis.last().map(|r| r.queued);
    out.lag_end = redis.last().map(|r| r.lag);
    out
}

/// The loss check from the last point's production and Redis' end state.
pub fn loss_check(points: &[Point], end: &End) -> LossCheck {
    let last = points.iter().rev().find_map(|p| p.pipeline.as_ref());
    let produced = last.map_or(0.0, |p| p.produced);
    let acknowledged = end.aggregated as f64;
    let queued = end.queued as f64;
    let passed = (produced - (acknowledged + queued)).abs() < 0.5;
    let verdict = if passed { "passed" } else { "FAILED" };
    let mut detail = format!(
        "{verdict}: produced {produced} = acknowledged {acknowledged} + still queued {queued} ({} pending)",
        end.pending
    );
    if !passed {
        detail = format!(
            "{verdict}: produced {produced} ≠ acknowledged {acknowledged} + still queued {queued} ({} pending): {} orders unaccounted for",
            end.pending,
            produced - acknowledged - queued
        );
    }
    if !end.drained {
        detail.push_str(&format!(
            "; the queue did not drain within {:.1} s",
            end.drain_seconds
        ));
    }
    LossCheck {
        passed,
        produced,
        acknowledged,
        acknowledged_by_workers: last.map_or(0.0, |p| p.acknowledged),
        queued,
        pending: end.pending as f64,
        drained: end.drained,
        drain_seconds: round6(end.drain_seconds),
        detail,
    }
}

/// The section, for a run whose points carry the pipeline; `end` is Redis at the end, or
/// why it could not be read.
pub fn build(
    points: &[Point],
    phases: &[Phase],
    end: Option<Result<End, String>>,
) -> Option<PipelineReport> {
    points.iter().find(|p| p.pipeline.is_some())?;
    let mut notes = Vec::new();
    let loss = match end {
        Some(Ok(end)) => Some(loss_check(points, &end)),
        Some(Err(e)) => {
            notes.push(format!("no loss check: {e}"));
            None
        }
        None => None,
    };
    Some(PipelineReport {
        phases: phases.iter().map(|p| phase(points, p)).collect(),
        loss,
        notes,
    })
}
