//! The one tracing set-up of every binary: `RUST_LOG` when set, else a per-crate default;
//! human-readable lines on a terminal, JSON lines otherwise (containers, CI).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. `default_directives` applies when `RUST_LOG` is unset,
/// e.g. `"demo_backend=info,common=info"`. Logs go to stderr so stdout stays for reports.
pub fn init(default_directives: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_directives));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling main paths) is harmless, so its error is ignored.
    let _ = if std::io::stderr().is_terminal() {
        builder.compact().try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
}
