//! The rules that end the climb, judged on the sampled points of one attempt (a climb step
//! or a settle window): pure functions of the points, so the thresholds are testable on
//! made-up series without a stack.

use common::names;
use serde::{Deserialize, Serialize};

use crate::sample::{Point, diff, quantile};

/// Which rule broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// The pipeline's consumer lag kept growing for longer than the window.
    ConsumerLag,
    /// The p95 (end to end per order, or per request) went over its bound.
    P95,
    /// Failed requests over the allowed share.
    ErrorRate,
    /// A backend replica or a worker restarted.
    Restart,
    /// The load generator could not send on schedule: the limit measured is its own.
    LoadgenBehind,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConsumerLag => "consumer_lag",
            Self::P95 => "p95",
            Self::ErrorRate => "error_rate",
            Self::Restart => "restart",
            Self::LoadgenBehind => "loadgen_behind",
        }
    }
}

/// A broken rule: which, and the figures that broke it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Break {
    pub rule: Rule,
    /// Seconds since the run began, when it was seen.
    pub t: f64,
    pub detail: String,
}

/// The bounds of one run (from the scenario's `capability_*` keys).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub p95_s: f64,
    pub error_rate: f64,
    pub lag_window_s: f64,
    /// The pipeline's end-to-end latency and lag apply; otherwise the requests' latency.
    pub pipeline: bool,
    /// Copies of the stack driven at the rate each (`iterations`): the backlog read is
    /// every copy's, so its slack is of their sum.
    pub copies: u32,
}

impl Bounds {
    pub fn of(s: &scenario::Scenario) -> Self {
        let c = &s.capability;
        Self {
            p95_s: c.p95.get().as_secs_f64(),
            error_rate: c.error_rate,
            lag_window_s: c.lag_window.get().as_secs_f64(),
            pipeline: s.pipeline.workload == scenario::Workload::Pipeline,
            copies: s.iterations.count.max(1),
        }
    }
}

/// Fewer answers than this in a window give no p95 worth judging.
const MIN_ANSWERS_FOR_P95: f64 = 10.0;

/// The first rule `points` break, judged at their last point. Latency and errors count from
/// `since`, where the rate now offered began (an earlier rate's answers are not its fault);
/// the lag's trend from `trend_since`, where the attempt began (a trend may span rungs).
pub fn judge(
    points: &[Point],
    since: f64,
    trend_since: f64,
    rate: f64,
    b: &Bounds,
) -> Option<Break> {
    let window: Vec<&Point> = points.iter().filter(|p| p.t >= since).collect();
    let trend: Vec<&Point> = points.iter().filter(|p| p.t >= trend_since).collect();
    let last = *trend.last()?;
    let at = |rule, detail: String| {
        Some(Break {
            rule,
            t: last.t,
            detail,
        })
    };
    if let (Some(first), Some(now)) = (window.first(), window.last())
        && now.t - first.t >= 1.0
        && let Some((rule, detail)) = judge_window(first, now, rate, b)
    {
        return at(rule, detail);
    }
    let slack = lag_slack(rate * f64::from(b.copies));
    if b.pipeline
        && let Some(growth) = lag_growth(&trend, b.lag_window_s)
        && growth > slack
    {
        return at(
            Rule::ConsumerLag,
            format!(
                "the backlog grew {growth:.1} orders/s for {:.0} s (slack {slack:.1}) at {rate:.1} rps",
                b.lag_window_s,
            ),
        );
    }
    None
}

/// The rules judged on what happened between two points of one rate.
fn judge_window(first: &Point, last: &Point, rate: f64, b: &Bounds) -> Option<(Rule, String)> {
    if last.restarts > first.restarts {
        return Some((
            Rule::Restart,
            format!(
                "{} restart(s) of a backend replica or worker at {rate:.1} rps",
                last.restarts - first.restarts
            ),
        ));
    }
    let (a, z) = (&first.totals, &last.totals);
    let sent = z.sent - a.sent;
    let errors = z.lg_errors - a.lg_errors;
    if errors > 0.0 && errors > b.error_rate * sent {
        return Some((
            Rule::ErrorRate,
            format!(
                "{errors:.0} of {sent:.0} requests failed ({:.1} %, limit {:.1} %) at {rate:.1} rps",
                share(errors, sent) * 100.0,
                b.error_rate * 100.0
            ),
        ));
    }
    let dropped = z.dropped - a.dropped;
    if dropped > 0.0 && dropped > b.error_rate * (sent + dropped) {
        return Some((
            Rule::LoadgenBehind,
            format!(
                "the load generator could not send {dropped:.0} of {:.0} requests on schedule at {rate:.1} rps: the limit is the generator's, not the target's",
                sent + dropped
            ),
        ));
    }
    if let Some(p95) = window_p95(first, last, b.pipeline)
        && p95 > b.p95_s
    {
        let what = if b.pipeline { "end-to-end p95" } else { "p95" };
        return Some((
            Rule::P95,
            format!(
                "{what} {:.0} ms over its bound {:.0} ms at {rate:.1} rps",
                p95 * 1e3,
                b.p95_s * 1e3
            ),
        ));
    }
    None
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 { part / whole } else { 0.0 }
}

/// The p95 of what was answered between two points, when enough was.
pub fn window_p95(first: &Point, last: &Point, pipeline: bool) -> Option<f64> {
    let (bounds, counts) = if pipeline {
        let (a, z) = (first.pipeline.as_ref()?, last.pipeline.as_ref()?);
        (
            names::PIPELINE_LATENCY_BUCKETS,
            diff(&z.end_to_end, &a.end_to_end),
        )
    } else {
        (
            names::LG_LATENCY_BUCKETS,
            diff(&last.totals.lg_latency, &first.totals.lg_latency),
        )
    };
    if counts.last().copied().unwrap_or(0.0) < MIN_ANSWERS_FOR_P95 {
        return None;
    }
    quantile(bounds, &counts, 0.95)
}

/// How much faster than this the lag may grow before it counts: a batch read or a slow
/// second moves it a little at any rate.
pub fn lag_slack(rate: f64) -> f64 {
    (0.05 * rate).max(1.0)
}

/// The backlog's least-squares slope (orders per second) over the last `window_s` seconds
/// of `window`, when it covers that long, had a Redis reading at every point, and ended
/// higher than it began (a backlog draining after a spike is not growing). The backlog is
/// every order not yet acknowledged (the stream's length: acknowledged orders leave it), so
/// orders a worker holds count as well as those not yet delivered; Redis' own `lag` of the
/// group cannot always be read (it is unknown once entries were deleted).
pub fn lag_growth(window: &[&Point], window_s: f64) -> Option<f64> {
    let end = window.last()?.t;
    let recent: Vec<(f64, f64)> = window
        .iter()
        .filter(|p| p.t >= end - window_s - 1e-9)
        .map(|p| Some((p.t, p.pipeline.as_ref()?.redis?.queued)))
        .collect::<Option<_>>()?;
    let (t0, lag0) = *recent.first()?;
    let lag1 = recent.last()?.1;
    if end - t0 < window_s - 0.5 || recent.len() < 3 || lag1 <= lag0 {
        return None;
    }
    Some(slope(&recent))
}

fn slope(xy: &[(f64, f64)]) -> f64 {
    let n = xy.len() as f64;
    let (mx, my) = (
        xy.iter().map(|p| p.0).sum::<f64>() / n,
        xy.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = xy.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = xy.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx > 0.0 { sxy / sxx } else { 0.0 }
}

#[cfg(test)]
mod tests;
