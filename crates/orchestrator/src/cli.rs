//! The orchestrator's command line (ARCHITECTURE.md, "Contracts").

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Runs the load-and-recovery demo end to end and writes a report of what happened.
#[derive(Debug, Parser)]
#[command(name = "orchestrator", version, about)]
pub struct Cli {
    /// Kubernetes context for the kube runtime (default: the current context).
    #[arg(long, global = true, env = "KUBE_CONTEXT")]
    pub context: Option<String>,
    /// No sub-command runs the default scenario on the local runtime.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: deploy, baseline, load, scale, unload, report.
    Run(RunArgs),
    /// Print the effective configuration and where every value came from.
    Config(ConfigArgs),
    /// Compare two reports phase by phase.
    Compare(CompareArgs),
    /// Delete everything a kube run created, found by its uuid label.
    Destroy(DestroyArgs),
    /// Write the Kubernetes manifests of a scenario as YAML.
    Render(RenderArgs),
}

/// Where the scenario comes from: shared by `run`, `config` and `render`.
#[derive(Debug, Clone, Default, Args)]
pub struct ScenarioArgs {
    /// Scenario file (TOML); keys not in it keep their defaults.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Override one key, highest precedence (repeatable), e.g. `--set load_max_rps=200`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RuntimeKind {
    /// Every component in this process on loopback ports; needs nothing installed.
    #[default]
    Local,
    /// A Kubernetes cluster (kind or any other).
    Kube,
}

#[derive(Debug, Clone, Default, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The run's id (overrides the scenario's `uuid`); names runs/<uuid>/.
    #[arg(long)]
    pub uuid: Option<String>,
    #[arg(long, value_enum, default_value_t = RuntimeKind::Local)]
    pub runtime: RuntimeKind,
    /// Local runtime: first of the consecutive loopback ports the stack uses.
    #[arg(long, value_name = "N", default_value_t = crate::local::DEFAULT_PORT_BASE)]
    pub port_base: u16,
    /// Kube runtime: delete the namespace at the end (the stack stays up otherwise).
    #[arg(long)]
    pub cleanup: bool,
    /// Kube runtime: reuse an existing namespace of the same uuid instead of failing.
    #[arg(long)]
    pub reuse: bool,
    /// Local runtime: after the report, keep the stack (and its UI) up until Ctrl-C.
    #[arg(long)]
    pub hold: bool,
    /// Directory that receives <uuid>/report.{json,md,html}.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub runs_dir: PathBuf,
    /// A pass/fail criterion on the run's figures, added to the scenario's [[thresholds]],
    /// e.g. `recovery.p95<300ms` or `run.drop_rate==0` (repeatable; a failure exits 99).
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<String>,
    /// Compare with this run (its report.json or run directory); a regression beyond the
    /// rules exits 99.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// How much worse than the baseline a figure may get, e.g. `recovery.p95=+15%`,
    /// `load.error_rate=+2pp`, `recovery.p95=off`; replaces the default rule of that figure
    /// (repeatable).
    #[arg(long = "max-regression", value_name = "RULE")]
    pub max_regression: Vec<String>,
    /// Write every threshold, regression rule and alert as a JUnit test case to PATH.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Fail the run when the scenario's [[alerts]] cannot be evaluated (no Prometheus).
    #[arg(long)]
    pub require_alerts: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    Table,
    Json,
    Toml,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    #[arg(long, value_enum, default_value_t = ConfigFormat::Table)]
    pub format: ConfigFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Markdown,
    Json,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline report (report.json, or the run directory holding it).
    pub a: PathBuf,
    /// The report compared against A.
    pub b: PathBuf,
    #[arg(long, value_enum, default_value_t = CompareFormat::Markdown)]
    pub format: CompareFormat,
    /// A regression rule B must keep against A, as `run --max-regression` (repeatable;
    /// `defaults` adds the default rules); a regression beyond one exits 99.
    #[arg(long = "fail-on", value_name = "RULE")]
    pub fail_on: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The uuid of the run to delete.
    #[arg(long)]
    pub uuid: String,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Directory that receives the YAML files.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subcommand_parses_and_means_run() {
        let cli = Cli::try_parse_from(["orchestrator"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "orchestrator",
            "run",
            "--scenario",
            "s.toml",
            "--set",
            "a=1",
            "--set",
            "b=2",
            "--uuid",
            "x",
            "--runtime",
            "kube",
            "--port-base",
            "20000",
            "--cleanup",
        ])
        .unwrap();
        let Some(Command::Run(run)) = cli.command else {
            panic!("expected run");
        };
        assert_eq!(run.scenario.sets, ["a=1", "b=2"]);
        assert_eq!(run.runtime, RuntimeKind::Kube);
        assert_eq!(run.port_base, 20000);
        assert!(run.cleanup);
    }

    #[test]
    fn compare_requires_two_reports() {
        assert!(Cli::try_parse_from(["orchestrator", "compare", "a"]).is_err());
    }
}
