//! The scenario file's array tables: `[[thresholds]]` (pass/fail criteria on the run's
//! figures, checked here against [`crate::figures`]), `[[alerts]]` (PromQL expressions
//! evaluated against the run's Prometheus at its end, kube-burner style) and `[[load]]`
//! (load plans run at once, read by `plans`). Each entry is
//! tied to its line; each mistake names the line, the field, the value and the fix.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use super::builder::Builder;
use super::check::closest;
use super::error::{ErrorKind, Problem, Source};
use super::figures;
use super::file::line_of;
use super::plans;

/// One `[[thresholds]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThresholdEntry {
    /// `recovery.p95<300ms`: see [`crate::figures`].
    pub expr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// How much an alert that fires matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported; the run still passes.
    Warning,
    /// Fails the run.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One `[[alerts]]` entry: fires when `expr` returns any sample over the run's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertEntry {
    /// PromQL, e.g. `rate(app_shed_requests_total[10s]) > 1`.
    pub expr: String,
    /// What it means when it fires; `{{$value}}` and `{{$labels.NAME}}` are filled in.
    pub description: String,
    pub severity: Severity,
}

/// The scenario keys that are arrays of tables.
pub(crate) const NAMES: [&str; 3] = ["thresholds", "alerts", plans::LOAD];

const THRESHOLD_FIELDS: [&str; 2] = ["expr", "description"];
const ALERT_FIELDS: [&str; 3] = ["expr", "description", "severity"];

fn shape_fix(name: &str) -> String {
    match name {
        "thresholds" => "write each as `[[thresholds]]` with `expr = \"recovery.p95<300ms\"` (and an optional `description`), or `thresholds = [\"recovery.p95<300ms\"]`".to_owned(),
        plans::LOAD => plans::SHAPE_FIX.to_owned(),
        _ => "write each as `[[alerts]]` with `expr = '...'` (PromQL), `description = \"...\"` and `severity = \"error\"` or `\"warning\"`".to_owned(),
    }
}

/// One field of an entry as the file wrote it.
pub(crate) struct Written<'t, 'i> {
    pub(crate) field: String,
    pub(crate) value: &'t Spanned<DeValue<'i>>,
    /// The value's text in the file, quotes kept.
    pub(crate) text: &'t str,
    pub(crate) origin: Source,
}

/// Reads the array `v` of key `name` (one of [`NAMES`]) into `b`'s scenario.
pub(crate) fn apply(
    b: &mut Builder,
    path: &Path,
    text: &str,
    name: &str,
    v: &Spanned<DeValue<'_>>,
) {
    let at = |offset: usize| Source::File {
        path: path.to_owned(),
        line: line_of(text, offset),
    };
    let written = |v: &Spanned<DeValue<'_>>| text.get(v.span()).unwrap_or_default().trim();
    let DeValue::Array(items) = v.get_ref() else {
        let kind = match v.get_ref() {
            DeValue::Table(_) => "a single table",
            _ => "not an array of tables",
        };
        b.errors
            .push(Problem::new(ErrorKind::BadEntry, kind, shape_fix(name)).at(
                name,
                written(v),
                Some(at(v.span().start)),
            ));
        return;
    };
    let allowed: Vec<&str> = match name {
        "thresholds" => THRESHOLD_FIELDS.to_vec(),
        plans::LOAD => plans::fields(),
        _ => ALERT_FIELDS.to_vec(),
    };
    for (i, item) in items.iter().enumerate() {
        let entry = format!("{name}[{i}]");
        let origin = at(item.span().start);
        // An entry with any mistake is reported in full and not kept.
        let before = b.errors.len();
        let fields: Vec<(String, &Spanned<DeValue<'_>>, usize)> = match item.get_ref() {
            DeValue::String(_) if name == "thresholds" => {
                vec![("expr".to_owned(), item, item.span().start)]
            }
            DeValue::Table(t) => t
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), v, k.span().start))
                .collect(),
            _ => {
                b.errors.push(
                    Problem::new(ErrorKind::BadEntry, "not a table", shape_fix(name)).at(
                        &entry,
                        written(item),
                        Some(origin),
                    ),
                );
                continue;
            }
        };
        let mut known = Vec::new();
        for (field, value, offset) in fields {
            if allowed.contains(&field.as_str()) {
                known.push(Written {
                    field,
                    value,
                    text: written(value),
                    origin: at(offset),
                });
                continue;
            }
            let fix = closest(&field, &allowed).map_or_else(
                || format!("the fields are {}", allowed.join(", ")),
                |c| format!("did you mean `{c}`?"),
            );
            b.errors
                .push(Problem::new(ErrorKind::BadEntry, "unknown field", fix).at(
                    &format!("{entry}.{field}"),
                    written(value),
                    Some(at(offset)),
                ));
        }
        if name == plans::LOAD {
            plans::read(b, i, origin, known, before);
        } else {
            text_entry(b, name, &entry, origin, known, before);
        }
    }
}

/// A `[[thresholds]]` or `[[alerts]]` entry, whose fields are all text; kept when `b` has no
/// more errors than `before`.
fn text_entry(
    b: &mut Builder,
    name: &str,
    entry: &str,
    origin: Source,
    known: Vec<Written<'_, '_>>,
    before: usize,
) {
    let mut read = Fields::default();
    for w in known {
        let Some(s) = w.value.get_ref().as_str() else {
            b.errors.push(
                Problem::new(
                    ErrorKind::WrongType,
                    "expected text (a TOML string)",
                    format!("put it in quotes: `{} = \"...\"`", w.field),
                )
                .at(&format!("{entry}.{}", w.field), w.text, Some(w.origin)),
            );
            continue;
        };
        read.set(&w.field, s.to_owned(), w.text.to_owned(), w.origin);
    }
    if b.errors.len() > before {
        return;
    }
    let entry_ok = if name == "thresholds" {
        threshold(b, entry, read, origin.clone())
    } else {
        alert(b, entry, read, origin.clone())
    };
    if entry_ok {
        b.sources.insert(entry.to_owned(), origin);
    }
}

/// The text fields of one entry, each with how and where it was written.
#[derive(Default)]
struct Fields {
    expr: Option<(String, String, Source)>,
    description: Option<(String, String, Source)>,
    severity: Option<(String, String, Source)>,
}

impl Fields {
    fn set(&mut self, field: &str, value: String, written: String, origin: Source) {
        let slot = match field {
            "expr" => &mut self.expr,
            "description" => &mut self.description,
            _ => &mut self.severity,
        };
        *slot = Some((value, written, origin));
    }
}

fn missing(b: &mut Builder, entry: &str, field: &str, origin: Source, fix: String) -> bool {
    b.errors.push(
        Problem::new(ErrorKind::BadEntry, format!("no `{field}`"), fix).at(entry, "", Some(origin)),
    );
    false
}

fn threshold(b: &mut Builder, entry: &str, f: Fields, origin: Source) -> bool {
    let Some((expr, written, at)) = f.expr else {
        return missing(b, entry, "expr", origin, shape_fix("thresholds"));
    };
    if let Err(e) = figures::parse_threshold(&expr) {
        b.errors.push(
            Problem::new(
                ErrorKind::BadEntry,
                format!("{} (at column {} of the expression)", e.problem, e.column),
                figures::THRESHOLD_HELP,
            )
            .at(&format!("{entry}.expr"), &written, Some(at)),
        );
        return false;
    }
    b.scenario.thresholds.push(ThresholdEntry {
        expr,
        description: f.description.map(|d| d.0),
    });
    true
}

fn alert(b: &mut Builder, entry: &str, f: Fields, origin: Source) -> bool {
    let fix = shape_fix("alerts");
    let Some((expr, written, at)) = f.expr else {
        return missing(b, entry, "expr", origin, fix);
    };
    if expr.trim().is_empty() {
        b.errors.push(
            Problem::new(ErrorKind::BadEntry, "an empty expression", fix).at(
                &format!("{entry}.expr"),
                &written,
                Some(at),
            ),
        );
        return false;
    }
    let Some((description, _, _)) = f.description else {
        return missing(b, entry, "description", origin, fix);
    };
    let Some((severity, written, at)) = f.severity else {
        return missing(b, entry, "severity", origin, fix);
    };
    let severity = match severity.as_str() {
        "warning" => Severity::Warning,
        "error" => Severity::Error,
        _ => {
            b.errors.push(
                Problem::new(
                    ErrorKind::BadEntry,
                    "not a severity",
                    "write `severity = \"error\"` (fails the run when it fires) or `\"warning\"` (reported only)",
                )
                .at(&format!("{entry}.severity"), &written, Some(at)),
            );
            return false;
        }
    };
    b.scenario.alerts.push(AlertEntry {
        expr,
        description,
        severity,
    });
    true
}

/// The entries as scenario-file text, for `config --format toml`.
pub(crate) fn to_toml(thresholds: &[ThresholdEntry], alerts: &[AlertEntry]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let mut out = String::new();
    for t in thresholds {
        out.push_str(&format!("\n[[thresholds]]\nexpr = {}\n", quote(&t.expr)));
        if let Some(d) = &t.description {
            out.push_str(&format!("description = {}\n", quote(d)));
        }
    }
    for a in alerts {
        out.push_str(&format!(
            "\n[[alerts]]\nexpr = {}\ndescription = {}\nseverity = {}\n",
            quote(&a.expr),
            quote(&a.description),
            quote(a.severity.as_str())
        ));
    }
    out
}
