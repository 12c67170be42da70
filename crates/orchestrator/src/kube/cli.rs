//! What `render`, `run --runtime kube` and `destroy` do once `commands` has parsed the flags and
//! resolved the scenario.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use scenario::Scenario;

use super::error::Error;
use super::{KubeRuntime, build, connect};
use crate::timeline::{self, RunOptions};

/// How long `destroy` waits for the namespaces and pods to be gone.
pub const DESTROY_TIMEOUT: Duration = Duration::from_secs(300);

/// Exit code of an error: 2 for a scenario that cannot become objects, 1 for the rest.
pub fn exit_code(e: &Error) -> ExitCode {
    match e {
        Error::Invalid { .. } => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("error: {e}");
    exit_code(e)
}

/// `render --out DIR`: writes the manifests and lists them.
pub fn render(scenario: &Scenario, out: &Path) -> ExitCode {
    match super::write_manifests(scenario, out) {
        Ok(paths) => {
            for p in &paths {
                println!("{}", p.display());
            }
            println!(
                "{} manifests; apply them with `kubectl apply -f {}`",
                paths.len(),
                out.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// What `run --runtime kube` needs besides the scenario.
#[derive(Debug, Clone)]
pub struct KubeRunArgs {
    pub context: Option<String>,
    pub reuse: bool,
    pub cleanup: bool,
    pub runs_dir: PathBuf,
    /// The effective configuration, stored in the report.
    pub config: scenario::Effective,
    pub progress: bool,
    /// Thresholds, baseline rules and alerts that judge the run.
    pub gate: crate::gate::Gate,
}

/// `run --runtime kube`: the shared timeline on a [`KubeRuntime`]. Ctrl-C stops the load and
/// leaves the cluster as `--cleanup` says.
pub async fn run(scenario: Scenario, args: KubeRunArgs) -> ExitCode {
    let copies = crate::iterations::copies(&scenario);
    // A scenario that cannot become objects is a configuration error, cluster or not.
    for copy in &copies {
        if let Err(e) = build::plan(copy) {
            return fail(&e);
        }
    }
    let mut runtimes =
        match KubeRuntime::connect_copies(args.context.as_deref(), copies, args.reuse).await {
            Ok(rt) => rt,
            Err(e) => return fail(&e),
        };
    let run_dir = args.runs_dir.join(&scenario.uuid);
    let defaults: Vec<&'static str> = super::node_ports::KEYS
        .into_iter()
        .filter(|key| args.config.sources.get(*key).is_none_or(|s| s == "default"))
        .collect();
    for rt in &mut runtimes {
        rt.set_run_dir(run_dir.clone());
        rt.set_movable_node_ports(defaults.clone());
    }
    let rt = match crate::iterations::Iterations::new(runtimes) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = RunOptions {
        scenario,
        config: args.config,
        runs_dir: args.runs_dir,
        hold: false,
        keep: !args.cleanup,
        progress: args.progress,
    };
    let shutdown = async {
        common::shutdown::signal().await;
    };
    let result = timeline::run_gated(rt, opts, &args.gate, shutdown).await;
    ExitCode::from(u8::try_from(result.exit_code()).unwrap_or(1))
}

/// `destroy --uuid ID`: everything of that run, in every namespace, waited for.
pub async fn destroy(context: Option<&str>, uuid: &str) -> ExitCode {
    if let Err(e) = super::meta::uuid_selector(uuid) {
        return fail(&e);
    }
    let client = match connect::client(context).await {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    match super::destroy(&client, uuid, DESTROY_TIMEOUT).await {
        Ok(d) if d.deleted.is_empty() => {
            println!("nothing labelled load-demo.io/uuid={uuid} was found");
            ExitCode::SUCCESS
        }
        Ok(d) => {
            for what in &d.deleted {
                println!("deleted {what}");
            }
            println!("run {uuid} is gone");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}
