//! The scenario file's `[[load]]` entries: load plans run at once, each with its own load
//! generators. An entry's fields are the flat keys of one plan ([`PLAN_KEYS`]) without their
//! `load_` prefix, plus its `name`. Each entry is read on a builder of its own, so every field
//! passes the flat key's own rule and the entry as a whole the same shape rules (`shape.rs`);
//! the errors are then renamed after the entry (`load[1].stages`).

use super::builder::Builder;
use super::check::Check;
use super::entries::Written;
use super::error::{ConfigError, ErrorKind, Problem, Source};
use super::keys::{self, Key};
use super::scenario::{LoadPlan, Scenario};
use super::value::Typed;

/// The array-table key of the plans.
pub(crate) const LOAD: &str = "load";

/// The flat keys that make up one plan: what a `[[load]]` entry sets instead.
pub(crate) const PLAN_KEYS: [&str; 14] = [
    "actions",
    "load_base_rps",
    "load_ramp_factor",
    "load_ramp_interval",
    "load_run_duration",
    "load_max_rps",
    "load_stages",
    "load_profile",
    "load_arrival",
    "load_seed",
    "load_mode",
    "load_vus",
    "load_vu_stages",
    "load_think_time",
];

pub(crate) const SHAPE_FIX: &str = "write each plan as `[[load]]` with `name = \"checkout\"` and the load keys without their `load_` prefix (`stages = \"30s:20\"`, `actions = \"book_ticket\"`, ...)";

/// A plan key's field in a `[[load]]` entry: `load_stages` → `stages`.
fn field_of(key: &'static str) -> &'static str {
    key.strip_prefix("load_").unwrap_or(key)
}

/// The fields of a `[[load]]` entry.
pub(crate) fn fields() -> Vec<&'static str> {
    std::iter::once("name")
        .chain(PLAN_KEYS.into_iter().map(field_of))
        .collect()
}

fn key_of(field: &str) -> Option<&'static Key> {
    PLAN_KEYS
        .into_iter()
        .find(|k| field_of(k) == field)
        .and_then(keys::by_name)
}

/// Reads entry `index` of `[[load]]` (its plan fields: `fields`) into `b`; the plan is kept
/// when `b` has no more errors than `before`.
pub(crate) fn read(
    b: &mut Builder,
    index: usize,
    origin: Source,
    fields: Vec<Written<'_, '_>>,
    before: usize,
) {
    let entry = format!("{LOAD}[{index}]");
    // Where the entries are, even a wrong one: the flat keys' conflict names it.
    b.sources.insert(entry.clone(), origin.clone());
    let mut plan = Builder::new();
    let mut name = None;
    for w in fields {
        match key_of(&w.field) {
            Some(key) => plan.assign_toml(key, w.value, w.text, w.origin),
            None => name = plan_name(b, &entry, &w),
        }
    }
    let mut found = std::mem::take(&mut plan.errors);
    found.extend(plan.shape_conflicts());
    b.errors
        .extend(found.into_iter().map(|e| in_entry(e, &entry)));
    let Some((name, written, at)) = name else {
        if !b.errors[before..]
            .iter()
            .any(|e| e.key == format!("{entry}.name"))
        {
            b.errors.push(
                Problem::new(ErrorKind::BadEntry, "no `name`", SHAPE_FIX).at(
                    &entry,
                    "",
                    Some(origin),
                ),
            );
        }
        return;
    };
    if let Some((same, _)) = b.plan_names.iter().find(|(_, n)| *n == name) {
        b.errors.push(
            Problem::new(
                ErrorKind::Conflict,
                format!("{LOAD}[{same}] has the same name: the name tells the plans' load generators and report rows apart"),
                "give every [[load]] entry a name of its own",
            )
            .at(&format!("{entry}.name"), &written, Some(at)),
        );
    }
    b.plan_names.push((index, name.clone()));
    if b.errors.len() > before {
        return;
    }
    if plan.source("actions") != Source::Default {
        b.plan_actions.insert(name.clone(), plan.source("actions"));
    }
    b.scenario.plans.push(LoadPlan {
        name,
        actions: plan.scenario.actions,
        load: plan.scenario.load,
    });
}

/// The entry's `name` (with how and where it was written), checked as the Kubernetes name
/// it becomes part of.
fn plan_name(
    b: &mut Builder,
    entry: &str,
    w: &Written<'_, '_>,
) -> Option<(String, String, Source)> {
    let key = format!("{entry}.name");
    let problem = match w.value.get_ref().as_str() {
        Some(n) => match Check::Label.run(&Typed::Text(n.to_owned())) {
            Ok(()) => return Some((n.to_owned(), w.text.to_owned(), w.origin.clone())),
            Err(p) => p,
        },
        None => Problem::new(
            ErrorKind::WrongType,
            "expected text (a TOML string)",
            "put it in quotes: `name = \"checkout\"`",
        ),
    };
    b.errors
        .push(problem.at(&key, w.text, Some(w.origin.clone())));
    None
}

/// A plan builder's error, told in the entry's terms: `load_stages` is `load[1].stages`.
fn in_entry(mut e: ConfigError, entry: &str) -> ConfigError {
    let field = PLAN_KEYS
        .into_iter()
        .find(|k| *k == e.key)
        .map_or(e.key.as_str(), |k| field_of(k));
    e.key = format!("{entry}.{field}");
    // The shape rules name the flat keys; inside an entry the fields have no prefix.
    e.problem = e.problem.replace("load_", "");
    e.fix = e.fix.replace("load_", "");
    e
}

/// `plan` as a scenario of one plan (the defaults elsewhere), so the plan keys' fields read it.
fn as_scenario(plan: &LoadPlan) -> Scenario {
    Scenario {
        actions: plan.actions.clone(),
        load: plan.load.clone(),
        ..Scenario::default()
    }
}

impl Builder {
    /// With `[[load]]` entries, the flat plan keys would be ignored: each one set is refused.
    /// And a plan's load generators are named `<loadgen_name>-<plan>`, which must fit in 63.
    pub(crate) fn plan_conflicts(&self) -> Vec<ConfigError> {
        let s = &self.scenario;
        let Some((_, entries)) = self
            .sources
            .iter()
            .find(|(k, _)| k.starts_with(&format!("{LOAD}[")))
        else {
            return Vec::new();
        };
        let mut found = Vec::new();
        for key in PLAN_KEYS {
            let source = self.source(key);
            if source == Source::Default || self.failed.contains(key) {
                continue;
            }
            let value = keys::by_name(key).map(|k| k.field.get(s).to_string());
            found.push(
                Problem::new(
                    ErrorKind::Conflict,
                    format!("the [[load]] entries (from {entries}) each give their own load, so {key} would be ignored"),
                    format!(
                        "set `{}` in each [[load]] entry instead, or remove the [[load]] entries to run the flat keys as one plan",
                        field_of(key)
                    ),
                )
                .at(key, &value.unwrap_or_default(), Some(source)),
            );
        }
        if !self.failed.contains("loadgen_name") {
            for (i, p) in s.plans.iter().enumerate() {
                let workload = format!("{}-{}", s.loadgen.name, p.name);
                if workload.len() > 63 {
                    found.push(
                        Problem::new(
                            ErrorKind::InvalidName,
                            format!(
                                "the plan's load generator is named `{workload}` (loadgen_name from {}), {} characters, above Kubernetes' 63",
                                self.source("loadgen_name"),
                                workload.len()
                            ),
                            format!("shorten the name or loadgen_name by {} characters", workload.len() - 63),
                        )
                        .at(&format!("{LOAD}[{i}].name"), &p.name, Some(self.source(&format!("{LOAD}[{i}]")))),
                    );
                }
            }
        }
        found
    }
}

/// The plans as scenario-file text, for `config --format toml`: each field that differs from
/// its default (a default would read back as set, and may contradict the plan's shape).
pub(crate) fn to_toml(plans: &[LoadPlan]) -> String {
    let defaults = Scenario::default();
    let mut out = String::new();
    for plan in plans {
        let s = as_scenario(plan);
        out.push_str(&format!(
            "\n[[{LOAD}]]\nname = {}\n",
            toml::Value::String(plan.name.clone())
        ));
        for key in PLAN_KEYS.iter().filter_map(|k| keys::by_name(k)) {
            let value = key.field.get(&s);
            if value != key.field.get(&defaults) {
                out.push_str(&format!("{} = {}\n", field_of(key.name), value.to_toml()));
            }
        }
    }
    out
}

/// One line of a plan for `config`: its shape and actions.
pub(crate) fn describe(plan: &LoadPlan) -> String {
    format!(
        "{}: {}; actions {}",
        plan.name,
        plan.load.describe(),
        plan.actions
    )
}

/// Whether `key` is one of [`PLAN_KEYS`].
pub(crate) fn is_plan_key(key: &str) -> bool {
    PLAN_KEYS.contains(&key)
}
