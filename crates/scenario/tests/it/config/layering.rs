//! Each layer overrides the one below it, key by key, and nothing else is read.

use scenario::{ConfigInputs, Scenario, Source, key_names};

use super::{Files, env, ok, sets};

#[test]
fn nothing_given_resolves_to_the_defaults_with_default_sources() {
    let r = ok(&ConfigInputs::default());
    assert_eq!(r.scenario, Scenario::default());
    assert_eq!(r.sources.len(), key_names().len());
    assert!(r.sources.values().all(|s| *s == Source::Default));
}

#[test]
fn file_overrides_default() {
    let files = Files::new();
    let path = files.write("s.toml", "load_base_rps = 20.0\n");
    let r = ok(&ConfigInputs {
        scenario_file: Some(path.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.load.base_rps, 20.0);
    assert_eq!(r.sources["load_base_rps"], Source::File { path, line: 1 });
    assert_eq!(r.sources["load_ramp_factor"], Source::Default);
}

#[test]
fn dotenv_overrides_file() {
    let files = Files::new();
    let scenario = files.write("s.toml", "load_base_rps = 20.0\n");
    let dotenv = files.write(".env", "LOAD_BASE_RPS=30\n");
    let r = ok(&ConfigInputs {
        scenario_file: Some(scenario),
        dotenv_file: Some(dotenv.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.load.base_rps, 30.0);
    assert_eq!(
        r.sources["load_base_rps"],
        Source::DotEnv {
            path: dotenv,
            line: 1,
            var: "LOAD_BASE_RPS".into()
        }
    );
}

#[test]
fn environment_overrides_dotenv() {
    let files = Files::new();
    let scenario = files.write("s.toml", "load_base_rps = 20.0\n");
    let dotenv = files.write(".env", "LOAD_BASE_RPS=30\n");
    let r = ok(&ConfigInputs {
        scenario_file: Some(scenario),
        dotenv_file: Some(dotenv),
        env: env(&[("LOAD_BASE_RPS", "40")]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.load.base_rps, 40.0);
    assert_eq!(
        r.sources["load_base_rps"],
        Source::Env {
            var: "LOAD_BASE_RPS".into()
        }
    );
}

#[test]
fn set_overrides_environment() {
    let files = Files::new();
    let scenario = files.write("s.toml", "load_base_rps = 20.0\n");
    let dotenv = files.write(".env", "LOAD_BASE_RPS=30\n");
    let r = ok(&ConfigInputs {
        scenario_file: Some(scenario),
        dotenv_file: Some(dotenv),
        env: env(&[("LOAD_BASE_RPS", "40")]),
        sets: sets(&["load_base_rps=50"]),
        platform: None,
    });
    assert_eq!(r.scenario.load.base_rps, 50.0);
    assert_eq!(r.sources["load_base_rps"], Source::Flag);
}

#[test]
fn a_later_set_overrides_an_earlier_one() {
    let r = ok(&ConfigInputs {
        sets: sets(&["baseline_pause=1s", "baseline_pause=2s"]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.value("baseline_pause").as_deref(), Some("2s"));
}

#[test]
fn a_later_dotenv_line_overrides_an_earlier_one() {
    let files = Files::new();
    let dotenv = files.write(".env", "LOAD_PAUSE=1s\nLOAD_PAUSE=3s\n");
    let r = ok(&ConfigInputs {
        dotenv_file: Some(dotenv.clone()),
        ..ConfigInputs::default()
    });
    assert_eq!(r.value("load_pause").as_deref(), Some("3s"));
    assert_eq!(
        r.sources["load_pause"].to_string(),
        format!("{}:2 (LOAD_PAUSE)", dotenv.display())
    );
}

#[test]
fn layers_override_key_by_key_and_each_key_keeps_its_own_source() {
    let files = Files::new();
    let scenario = files.write(
        "s.toml",
        "uuid = \"from-file\"\nbaseline_pause = \"1s\"\nload_pause = \"2s\"\nload_scale_delay = \"3s\"\n",
    );
    let dotenv = files.write(
        ".env",
        "LOAD_PAUSE=4s\nLOAD_SCALE_DELAY=5s\nREADY_TIMEOUT=6s\n",
    );
    let r = ok(&ConfigInputs {
        scenario_file: Some(scenario.clone()),
        dotenv_file: Some(dotenv.clone()),
        env: env(&[("LOAD_SCALE_DELAY", "7s"), ("READY_TIMEOUT", "8s")]),
        sets: sets(&["ready_timeout=9s"]),
        platform: None,
    });
    let s = &r.scenario;
    assert_eq!(s.uuid, "from-file");
    assert_eq!(s.baseline_pause.to_string(), "1s");
    assert_eq!(s.load_pause.to_string(), "4s");
    assert_eq!(s.load_scale_delay.to_string(), "7s");
    assert_eq!(s.ready_timeout.to_string(), "9s");
    assert_eq!(s.app_name, Scenario::default().app_name);

    assert_eq!(
        r.sources["uuid"],
        Source::File {
            path: scenario.clone(),
            line: 1
        }
    );
    assert_eq!(
        r.sources["baseline_pause"],
        Source::File {
            path: scenario,
            line: 2
        }
    );
    assert_eq!(
        r.sources["load_pause"],
        Source::DotEnv {
            path: dotenv,
            line: 1,
            var: "LOAD_PAUSE".into()
        }
    );
    assert_eq!(
        r.sources["load_scale_delay"],
        Source::Env {
            var: "LOAD_SCALE_DELAY".into()
        }
    );
    assert_eq!(r.sources["ready_timeout"], Source::Flag);
    assert_eq!(r.sources["app_name"], Source::Default);
}

#[test]
fn only_recognised_environment_names_are_read() {
    let r = ok(&ConfigInputs {
        env: env(&[
            ("HOSTNAME", "Not_A_Label!"),
            ("PATH", "/usr/bin"),
            // Lower case is the file and flag spelling, not an environment name.
            ("load_base_rps", "-5"),
            // A near miss in the environment is someone else's variable, not a typo of ours.
            ("LOAD_BASE_RSP", "-5"),
            ("BASE_RPS", "-5"),
        ]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario, Scenario::default());
}

#[test]
fn other_tools_names_in_dotenv_are_ignored() {
    let files = Files::new();
    let dotenv = files.write(
        ".env",
        "COMPOSE_PROJECT_NAME=demo\nFRONTEND_PORT=8081\nPROMETHEUS_PORT=9090\nBACKEND_WORKERS=8\n",
    );
    let r = ok(&ConfigInputs {
        dotenv_file: Some(dotenv),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.backend_capacity.workers, 8);
    let mut expected = Scenario::default();
    expected.backend_capacity.workers = 8;
    assert_eq!(r.scenario, expected);
}

#[test]
fn from_process_keeps_only_recognised_variables() {
    let inputs = ConfigInputs::from_process(Some("x.toml".into()), sets(&["uuid=a"]));
    assert_eq!(inputs.scenario_file, Some("x.toml".into()));
    assert_eq!(inputs.sets, ["uuid=a"]);
    // PATH is set in every test process; it must not be carried as configuration.
    assert!(std::env::var_os("PATH").is_some());
    let known: Vec<String> = key_names()
        .iter()
        .map(|k| k.to_ascii_uppercase())
        .chain([
            "LOAD_RAMP_INTERVAL_SECONDS".into(),
            "LOAD_RUN_DURATION_SECONDS".into(),
        ])
        .collect();
    for (var, _) in &inputs.env {
        assert!(known.contains(var), "{var} is not a configuration variable");
    }
}
