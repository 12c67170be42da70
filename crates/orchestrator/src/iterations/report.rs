//! The report's `iterations` section: a row per copy of the stack and the run's total, from
//! the same cumulative counts (so the rows add up to the total exactly), and the pods'
//! startup latency over every copy where the runtime measures it.

use common::names;
use serde::{Deserialize, Serialize};

use crate::report::{PhaseStats, round6};
use crate::sample::{PlanTotals, Point, quantile};

/// `iterations` > 1: what each copy did and what they did together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IterationsReport {
    pub count: u32,
    /// Seconds the load ran (from the first phase that sent to the end of the last), the
    /// denominator of every row's rate.
    pub load_seconds: f64,
    /// One row per copy, copy 1 first.
    pub rows: Vec<IterationRow>,
    /// The whole run: the sums of the rows' counts.
    pub total: IterationRow,
    /// From each pod's creation to its readiness, over every pod of every copy; `None`
    /// where the runtime does not measure it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_startup: Option<PodStartup>,
}

/// One copy's figures over the whole run (`iteration` `None`: the total).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationRow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<u32>,
    /// Requests its load generators sent.
    pub sent: f64,
    pub sent_rps: f64,
    /// Of those, failed.
    pub errors: f64,
    /// The load generators' p95 latency, seconds.
    pub p95: Option<f64>,
    /// `workload = "pipeline"`: orders its backends enqueued and its workers acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub produced: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<f64>,
}

/// Pod startup latency (ready − created), seconds, over every pod of every copy; locally,
/// every component's from its spawn to its readiness.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PodStartup {
    /// What was measured: `pods (created → ready)` or `components (spawned → ready)`.
    pub of: String,
    pub pods: u32,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

impl PodStartup {
    /// Nearest-rank quantiles of `seconds` on runtime `runtime`; `None` without a pod.
    pub fn from_seconds(runtime: &str, mut seconds: Vec<f64>) -> Option<Self> {
        seconds.retain(|s| s.is_finite());
        if seconds.is_empty() {
            return None;
        }
        seconds.sort_by(f64::total_cmp);
        let rank = |q: f64| {
            let i = ((q * seconds.len() as f64).ceil() as usize).clamp(1, seconds.len());
            round6(seconds[i - 1])
        };
        let of = if runtime == "local" {
            "components (spawned → ready)"
        } else {
            "pods (created → ready)"
        };
        Some(Self {
            of: of.to_owned(),
            pods: u32::try_from(seconds.len()).unwrap_or(u32::MAX),
            p50: rank(0.50),
            p95: rank(0.95),
            max: rank(1.0),
        })
    }
}

/// The seconds the load ran: from the first phase that sent to the end of the last.
fn load_seconds(phases: &[PhaseStats]) -> f64 {
    let sending: Vec<&PhaseStats> = phases.iter().filter(|p| p.sent_rps > 0.0).collect();
    match (sending.first(), sending.last()) {
        (Some(a), Some(b)) => (b.end - a.start).max(0.0),
        _ => 0.0,
    }
}

fn row(iteration: Option<u32>, load: &PlanTotals, seconds: f64) -> IterationRow {
    IterationRow {
        iteration,
        sent: load.sent,
        sent_rps: round6(if seconds > 0.0 {
            load.sent / seconds
        } else {
            0.0
        }),
        errors: load.lg_errors,
        p95: quantile(names::LG_LATENCY_BUCKETS, &load.lg_latency, 0.95).map(round6),
        produced: None,
        acknowledged: None,
    }
}

/// The section of a run of `count` copies; `None` for a single stack.
pub fn build(count: u32, phases: &[PhaseStats], points: &[Point]) -> Option<IterationsReport> {
    if count <= 1 {
        return None;
    }
    let none = crate::sample::Totals::default();
    let totals = points.last().map_or(&none, |p| &p.totals);
    let pipeline = points.last().and_then(|p| p.pipeline.as_ref());
    let seconds = load_seconds(phases);
    let rows = (1..=count)
        .map(|k| {
            let load = totals.iterations.get(&k).cloned().unwrap_or_default();
            let mut r = row(Some(k), &load, seconds);
            if let Some(p) = pipeline {
                let c = p.iterations.get(&k).cloned().unwrap_or_default();
                (r.produced, r.acknowledged) = (Some(c.produced), Some(c.acknowledged));
            }
            r
        })
        .collect();
    let t = totals;
    let mut total = row(
        None,
        &PlanTotals {
            sent: t.sent,
            lg_errors: t.lg_errors,
            dropped: t.dropped,
            lg_latency: t.lg_latency.clone(),
            job_latency: Vec::new(),
        },
        seconds,
    );
    if let Some(p) = pipeline {
        (total.produced, total.acknowledged) = (Some(p.produced), Some(p.acknowledged));
    }
    Some(IterationsReport {
        count,
        load_seconds: round6(seconds),
        rows,
        total,
        pod_startup: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_quantiles_are_nearest_rank() {
        let s = PodStartup::from_seconds("kube", (1..=20).map(f64::from).collect()).unwrap();
        assert_eq!((s.pods, s.p50, s.p95, s.max), (20, 10.0, 19.0, 20.0));
        assert_eq!(PodStartup::from_seconds("kube", Vec::new()), None);
    }
}
