//! The per-phase figures of the report's `resources` section, and the per-interval series
//! its charts draw, from the [`Usage`] rows of the sampled points.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Source, Usage};
use crate::report::{Phase, round6};
use crate::sample::Point;

/// One replica's use during one phase. Rates are per second; `None`: not measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComponentUsage {
    pub instance: String,
    pub component: String,
    /// CPU cores used: the phase's average, and the busiest sampling interval.
    pub cpu_cores_avg: Option<f64>,
    pub cpu_cores_max: Option<f64>,
    pub memory_bytes_avg: Option<f64>,
    pub memory_bytes_max: Option<f64>,
    pub net_rx_bytes_per_s: Option<f64>,
    pub net_tx_bytes_per_s: Option<f64>,
    /// What the replica held by its own count (sessions, requests in flight), by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub held: BTreeMap<String, Held>,
}

/// A count a component keeps of what it holds, over a phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Held {
    pub avg: f64,
    pub max: f64,
}

/// Every replica's use during one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseUsage {
    pub phase: String,
    pub components: Vec<ComponentUsage>,
    /// The backend replicas' CPU seconds per 1,000 requests they served (none served: `None`).
    pub backend_cpu_seconds_per_1k_requests: Option<f64>,
}

/// The report's `resources` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub source: Source,
    pub phases: Vec<PhaseUsage>,
    /// What could not be measured, each reason once (the rounds are in the points' gaps).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
}

/// A counter's average and highest rate over consecutive `(t, value)` samples, and what it
/// grew by. A value that went down is a restarted instance: that interval is left out.
fn rates(samples: &[(f64, f64)]) -> Option<(f64, f64, f64)> {
    let (mut grew, mut span, mut max) = (0.0, 0.0, 0.0_f64);
    for w in samples.windows(2) {
        let ((ta, a), (tb, b)) = (w[0], w[1]);
        if tb > ta && b >= a {
            grew += b - a;
            span += tb - ta;
            max = max.max((b - a) / (tb - ta));
        }
    }
    (span > 0.0).then(|| (grew / span, max, grew))
}

/// The instances seen in `points`, in order of first appearance.
fn instances(points: &[&Point]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for u in points.iter().flat_map(|p| &p.usage) {
        if !out.iter().any(|(i, _)| *i == u.instance) {
            out.push((u.instance.clone(), u.component.clone()));
        }
    }
    out
}

fn samples(points: &[&Point], instance: &str, get: fn(&Usage) -> Option<f64>) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| {
            let u = p.usage.iter().find(|u| u.instance == instance)?;
            get(u).map(|v| (p.t, v))
        })
        .collect()
}

/// Every count `instance` keeps of what it holds, as its average and peak over `points`.
fn held(points: &[&Point], instance: &str) -> BTreeMap<String, Held> {
    let mut seen: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for u in points.iter().flat_map(|p| &p.usage) {
        if u.instance == instance {
            for (name, v) in &u.held {
                seen.entry(name.clone()).or_default().push(*v);
            }
        }
    }
    seen.into_iter()
        .map(|(name, values)| {
            let avg = values.iter().sum::<f64>() / values.len() as f64;
            let max = values.iter().copied().fold(f64::MIN, f64::max);
            (
                name,
                Held {
                    avg: round6(avg),
                    max,
                },
            )
        })
        .collect()
}

/// The points of `phase`: from the one at or before its start to the one at or before its
/// end, as the other phase figures are taken.
fn window<'a>(points: &'a [Point], phase: &Phase) -> Vec<&'a Point> {
    let first = points
        .iter()
        .rposition(|p| p.t <= phase.start + 1e-9)
        .unwrap_or(0);
    points
        .iter()
        .skip(first)
        .take_while(|p| p.t <= phase.end + 1e-9)
        .collect()
}

/// The figures of one phase.
pub fn phase_usage(points: &[Point], phase: &Phase) -> PhaseUsage {
    let w = window(points, phase);
    let mut backend_cpu = None::<f64>;
    let components = instances(&w)
        .into_iter()
        .map(|(instance, component)| {
            let cpu = rates(&samples(&w, &instance, |u| u.cpu_seconds));
            let rx = rates(&samples(&w, &instance, |u| u.net_rx_bytes));
            let tx = rates(&samples(&w, &instance, |u| u.net_tx_bytes));
            let memory: Vec<f64> = samples(&w, &instance, |u| u.memory_bytes)
                .into_iter()
                .map(|(_, v)| v)
                .collect();
            let held = held(&w, &instance);
            if component == crate::runtime::ComponentKind::Backend.as_str()
                && let Some((_, _, grew)) = cpu
            {
                *backend_cpu.get_or_insert(0.0) += grew;
            }
            ComponentUsage {
                cpu_cores_avg: cpu.map(|c| round6(c.0)),
                cpu_cores_max: cpu.map(|c| round6(c.1)),
                memory_bytes_avg: (!memory.is_empty())
                    .then(|| (memory.iter().sum::<f64>() / memory.len() as f64).round()),
                memory_bytes_max: memory.iter().copied().reduce(f64::max),
                net_rx_bytes_per_s: rx.map(|r| round6(r.0)),
                net_tx_bytes_per_s: tx.map(|r| round6(r.0)),
                held,
                instance,
                component,
            }
        })
        .collect();
    let served = match (w.first(), w.last()) {
        (Some(a), Some(b)) => b.totals.served - a.totals.served,
        _ => 0.0,
    };
    PhaseUsage {
        phase: phase.name.clone(),
        components,
        backend_cpu_seconds_per_1k_requests: backend_cpu
            .filter(|_| served > 0.0)
            .map(|cpu| round6(cpu / served * 1000.0)),
    }
}

/// The section of a run: every phase's figures, the distinct resource gaps, the source.
pub fn section(points: &[Point], phases: &[Phase], source: Source) -> Section {
    let mut gaps: Vec<String> = Vec::new();
    for g in points.iter().flat_map(|p| &p.gaps) {
        if g.starts_with(super::local::GAP_PREFIX) && !gaps.contains(g) {
            gaps.push(g.clone());
        }
    }
    Section {
        source,
        phases: phases.iter().map(|p| phase_usage(points, p)).collect(),
        gaps,
    }
}

/// One line of a chart: an instance's value per sampling interval, aligned with
/// [`crate::report::series`] (NaN where it was not measured).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub instance: String,
    pub component: String,
    pub values: Vec<f64>,
}

/// CPU cores used by every instance over each interval.
pub fn cpu_lines(points: &[Point]) -> Vec<Line> {
    lines(points, |a, b, dt| {
        let (a, b) = (a?.cpu_seconds?, b.cpu_seconds?);
        (b >= a).then(|| (b - a) / dt)
    })
}

/// Memory (MiB) of every instance at the end of each interval.
pub fn memory_lines(points: &[Point]) -> Vec<Line> {
    lines(points, |_, b, _| b.memory_bytes.map(|m| m / 1_048_576.0))
}

fn lines(points: &[Point], value: fn(Option<&Usage>, &Usage, f64) -> Option<f64>) -> Vec<Line> {
    let all: Vec<&Point> = points.iter().collect();
    instances(&all)
        .into_iter()
        .map(|(instance, component)| {
            let find = |p: &Point| p.usage.iter().find(|u| u.instance == instance).cloned();
            let values = points
                .windows(2)
                .filter(|w| w[1].t > w[0].t)
                .map(|w| {
                    let dt = w[1].t - w[0].t;
                    find(&w[1])
                        .and_then(|b| value(find(&w[0]).as_ref(), &b, dt))
                        .unwrap_or(f64::NAN)
                })
                .collect();
            Line {
                instance,
                component,
                values,
            }
        })
        .filter(|l| l.values.iter().any(|v| v.is_finite()))
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn point(t: f64, served: f64, usage: Vec<Usage>) -> Point {
        Point {
            t,
            totals: crate::sample::Totals {
                served,
                ..Default::default()
            },
            target_rps: 0.0,
            backend_ready: 1,
            backend_desired: 1,
            jobs_pending: 0.0,
            vus: 0.0,
            gaps: Vec::new(),
            usage,
            pipeline: None,
            restarts: 0,
        }
    }

    fn backend(cpu: f64, mem: f64) -> Usage {
        Usage {
            instance: "backend-0".into(),
            component: "backend".into(),
            cpu_seconds: Some(cpu),
            memory_bytes: Some(mem),
            net_rx_bytes: Some(cpu * 1000.0),
            net_tx_bytes: None,
            // The replica holds as many sessions as it has memory units, to tell them apart.
            held: [("sessions".to_owned(), mem)].into(),
        }
    }

    #[test]
    fn a_phase_has_average_and_peak_cores_and_cpu_per_thousand_requests() {
        let points = [
            point(0.0, 0.0, vec![backend(0.0, 10.0)]),
            point(1.0, 100.0, vec![backend(0.1, 30.0)]),
            point(2.0, 300.0, vec![backend(0.5, 20.0)]),
        ];
        let phase = Phase {
            name: "load".into(),
            start: 0.0,
            end: 2.0,
        };
        let u = phase_usage(&points, &phase);
        let c = &u.components[0];
        assert_eq!((c.cpu_cores_avg, c.cpu_cores_max), (Some(0.25), Some(0.4)));
        assert_eq!(
            (c.memory_bytes_avg, c.memory_bytes_max),
            (Some(20.0), Some(30.0))
        );
        assert_eq!(c.net_rx_bytes_per_s, Some(250.0));
        assert_eq!(c.net_tx_bytes_per_s, None);
        assert_eq!(
            c.held["sessions"],
            Held {
                avg: 20.0,
                max: 30.0
            }
        );
        // 0.5 s of CPU for 300 requests.
        assert_eq!(
            u.backend_cpu_seconds_per_1k_requests,
            Some(round6(0.5 / 0.3))
        );
    }

    #[test]
    fn nothing_served_or_nothing_sampled_gives_no_figures() {
        let phase = Phase {
            name: "baseline".into(),
            start: 0.0,
            end: 1.0,
        };
        let empty = phase_usage(&[], &phase);
        assert!(empty.components.is_empty());
        let idle = [
            point(0.0, 0.0, vec![backend(0.0, 1.0)]),
            point(1.0, 0.0, vec![backend(0.0, 1.0)]),
        ];
        let u = phase_usage(&idle, &phase);
        assert_eq!(u.backend_cpu_seconds_per_1k_requests, None);
        assert_eq!(u.components[0].cpu_cores_avg, Some(0.0));
    }

    proptest! {
        /// The average lies between zero and the peak, whatever the counter does (restarts
        /// included), and the chart's values are the same intervals' rates.
        #[test]
        fn average_never_exceeds_the_peak(steps in proptest::collection::vec((0.1f64..3.0, -1.0f64..5.0), 1..40)) {
            let (mut t, mut cpu) = (0.0, 0.0);
            let mut points = vec![point(0.0, 0.0, vec![backend(0.0, 1.0)])];
            for (dt, d) in steps {
                t += dt;
                cpu = if d < 0.0 { 0.0 } else { cpu + d };
                points.push(point(t, 0.0, vec![backend(cpu, 1.0)]));
            }
            let phase = Phase { name: "p".into(), start: 0.0, end: t };
            let u = phase_usage(&points, &phase);
            if let (Some(avg), Some(max)) = (u.components[0].cpu_cores_avg, u.components[0].cpu_cores_max) {
                prop_assert!(avg >= 0.0 && avg <= max + 1e-6, "{avg} {max}");
                let line = &cpu_lines(&points)[0];
                let peak = line.values.iter().copied().filter(|v| v.is_finite()).fold(0.0, f64::max);
                prop_assert!((round6(peak) - max).abs() < 1e-5);
            }
        }
    }
}
