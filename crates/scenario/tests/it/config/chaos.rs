//! `kill_worker_at`: off by default, read with the pipeline, and refused (exit 2) where no
//! worker runs or past its bound.

use scenario::{ConfigInputs, ErrorKind};

use super::{error_about, errors, ok, with_sets};

#[test]
fn off_by_default_and_read_with_the_pipeline() {
    let default = ok(&ConfigInputs::default()).scenario;
    assert!(default.pipeline.kill_worker_at.get().is_zero());
    let r = ok(&with_sets(&["workload=pipeline", "kill_worker_at=12s"]));
    assert_eq!(r.scenario.pipeline.kill_worker_at.get().as_secs(), 12);
    assert_eq!(r.value("kill_worker_at").as_deref(), Some("12s"));
}

#[test]
fn beside_movie_night_or_past_an_hour_it_names_itself() {
    let e = errors(&with_sets(&["kill_worker_at=5s"]));
    let ignored = error_about(&e, ErrorKind::Conflict, "kill_worker_at", "5s", "--set");
    assert!(
        ignored.to_string().contains("workload = pipeline"),
        "{ignored}"
    );
    let e = errors(&with_sets(&["workload=pipeline", "kill_worker_at=2h"]));
    error_about(&e, ErrorKind::OutOfRange, "kill_worker_at", "2h", "--set");
}
