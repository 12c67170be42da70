//! The rules each value must keep, refused with the key, the value and the fix: types,
//! rates, the ramp, replicas, names, images, durations, actions and node ports.

use scenario::{ConfigInputs, ErrorKind};

use super::validation::{file_errors, set_errors};
use super::{Files, env, error_about, errors, sets};

#[test]
fn wrong_types_name_what_was_expected() {
    let (e, at, _files) = file_errors(
        "backend_replicas = \"two\"\n\
         enable_load = \"yes\"\n\
         load_base_rps = true\n\
         uuid = 7\n\
         baseline_pause = [1]\n\
         frontend_service_type = \"LoadBalancer\"\n\
         loadgen_kind = \"cronjob\"\n\
         frontend_node_port = 70000\n",
    );
    assert_eq!(e.len(), 8, "{e}");
    let a = error_about(
        &e,
        ErrorKind::WrongType,
        "backend_replicas",
        "\"two\"",
        &at(1),
    );
    assert!(
        a.problem
            .contains("expected an integer, found a TOML string"),
        "{a}"
    );
    error_about(&e, ErrorKind::WrongType, "enable_load", "\"yes\"", &at(2));
    error_about(&e, ErrorKind::WrongType, "load_base_rps", "true", &at(3));
    error_about(&e, ErrorKind::WrongType, "uuid", "7", &at(4));
    error_about(&e, ErrorKind::WrongType, "baseline_pause", "[1]", &at(5));
    let f = error_about(
        &e,
        ErrorKind::WrongType,
        "frontend_service_type",
        "\"LoadBalancer\"",
        &at(6),
    );
    assert!(f.fix.contains("NodePort"), "{f}");
    error_about(
        &e,
        ErrorKind::WrongType,
        "loadgen_kind",
        "\"cronjob\"",
        &at(7),
    );
    error_about(
        &e,
        ErrorKind::WrongType,
        "frontend_node_port",
        "70000",
        &at(8),
    );
}

#[test]
fn text_values_that_are_not_numbers_are_wrong_types() {
    let e = errors(&ConfigInputs {
        env: env(&[
            ("BACKEND_REPLICAS", "1.5"),
            ("LOAD_BASE_RPS", "ten"),
            ("LOAD_MAX_RPS", "inf"),
        ]),
        ..ConfigInputs::default()
    });
    assert_eq!(e.len(), 3, "{e}");
    error_about(
        &e,
        ErrorKind::WrongType,
        "backend_replicas",
        "1.5",
        "env BACKEND_REPLICAS",
    );
    error_about(
        &e,
        ErrorKind::WrongType,
        "load_base_rps",
        "ten",
        "env LOAD_BASE_RPS",
    );
    let cap = error_about(
        &e,
        ErrorKind::WrongType,
        "load_max_rps",
        "inf",
        "env LOAD_MAX_RPS",
    );
    assert!(cap.fix.contains("`none`"), "{cap}");
}

#[test]
fn rates_must_be_above_zero() {
    for (set, value) in [("load_base_rps=0", "0"), ("load_base_rps=-2.5", "-2.5")] {
        let e = set_errors(&[set]);
        assert_eq!(e.len(), 1, "{e}");
        error_about(&e, ErrorKind::OutOfRange, "load_base_rps", value, "--set");
    }
    let e = set_errors(&["load_max_rps=0"]);
    let a = error_about(&e, ErrorKind::OutOfRange, "load_max_rps", "0", "--set");
    assert!(a.fix.contains("`none` for no cap"), "{a}");
}

#[test]
fn a_rate_cap_of_none_means_no_cap() {
    for spelling in ["none", "None", "NONE"] {
        let r = super::ok(&ConfigInputs {
            sets: sets(&[&format!("load_max_rps={spelling}")]),
            ..ConfigInputs::default()
        });
        assert_eq!(r.scenario.load.max_rps, None);
        assert_eq!(r.value("load_max_rps").as_deref(), Some("none"));
    }
    let files = Files::new();
    let path = files.write("s.toml", "load_max_rps = \"none\"\n");
    let r = super::ok(&ConfigInputs {
        scenario_file: Some(path),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.load.max_rps, None);
}

#[test]
fn the_ramp_factor_must_be_at_least_one() {
    let e = set_errors(&["load_ramp_factor=0.9"]);
    let a = error_about(
        &e,
        ErrorKind::OutOfRange,
        "load_ramp_factor",
        "0.9",
        "--set",
    );
    assert!(a.fix.contains("1 for a constant rate"), "{a}");
    let r = super::ok(&ConfigInputs {
        sets: sets(&["load_ramp_factor=1"]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.load.ramp_factor, 1.0);
}

#[test]
fn the_scale_up_may_not_be_below_the_starting_replicas() {
    let files = Files::new();
    let scenario = files.write("s.toml", "uuid = \"x\"\nbackend_replicas = 3\n");
    let e = errors(&ConfigInputs {
        scenario_file: Some(scenario.clone()),
        sets: sets(&["backend_scale_replicas=2"]),
        ..ConfigInputs::default()
    });
    assert_eq!(e.len(), 1, "{e}");
    let a = error_about(
        &e,
        ErrorKind::Conflict,
        "backend_scale_replicas",
        "2",
        "--set",
    );
    assert!(
        a.problem.contains(&format!(
            "backend_replicas = 3 (from {}:2)",
            scenario.display()
        )),
        "{a}"
    );
    assert!(a.fix.contains("to 3 or more"), "{a}");
}

#[test]
fn a_rejected_value_does_not_cause_follow_on_errors() {
    // backend_replicas keeps its default (1) after the rejection; judging the scale-up
    // against it would be noise.
    let e = set_errors(&["backend_replicas=lots", "backend_scale_replicas=1"]);
    assert_eq!(e.len(), 1, "{e}");
    error_about(
        &e,
        ErrorKind::WrongType,
        "backend_replicas",
        "lots",
        "--set",
    );
}

#[test]
fn zero_replicas_and_workers_are_refused_where_they_make_no_sense() {
    let keys = [
        "backend_replicas",
        "frontend_replicas",
        "loadgen_replicas",
        "prometheus_replicas",
        "backend_workers",
    ];
    for key in keys {
        let e = set_errors(&[&format!("{key}=0")]);
        let a = error_about(&e, ErrorKind::OutOfRange, key, "0", "--set");
        assert!(a.problem.contains("at least 1"), "{a}");
    }
    // A queue of 0 is meaningful: shed as soon as every worker is busy.
    let r = super::ok(&ConfigInputs {
        sets: sets(&["backend_queue=0"]),
        ..ConfigInputs::default()
    });
    assert_eq!(r.scenario.backend_capacity.queue, 0);
}

#[test]
fn names_must_be_rfc_1123_labels() {
    let long = "a".repeat(64);
    let cases = [
        ("uuid", "Demo_Run", "`D` is not allowed"),
        ("namespace_prefix", "-demo", "start and end"),
        ("app_name", "movie.night", "`.` is not allowed"),
        ("backend_name", "1backend", "must start with a letter"),
        ("frontend_name", "", "it is empty"),
        ("loadgen_name", long.as_str(), "above 63"),
        ("prometheus_name", "prom-", "start and end"),
    ];
    for (key, value, why) in cases {
        let e = set_errors(&[&format!("{key}={value}")]);
        assert_eq!(e.len(), 1, "{e}");
        let a = error_about(&e, ErrorKind::InvalidName, key, value, "--set");
        assert!(
            a.problem.contains("RFC 1123") && a.problem.contains(why),
            "{a}"
        );
        assert!(a.fix.contains("lowercase letters"), "{a}");
    }
}

#[test]
fn component_names_leave_room_for_the_names_made_from_them() {
    // `pull-<name>` (the pre-pull container) and `<backend>-headless` must fit in 63 too:
    // the API server refuses them otherwise, after the run has started.
    for (key, max) in [
        ("frontend_name", 58),
        ("loadgen_name", 58),
        ("prometheus_name", 56),
        ("backend_name", 54),
    ] {
        let fits = "a".repeat(max);
        let inputs = ConfigInputs {
            sets: sets(&[&format!("{key}={fits}")]),
            ..ConfigInputs::default()
        };
        assert!(scenario::resolve(&inputs).is_ok(), "{key} of {max} fits");
        let long = "a".repeat(max + 1);
        let e = set_errors(&[&format!("{key}={long}")]);
        let a = error_about(&e, ErrorKind::InvalidName, key, &long, "--set");
        assert!(a.problem.contains(&format!("above {max}")), "{a}");
    }
}

#[test]
fn images_must_be_references() {
    let e = set_errors(&["backend_image=my image", "pause_image="]);
    assert_eq!(e.len(), 2, "{e}");
    error_about(
        &e,
        ErrorKind::InvalidName,
        "backend_image",
        "my image",
        "--set",
    );
    error_about(&e, ErrorKind::InvalidName, "pause_image", "", "--set");
}

#[test]
fn the_namespace_may_not_exceed_63_characters() {
    let uuid = "r".repeat(60);
    let e = errors(&ConfigInputs {
        env: env(&[("UUID", &uuid)]),
        ..ConfigInputs::default()
    });
    assert_eq!(e.len(), 1, "{e}");
    let a = error_about(&e, ErrorKind::NamespaceTooLong, "uuid", &uuid, "env UUID");
    assert!(a.problem.contains(&format!("app-demo-{uuid}")), "{a}");
    assert!(a.problem.contains("is 69 characters"), "{a}");
    assert!(
        a.problem
            .contains("namespace_prefix from default, uuid from env UUID"),
        "{a}"
    );
    assert!(a.fix.contains("by 6 characters"), "{a}");
}

#[test]
fn durations_must_parse_and_some_must_be_positive() {
    let (e, at, _files) = file_errors(
        "baseline_pause = \"5 minutes\"\n\
         load_pause = \"-3s\"\n\
         load_ramp_interval = \"0s\"\n\
         ready_timeout = 0\n\
         load_scale_delay = 0\n\
         load_run_duration = 90\n",
    );
    assert_eq!(e.len(), 4, "{e}");
    let a = error_about(
        &e,
        ErrorKind::BadDuration,
        "baseline_pause",
        "\"5 minutes\"",
        &at(1),
    );
    assert!(a.fix.contains("`1m30s`"), "{a}");
    error_about(&e, ErrorKind::BadDuration, "load_pause", "\"-3s\"", &at(2));
    error_about(
        &e,
        ErrorKind::OutOfRange,
        "load_ramp_interval",
        "\"0s\"",
        &at(3),
    );
    error_about(&e, ErrorKind::OutOfRange, "ready_timeout", "0", &at(4));
}

#[test]
fn actions_must_be_known_with_weights_above_zero() {
    let cases = [
        ("book_ticket,watch_movie", "`watch_movie` is not an action"),
        ("book_tiket=2", "did you mean `book_ticket`?"),
        ("book_ticket=0", "not a whole number above 0"),
        ("book_ticket=x,cancel_ticket", "not a whole number above 0"),
        (" , ", "no action is listed"),
    ];
    for (value, why) in cases {
        let e = set_errors(&[&format!("actions={value}")]);
        assert_eq!(e.len(), 1, "{e}");
        let a = error_about(&e, ErrorKind::UnknownAction, "actions", value, "--set");
        assert!(a.problem.contains(why), "{a}");
    }
    let r = super::ok(&ConfigInputs {
        sets: sets(&["actions=book_ticket=5, cancel_ticket ,give_feedback=2"]),
        ..ConfigInputs::default()
    });
    assert_eq!(
        r.scenario.actions,
        "book_ticket=5, cancel_ticket ,give_feedback=2"
    );
}

#[test]
fn node_ports_must_be_in_range_and_distinct() {
    let e = set_errors(&["frontend_node_port=8080"]);
    let a = error_about(
        &e,
        ErrorKind::OutOfRange,
        "frontend_node_port",
        "8080",
        "--set",
    );
    assert!(a.fix.contains("30000 to 32767"), "{a}");
    let e = set_errors(&["prometheus_node_port=30080"]);
    let b = error_about(
        &e,
        ErrorKind::Conflict,
        "prometheus_node_port",
        "30080",
        "--set",
    );
    assert!(
        b.problem.contains("frontend_node_port (from default)"),
        "{b}"
    );
    // A ClusterIP frontend has no NodePort to collide with.
    super::ok(&ConfigInputs {
        sets: sets(&[
            "prometheus_node_port=30080",
            "frontend_service_type=ClusterIP",
        ]),
        ..ConfigInputs::default()
    });
}
