//! The autoscaling part of a report: every sync, the scale events among them, and the
//! figures that tell how the autoscaler reacted, all derived from what the run recorded.

use common::names;
use serde::{Deserialize, Serialize};

use super::Sync;
use crate::report::{Phase, round6};
use crate::sample::{Point, diff, quantile};

/// A change of the replica count the autoscaler asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScaleEvent {
    /// Seconds since the run started.
    pub t: f64,
    pub from: u32,
    pub to: u32,
    /// The metric the decision was made on (`None`: not read).
    pub value: Option<f64>,
    pub reason: String,
    /// On a cluster: the count the local algorithm expected at that time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u32>,
}

/// How the autoscaler reacted, in seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reaction {
    /// Load start → the first scale-up decision.
    pub load_to_scale_up: Option<f64>,
    /// Load start → a replica beyond those ready at that decision is ready.
    pub load_to_new_replica_ready: Option<f64>,
    /// Load start → the client p95 is back under `recovered_p95_ms` (and stays there for
    /// [`STAY`] samples) after the first scale-up.
    pub load_to_p95_recovered: Option<f64>,
    /// The p95 that counts as recovered, ms: `slo_p95`, or the pre-saturation p95.
    pub recovered_p95_ms: Option<f64>,
    /// `slo_p95` or `pre-saturation`.
    pub recovered_p95_from: String,
    /// Unload start → ready replicas back at `autoscale_min`.
    pub unload_to_min: Option<f64>,
}

/// A p95 under the bar for a single one-second window may be luck; this many in a row is not.
pub const STAY: usize = 3;

/// The pre-saturation p95 gets this much headroom: one-second windows are noisy.
pub const PRE_SATURATION_SLACK: f64 = 1.25;

/// Everything the report says about the autoscaler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AutoscaleReport {
    pub mode: String,
    pub metric: String,
    /// The unit of `target` and of the syncs' values.
    pub unit: String,
    pub target: f64,
    pub min: u32,
    pub max: u32,
    pub syncs: Vec<Sync>,
    pub events: Vec<ScaleEvent>,
    pub reaction: Reaction,
}

impl AutoscaleReport {
    pub fn build(
        s: &scenario::Scenario,
        phases: &[Phase],
        points: &[Point],
        syncs: Vec<Sync>,
    ) -> Self {
        let a = &s.autoscale;
        let events: Vec<ScaleEvent> = syncs
            .iter()
            .filter(|y| y.desired != y.from)
            .map(|y| ScaleEvent {
                t: y.t,
                from: y.from,
                to: y.desired,
                value: y.value,
                reason: event_reason(y, a.target),
                expected: y.expected,
            })
            .collect();
        let reaction = reaction(s, phases, points, &syncs);
        Self {
            mode: a.mode.as_str().to_owned(),
            metric: a.metric.as_str().to_owned(),
            unit: a.metric.unit().to_owned(),
            target: a.target,
            min: a.min,
            max: a.max,
            syncs,
            events,
            reaction,
        }
    }
}

/// Why the count changed, for people: the reading against the target, what the calculator
/// recommended and, when a window, a policy or min/max shaped it, the controller's reason.
fn event_reason(y: &Sync, target: f64) -> String {
    let side = match y.value {
        Some(v) if v > target => "above the target",
        Some(_) => "below the target",
        None => "no reading",
    };
    let recommended = y
        .recommended
        .map_or_else(String::new, |r| format!(", {r} recommended"));
    let shaped = if y.reason == super::algorithm::Reason::DesiredWithinRange.as_str() {
        String::new()
    } else {
        format!(" ({})", y.reason)
    };
    // On a cluster, the controller decided: say what the same algorithm here expected.
    let expected = y.expected.map_or_else(String::new, |e| {
        format!("; the local algorithm expected {e}")
    });
    format!("{side}{recommended}{shaped}{expected}")
}

fn phase<'a>(phases: &'a [Phase], name: &str) -> Option<&'a Phase> {
    phases.iter().find(|p| p.name == name)
}

/// The cumulative point at or before `t`.
fn at(points: &[Point], t: f64) -> Option<&Point> {
    points.iter().take_while(|p| p.t <= t + 1e-9).last()
}

/// The client p95 between two times, ms.
fn p95_between(points: &[Point], t0: f64, t1: f64) -> Option<f64> {
    let (a, b) = (at(points, t0).or(points.first())?, at(points, t1)?);
    quantile(
        names::LG_LATENCY_BUCKETS,
        &diff(&b.totals.lg_latency, &a.totals.lg_latency),
        0.95,
    )
    .map(|s| s * 1000.0)
}

fn reaction(
    s: &scenario::Scenario,
    phases: &[Phase],
    points: &[Point],
    syncs: &[Sync],
) -> Reaction {
    let mut r = Reaction::default();
    if let Some(unload) = phase(phases, crate::timeline::phase::UNLOAD) {
        r.unload_to_min = points
            .iter()
            .find(|p| {
                p.t >= unload.start && p.backend_ready <= s.autoscale.min && p.backend_ready > 0
            })
            .map(|p| round6(p.t - unload.start));
    }
    let Some(load) = phase(phases, crate::timeline::phase::LOAD) else {
        return r;
    };
    let Some(up) = syncs
        .iter()
        .find(|y| y.t >= load.start && y.desired > y.from)
    else {
        return r;
    };
    r.load_to_scale_up = Some(round6(up.t - load.start));
    r.load_to_new_replica_ready = points
        .iter()
        .find(|p| p.t >= up.t && p.backend_ready > up.ready)
        .map(|p| round6(p.t - load.start));
    // Before saturation: the load up to one sync period before the decision (the period whose
    // reading led to it), at least a second of it.
    let period = s.autoscale.sync_period.get().as_secs_f64();
    let calm_end = (up.t - period).max(load.start + 1.0);
    let (level, from) = match s.autoscale.slo_p95 {
        Some(slo) => (Some(slo.get().as_secs_f64() * 1000.0), "slo_p95"),
        None => (
            p95_between(points, load.start, calm_end).map(|p| p * PRE_SATURATION_SLACK),
            "pre-saturation",
        ),
    };
    r.recovered_p95_ms = level.map(round6);
    r.recovered_p95_from = from.to_owned();
    let Some(level) = level else {
        return r;
    };
    let series = crate::report::series(points);
    let end = phase(phases, crate::timeline::phase::LOAD).map_or(f64::INFINITY, |p| p.end);
    let under: Vec<(f64, bool)> = series
        .t
        .iter()
        .zip(&series.p95_ms)
        .filter(|(t, _)| **t > up.t && **t <= end + 1e-9)
        .map(|(t, p)| (*t, p.is_finite() && *p <= level))
        .collect();
    r.load_to_p95_recovered = under
        .windows(STAY)
        .find(|w| w.iter().all(|(_, ok)| *ok))
        .map(|w| round6(w[0].0 - load.start));
    r
}
