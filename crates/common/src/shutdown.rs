//! The process's shutdown signal: Ctrl-C or SIGTERM, whichever comes first.

/// Which signal asked the process to stop; the orchestrator exits 130 on an interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

/// Resolves when the process receives Ctrl-C (SIGINT) or SIGTERM.
///
/// If a handler cannot be installed (no signal support in a sandbox) that signal is simply
/// never reported, rather than stopping the process at once.
pub async fn signal() -> Signal {
    let interrupt = async {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for Ctrl-C");
                std::future::pending().await
            }
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
                Signal::Terminate
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<Signal>();

    tokio::select! {
        s = interrupt => s,
        s = terminate => s,
    }
}
