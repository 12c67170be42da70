//! Resolving a scenario from its layers, lowest first: built-in defaults, the scenario file,
//! `.env`, the process environment, `--set key=value`. Every problem of every layer is
//! reported at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::builder::Builder;
use super::check::closest;
use super::error::{ConfigError, ConfigErrors, ErrorKind, Source};
use super::keys;
use super::scenario::Scenario;
use super::value::Raw;
use super::{dotenv, file};

/// Everything a resolution reads, passed in explicitly so tests need no global state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigInputs {
    /// The scenario TOML file (`--scenario`), if any.
    pub scenario_file: Option<PathBuf>,
    /// The `.env` file, if any; it must exist when named.
    pub dotenv_file: Option<PathBuf>,
    /// The process environment; only the recognised variable names are read.
    pub env: Vec<(String, String)>,
    /// The `--set key=value` flags, in order (a later one wins).
    pub sets: Vec<String>,
    /// The runtime the scenario will run on, when known (`run`, `render`): metrics that
    /// runtime cannot read are refused before anything starts.
    pub platform: Option<super::Platform>,
}

impl ConfigInputs {
    /// The inputs of this process: `.env` from the working directory when it exists, and
    /// the environment (variables whose name or value is not UTF-8 are skipped unless the
    /// name is a recognised one, whose value is then read lossily and judged as usual).
    pub fn from_process(scenario_file: Option<PathBuf>, sets: Vec<String>) -> Self {
        let dotenv = PathBuf::from(".env");
        let env = std::env::vars_os()
            .filter_map(|(k, v)| {
                let k = k.into_string().ok()?;
                keys::by_env(&k)?;
                Some((k, v.to_string_lossy().into_owned()))
            })
            .collect();
        Self {
            scenario_file,
            dotenv_file: dotenv.is_file().then_some(dotenv),
            env,
            sets,
            platform: None,
        }
    }
}

/// A resolved scenario and, for every key, where its value came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub scenario: Scenario,
    /// Key (`load_base_rps`) → the layer that set it; every key is present.
    pub sources: BTreeMap<String, Source>,
}

impl Resolved {
    /// The value of `key` as `config` prints it (`20s`, `none`, `NodePort`), if it is a key.
    pub fn value(&self, key: &str) -> Option<String> {
        keys::by_name(key).map(|k| k.field.get(&self.scenario).to_string())
    }

    /// Where the value of `key` came from, if it is a key.
    pub fn source(&self, key: &str) -> Option<&Source> {
        keys::by_name(key).and_then(|k| self.sources.get(k.name))
    }
}

/// Every configuration key, in the order `config` prints them.
pub fn key_names() -> Vec<&'static str> {
    keys::names()
}

/// Resolves the layers of `inputs` into a valid scenario, or lists every problem.
pub fn resolve(inputs: &ConfigInputs) -> Result<Resolved, ConfigErrors> {
    let mut b = Builder::new();
    b.platform = inputs.platform;
    if let Some(path) = &inputs.scenario_file
        && let Some(text) = read(&mut b, path, "check the --scenario path")
    {
        file::apply(&mut b, path, &text);
    }
    if let Some(path) = &inputs.dotenv_file
        && let Some(text) = read(&mut b, path, "fix the file's permissions or remove it")
    {
        apply_dotenv(&mut b, path, &text);
    }
    apply_env(&mut b, &inputs.env);
    apply_sets(&mut b, &inputs.sets);
    b.finish()
        .map(|(scenario, sources)| Resolved { scenario, sources })
        .map_err(ConfigErrors)
}

fn read(b: &mut Builder, path: &Path, fix: &str) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) => {
            b.errors.push(ConfigError {
                kind: ErrorKind::Io,
                key: String::new(),
                value: String::new(),
                origin: None,
                problem: format!("cannot read {}: {e}", path.display()),
                fix: fix.to_owned(),
            });
            None
        }
    }
}

fn apply_dotenv(b: &mut Builder, path: &Path, text: &str) {
    let (entries, bad) = dotenv::parse(text);
    for line in bad {
        b.errors.push(ConfigError {
            kind: ErrorKind::Syntax,
            key: String::new(),
            value: String::new(),
            origin: Some(Source::File {
                path: path.to_owned(),
                line: line.line,
            }),
            problem: format!("`{}`: {}", line.text, line.problem),
            fix: "write `NAME=value`, one per line; `#` starts a comment".to_owned(),
        });
    }
    let env_names = keys::env_names();
    for e in entries {
        let origin = Source::DotEnv {
            path: path.to_owned(),
            line: e.line,
            var: e.var.clone(),
        };
        match keys::by_env(&e.var) {
            Some(key) => b.assign(key, Raw::Text(&e.value), &e.value, origin),
            // `.env` is shared with other tools (docker compose reads it too), so only a
            // near miss of a known name is an error: most likely a typo of ours.
            None => {
                if closest(
                    &e.var,
                    &env_names.iter().map(String::as_str).collect::<Vec<_>>(),
                )
                .is_some()
                {
                    b.unknown(&e.var, &e.value, origin, &env_names);
                }
            }
        }
    }
}

fn apply_env(b: &mut Builder, env: &[(String, String)]) {
    let mut found: Vec<(&'static keys::Key, &str, &str)> = env
        .iter()
        .filter_map(|(var, value)| keys::by_env(var).map(|k| (k, var.as_str(), value.as_str())))
        .collect();
    // The environment has no order: apply aliases first so the key's own name wins.
    found.sort_by_key(|(key, var, _)| *var == key.env_name());
    for (key, var, value) in found {
        b.assign(
            key,
            Raw::Text(value),
            value,
            Source::Env {
                var: var.to_owned(),
            },
        );
    }
}

fn apply_sets(b: &mut Builder, sets: &[String]) {
    for set in sets {
        let Some((name, value)) = set.split_once('=').filter(|(n, _)| !n.trim().is_empty()) else {
            b.errors.push(ConfigError {
                kind: ErrorKind::MalformedSet,
                key: String::new(),
                value: set.clone(),
                origin: Some(Source::Flag),
                problem: "not of the form key=value".to_owned(),
                fix: "write it like `--set load_base_rps=20`".to_owned(),
            });
            continue;
        };
        let name = name.trim();
        match keys::by_name(name) {
            Some(key) => b.assign(key, Raw::Text(value), value, Source::Flag),
            None => b.unknown(name, value, Source::Flag, &keys::names()),
        }
    }
}
