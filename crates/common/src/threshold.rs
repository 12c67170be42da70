//! The one threshold parser, k6 style, shared by the load generator (`p95<700ms`,
//! `error_rate<1%`) and the orchestrator, whose thresholds name a phase first
//! (`recovery.p95<300ms`, `run.drop_rate==0`).
//!
//! The grammar is `[phase.]figure OP limit` with OP one of `<`, `<=`, `>`, `>=`, `==`, `!=`;
//! whitespace is ignored. Which phases and figures exist, and the unit of each, is the
//! caller's [`Catalog`]: the unit decides how the limit is read (a duration needs a unit, a
//! rate is `1%` or `0.01`, a count is whole). Every error names the column it was found at.

use std::fmt;

use crate::duration::parse_duration;

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    /// Longest spellings first, so `<=` is never read as `<` followed by `=`.
    const ALL: [(&'static str, Op); 6] = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ];

    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => actual == limit,
            Op::Ne => actual != limit,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }

    /// How a failed comparison missed: `over` for an upper bound, `under` for a lower one,
    /// `None` for (in)equality, where a distance says little.
    pub fn miss_word(self) -> Option<&'static str> {
        match self {
            Op::Lt | Op::Le => Some("over"),
            Op::Gt | Op::Ge => Some("under"),
            Op::Eq | Op::Ne => None,
        }
    }
}

/// How a figure is measured, which decides how its limit is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration with a unit (`300ms`, `1m`); the limit is kept in milliseconds.
    Duration,
    /// A rate (`5%` or the fraction `0.05`); the limit is kept in percent.
    Percent,
    /// A whole number of things (requests, replicas).
    Count,
    /// Any finite number (requests per second).
    Number,
}

/// A parsed threshold; displays as it was written, whitespace removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub text: String,
    pub phase: Option<String>,
    pub figure: String,
    pub op: Op,
    /// In the unit's canonical form: milliseconds, percent, or the number as written.
    pub limit: f64,
    pub unit: Unit,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What a caller knows: its phases and figures and their units.
pub trait Catalog {
    /// The unit of `figure` (in `phase` when given), or what is wrong with the name,
    /// listing the known ones.
    fn unit(&self, phase: Option<&str>, figure: &str) -> Result<Unit, NameError>;
    /// Examples of valid thresholds, for the end of every error.
    fn help(&self) -> String;
}

/// A name a [`Catalog`] does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The phase part (before the dot) is wrong.
    Phase(String),
    /// The figure part is wrong.
    Figure(String),
}

/// Why a threshold did not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}`: {problem} (at column {column}); {help}")]
pub struct ParseError {
    pub input: String,
    /// 1-based column (in characters) of the input where the problem starts.
    pub column: usize,
    pub problem: String,
    pub help: String,
}

impl ParseError {
    /// The input with a caret under the column, for terminals.
    pub fn pointer(&self) -> String {
        format!(
            "{}\n{}^",
            self.input,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

/// The input without whitespace, remembering for each character its column as written.
struct Squeezed {
    text: String,
    columns: Vec<usize>,
    end: usize,
}

impl Squeezed {
    fn new(input: &str) -> Self {
        let mut text = String::new();
        let mut columns = Vec::new();
        let mut count = 0;
        for (i, c) in input.chars().enumerate() {
            count = i + 1;
            if !c.is_whitespace() {
                text.push(c);
                columns.push(i + 1);
            }
        }
        Self {
            text,
            columns,
            end: count + 1,
        }
    }

    /// The column of the character at byte `at` of the squeezed text.
    fn column(&self, at: usize) -> usize {
        let index = self.text.get(..at).map_or(0, |s| s.chars().count());
        self.columns.get(index).copied().unwrap_or(self.end)
    }
}

/// Splits `name` into a phase and a figure at the first dot followed by a letter, so that
/// `p99.9` stays one figure and `recovery.p99.9` is a phase and a figure.
pub fn split_phase(name: &str) -> (Option<&str>, &str, usize) {
    for (i, _) in name.match_indices('.') {
        if name[i + 1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            return (Some(&name[..i]), &name[i + 1..], i + 1);
        }
    }
    (None, name, 0)
}

/// `1%` → 1.0; a bare fraction `0.01` → 1.0 (percent). Negative or not finite: `None`.
pub fn parse_percent(v: &str) -> Option<f64> {
    let pct = match v.strip_suffix('%') {
        Some(p) => p.parse::<f64>().ok()?,
        None => v.parse::<f64>().ok()? * 100.0,
    };
    (pct.is_finite() && pct >= 0.0).then_some(pct)
}

/// Reads `value` as a limit in `unit`'s canonical form, or says what is wrong with it.
pub fn parse_limit(value: &str, unit: Unit) -> Result<f64, String> {
    if value.is_empty() {
        return Err("no limit after the comparison".to_owned());
    }
    match unit {
        Unit::Duration => {
            if value.parse::<f64>().is_ok() {
                return Err(format!(
                    "a duration limit needs a unit, as in `{value}ms` or `{value}s`"
                ));
            }
            parse_duration(value)
                .map(|d| d.as_secs_f64() * 1000.0)
                .map_err(|e| e.to_string())
        }
        Unit::Percent => parse_percent(value)
            .ok_or_else(|| format!("`{value}` is not a rate like `1%` or `0.01`")),
        Unit::Count => value
            .parse::<u64>()
            .map(|n| n as f64)
            .map_err(|_| format!("`{value}` is not a whole number")),
        Unit::Number => value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("`{value}` is not a number")),
    }
}

/// Parses `input` against `catalog`.
pub fn parse(input: &str, catalog: &dyn Catalog) -> Result<Threshold, ParseError> {
    let s = Squeezed::new(input);
    let text = s.text.as_str();
    let bad = |at: usize, problem: String| ParseError {
        input: input.to_owned(),
        column: s.column(at),
        problem,
        help: catalog.help(),
    };
    let (at, sym, op) = Op::ALL
        .iter()
        .filter_map(|&(sym, op)| text.find(sym).map(|at| (at, sym, op)))
        .min_by_key(|&(at, sym, _)| (at, std::cmp::Reverse(sym.len())))
        .ok_or_else(|| {
            bad(
                text.len(),
                "no comparison (<, <=, >, >=, ==, !=)".to_owned(),
            )
        })?;
    let (name, value) = (&text[..at], &text[at + sym.len()..]);
    if name.is_empty() {
        return Err(bad(0, format!("nothing to compare before `{sym}`")));
    }
    let (phase, figure, figure_at) = split_phase(name);
    let unit = catalog.unit(phase, figure).map_err(|e| match e {
        NameError::Phase(why) => bad(0, why),
        NameError::Figure(why) => bad(figure_at, why),
    })?;
    let limit = parse_limit(value, unit).map_err(|why| bad(at + sym.len(), why))?;
    Ok(Threshold {
        text: text.to_owned(),
        phase: phase.map(str::to_owned),
        figure: figure.to_owned(),
        op,
        limit,
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Phases `load` and `run`; figures `p95` (duration), `error_rate` (percent), `dropped`.
    struct Small;

    impl Catalog for Small {
        fn unit(&self, phase: Option<&str>, figure: &str) -> Result<Unit, NameError> {
            match phase {
                None | Some("load" | "run") => {}
                Some(p) => return Err(NameError::Phase(format!("unknown phase `{p}`"))),
            }
            match figure {
                "p95" | "p99.9" => Ok(Unit::Duration),
                "error_rate" => Ok(Unit::Percent),
                "dropped" => Ok(Unit::Count),
                "rps" => Ok(Unit::Number),
                f => Err(NameError::Figure(format!("unknown figure `{f}`"))),
            }
        }
        fn help(&self) -> String {
            "write it like `load.p95<300ms`".to_owned()
        }
    }

    fn parse_small(s: &str) -> Result<Threshold, ParseError> {
        parse(s, &Small)
    }

    #[test]
    fn reads_phase_figure_op_and_limit_in_canonical_units() {
        let t = parse_small(" load.p95 <= 1.5s ").unwrap();
        assert_eq!(
            (t.phase.as_deref(), t.figure.as_str(), t.op, t.limit),
            (Some("load"), "p95", Op::Le, 1500.0)
        );
        assert_eq!(t.to_string(), "load.p95<=1.5s");
        let t = parse_small("error_rate<0.05").unwrap();
        assert_eq!((t.phase, t.limit), (None, 5.0));
        assert_eq!(parse_small("run.dropped==0").unwrap().limit, 0.0);
        assert_eq!(parse_small("run.rps>=12.5").unwrap().limit, 12.5);
        // A dot followed by a digit belongs to the figure.
        let t = parse_small("p99.9<1s").unwrap();
        assert_eq!((t.phase, t.figure.as_str()), (None, "p99.9"));
        let t = parse_small("run.p99.9<1s").unwrap();
        assert_eq!(
            (t.phase.as_deref(), t.figure.as_str()),
            (Some("run"), "p99.9")
        );
    }

    #[test]
    fn every_error_points_at_its_column() {
        for (input, column, says) in [
            ("load.p95", 9, "no comparison"),
            ("<1s", 1, "nothing to compare"),
            ("lod.p95<1s", 1, "unknown phase `lod`"),
            ("load.p96<1s", 6, "unknown figure `p96`"),
            ("load.p95<300", 10, "needs a unit"),
            ("load.p95 < soon", 12, "not a duration"),
            ("load.p95<<300ms", 10, "not a duration"),
            ("error_rate<lots", 12, "not a rate"),
            ("error_rate<-1%", 12, "not a rate"),
            ("dropped==1.5", 10, "whole number"),
            ("rps>fast", 5, "not a number"),
            ("rps>", 5, "no limit"),
        ] {
            let e = parse_small(input).unwrap_err();
            assert_eq!(e.column, column, "{input}: {e}");
            assert!(e.problem.contains(says), "{input}: {e}");
            assert!(e.to_string().contains("load.p95<300ms"), "{e}");
            let pointer = e.pointer();
            let caret = pointer.lines().nth(1).unwrap();
            assert_eq!(caret.len(), column, "{pointer}");
        }
    }

    #[test]
    fn ops_judge_as_written() {
        assert!(Op::Lt.holds(1.0, 2.0) && !Op::Lt.holds(2.0, 2.0));
        assert!(Op::Le.holds(2.0, 2.0) && Op::Ge.holds(2.0, 2.0));
        assert!(Op::Gt.holds(3.0, 2.0) && Op::Ne.holds(3.0, 2.0) && Op::Eq.holds(2.0, 2.0));
        assert_eq!(Op::Le.miss_word(), Some("over"));
        assert_eq!(Op::Gt.miss_word(), Some("under"));
        assert_eq!(Op::Eq.miss_word(), None);
    }
}
