//! `promtool check metrics` (Debian's `prometheus` package) on a page, as a test assertion.
//!
//! `./scripts/test.sh` installs promtool, so under CI (`CI` set) a missing promtool fails the
//! test; a developer without it gets a note and the rest of the test still runs.

use std::io::Write;
use std::process::{Command, Stdio};

/// Panics with promtool's report when it finds a problem in `page` (lint warnings included:
/// promtool exits non-zero for them too).
pub fn assert_promtool_accepts(page: &str) {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_some() => {
            panic!("promtool cannot run ({e}): install it with `apt-get install prometheus`")
        }
        Err(e) => {
            eprintln!("NOTE: promtool cannot run ({e}); `promtool check metrics` skipped");
            return;
        }
    };
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
    #[should_panic(expected = "refused the page")]
    fn a_counter_without_total_is_refused() {
        assert_promtool_accepts(
            "# HELP demo_requests Requests.\n# TYPE demo_requests counter\ndemo_requests 3\n",
        );
    }
}
