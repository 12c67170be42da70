//! The load generators: a ClusterIP Service for their `/metrics` (the frontend reads it) and,
//! for each load plan, either one Deployment per shard or one Indexed Job, named after the
//! plan (`<loadgen>-<plan>`, the flat keys' one plan keeps `<loadgen>`) and labelled with it.
//!
//! Why one Deployment per shard: the pods of a Deployment are interchangeable, so a
//! replacement pod could not know it must be shard `i`; a Deployment of one pod per shard
//! keeps `--shard i/n` attached to a name. (A StatefulSet would hand out ordinals, but the
//! ordinal is only in the pod name, which the flags cannot read without a shell, and the
//! images have none.) The Job form gets its index from the Indexed completion mode.

use std::collections::BTreeMap;

use common::api::routes;
use common::ports;
use k8s_openapi::api::batch::v1::{Job as BatchJob, JobSpec};
use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec, PodTemplateSpec,
};
use scenario::{LoadPlan, LoadgenKind, Scenario};

use super::{Object, pod};
use crate::components;
use crate::kube::error::Result;
use crate::kube::labels;
use crate::kube::meta::{self, Job, SHARD};

/// `http://<loadgen>:2112`: the Service in front of every shard's `/metrics`.
pub fn url(s: &Scenario) -> String {
    format!("http://{}:{}", s.loadgen.name, ports::LOADGEN_METRICS)
}

/// Names of the Deployments (or the Job) `plan`'s load generator runs as.
pub fn workload_names(s: &Scenario, plan: &LoadPlan) -> Vec<String> {
    let base = s.loadgen_name(plan);
    let n = s.loadgen.replicas;
    if s.loadgen_kind == LoadgenKind::Job || n <= 1 {
        vec![base]
    } else {
        (0..n).map(|i| format!("{base}-{i}")).collect()
    }
}

/// The Service and every plan's workloads, in apply order.
pub fn objects(s: &Scenario) -> Result<Vec<Object>> {
    let mut v = vec![Object::Service(super::service(
        s,
        Job::LOADGEN,
        &s.loadgen.name,
        ports::LOADGEN_METRICS,
        None,
        false,
    ))];
    for plan in s.load_plans() {
        match s.loadgen_kind {
            LoadgenKind::Deployment => {
                let n = s.loadgen.replicas;
                for (i, name) in workload_names(s, &plan).iter().enumerate() {
                    let shard = (n > 1).then_some((i as u32, n));
                    v.push(Object::Deployment(shard_deployment(s, &plan, name, shard)?));
                }
            }
            LoadgenKind::Job => v.push(Object::Job(job(s, &plan))),
        }
    }
    Ok(v)
}

/// `plan`'s label, on its workloads, their selectors and their pods.
fn with_plan(mut labels: BTreeMap<String, String>, plan: &LoadPlan) -> BTreeMap<String, String> {
    labels.insert(labels::PLAN.to_owned(), plan.name.clone());
    labels
}

fn template(
    s: &Scenario,
    plan: &LoadPlan,
    args: Vec<String>,
    shard: Option<u32>,
    env: Vec<EnvVar>,
) -> PodTemplateSpec {
    let mut c = pod::container(
        &s.loadgen.name,
        &s.loadgen.image,
        ports::LOADGEN_METRICS,
        args,
    );
    c.resources = Some(pod::resources(("200m", "64Mi"), ("1", "256Mi")));
    // The generator serves only /metrics (ARCHITECTURE.md): it answers once the
    // generator is up, which is what "ready" means for it.
    pod::probes(&mut c, routes::METRICS, routes::METRICS);
    if !env.is_empty() {
        c.env = Some(env);
    }
    let mut labels = with_plan(meta::labels(s, Job::LOADGEN), plan);
    if let Some(i) = shard {
        labels.insert(SHARD.to_owned(), i.to_string());
    }
    pod::template(
        labels,
        Some(pod::scrape_annotations(
            ports::LOADGEN_METRICS,
            routes::METRICS,
        )),
        PodSpec {
            containers: vec![c],
            // Stopping lets in-flight requests finish and the final summary print.
            termination_grace_period_seconds: Some(grace_period_seconds()),
            ..PodSpec::default()
        },
    )
}

/// The load generator pods' `terminationGracePeriodSeconds`: what stopping them may take.
pub const fn grace_period_seconds() -> i64 {
    30
}

fn args(s: &Scenario, plan: &LoadPlan, shard: Option<(u32, u32)>) -> Vec<String> {
    components::loadgen_args(
        plan,
        &super::backend::url(s),
        &format!("0.0.0.0:{}", ports::LOADGEN_METRICS),
        shard,
    )
}

/// One shard's Deployment of one pod (`shard` is `(i, n)`; `None` for a single generator).
/// The plan and the shard are in its selector: no two plans' shards select each other's pods.
pub fn shard_deployment(
    s: &Scenario,
    plan: &LoadPlan,
    name: &str,
    shard: Option<(u32, u32)>,
) -> Result<k8s_openapi::api::apps::v1::Deployment> {
    let mut selector = with_plan(meta::selector_labels(s, Job::LOADGEN), plan);
    if let Some((i, _)) = shard {
        selector.insert(SHARD.to_owned(), i.to_string());
    }
    let template = template(
        s,
        plan,
        args(s, plan, shard),
        shard.map(|(i, _)| i),
        Vec::new(),
    );
    let mut d = super::deployment(s, Job::LOADGEN, name, 1, selector, template)?;
    d.metadata.labels = d.metadata.labels.map(|l| with_plan(l, plan));
    Ok(d)
}

/// Env var carrying an Indexed Job pod's completion index (its shard).
const SHARD_INDEX_ENV: &str = "SHARD_INDEX";

/// `plan`'s Indexed Job of `loadgen.replicas` pods, pod `i` running `--shard i/n`. It runs
/// once: no retries (a retried generator would replay the ramp), a deadline of the plan's
/// duration plus the readiness bound, and it is garbage-collected ten minutes after it ends.
pub fn job(s: &Scenario, plan: &LoadPlan) -> BatchJob {
    let n = s.loadgen.replicas;
    let mut args = args(s, plan, None);
    // A Job completes when its pods end: a generator lingering after its plan never would.
    args.retain(|a| a != components::LINGER);
    let mut env = Vec::new();
    if n > 1 {
        args.push("--shard".to_owned());
        args.push(format!("$({SHARD_INDEX_ENV})/{n}"));
        env.push(EnvVar {
            name: SHARD_INDEX_ENV.to_owned(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.annotations['batch.kubernetes.io/job-completion-index']"
                        .to_owned(),
                    api_version: Some("v1".to_owned()),
                }),
                ..EnvVarSource::default()
            }),
            value: None,
        });
    }
    let mut template = template(s, plan, args, None, env);
    if let Some(spec) = template.spec.as_mut() {
        spec.restart_policy = Some("Never".to_owned());
    }
    let deadline = plan.load.duration() + s.ready_timeout.get();
    let replicas = i32::try_from(n).unwrap_or(i32::MAX);
    let mut metadata = meta::object_meta(s, Job::LOADGEN, s.loadgen_name(plan));
    metadata.labels = metadata.labels.map(|l| with_plan(l, plan));
    BatchJob {
        metadata,
        spec: Some(JobSpec {
            completion_mode: Some("Indexed".to_owned()),
            completions: Some(replicas),
            parallelism: Some(replicas),
            backoff_limit: Some(0),
            active_deadline_seconds: Some(
                i64::try_from(deadline.as_secs().max(1)).unwrap_or(i64::MAX),
            ),
            ttl_seconds_after_finished: Some(600),
            template,
            ..JobSpec::default()
        }),
        status: None,
    }
}
