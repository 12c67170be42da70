//! The scenario under construction: layers assign keys onto it one by one, remembering each
//! key's source and collecting every problem instead of stopping at the first; then the
//! checks that involve more than one key run on the result.

use std::collections::{BTreeMap, BTreeSet};

use super::check::closest;
use super::error::{ConfigError, ErrorKind, Problem, Source};
use super::keys::{self, Key};
use super::scenario::Scenario;
use super::value::Raw;
use toml::Spanned;
use toml::de::DeValue;

pub(crate) struct Builder {
    pub(crate) scenario: Scenario,
    pub(crate) sources: BTreeMap<String, Source>,
    pub(crate) errors: Vec<ConfigError>,
    /// Keys with a rejected value: cross-checks skip them rather than judge a stale value.
    pub(crate) failed: BTreeSet<&'static str>,
    /// The name of every `[[load]]` entry read (index, name), kept or not: names must differ.
    pub(crate) plan_names: Vec<(usize, String)>,
    /// Where each `[[load]]` entry that wrote its own `actions` wrote them, by plan name.
    pub(crate) plan_actions: BTreeMap<String, Source>,
    /// The runtime the scenario is resolved for, when known: some keys depend on it.
    pub(crate) platform: Option<super::Platform>,
}

impl Builder {
    /// The built-in defaults, every key sourced [`Source::Default`].
    pub(crate) fn new() -> Self {
        Self {
            scenario: Scenario::default(),
            sources: keys::KEYS
                .iter()
                .map(|k| (k.name.to_owned(), Source::Default))
                .collect(),
            errors: Vec::new(),
            failed: BTreeSet::new(),
            plan_names: Vec::new(),
            plan_actions: BTreeMap::new(),
            platform: None,
        }
    }

    /// Sets `key` from `raw` (written as `written` at `origin`), or records why it cannot.
    pub(crate) fn assign(
        &mut self,
        key: &'static Key,
        raw: Raw<'_>,
        written: &str,
        origin: Source,
    ) {
        match key.field.apply(&mut self.scenario, raw, key.check) {
            Ok(()) => {
                self.sources.insert(key.name.to_owned(), origin);
            }
            Err(problem) => {
                self.failed.insert(key.name);
                self.errors
                    .push(problem.at(key.name, written, Some(origin)));
            }
        }
    }

    /// Sets `key` from the scenario file's value `v`.
    pub(crate) fn assign_toml(
        &mut self,
        key: &'static Key,
        v: &Spanned<DeValue<'_>>,
        written: &str,
        origin: Source,
    ) {
        match v.get_ref() {
            // A list of actions reads naturally as a TOML array of strings.
            DeValue::Array(items) if key.name == "actions" => {
                let parts: Option<Vec<&str>> = items.iter().map(|i| i.get_ref().as_str()).collect();
                match parts {
                    Some(parts) => self.assign(key, Raw::Text(&parts.join(",")), written, origin),
                    None => self.assign(key, Raw::Toml(v.get_ref()), written, origin),
                }
            }
            value => self.assign(key, Raw::Toml(value), written, origin),
        }
    }

    /// Records a key no scenario has, suggesting the closest of `candidates`.
    pub(crate) fn unknown<S: AsRef<str>>(
        &mut self,
        name: &str,
        written: &str,
        origin: Source,
        candidates: &[S],
    ) {
        let candidates: Vec<&str> = candidates.iter().map(AsRef::as_ref).collect();
        let fix = match closest(name, &candidates) {
            Some(c) if name.contains('.') => format!("keys are flat: write `{c}`"),
            Some(c) => format!("did you mean `{c}`?"),
            None => "remove it; `orchestrator config` lists every key".to_owned(),
        };
        self.errors
            .push(Problem::new(ErrorKind::UnknownKey, "unknown key", fix).at(
                name,
                written,
                Some(origin),
            ));
    }

    pub(crate) fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    fn ok(&self, names: &[&str]) -> bool {
        names.iter().all(|n| !self.failed.contains(n))
    }

    /// The checks that involve more than one key, then the verdict.
    pub(crate) fn finish(
        mut self,
    ) -> Result<(Scenario, BTreeMap<String, Source>), Vec<ConfigError>> {
        let s = &self.scenario;
        let mut found = Vec::new();

        if self.ok(&["backend_replicas", "backend_scale_replicas"])
            && s.backend_scale_replicas < s.backend.replicas
        {
            found.push(
                Problem::new(
                    ErrorKind::Conflict,
                    format!(
                        "below backend_replicas = {} (from {}): the scale-up would scale down",
                        s.backend.replicas,
                        self.source("backend_replicas")
                    ),
                    format!(
                        "set backend_scale_replicas to {} or more, or lower backend_replicas",
                        s.backend.replicas
                    ),
                )
                .at(
                    "backend_scale_replicas",
                    &s.backend_scale_replicas.to_string(),
                    Some(self.source("backend_scale_replicas")),
                ),
            );
        }

        found.extend(self.shape_conflicts());
        found.extend(self.plan_conflicts());
        found.extend(self.autoscale_conflicts());
        found.extend(self.pipeline_conflicts());
        found.extend(self.iterations_conflicts());
        found.extend(self.capability_conflicts());
        let s = &self.scenario;

        // The last of several copies has the longest name (`-<iterations>` at its end).
        let namespace = match s.iterations.count {
            n if n > 1 => format!("{}-{n}", s.namespace()),
            _ => s.namespace(),
        };
        if self.ok(&["namespace_prefix", "uuid"]) && namespace.len() > 63 {
            // Blame whichever of the two was set most specifically; both are named.
            let (key, value) = if self.source("uuid") != Source::Default {
                ("uuid", &s.uuid)
            } else {
                ("namespace_prefix", &s.namespace_prefix)
            };
            found.push(
                Problem::new(
                    ErrorKind::NamespaceTooLong,
                    format!(
                        "the namespace `{namespace}` (namespace_prefix from {}, uuid from {}) is {} characters, above Kubernetes' 63",
                        self.source("namespace_prefix"),
                        self.source("uuid"),
                        namespace.len()
                    ),
                    format!(
                        "shorten namespace_prefix or uuid by {} characters",
                        namespace.len() - 63
                    ),
                )
                .at(key, value, Some(self.source(key))),
            );
        }

        found.extend(self.node_port_conflicts());
        found.extend(self.grafana_conflicts());

        self.errors.extend(found);
        if self.errors.is_empty() {
            Ok((self.scenario, self.sources))
        } else {
            Err(self.errors)
        }
    }
}
