//! Pass/fail criteria on a whole run, k6 style: `p95<700ms`, `avg<=200ms`, `error_rate<1%`,
//! `dropped==0`, `drop_rate<0.5%`. A failed one makes the binary exit 99 and the summary
//! say by how much it missed. The syntax is read by the parser the orchestrator shares
//! ([`common::threshold`]); this module knows the load generator's metrics and judges them.

use std::fmt;
use std::str::FromStr;

use common::threshold::{self, Catalog, NameError, Op, Unit};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::report::fmt_ms;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stat {
    Avg,
    Min,
    Max,
    /// A percentile, 0 < p <= 100.
    Percentile(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    /// Corrected latency, limit in milliseconds.
    Latency(Stat),
    /// Failed / sent, in percent.
    ErrorRate,
    /// Requests dropped at the in-flight cap.
    Dropped,
    /// Dropped / scheduled, in percent.
    DropRate,
}

/// A parsed criterion; displays as it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    text: String,
    metric: Metric,
    op: Op,
    limit: f64,
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

const HELP: &str = "write it like `p95<700ms`, `avg<=200ms`, `max<2s`, `error_rate<1%`, \
                    `dropped==0` or `drop_rate<0.5%`";

/// The load generator's figures for the shared parser: one run, so no phase.
struct Figures;

impl Catalog for Figures {
    fn unit(&self, phase: Option<&str>, figure: &str) -> Result<Unit, NameError> {
        if let Some(phase) = phase {
            return Err(NameError::Phase(format!(
                "unknown metric `{phase}.{figure}`: the load generator's thresholds have no phase"
            )));
        }
        match parse_metric(figure) {
            Some(Metric::Latency(_)) => Ok(Unit::Duration),
            Some(Metric::ErrorRate | Metric::DropRate) => Ok(Unit::Percent),
            Some(Metric::Dropped) => Ok(Unit::Count),
            None => Err(NameError::Figure(format!("unknown metric `{figure}`"))),
        }
    }

    fn help(&self) -> String {
        HELP.to_owned()
    }
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parsed = threshold::parse(s, &Figures).map_err(|e| e.to_string())?;
        let metric = parse_metric(&parsed.figure)
            .ok_or_else(|| format!("`{s}`: unknown metric `{}`; {HELP}", parsed.figure))?;
        Ok(Self {
            text: parsed.text,
            metric,
            op: parsed.op,
            limit: parsed.limit,
        })
    }
}

fn parse_metric(name: &str) -> Option<Metric> {
    let stat = match name {
        "error_rate" => return Some(Metric::ErrorRate),
        "dropped" => return Some(Metric::Dropped),
        "drop_rate" => return Some(Metric::DropRate),
        "avg" => Stat::Avg,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "med" => Stat::Percentile(50.0),
        _ => {
            // `p95`, `p99.9`, and k6's `p(95)`.
            let p = name.strip_prefix('p')?;
            let p = p
                .strip_prefix('(')
                .and_then(|x| x.strip_suffix(')'))
                .unwrap_or(p);
            let p: f64 = p.parse().ok()?;
            if !(p > 0.0 && p <= 100.0) {
                return None;
            }
            Stat::Percentile(p)
        }
    };
    Some(Metric::Latency(stat))
}

/// The run's numbers a threshold is judged against.
pub(crate) struct Facts<'a> {
    /// Corrected latency of every request, µs.
    pub(crate) latency: &'a Histogram<u64>,
    pub(crate) error_rate_pct: f64,
    pub(crate) dropped: u64,
    pub(crate) drop_rate_pct: f64,
}

/// How a threshold fared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdOutcome {
    pub threshold: String,
    pub passed: bool,
    /// The measured value (ms, percent or requests), None when nothing was measured.
    pub actual: Option<f64>,
    /// A sentence: the measured value, the limit, and the margin.
    pub detail: String,
}

impl Threshold {
    pub(crate) fn evaluate(&self, f: &Facts<'_>) -> ThresholdOutcome {
        let name = self
            .text
            .split(['<', '>', '=', '!'])
            .next()
            .unwrap_or_default();
        let (actual, show): (Option<f64>, fn(f64) -> String) = match self.metric {
            Metric::Latency(stat) => {
                let h = f.latency;
                let us = (!h.is_empty()).then(|| match stat {
                    Stat::Avg => h.mean(),
                    Stat::Min => h.min() as f64,
                    Stat::Max => h.max() as f64,
                    Stat::Percentile(p) => h.value_at_quantile(p / 100.0) as f64,
                });
                (us.map(|us| round3(us / 1000.0)), fmt_ms)
            }
            Metric::ErrorRate => (Some(round3(f.error_rate_pct)), |v| format!("{v}%")),
            Metric::DropRate => (Some(round3(f.drop_rate_pct)), |v| format!("{v}%")),
            Metric::Dropped => (Some(f.dropped as f64), |v| format!("{v}")),
        };
        let Some(actual) = actual else {
            return ThresholdOutcome {
                threshold: self.text.clone(),
                passed: false,
                actual: None,
                detail: format!("{name}: no request completed, nothing to judge"),
            };
        };
        let passed = self.op.holds(actual, self.limit);
        let margin = round3((actual - self.limit).abs());
        let how = match (passed, self.op) {
            (_, Op::Eq | Op::Ne) => String::new(),
            (true, _) => format!(", margin {}", show(margin)),
            (false, Op::Lt | Op::Le) => format!(", over by {}", show(margin)),
            (false, Op::Gt | Op::Ge) => format!(", under by {}", show(margin)),
        };
        ThresholdOutcome {
            threshold: self.text.clone(),
            passed,
            actual: Some(actual),
            detail: format!("{name} = {}, limit {}{how}", show(actual), show(self.limit)),
        }
    }
}

/// Three decimals: enough for µs in ms and tenths of a percent, and exact through JSON.
pub(crate) fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(h: &Histogram<u64>) -> Facts<'_> {
        Facts {
            latency: h,
            error_rate_pct: 2.5,
            dropped: 3,
            drop_rate_pct: 0.3,
        }
    }

    #[test]
    fn parses_every_documented_form() {
        for ok in [
            "p95<700ms",
            "p(99.9) <= 1s",
            "avg<200ms",
            "med<1s",
            "max<1m",
            "error_rate<1%",
            "error_rate<0.01",
            "dropped==0",
            "drop_rate<=0.5%",
            "p50>=1ms",
        ] {
            assert!(ok.parse::<Threshold>().is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("p95", "no comparison"),
            ("p95<700", "needs a unit"),
            ("p101<1s", "unknown metric"),
            ("latency<1s", "unknown metric"),
            ("error_rate<lots", "not a rate"),
            ("dropped==-1", "whole number"),
            ("p95<soon", "not a duration"),
        ] {
            let e = bad.parse::<Threshold>().unwrap_err();
            assert!(e.contains(says) && e.contains("p95<700ms"), "{bad}: {e}");
        }
    }

    #[test]
    fn judges_and_says_by_how_much() {
        let mut h = crate::stats::histogram();
        for ms in 1..=100u64 {
            h.record(ms * 1000).unwrap();
        }
        let judge = |t: &str| t.parse::<Threshold>().unwrap().evaluate(&facts(&h));
        let p95 = judge("p95<50ms");
        assert!(!p95.passed);
        assert_eq!(p95.actual, Some(95.039));
        assert!(p95.detail.contains("over by 45.039ms"), "{}", p95.detail);
        assert!(judge("p95<100ms").passed);
        let err = judge("error_rate<1%");
        assert!(!err.passed);
        assert!(err.detail.contains("over by 1.5%"), "{}", err.detail);
        assert!(judge("error_rate<0.05").passed);
        assert!(!judge("dropped==0").passed);
        assert!(judge("drop_rate<1%").passed);
        let empty = crate::stats::histogram();
        let none = "p95<1s"
            .parse::<Threshold>()
            .unwrap()
            .evaluate(&facts(&empty));
        assert!(!none.passed && none.actual.is_none());
    }
}
