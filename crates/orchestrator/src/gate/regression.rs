//! Regression rules between a baseline and a run: `recovery.p95=+15%` (relative),
//! `load.error_rate=+2pp` (percentage points), `recovery.p95=+50ms` (absolute),
//! `recovery.served_rps=-10%` (a figure that is better higher may fall this much), and
//! `NAME=off` to drop a default. The sign is the direction the figure gets worse in.

use std::fmt;

use common::threshold::{NameError, ParseError, Unit, parse_limit, split_phase};
use scenario::figures::{self, Better, Figure};

use super::figures::{lookup, show};
use super::{Check, Kind, Status};
use crate::report::Report;

/// Applied with `--baseline` unless a `--max-regression` of the same figure replaces one.
pub const DEFAULT_RULES: [&str; 6] = [
    "recovery.p95=+50%",
    "recovery.settled_p95=+50%",
    "recovery.error_rate=+2pp",
    "load.error_rate=+5pp",
    "run.drop_rate=+1pp",
    "recovery.served_rps=-10%",
];

const HELP: &str = "write it like `recovery.p95=+15%`, `load.error_rate=+2pp`, \
                    `recovery.p95=+50ms`, `recovery.served_rps=-10%` or `recovery.p95=off`";

/// How much worse a figure may get.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowance {
    /// Percent of the baseline's value.
    Relative(f64),
    /// Percentage points of a rate.
    Points(f64),
    /// In the figure's own unit (ms, requests per second, replicas).
    Absolute(f64),
    /// No rule for this figure.
    Off,
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub text: String,
    pub phase: String,
    pub figure: &'static Figure,
    pub allowance: Allowance,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Rule {
    /// `phase.figure`, the identity of a rule: a later rule of the same key replaces it.
    pub fn key(&self) -> String {
        format!("{}.{}", self.phase, self.figure.name)
    }
}

/// Parses one rule; errors carry the column, as threshold errors do.
pub fn parse(input: &str) -> Result<Rule, ParseError> {
    let text: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    // Columns are reported in the squeezed text, plus the leading whitespace skipped.
    let lead = input.chars().take_while(|c| c.is_whitespace()).count();
    let bad = |at: usize, problem: String| ParseError {
        input: input.to_owned(),
        column: lead + text.get(..at).map_or(0, |s| s.chars().count()) + 1,
        problem,
        help: HELP.to_owned(),
    };
    let Some(eq) = text.find('=') else {
        return Err(bad(
            text.len(),
            "no `=` before the allowed change".to_owned(),
        ));
    };
    let (name, value) = (&text[..eq], &text[eq + 1..]);
    let (phase, figure, figure_at) = split_phase(name);
    let figure = figures::lookup(phase, figure).map_err(|e| match e {
        NameError::Phase(why) => bad(0, why),
        NameError::Figure(why) => bad(figure_at, why),
    })?;
    let phase = phase.unwrap_or(figures::RUN).to_owned();
    let at = eq + 1;
    if value == "off" {
        return Ok(Rule {
            text,
            phase,
            figure,
            allowance: Allowance::Off,
        });
    }
    let worse = match figure.better {
        Better::Lower => '+',
        Better::Higher => '-',
    };
    let Some(amount) = value.strip_prefix(['+', '-']) else {
        return Err(bad(
            at,
            format!(
                "the change needs a sign: `{name}={worse}{value}` (it gets worse in that direction)"
            ),
        ));
    };
    if !value.starts_with(worse) {
        let way = if worse == '+' { "rises" } else { "falls" };
        return Err(bad(
            at,
            format!(
                "`{}` gets worse when it {way}: write `{name}={worse}{amount}`",
                figure.name
            ),
        ));
    }
    let number = |s: &str, at: usize| {
        s.parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| bad(at, format!("`{s}` is not a number")))
    };
    let allowance = if let Some(pct) = amount.strip_suffix('%') {
        Allowance::Relative(number(pct, at + 1)?)
    } else if let Some(pp) = amount.strip_suffix("pp") {
        if figure.unit != Unit::Percent {
            return Err(bad(
                at + 1,
                format!(
                    "percentage points (pp) apply to rates, and `{}` is not one: write a % change",
                    figure.name
                ),
            ));
        }
        Allowance::Points(number(pp, at + 1)?)
    } else if figure.unit == Unit::Percent {
        return Err(bad(
            at + 1,
            format!(
                "write a rate's allowed change in percentage points (`+{amount}pp`) or relative (`+{amount}%`)"
            ),
        ));
    } else {
        Allowance::Absolute(parse_limit(amount, figure.unit).map_err(|why| bad(at + 1, why))?)
    };
    Ok(Rule {
        text,
        phase,
        figure,
        allowance,
    })
}

/// The rules that apply: the defaults (when `defaults`), each replaced by a given rule of
/// the same figure, then the given ones; `off` rules removed.
pub fn effective(given: &[Rule], defaults: bool) -> Vec<Rule> {
    let mut rules: Vec<Rule> = if defaults {
        DEFAULT_RULES.iter().filter_map(|r| parse(r).ok()).collect()
    } else {
        Vec::new()
    };
    for rule in given {
        rules.retain(|r| r.key() != rule.key());
        rules.push(rule.clone());
    }
    rules.retain(|r| r.allowance != Allowance::Off);
    rules
}

/// The check of `rule` comparing `run` with `baseline`.
pub fn judge(baseline: &Report, run: &Report, rule: &Rule) -> Check {
    let fail = |detail: String| Check {
        kind: Kind::Regression,
        name: rule.text.clone(),
        description: None,
        status: Status::Failed,
        actual: None,
        detail,
    };
    let (base, now) = match (
        lookup(baseline, &rule.phase, rule.figure),
        lookup(run, &rule.phase, rule.figure),
    ) {
        (Ok(b), Ok(n)) => (b, n),
        (Err(why), _) | (_, Err(why)) => return fail(why),
    };
    let unit = rule.figure.unit;
    let worse_by = match rule.figure.better {
        Better::Lower => now - base,
        Better::Higher => base - now,
    };
    let (allowed, allowed_text) = match rule.allowance {
        Allowance::Relative(pct) => (base.abs() * pct / 100.0, format!("{pct}% of the baseline")),
        Allowance::Points(pp) => (pp, format!("{pp} percentage points")),
        Allowance::Absolute(a) => (a, show(unit, a)),
        Allowance::Off => (f64::INFINITY, "any".to_owned()),
    };
    let change = if base != 0.0 {
        format!(" ({:+.1}%)", (now - base) / base.abs() * 100.0)
    } else {
        String::new()
    };
    let passed = worse_by <= allowed + 1e-9;
    let verdict = if passed {
        format!("within {allowed_text}")
    } else {
        format!(
            "worse by {}, {} more than the {allowed_text} allowed",
            show(unit, worse_by),
            show(unit, worse_by - allowed)
        )
    };
    Check {
        kind: Kind::Regression,
        name: rule.text.clone(),
        description: None,
        status: if passed {
            Status::Passed
        } else {
            Status::Failed
        },
        actual: Some(crate::report::round6(now)),
        detail: format!(
            "{} {} → {}{change}: {verdict}",
            rule.key(),
            show(unit, base),
            show(unit, now)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::fixture::report_with;

    #[test]
    fn rules_read_relative_points_absolute_and_off() {
        let r = parse("recovery.p95=+15%").unwrap();
        assert_eq!((r.phase.as_str(), r.figure.name), ("recovery", "p95"));
        assert_eq!(r.allowance, Allowance::Relative(15.0));
        assert_eq!(
            parse("load.error_rate=+2pp").unwrap().allowance,
            Allowance::Points(2.0)
        );
        assert_eq!(
            parse("recovery.p95=+50ms").unwrap().allowance,
            Allowance::Absolute(50.0)
        );
        assert_eq!(
            parse("recovery.served_rps=-10%").unwrap().allowance,
            Allowance::Relative(10.0)
        );
        assert_eq!(parse("recovery.p95=off").unwrap().allowance, Allowance::Off);
        for default in DEFAULT_RULES {
            assert!(parse(default).is_ok(), "{default}");
        }
    }

    #[test]
    fn a_bad_rule_points_at_its_mistake() {
        for (input, column, says) in [
            ("recovery.p95", 13, "no `=`"),
            ("recovry.p95=+1%", 1, "unknown phase"),
            ("recovery.p96=+1%", 10, "unknown figure"),
            ("recovery.p95=15%", 14, "needs a sign"),
            ("recovery.p95=-15%", 14, "worse when it rises"),
            ("recovery.served_rps=+5%", 21, "worse when it falls"),
            ("recovery.p95=+2pp", 15, "apply to rates"),
            ("load.error_rate=+2", 18, "percentage points"),
            ("recovery.p95=+lots%", 15, "not a number"),
            ("recovery.p95=+50", 15, "needs a unit"),
        ] {
            let e = parse(input).unwrap_err();
            assert_eq!(e.column, column, "{input}: {e}");
            assert!(e.problem.contains(says), "{input}: {e}");
        }
    }

    #[test]
    fn given_rules_replace_the_default_of_their_figure() {
        let given = [
            parse("recovery.p95=+10%").unwrap(),
            parse("load.error_rate=off").unwrap(),
        ];
        let rules = effective(&given, true);
        let keys: Vec<String> = rules.iter().map(Rule::key).collect();
        assert_eq!(keys.iter().filter(|k| *k == "recovery.p95").count(), 1);
        assert!(!keys.contains(&"load.error_rate".to_owned()), "{keys:?}");
        assert_eq!(rules.len(), DEFAULT_RULES.len() - 1);
        assert!(rules.iter().any(|r| r.text == "recovery.p95=+10%"));
        assert!(effective(&given[..1], false).len() == 1);
    }

    #[test]
    fn a_regression_beyond_its_rule_fails_and_one_within_passes() {
        let base = report_with(0.1, 0.01);
        let worse = report_with(0.2, 0.05);
        let p95 = judge(&base, &worse, &parse("recovery.p95=+15%").unwrap());
        assert_eq!(p95.status, Status::Failed, "{p95:?}");
        assert!(
            p95.detail
                .contains("more than the 15% of the baseline allowed"),
            "{}",
            p95.detail
        );
        assert_eq!(
            judge(&base, &worse, &parse("recovery.p95=+200%").unwrap()).status,
            Status::Passed
        );
        // 1 % → 5 %: four points worse.
        let err = judge(&base, &worse, &parse("recovery.error_rate=+2pp").unwrap());
        assert_eq!(err.status, Status::Failed);
        assert!(err.detail.contains("worse by 4.00%"), "{}", err.detail);
        assert_eq!(
            judge(&base, &worse, &parse("recovery.error_rate=+5pp").unwrap()).status,
            Status::Passed
        );
        // The same run is no regression of itself.
        for rule in effective(&[], true) {
            assert_eq!(judge(&base, &base, &rule).status, Status::Passed, "{rule}");
        }
    }
}
