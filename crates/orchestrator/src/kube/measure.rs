//! At the end of a kube run: pod latencies and the namespace's Warning events, written to
//! `runs/<uuid>/kube.json` (copy `k` of several: `runs/<uuid>/i<k>/kube.json`) and added to
//! the report's notes (a copy's prefixed `i<k>: `).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ::kube::Client;
use scenario::Scenario;

use super::meta::Job;
use super::pods::PodView;
use super::{events, latency};

/// Collects the measurements, writes kube.json and adds them to the report in `run_dir`
/// (written before teardown, through the shared report code, so report.json/md/html carry
/// them too). Returns the notes, for the terminal.
pub async fn write(
    client: &Client,
    s: &Scenario,
    view: &PodView,
    run_notes: &[String],
    run_dir: Option<&Path>,
) -> Vec<String> {
    let namespace = s.namespace();
    let mut notes = Vec::new();
    let times = view.times();
    let all = latency::summarize(&times);
    let mut by_component = BTreeMap::new();
    for job in Job::ALL {
        let rows = latency::summarize(times.iter().filter(|t| t.job == Some(job)));
        if !rows.is_empty() {
            by_component.insert(job.as_str(), rows);
        }
    }
    for row in &all {
        notes.push(format!("pod latency {}", latency::line(row)));
    }
    let warnings = match events::warnings(client, &namespace).await {
        Ok(w) => w,
        Err(e) => {
            notes.push(format!("Warning events could not be read: {e}"));
            Vec::new()
        }
    };
    if !warnings.is_empty() {
        notes.push(format!("{} Warning events in {namespace}:", warnings.len()));
        notes.extend(warnings.iter().take(20).map(|w| format!("  {w}")));
    }
    let Some(run_dir) = run_dir else {
        return notes;
    };
    let dir = kube_json_dir(s, run_dir);
    let doc = serde_json::json!({
        "namespace": namespace,
        "uuid": s.uuid,
        "pod_latency": all,
        "pod_latency_by_component": by_component,
        "warning_events": warnings,
        "notes": run_notes,
    });
    let path = dir.join("kube.json");
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
        )
    });
    if let Err(e) = written {
        notes.push(format!("cannot write {}: {e}", path.display()));
    }
    let copy = s
        .iterations
        .index
        .map(|k| format!("i{k}: "))
        .unwrap_or_default();
    // No await from the read to the write: copies tearing down together cannot interleave.
    if let Ok(mut report) = crate::report::Report::read(run_dir) {
        report
            .notes
            .extend(notes.iter().map(|n| format!("{copy}{n}")));
        if let Err(e) = report.write(run_dir) {
            notes.push(format!(
                "cannot add these notes to the report in {}: {e}",
                run_dir.display()
            ));
        }
    }
    notes
}

/// Where the stack's kube.json goes: the run's directory, or copy `k`'s `i<k>` in it.
fn kube_json_dir(s: &Scenario, run_dir: &Path) -> PathBuf {
    match s.iterations.index {
        Some(k) => run_dir.join(format!("i{k}")),
        None => run_dir.to_owned(),
    }
}
