//! Turning a value as written (text from the environment, `.env` or `--set`, or a typed TOML
//! value) into a field of the model; the rules a value must then pass live in `check`.

use std::str::FromStr;

use toml::de::DeValue;

use super::autoscale::{AutoscaleMetric, ScaleMode};
use super::check::Check;
use super::error::{ErrorKind, Problem};
use super::pipeline::Workload;
use super::scenario::{Arrival, LoadMode, LoadgenKind, Scenario, ServiceType};
use common::HumanDuration;

/// A value as one layer wrote it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Raw<'a> {
    /// Environment, `.env` and `--set` values: always text.
    Text(&'a str),
    /// A scenario file value, typed by TOML.
    Toml(&'a DeValue<'a>),
}

/// One field of [`Scenario`]: its type, and how to read and write it.
#[derive(Clone, Copy)]
pub(crate) enum Field {
    Text(fn(&Scenario) -> &String, fn(&mut Scenario) -> &mut String),
    /// Text that may be absent: `none` (or nothing) for absent.
    OptText(
        fn(&Scenario) -> &Option<String>,
        fn(&mut Scenario) -> &mut Option<String>,
    ),
    U32(fn(&Scenario) -> &u32, fn(&mut Scenario) -> &mut u32),
    U16(fn(&Scenario) -> &u16, fn(&mut Scenario) -> &mut u16),
    F64(fn(&Scenario) -> &f64, fn(&mut Scenario) -> &mut f64),
    /// A rate cap: a number, or `none` for no cap.
    Cap(
        fn(&Scenario) -> &Option<f64>,
        fn(&mut Scenario) -> &mut Option<f64>,
    ),
    Bool(fn(&Scenario) -> &bool, fn(&mut Scenario) -> &mut bool),
    Duration(
        fn(&Scenario) -> &HumanDuration,
        fn(&mut Scenario) -> &mut HumanDuration,
    ),
    Service(
        fn(&Scenario) -> &ServiceType,
        fn(&mut Scenario) -> &mut ServiceType,
    ),
    Loadgen(
        fn(&Scenario) -> &LoadgenKind,
        fn(&mut Scenario) -> &mut LoadgenKind,
    ),
    Arrival(fn(&Scenario) -> &Arrival, fn(&mut Scenario) -> &mut Arrival),
    Mode(
        fn(&Scenario) -> &LoadMode,
        fn(&mut Scenario) -> &mut LoadMode,
    ),
    ScaleMode(
        fn(&Scenario) -> &ScaleMode,
        fn(&mut Scenario) -> &mut ScaleMode,
    ),
    Metric(
        fn(&Scenario) -> &AutoscaleMetric,
        fn(&mut Scenario) -> &mut AutoscaleMetric,
    ),
    /// A duration that may be absent: `none` (or nothing) for absent.
    OptDuration(
        fn(&Scenario) -> &Option<HumanDuration>,
        fn(&mut Scenario) -> &mut Option<HumanDuration>,
    ),
    Workload(
        fn(&Scenario) -> &Workload,
        fn(&mut Scenario) -> &mut Workload,
    ),
}

/// A field's value, read out of a scenario for rendering and cross-checks.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Typed {
    Text(String),
    OptText(Option<String>),
    Int(u64),
    Float(f64),
    Cap(Option<f64>),
    Bool(bool),
    Duration(HumanDuration),
    Service(ServiceType),
    Loadgen(LoadgenKind),
    Arrival(Arrival),
    Mode(LoadMode),
    ScaleMode(ScaleMode),
    Metric(AutoscaleMetric),
    OptDuration(Option<HumanDuration>),
    Workload(Workload),
}

impl Typed {
    /// The value in TOML syntax (also how `scenario_to_toml` writes it).
    pub(crate) fn to_toml(&self) -> String {
        match self {
            Typed::Int(n) => n.to_string(),
            Typed::Float(x) | Typed::Cap(Some(x)) => toml::Value::Float(*x).to_string(),
            Typed::Cap(None) | Typed::OptText(None) | Typed::OptDuration(None) => {
                "\"none\"".to_owned()
            }
            Typed::Bool(b) => b.to_string(),
            other => toml::Value::String(other.to_string()).to_string(),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            Typed::Int(n) => serde_json::Value::from(*n),
            Typed::Float(x) | Typed::Cap(Some(x)) => serde_json::Value::from(*x),
            Typed::Cap(None) | Typed::OptText(None) | Typed::OptDuration(None) => {
                serde_json::Value::Null
            }
            Typed::Bool(b) => serde_json::Value::Bool(*b),
            other => serde_json::Value::String(other.to_string()),
        }
    }
}

impl std::fmt::Display for Typed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Typed::Text(s) | Typed::OptText(Some(s)) => f.write_str(s),
            Typed::OptText(None) => f.write_str("none"),
            Typed::Int(n) => write!(f, "{n}"),
            Typed::Float(x) | Typed::Cap(Some(x)) => write!(f, "{x}"),
            Typed::Cap(None) => f.write_str("none"),
            Typed::Bool(b) => write!(f, "{b}"),
            Typed::Duration(d) | Typed::OptDuration(Some(d)) => write!(f, "{d}"),
            Typed::OptDuration(None) => f.write_str("none"),
            Typed::Service(ServiceType::ClusterIP) => f.write_str("ClusterIP"),
            Typed::Service(ServiceType::NodePort) => f.write_str("NodePort"),
            Typed::Loadgen(LoadgenKind::Deployment) => f.write_str("deployment"),
            Typed::Loadgen(LoadgenKind::Job) => f.write_str("job"),
            Typed::Arrival(a) => f.write_str(a.as_str()),
            Typed::Mode(m) => f.write_str(m.as_str()),
            Typed::ScaleMode(m) => f.write_str(m.as_str()),
            Typed::Metric(m) => f.write_str(m.as_str()),
            Typed::Workload(w) => f.write_str(w.as_str()),
        }
    }
}

impl Field {
    pub(crate) fn get(&self, s: &Scenario) -> Typed {
        match self {
            Field::Text(get, _) => Typed::Text(get(s).clone()),
            Field::OptText(get, _) => Typed::OptText(get(s).clone()),
            Field::U32(get, _) => Typed::Int(u64::from(*get(s))),
            Field::U16(get, _) => Typed::Int(u64::from(*get(s))),
            Field::F64(get, _) => Typed::Float(*get(s)),
            Field::Cap(get, _) => Typed::Cap(*get(s)),
            Field::Bool(get, _) => Typed::Bool(*get(s)),
            Field::Duration(get, _) => Typed::Duration(*get(s)),
            Field::Service(get, _) => Typed::Service(*get(s)),
            Field::Loadgen(get, _) => Typed::Loadgen(*get(s)),
            Field::Arrival(get, _) => Typed::Arrival(*get(s)),
            Field::Mode(get, _) => Typed::Mode(*get(s)),
            Field::ScaleMode(get, _) => Typed::ScaleMode(*get(s)),
            Field::Metric(get, _) => Typed::Metric(*get(s)),
            Field::OptDuration(get, _) => Typed::OptDuration(*get(s)),
            Field::Workload(get, _) => Typed::Workload(*get(s)),
        }
    }

    /// Parses `raw`, runs `check` on it and, when both pass, stores it in `s`.
    pub(crate) fn apply(
        &self,
        s: &mut Scenario,
        raw: Raw<'_>,
        check: Check,
    ) -> Result<(), Problem> {
        match self {
            Field::Text(_, set) => {
                let v = text(raw)?;
                check.run(&Typed::Text(v.clone()))?;
                *set(s) = v;
            }
            Field::OptText(_, set) => {
                let v = text(raw)?;
                let v = (!v.trim().is_empty() && !v.trim().eq_ignore_ascii_case("none"))
                    .then(|| v.trim().to_owned());
                check.run(&Typed::OptText(v.clone()))?;
                *set(s) = v;
            }
            Field::U32(_, set) => {
                let v = integer(raw, u64::from(u32::MAX))?;
                check.run(&Typed::Int(v))?;
                // In range: `integer` enforced the maximum.
                *set(s) = u32::try_from(v).unwrap_or(u32::MAX);
            }
            Field::U16(_, set) => {
                let v = integer(raw, u64::from(u16::MAX))?;
                check.run(&Typed::Int(v))?;
                *set(s) = u16::try_from(v).unwrap_or(u16::MAX);
            }
            Field::F64(_, set) => {
                let v = number(raw)?;
                check.run(&Typed::Float(v))?;
                *set(s) = v;
            }
            Field::Cap(_, set) => {
                let v = cap(raw)?;
                check.run(&Typed::Cap(v))?;
                *set(s) = v;
            }
            Field::Bool(_, set) => {
                let v = boolean(raw)?;
                *set(s) = v;
            }
            Field::Duration(_, set) => {
                let v = duration(raw)?;
                check.run(&Typed::Duration(v))?;
                *set(s) = v;
            }
            Field::Service(_, set) => {
                *set(s) = keyword(
                    raw,
                    &[
                        ("clusterip", ServiceType::ClusterIP),
                        ("nodeport", ServiceType::NodePort),
                    ],
                    "`NodePort` or `ClusterIP`",
                )?;
            }
            Field::Loadgen(_, set) => {
                *set(s) = keyword(
                    raw,
                    &[
                        ("deployment", LoadgenKind::Deployment),
                        ("job", LoadgenKind::Job),
                    ],
                    "`deployment` or `job`",
                )?;
            }
            Field::Arrival(_, set) => {
                *set(s) = keyword(
                    raw,
                    &[("uniform", Arrival::Uniform), ("poisson", Arrival::Poisson)],
                    "`uniform` or `poisson`",
                )?;
            }
            Field::Mode(_, set) => {
                *set(s) = keyword(
                    raw,
                    &[("sync", LoadMode::Sync), ("async", LoadMode::Async)],
                    "`sync` or `async`",
                )?;
            }
            Field::ScaleMode(_, set) => {
                *set(s) = keyword(
                    raw,
                    &[
                        ("manual", ScaleMode::Manual),
                        ("hpa", ScaleMode::Hpa),
                        ("keda", ScaleMode::Keda),
                    ],
                    "`manual`, `hpa` or `keda`",
                )?;
            }
            Field::Metric(_, set) => {
                *set(s) = keyword(
                    raw,
                    &AutoscaleMetric::ALL.map(|m| (m.as_str(), m)),
                    "`rps_per_replica`, `utilization`, `p95_latency` or `cpu`",
                )?;
            }
            Field::OptDuration(_, set) => {
                let none = match raw {
                    Raw::Text(t) => t.trim().is_empty() || t.trim().eq_ignore_ascii_case("none"),
                    Raw::Toml(DeValue::String(t)) => t.trim().eq_ignore_ascii_case("none"),
                    Raw::Toml(_) => false,
                };
                let v = if none { None } else { Some(duration(raw)?) };
                check.run(&Typed::OptDuration(v))?;
                *set(s) = v;
            }
            Field::Workload(_, set) => {
                *set(s) = keyword(
                    raw,
                    &Workload::ALL.map(|w| (w.as_str(), w)),
                    Workload::CHOICES,
                )?;
            }
        }
        Ok(())
    }

    /// How the type is described in messages and in `.env.example`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Field::Text(..) => "text",
            Field::OptText(..) => "text or `none`",
            Field::U32(..) | Field::U16(..) => "a whole number",
            Field::F64(..) => "a number",
            Field::Cap(..) => "a number or `none`",
            Field::Bool(..) => "true or false",
            Field::Duration(..) => "a duration",
            Field::Service(..) => "NodePort or ClusterIP",
            Field::Loadgen(..) => "deployment or job",
            Field::Arrival(..) => "uniform or poisson",
            Field::Mode(..) => "sync or async",
            Field::ScaleMode(..) => "manual, hpa or keda",
            Field::Metric(..) => "rps_per_replica, utilization, p95_latency or cpu",
            Field::OptDuration(..) => "a duration or `none`",
            Field::Workload(..) => "movie-night or pipeline",
        }
    }
}

fn wrong_type(expected: &str, found: &DeValue<'_>, example: &str) -> Problem {
    Problem::new(
        ErrorKind::WrongType,
        format!("expected {expected}, found a TOML {}", found.type_str()),
        format!("write it like `{example}`"),
    )
}

fn text(raw: Raw<'_>) -> Result<String, Problem> {
    match raw {
        Raw::Text(t) => Ok(t.to_owned()),
        Raw::Toml(DeValue::String(s)) => Ok(s.to_string()),
        Raw::Toml(other) => Err(wrong_type("a string", other, "\"my-name\"")),
    }
}

fn integer(raw: Raw<'_>, max: u64) -> Result<u64, Problem> {
    let not_whole = |written: &str| {
        Problem::new(
            ErrorKind::WrongType,
            format!("`{written}` is not a whole number from 0 to {max}"),
            "write a whole number such as 2",
        )
    };
    let v = match raw {
        Raw::Text(t) => t.trim().parse::<u64>().map_err(|_| not_whole(t.trim()))?,
        Raw::Toml(DeValue::Integer(i)) => {
            u64::from_str_radix(i.as_str(), i.radix()).map_err(|_| not_whole(&i.to_string()))?
        }
        Raw::Toml(other) => return Err(wrong_type("an integer", other, "2")),
    };
    if v > max {
        return Err(not_whole(&v.to_string()));
    }
    Ok(v)
}

fn number(raw: Raw<'_>) -> Result<f64, Problem> {
    let bad = |written: &str| {
        Problem::new(
            ErrorKind::WrongType,
            format!("`{written}` is not a finite number"),
            "write a number such as 10 or 1.5",
        )
    };
    let v = match raw {
        Raw::Text(t) => t.trim().parse::<f64>().map_err(|_| bad(t.trim()))?,
        Raw::Toml(DeValue::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix())
            .map(|n| n as f64)
            .map_err(|_| bad(&i.to_string()))?,
        Raw::Toml(DeValue::Float(x)) => x.as_str().parse::<f64>().map_err(|_| bad(x.as_str()))?,
        Raw::Toml(other) => return Err(wrong_type("a number", other, "10.0")),
    };
    if v.is_finite() {
        Ok(v)
    } else {
        Err(bad(&v.to_string()))
    }
}

fn cap(raw: Raw<'_>) -> Result<Option<f64>, Problem> {
    let word = match raw {
        Raw::Text(t) => Some(t.trim()),
        Raw::Toml(DeValue::String(s)) => Some(s.as_ref()),
        Raw::Toml(_) => None,
    };
    match word {
        Some(w) if w.eq_ignore_ascii_case("none") => Ok(None),
        Some(w) if matches!(raw, Raw::Toml(_)) => Err(Problem::new(
            ErrorKind::WrongType,
            format!("`{w}` is neither a number nor `none`"),
            "write a number of requests per second such as 300, or \"none\" for no cap",
        )),
        _ => number(raw).map(Some).map_err(|mut p| {
            p.fix = "write a number of requests per second such as 300, or `none` for no cap"
                .to_owned();
            p
        }),
    }
}

fn boolean(raw: Raw<'_>) -> Result<bool, Problem> {
    match raw {
        Raw::Toml(DeValue::Boolean(b)) => Ok(*b),
        Raw::Toml(other) => Err(wrong_type("a boolean", other, "true")),
        Raw::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(Problem::new(
                ErrorKind::WrongType,
                format!("`{}` is not a boolean", t.trim()),
                "write true or false",
            )),
        },
    }
}

fn duration(raw: Raw<'_>) -> Result<HumanDuration, Problem> {
    let written = match raw {
        Raw::Text(t) => t.to_owned(),
        Raw::Toml(DeValue::String(s)) => s.to_string(),
        // A bare number means seconds, as the demo's `*_SECONDS` variables did.
        Raw::Toml(DeValue::Integer(i)) => i.as_str().to_owned(),
        Raw::Toml(DeValue::Float(x)) => x.as_str().to_owned(),
        Raw::Toml(other) => return Err(wrong_type("a duration", other, "\"1m30s\"")),
    };
    HumanDuration::from_str(&written).map_err(|e| {
        Problem::new(
            ErrorKind::BadDuration,
            format!("not a duration: {}", e.reason),
            "write it like `500ms`, `5s`, `1m30s` or a bare number of seconds",
        )
    })
}

fn keyword<T: Copy>(raw: Raw<'_>, words: &[(&str, T)], expected: &str) -> Result<T, Problem> {
    let written = match raw {
        Raw::Text(t) => t.trim(),
        Raw::Toml(DeValue::String(s)) => s.as_ref(),
        Raw::Toml(other) => return Err(wrong_type(expected, other, "\"NodePort\"")),
    };
    let normalized = written.to_ascii_lowercase().replace(['_', '-'], "");
    words
        .iter()
        .find(|(w, _)| w.replace(['_', '-'], "") == normalized)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            Problem::new(
                ErrorKind::WrongType,
                format!("`{written}` is not one of {expected}"),
                format!("write {expected}"),
            )
        })
}
