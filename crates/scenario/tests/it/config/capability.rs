//! The capability keys: off by default, read with `capability = true`, and every key that
//! would be ignored or contradicts the climb reported at once (exit 2).

use scenario::{ConfigInputs, ErrorKind, ScaleMode};

use super::{error_about, errors, ok, with_sets};

#[test]
fn off_by_default_and_read_when_on() {
    assert!(!ok(&ConfigInputs::default()).scenario.capability.enabled);
    let r = ok(&with_sets(&[
        "capability=true",
        "workload=pipeline",
        "capability_start_rps=20",
        "capability_step_factor=2",
        "capability_step=3s",
        "capability_max_rps=160",
        "capability_settle=4s",
        "capability_lag_window=2s",
        "capability_p95=250ms",
        "capability_error_rate=0",
    ]));
    let c = &r.scenario.capability;
    assert!(c.enabled);
    assert_eq!(c.ladder(), vec![20.0, 40.0, 80.0, 160.0]);
    assert_eq!(c.p95.get().as_millis(), 250);
    assert_eq!(c.error_rate, 0.0);
    assert_eq!(r.value("capability_settle").as_deref(), Some("4s"));
}

#[test]
fn out_of_range_values_name_their_key() {
    let e = errors(&with_sets(&[
        "capability=true",
        "capability_step_factor=1",
        "capability_error_rate=1.5",
        "capability_start_rps=0",
        "capability_settle=0s",
    ]));
    assert_eq!(e.len(), 4, "{e}");
    let factor = error_about(
        &e,
        ErrorKind::OutOfRange,
        "capability_step_factor",
        "1",
        "--set",
    );
    assert!(factor.to_string().contains("never rise"), "{factor}");
    error_about(
        &e,
        ErrorKind::OutOfRange,
        "capability_error_rate",
        "1.5",
        "--set",
    );
    error_about(
        &e,
        ErrorKind::OutOfRange,
        "capability_start_rps",
        "0",
        "--set",
    );
    error_about(
        &e,
        ErrorKind::OutOfRange,
        "capability_settle",
        "0s",
        "--set",
    );
}

#[test]
fn every_contradiction_is_listed_at_once() {
    let e = errors(&with_sets(&[
        "capability=true",
        "capability_start_rps=100",
        "capability_max_rps=50",
        "load_pause=10s",
        "load_base_rps=40",
        "scale_mode=hpa",
    ]));
    assert_eq!(e.len(), 4, "{e}");
    let ceiling = error_about(&e, ErrorKind::Conflict, "capability_max_rps", "50", "--set");
    assert!(ceiling.to_string().contains("below its start"), "{ceiling}");
    error_about(&e, ErrorKind::Conflict, "load_pause", "10s", "--set");
    error_about(&e, ErrorKind::Conflict, "load_base_rps", "40", "--set");
    let auto = error_about(&e, ErrorKind::Conflict, "capability", "true", "--set");
    assert!(auto.to_string().contains(ScaleMode::Hpa.as_str()), "{auto}");
}

#[test]
fn its_keys_beside_capability_off_would_be_ignored() {
    let e = errors(&with_sets(&["capability_step=3s", "capability_p95=2s"]));
    assert_eq!(e.len(), 2, "{e}");
    let step = error_about(&e, ErrorKind::Conflict, "capability_step", "3s", "--set");
    assert!(step.to_string().contains("capability = true"), "{step}");
    error_about(&e, ErrorKind::Conflict, "capability_p95", "2s", "--set");
}

#[test]
fn load_plans_contradict_the_climb() {
    let files = super::Files::new();
    let (inputs, _) = super::file_inputs(
        &files,
        "capability = true\n[[load]]\nname = \"a\"\nbase_rps = 5\n",
    );
    let e = errors(&inputs);
    assert!(
        e.iter()
            .any(|x| x.key == "capability" && x.to_string().contains("[[load]]")),
        "{e}"
    );
}
