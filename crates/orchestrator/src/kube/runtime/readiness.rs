//! Waiting for the run's Deployments to become ready, and the timeout error that says why
//! they did not: replica counts, what their pods say, and the Warning events about them.

use ::kube::Api;
use k8s_openapi::api::apps::v1::Deployment;

use super::super::build::pipeline;
use super::super::error::{Error, Result};
use super::super::events;
use super::super::meta::{self, Job};
use super::super::pods;
use super::super::wait::{self, WaitError};
use super::KubeRuntime;

/// The stack's Deployments the deploy phase waits for: Redis and the workers too with the
/// pipeline (the backends answer orders 503 until Redis is reachable).
pub(super) fn stack_targets(s: &scenario::Scenario) -> Vec<(Job, String)> {
    let mut targets = vec![
        (Job::BACKEND, s.backend.name.clone()),
        (Job::FRONTEND, s.frontend.name.clone()),
        (Job::PROMETHEUS, s.prometheus.name.clone()),
    ];
    if s.grafana.enabled {
        targets.push((Job::Grafana, meta::GRAFANA_NAME.to_owned()));
    }
    if pipeline::enabled(s) {
        targets.push((Job::REDIS, s.pipeline.redis.name.clone()));
        targets.push((Job::WORKER, s.pipeline.worker.name.clone()));
    }
    targets
}

impl KubeRuntime {
    /// Waits until every named Deployment of `job` is ready, failing at once when one of
    /// the run's pods cannot pull its image or crash-loops, and at `ready_timeout` with what
    /// the pods say.
    pub(super) async fn wait_deployments(&self, targets: &[(Job, String)]) -> Result<()> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let timeout = self.timeout();
        let waits = futures::future::join_all(
            targets
                .iter()
                .map(|(_, name)| wait::until(api.clone(), name, wait::deployment_ready, timeout)),
        );
        let results = tokio::select! {
            r = waits => r,
            p = self.view.failed() => return Err(pods::problem_error(p)),
        };
        let mut late = Vec::new();
        for ((job, name), r) in targets.iter().zip(results) {
            match r {
                Ok(_) => {}
                Err(WaitError::Failed(e)) => return Err(e),
                Err(WaitError::TimedOut) => late.push((*job, name.clone())),
            }
        }
        if late.is_empty() {
            return Ok(());
        }
        Err(self.not_ready(&late).await)
    }

    /// The timeout error for Deployments that did not become ready: their replica counts,
    /// what their pods say, and the Warning events about them.
    async fn not_ready(&self, late: &[(Job, String)]) -> Error {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.namespace);
        let pods = self.view.pods();
        let warnings = events::warnings(&self.client, &self.namespace)
            .await
            .unwrap_or_default();
        let mut what = Vec::new();
        let mut detail = Vec::new();
        for (job, name) in late {
            let d = api.get_opt(name).await.ok().flatten();
            what.push(format!(
                "Deployment/{name} ({})",
                wait::deployment_progress(d.as_ref())
            ));
            detail.extend(pods::not_ready_detail(&pods, *job));
            detail.extend(
                events::about(&warnings, "Deployment", name)
                    .into_iter()
                    .take(3)
                    .map(ToString::to_string),
            );
        }
        Error::Timeout {
            what: what.join(", "),
            after: self.timeout(),
            detail: if detail.is_empty() {
                String::new()
            } else {
                format!("; {}", detail.join("; "))
            },
        }
    }
}
