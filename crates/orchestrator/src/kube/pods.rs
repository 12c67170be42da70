//! What the run's pods are doing, from one watch: which are ready (for waits and the
//! replica count), where their `/metrics` are (for sampling), when each reached each
//! condition (pod latency), and which are failing (image pulls, crash loops).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

use crate::kube::labels;
use ::kube::runtime::WatchStreamExt;
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Client, ResourceExt};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::{Error, PodProblem};
use super::meta::Job;

/// Waiting reasons that mean the image cannot be had.
pub const IMAGE_PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// Waiting reasons that mean the container cannot run.
pub const FAILING_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The conditions whose latency from pod creation is measured, in the order they happen.
pub const CONDITIONS: [&str; 4] = ["PodScheduled", "Initialized", "ContainersReady", "Ready"];

/// One pod, as the run needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub name: String,
    pub job: Option<Job>,
    pub ip: Option<String>,
    pub node: Option<String>,
    pub ready: bool,
    /// Being deleted: it still finishes its in-flight requests, but does not count as a replica.
    pub terminating: bool,
    pub problem: Option<PodProblem>,
    /// Phase and the first false condition, for messages.
    pub status: String,
}

/// When one pod was created and when it first reached each of [`CONDITIONS`].
#[derive(Debug, Clone, PartialEq)]
pub struct PodTimes {
    pub pod: String,
    pub job: Option<Job>,
    pub created: Timestamp,
    pub conditions: BTreeMap<&'static str, Timestamp>,
}

#[derive(Debug, Default)]
struct State {
    pods: BTreeMap<String, PodInfo>,
    /// Kept after a pod is gone: its latency still counts.
    times: BTreeMap<String, PodTimes>,
    /// Names seen since the last re-list (a re-list replaces the pod set).
    relisting: Option<BTreeSet<String>>,
}

/// A cheap, cloneable view of the run's pods, updated by [`PodTracker`].
#[derive(Debug, Clone)]
pub struct PodView {
    state: Arc<RwLock<State>>,
    /// Bumped on every change: waits watch it instead of polling.
    version: watch::Receiver<u64>,
    failure: watch::Receiver<Option<PodProblem>>,
}

impl PodView {
    pub fn pods(&self) -> Vec<PodInfo> {
        self.state
            .read()
            .map(|s| s.pods.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn times(&self) -> Vec<PodTimes> {
        self.state
            .read()
            .map(|s| s.times.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Ready, not terminating pods of `job`.
    pub fn ready(&self, job: Job) -> usize {
        self.pods()
            .iter()
            .filter(|p| p.job == Some(job) && p.ready && !p.terminating)
            .count()
    }

    /// Resolves when `done` holds for the current pods; re-checked on every change.
    pub async fn until(&self, mut done: impl FnMut(&[PodInfo]) -> bool) {
        let mut version = self.version.clone();
        loop {
            if done(&self.pods()) {
                return;
            }
            if version.changed().await.is_err() {
                // The tracker stopped: nothing will change any more.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves with the first pod problem of a stack component (pre-pull pods are judged
    /// by their own phase).
    pub async fn failed(&self) -> PodProblem {
        let mut rx = self.failure.clone();
        loop {
            if let Some(p) = rx.borrow_and_update().clone() {
                return p;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The writing half of a [`PodView`]: turned into a [`PodTracker`] once there is a
/// namespace to watch.
#[derive(Debug)]
pub struct PodFeed {
    state: Arc<RwLock<State>>,
    version: watch::Sender<u64>,
    failure: watch::Sender<Option<PodProblem>>,
}

/// A view with no pods yet, and the feed that fills it.
pub fn channel() -> (PodView, PodFeed) {
    let state: Arc<RwLock<State>> = Arc::default();
    let (version_tx, version) = watch::channel(0u64);
    let (failure_tx, failure) = watch::channel(None);
    (
        PodView {
            state: state.clone(),
            version,
            failure,
        },
        PodFeed {
            state,
            version: version_tx,
            failure: failure_tx,
        },
    )
}

/// The background watch feeding a [`PodView`]; stops when dropped.
#[derive(Debug)]
pub struct PodTracker {
    task: JoinHandle<()>,
}

impl Drop for PodTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PodFeed {
    /// Watches the pods matching `selector` (the run's uuid) in `namespace`.
    pub fn start(self, client: Client, namespace: &str, selector: String) -> PodTracker {
        let api: Api<Pod> = Api::namespaced(client, namespace);
        let ns = namespace.to_owned();
        let task = tokio::spawn(async move {
            let config = watcher::Config::default().labels(&selector);
            let mut events = std::pin::pin!(watcher(api, config).default_backoff());
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        let problem = match self.state.write() {
                            Ok(mut s) => apply_event(&mut s, event, &ns),
                            Err(_) => return,
                        };
                        if let Some(p) = problem {
                            self.failure.send_if_modified(|f| {
                                if f.is_none() {
                                    *f = Some(p);
                                    true
                                } else {
                                    false
                                }
                            });
                        }
                        self.version.send_modify(|v| *v += 1);
                    }
                    // The backoff retries; a watch that keeps failing shows as gaps and
                    // timeouts that name what they waited for.
                    Err(e) => tracing::warn!(%e, "watching the run's pods"),
                }
            }
        });
        PodTracker { task }
    }
}

fn watcher(
    api: Api<Pod>,
    config: watcher::Config,
) -> impl futures::Stream<Item = Result<Event<Pod>, watcher::Error>> + Send {
    ::kube::runtime::watcher(api, config)
}

/// Folds one watch event into the state; returns a stack pod's problem, if any.
fn apply_event(s: &mut State, event: Event<Pod>, namespace: &str) -> Option<PodProblem> {
    match event {
        Event::Init => {
            s.relisting = Some(BTreeSet::new());
            None
        }
        Event::InitApply(pod) => {
            if let Some(seen) = s.relisting.as_mut() {
                seen.insert(pod.name_any());
            }
            upsert(s, &pod, namespace)
        }
        Event::InitDone => {
            if let Some(seen) = s.relisting.take() {
                s.pods.retain(|name, _| seen.contains(name));
            }
            None
        }
        Event::Apply(pod) => upsert(s, &pod, namespace),
        Event::Delete(pod) => {
            s.pods.remove(&pod.name_any());
            None
        }
    }
}

fn upsert(s: &mut State, pod: &Pod, namespace: &str) -> Option<PodProblem> {
    let info = info(pod, namespace);
    if let Some(t) = times(pod, info.job) {
        s.times
            .entry(t.pod.clone())
            .and_modify(|old| {
                // First time each condition became true: a later flap does not move it.
                for (c, at) in &t.conditions {
                    old.conditions.entry(c).or_insert(*at);
                }
            })
            .or_insert(t);
    }
    let problem = info
        .problem
        .clone()
        .filter(|_| info.job.is_some_and(|j| j != Job::Prepull) && !info.terminating);
    s.pods.insert(info.name.clone(), info);
    problem
}

/// The job a pod belongs to, from its labels.
pub fn job_of(pod: &Pod) -> Option<Job> {
    pod.labels().get(labels::JOB).and_then(|j| Job::parse(j))
}

pub fn info(pod: &Pod, namespace: &str) -> PodInfo {
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    PodInfo {
        name: pod.name_any(),
        job: job_of(pod),
        ip: status
            .and_then(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty()),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        ready,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        problem: diagnose(pod, namespace),
        status: status_line(pod),
    }
}

fn times(pod: &Pod, job: Option<Job>) -> Option<PodTimes> {
    let created = pod.metadata.creation_timestamp.as_ref()?.0;
    let mut conditions = BTreeMap::new();
    for c in pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
    {
        if c.status != "True" {
            continue;
        }
        if let (Some(name), Some(at)) = (
            CONDITIONS.iter().find(|n| **n == c.type_),
            c.last_transition_time.as_ref(),
        ) {
            conditions.insert(*name, at.0);
        }
    }
    Some(PodTimes {
        pod: pod.name_any(),
        job,
        created,
        conditions,
    })
}

/// What is wrong with a pod, if anything: an image that cannot be pulled, a container that
/// crash-loops or cannot be created, or (pods that do not restart) a container that failed.
pub fn diagnose(pod: &Pod, namespace: &str) -> Option<PodProblem> {
    let status = pod.status.as_ref()?;
    let spec_image = |name: &str| {
        let spec = pod.spec.as_ref()?;
        spec.init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .find(|c| c.name == name)
            .and_then(|c| c.image.clone())
    };
    let problem = |cs: &ContainerStatus, reason: &str, message: String| PodProblem {
        component: pod
            .labels()
            .get(labels::JOB)
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned()),
        pod: pod.name_any(),
        namespace: namespace.to_owned(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        container: cs.name.clone(),
        image: spec_image(&cs.name).unwrap_or_else(|| cs.image.clone()),
        reason: reason.to_owned(),
        message,
    };
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for cs in statuses {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or_default();
            // A container that keeps finishing successfully (a load generator whose
            // --duration ended, restarted by its Deployment) is done, not crashing.
            let finished_ok = cs
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0);
            if reason == "CrashLoopBackOff" && finished_ok {
                continue;
            }
            if IMAGE_PULL_REASONS.contains(&reason) || FAILING_REASONS.contains(&reason) {
                return Some(problem(cs, reason, w.message.clone().unwrap_or_default()));
            }
        }
        if status.phase.as_deref() == Some("Failed")
            && let Some(t) = state.and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            let reason = t.reason.clone().unwrap_or_else(|| "Error".to_owned());
            let message = t
                .message
                .clone()
                .unwrap_or_else(|| format!("exited with code {}", t.exit_code));
            return Some(problem(cs, &reason, message));
        }
    }
    None
}

/// The error a problem is reported as: image pulls get the `kind load` hint.
pub fn problem_error(p: PodProblem) -> Error {
    if IMAGE_PULL_REASONS.contains(&p.reason.as_str()) {
        Error::ImagePull(Box::new(p))
    } else {
        Error::ContainerFailing(Box::new(p))
    }
}

/// One line per pod of `job` that is not ready, saying why as far as the status tells.
pub fn not_ready_detail(pods: &[PodInfo], job: Job) -> Vec<String> {
    pods.iter()
        .filter(|p| p.job == Some(job) && !p.ready && !p.terminating)
        .map(|p| match &p.problem {
            Some(problem) => problem_error(problem.clone()).to_string(),
            None => format!("pod {} not ready ({})", p.name, p.status),
        })
        .collect()
}

/// `Pending, PodScheduled Unschedulable: 0/3 nodes are available...`: the phase and the
/// first condition that is false with a reason.
fn status_line(pod: &Pod) -> String {
    let Some(s) = pod.status.as_ref() else {
        return "no status yet".into();
    };
    let phase = s.phase.clone().unwrap_or_else(|| "Unknown".into());
    let why = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.status == "False" && c.reason.is_some())
        .map(|c| {
            format!(
                ", {} {}: {}",
                c.type_,
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    format!("{phase}{why}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStateWaiting, PodStatus,
    };

    fn pod(waiting: &str, last_exit: Option<i32>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("backend-1".into());
        p.metadata.labels = Some([(labels::JOB.to_owned(), "backend".to_owned())].into());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "backend".into(),
                image: "img:1".into(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(waiting.into()),
                        message: Some("back-off 10s".into()),
                    }),
                    ..ContainerState::default()
                }),
                last_state: last_exit.map(|code| ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: code,
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        });
        p
    }

    #[test]
    fn crash_loops_and_pull_errors_are_problems_a_clean_exit_is_not() {
        let p = diagnose(&pod("CrashLoopBackOff", Some(1)), "ns").unwrap();
        assert_eq!(
            (p.component.as_str(), p.reason.as_str()),
            ("backend", "CrashLoopBackOff")
        );
        assert!(
            problem_error(p)
                .to_string()
                .contains("kubectl logs -n ns backend-1 -c backend --previous")
        );
        assert!(diagnose(&pod("CrashLoopBackOff", Some(0)), "ns").is_none());
        let p = diagnose(&pod("ImagePullBackOff", None), "ns").unwrap();
        assert!(
            problem_error(p)
                .to_string()
                .contains("kind load docker-image img:1")
        );
        assert!(diagnose(&pod("ContainerCreating", None), "ns").is_none());
    }
}
