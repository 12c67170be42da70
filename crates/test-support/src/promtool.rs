//! `promtool check metrics` (Debian's `prometheus` package) on a page, and `promtool check
//! config` on a configuration file, as test assertions.
//!
//! `./scripts/test.sh` installs promtool, so under CI (`CI` set) a missing promtool fails the
//! test; a developer without it gets a note and the rest of the test still runs.

use std::io::Write;
use std::process::{Command, Stdio};

/// promtool, or `None` (with a note) when it cannot run outside CI; under CI a panic.
fn promtool(args: &[&str]) -> Option<Command> {
    let mut cmd = Command::new("promtool");
    cmd.args(args);
    match Command::new("promtool").arg("--version").output() {
        Ok(_) => Some(cmd),
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("promtool cannot run ({e}): install it with `apt-get install prometheus`")
        }
        Err(e) => {
            eprintln!(
                "NOTE: promtool cannot run ({e}); `promtool {}` skipped",
                args.join(" ")
            );
            None
        }
    }
}

/// `promtool check config --syntax-only` on `yaml`: `None` when promtool cannot run (outside
/// CI), else its verdict with its report. `--syntax-only`: the files a configuration names
/// (a ServiceAccount's token and CA) exist in the pod, not here.
pub fn promtool_check_config(yaml: &str) -> Option<Result<(), String>> {
    let mut file = tempfile::NamedTempFile::new().expect("a temporary file");
    file.write_all(yaml.as_bytes())
        .expect("write the configuration");
    let path = file.path().display().to_string();
    let out = promtool(&["check", "config", "--syntax-only", &path])?
        .output()
        .expect("promtool ran");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(report)
    })
}

/// Panics with promtool's report when `yaml` is not a valid Prometheus configuration.
pub fn assert_promtool_accepts_config(yaml: &str) {
    if let Some(Err(report)) = promtool_check_config(yaml) {
        panic!(
            "promtool check config refused the configuration:\n{report}\n--- prometheus.yml ---\n{yaml}"
        );
    }
}

/// Panics with promtool's report when it finds a problem in `page` (lint warnings included:
/// promtool exits non-zero for them too).
pub fn assert_promtool_accepts(page: &str) {
    let Some(mut cmd) = promtool(&["check", "metrics"]) else {
        return;
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(page.as_bytes())
            .expect("write the page to promtool");
    }
    let out = child.wait_with_output().expect("promtool ran");
    assert!(
        out.status.success(),
        "promtool check metrics refused the page:\n{}{}\n--- page ---\n{page}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_page_passes() {
        assert_promtool_accepts(
            "# HELP demo_requests_total Requests.\n# TYPE demo_requests_total counter\ndemo_requests_total 3\n",
        );
    }

    #[test]
    fn a_minimal_config_passes() {
        assert_promtool_accepts_config(
            "scrape_configs:\n  - job_name: a\n    static_configs:\n      - targets: [\"localhost:9090\"]\n",
        );
    }

    #[test]
    #[should_panic(expected = "refused the configuration")]
    fn an_unknown_field_is_refused() {
        assert_promtool_accepts_config("scrape_configs:\n  - job_name: a\n    no_such_field: 1\n");
    }

    #[test]
    #[should_panic(expected = "refused the page")]
    fn a_counter_without_total_is_refused() {
        assert_promtool_accepts(
            "# HELP demo_requests Requests.\n# TYPE demo_requests counter\ndemo_requests 3\n",
        );
    }
}
