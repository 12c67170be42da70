//! What the run's pods are doing, from one watch: which are ready (for waits and the
//! replica count), where their `/metrics` are (for sampling), when each reached each
//! condition (pod latency), and which are failing (image pulls, crash loops). A problem
//! the kubelet retries (a pull that may succeed next time, a container it could not create
//! yet) is reported when it appears and fails the run only when it lasts [`PROBLEM_BOUND`];
//! a pod that recovers counts like any other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::kube::labels;
use ::kube::runtime::WatchStreamExt;
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Client, ResourceExt};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::PodProblem;
use super::meta::Job;
pub use super::problems::{
    FAILING_REASONS, IMAGE_PULL_REASONS, diagnose, permanent, problem_error,
};

/// How long a problem the kubelet retries may last before it fails the run.
pub const PROBLEM_BOUND: Duration = Duration::from_secs(60);

/// The conditions whose latency from pod creation is measured, in the order they happen.
pub const CONDITIONS: [&str; 4] = ["PodScheduled", "Initialized", "ContainersReady", "Ready"];

/// One pod, as the run needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PodInfo {
    pub name: String,
    pub job: Option<Job>,
    /// A load generator's plan, from its label.
    pub plan: Option<String>,
    pub ip: Option<String>,
    pub node: Option<String>,
    pub ready: bool,
    /// `Pending`, `Running`, `Succeeded`, `Failed` (or `Unknown`).
    pub phase: String,
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
    /// When each pod's current problem was first seen.
    troubled_since: BTreeMap<String, Instant>,
    /// Every problem as it appeared: `pod: reason: message`.
    reported: Vec<String>,
}

impl State {
    /// The first problem that fails the run at `now`, else when the next one would.
    fn judge(&self, now: Instant) -> (Option<PodProblem>, Option<Instant>) {
        let mut next: Option<Instant> = None;
        for p in self.pods.values() {
            let Some(problem) = stack_problem(p) else {
                continue;
            };
            if permanent(&problem) {
                return (Some(problem), None);
            }
            let since = self.troubled_since.get(&p.name).copied().unwrap_or(now);
            let due = since + PROBLEM_BOUND;
            if now >= due {
                let mut problem = problem;
                problem.message = format!(
                    "{} (still so after {} s of retries)",
                    problem.message,
                    PROBLEM_BOUND.as_secs()
                );
                return (Some(problem), None);
            }
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        (None, next)
    }
}

/// A problem of a stack pod that counts (pre-pull pods are judged by their own phase, and
/// a pod being deleted is going anyway).
fn stack_problem(p: &PodInfo) -> Option<PodProblem> {
    p.problem
        .clone()
        .filter(|_| p.job.is_some_and(|j| j != Job::Prepull) && !p.terminating)
}

/// A cheap, cloneable view of the run's pods, updated by [`PodTracker`].
#[derive(Debug, Clone)]
pub struct PodView {
    state: Arc<RwLock<State>>,
    /// Bumped on every change: waits watch it instead of polling.
    version: watch::Receiver<u64>,
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

    /// Every pod problem as it appeared (`pod: reason: message`), transient or not.
    pub fn reported(&self) -> Vec<String> {
        self.state
            .read()
            .map(|s| s.reported.clone())
            .unwrap_or_default()
    }

    /// Resolves with the first pod problem of a stack component that is permanent or has
    /// lasted [`PROBLEM_BOUND`]; re-judged on every change and when a bound runs out.
    pub async fn failed(&self) -> PodProblem {
        let mut version = self.version.clone();
        loop {
            let (found, next) = match self.state.read() {
                Ok(s) => s.judge(Instant::now()),
                Err(_) => (None, None),
            };
            if let Some(p) = found {
                return p;
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        r = version.changed() => if r.is_err() {
                            tokio::time::sleep_until(at).await;
                        },
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => {
                    if version.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
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
}

/// A view with no pods yet, and the feed that fills it.
pub fn channel() -> (PodView, PodFeed) {
    let state: Arc<RwLock<State>> = Arc::default();
    let (version_tx, version) = watch::channel(0u64);
    (
        PodView {
            state: state.clone(),
            version,
        },
        PodFeed {
            state,
            version: version_tx,
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
                        match self.state.write() {
                            Ok(mut s) => apply_event(&mut s, event, &ns),
                            Err(_) => return,
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

/// Folds one watch event into the state.
fn apply_event(s: &mut State, event: Event<Pod>, namespace: &str) {
    match event {
        Event::Init => s.relisting = Some(BTreeSet::new()),
        Event::InitApply(pod) => {
            if let Some(seen) = s.relisting.as_mut() {
                seen.insert(pod.name_any());
            }
            upsert(s, &pod, namespace)
        }
        Event::InitDone => {
            if let Some(seen) = s.relisting.take() {
                s.pods.retain(|name, _| seen.contains(name));
                s.troubled_since.retain(|name, _| seen.contains(name));
            }
        }
        Event::Apply(pod) => upsert(s, &pod, namespace),
        Event::Delete(pod) => {
            s.pods.remove(&pod.name_any());
            s.troubled_since.remove(&pod.name_any());
        }
    }
}

fn upsert(s: &mut State, pod: &Pod, namespace: &str) {
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
    match stack_problem(&info) {
        Some(p) => {
            let new = !s.troubled_since.contains_key(&info.name)
                || s.pods
                    .get(&info.name)
                    .and_then(|old| old.problem.as_ref())
                    .map(|o| &o.reason)
                    != Some(&p.reason);
            s.troubled_since
                .entry(info.name.clone())
                .or_insert_with(Instant::now);
            if new {
                let line = format!("{}: {}: {}", p.pod, p.reason, p.message);
                tracing::warn!(
                    "pod {line}{}",
                    if permanent(&p) {
                        ""
                    } else {
                        " (the kubelet retries; a pod that recovers counts)"
                    }
                );
                s.reported.push(line);
            }
        }
        None => {
            s.troubled_since.remove(&info.name);
        }
    }
    s.pods.insert(info.name.clone(), info);
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
        plan: pod.labels().get(labels::PLAN).cloned(),
        ip: status
            .and_then(|s| s.pod_ip.clone())
            .filter(|ip| !ip.is_empty()),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        ready,
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".to_owned()),
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

/// The pod of `job` to ask for a page: the first by name that serves (running, ready, not
/// being deleted, with an IP), so successive requests go to the same pod while it lives.
pub fn first_serving(pods: &[PodInfo], job: Job) -> Option<&PodInfo> {
    pods.iter()
        .filter(|p| {
            p.job == Some(job)
                && p.phase == "Running"
                && p.ready
                && !p.terminating
                && p.ip.is_some()
        })
        .min_by(|a, b| a.name.cmp(&b.name))
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
