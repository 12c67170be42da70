//! Every resolved value remembers where it came from: file lines, `.env` lines with the
//! variable as written, environment variables, flags.

use std::path::PathBuf;

use scenario::{ConfigInputs, Source};

use super::{Files, env, ok, sets};

#[test]
fn sources_print_as_documented() {
    let cases = [
        (Source::Default, "default"),
        (
            Source::File {
                path: PathBuf::from("scenarios/x.toml"),
                line: 12,
            },
            "scenarios/x.toml:12",
        ),
        (
            Source::DotEnv {
                path: PathBuf::from(".env"),
                line: 3,
                var: "LOAD_BASE_RPS".into(),
            },
            ".env:3 (LOAD_BASE_RPS)",
        ),
        (
            Source::Env {
                var: "LOAD_BASE_RPS".into(),
            },
            "env LOAD_BASE_RPS",
        ),
        (Source::Flag, "--set"),
    ];
    for (source, text) in cases {
        assert_eq!(source.to_string(), text);
    }
}

#[test]
fn file_sources_carry_the_line_of_each_key() {
    let files = Files::new();
    let path = files.write(
        "lines.toml",
        "# A scenario with comments and blank lines.\n\
         \n\
         uuid = \"lines\"   # line 3\n\
         \n\
         # the ramp\n\
         load_base_rps = 12.5\n\
         load_ramp_factor = 2\n\
         \n\
         \n\
         actions = [\n\
           \"book_ticket\",\n\
         ]\n\
         enable_load = false\n",
    );
    let r = ok(&ConfigInputs {
        scenario_file: Some(path.clone()),
        ..ConfigInputs::default()
    });
    let line = |key: &str| match &r.sources[key] {
        Source::File { path: p, line } => {
            assert_eq!(*p, path);
            *line
        }
        other => panic!("{key} came from {other}"),
    };
    assert_eq!(line("uuid"), 3);
    assert_eq!(line("load_base_rps"), 6);
    assert_eq!(line("load_ramp_factor"), 7);
    assert_eq!(line("actions"), 10);
    assert_eq!(line("enable_load"), 13);
    assert_eq!(r.scenario.actions, "book_ticket");
    assert_eq!(r.scenario.load.ramp_factor, 2.0);
    assert!(!r.scenario.enable_load);
    assert_eq!(r.sources["load_pause"], Source::Default);
    assert_eq!(
        r.source("uuid").map(ToString::to_string),
        Some(format!("{}:3", path.display()))
    );
}

#[test]
fn dotenv_sources_carry_the_line_and_the_variable_as_written() {
    let files = Files::new();
    let dotenv = files.write(
        ".env",
        "# the demo's names\n\
         export LOAD_BASE_RPS=3\n\
         \n\
         LOAD_RAMP_INTERVAL_SECONDS=\"15\" # seconds\n",
    );
    let r = ok(&ConfigInputs {
        dotenv_file: Some(dotenv.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(
        r.sources["load_base_rps"],
        Source::DotEnv {
            path: dotenv.clone(),
            line: 2,
            var: "LOAD_BASE_RPS".into()
        }
    );
    assert_eq!(
        r.sources["load_ramp_interval"],
        Source::DotEnv {
            path: dotenv,
            line: 4,
            var: "LOAD_RAMP_INTERVAL_SECONDS".into()
        }
    );
    assert_eq!(r.value("load_ramp_interval").as_deref(), Some("15s"));
}

#[test]
fn env_and_flag_sources_are_recorded() {
    let r = ok(&ConfigInputs {
        env: env(&[("LOAD_RUN_DURATION_SECONDS", "60"), ("APP_NAME", "cinema")]),
        sets: sets(&["prepull=false"]),
        ..ConfigInputs::default()
    });
    assert_eq!(
        r.sources["load_run_duration"],
        Source::Env {
            var: "LOAD_RUN_DURATION_SECONDS".into()
        }
    );
    assert_eq!(
        r.sources["app_name"],
        Source::Env {
            var: "APP_NAME".into()
        }
    );
    assert_eq!(r.sources["prepull"], Source::Flag);
    assert_eq!(r.scenario.app_name, "cinema");
    assert!(!r.scenario.prepull);
}
