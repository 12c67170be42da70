//! loadgen binary: parse flags, bind /metrics, run until the schedule ends or Ctrl-C/SIGTERM,
//! print the summary and write the reports. Exit 0 ok, 2 bad flags, 99 a threshold failed,
//! 1 any other failure.

use std::process::ExitCode;

use clap::Parser;

const THRESHOLD_FAILED: u8 = 99;

fn main() -> ExitCode {
    let config = match loadgen::Opts::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    // Requests go out from the engine's own threads (--threads); this runtime only serves
    // /metrics, ticks the timeline and waits for signals.
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(run(config)),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(config: loadgen::Config) -> ExitCode {
    common::telemetry::init("loadgen=info,common=info");
    let listener = match tokio::net::TcpListener::bind(config.metrics_addr).await {
        Ok(l) => l,
        Err(source) => {
            let e = loadgen::Error::MetricsBind {
                addr: config.metrics_addr,
                source,
            };
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let reports = config.reports.clone();
    let report = match loadgen::run(config, Some(listener), async {
        common::shutdown::signal().await;
    })
    .await
    {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {:#}", anyhow::Error::from(e));
            return ExitCode::from(1);
        }
    };
    println!("{}", report.summary());
    let mut code = ExitCode::SUCCESS;
    for path in &reports {
        match report.write_to(path) {
            Ok(()) => eprintln!("report written to {}", path.display()),
            Err(e) => {
                eprintln!("error: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    if !report.thresholds_passed() {
        let failed = report.thresholds.iter().filter(|t| !t.passed).count();
        eprintln!("{failed} threshold(s) failed");
        return ExitCode::from(THRESHOLD_FAILED);
    }
    code
}
