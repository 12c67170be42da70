//! The scenario-file layer: a TOML document of flat keys (and the `[[thresholds]]`,
//! `[[alerts]]` and `[[load]]` array tables, read by `entries`), read with spans so that every value (and
//! every mistake) is tied to its line.

use std::path::Path;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::builder::Builder;
use super::error::{ConfigError, ErrorKind, Source};
use super::{entries, keys, plans};

/// Applies the keys of a scenario file `text` (read from `path`) on top of `b`.
pub(crate) fn apply(b: &mut Builder, path: &Path, text: &str) {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        // What the parser recovered after a syntax error is a guess; judging its values
        // would bury the real mistake under follow-on errors.
        for e in errors {
            let line = e.span().map_or(1, |span| line_of(text, span.start));
            b.errors.push(ConfigError {
                kind: ErrorKind::Syntax,
                key: String::new(),
                value: String::new(),
                origin: Some(Source::File {
                    path: path.to_owned(),
                    line,
                }),
                problem: format!("not valid TOML: {}", e.message().trim_end()),
                fix: "write one `key = value` per line, text and durations in quotes (e.g. `baseline_pause = \"20s\"`)".to_owned(),
            });
        }
        return;
    }
    let mut entries = Vec::new();
    collect(doc.get_ref(), "", &mut entries);
    // Tables iterate in key order; a person reads the file, and its errors, top to bottom.
    entries.sort_by_key(|(offset, _, _)| *offset);
    for (offset, name, v) in entries {
        let origin = Source::File {
            path: path.to_owned(),
            line: line_of(text, offset),
        };
        let written = text.get(v.span()).unwrap_or_default().trim();
        if entries::NAMES.contains(&name.as_str()) {
            entries::apply(b, path, text, &name, v);
            continue;
        }
        match keys::by_name(&name) {
            None => b.unknown(&name, written, origin, &keys::names()),
            Some(key) => b.assign_toml(key, v, written, origin),
        }
    }
}

/// Flattens `table` into (offset of the key, dotted name, value); a table that is not a key
/// of its own is descended into, so `[load] base_rps` is reported as `load.base_rps`.
fn collect<'t, 'i>(
    table: &'t DeTable<'i>,
    prefix: &str,
    out: &mut Vec<(usize, String, &'t Spanned<DeValue<'i>>)>,
) {
    for (k, v) in table.iter() {
        let name = format!("{prefix}{}", k.get_ref());
        match v.get_ref() {
            // `[load]` (one table) is most likely flat keys written as a table: descended
            // into, its keys are told to be flat; `[[load]]` is an array, read by `plans`.
            DeValue::Table(inner)
                if keys::by_name(&name).is_none()
                    && (!entries::NAMES.contains(&name.as_str()) || name == plans::LOAD) =>
            {
                collect(inner, &format!("{name}."), out);
            }
            _ => out.push((k.span().start, name, v)),
        }
    }
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    before.matches('\n').count() + 1
}
