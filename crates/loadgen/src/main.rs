//! loadgen binary: parse flags, validate, run; exit 2 on bad flags, 1 on any other failure.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let opts = loadgen::Opts::parse();
    let config = match opts.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    common::telemetry::init("loadgen=info,common=info");
    match loadgen::run(config, None, async {
        common::shutdown::signal().await;
    })
    .await
    {
        Ok(report) => {
            println!("sent {}", report.sent);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::from(e));
            ExitCode::from(1)
        }
    }
}
