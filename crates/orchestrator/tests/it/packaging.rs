//! The example CI pipeline (.github/workflows/loadtest.yml) is valid YAML, every script
//! its `run:` steps call exists and is executable, and it keeps the gate's wiring (baselines
//! from main, the artifact always uploaded), so the example cannot rot silently.

use std::path::{Path, PathBuf};

use serde_norway::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `scripts/...` path mentioned in a shell snippet.
fn script_refs(run: &str) -> Vec<String> {
    run.split(|c: char| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '"' | '\''))
        .map(|word| word.trim_start_matches("./"))
        .filter(|word| word.starts_with("scripts/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn loadtest_workflow_steps_reference_existing_scripts() {
    let path = repo_root().join(".github/workflows/loadtest.yml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let doc: Value = serde_norway::from_str(&text).expect("loadtest.yml is not valid YAML");
    let jobs = doc
        .get("jobs")
        .and_then(Value::as_mapping)
        .expect("loadtest.yml has no jobs");
    let mut referenced = Vec::new();
    let mut always_deletes_cluster = false;
    for (_, job) in jobs {
        let steps = job
            .get("steps")
            .and_then(Value::as_sequence)
            .expect("a job without steps");
        for step in steps {
            let Some(run) = step.get("run").and_then(Value::as_str) else {
                continue;
            };
            let refs = script_refs(run);
            if refs.iter().any(|r| r == "scripts/kind-down.sh") {
                always_deletes_cluster = step.get("if").and_then(Value::as_str) == Some("always()");
            }
            referenced.extend(refs);
        }
    }
    for script in [
        "scripts/kind-up.sh",
        "scripts/kind-down.sh",
        "scripts/loadtest-gate.sh",
    ] {
        assert!(
            referenced.iter().any(|r| r == script),
            "the workflow does not call {script}: {referenced:?}"
        );
    }
    for script in &referenced {
        let file = repo_root().join(script);
        let meta = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("the workflow calls {script}, which is missing: {e}"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert!(
                meta.permissions().mode() & 0o111 != 0,
                "{script} is not executable"
            );
        }
        #[cfg(not(unix))]
        let _ = meta;
    }
    assert!(
        always_deletes_cluster,
        "the step running scripts/kind-down.sh must have `if: always()`"
    );
    // Baselines come from runs on main, and the runs/ artifact is what a baseline is
    // downloaded from: it must be uploaded whatever the gate said.
    let pushes = doc
        .get("on")
        .and_then(|on| on.get("push"))
        .and_then(|p| p.get("branches"))
        .and_then(Value::as_sequence)
        .is_some_and(|b| b.iter().any(|b| b.as_str() == Some("main")));
    assert!(
        pushes,
        "the workflow must run on pushes to main (the baselines)"
    );
    let upload = jobs
        .iter()
        .flat_map(|(_, job)| {
            job.get("steps")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
        })
        .find(|s| {
            s.get("uses")
                .and_then(Value::as_str)
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
        })
        .expect("the workflow uploads runs/");
    assert_eq!(upload.get("if").and_then(Value::as_str), Some("always()"));
    assert_eq!(
        upload
            .get("with")
            .and_then(|w| w.get("name"))
            .and_then(Value::as_str),
        Some("loadtest-report"),
        "scripts/loadtest-gate.sh downloads the baseline by this artifact name"
    );
}

#[test]
fn script_refs_finds_paths_in_shell() {
    assert_eq!(
        script_refs("set -e\n./scripts/a.sh && bash scripts/b.sh --x\necho scriptsx"),
        vec!["scripts/a.sh".to_owned(), "scripts/b.sh".to_owned()]
    );
}
