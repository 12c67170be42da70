//! Reads the sample lines of a Prometheus text exposition page (format 0.0.4), the one every
//! component's `/metrics` serves.
//!
//! Written here rather than taken from a crate because the parser the project first used
//! (prometheus-parse 0.2) silently drops every sample whose label value holds a `}` — and
//! the backend's route labels are templates such as `/api/tickets/{id}`. Only what the
//! readers need is kept: metric name, labels and value; `# HELP`/`# TYPE` lines and
//! timestamps are skipped, and histograms are read through their `_bucket` samples.

use std::fmt;

/// The content type of a Prometheus text page (exposition format 0.0.4), as every
/// component's `/metrics` answers it.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One sample line: `name{label="value",...} value [timestamp]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The value of label `key`, if the sample has it.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// For a histogram's `_bucket` sample: the index of its `le` bound in `bounds`, or
    /// `bounds.len()` for `+Inf`; `None` for a bound `bounds` does not have.
    pub fn bucket_slot(&self, bounds: &[f64]) -> Option<usize> {
        match self.label("le")? {
            "+Inf" => Some(bounds.len()),
            le => {
                let le = le.parse::<f64>().ok()?;
                bounds.iter().position(|&b| (b - le).abs() < 1e-9)
            }
        }
    }
}

/// A line that is not a valid sample, with its 1-based number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Parses every sample of `text`; the first malformed line is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start();
            !line.is_empty() && !line.starts_with('#')
        })
        .map(|(i, line)| {
            parse_line(line.trim()).map_err(|message| ParseError {
                line: i + 1,
                message,
            })
        })
        .collect()
}

fn parse_line(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("no metric name at the start of `{line}`"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.strip_prefix('{') {
        rest = parse_labels(after_brace, &mut labels)?;
    }
    let mut fields = rest.split_whitespace();
    let value = fields
        .next()
        .ok_or_else(|| format!("`{name}` has no value"))
        .and_then(|v| parse_value(v).ok_or_else(|| format!("`{name}` has a bad value `{v}`")))?;
    if let Some(ts) = fields.next()
        && ts.parse::<i64>().is_err()
    {
        return Err(format!("`{name}` has a bad timestamp `{ts}`"));
    }
    if fields.next().is_some() {
        return Err(format!("`{name}` has trailing text"));
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Reads `key="value",...}` and returns what follows the closing brace.
fn parse_labels<'a>(
    mut rest: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, String> {
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let (key, after_key) = rest
            .split_once('=')
            .ok_or_else(|| format!("a label without `=` in `{rest}`"))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("a bad label name `{key}`"));
        }
        let quoted = after_key
            .trim_start()
            .strip_prefix('"')
            .ok_or_else(|| format!("label `{key}` has an unquoted value"))?;
        let (value, after_value) =
            unquote(quoted).ok_or_else(|| format!("label `{key}` is not closed"))?;
        labels.push((key.to_owned(), value));
        rest = after_value.trim_start();
        rest = match rest.strip_prefix(',') {
            Some(r) => r,
            None if rest.starts_with('}') => rest,
            None => return Err(format!("expected `,` or `}}` after label `{key}`")),
        };
    }
}

/// Reads a label value up to its closing quote, undoing `\\`, `\"` and `\n`.
fn unquote(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

fn parse_value(v: &str) -> Option<f64> {
    match v {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => v.parse().ok(),
    }
}

impl fmt::Display for Sample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.labels.is_empty() {
            f.write_str("{")?;
            for (i, (k, v)) in self.labels.iter().enumerate() {
                let sep = if i == 0 { "" } else { "," };
                let v = v
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                write!(f, "{sep}{k}=\"{v}\"")?;
            }
            f.write_str("}")?;
        }
        write!(f, " {}", self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_inside_label_values_are_kept() {
        let page = "# HELP http_requests_total x\n# TYPE http_requests_total counter\n\
            http_requests_total{method=\"DELETE\",route=\"/api/tickets/{id}\",status=\"204\"} 7\n";
        let samples = parse(page).unwrap();
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].label("route"), Some("/api/tickets/{id}"));
        assert_eq!(samples[0].value, 7.0);
    }

    #[test]
    fn escapes_infinities_timestamps_and_bare_names() {
        let page = "a_bucket{le=\"+Inf\",x=\"q\\\"u\\\\o\\nte\",} 3 1700000000000\nup 1\nb{le=\"0.5\"} +Inf\n";
        let s = parse(page).unwrap();
        assert_eq!(s[0].label("le"), Some("+Inf"));
        assert_eq!(s[0].label("x"), Some("q\"u\\o\nte"));
        assert_eq!((s[1].name.as_str(), s[1].value), ("up", 1.0));
        assert!(s[2].value.is_infinite());
    }

    #[test]
    fn display_reads_back_to_the_same_sample() {
        let page = "m{a=\"x}\\\"y\",b=\"\"} 2.5\n";
        let s = parse(page).unwrap();
        assert_eq!(parse(&s[0].to_string()).unwrap(), s);
    }

    #[test]
    fn malformed_lines_name_their_number() {
        for (page, line) in [
            ("ok 1\nm{a=\"x} 1\n", 2),
            ("m{a=x} 1", 1),
            ("m 1 2 3", 1),
            ("m abc", 1),
            ("\n\n{a=\"b\"} 1", 3),
        ] {
            let e = parse(page).unwrap_err();
            assert_eq!(e.line, line, "{page:?}: {e}");
        }
    }
}
