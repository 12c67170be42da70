//! The orchestrator binary: parses flags, sets up logging, and hands the command to
//! `orchestrator::commands`, which maps every outcome to an exit code.
use std::process::ExitCode;

use clap::Parser;
use orchestrator::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::telemetry::init("orchestrator=info,common=info");
    match orchestrator::commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
