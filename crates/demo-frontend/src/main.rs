//! demo-frontend binary: parse flags, bind, run until a shutdown signal.

use std::process::ExitCode;

use clap::Parser;
use demo_frontend::Opts;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Opts::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    common::telemetry::init("demo_frontend=info,common=info");
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot bind {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    match demo_frontend::run(config, listener, async {
        common::shutdown::signal().await;
    })
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
