//! The built binary: bad flags exit 2 naming the flag; the library validates the same way.

use std::process::Command;

use clap::Parser;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .env_clear()
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--target", "ftp://x"][..], "--target"),
        (&["--target", "http://x", "--shard", "2/2"], "--shard"),
        (
            &["--target", "http://x", "--progress", "loud"],
            "--progress",
        ),
        (
            &["--target", "http://x", "--ramp-interval", "0s"],
            "--ramp-interval",
        ),
        (
            &["--target", "http://x", "--duration", "soon"],
            "--duration",
        ),
        (&["--target", "http://x", "--base-rps=-1"], "--base-rps"),
        (&["--target", "http://x", "--actions", "dance"], "--actions"),
        (
            &["--target", "http://x", "--actions", "book_ticket=x"],
            "--actions",
        ),
        (
            &["--target", "http://x", "--conn-max-age", "later"],
            "--conn-max-age",
        ),
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?} should name {flag}: {err}");
    }
}

#[test]
fn flags_read_their_environment_variables() {
    let opts =
        loadgen::Opts::try_parse_from(["loadgen", "--target", "http://127.0.0.1:1/"]).unwrap();
    let c = opts.into_config().unwrap();
    assert_eq!(c.target, "http://127.0.0.1:1");
    assert_eq!(c.ramp.base_rps, 2.0);
    assert_eq!(c.ramp.factor, 1.35);
    assert_eq!(c.ramp.interval.as_secs(), 45);
    assert_eq!(c.ramp.max_rps, None);
    assert_eq!(c.actions.len(), 3);
    assert_eq!(c.conn_max_age.as_secs(), 10);

    let out = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .env_clear()
        .env("TARGET_URL", "http://127.0.0.1:1")
        .env("RAMP_INTERVAL_SECONDS", "0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "RAMP_INTERVAL_SECONDS=0 is read and rejected"
    );
}

#[test]
fn run_refuses_rather_than_pretending() {
    let (code, err) = run(&["--target", "http://127.0.0.1:1", "--duration", "1s"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not implemented"), "{err}");
}
