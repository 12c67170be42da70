//! `orchestrator render`: every object of a run as YAML files, named so that
//! `kubectl apply -f DIR` applies them in the run's order (namespace first).

use std::path::{Path, PathBuf};

use scenario::Scenario;

use super::build;
use super::error::{Error, Result};

/// `(file name, YAML)` for every object of `s`, in apply order; with `iterations` > 1,
/// every copy's, each file name starting `i<k>-` (so each copy's namespace still comes
/// first in `kubectl apply -f DIR`'s order).
pub fn render_manifests(s: &Scenario) -> Result<Vec<(String, String)>> {
    let mut files = Vec::new();
    for copy in crate::iterations::copies(s) {
        let prefix = copy
            .iterations
            .index
            .map(|k| format!("i{k}-"))
            .unwrap_or_default();
        for (i, o) in build::plan(&copy)?.all().iter().enumerate() {
            let kind = o.kind().to_ascii_lowercase();
            files.push((
                format!("{prefix}{i:02}-{kind}-{}.yaml", o.name()),
                o.to_yaml()?,
            ));
        }
    }
    Ok(files)
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
