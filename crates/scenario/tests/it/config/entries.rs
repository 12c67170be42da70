//! The `[[thresholds]]` and `[[alerts]]` array tables of a scenario file: read with their
//! lines, every mistake named with its line, field, value and fix, and written back by
//! `config --format toml`.

use scenario::{ErrorKind, OutputFormat, Severity, Source, scenario_from_toml, scenario_to_toml};

use super::{Files, error_about, errors, file_inputs, ok};

const GATE: &str = r#"uuid = "gate"

[[thresholds]]
expr = "run.drop_rate==0"

[[thresholds]]
expr = "recovery.p95 < 300ms"
description = "the scale-up brings latency back"

[[alerts]]
expr = 'rate(app_shed_requests_total[10s]) > 0'
description = "shedding at {{$value}}/s"
severity = "warning"
"#;

#[test]
fn thresholds_and_alerts_are_read_with_their_lines() {
    let files = Files::new();
    let (inputs, path) = file_inputs(&files, GATE);
    let r = ok(&inputs);
    let exprs: Vec<&str> = r
        .scenario
        .thresholds
        .iter()
        .map(|t| t.expr.as_str())
        .collect();
    assert_eq!(exprs, ["run.drop_rate==0", "recovery.p95 < 300ms"]);
    assert_eq!(
        r.scenario.thresholds[1].description.as_deref(),
        Some("the scale-up brings latency back")
    );
    assert_eq!(r.scenario.alerts.len(), 1);
    assert_eq!(r.scenario.alerts[0].severity, Severity::Warning);
    assert_eq!(r.scenario.uuid, "gate");
    let line = |name: &str| match &r.sources[name] {
        Source::File { line, .. } => *line,
        other => panic!("{name}: {other}"),
    };
    assert_eq!(
        (
            line("thresholds[0]"),
            line("thresholds[1]"),
            line("alerts[0]")
        ),
        (3, 6, 10)
    );
    let table = r.render(OutputFormat::Table);
    assert!(
        table.contains("thresholds[1]") && table.contains(&format!("{path}:6")),
        "{table}"
    );
}

#[test]
fn entries_round_trip_through_config_toml() {
    let files = Files::new();
    let (inputs, _) = file_inputs(&files, GATE);
    let r = ok(&inputs);
    let text = scenario_to_toml(&r.scenario);
    assert!(text.contains("[[alerts]]\nexpr = "), "{text}");
    assert_eq!(scenario_from_toml(&text), Ok(r.scenario));
}

#[test]
fn every_mistake_in_an_entry_names_line_field_value_and_fix() {
    let files = Files::new();
    let (inputs, path) = file_inputs(
        &files,
        r#"[[thresholds]]
expr = "recovery.p96<300ms"

[[thresholds]]
exp = "run.drop_rate==0"

[[thresholds]]
expr = "load.error_rate<lots"

[[alerts]]
expr = "up == 0"
description = "a target is down"
severity = "critical"

[[alerts]]
expr = "up == 0"
severity = "error"

[[alerts]]
expr = 5
description = "x"
severity = "error"
"#,
    );
    let e = errors(&inputs);
    let figure = error_about(
        &e,
        ErrorKind::BadEntry,
        "thresholds[0].expr",
        "\"recovery.p96<300ms\"",
        &format!("{path}:2"),
    );
    assert!(figure.problem.contains("unknown figure `p96`"), "{figure}");
    assert!(figure.problem.contains("column 10"), "{figure}");
    assert!(figure.problem.contains("p50, p95, p99"), "{figure}");
    let field = error_about(
        &e,
        ErrorKind::BadEntry,
        "thresholds[1].exp",
        "\"run.drop_rate==0\"",
        &format!("{path}:5"),
    );
    assert!(field.fix.contains("did you mean `expr`"), "{field}");
    let rate = error_about(
        &e,
        ErrorKind::BadEntry,
        "thresholds[2].expr",
        "\"load.error_rate<lots\"",
        &format!("{path}:8"),
    );
    assert!(rate.problem.contains("not a rate"), "{rate}");
    let severity = error_about(
        &e,
        ErrorKind::BadEntry,
        "alerts[0].severity",
        "\"critical\"",
        &format!("{path}:13"),
    );
    assert!(severity.fix.contains("\"warning\""), "{severity}");
    let missing = e.iter().find(|x| x.key == "alerts[1]").expect("alerts[1]");
    assert!(missing.problem.contains("no `description`"), "{missing}");
    assert_eq!(
        missing.origin.as_ref().map(ToString::to_string),
        Some(format!("{path}:15"))
    );
    let typed = error_about(
        &e,
        ErrorKind::WrongType,
        "alerts[2].expr",
        "5",
        &format!("{path}:20"),
    );
    assert!(typed.fix.contains("quotes"), "{typed}");
    assert_eq!(e.len(), 6, "{e}");
}

#[test]
fn thresholds_may_be_an_array_of_strings() {
    let files = Files::new();
    let (inputs, _) = file_inputs(
        &files,
        "thresholds = [\"run.drop_rate==0\", \"load.p95<1s\"]\n",
    );
    let r = ok(&inputs);
    let exprs: Vec<&str> = r
        .scenario
        .thresholds
        .iter()
        .map(|t| t.expr.as_str())
        .collect();
    assert_eq!(exprs, ["run.drop_rate==0", "load.p95<1s"]);
}

#[test]
fn a_single_table_is_refused_with_the_array_form_to_write() {
    let files = Files::new();
    let (inputs, path) = file_inputs(&files, "[thresholds]\nexpr = \"run.p95<1s\"\n");
    let e = errors(&inputs);
    assert_eq!(e.len(), 1, "{e}");
    let only = e.iter().next().unwrap();
    assert_eq!(only.key, "thresholds");
    assert!(
        only.to_string()
            .starts_with(&format!("{path}:1: thresholds = ")),
        "{only}"
    );
    assert!(only.fix.contains("[[thresholds]]"), "{only}");
}
