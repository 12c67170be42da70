//! The kube runtime without a cluster: builders, `render` snapshots, and whole runs against
//! a fake API server (tower-test). Tests that need a real cluster are `#[ignore]`d.

mod alerts;
mod autoscale;
mod build;
mod build_args;
mod cadvisor;
mod cadvisor_relabel;
mod capability;
mod cli;
mod cluster;
mod destroy;
mod fake;
mod fidelity;
mod frontend_rbac;
mod grafana;
mod iterations;
mod loadgen;
mod pipeline;
mod pipeline_loss;
mod pods_relabel;
mod real_prometheus;
mod refusals;
mod render;
mod run;
mod steps;

use k8s_openapi::api::core::v1::PodTemplateSpec;
use orchestrator::kube::build::{Object, plan};
use scenario::{LoadgenKind, Scenario};

/// Every object of a scenario, in apply order.
pub(crate) fn objects(s: &Scenario) -> Vec<Object> {
    plan(s).expect("a valid scenario builds").all()
}

/// The default scenario with `grafana = true`.
pub(crate) fn with_grafana() -> Scenario {
    let mut s = Scenario::default();
    s.grafana.enabled = true;
    s
}

/// A scenario with three load-generator shards run as `kind`.
pub(crate) fn sharded(kind: LoadgenKind) -> Scenario {
    let mut s = Scenario::default();
    s.loadgen.replicas = 3;
    s.loadgen_kind = kind;
    s
}

/// A scenario of two load plans (`[[load]]`), each with its own shape and actions, sharded
/// in two and run as `kind`.
pub(crate) fn two_plans(kind: LoadgenKind) -> Scenario {
    let plans = scenario::scenario_from_toml(
        "[[load]]\nname = \"checkout\"\nactions = \"book_ticket\"\nstages = \"30s:20,1m:20\"\n\n\
         [[load]]\nname = \"reviews\"\nactions = \"give_feedback\"\nvus = 5\nthink_time = \"1s\"\nrun_duration = \"2m\"\n",
    )
    .expect("two valid plans")
    .plans;
    let mut s = sharded(kind);
    s.loadgen.replicas = 2;
    s.plans = plans;
    s
}

/// The pod template of every workload, with the workload's description.
pub(crate) fn templates(objects: &[Object]) -> Vec<(String, PodTemplateSpec)> {
    objects
        .iter()
        .filter_map(|o| {
            let t = match o {
                Object::Deployment(d) => d.spec.as_ref().map(|s| s.template.clone()),
                Object::DaemonSet(d) => d.spec.as_ref().map(|s| s.template.clone()),
                Object::Job(j) => j.spec.as_ref().map(|s| s.template.clone()),
                _ => None,
            }?;
            Some((o.describe(), t))
        })
        .collect()
}

/// The scenario `--runtime kube --set ...` resolves to with these sets.
pub(crate) fn on_kube(sets: &[&str]) -> Scenario {
    let inputs = scenario::ConfigInputs {
        sets: sets.iter().map(|kv| (*kv).to_owned()).collect(),
        platform: Some(scenario::Platform::Kube),
        ..scenario::ConfigInputs::default()
    };
    match scenario::resolve(&inputs) {
        Ok(r) => r.scenario,
        Err(e) => panic!("the kube runtime takes {sets:?}, got:\n{e}"),
    }
}

/// The rendered objects of one kind, read back from their YAML, with their file names.
pub(crate) fn read_back<K: serde::de::DeserializeOwned>(
    s: &Scenario,
    kind: &str,
) -> Vec<(String, K)> {
    orchestrator::kube::render_manifests(s)
        .unwrap()
        .into_iter()
        .filter(|(file, _)| file.contains(&format!("-{kind}-")))
        .map(|(file, yaml)| {
            let obj = serde_norway::from_str(&yaml)
                .unwrap_or_else(|e| panic!("{file} reads back into its type: {e}"));
            (file, obj)
        })
        .collect()
}
