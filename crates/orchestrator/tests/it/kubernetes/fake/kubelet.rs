//! The fake's scheduler and kubelet: a pod passes through Pending, ContainerCreating and
//! Running to Ready, one `stage` apart, with condition timestamps that follow the fake's
//! clock; an image that cannot be pulled holds it in ErrImagePull / ImagePullBackOff (for
//! good, or until the pull recovers); a Job's pod completes and keeps its IP; a deleted pod
//! stops within its grace period and goes once its finalizers are gone.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::Behaviour;
use super::controllers::record_event;
use super::store::{Collection, Store, core, name_of};

/// The finalizer the Job controller puts on its pods until it has counted them.
pub(crate) const JOB_FINALIZER: &str = "batch.kubernetes.io/job-tracking";

fn at(t: Timestamp, d: Duration) -> Timestamp {
    t + SignedDuration::try_from(d).unwrap_or_default()
}

fn time_of(v: &Value) -> Option<Timestamp> {
    v.as_str()?.parse().ok()
}

/// When a pod being deleted has stopped: its grace period, or sooner when it drains faster.
fn stopped_at(pod: &Value, b: &Behaviour) -> Option<Timestamp> {
    let since = time_of(&pod["metadata"]["deletionTimestamp"])?;
    let grace = pod["metadata"]["deletionGracePeriodSeconds"]
        .as_u64()
        .unwrap_or(30);
    Some(at(since, b.pod_stop.min(Duration::from_secs(grace))))
}

/// One pass over every pod: schedule, advance the status, finish deletions.
pub(crate) fn run(store: &mut Store, b: &Behaviour) {
    let now = store.now();
    let pods: Vec<(Collection, Value)> = store
        .all()
        .into_iter()
        .filter(|(c, _)| c.plural == "pods")
        .collect();
    for (coll, pod) in pods {
        let name = name_of(&pod);
        if let Some(stop) = stopped_at(&pod, b) {
            if now < stop {
                continue;
            }
            let finalizers = pod["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if finalizers.is_empty() {
                store.remove(&coll, &name);
            } else if finalizers.iter().any(|f| f == JOB_FINALIZER) {
                // The Job controller lets go of a pod once it has stopped, Job or no Job.
                store.drop_finalizer(&coll, &name, JOB_FINALIZER);
            }
            continue;
        }
        let Some(created) = time_of(&pod["metadata"]["creationTimestamp"]) else {
            continue;
        };
        let mut next = pod.clone();
        if next["spec"]["nodeName"].is_null() && now >= at(created, b.stage) {
            let i = name.bytes().map(usize::from).sum::<usize>() % b.nodes.len().max(1);
            next["spec"]["nodeName"] = json!(b.nodes.get(i).cloned().unwrap_or_default());
        }
        next["status"] = status(&next, created, now, b);
        let pulling = |p: &Value| waiting_reason(p) == Some("ErrImagePull");
        if pulling(&next) && !pulling(&pod) {
            let ns = coll.namespace.clone().unwrap_or_default();
            let image = b.image_pull_error.clone().unwrap_or_default();
            record_event(
                store,
                &ns,
                "Pod",
                &name,
                "Failed",
                &format!("Failed to pull image \"{image}\": {}", pull_message(b)),
            );
        }
        if next != pod {
            store.put(&coll, next);
        }
    }
}

fn waiting_reason(pod: &Value) -> Option<&str> {
    let statuses = pod["status"]["initContainerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(
            pod["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten(),
        );
    statuses
        .filter_map(|c| c["state"]["waiting"]["reason"].as_str())
        .find(|r| r.contains("Image"))
}

fn pull_message(b: &Behaviour) -> String {
    let image = b.image_pull_error.clone().unwrap_or_default();
    if b.pull_recovers_after.is_some() {
        format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/{image}\": unexpected status code 503 Service Unavailable"
        )
    } else {
        format!(
            "rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/{image}\": not found"
        )
    }
}

/// The pod's status at `now`, from its creation time and the behaviour alone, so every
/// pass computes the same thing and only a real change is written.
fn status(pod: &Value, created: Timestamp, now: Timestamp, b: &Behaviour) -> Value {
    let s = b.stage;
    let t = |k: u32| at(created, s * k);
    let spec = &pod["spec"];
    let inits: Vec<Value> = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mains: Vec<Value> = spec["containers"].as_array().cloned().unwrap_or_default();
    let cond = |ty: &str, ok: bool, since: Timestamp, reason: &str| {
        let mut c = json!({"type": ty, "status": if ok { "True" } else { "False" },
            "lastTransitionTime": since.to_string()});
        if !ok {
            c["reason"] = json!(reason);
            c["message"] = json!(format!(
                "containers with unready status: [{}]",
                mains
                    .iter()
                    .filter_map(|c| c["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        c
    };
    let waiting = |c: &Value, reason: &str, message: Option<String>| {
        let mut w = json!({"reason": reason});
        if let Some(m) = message {
            w["message"] = json!(m);
        }
        json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false,
               "restartCount": 0, "state": {"waiting": w}})
    };
    if spec["nodeName"].is_null() || now < t(1) {
        return json!({"phase": "Pending", "conditions": [cond("PodScheduled", false, created, "Unschedulable")]});
    }
    let ip = format!(
        "10.244.{}.{}",
        name_of(pod).len() % 4 + 1,
        (name_of(pod).bytes().map(u32::from).sum::<u32>() % 250) + 2
    );
    if now < t(2) {
        return json!({"phase": "Pending", "hostIP": "172.18.0.2",
            "conditions": [cond("PodScheduled", true, t(1), ""), cond("Initialized", inits.is_empty(), t(1), "ContainersNotInitialized"),
                           cond("ContainersReady", false, t(1), "ContainersNotReady"), cond("Ready", false, t(1), "ContainersNotReady")],
            "initContainerStatuses": inits.iter().map(|c| waiting(c, "PodInitializing", None)).collect::<Vec<_>>(),
            "containerStatuses": mains.iter().map(|c| waiting(c, "ContainerCreating", None)).collect::<Vec<_>>()});
    }
    let bad = b.image_pull_error.as_deref();
    let pulls_bad = inits
        .iter()
        .chain(&mains)
        .any(|c| c["image"].as_str() == bad);
    let recovered = b.pull_recovers_after.map(|d| at(t(2), d));
    let started = match (pulls_bad, recovered) {
        (false, _) => t(2),
        (true, Some(r)) if now >= r => r,
        (true, _) => {
            let reason = if now < t(3) {
                "ErrImagePull"
            } else {
                "ImagePullBackOff"
            };
            let message = |c: &Value| {
                if reason == "ErrImagePull" {
                    pull_message(b)
                } else {
                    format!(
                        "Back-off pulling image \"{}\"",
                        c["image"].as_str().unwrap_or_default()
                    )
                }
            };
            let state = |c: &Value, other: &str| {
                if c["image"].as_str() == bad {
                    waiting(c, reason, Some(message(c)))
                } else {
                    waiting(c, other, None)
                }
            };
            return json!({"phase": "Pending", "podIP": ip, "hostIP": "172.18.0.2",
                "conditions": [cond("PodScheduled", true, t(1), ""), cond("Initialized", false, t(1), "ContainersNotInitialized"),
                               cond("ContainersReady", false, t(1), "ContainersNotReady"), cond("Ready", false, t(1), "ContainersNotReady")],
                "initContainerStatuses": inits.iter().map(|c| state(c, "PodInitializing")).collect::<Vec<_>>(),
                "containerStatuses": mains.iter().map(|c| state(c, "PodInitializing")).collect::<Vec<_>>()});
        }
    };
    let never_ready = b
        .never_ready
        .iter()
        .any(|d| name_of(pod).starts_with(&format!("{d}-")));
    let ready_at = at(started, s);
    let ready = now >= ready_at && !never_ready;
    let done_at = b
        .job_runs_for
        .filter(|_| {
            pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"].is_string()
        })
        .map(|d| at(ready_at, d));
    let done = done_at.is_some_and(|d| now >= d);
    let finished = |c: &Value| {
        json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": false, "restartCount": 0,
        "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started.to_string(),
            "finishedAt": done_at.map(|d| d.to_string())}}})
    };
    let running = |c: &Value| {
        json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "restartCount": 0,
        "started": true, "state": {"running": {"startedAt": started.to_string()}}})
    };
    let (phase, mains_status, ready_cond) = if done {
        let since = done_at.unwrap_or(now);
        (
            "Succeeded",
            mains.iter().map(finished).collect::<Vec<_>>(),
            cond("Ready", false, since, "PodCompleted"),
        )
    } else {
        (
            "Running",
            mains.iter().map(running).collect::<Vec<_>>(),
            cond(
                "Ready",
                ready,
                if ready { ready_at } else { started },
                "ContainersNotReady",
            ),
        )
    };
    let mut containers_ready = ready_cond.clone();
    containers_ready["type"] = json!("ContainersReady");
    json!({"phase": phase, "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "172.18.0.2", "startTime": t(1).to_string(),
        "conditions": [cond("PodScheduled", true, t(1), ""), cond("Initialized", true, started, ""), containers_ready, ready_cond],
        "initContainerStatuses": inits.iter().map(|c| json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}})).collect::<Vec<_>>(),
        "containerStatuses": mains_status})
}

/// Is the pod counted as ready?
pub(crate) fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Is the pod active: not being deleted and not finished?
pub(crate) fn is_active(pod: &Value) -> bool {
    pod["metadata"].get("deletionTimestamp").is_none()
        && !matches!(
            pod["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        )
}

/// The pods collection of namespace `ns`.
pub(crate) fn pods(ns: &str) -> Collection {
    core("pods", ns)
}
