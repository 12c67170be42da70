//! The baseline a run is compared with: read from a report.json (or its run directory) and
//! checked field by field against the run, so that unlike runs are never compared in
//! silence. A different schema, runtime or load is refused; a different service (workers,
//! service time, images: what a pull request changes) is compared with a warning; names,
//! ports and timeouts do not matter.

use std::collections::BTreeMap;
use std::path::Path;

use scenario::Scenario;
use serde_json::Value;

use crate::report::{Outcome, Report};

/// What a difference in one field means for the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The two runs measured different things: no comparison.
    Refuse,
    /// Compared, with the difference named in the report.
    Warn,
    /// Irrelevant to the figures (names, ports, timeouts, the gate itself).
    Ignore,
}

/// Scenario fields (dotted JSON paths of [`Scenario`]) by prefix; a field in no entry is
/// warned about, so a key added later is never compared silently.
const POLICIES: [(&str, Policy); 21] = [
    ("load.", Policy::Refuse),
    ("actions", Policy::Refuse),
    ("enable_load", Policy::Refuse),
    ("baseline_pause", Policy::Refuse),
    ("load_pause", Policy::Refuse),
    ("load_scale_delay", Policy::Refuse),
    ("backend.replicas", Policy::Refuse),
    ("backend_scale_replicas", Policy::Refuse),
    ("uuid", Policy::Ignore),
    ("namespace_prefix", Policy::Ignore),
    ("app_name", Policy::Ignore),
    (".name", Policy::Ignore),
    ("frontend_node_port", Policy::Ignore),
    ("prometheus_node_port", Policy::Ignore),
    ("grafana", Policy::Ignore),
    ("frontend_service_type", Policy::Ignore),
    ("ready_timeout", Policy::Ignore),
    ("prepull", Policy::Ignore),
    ("pause_image", Policy::Ignore),
    ("thresholds", Policy::Ignore),
    ("alerts", Policy::Ignore),
];

fn policy(path: &str) -> Policy {
    POLICIES
        .iter()
        .find(|(p, _)| {
            if let Some(suffix) = p.strip_prefix('.') {
                path.ends_with(&format!(".{suffix}"))
            } else if p.ends_with('.') {
                path.starts_with(p)
            } else {
                path == *p || path.starts_with(&format!("{p}."))
            }
        })
        .map_or(Policy::Warn, |(_, policy)| *policy)
}

/// Dotted path → value of every leaf of `v`.
fn flatten(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(v, &path, out);
            }
        }
        _ => {
            out.insert(prefix.to_owned(), v.clone());
        }
    }
}

/// The verdict on comparing a run of `scenario` on `runtime` with `baseline`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fit {
    pub refusals: Vec<String>,
    pub warnings: Vec<String>,
}

/// Judges every field in which `baseline` differs from a run of `scenario` on `runtime`.
pub fn fit(baseline: &Report, scenario: &Scenario, runtime: &str) -> Fit {
    let mut fit = Fit::default();
    let whose = format!("baseline `{}`", baseline.uuid);
    if baseline.runtime != runtime {
        fit.refusals.push(format!(
            "runtime: the {whose} ran on `{}`, this run on `{runtime}`; figures of different runtimes are not comparable",
            baseline.runtime
        ));
    }
    if baseline.outcome != Outcome::Completed {
        fit.refusals.push(format!(
            "outcome: the {whose} did not complete ({:?}); take the baseline from a completed run",
            baseline.outcome
        ));
    }
    if baseline.gate.as_ref().is_some_and(|g| !g.passed) {
        fit.warnings
            .push(format!("the {whose} failed its own gate"));
    }
    let (mut a, mut b) = (BTreeMap::new(), BTreeMap::new());
    let json = |s: &Scenario| serde_json::to_value(s).unwrap_or(Value::Null);
    flatten(&json(&baseline.scenario), "", &mut a);
    flatten(&json(scenario), "", &mut b);
    let paths: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for path in paths {
        let (was, now) = (a.get(path), b.get(path));
        if was == now {
            continue;
        }
        let show = |v: Option<&Value>| v.map_or_else(|| "(absent)".to_owned(), Value::to_string);
        let line = format!("{path}: {} in the {whose}, {} now", show(was), show(now));
        match policy(path) {
            Policy::Refuse => fit.refusals.push(format!(
                "{line}; a different load is not comparable (run the baseline's scenario, or drop --baseline)"
            )),
            Policy::Warn => fit.warnings.push(line),
            Policy::Ignore => {}
        }
    }
    fit
}

/// Reads the baseline at `path` (a report.json or the run directory holding it).
pub fn read(path: &Path) -> Result<Report, String> {
    if !path.exists() {
        return Err(format!(
            "--baseline {}: no such file or directory (give a report.json or its run directory)",
            path.display()
        ));
    }
    Report::read(path).map_err(|e| format!("--baseline: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::fixture::report_with;

    #[test]
    fn each_field_is_refused_warned_or_ignored() {
        let base = report_with(0.1, 0.01);
        let same = base.scenario.clone();
        assert_eq!(fit(&base, &same, "local"), Fit::default());

        let mut service = same.clone();
        service.backend_capacity.workers -= 1;
        service.uuid = "other".into();
        service.frontend_node_port += 1;
        let f = fit(&base, &service, "local");
        assert!(f.refusals.is_empty(), "{f:?}");
        assert_eq!(f.warnings.len(), 1, "{f:?}");
        assert!(
            f.warnings[0].starts_with("backend_capacity.workers: "),
            "{f:?}"
        );

        let mut load = same.clone();
        load.load.base_rps *= 2.0;
        load.load_pause = common::HumanDuration::from_secs(99);
        let f = fit(&base, &load, "kube");
        assert_eq!(f.refusals.len(), 3, "{f:?}");
        assert!(
            f.refusals.iter().any(|r| r.starts_with("runtime:")),
            "{f:?}"
        );
        assert!(
            f.refusals.iter().any(|r| r.starts_with("load.base_rps:")),
            "{f:?}"
        );
        assert!(
            f.refusals.iter().any(|r| r.starts_with("load_pause:")),
            "{f:?}"
        );
    }

    #[test]
    fn a_missing_or_unreadable_baseline_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(&dir.path().join("nope.json")).unwrap_err();
        assert!(e.contains("no such file"), "{e}");
        let bad = dir.path().join("report.json");
        std::fs::write(&bad, "{\"schema\": 1").unwrap();
        let e = read(dir.path()).unwrap_err();
        assert!(e.contains("is not a report.json"), "{e}");
    }
}
