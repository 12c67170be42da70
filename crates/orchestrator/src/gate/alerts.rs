//! `[[alerts]]` as kube-burner evaluates them: each PromQL expression is run as a range query
//! over the run's time window on the run's Prometheus (on each copy's, with several copies
//! of the stack); any sample it returns means the alert fired. An `error` alert that fires
//! fails the run; a `warning` is reported. Expressions are checked before the run with
//! `promtool` when it is on PATH, and by asking Prometheus as soon as it is up otherwise.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use scenario::{AlertEntry, Severity};
use serde::Deserialize;

use super::prometheus::PrometheusApi;
use super::{Check, Kind, Status};

/// Range queries return at most this many steps per series (Prometheus allows 11,000).
const MAX_STEPS: f64 = 1000.0;

/// Finds `name` on PATH.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// What `promtool check rules` says of `expr`: `None` without promtool, else whether it
/// parses (with promtool's reason).
pub fn promtool_check(expr: &str) -> Option<Result<(), String>> {
    let promtool = on_path("promtool")?;
    let dir = tempfile_dir()?;
    let file = dir.join("alert.rules.yml");
    // A JSON string is a valid YAML double-quoted scalar: no escaping of our own.
    let expr_yaml = serde_json::Value::String(expr.to_owned()).to_string();
    let rules = format!(
        "groups:\n  - name: load-demo\n    rules:\n      - alert: check\n        expr: {expr_yaml}\n"
    );
    let written = std::fs::write(&file, rules);
    let out = written.ok().and_then(|()| {
        std::process::Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .ok()
    });
    let _ = std::fs::remove_dir_all(&dir);
    let out = out?;
    if out.status.success() {
        return Some(Ok(()));
    }
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let reason = text
        .lines()
        .find_map(|l| {
            l.split_once("could not parse expression: ")
                .map(|(_, r)| r.trim().to_owned())
        })
        .unwrap_or_else(|| text.trim().replace('\n', " "));
    Some(Err(format!("promtool rejects it: {reason}")))
}

/// A private temporary directory (promtool reads a file).
fn tempfile_dir() -> Option<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("load-demo-promtool-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

#[derive(Debug, Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(default)]
    result: Vec<Series>,
}

#[derive(Debug, Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Asks `prometheus` whether it accepts `expr`: `Err` with its reason when it rejects it;
/// `Ok` when it accepts it or cannot be asked (then the evaluation at the end reports the
/// problem).
pub async fn accepted_by(prometheus: &PrometheusApi, expr: &str) -> Result<(), String> {
    let Ok((400, body)) = prometheus.get("/api/v1/query", &[("query", expr)]).await else {
        return Ok(());
    };
    match serde_json::from_str::<Answer>(&body) {
        Ok(a) => Err(format!(
            "Prometheus rejects it: {}",
            a.error.unwrap_or_else(|| "bad request".to_owned())
        )),
        Err(_) => Ok(()),
    }
}

/// Runs `expr` over `[start, end]` on `prometheus`.
async fn query_range(
    prometheus: &PrometheusApi,
    expr: &str,
    start: SystemTime,
    end: SystemTime,
) -> Result<Vec<Series>, String> {
    let secs = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let (s, e) = (secs(start), secs(end).max(secs(start)));
    let step = ((e - s) / MAX_STEPS).max(1.0).ceil();
    let (s, e, step) = (format!("{s:.3}"), format!("{e:.3}"), format!("{step}"));
    let query = [("query", expr), ("start", &s), ("end", &e), ("step", &step)];
    let (_, body) = prometheus.get("/api/v1/query_range", &query).await?;
    let answer: Answer = serde_json::from_str(&body)
        .map_err(|e| format!("{prometheus} answered something else than its API: {e}"))?;
    if answer.status != "success" {
        return Err(format!(
            "Prometheus rejects it: {}",
            answer.error.unwrap_or_else(|| answer.status.clone())
        ));
    }
    Ok(answer.data.map(|d| d.result).unwrap_or_default())
}

/// At most three decimals, trailing zeros dropped: `56.667`, `2.5`, `1`.
fn short(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `{{$value}}` and `{{$labels.NAME}}` (spaces inside the braces allowed) filled in.
pub fn fill(template: &str, value: f64, labels: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = rest[open + 2..open + close].trim();
        match inner.strip_prefix("$labels.") {
            _ if inner == "$value" => out.push_str(&short(value)),
            Some(name) => out.push_str(labels.get(name).map_or("", String::as_str)),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

fn check(alert: &AlertEntry, status: Status, actual: Option<f64>, detail: String) -> Check {
    Check {
        kind: Kind::Alert,
        name: alert.expr.clone(),
        description: Some(format!(
            "{} ({})",
            alert.description,
            alert.severity.as_str()
        )),
        status,
        actual,
        detail,
    }
}

/// Without Prometheus: skipped, or failed when alerts are required.
fn unavailable(alert: &AlertEntry, why: &str, required: bool) -> Check {
    let (status, detail) = if required {
        (
            Status::Failed,
            format!("not evaluated: {why} (--require-alerts)"),
        )
    } else {
        (Status::Skipped, format!("skipped: {why}"))
    };
    check(alert, status, None, detail)
}

/// Why a run has no Prometheus to ask, where its runtime cannot say better.
pub const NO_PROMETHEUS: &str = "Prometheus was not running for this run (locally: install it, e.g. `apt-get install prometheus`)";

/// With several copies of the stack, the label naming the copy (1-based) a series came from,
/// for descriptions to say `{{$labels.iteration}}`.
pub const COPY_LABEL: &str = "iteration";

/// Evaluates `alert` over the run's window `[start, end]` (`start` is also the origin of
/// the "fired at" time) on each copy's Prometheus in `prometheus` (`Err`: why that copy's
/// cannot be asked): it fired if it fired in any copy. A copy not asked leaves the alert
/// unevaluated there, which `required` (`--require-alerts`) makes a failure unless it fired
/// elsewhere.
pub async fn evaluate(
    prometheus: &[Result<PrometheusApi, String>],
    alert: &AlertEntry,
    start: SystemTime,
    end: SystemTime,
    required: bool,
) -> Check {
    let several = prometheus.len() > 1;
    let copy = |k: u32| {
        if several {
            format!("copy {k}: ")
        } else {
            String::new()
        }
    };
    let (mut reached, mut unreached) = (Vec::new(), Vec::new());
    for (k, api) in (1..).zip(prometheus) {
        match api {
            Ok(api) => reached.push((k, api)),
            Err(why) => unreached.push(format!("{}{why}", copy(k))),
        }
    }
    if reached.is_empty() {
        let why = if unreached.is_empty() {
            NO_PROMETHEUS.to_owned()
        } else {
            unreached.join("; ")
        };
        return unavailable(alert, &why, required);
    }
    let series = match series_of(&reached, several, &alert.expr, start, end).await {
        Ok(series) => series,
        Err(e) => return check(alert, Status::Failed, None, e),
    };
    if let Some((value, detail)) = fired(alert, &series, start) {
        let status = match alert.severity {
            Severity::Error => Status::Failed,
            Severity::Warning => Status::Warned,
        };
        return check(alert, status, Some(crate::report::round6(value)), detail);
    }
    if unreached.is_empty() {
        let detail = if several {
            format!("did not fire in any of the {} copies", prometheus.len())
        } else {
            "did not fire".to_owned()
        };
        return check(alert, Status::Passed, None, detail);
    }
    let why = format!(
        "did not fire in {}; not evaluated in {}",
        copies(reached.iter().map(|&(k, _)| k)),
        unreached.join("; ")
    );
    if required {
        check(
            alert,
            Status::Failed,
            None,
            format!("{why} (--require-alerts)"),
        )
    } else {
        check(alert, Status::Passed, None, why)
    }
}

/// `expr`'s series over `[start, end]` on every Prometheus `reached` (its copy, its API),
/// each labelled with its copy when there are `several`; the first failure, naming its copy.
async fn series_of(
    reached: &[(u32, &PrometheusApi)],
    several: bool,
    expr: &str,
    start: SystemTime,
    end: SystemTime,
) -> Result<Vec<Series>, String> {
    let answers = join_all(
        reached
            .iter()
            .map(|&(k, api)| async move { (k, query_range(api, expr, start, end).await) }),
    )
    .await;
    let mut series = Vec::new();
    for (k, answer) in answers {
        match answer {
            Ok(found) if several => series.extend(found.into_iter().map(|mut s| {
                s.metric.insert(COPY_LABEL.to_owned(), k.to_string());
                s
            })),
            Ok(found) => series.extend(found),
            Err(e) if several => return Err(format!("copy {k}: {e}")),
            Err(e) => return Err(e),
        }
    }
    Ok(series)
}

/// `copy 1` or `copies 2, 3`.
fn copies(numbers: impl Iterator<Item = u32>) -> String {
    let numbers: Vec<String> = numbers.map(|k| k.to_string()).collect();
    match numbers.as_slice() {
        [one] => format!("copy {one}"),
        many => format!("copies {}", many.join(", ")),
    }
}

/// The peak value of `series` and the words for it, when they hold any sample.
fn fired(alert: &AlertEntry, series: &[Series], start: SystemTime) -> Option<(f64, String)> {
    let samples = series.iter().flat_map(|s| {
        s.values
            .iter()
            .filter_map(move |(t, v)| v.parse::<f64>().ok().map(|v| (*t, v, &s.metric)))
    });
    let first = samples.clone().min_by(|a, b| a.0.total_cmp(&b.0))?;
    let (_, value, labels) = samples.max_by(|a, b| a.1.total_cmp(&b.1))?;
    let since = start
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let copy = labels
        .get(COPY_LABEL)
        .map_or_else(String::new, |k| format!(" in copy {k}"));
    let detail = format!(
        "fired: {} ({} series, first at {:.0} s into the run, peak value {}{copy})",
        fill(&alert.description, value, labels),
        series.len(),
        (first.0 - since).max(0.0),
        short(value),
    );
    Some((value, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_take_the_value_and_labels() {
        let labels = BTreeMap::from([("instance".to_owned(), "b-1".to_owned())]);
        assert_eq!(
            fill(
                "{{$labels.instance}} sheds {{ $value }}/s {{$labels.none}}{{x}}",
                2.5,
                &labels
            ),
            "b-1 sheds 2.5/s {{x}}"
        );
        assert_eq!(fill("{{$value}}", 56.666_666_7, &labels), "56.667");
        assert_eq!(
            fill("open {{ never closed", 1.0, &labels),
            "open {{ never closed"
        );
    }
}
