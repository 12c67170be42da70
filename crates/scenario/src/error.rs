//! Where a configuration value came from ([`Source`]) and what is wrong with one
//! ([`ConfigError`]), collected so that every problem is reported at once ([`ConfigErrors`]).

use std::fmt;
use std::path::PathBuf;

/// The layer that gave a key its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// The built-in default (the original demo's value).
    Default,
    /// A scenario TOML file, at the line of the key.
    File { path: PathBuf, line: usize },
    /// A `.env` file, at the line of the variable, with the name as written (aliases included).
    DotEnv {
        path: PathBuf,
        line: usize,
        var: String,
    },
    /// The process environment.
    Env { var: String },
    /// A `--set key=value` flag.
    Flag,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path, line } => write!(f, "{}:{line}", path.display()),
            Source::DotEnv { path, line, var } => write!(f, "{}:{line} ({var})", path.display()),
            Source::Env { var } => write!(f, "env {var}"),
            Source::Flag => f.write_str("--set"),
        }
    }
}

/// What kind of problem a [`ConfigError`] is, for callers and tests that match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A file could not be read.
    Io,
    /// A scenario file is not valid TOML, or a `.env` line is not `KEY=VALUE`.
    Syntax,
    /// `--set` without `=`.
    MalformedSet,
    /// A key no scenario has (comes with a "did you mean" when one is close).
    UnknownKey,
    /// A value of the wrong type: text where a number belongs, a table, a malformed number.
    WrongType,
    /// A duration that does not parse.
    BadDuration,
    /// A number outside its allowed range (rates ≤ 0, ramp factor < 1, zero replicas, ...).
    OutOfRange,
    /// A name that is not an RFC 1123 label, or an image reference that cannot be one.
    InvalidName,
    /// `<namespace_prefix>-<uuid>` is longer than a Kubernetes namespace may be.
    NamespaceTooLong,
    /// An action that is not one of the demo's, or a bad weight.
    UnknownAction,
    /// A load shape (stages, profile) that does not parse or does not exist.
    BadShape,
    /// Two keys that contradict each other (scale-up below the starting replicas, ...).
    Conflict,
    /// A `[[thresholds]]` or `[[alerts]]` entry that is malformed or names an unknown figure.
    BadEntry,
}

/// One problem, naming the key, the value as written, where it was written and the fix.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub kind: ErrorKind,
    /// The canonical key (`load_base_rps`), or the name as written when it is unknown.
    pub key: String,
    /// The value as written (a TOML value keeps its quotes).
    pub value: String,
    /// Where the value was written; `None` when the problem is a whole file.
    pub origin: Option<Source>,
    /// What is wrong.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(origin) = &self.origin {
            write!(f, "{origin}: ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{} = `{}`: ", self.key, self.value)?;
        } else if !self.value.is_empty() {
            write!(f, "`{}`: ", self.value)?;
        }
        write!(f, "{} (fix: {})", self.problem, self.fix)
    }
}

impl std::error::Error for ConfigError {}

/// Every problem of a configuration; `Display` lists them one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.0.iter()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A problem with one value before it is tied to a key and a source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Problem {
    pub(crate) kind: ErrorKind,
    pub(crate) problem: String,
    pub(crate) fix: String,
}

impl Problem {
    pub(crate) fn new(kind: ErrorKind, problem: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            kind,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    pub(crate) fn at(self, key: &str, value: &str, origin: Option<Source>) -> ConfigError {
        ConfigError {
            kind: self.kind,
            key: key.to_owned(),
            value: value.to_owned(),
            origin,
            problem: self.problem,
            fix: self.fix,
        }
    }
}
