//! `orchestrator render`: every object of a run as YAML files, named so that
//! `kubectl apply -f DIR` applies them in the run's order (namespace first).

use std::path::{Path, PathBuf};

use scenario::Scenario;

use super::build;
use super::error::{Error, Result};

/// `(file name, YAML)` for every object of `s`, in apply order.
pub fn render_manifests(s: &Scenario) -> Result<Vec<(String, String)>> {
    build::plan(s)?
        .all()
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let file = format!("{i:02}-{}-{}.yaml", o.kind().to_ascii_lowercase(), o.name());
            Ok((file, o.to_yaml()?))
        })
        .collect()
}

/// Writes [`render_manifests`] into `out_dir` (created when missing) and returns the paths.
/// Files of an earlier render that this one does not produce are left alone: the directory
/// may hold other things.
pub fn write_manifests(s: &Scenario, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let files = render_manifests(s)?;
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.display().to_string(),
        source,
    })?;
    files
        .into_iter()
        .map(|(name, yaml)| {
            let path = out_dir.join(name);
            std::fs::write(&path, yaml).map_err(|source| Error::Io {
                path: path.display().to_string(),
                source,
            })?;
            Ok(path)
        })
        .collect()
}
