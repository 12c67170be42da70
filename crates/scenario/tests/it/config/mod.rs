//! The scenario configuration: layering, sources, aliases, validation and rendering, each
//! through the public API with real files in a temporary directory.

mod aliases;
mod autoscale;
mod capability;
mod chaos;
mod entries;
mod layering;
mod plans;
mod render;
mod shapes;
mod sources;
mod validation;
mod values;

use std::path::PathBuf;

use scenario::{ConfigError, ConfigErrors, ConfigInputs, ErrorKind, Resolved, resolve};
use tempfile::TempDir;

/// A temporary directory for scenario and `.env` files.
pub(crate) struct Files {
    dir: TempDir,
}

impl Files {
    pub(crate) fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a test file");
        path
    }
}

/// A scenario file of `text` as the only input, and its path as messages show it.
pub(crate) fn file_inputs(files: &Files, text: &str) -> (ConfigInputs, String) {
    let path = files.write("scenario.toml", text);
    let shown = path.display().to_string();
    (
        ConfigInputs {
            scenario_file: Some(path),
            ..ConfigInputs::default()
        },
        shown,
    )
}

pub(crate) fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `--set` items as the only input.
pub(crate) fn with_sets(items: &[&str]) -> ConfigInputs {
    ConfigInputs {
        sets: sets(items),
        ..ConfigInputs::default()
    }
}

pub(crate) fn sets(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) fn ok(inputs: &ConfigInputs) -> Resolved {
    match resolve(inputs) {
        Ok(r) => r,
        Err(e) => panic!("expected a valid configuration, got:\n{e}"),
    }
}

pub(crate) fn errors(inputs: &ConfigInputs) -> ConfigErrors {
    match resolve(inputs) {
        Ok(r) => panic!("expected errors, got {:#?}", r.scenario),
        Err(e) => e,
    }
}

/// The one error about `key`, checked to name the key, the value as written, its source
/// and a fix in its message.
pub(crate) fn error_about<'a>(
    errors: &'a ConfigErrors,
    kind: ErrorKind,
    key: &str,
    value: &str,
    source: &str,
) -> &'a ConfigError {
    let found: Vec<&ConfigError> = errors.iter().filter(|e| e.key == key).collect();
    assert_eq!(
        found.len(),
        1,
        "one error about `{key}` expected in:\n{errors}"
    );
    let e = found[0];
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!(e.value, value, "{e}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{source}: {key} = `{value}`: ")),
        "the message names source, key and value: {text}"
    );
    assert!(text.contains("(fix: "), "the message gives a fix: {text}");
    assert!(
        errors.to_string().contains(&text),
        "the list shows the error:\n{errors}"
    );
    e
}
