//! demo-backend binary: flags and environment, logging, bind, then the library's `run`
//! until Ctrl-C or SIGTERM. Exit codes: 0 ok, 2 bad flags or configuration, 1 other failure.

use std::process::ExitCode;

use clap::Parser;
use demo_backend::Opts;

// The images are static musl binaries, and musl's allocator is slow under many threads; the
// per-request allocations of hyper and axum were the largest single cost in the profile.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints --help/--version (exit 0) and usage errors (exit 2) itself.
    let opts = Opts::parse();
    common::telemetry::init("demo_backend=info,common=info");
    let config = match opts.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo-backend: {e:#}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "demo-backend: cannot listen on {}: {e} (is the port in use? set --listen or LISTEN_ADDR)",
                config.listen
            );
            return ExitCode::from(1);
        }
    };
    let shutdown = async {
        let signal = common::shutdown::signal().await;
        tracing::info!(?signal, "signal received");
    };
    match demo_backend::run(config, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo-backend: {:#}", anyhow::Error::from(e));
            ExitCode::from(1)
        }
    }
}
