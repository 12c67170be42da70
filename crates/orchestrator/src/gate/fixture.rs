//! A whole run's report built from sampled points, for the gate's tests.

use common::names;

use crate::report::{Phase, Report};
use crate::sample::{Point, Totals};

/// A whole run's report: 100 requests per second from the load phase to the end of the
/// recovery, each taking `latency` seconds, `error_rate` of them failing; two replicas
/// after the scale-up.
pub(crate) fn report_with(latency: f64, error_rate: f64) -> Report {
    let phases = [
        ("deploy", 0.0, 2.0),
        ("baseline", 2.0, 5.0),
        ("load", 5.0, 15.0),
        ("scale_up", 15.0, 16.0),
        ("recovery", 16.0, 28.0),
        ("unload", 28.0, 30.0),
    ]
    .map(|(name, start, end)| Phase {
        name: name.to_owned(),
        start,
        end,
    });
    let bucket = names::LG_LATENCY_BUCKETS
        .iter()
        .position(|&b| b >= latency)
        .unwrap_or(names::LG_LATENCY_BUCKETS.len());
    let server_bucket = names::HTTP_LATENCY_BUCKETS
        .iter()
        .position(|&b| b >= latency)
        .unwrap_or(names::HTTP_LATENCY_BUCKETS.len());
    let points = (0..=30)
        .map(|t| {
            let t = f64::from(t);
            let sent = 100.0 * (t.min(28.0) - 5.0).max(0.0);
            let mut lg_latency = vec![0.0; names::LG_LATENCY_BUCKETS.len() + 1];
            for slot in &mut lg_latency[bucket..] {
                *slot = sent;
            }
            let mut server_latency = vec![0.0; names::HTTP_LATENCY_BUCKETS.len() + 1];
            for slot in &mut server_latency[server_bucket..] {
                *slot = sent;
            }
            Point {
                t,
                totals: Totals {
                    sent,
                    lg_errors: sent * error_rate,
                    served: sent,
                    lg_latency,
                    server_latency,
                    ..Totals::default()
                },
                target_rps: 100.0,
                backend_ready: if t >= 16.0 { 2 } else { 1 },
                backend_desired: if t >= 15.0 { 2 } else { 1 },
                jobs_pending: 0.0,
                vus: 0.0,
                gaps: Vec::new(),
                usage: Vec::new(),
                pipeline: None,
                restarts: 0,
            }
        })
        .collect();
    Report::build(
        scenario::Scenario::default(),
        scenario::Effective::default(),
        "local",
        "2026-01-01T00:00:00Z".to_owned(),
        crate::report::Outcome::Completed,
        &phases,
        points,
        Some(1.5),
        Vec::new(),
        Vec::new(),
        Vec::new(),
    )
}

/// An HPA report with no syncs and the given reaction, to put on [`report_with`]'s report.
pub(crate) fn autoscale_report(
    reaction: crate::autoscale::report::Reaction,
) -> crate::autoscale::report::AutoscaleReport {
    crate::autoscale::report::AutoscaleReport {
        mode: "hpa".to_owned(),
        metric: "rps_per_replica".to_owned(),
        unit: "rps".to_owned(),
        target: 50.0,
        min: 1,
        max: 4,
        syncs: Vec::new(),
        events: Vec::new(),
        reaction,
    }
}
