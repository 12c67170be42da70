//! `compare`'s rows of resource use: per phase and component (replicas summed), CPU cores,
//! peak memory, network rates and the backend's CPU per 1,000 requests, side by side.

use super::PhaseUsage;
use crate::compare::Row;
use crate::report::Report;

/// One figure of a component in a phase, over its replicas.
type Figure = (&'static str, fn(&PhaseUsage, &str) -> Option<f64>);

/// Sums `get` over the replicas of `component` that measured it.
fn sum(
    p: &PhaseUsage,
    component: &str,
    get: fn(&super::ComponentUsage) -> Option<f64>,
) -> Option<f64> {
    p.components
        .iter()
        .filter(|c| c.component == component)
        .filter_map(get)
        .reduce(|a, b| a + b)
}

const FIGURES: [Figure; 4] = [
    ("cpu_cores", |p, c| sum(p, c, |u| u.cpu_cores_avg)),
    ("memory_max_mib", |p, c| {
        sum(p, c, |u| u.memory_bytes_max).map(|b| b / 1_048_576.0)
    }),
    ("net_in_kib_per_s", |p, c| {
        sum(p, c, |u| u.net_rx_bytes_per_s).map(|b| b / 1024.0)
    }),
    ("net_out_kib_per_s", |p, c| {
        sum(p, c, |u| u.net_tx_bytes_per_s).map(|b| b / 1024.0)
    }),
];

fn phases(r: &Report) -> &[PhaseUsage] {
    r.resources.as_ref().map_or(&[], |s| s.phases.as_slice())
}

/// The rows for every phase, component and figure either report measured.
pub fn rows(a: &Report, b: &Report) -> Vec<Row> {
    let mut keys: Vec<(String, String)> = Vec::new();
    for p in phases(a).iter().chain(phases(b)) {
        for c in &p.components {
            let key = (p.phase.clone(), c.component.clone());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let find = |r: &Report, phase: &str| phases(r).iter().find(|p| p.phase == phase).cloned();
    let mut out = Vec::new();
    for (phase, component) in &keys {
        let (pa, pb) = (find(a, phase), find(b, phase));
        for (name, get) in FIGURES {
            out.push(Row::new(
                phase,
                &format!("{component}.{name}"),
                pa.as_ref().and_then(|p| get(p, component)),
                pb.as_ref().and_then(|p| get(p, component)),
            ));
        }
        if component == crate::runtime::ComponentKind::Backend.as_str() {
            let per_1k = |p: &Option<PhaseUsage>| {
                p.as_ref()
                    .and_then(|p| p.backend_cpu_seconds_per_1k_requests)
            };
            out.push(Row::new(
                phase,
                "backend.cpu_seconds_per_1k_requests",
                per_1k(&pa),
                per_1k(&pb),
            ));
        }
    }
    // A figure neither run measured (a phase shorter than a sampling interval, memory per
    // replica locally) says nothing side by side.
    out.retain(|r| r.a.is_some() || r.b.is_some());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{ComponentUsage, Section};

    fn with_backend(cpu: Option<f64>, replicas: usize) -> Report {
        let mut r = crate::gate::fixture::report_with(0.1, 0.0);
        let replica = |i: usize| ComponentUsage {
            instance: format!("backend-{i}"),
            component: "backend".into(),
            cpu_cores_avg: cpu,
            ..ComponentUsage::default()
        };
        r.resources = Some(Section {
            phases: vec![PhaseUsage {
                phase: "load".into(),
                components: (0..replicas).map(replica).collect(),
                backend_cpu_seconds_per_1k_requests: cpu.map(|c| c * 10.0),
            }],
            ..Section::default()
        });
        r
    }

    #[test]
    fn replicas_are_summed_per_component_and_unmeasured_figures_left_out() {
        let rows = rows(&with_backend(Some(0.25), 1), &with_backend(Some(0.25), 2));
        let cpu = rows
            .iter()
            .find(|r| r.metric == "backend.cpu_cores")
            .unwrap();
        assert_eq!((cpu.a, cpu.b), (Some(0.25), Some(0.5)));
        assert_eq!(cpu.change, Some(1.0));
        assert!(
            rows.iter()
                .any(|r| r.metric == "backend.cpu_seconds_per_1k_requests")
        );
        // Memory and network were measured in neither run.
        assert!(
            rows.iter().all(|r| r.a.is_some() || r.b.is_some()),
            "{rows:?}"
        );
        assert!(super::rows(&with_backend(None, 1), &with_backend(None, 1)).is_empty());
    }
}
