//! Every validation error names the key, the value as written, its source and the fix, and
//! every problem of every layer is reported at once; unknown keys, typos and malformed
//! files are named where they are. The rules each value must keep are in `values.rs`.

use std::path::PathBuf;

use scenario::{ConfigErrors, ConfigInputs, ErrorKind};

use super::{Files, env, error_about, errors, sets};

/// Resolves a scenario file of `text`; returns its errors and the `path:` prefix of line 1..
pub(crate) fn file_errors(text: &str) -> (ConfigErrors, impl Fn(usize) -> String, Files) {
    let files = Files::new();
    let path: PathBuf = files.write("bad.toml", text);
    let e = errors(&ConfigInputs {
        scenario_file: Some(path.clone()),
        ..ConfigInputs::default()
    });
    (e, move |line| format!("{}:{line}", path.display()), files)
}

pub(crate) fn set_errors(items: &[&str]) -> ConfigErrors {
    errors(&ConfigInputs {
        sets: sets(items),
        ..ConfigInputs::default()
    })
}

#[test]
fn a_file_with_three_mistakes_reports_all_three_in_line_order() {
    let (e, at, _files) = file_errors(
        "uuid = \"ok-run\"\n\
         load_base_rps = 0\n\
         load_ramp_factr = 2.0\n\
         baseline_pause = \"20 seconds\"\n",
    );
    assert_eq!(e.len(), 3, "{e}");
    let lines: Vec<String> = e
        .iter()
        .map(|e| {
            e.origin
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(lines, [at(2), at(3), at(4)]);
    error_about(&e, ErrorKind::OutOfRange, "load_base_rps", "0", &at(2));
    error_about(&e, ErrorKind::UnknownKey, "load_ramp_factr", "2.0", &at(3));
    error_about(
        &e,
        ErrorKind::BadDuration,
        "baseline_pause",
        "\"20 seconds\"",
        &at(4),
    );
    assert_eq!(e.to_string().lines().count(), 3, "one line per error:\n{e}");
}

#[test]
fn problems_of_every_layer_are_reported_together() {
    let files = Files::new();
    let scenario = files.write("s.toml", "backend_replicas = -1\n");
    let dotenv = files.write(".env", "LOAD_PAUSE=soon\n");
    let e = errors(&ConfigInputs {
        scenario_file: Some(scenario.clone()),
        dotenv_file: Some(dotenv.clone()),
        env: env(&[("LOAD_RAMP_FACTOR", "0.5")]),
        sets: sets(&["prepull=maybe"]),
        platform: None,
    });
    assert_eq!(e.len(), 4, "{e}");
    error_about(
        &e,
        ErrorKind::WrongType,
        "backend_replicas",
        "-1",
        &format!("{}:1", scenario.display()),
    );
    error_about(
        &e,
        ErrorKind::BadDuration,
        "load_pause",
        "soon",
        &format!("{}:1 (LOAD_PAUSE)", dotenv.display()),
    );
    error_about(
        &e,
        ErrorKind::OutOfRange,
        "load_ramp_factor",
        "0.5",
        "env LOAD_RAMP_FACTOR",
    );
    error_about(&e, ErrorKind::WrongType, "prepull", "maybe", "--set");
}

#[test]
fn a_bad_value_is_reported_even_when_a_higher_layer_overrides_it() {
    // The file is wrong on its own; a flag that hides it today would not tomorrow.
    let files = Files::new();
    let scenario = files.write("s.toml", "load_base_rps = \"fast\"\n");
    let e = errors(&ConfigInputs {
        scenario_file: Some(scenario.clone()),
        sets: sets(&["load_base_rps=5"]),
        ..ConfigInputs::default()
    });
    error_about(
        &e,
        ErrorKind::WrongType,
        "load_base_rps",
        "\"fast\"",
        &format!("{}:1", scenario.display()),
    );
}

#[test]
fn unknown_keys_suggest_the_closest_key() {
    let (e, at, _files) = file_errors("load_base_rsp = 3\nbackend_replica = 2\n");
    let a = error_about(&e, ErrorKind::UnknownKey, "load_base_rsp", "3", &at(1));
    assert!(a.fix.contains("did you mean `load_base_rps`?"), "{a}");
    let b = error_about(&e, ErrorKind::UnknownKey, "backend_replica", "2", &at(2));
    assert!(b.fix.contains("`backend_replicas`"), "{b}");
}

#[test]
fn unknown_keys_without_a_close_match_say_how_to_list_the_keys() {
    let e = set_errors(&["colour=blue"]);
    let a = error_about(&e, ErrorKind::UnknownKey, "colour", "blue", "--set");
    assert!(a.fix.contains("orchestrator config"), "{a}");
    assert!(!a.fix.contains("did you mean"), "{a}");
}

#[test]
fn nested_tables_and_dotted_keys_point_to_the_flat_key() {
    let (e, at, _files) = file_errors("[load]\nbase_rps = 3\n");
    let a = error_about(&e, ErrorKind::UnknownKey, "load.base_rps", "3", &at(2));
    assert!(
        a.fix.contains("keys are flat: write `load_base_rps`"),
        "{a}"
    );
    let e = set_errors(&["load.max_rps=200"]);
    let b = error_about(&e, ErrorKind::UnknownKey, "load.max_rps", "200", "--set");
    assert!(b.fix.contains("`load_max_rps`"), "{b}");
}

#[test]
fn near_misses_in_dotenv_are_reported_as_typos() {
    let files = Files::new();
    let dotenv = files.write(".env", "COMPOSE_PROJECT_NAME=x\nLOAD_BASE_RSP=3\n");
    let e = errors(&ConfigInputs {
        dotenv_file: Some(dotenv.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(e.len(), 1, "{e}");
    let a = error_about(
        &e,
        ErrorKind::UnknownKey,
        "LOAD_BASE_RSP",
        "3",
        &format!("{}:2 (LOAD_BASE_RSP)", dotenv.display()),
    );
    assert!(a.fix.contains("`LOAD_BASE_RPS`"), "{a}");
}

#[test]
fn a_set_without_an_equals_sign_is_malformed() {
    let e = set_errors(&["load_base_rps", "=5", "uuid=fine"]);
    assert_eq!(e.len(), 2, "{e}");
    for (err, written) in e.iter().zip(["load_base_rps", "=5"]) {
        assert_eq!(err.kind, ErrorKind::MalformedSet);
        assert_eq!(err.value, written);
        assert_eq!(
            err.to_string(),
            format!(
                "--set: `{written}`: not of the form key=value (fix: write it like `--set load_base_rps=20`)"
            )
        );
    }
}

#[test]
fn toml_syntax_errors_name_the_line() {
    let (e, at, _files) = file_errors("uuid = \"x\"\nload_base_rps = = 3\n");
    assert!(!e.is_empty());
    let first = &e.0[0];
    assert_eq!(first.kind, ErrorKind::Syntax);
    assert!(
        first
            .to_string()
            .starts_with(&format!("{}: not valid TOML", at(2))),
        "{first}"
    );
}

#[test]
fn malformed_dotenv_lines_name_the_line() {
    let files = Files::new();
    let dotenv = files.write(".env", "LOAD_PAUSE=5s\njust words\nBASELINE_PAUSE=\"open\n");
    let e = errors(&ConfigInputs {
        dotenv_file: Some(dotenv.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(e.len(), 2, "{e}");
    assert!(e.iter().all(|e| e.kind == ErrorKind::Syntax));
    assert!(
        e.0[0]
            .to_string()
            .starts_with(&format!("{}:2: `just words`", dotenv.display())),
        "{e}"
    );
    assert!(e.0[1].to_string().contains("never closed"), "{e}");
}

#[test]
fn a_missing_scenario_file_is_named() {
    let files = Files::new();
    let missing = files.write("x", "").with_file_name("missing.toml");
    let e = errors(&ConfigInputs {
        scenario_file: Some(missing.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(e.len(), 1, "{e}");
    assert_eq!(e.0[0].kind, ErrorKind::Io);
    let text = e.to_string();
    assert!(
        text.contains(&format!("cannot read {}", missing.display())),
        "{text}"
    );
    assert!(text.contains("--scenario"), "{text}");
}
