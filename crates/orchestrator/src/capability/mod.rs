//! Capability mode (`capability = true`): how much the stack carries before something
//! gives. The climb offers rising rates until a rule breaks ([`rules`]), then steps back to
//! the highest rate held for the settle window ([`drive`]); the report states that rate,
//! per iteration and in total, with the rule that ended the climb.

pub mod drive;
pub mod render;
pub mod rules;

use serde::{Deserialize, Serialize};

use crate::sample::Point;
pub use drive::Climb;
pub use rules::{Break, Rule};

/// A climb step or a settle window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Climb,
    Settle,
}

/// One rate offered, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub kind: Kind,
    /// Offered per iteration.
    pub rate_rps: f64,
    /// Seconds since the run began.
    pub start: f64,
    /// `None` while it runs (an interrupted run ends it at its last point).
    pub end: Option<f64>,
    /// Ran its whole length with no rule broken.
    pub held: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broke: Option<Break>,
}

/// What the stack carried while the capacity's rate settled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Carried {
    /// Requests sent per second (all iterations).
    pub sent_rps: f64,
    /// Failed over sent.
    pub error_rate: f64,
    /// Per request, or end to end per order with the pipeline.
    pub p95_ms: Option<f64>,
    /// The pipeline: orders acknowledged by the workers per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_rps: Option<f64>,
}

/// The rate and rule that ended the climb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    pub rate_rps: f64,
    #[serde(flatten)]
    pub by: Break,
}

/// report.json's `capability` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapabilityReport {
    /// The highest rate held for the settle window, per iteration; 0 when none of the
    /// rates tried held; `None` when the run ended before one was found.
    pub capacity_rps: Option<f64>,
    pub iterations: u32,
    /// `capacity_rps` × `iterations`: the stack's capacity.
    pub total_rps: Option<f64>,
    /// The climb reached `capability_max_rps` without a break: the capacity is at least it.
    pub at_ceiling: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_by: Option<Ended>,
    /// Measured during the settle window that held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried: Option<Carried>,
    pub settle_s: f64,
    pub attempts: Vec<Attempt>,
}

impl CapabilityReport {
    /// The section from what the climb saw; `iterations` copies ran it together.
    pub fn build(climb: &Climb, points: &[Point], iterations: u32, settle_s: f64) -> Self {
        let last_t = points.last().map_or(0.0, |p| p.t);
        let attempts: Vec<Attempt> = climb
            .attempts
            .iter()
            .cloned()
            .map(|mut a| {
                a.end = Some(a.end.unwrap_or(last_t));
                a
            })
            .collect();
        let held = attempts
            .iter()
            .rev()
            .find(|a| a.kind == Kind::Settle && a.held);
        let pipeline = points.iter().any(|p| p.pipeline.is_some());
        Self {
            capacity_rps: climb.capacity,
            iterations,
            total_rps: climb.capacity.map(|c| c * f64::from(iterations)),
            at_ceiling: climb.ended_by.is_none()
                && climb.capacity == climb.ladder().last().copied(),
            ended_by: climb
                .ended_by
                .clone()
                .map(|(rate_rps, by)| Ended { rate_rps, by }),
            carried: held.and_then(|a| carried(points, a.start, a.end?, pipeline)),
            settle_s,
            attempts,
        }
    }
}

/// The figures between the points around `start` and `end`.
fn carried(points: &[Point], start: f64, end: f64, pipeline: bool) -> Option<Carried> {
    let first = points.iter().find(|p| p.t >= start)?;
    let last = points.iter().rev().find(|p| p.t <= end + 1e-9)?;
    let dt = last.t - first.t;
    if dt <= 0.0 {
        return None;
    }
    let sent = last.totals.sent - first.totals.sent;
    let errors = last.totals.lg_errors - first.totals.lg_errors;
    let acknowledged = match (&first.pipeline, &last.pipeline) {
        (Some(a), Some(z)) => Some((z.acknowledged - a.acknowledged) / dt),
        _ => None,
    };
    Some(Carried {
        sent_rps: crate::report::round6(sent / dt),
        error_rate: if sent > 0.0 { errors / sent } else { 0.0 },
        p95_ms: rules::window_p95(first, last, pipeline).map(|s| crate::report::round6(s * 1e3)),
        acknowledged_rps: acknowledged.map(crate::report::round6),
    })
}
