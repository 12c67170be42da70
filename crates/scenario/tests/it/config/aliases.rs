//! The original demo's `.env` names work, in every layer that reads variables.

use scenario::{ConfigInputs, Source};

use super::{Files, env, ok, sets};

#[test]
fn the_demos_dotenv_file_works_as_is() {
    let files = Files::new();
    let dotenv = files.write(
        ".env",
        "LOAD_BASE_RPS=2\n\
         LOAD_RAMP_FACTOR=1.35\n\
         LOAD_RAMP_INTERVAL_SECONDS=45\n\
         LOAD_RUN_DURATION_SECONDS=300\n\
         BACKEND_SCALE_REPLICAS=3\n\
         LOAD_SCALE_DELAY=40\n\
         BASELINE_PAUSE=25\n\
         LOAD_PAUSE=35\n",
    );
    let r = ok(&ConfigInputs {
        dotenv_file: Some(dotenv.clone()),
        ..ConfigInputs::default()
    });
    let expected = [
        ("load_base_rps", "2", 1, "LOAD_BASE_RPS"),
        ("load_ramp_factor", "1.35", 2, "LOAD_RAMP_FACTOR"),
        ("load_ramp_interval", "45s", 3, "LOAD_RAMP_INTERVAL_SECONDS"),
        ("load_run_duration", "5m", 4, "LOAD_RUN_DURATION_SECONDS"),
        ("backend_scale_replicas", "3", 5, "BACKEND_SCALE_REPLICAS"),
        ("load_scale_delay", "40s", 6, "LOAD_SCALE_DELAY"),
        ("baseline_pause", "25s", 7, "BASELINE_PAUSE"),
        ("load_pause", "35s", 8, "LOAD_PAUSE"),
    ];
    for (key, value, line, var) in expected {
        assert_eq!(r.value(key).as_deref(), Some(value), "{key}");
        assert_eq!(
            r.sources[key],
            Source::DotEnv {
                path: dotenv.clone(),
                line,
                var: var.into()
            },
            "{key}"
        );
    }
}

#[test]
fn aliases_work_in_the_environment_file_and_flags() {
    let files = Files::new();
    let scenario = files.write("s.toml", "load_ramp_interval_seconds = 9\n");
    let r = ok(&ConfigInputs {
        scenario_file: Some(scenario),
        env: env(&[("LOAD_RUN_DURATION_SECONDS", "1m")]),
        sets: sets(&["LOAD_BASE_RPS=7"]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.value("load_ramp_interval").as_deref(), Some("9s"));
    assert_eq!(r.value("load_run_duration").as_deref(), Some("1m"));
    assert_eq!(r.scenario.load.base_rps, 7.0);
    assert_eq!(r.sources["load_base_rps"], Source::Flag);
}

#[test]
fn the_keys_own_name_wins_over_its_alias_in_the_environment() {
    for pairs in [
        [
            ("LOAD_RAMP_INTERVAL", "2s"),
            ("LOAD_RAMP_INTERVAL_SECONDS", "99"),
        ],
        [
            ("LOAD_RAMP_INTERVAL_SECONDS", "99"),
            ("LOAD_RAMP_INTERVAL", "2s"),
        ],
    ] {
        let r = ok(&ConfigInputs {
            env: env(&pairs),
            ..ConfigInputs::default()
        });
        assert_eq!(r.value("load_ramp_interval").as_deref(), Some("2s"));
        assert_eq!(
            r.sources["load_ramp_interval"],
            Source::Env {
                var: "LOAD_RAMP_INTERVAL".into()
            }
        );
    }
}
