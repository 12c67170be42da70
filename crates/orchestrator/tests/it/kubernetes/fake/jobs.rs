//! The fake's DaemonSet and Indexed Job controllers: one pod per node, one pod per
//! completion index (with the Job's tracking finalizer, dropped once the pod finished).

use serde_json::{Value, json};

use super::Behaviour;
use super::controllers::{create_pod, deleting, owned};
use super::kubelet::{self, JOB_FINALIZER, is_active, is_ready};
use super::store::{Collection, Store, name_of};

pub(crate) fn daemon_set(store: &mut Store, b: &Behaviour, coll: &Collection, ds: &Value) {
    let ns = coll.namespace.clone().unwrap_or_default();
    if !deleting(ds) {
        for node in &b.nodes {
            let name = format!("{}-{node}", name_of(ds));
            if store.get(&kubelet::pods(&ns), &name).is_none() {
                create_pod(store, b, ds, &name, json!({"spec.nodeName": node}));
            }
        }
    }
    let pods: Vec<Value> = owned(store, "pods", &ns, ds)
        .into_iter()
        .filter(is_active)
        .collect();
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let mut next = ds.clone();
    next["status"] = json!({"observedGeneration": ds["metadata"]["generation"], "desiredNumberScheduled": b.nodes.len(),
        "currentNumberScheduled": pods.len(), "numberMisscheduled": 0, "numberReady": ready, "updatedNumberScheduled": pods.len(),
        "numberAvailable": ready});
    if next != *ds {
        store.put(coll, next);
    }
}

pub(crate) fn job(store: &mut Store, b: &Behaviour, coll: &Collection, job: &Value) {
    let ns = coll.namespace.clone().unwrap_or_default();
    let completions = job["spec"]["completions"].as_i64().unwrap_or(1);
    let pods = owned(store, "pods", &ns, job);
    let index_of = |p: &Value| {
        p["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"]
            .as_str()
            .map(str::to_owned)
    };
    if !deleting(job) {
        for i in 0..completions {
            if !pods.iter().any(|p| index_of(p) == Some(i.to_string())) {
                let name = format!("{}-{i}-x8k2p", name_of(job));
                let mut labels = job["spec"]["template"]["metadata"]["labels"].clone();
                labels["batch.kubernetes.io/job-completion-index"] = json!(i.to_string());
                let mut annotations = job["spec"]["template"]["metadata"]["annotations"].clone();
                if !annotations.is_object() {
                    annotations = json!({});
                }
                annotations["batch.kubernetes.io/job-completion-index"] = json!(i.to_string());
                create_pod(
                    store,
                    b,
                    job,
                    &name,
                    json!({"labels": labels, "annotations": annotations, "finalizers": [JOB_FINALIZER]}),
                );
            }
        }
    }
    let pods = owned(store, "pods", &ns, job);
    for p in pods
        .iter()
        .filter(|p| matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed")))
    {
        if p["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == JOB_FINALIZER))
        {
            store.drop_finalizer(&kubelet::pods(&ns), &name_of(p), JOB_FINALIZER);
        }
    }
    let succeeded = pods
        .iter()
        .filter(|p| p["status"]["phase"] == "Succeeded")
        .count() as i64;
    let active: Vec<&Value> = pods.iter().filter(|p| is_active(p)).collect();
    let mut status = json!({"active": active.len(), "ready": active.iter().filter(|p| is_ready(p)).count(), "succeeded": succeeded});
    if succeeded == completions {
        status["conditions"] = json!([{"type": "Complete", "status": "True"}]);
        status["completionTime"] = json!(store.now().to_string());
    }
    let mut next = job.clone();
    if job["status"]["completionTime"].is_string() {
        status["completionTime"] = job["status"]["completionTime"].clone();
    }
    next["status"] = status;
    if next != *job {
        store.put(coll, next);
    }
}
