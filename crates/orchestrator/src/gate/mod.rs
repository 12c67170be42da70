//! The run's gate: whether a run passes, the way k6 thresholds and kube-burner's alert
//! profiles decide it, and what changed since a baseline run. Three kinds of checks, each a
//! [`Check`] in report.json, report.md, the HTML page and `--junit`: thresholds on the run's
//! figures ([`threshold`]), regression rules against a baseline ([`regression`],
//! [`baseline`]) and PromQL alerts on the run's Prometheus ([`alerts`]). A failed check
//! makes the run exit 99 once its report is written.
//!
//! Everything that can be known before the run is checked by [`Gate::prepare`] (bad
//! thresholds, rules, baseline, PromQL when promtool is installed): the run then exits 2
//! before it starts.

pub mod alerts;
pub mod baseline;
pub mod figures;
#[cfg(test)]
pub(crate) mod fixture;
pub mod junit;
pub mod prometheus;
pub mod regression;
pub mod render;
pub mod threshold;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use scenario::{AlertEntry, Scenario};
use serde::{Deserialize, Serialize};

use crate::compare::Row;
use crate::report::Report;
use regression::Rule;
use threshold::Criterion;

/// Exit code of a run whose gate failed (as k6's thresholds).
pub const EXIT_GATE_FAILED: u8 = 99;

/// What a check is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Threshold,
    Regression,
    Alert,
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// A `warning` alert that fired: reported, the run still passes.
    Warned,
    /// Not evaluated (an alert without Prometheus); the reason is in the detail.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "FAILED",
            Status::Warned => "warning",
            Status::Skipped => "skipped",
        }
    }
}

/// One threshold, regression rule or alert, and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub kind: Kind,
    /// As written: `recovery.p95<300ms`, `recovery.p95=+15%`, the alert's PromQL.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: Status,
    /// The measured value in the figure's unit (ms, percent, ...) or the alert's peak.
    pub actual: Option<f64>,
    /// The value, the limit and by how much it passed or missed, in words.
    pub detail: String,
}

/// The baseline a run was compared with.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BaselineInfo {
    /// As given to `--baseline`.
    pub path: String,
    pub uuid: String,
    pub started_at: String,
    /// Fields in which the runs differ but that do not forbid a comparison.
    pub warnings: Vec<String>,
    /// Every phase's figures in both runs (as `compare` prints them).
    pub rows: Vec<Row>,
}

/// The gate's verdict, stored in report.json as `gate`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GateReport {
    /// No check failed.
    pub passed: bool,
    pub thresholds: Vec<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineInfo>,
    pub regressions: Vec<Check>,
    pub alerts: Vec<Check>,
}

impl GateReport {
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.thresholds
            .iter()
            .chain(&self.regressions)
            .chain(&self.alerts)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks().filter(|c| c.status == Status::Failed)
    }
}

/// The gate's flags (`run --threshold --baseline --max-regression --junit --require-alerts`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GateInputs {
    pub thresholds: Vec<String>,
    pub baseline: Option<PathBuf>,
    pub max_regression: Vec<String>,
    pub junit: Option<PathBuf>,
    pub require_alerts: bool,
}

/// A run's gate, ready before the run starts.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    pub criteria: Vec<Criterion>,
    pub baseline: Option<(PathBuf, Box<Report>)>,
    pub baseline_warnings: Vec<String>,
    pub rules: Vec<Rule>,
    pub alerts: Vec<AlertEntry>,
    /// promtool accepted every alert's PromQL before the run; otherwise Prometheus is
    /// asked as soon as it is up.
    pub promql_checked: bool,
    pub require_alerts: bool,
    pub junit: Option<PathBuf>,
}

/// A flag's error with the caret under its column.
fn flag_error(flag: &str, e: &common::threshold::ParseError) -> String {
    let pointer = e.pointer().replace('\n', "\n      ");
    format!("{flag} {e}\n      {pointer}")
}

impl Gate {
    /// Parses and checks every part of the gate of a run of `scenario` on `runtime`: every
    /// problem found, or the gate.
    pub fn prepare(
        scenario: &Scenario,
        runtime: &str,
        inputs: &GateInputs,
    ) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut gate = Gate {
            require_alerts: inputs.require_alerts,
            junit: inputs.junit.clone(),
            alerts: scenario.alerts.clone(),
            ..Gate::default()
        };
        for t in &scenario.thresholds {
            match scenario::figures::parse_threshold(&t.expr) {
                Ok(threshold) => gate.criteria.push(Criterion {
                    threshold,
                    description: t.description.clone(),
                }),
                Err(e) => errors.push(format!("[[thresholds]] {e}")),
            }
        }
        for text in inputs.thresholds.iter().filter(|t| !t.trim().is_empty()) {
            match scenario::figures::parse_threshold(text) {
                Ok(threshold) => gate.criteria.push(Criterion {
                    threshold,
                    description: None,
                }),
                Err(e) => errors.push(flag_error("--threshold", &e)),
            }
        }
        let mut given = Vec::new();
        for text in &inputs.max_regression {
            match regression::parse(text) {
                Ok(rule) => given.push(rule),
                Err(e) => errors.push(flag_error("--max-regression", &e)),
            }
        }
        match &inputs.baseline {
            Some(path) => match baseline::read(path) {
                Ok(report) => {
                    let fit = baseline::fit(&report, scenario, runtime);
                    errors.extend(fit.refusals.iter().map(|r| {
                        format!("--baseline {}: refused, {r}", path.display())
                    }));
                    gate.baseline_warnings = fit.warnings;
                    gate.rules = regression::effective(&given, true);
                    gate.baseline = Some((path.clone(), Box::new(report)));
                }
                Err(e) => errors.push(e),
            },
            None if !given.is_empty() => errors.push(
                "--max-regression needs --baseline PATH (the report.json of the run to compare with)"
                    .to_owned(),
            ),
            None => {}
        }
        let mut promtool_ran = !gate.alerts.is_empty();
        for (i, alert) in gate.alerts.iter().enumerate() {
            match alerts::promtool_check(&alert.expr) {
                Some(Ok(())) => {}
                Some(Err(why)) => errors.push(format!("alerts[{i}].expr `{}`: {why}", alert.expr)),
                None => promtool_ran = false,
            }
        }
        gate.promql_checked = promtool_ran;
        if errors.is_empty() {
            Ok(gate)
        } else {
            Err(errors)
        }
    }

    /// True when there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.criteria.is_empty() && self.baseline.is_none() && self.alerts.is_empty()
    }

    /// Asks `prometheus` about every alert's PromQL, unless promtool did before the run:
    /// the expressions it rejects, one per line.
    pub async fn check_promql_live(
        &self,
        prometheus: Option<&prometheus::PrometheusApi>,
    ) -> Result<(), String> {
        let Some(api) = prometheus.filter(|_| !self.promql_checked) else {
            return Ok(());
        };
        let mut rejected = Vec::new();
        for (i, alert) in self.alerts.iter().enumerate() {
            if let Err(why) = alerts::accepted_by(api, &alert.expr).await {
                rejected.push(format!("alerts[{i}].expr `{}`: {why}", alert.expr));
            }
        }
        if rejected.is_empty() {
            Ok(())
        } else {
            Err(rejected.join("; "))
        }
    }

    /// Judges `report`; alerts are evaluated over `[start, end]` on `prometheus`, each copy
    /// of the stack's (`Err`: why it cannot be asked). `None` when the gate is empty.
    pub async fn evaluate(
        &self,
        report: &Report,
        prometheus: &[Result<prometheus::PrometheusApi, String>],
        start: SystemTime,
        end: SystemTime,
    ) -> Option<GateReport> {
        if self.is_empty() {
            return None;
        }
        let mut gate = GateReport {
            thresholds: self
                .criteria
                .iter()
                .map(|c| threshold::judge(report, c))
                .collect(),
            ..GateReport::default()
        };
        if let Some((path, base)) = &self.baseline {
            gate.regressions = self
                .rules
                .iter()
                .map(|r| regression::judge(base, report, r))
                .collect();
            gate.baseline = Some(BaselineInfo {
                path: path.display().to_string(),
                uuid: base.uuid.clone(),
                started_at: base.started_at.clone(),
                warnings: self.baseline_warnings.clone(),
                rows: crate::compare::rows(base, report),
            });
        }
        for alert in &self.alerts {
            let required = self.require_alerts;
            gate.alerts
                .push(alerts::evaluate(prometheus, alert, start, end, required).await);
        }
        let passed = gate.failed().next().is_none();
        gate.passed = passed;
        Some(gate)
    }

    /// Writes the JUnit file when `--junit` asked for one.
    pub fn write_junit(&self, uuid: &str, gate: Option<&GateReport>) -> Result<(), String> {
        let Some(path) = &self.junit else {
            return Ok(());
        };
        let empty = GateReport {
            passed: true,
            ..GateReport::default()
        };
        write(path, &junit::render(uuid, gate.unwrap_or(&empty)))
    }
}

/// `compare A B --fail-on RULE...`: the checks of the rules (`defaults` stands for the
/// default set) on B against A, with the ways A and B differ that allow a comparison; or
/// every problem (bad rules, unlike runs).
pub fn compare_rules(
    a: &Report,
    b: &Report,
    given: &[String],
) -> Result<(Vec<Check>, Vec<String>), Vec<String>> {
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    let mut defaults = false;
    for text in given {
        if text.trim() == "defaults" {
            defaults = true;
            continue;
        }
        match regression::parse(text) {
            Ok(rule) => rules.push(rule),
            Err(e) => errors.push(flag_error("--fail-on", &e)),
        }
    }
    let fit = baseline::fit(a, &b.scenario, &b.runtime);
    errors.extend(fit.refusals.iter().map(|r| format!("refused: {r}")));
    if !errors.is_empty() {
        return Err(errors);
    }
    let checks = regression::effective(&rules, defaults)
        .iter()
        .map(|r| regression::judge(a, b, r))
        .collect();
    Ok((checks, fit.warnings))
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
