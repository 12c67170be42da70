//! The orchestrator binary: parses flags, dispatches to the library, maps outcomes to exit
//! codes (0 ok, 2 bad configuration or flags, 130 interrupted, 1 anything else).
use std::process::ExitCode;

use clap::Parser;
use orchestrator::cli::{Cli, Command, CompareFormat, RunArgs, RuntimeKind};
use orchestrator::compare;
use orchestrator::report::Report;

/// Exit code for bad configuration or flags (clap uses it too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    common::telemetry::init("orchestrator=info,common=info");
    let command = cli.command.unwrap_or(Command::Run(RunArgs {
        port_base: orchestrator::local::DEFAULT_PORT_BASE,
        runs_dir: "runs".into(),
        ..RunArgs::default()
    }));
    match dispatch(cli.context, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(context: Option<String>, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Compare(args) => {
            let read = |p: &std::path::Path| Report::read(p);
            let (a, b) = match (read(&args.a), read(&args.b)) {
                (Ok(a), Ok(b)) => (a, b),
                (a, b) => {
                    for e in [a.err(), b.err()].into_iter().flatten() {
                        eprintln!("error: {e}");
                    }
                    return Ok(ExitCode::from(EXIT_CONFIG));
                }
            };
            match args.format {
                CompareFormat::Markdown => print!("{}", compare::markdown(&a, &b)),
                CompareFormat::Json => println!("{}", compare::json(&a, &b)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) if args.runtime == RuntimeKind::Kube => kube_cmd::run(context, args),
        Command::Destroy(args) => kube_cmd::destroy(context, &args.uuid),
        Command::Render(args) => kube_cmd::render(&args),
        Command::Config(args) => config(args),
        Command::Run(args) => run(args),
    }
}

fn resolve(args: &orchestrator::cli::ScenarioArgs) -> Result<scenario::Resolved, ExitCode> {
    let inputs = scenario::ConfigInputs::from_process(args.scenario.clone(), args.sets.clone());
    scenario::resolve(&inputs).map_err(|errors| {
        eprintln!("error: the configuration is not valid:\n{errors}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn config(args: orchestrator::cli::ConfigArgs) -> anyhow::Result<ExitCode> {
    use orchestrator::cli::ConfigFormat;
    use scenario::OutputFormat;
    let resolved = match resolve(&args.scenario) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let format = match args.format {
        ConfigFormat::Table => OutputFormat::Table,
        ConfigFormat::Json => OutputFormat::Json,
        ConfigFormat::Toml => OutputFormat::Toml,
    };
    print!("{}", resolved.render(format));
    Ok(ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use orchestrator::local::runtime::LocalRuntime;
    use orchestrator::timeline::{self, RunOptions};
    use scenario::OutputFormat;
    use std::io::IsTerminal;

    let resolved = match resolve(&args.scenario) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let config = serde_json::from_str(&resolved.render(OutputFormat::Json))
        .unwrap_or(serde_json::Value::Null);
    let mut scenario = resolved.scenario;
    if let Some(uuid) = args.uuid {
        scenario.uuid = uuid;
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = rt.block_on(async {
        let local = match LocalRuntime::new(
            scenario.clone(),
            args.port_base,
            args.runs_dir.join(&scenario.uuid),
        ) {
            Ok(l) => l,
            Err(e) => return Err(e),
        };
        let opts = RunOptions {
            scenario,
            config,
            runs_dir: args.runs_dir,
            hold: args.hold,
            keep: false,
            progress: std::io::stderr().is_terminal(),
        };
        Ok(timeline::run(local, opts, async {
            common::shutdown::signal().await;
        })
        .await)
    });
    match result {
        Ok(r) => Ok(ExitCode::from(u8::try_from(r.exit_code()).unwrap_or(1))),
        Err(e) => Err(anyhow::Error::new(e)),
    }
}

/// The kube sub-commands: scenario resolution here, the work in `orchestrator::kube::cli`.
mod kube_cmd {
    use std::process::ExitCode;

    use anyhow::Context;
    use orchestrator::cli::{RenderArgs, RunArgs, ScenarioArgs};
    use orchestrator::kube::cli as kube_cli;
    use scenario::Scenario;

    /// The scenario and the effective configuration (for the report).
    fn scenario(args: &ScenarioArgs) -> Result<(Scenario, serde_json::Value), ExitCode> {
        let resolved = super::resolve(args)?;
        let config = serde_json::from_str(&resolved.render(scenario::OutputFormat::Json))
            .unwrap_or(serde_json::Value::Null);
        Ok((resolved.scenario, config))
    }

    fn block_on<F: std::future::Future<Output = ExitCode>>(f: F) -> anyhow::Result<ExitCode> {
        let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
        Ok(rt.block_on(f))
    }

    pub(super) fn render(args: &RenderArgs) -> anyhow::Result<ExitCode> {
        Ok(match scenario(&args.scenario) {
            Ok((s, _)) => kube_cli::render(&s, &args.out),
            Err(code) => code,
        })
    }

    pub(super) fn run(context: Option<String>, args: RunArgs) -> anyhow::Result<ExitCode> {
        use std::io::IsTerminal;
        let (mut s, config) = match scenario(&args.scenario) {
            Ok(x) => x,
            Err(code) => return Ok(code),
        };
        if let Some(uuid) = args.uuid {
            s.uuid = uuid;
        }
        let run_args = kube_cli::KubeRunArgs {
            context,
            reuse: args.reuse,
            cleanup: args.cleanup,
            runs_dir: args.runs_dir,
            config,
            progress: std::io::stderr().is_terminal(),
        };
        block_on(kube_cli::run(s, run_args))
    }

    pub(super) fn destroy(context: Option<String>, uuid: &str) -> anyhow::Result<ExitCode> {
        block_on(kube_cli::destroy(context.as_deref(), uuid))
    }
}
