//! The load generator's part of a run: its objects applied and waited for (a Deployment's
//! rollout, or a Job's pods ready), and deleted with their pods gone at the end of the load.

use std::time::Duration;

use ::kube::Api;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::{Pod, Service};
use scenario::LoadgenKind;

use super::super::api::{self, delete_matching};
use super::super::build::loadgen;
use super::super::error::{Error, Result};
use super::super::events;
use super::super::meta::{self, Job};
use super::super::pods;
use super::super::wait::{self, WaitError};
use super::KubeRuntime;

/// What stopping the load generator may take beyond its pods' grace period: the garbage
/// collector reaching the pods, and the Job controller dropping its finalizer.
const STOP_MARGIN: Duration = Duration::from_secs(20);

impl KubeRuntime {
    pub(super) async fn start_load_inner(&mut self) -> Result<()> {
        for object in &self.plan.loadgen {
            api::apply(&self.client, object).await?;
        }
        match self.scenario.loadgen_kind {
            LoadgenKind::Deployment => {
                let targets: Vec<_> = self
                    .scenario
                    .load_plans()
                    .iter()
                    .flat_map(|p| loadgen::workload_names(&self.scenario, p))
                    .map(|n| (Job::LOADGEN, n))
                    .collect();
                self.wait_deployments(&targets).await
            }
            LoadgenKind::Job => {
                let plans = self.scenario.load_plans();
                let want = self.scenario.loadgen.replicas as usize * plans.len();
                let ready = self.view.until(|pods| {
                    pods.iter()
                        .filter(|p| p.job == Some(Job::LOADGEN) && p.ready && !p.terminating)
                        .count()
                        >= want
                });
                let r = tokio::select! {
                    r = tokio::time::timeout(self.timeout(), ready) => r,
                    p = self.view.failed() => return Err(pods::problem_error(p)),
                };
                match r {
                    Ok(()) => Ok(()),
                    Err(_) => {
                        let names: Vec<String> = plans
                            .iter()
                            .map(|p| self.scenario.loadgen_name(p))
                            .collect();
                        let warnings = events::warnings(&self.client, &self.namespace)
                            .await
                            .unwrap_or_default();
                        let mut detail = pods::not_ready_detail(&self.view.pods(), Job::LOADGEN);
                        for name in &names {
                            detail.extend(
                                events::about(&warnings, "Job", name)
                                    .into_iter()
                                    .take(3)
                                    .map(ToString::to_string),
                            );
                        }
                        Err(Error::Timeout {
                            what: format!(
                                "Job/{} ({}/{want} pods ready)",
                                names.join(", Job/"),
                                self.view.ready(Job::LOADGEN)
                            ),
                            after: self.timeout(),
                            detail: detail.iter().map(|d| format!("; {d}")).collect(),
                        })
                    }
                }
            }
        }
    }

    /// Deletes every plan's load generator workloads and their Service by the job label and
    /// waits until their pods are gone (they finish their in-flight requests first).
    pub(super) async fn stop_load_inner(&mut self) -> Result<()> {
        if !self.owns_namespace {
            return Ok(());
        }
        let selector = meta::job_selector(&self.scenario, Job::LOADGEN)?;
        let ns = self.namespace.clone();
        let c = &self.client;
        delete_matching(
            &Api::<Deployment>::namespaced(c.clone(), &ns),
            &selector,
            &ns,
            &[],
        )
        .await?;
        delete_matching(
            &Api::<BatchJob>::namespaced(c.clone(), &ns),
            &selector,
            &ns,
            &[],
        )
        .await?;
        delete_matching(
            &Api::<Service>::namespaced(c.clone(), &ns),
            &selector,
            &ns,
            &[],
        )
        .await?;
        let pods: Api<Pod> = Api::namespaced(c.clone(), &ns);
        let timeout = self.stop_bound();
        wait::until_gone(pods, &selector, timeout)
            .await
            .map_err(|(e, left)| match e {
                WaitError::Failed(e) => e,
                WaitError::TimedOut => Error::Timeout {
                    what: "stopping the load generator".into(),
                    after: timeout,
                    detail: format!(
                        "; still running (their grace period is {} s): {}; see `kubectl get pods -n {ns} -l {selector}`",
                        loadgen::grace_period_seconds(),
                        left.join(", ")
                    ),
                },
            })
    }

    /// How long the load generator's pods may take to go: their grace period (SIGTERM, then
    /// their own drain) plus [`STOP_MARGIN`].
    pub(super) fn stop_bound(&self) -> Duration {
        Duration::from_secs(loadgen::grace_period_seconds().unsigned_abs()) + STOP_MARGIN
    }
}
