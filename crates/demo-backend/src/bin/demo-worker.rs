//! demo-worker binary: flags and environment, logging, bind, then `demo_backend::worker::run`
//! until Ctrl-C or SIGTERM. Exit codes: 0 ok, 2 bad flags or configuration, 1 other failure.

use std::process::ExitCode;

use clap::Parser;
use demo_backend::worker::WorkerOpts;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // clap prints --help/--version (exit 0) and usage errors (exit 2) itself.
    let opts = WorkerOpts::parse();
    common::telemetry::init("demo_backend=info,common=info");
    let config = match opts.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo-worker: {e:#}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "demo-worker: cannot listen on {}: {e} (is the port in use? set --listen or LISTEN_ADDR)",
                config.listen
            );
            return ExitCode::from(1);
        }
    };
    let shutdown = async {
        let signal = common::shutdown::signal().await;
        tracing::info!(?signal, "signal received");
    };
    match demo_backend::worker::run(config, listener, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo-worker: {:#}", anyhow::Error::from(e));
            ExitCode::from(1)
        }
    }
}
