//! The load-shape keys: stages, profiles, arrivals, seed and mode, how they replace the ramp,
//! and the errors of a shape given twice or not at all parseable.

use scenario::{Arrival, ConfigInputs, ErrorKind, LoadMode, Source};

use super::{Files, env, error_about, errors, ok, sets, with_sets};

#[test]
fn stages_replace_the_ramp_and_give_the_run_its_length() {
    let r = ok(&with_sets(&["load_stages=4s:40,3s:40,3s:0"]));
    let load = &r.scenario.load;
    assert_eq!(load.stages.as_deref(), Some("4s:40,3s:40,3s:0"));
    assert_eq!(load.duration(), std::time::Duration::from_secs(10));
    // 80 + 120 + 60 requests, the area under the three stages.
    assert!((load.curve().total() - 260.0).abs() < 1e-9);
    assert_eq!(r.sources["load_stages"], Source::Flag);
    assert_eq!(r.value("load_stages").as_deref(), Some("4s:40,3s:40,3s:0"));
    assert_eq!(r.value("load_profile").as_deref(), Some("none"));
}

#[test]
fn a_profile_comes_from_the_environment_with_its_source() {
    let r = ok(&ConfigInputs {
        env: env(&[("LOAD_PROFILE", "spike"), ("LOAD_ARRIVAL", "poisson")]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.load.profile.as_deref(), Some("spike"));
    assert_eq!(r.scenario.load.arrival, Arrival::Poisson);
    assert_eq!(r.sources["load_profile"].to_string(), "env LOAD_PROFILE");
    let profile = common::load::Profile::parse("spike").unwrap();
    assert_eq!(r.scenario.load.duration(), profile.curve().duration());
}

#[test]
fn none_and_an_empty_value_mean_no_shape() {
    for v in ["none", "", "NONE"] {
        let r = ok(&with_sets(&[&format!("load_stages={v}")]));
        assert_eq!(r.scenario.load.stages, None, "{v:?}");
    }
}

#[test]
fn stages_and_a_ramp_key_together_are_refused_naming_both() {
    let files = Files::new();
    let path = files.write("s.toml", "load_base_rps = 20\n");
    let e = errors(&ConfigInputs {
        scenario_file: Some(path.clone()),
        sets: sets(&["load_stages=10s:20"]),
        ..ConfigInputs::default()
    });
    let err = error_about(&e, ErrorKind::Conflict, "load_stages", "10s:20", "--set");
    assert!(err.problem.contains("load_base_rps"), "{err}");
    assert!(
        err.problem.contains(&format!("{}:1", path.display())),
        "{err}"
    );
}

#[test]
fn stages_and_a_profile_together_are_refused() {
    let e = errors(&with_sets(&["load_stages=10s:20", "load_profile=light"]));
    let err = error_about(&e, ErrorKind::Conflict, "load_profile", "light", "--set");
    assert!(err.problem.contains("load_stages"), "{err}");
}

#[test]
fn bad_stages_name_the_part_that_does_not_parse() {
    for bad in ["10s:-5", "10s", "ten:5", "10s:x", "10s:5,,oops"] {
        let e = errors(&with_sets(&[&format!("load_stages={bad}")]));
        let err = error_about(&e, ErrorKind::BadShape, "load_stages", bad, "--set");
        assert!(err.fix.contains("30s:20"), "{err}");
    }
}

#[test]
fn an_unknown_profile_lists_the_known_ones() {
    let e = errors(&with_sets(&["load_profile=huge"]));
    let err = error_about(&e, ErrorKind::BadShape, "load_profile", "huge", "--set");
    for name in common::load::Profile::ALL.map(common::load::Profile::name) {
        assert!(err.fix.contains(name), "{name} missing from {err}");
    }
}

#[test]
fn arrival_and_mode_take_only_their_words() {
    let r = ok(&with_sets(&["load_mode=async", "load_seed=42"]));
    assert_eq!(r.scenario.load.mode, LoadMode::Async);
    assert_eq!(r.scenario.load.seed, 42);
    let e = errors(&with_sets(&["load_arrival=random", "load_mode=later"]));
    error_about(&e, ErrorKind::WrongType, "load_arrival", "random", "--set");
    error_about(&e, ErrorKind::WrongType, "load_mode", "later", "--set");
}

#[test]
fn a_shape_round_trips_through_the_toml_of_config() {
    let r = ok(&with_sets(&["load_profile=burst", "load_arrival=poisson"]));
    let text = r.render(scenario::OutputFormat::Toml);
    assert!(text.contains("load_stages = \"none\""), "{text}");
    let back = scenario::scenario_from_toml(&text).expect("reads back");
    assert_eq!(back, r.scenario);
}

#[test]
fn virtual_users_make_a_closed_loop_that_keeps_the_run_duration() {
    let r = ok(&with_sets(&[
        "load_vus=20",
        "load_run_duration=45s",
        "load_think_time=500ms..2s",
    ]));
    let load = &r.scenario.load;
    assert!(load.is_closed_loop());
    assert_eq!(load.duration(), std::time::Duration::from_secs(45));
    assert_eq!(load.closed_loop().unwrap().peak(), 20);
    // A closed loop's rate follows the answers: there is no planned curve to draw.
    assert_eq!(load.curve().total(), 0.0);
    let r = ok(&with_sets(&["load_vu_stages=10s:20,5s:0"]));
    assert_eq!(
        r.scenario.load.duration(),
        std::time::Duration::from_secs(15)
    );
}

#[test]
fn virtual_users_next_to_an_open_loop_shape_are_refused() {
    let e = errors(&with_sets(&["load_vus=5", "load_base_rps=20"]));
    let err = error_about(&e, ErrorKind::Conflict, "load_vus", "5", "--set");
    assert!(err.problem.contains("load_base_rps"), "{err}");
    let e = errors(&with_sets(&["load_stages=10s:20", "load_vu_stages=10s:5"]));
    error_about(&e, ErrorKind::Conflict, "load_vu_stages", "10s:5", "--set");
    let e = errors(&with_sets(&["load_vus=5", "load_arrival=poisson"]));
    let err = error_about(&e, ErrorKind::Conflict, "load_vus", "5", "--set");
    assert!(err.problem.contains("load_arrival"), "{err}");
}

#[test]
fn a_think_time_needs_virtual_users_and_the_right_way_up() {
    let e = errors(&with_sets(&["load_think_time=1s"]));
    let err = error_about(&e, ErrorKind::Conflict, "load_think_time", "1s", "--set");
    assert!(err.fix.contains("load_vus"), "{err}");
    let e = errors(&with_sets(&["load_vus=3", "load_think_time=2s..1s"]));
    let err = error_about(
        &e,
        ErrorKind::BadShape,
        "load_think_time",
        "2s..1s",
        "--set",
    );
    assert!(err.problem.contains("upside down"), "{err}");
    let e = errors(&with_sets(&["load_vu_stages=10s:many"]));
    error_about(
        &e,
        ErrorKind::BadShape,
        "load_vu_stages",
        "10s:many",
        "--set",
    );
}
