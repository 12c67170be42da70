//! The sub-commands behind the binary, one dispatcher for all of them: each resolves the
//! scenario it needs once, runs on the runtime the flags name, and says how the process exits
//! (0 ok, 2 bad configuration or flags, 99 a threshold, regression rule or alert failed,
//! 130 interrupted, 1 anything else).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use scenario::{ConfigInputs, OutputFormat, Platform, Resolved};

use crate::cli::{
    Cli, Command, CompareArgs, ConfigArgs, ConfigFormat, RenderArgs, RunArgs, RuntimeKind,
    ScenarioArgs,
};
use crate::compare;
use crate::gate;
use crate::kube::cli as kube_cli;
use crate::local::runtime::LocalRuntime;
use crate::report::Report;
use crate::timeline::{self, RunOptions};

/// Exit code for bad configuration or flags (clap uses it too).
pub const EXIT_CONFIG: u8 = 2;

/// Runs `cli`'s command (no command: `run` of the default scenario on the local runtime).
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Run(RunArgs {
        port_base: crate::local::DEFAULT_PORT_BASE,
        runs_dir: "runs".into(),
        ..RunArgs::default()
    }));
    match command {
        Command::Run(args) => run(cli.context, args),
        Command::Config(args) => Ok(config(&args)),
        Command::Compare(args) => Ok(compare(&args)),
        Command::Render(args) => Ok(render(&args)),
        Command::Destroy(args) => block_on(kube_cli::destroy(cli.context.as_deref(), &args.uuid)),
    }
}

/// The scenario of `args` for `platform` (when the command has one), or the exit code after
/// every configuration error was printed.
fn resolve(args: &ScenarioArgs, platform: Option<Platform>) -> Result<Resolved, ExitCode> {
    let mut inputs = ConfigInputs::from_process(args.scenario.clone(), args.sets.clone());
    inputs.platform = platform;
    scenario::resolve(&inputs).map_err(|errors| {
        eprintln!("error: the configuration is not valid:\n{errors}");
        ExitCode::from(EXIT_CONFIG)
    })
}

fn block_on<F: std::future::Future<Output = ExitCode>>(f: F) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

fn config(args: &ConfigArgs) -> ExitCode {
    let resolved = match resolve(&args.scenario, None) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let format = match args.format {
        ConfigFormat::Table => OutputFormat::Table,
        ConfigFormat::Json => OutputFormat::Json,
        ConfigFormat::Toml => OutputFormat::Toml,
    };
    print!("{}", resolved.render(format));
    ExitCode::SUCCESS
}

fn compare(args: &CompareArgs) -> ExitCode {
    let (a, b) = match (Report::read(&args.a), Report::read(&args.b)) {
        (Ok(a), Ok(b)) => (a, b),
        (a, b) => {
            for e in [a.err(), b.err()].into_iter().flatten() {
                eprintln!("error: {e}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if args.fail_on.is_empty() {
        // A display only: unlike runs are shown, with what makes them unlike.
        let fit = gate::baseline::fit(&a, &b.scenario, &b.runtime);
        for w in fit.refusals.iter().chain(&fit.warnings) {
            eprintln!("warning: the reports differ in {w}");
        }
    }
    let checks = match gate::compare_rules(&a, &b, &args.fail_on) {
        _ if args.fail_on.is_empty() => Vec::new(),
        Ok((checks, warnings)) => {
            for w in warnings {
                eprintln!("warning: the reports differ in {w}");
            }
            checks
        }
        Err(errors) => {
            eprintln!("error: cannot apply --fail-on:");
            for e in errors {
                eprintln!("  - {e}");
            }
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    match args.format {
        crate::cli::CompareFormat::Markdown => print!("{}", compare::markdown(&a, &b)),
        crate::cli::CompareFormat::Json => println!("{}", compare::json(&a, &b)),
    }
    let failed: Vec<&gate::Check> = checks
        .iter()
        .filter(|c| c.status == gate::Status::Failed)
        .collect();
    for c in &checks {
        let mark = if c.status == gate::Status::Failed {
            "✗"
        } else {
            "✓"
        };
        eprintln!("{mark} {}: {}", c.name, c.detail);
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("{} of {} rules failed", failed.len(), checks.len());
        ExitCode::from(gate::EXIT_GATE_FAILED)
    }
}

/// The gate of a run, or the exit code after every problem with it was printed.
fn prepare_gate(
    scenario: &scenario::Scenario,
    runtime: RuntimeKind,
    args: &RunArgs,
) -> Result<gate::Gate, ExitCode> {
    let inputs = gate::GateInputs {
        thresholds: args.thresholds.clone(),
        baseline: args.baseline.clone(),
        max_regression: args.max_regression.clone(),
        junit: args.junit.clone(),
        require_alerts: args.require_alerts,
    };
    let runtime = match runtime {
        RuntimeKind::Local => "local",
        RuntimeKind::Kube => "kube",
    };
    let gate = gate::Gate::prepare(scenario, runtime, &inputs).map_err(|errors| {
        eprintln!("error: the gate is not valid:");
        for e in errors {
            eprintln!("  - {e}");
        }
        ExitCode::from(EXIT_CONFIG)
    })?;
    for w in &gate.baseline_warnings {
        eprintln!("warning: the baseline differs in {w}");
    }
    Ok(gate)
}

fn render(args: &RenderArgs) -> ExitCode {
    match resolve(&args.scenario, Some(Platform::Kube)) {
        Ok(resolved) => kube_cli::render(&resolved.scenario, &args.out),
        Err(code) => code,
    }
}

/// `run` on either runtime: the same scenario, timeline and report.
fn run(context: Option<String>, args: RunArgs) -> anyhow::Result<ExitCode> {
    let platform = match args.runtime {
        RuntimeKind::Local => Platform::Local,
        RuntimeKind::Kube => Platform::Kube,
    };
    let resolved = match resolve(&args.scenario, Some(platform)) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let config = resolved.effective();
    let mut scenario = resolved.scenario;
    if let Some(uuid) = args.uuid.clone() {
        scenario.uuid = uuid;
    }
    let gate = match prepare_gate(&scenario, args.runtime, &args) {
        Ok(g) => g,
        Err(code) => return Ok(code),
    };
    let progress = std::io::stderr().is_terminal();
    match args.runtime {
        RuntimeKind::Kube => {
            let run_args = kube_cli::KubeRunArgs {
                context,
                reuse: args.reuse,
                cleanup: args.cleanup,
                runs_dir: args.runs_dir,
                config,
                progress,
                gate,
            };
            block_on(kube_cli::run(scenario, run_args))
        }
        RuntimeKind::Local => {
            let bases =
                match crate::local::ports::copy_bases(args.port_base, scenario.iterations.count) {
                    Ok(b) => b,
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::from(EXIT_CONFIG));
                    }
                };
            let run_dir = args.runs_dir.join(&scenario.uuid);
            let copies = crate::iterations::copies(&scenario)
                .into_iter()
                .zip(bases)
                .map(|(copy, base)| {
                    let dir = match copy.iterations.index {
                        Some(k) => run_dir.join(format!("i{k}")),
                        None => run_dir.clone(),
                    };
                    LocalRuntime::new(copy, base, dir)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let local = crate::iterations::Iterations::new(copies)?;
            let opts = RunOptions {
                scenario,
                config,
                runs_dir: args.runs_dir,
                hold: args.hold,
                keep: false,
                progress,
            };
            block_on(async {
                let shutdown = async {
                    common::shutdown::signal().await;
                };
                let result = timeline::run_gated(local, opts, &gate, shutdown).await;
                ExitCode::from(u8::try_from(result.exit_code()).unwrap_or(1))
            })
        }
    }
}
