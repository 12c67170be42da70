//! The pre-pull phase: the DaemonSet runs every image's `--version` on every node; the phase
//! is done when it is ready everywhere, and fails at `ready_timeout` naming each node and
//! image that did not pull. The DaemonSet is removed either way.

use std::time::Instant;

use ::kube::{Api, Client};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use scenario::Scenario;

use super::api::{self, delete_one};
use super::build::prepull;
use super::error::{Error, Result};
use super::events;
use super::meta::{self, Job};
use super::pods::PodView;
use super::wait::{self, WaitError};

/// Runs the phase; returns a note for the report (`pre-pull: 4 images on 2 nodes in 3.1 s`).
pub async fn run(client: &Client, s: &Scenario, view: &PodView, ds: &DaemonSet) -> Result<String> {
    let t0 = Instant::now();
    let ns = s.namespace();
    let timeout = s.ready_timeout.get();
    api::apply_namespaced(client, ds).await?;
    let dss: Api<DaemonSet> = Api::namespaced(client.clone(), &ns);
    let outcome = wait::until(dss.clone(), prepull::NAME, wait::daemon_set_ready, timeout).await;
    let result = match outcome {
        Ok(ds) => {
            let nodes = ds.and_then(|d| d.status).map_or(0, |st| st.number_ready);
            Ok(format!(
                "pre-pull: {} images on {nodes} nodes in {:.1} s",
                prepull::images(s).len(),
                t0.elapsed().as_secs_f64()
            ))
        }
        Err(WaitError::Failed(e)) => Err(e),
        Err(WaitError::TimedOut) => Err(timed_out(client, s, view).await),
    };
    delete_one(&dss, prepull::NAME, &ns).await?;
    let selector = meta::job_selector(s, Job::Prepull)?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    if let Err((e, left)) = wait::until_gone(pods, &selector, timeout).await {
        let e = match e {
            WaitError::Failed(e) => e,
            WaitError::TimedOut => Error::Timeout {
                what: "removing the pre-pull pods".into(),
                after: timeout,
                detail: format!("; still there: {}", left.join(", ")),
            },
        };
        // A pre-pull failure says more than its clean-up's.
        return result.and(Err(e));
    }
    result
}

/// Names every node whose pre-pull pod is not ready, with the image and the reason, and
/// the DaemonSet's own Warning events (a pod it could not create has no status to show).
async fn timed_out(client: &Client, s: &Scenario, view: &PodView) -> Error {
    let mut detail = Vec::new();
    for p in view
        .pods()
        .iter()
        .filter(|p| p.job == Some(Job::Prepull) && !p.ready)
    {
        let node = p.node.clone().unwrap_or_else(|| "(not scheduled)".into());
        match &p.problem {
            Some(problem) => detail.push(format!(
                "node {node}: image {} {}: {} (on kind: `kind load docker-image {} --name <cluster>`)",
                problem.image, problem.reason, problem.message, problem.image
            )),
            None => detail.push(format!(
                "node {node}: pod {} still pulling ({})",
                p.name, p.status
            )),
        }
    }
    let warnings = events::warnings(client, &s.namespace())
        .await
        .unwrap_or_default();
    let owner = events::about(&warnings, "DaemonSet", prepull::NAME);
    detail.extend(
        owner
            .iter()
            .filter(|w| !w.object.starts_with("Pod/"))
            .take(3)
            .map(ToString::to_string),
    );
    if detail.is_empty() {
        detail.push("no pre-pull pod is running: is any node schedulable?".into());
    }
    Error::Timeout {
        what: "pre-pulling the images on every node".into(),
        after: s.ready_timeout.get(),
        detail: format!("; {}", detail.join("; ")),
    }
}
