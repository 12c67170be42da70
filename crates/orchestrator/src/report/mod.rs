//! The run report: its model (written as report.json), built from the sampled [`Point`]s and
//! the phases of the timeline, and rendered as Markdown and HTML.

pub mod html;
pub mod markdown;
pub mod terminal;

use common::names;
use scenario::Scenario;
use serde::{Deserialize, Serialize};

use crate::sample::{PlanTotals, Point, diff, quantile};

/// Bumped when a field changes meaning; `compare` refuses reports of another schema.
pub const SCHEMA_VERSION: u32 = 1;

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Outcome {
    Completed,
    /// Ctrl-C or SIGTERM during `phase`.
    Interrupted {
        phase: String,
    },
    /// A component or the runtime failed during `phase`.
    Failed {
        phase: String,
        error: String,
    },
}

/// One phase of the timeline, in seconds since the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub start: f64,
    pub end: f64,
}

/// Latency quantiles in seconds; `None` when nothing was observed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// Rounds to 1e-6 (a microsecond, a millionth of a rate): more digits are noise, and short
/// decimals survive a JSON round trip exactly.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

impl Latency {
    fn from_buckets(bounds: &[f64], cumulative: &[f64]) -> Self {
        let q = |q| quantile(bounds, cumulative, q).map(round6);
        Self {
            p50: q(0.50),
            p95: q(0.95),
            p99: q(0.99),
        }
    }
}

/// The numbers of one phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    pub name: String,
    pub start: f64,
    pub end: f64,
    /// Requests the load generator sent per second.
    pub sent_rps: f64,
    /// Responses the backend replicas gave per second.
    pub served_rps: f64,
    /// Failed / sent requests (load generator's view).
    pub error_rate: f64,
    /// Not sent on schedule / scheduled.
    pub drop_rate: f64,
    /// 503-shed / served (backend's view).
    pub shed_rate: f64,
    /// Latency from the intended send time (load generator, coordinated-omission corrected).
    pub client_latency: Latency,
    /// Client latency over the second half of the phase only: how the phase ended once the
    /// transient at its start (a queue still draining after a scale-up, connections not yet
    /// recycled onto a new replica) has passed.
    #[serde(default)]
    pub settled_client_latency: Latency,
    /// Latency inside the backend, queue wait included.
    pub server_latency: Latency,
    /// Async mode: from the intended send time to the end of the job the request started.
    #[serde(default)]
    pub job_latency: Latency,
    /// Async mode: the most jobs waiting or running at once, over every replica.
    #[serde(default)]
    pub jobs_pending_max: f64,
    pub replicas_min: u32,
    pub replicas_max: u32,
    /// The load generators' figures of each load plan (the fields above are their total).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub plans: Vec<PlanStats>,
}

/// One load plan's figures in a phase, from its own load generators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStats {
    pub name: String,
    /// Requests the plan's generators sent during the phase.
    pub sent: f64,
    pub sent_rps: f64,
    pub error_rate: f64,
    pub drop_rate: f64,
    pub client_latency: Latency,
    #[serde(default)]
    pub job_latency: Latency,
}

/// Everything a run wrote down: serialized as report.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    pub uuid: String,
    pub runtime: String,
    /// RFC 3339-ish UTC start time, for people.
    pub started_at: String,
    pub outcome: Outcome,
    pub scenario: Scenario,
    /// The effective configuration with the source of every value, as `config --format json`.
    pub config: scenario::Effective,
    /// Seconds from the start of the deploy until every component was ready.
    pub time_to_ready: Option<f64>,
    pub phases: Vec<PhaseStats>,
    /// Components that failed to start or died, with the reason.
    pub failures: Vec<String>,
    pub notes: Vec<String>,
    pub endpoints: Vec<crate::runtime::Endpoint>,
    /// Every sampling round, once a second.
    pub points: Vec<Point>,
    /// Thresholds, regressions against a baseline and alerts, when the run had any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<crate::gate::GateReport>,
    /// CPU, memory and network per phase and replica, and where they came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::resources::Section>,
    /// `scale_mode` hpa/keda: every sync, the scale events and how the autoscaler reacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscale: Option<crate::autoscale::report::AutoscaleReport>,
    /// `workload = "pipeline"`: the orders' figures per phase and the loss check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<crate::pipeline::report::PipelineReport>,
    /// `iterations` > 1: a row per copy of the stack and their total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<crate::iterations::report::IterationsReport>,
    /// `capability = true`: the capacity found, every rate offered and the rule that broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capability: Option<crate::capability::CapabilityReport>,
}

/// The point at or just before `t` (the first point when `t` precedes all).
fn at(points: &[Point], t: f64) -> Option<&Point> {
    points
        .iter()
        .take_while(|p| p.t <= t + 1e-9)
        .last()
        .or(points.first())
}

/// `x / of`, 0 when there is nothing to divide by.
fn ratio(x: f64, of: f64) -> f64 {
    if of > 0.0 { x / of } else { 0.0 }
}

/// Computes the numbers of `phase` from the points sampled during it.
pub fn phase_stats(points: &[Point], phase: &Phase) -> PhaseStats {
    let (a, b) = (at(points, phase.start), at(points, phase.end));
    let inside: Vec<&Point> = points
        .iter()
        .filter(|p| p.t >= phase.start - 1e-9 && p.t <= phase.end + 1e-9)
        .collect();
    let mut stats = PhaseStats {
        name: phase.name.clone(),
        start: round6(phase.start),
        end: round6(phase.end),
        sent_rps: 0.0,
        served_rps: 0.0,
        error_rate: 0.0,
        drop_rate: 0.0,
        shed_rate: 0.0,
        client_latency: Latency::default(),
        settled_client_latency: Latency::default(),
        server_latency: Latency::default(),
        job_latency: Latency::default(),
        jobs_pending_max: 0.0,
        replicas_min: inside.iter().map(|p| p.backend_ready).min().unwrap_or(0),
        replicas_max: inside.iter().map(|p| p.backend_ready).max().unwrap_or(0),
        plans: Vec::new(),
    };
    let (Some(a), Some(b)) = (a, b) else {
        return stats;
    };
    if inside.is_empty() {
        // A phase shorter than the sampling interval: the replicas it started with.
        stats.replicas_min = a.backend_ready;
        stats.replicas_max = a.backend_ready;
    }
    let span = (b.t - a.t).max(1e-9);
    let (ta, tb) = (&a.totals, &b.totals);
    let sent = tb.sent - ta.sent;
    let errors = tb.lg_errors - ta.lg_errors;
    let dropped = tb.dropped - ta.dropped;
    let served = tb.served - ta.served;
    let shed = tb.shed - ta.shed;
    if b.t > a.t {
        stats.sent_rps = sent / span;
        stats.served_rps = served / span;
    }
    stats.sent_rps = round6(stats.sent_rps);
    stats.served_rps = round6(stats.served_rps);
    stats.error_rate = round6(ratio(errors, sent));
    stats.drop_rate = round6(ratio(dropped, sent + dropped));
    stats.shed_rate = round6(ratio(shed, served));
    stats.client_latency = Latency::from_buckets(
        names::LG_LATENCY_BUCKETS,
        &diff(&tb.lg_latency, &ta.lg_latency),
    );
    if let Some(mid) = at(points, (phase.start + phase.end) / 2.0) {
        stats.settled_client_latency = Latency::from_buckets(
            names::LG_LATENCY_BUCKETS,
            &diff(&tb.lg_latency, &mid.totals.lg_latency),
        );
    }
    stats.server_latency = Latency::from_buckets(
        names::HTTP_LATENCY_BUCKETS,
        &diff(&tb.server_latency, &ta.server_latency),
    );
    stats.job_latency = Latency::from_buckets(
        names::LG_LATENCY_BUCKETS,
        &diff(&tb.job_latency, &ta.job_latency),
    );
    stats.jobs_pending_max = round6(inside.iter().map(|p| p.jobs_pending).fold(0.0, f64::max));
    stats.plans = tb
        .plans
        .iter()
        .map(|(name, pb)| {
            let pa = ta.plans.get(name).cloned().unwrap_or_default();
            plan_stats(name, &pa, pb, b.t - a.t)
        })
        .collect();
    stats
}

/// One plan's figures between its cumulative totals `a` and `b`, `span` seconds apart.
fn plan_stats(name: &str, a: &PlanTotals, b: &PlanTotals, span: f64) -> PlanStats {
    let sent = b.sent - a.sent;
    let dropped = b.dropped - a.dropped;
    PlanStats {
        name: name.to_owned(),
        sent: round6(sent),
        sent_rps: round6(if span > 0.0 { sent / span } else { 0.0 }),
        error_rate: round6(ratio(b.lg_errors - a.lg_errors, sent)),
        drop_rate: round6(ratio(dropped, sent + dropped)),
        client_latency: Latency::from_buckets(
            names::LG_LATENCY_BUCKETS,
            &diff(&b.lg_latency, &a.lg_latency),
        ),
        job_latency: Latency::from_buckets(
            names::LG_LATENCY_BUCKETS,
            &diff(&b.job_latency, &a.job_latency),
        ),
    }
}

/// One value per sampling interval, for the charts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    pub t: Vec<f64>,
    pub sent_rps: Vec<f64>,
    pub served_rps: Vec<f64>,
    pub errors_per_s: Vec<f64>,
    /// Client p95 in milliseconds (server p95 when no load generator ran); NaN: no data.
    pub p95_ms: Vec<f64>,
    pub replicas: Vec<f64>,
}

/// The scenario's planned request rate (every plan's together) over each interval of
/// [`series`] (the same windows), its curves started when the `load` phase started; `None` when no load phase ran.
pub fn planned_rps(r: &Report) -> Option<Vec<f64>> {
    let load = r.phases.iter().find(|p| p.name == "load")?;
    let planned_before = |t: f64| {
        let since_load = (t - load.start).max(0.0);
        r.scenario.planned_before((since_load * 1e9) as u64)
    };
    let rates = r
        .points
        .windows(2)
        .filter(|w| w[1].t > w[0].t)
        .map(|w| (planned_before(w[1].t) - planned_before(w[0].t)) / (w[1].t - w[0].t))
        .collect();
    Some(rates)
}

/// The rate one plan's generators sent over each interval of [`series`] (the same windows).
pub fn plan_sent_rps(points: &[Point], plan: &str) -> Vec<f64> {
    let sent = |p: &Point| p.totals.plans.get(plan).map_or(0.0, |t| t.sent);
    points
        .windows(2)
        .filter(|w| w[1].t > w[0].t)
        .map(|w| (sent(&w[1]) - sent(&w[0])) / (w[1].t - w[0].t))
        .collect()
}

/// Per-interval rates between consecutive points.
pub fn series(points: &[Point]) -> Series {
    let mut s = Series::default();
    for w in points.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let dt = b.t - a.t;
        if dt <= 0.0 {
            continue;
        }
        let (ta, tb) = (&a.totals, &b.totals);
        s.t.push(b.t);
        s.sent_rps.push((tb.sent - ta.sent) / dt);
        s.served_rps.push((tb.served - ta.served) / dt);
        // The client's errors when it ran; the backend's shed/5xx otherwise.
        let client = tb.lg_errors - ta.lg_errors;
        let server = tb.server_5xx - ta.server_5xx;
        s.errors_per_s.push(client.max(server) / dt);
        let client_p95 = quantile(
            names::LG_LATENCY_BUCKETS,
            &diff(&tb.lg_latency, &ta.lg_latency),
            0.95,
        );
        let p95 = client_p95.or_else(|| {
            quantile(
                names::HTTP_LATENCY_BUCKETS,
                &diff(&tb.server_latency, &ta.server_latency),
                0.95,
            )
        });
        s.p95_ms.push(p95.map_or(f64::NAN, |v| v * 1000.0));
        s.replicas.push(f64::from(b.backend_ready));
    }
    s
}

impl Report {
    /// Builds the report of a run from its phases and points.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        scenario: Scenario,
        config: scenario::Effective,
        runtime: &str,
        started_at: String,
        outcome: Outcome,
        phases: &[Phase],
        points: Vec<Point>,
        time_to_ready: Option<f64>,
        failures: Vec<String>,
        notes: Vec<String>,
        endpoints: Vec<crate::runtime::Endpoint>,
    ) -> Self {
        // Each phase's plans in the scenario's order, as a person wrote them.
        let order: Vec<String> = scenario.load_plans().into_iter().map(|p| p.name).collect();
        let rank = |name: &str| order.iter().position(|n| n == name);
        let phases = phases
            .iter()
            .map(|p| {
                let mut stats = phase_stats(&points, p);
                stats.plans.sort_by_key(|plan| rank(&plan.name));
                stats
            })
            .collect();
        Self {
            schema: SCHEMA_VERSION,
            uuid: scenario.uuid.clone(),
            runtime: runtime.to_owned(),
            started_at,
            outcome,
            scenario,
            config,
            time_to_ready,
            phases,
            failures,
            notes,
            endpoints,
            points,
            gate: None,
            resources: None,
            autoscale: None,
            pipeline: None,
            iterations: None,
            capability: None,
        }
    }

    pub fn phase(&self, name: &str) -> Option<&PhaseStats> {
        self.phases.iter().find(|p| p.name == name)
    }

    /// Writes report.json, report.md and report.html into `dir` (created if missing).
    pub fn write(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("report.json"), json)?;
        std::fs::write(dir.join("report.md"), markdown::render(self))?;
        std::fs::write(dir.join("report.html"), html::render(self))?;
        Ok(())
    }

    /// Reads a report.json (or the run directory holding it).
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let file = if path.is_dir() {
            path.join("report.json")
        } else {
            path.to_owned()
        };
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let report: Self = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a report.json: {e}", file.display()))?;
        if report.schema != SCHEMA_VERSION {
            return Err(format!(
                "{} has report schema {}, this orchestrator reads schema {SCHEMA_VERSION}",
                file.display(),
                report.schema
            ));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Totals;

    /// A point whose cumulative client histogram holds `slow` requests at 0.5 s and `fast`
    /// ones at 10 ms.
    fn point(t: f64, slow: f64, fast: f64) -> Point {
        let bucket = |le: f64| {
            names::LG_LATENCY_BUCKETS
                .iter()
                .position(|&b| (b - le).abs() < 1e-12)
                .unwrap()
        };
        let mut lg_latency = vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1];
        for (i, slot) in lg_latency.iter_mut().enumerate() {
            if i >= bucket(0.01) {
                *slot += fast;
            }
            if i >= bucket(0.5) {
                *slot += slow;
            }
        }
        Point {
            t,
            totals: Totals {
                sent: slow + fast,
                lg_latency,
                server_latency: vec![0.0; names::HTTP_LATENCY_BUCKETS.len() + 1],
                ..Totals::default()
            },
            target_rps: 100.0,
            backend_ready: 2,
            backend_desired: 2,
            jobs_pending: 0.0,
            vus: 0.0,
            gaps: Vec::new(),
            usage: Vec::new(),
            pipeline: None,
            restarts: 0,
        }
    }

    #[test]
    fn settled_latency_leaves_out_the_transient_at_the_start_of_a_phase() {
        // A slow first half (a queue draining after a scale-up), then fast.
        let points = [
            point(0.0, 0.0, 0.0),
            point(1.0, 100.0, 0.0),
            point(2.0, 200.0, 0.0),
            point(3.0, 200.0, 100.0),
            point(4.0, 200.0, 200.0),
        ];
        let phase = Phase {
            name: "recovery".into(),
            start: 0.0,
            end: 4.0,
        };
        let stats = phase_stats(&points, &phase);
        assert!(stats.client_latency.p95.unwrap() > 0.25, "{stats:?}");
        assert!(
            stats.settled_client_latency.p95.unwrap() <= 0.01,
            "{stats:?}"
        );
    }
}
