//! The pipeline section of the report: per phase, orders produced, consumed and
//! acknowledged per second, the queue and the consumer lag (most, and at the end), the
//! end-to-end p50/p95 and Redis' memory; then the loss check: every order produced is
//! acknowledged or still queued. When Redis could not be read at the end (it died), the
//! check cannot balance: the components' own counts say what was in flight instead.

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
    /// Orders the backends could not enqueue because Redis failed or did not answer (503,
    /// `app_orders_total` outcomes `redis_error` and `redis_timeout`).
    #[serde(default)]
    pub orders_failed: f64,
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

/// Why the runtime has no reading of Redis at the end.
#[derive(Debug, Clone, PartialEq)]
pub enum Unread {
    /// The runtime has no way to read it (kube): a named gap, not a fault.
    Gap(String),
    /// It was read during the run and no longer answers: it died or hung.
    Unreachable(String),
}

/// The accounting of a run whose Redis could not be read at the end: produced =
/// acknowledged + still queued cannot be checked without Redis, so the components' own
/// counts say how many orders were enqueued and never acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InFlight {
    /// Why Redis could not be read.
    pub reason: String,
    /// Orders the backends enqueued, as they count them.
    pub produced: f64,
    /// Orders the workers acknowledged, as they count them.
    pub acknowledged: f64,
    /// produced − acknowledged: in the queue, or in a worker's hands, when Redis died.
    pub in_flight: f64,
    /// Redis' last reading during the run, if it was ever read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_reading: Option<LastReading>,
    /// The accounting in words, with its numbers.
    pub detail: String,
}

/// What Redis held when it was last read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LastReading {
    /// Seconds since the run began.
    pub t: f64,
    pub queued: f64,
    pub aggregated: f64,
}

/// The report's `pipeline` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineReport {
    pub phases: Vec<PipelinePhase>,
    /// `None` when Redis could not be read at the end (then `redis_unreachable`, or the
    /// reason is the first note).
    pub loss: Option<LossCheck>,
    /// Redis could not be read at the end: what was in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_unreachable: Option<InFlight>,
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
    out.orders_failed = round6((b.orders_failed - a.orders_failed).max(0.0));
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

/// What the components counted, for a run whose Redis did not answer at the end.
pub fn in_flight(points: &[Point], reason: String) -> InFlight {
    let last = points.iter().rev().find_map(|p| p.pipeline.as_ref());
    let produced = last.map_or(0.0, |p| p.produced);
    let acknowledged = last.map_or(0.0, |p| p.acknowledged);
    let in_flight = produced - acknowledged;
    let last_reading = points.iter().rev().find_map(|p| {
        let r = p.pipeline.as_ref()?.redis?;
        Some(LastReading {
            t: p.t,
            queued: r.queued,
            aggregated: r.aggregated,
        })
    });
    let mut detail = format!(
        "not checked: Redis unreachable at the end; produced {produced} (the backends' count), acknowledged {acknowledged} (the workers' count): {in_flight} in flight when Redis died"
    );
    if let Some(r) = &last_reading {
        detail.push_str(&format!(
            "; Redis last read at {:.1} s: {} queued, {} aggregated",
            r.t, r.queued, r.aggregated
        ));
    }
    InFlight {
        reason,
        produced,
        acknowledged,
        in_flight,
        last_reading,
        detail,
    }
}

/// The section, for a run whose points carry the pipeline; `end` is Redis at the end, or
/// why it could not be read.
pub fn build(
    points: &[Point],
    phases: &[Phase],
    end: Option<Result<End, Unread>>,
) -> Option<PipelineReport> {
    points.iter().find(|p| p.pipeline.is_some())?;
    let mut notes = Vec::new();
    let mut redis_unreachable = None;
    let loss = match end {
        Some(Ok(end)) => Some(loss_check(points, &end)),
        Some(Err(Unread::Gap(e))) => {
            notes.push(format!("no loss check: {e}"));
            None
        }
        Some(Err(Unread::Unreachable(e))) => {
            notes.push(format!("Redis unreachable at the end: {e}"));
            redis_unreachable = Some(in_flight(points, e));
            None
        }
        None => None,
    };
    Some(PipelineReport {
        phases: phases.iter().map(|p| phase(points, p)).collect(),
        loss,
        redis_unreachable,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::sample::{PipelinePoint, RedisFigures};
    use crate::sample::Point;

    fn point(t: f64, produced: f64, acknowledged: f64, redis: Option<(f64, f64)>) -> Point {
        Point {
            t,
            totals: crate::sample::Totals::default(),
            target_rps: 0.0,
            backend_ready: 1,
            backend_desired: 1,
            jobs_pending: 0.0,
            vus: 0.0,
            gaps: Vec::new(),
            usage: Vec::new(),
            pipeline: Some(PipelinePoint {
                produced,
                acknowledged,
                redis: redis.map(|(queued, aggregated)| RedisFigures {
                    queued,
                    aggregated,
                    ..RedisFigures::default()
                }),
                ..PipelinePoint::default()
            }),
            restarts: 0,
        }
    }

    #[test]
    fn an_unreachable_redis_gives_what_was_in_flight_not_a_loss_check() {
        let points = [
            point(1.0, 40.0, 30.0, Some((10.0, 30.0))),
            point(2.0, 90.0, 60.0, Some((25.0, 65.0))),
            // Redis gone: no reading, the components still count.
            point(3.0, 120.0, 70.0, None),
        ];
        let phases = [Phase {
            name: "load".into(),
            start: 0.0,
            end: 3.0,
        }];
        let end = Some(Err(Unread::Unreachable("refused".into())));
        let p = build(&points, &phases, end).unwrap();
        assert_eq!(p.loss, None);
        let u = p.redis_unreachable.unwrap();
        assert_eq!(
            (u.produced, u.acknowledged, u.in_flight),
            (120.0, 70.0, 50.0)
        );
        assert_eq!(
            u.last_reading,
            Some(LastReading {
                t: 2.0,
                queued: 25.0,
                aggregated: 65.0
            })
        );
        assert!(
            u.detail.contains("50 in flight when Redis died")
                && u.detail
                    .contains("last read at 2.0 s: 25 queued, 65 aggregated"),
            "{}",
            u.detail
        );
        assert!(p.notes[0].contains("refused"), "{:?}", p.notes);
    }

    #[test]
    fn a_gap_is_named_and_never_read_as_redis_dying() {
        let points = [point(1.0, 40.0, 30.0, None)];
        let p = build(
            &points,
            &[],
            Some(Err(Unread::Gap("skipped on kube".into()))),
        )
        .unwrap();
        assert_eq!((p.loss, p.redis_unreachable), (None, None));
        assert_eq!(p.notes, ["no loss check: skipped on kube"]);
        // Redis never read before it died: no last reading to give.
        let u = in_flight(&points, "refused".into());
        assert_eq!((u.in_flight, u.last_reading), (10.0, None));
        assert!(!u.detail.contains("last read"), "{}", u.detail);
    }
}
