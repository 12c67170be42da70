//! Writing configuration out: the `config` table with sources, JSON and TOML, the TOML
//! round trip of a scenario, and the text of `.env.example`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::builder::Builder;
use super::error::ConfigErrors;
use super::keys::KEYS;
use super::resolve::Resolved;
use super::scenario::Scenario;
use super::{entries, file, keys, plans};

/// How `config` prints a resolved configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OutputFormat {
    /// Key, value and source columns, for people.
    #[default]
    Table,
    /// `{"values": {...}, "sources": {...}}`.
    Json,
    /// A scenario file of the effective values.
    Toml,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 3] =
        [OutputFormat::Table, OutputFormat::Json, OutputFormat::Toml];

    pub const fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Json => "json",
            OutputFormat::Toml => "toml",
        }
    }
}

/// An output format that is not one of `table`, `json`, `toml`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{0}`: expected table, json or toml")]
pub struct UnknownFormat(pub String);

impl FromStr for OutputFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OutputFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Resolved {
    /// The configuration in `format`, ending with a newline.
    pub fn render(&self, format: OutputFormat) -> String {
        match format {
            OutputFormat::Table => self.table(),
            OutputFormat::Json => self.json(),
            OutputFormat::Toml => scenario_to_toml(&self.scenario),
        }
    }

    fn rows(&self) -> Vec<[String; 3]> {
        let source = |name: &str| {
            self.sources
                .get(name)
                .map(ToString::to_string)
                .unwrap_or_else(|| "default".to_owned())
        };
        let planned = !self.scenario.plans.is_empty();
        let keys = KEYS.iter().map(|k| {
            let mut source = source(k.name);
            if planned && plans::is_plan_key(k.name) {
                source.push_str(" (unused: the [[load]] plans give the load)");
            }
            [
                k.name.to_owned(),
                k.field.get(&self.scenario).to_string(),
                source,
            ]
        });
        let load = self.scenario.plans.iter().enumerate().map(|(i, p)| {
            let name = format!("{}[{i}]", plans::LOAD);
            let source = source(&name);
            [name, plans::describe(p), source]
        });
        let thresholds = self.scenario.thresholds.iter().enumerate().map(|(i, t)| {
            let name = format!("thresholds[{i}]");
            let source = source(&name);
            [name, t.expr.clone(), source]
        });
        let alerts = self.scenario.alerts.iter().enumerate().map(|(i, a)| {
            let name = format!("alerts[{i}]");
            let source = source(&name);
            [
                name,
                format!("{} ({})", a.expr, a.severity.as_str()),
                source,
            ]
        });
        keys.chain(load).chain(thresholds).chain(alerts).collect()
    }

    fn table(&self) -> String {
        let header = ["KEY".to_owned(), "VALUE".to_owned(), "SOURCE".to_owned()];
        let rows = self.rows();
        let width = |col: usize| {
            rows.iter()
                .chain([&header])
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
        };
        let (w0, w1) = (width(0), width(1));
        let mut out = String::new();
        for [key, value, source] in [&header].into_iter().chain(&rows) {
            out.push_str(&format!("{key:<w0$}  {value:<w1$}  {source}\n"));
        }
        out
    }

    fn json(&self) -> String {
        // Serialising maps of strings, numbers and booleans cannot fail.
        let mut text = serde_json::to_string_pretty(&self.effective()).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Every key's effective value and the layer that set it, as reports store it.
    pub fn effective(&self) -> Effective {
        let mut effective = Effective::default();
        for k in KEYS.iter() {
            effective
                .values
                .insert(k.name.to_owned(), k.field.get(&self.scenario).to_json());
            let source = self
                .sources
                .get(k.name)
                .map_or_else(|| "default".to_owned(), ToString::to_string);
            effective.sources.insert(k.name.to_owned(), source);
        }
        for (i, p) in self.scenario.plans.iter().enumerate() {
            let name = format!("{}[{i}]", plans::LOAD);
            let source = self
                .sources
                .get(&name)
                .map_or_else(|| "default".to_owned(), ToString::to_string);
            effective
                .values
                .insert(name.clone(), serde_json::to_value(p).unwrap_or_default());
            effective.sources.insert(name, source);
        }
        effective
    }
}

/// The effective configuration of a run: `config --format json`, and the report's `config`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Effective {
    /// Key → value as JSON (`load_max_rps` is `null` for no cap).
    pub values: BTreeMap<String, serde_json::Value>,
    /// Key → where the value came from (`default`, `scenarios/ci.toml:12`, `--set`, ...).
    pub sources: BTreeMap<String, String>,
}

/// A scenario file with every key, in the flat spelling `scenario_from_toml` reads back. When
/// stages or a profile give the shape, the ramp's keys are written as comments: set, they
/// would contradict it; so are the plan keys when `[[load]]` entries give the load.
pub fn scenario_to_toml(s: &Scenario) -> String {
    let shaped = s.load.stages.is_some() || s.load.profile.is_some();
    let planned = !s.plans.is_empty();
    let mut text: String = KEYS
        .iter()
        .map(|k| {
            let line = format!("{} = {}\n", k.name, k.field.get(s).to_toml());
            if (shaped && keys::RAMP_KEYS.contains(&k.name))
                || (planned && plans::is_plan_key(k.name))
            {
                format!("# {line}")
            } else {
                line
            }
        })
        .collect();
    // Array tables last: a flat key after a `[[...]]` header would belong to its table.
    text.push_str(&plans::to_toml(&s.plans));
    text.push_str(&entries::to_toml(&s.thresholds, &s.alerts));
    text
}

/// Reads a scenario file's text over the built-in defaults, with every check `resolve` runs.
pub fn scenario_from_toml(text: &str) -> Result<Scenario, ConfigErrors> {
    let mut b = Builder::new();
    file::apply(&mut b, Path::new("<toml>"), text);
    b.finish().map(|(s, _)| s).map_err(ConfigErrors)
}

/// The text of the repository's `.env.example`: every variable, its default and meaning.
/// A test keeps the committed file equal to this.
pub fn dotenv_example() -> String {
    let defaults = Scenario::default();
    let mut out = String::from(
        "\
# Configuration of a demo run. Copy this file to `.env` and uncomment what you change.
#
# The orchestrator reads `.env` from its working directory. Layers, lowest first: built-in
# defaults, the scenario file (--scenario FILE), `.env`, the process environment, and
# --set key=value. Each variable is a scenario key upper-cased: LOAD_BASE_RPS is the key
# load_base_rps, which a scenario file and --set spell in lower case.
# `cargo run -p orchestrator -- config` prints every value and where it came from.
#
# Durations: 500ms, 5s, 1m30s, or a bare number of seconds. Booleans: true or false.
# Other names in this file are ignored (docker compose reads it too), except near misses
# of the names below, which are reported as likely typos.
",
    );
    for k in keys::KEYS.iter() {
        out.push('\n');
        out.push_str(&format!("# {} ({})\n", k.help, k.field.type_name()));
        for alias in k.aliases {
            out.push_str(&format!(
                "# Also read as {alias}, the original demo's name.\n"
            ));
        }
        out.push_str(&format!("# {}={}\n", k.env_name(), k.field.get(&defaults)));
    }
    out
}
