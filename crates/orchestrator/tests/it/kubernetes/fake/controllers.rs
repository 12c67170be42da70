//! The fake's control plane, one pass at a time: Deployments through ReplicaSets (a rolling
//! update keeps old and new pods side by side), ReplicaSets (and, in [`super::jobs`],
//! DaemonSets and Indexed Jobs) create their pods through admission (a refusal is a FailedCreate event on the owner),
//! the garbage collector deletes what lost its owner, and a Terminating namespace empties
//! and then goes.

use serde_json::{Value, json};

use super::Behaviour;
use super::admission::pod_security;
use super::kubelet::{self, is_active, is_ready};
use super::store::{Collection, Store, apps, core, name_of, namespaces};

/// Records (or counts again) a Warning event about `kind/name`.
pub(crate) fn record_event(
    store: &mut Store,
    ns: &str,
    kind: &str,
    name: &str,
    reason: &str,
    message: &str,
) {
    let coll = core("events", ns);
    let id = format!("{name}.{}", reason.to_ascii_lowercase());
    let count = store
        .get(&coll, &id)
        .and_then(|e| e["count"].as_i64())
        .unwrap_or(0)
        + 1;
    let now = store.now().to_string();
    store.put(&coll, json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": id, "namespace": ns},
        "involvedObject": {"kind": kind, "name": name, "namespace": ns},
        "type": "Warning", "reason": reason, "message": message, "count": count, "lastTimestamp": now}));
}

/// One pass of every controller, then the kubelet.
pub(crate) fn run(store: &mut Store, b: &Behaviour) {
    namespaces_pass(store, b);
    garbage_collect(store);
    super::autoscalers::run(store, b);
    for (coll, d) in of_kind(store, "deployments") {
        deployment(store, &coll, &d);
    }
    for (coll, rs) in of_kind(store, "replicasets") {
        replica_set(store, b, &coll, &rs);
    }
    for (coll, ds) in of_kind(store, "daemonsets") {
        super::jobs::daemon_set(store, b, &coll, &ds);
    }
    for (coll, job) in of_kind(store, "jobs") {
        super::jobs::job(store, b, &coll, &job);
    }
    kubelet::run(store, b);
}

fn of_kind(store: &Store, plural: &str) -> Vec<(Collection, Value)> {
    store
        .all()
        .into_iter()
        .filter(|(c, _)| c.plural == plural)
        .collect()
}

fn uid(obj: &Value) -> String {
    obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn deleting(obj: &Value) -> bool {
    obj["metadata"].get("deletionTimestamp").is_some()
}

/// The objects of `plural` in `ns` that `owner` controls.
pub(crate) fn owned(store: &Store, plural: &str, ns: &str, owner: &Value) -> Vec<Value> {
    let id = uid(owner);
    store
        .list(&core(plural, ns), &[], &[])
        .into_iter()
        .chain(store.list(&apps(plural, ns), &[], &[]))
        .filter(|o| {
            o["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["uid"] == json!(id)))
        })
        .collect()
}

fn owner_ref(owner: &Value) -> Value {
    json!([{"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
            "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
}

fn namespaces_pass(store: &mut Store, b: &Behaviour) {
    let now = store.now();
    for ns in store
        .list(&namespaces(), &[], &[])
        .into_iter()
        .filter(deleting)
    {
        let name = name_of(&ns);
        let inside: Vec<(Collection, Value)> = store
            .all()
            .into_iter()
            .filter(|(c, _)| c.namespace.as_deref() == Some(&name))
            .collect();
        for (c, o) in &inside {
            store.delete(c, &name_of(o), None);
        }
        let since: Option<k8s_openapi::jiff::Timestamp> = ns["metadata"]["deletionTimestamp"]
            .as_str()
            .and_then(|t| t.parse().ok());
        let lingered = since.is_some_and(|s| {
            now >= s + k8s_openapi::jiff::SignedDuration::try_from(b.namespace_linger)
                .unwrap_or_default()
        });
        if inside.is_empty() && lingered {
            store.remove(&namespaces(), &name);
        }
    }
}

/// Background propagation: what lost its owner goes too; Foreground: an owner marked with
/// `foregroundDeletion` deletes its dependents and goes once they are gone.
fn garbage_collect(store: &mut Store) {
    for (c, o) in store.all() {
        let foreground = o["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "foregroundDeletion"));
        if deleting(&o) && foreground {
            let id = uid(&o);
            let deps: Vec<(Collection, Value)> = store
                .all()
                .into_iter()
                .filter(|(_, d)| {
                    d["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|rs| rs.iter().any(|r| r["uid"] == json!(id)))
                })
                .collect();
            if deps.is_empty() {
                store.drop_finalizer(&c, &name_of(&o), "foregroundDeletion");
            }
            for (dc, d) in deps {
                store.delete(&dc, &name_of(&d), None);
            }
        }
    }
    for (c, o) in store.all() {
        let Some(refs) = o["metadata"]["ownerReferences"].as_array() else {
            continue;
        };
        let orphaned = refs
            .iter()
            .any(|r| r["uid"].as_str().is_some_and(|u| !store.uid_exists(u)));
        if orphaned && !deleting(&o) {
            store.delete(&c, &name_of(&o), None);
        }
    }
}

/// A short, stable hash of a pod template: the ReplicaSet's `pod-template-hash`.
fn template_hash(template: &Value) -> String {
    let h = template
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    format!("{:x}", h % 0xf_ffff_ffff)
}

fn deployment(store: &mut Store, coll: &Collection, d: &Value) {
    if deleting(d) {
        return;
    }
    let ns = coll.namespace.clone().unwrap_or_default();
    let name = name_of(d);
    let want = d["spec"]["replicas"].as_i64().unwrap_or(1);
    let hash = template_hash(&d["spec"]["template"]);
    let rs_coll = apps("replicasets", &ns);
    let rs_name = format!("{name}-{hash}");
    let all = owned(store, "replicasets", &ns, d);
    let new = all.iter().find(|r| name_of(r) == rs_name).cloned();
    let old: Vec<Value> = all.into_iter().filter(|r| name_of(r) != rs_name).collect();
    let active = |store: &Store, rs: &Value| {
        owned(store, "pods", &ns, rs)
            .into_iter()
            .filter(is_active)
            .collect::<Vec<_>>()
    };
    let old_replicas: i64 = old
        .iter()
        .map(|r| r["spec"]["replicas"].as_i64().unwrap_or(0))
        .sum();
    // maxSurge 25 % rounded up, maxUnavailable 25 % rounded down (the defaults).
    let surge = (want + 3) / 4;
    let min_available = want - want / 4;
    let new_target = if old_replicas == 0 {
        want
    } else {
        (want + surge - old_replicas).clamp(0, want)
    };
    let mut template = d["spec"]["template"].clone();
    template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let mut selector = d["spec"]["selector"].clone();
    selector["matchLabels"]["pod-template-hash"] = json!(hash);
    let current = new
        .as_ref()
        .and_then(|r| r["spec"]["replicas"].as_i64())
        .unwrap_or(0);
    // A rollout only grows the new ReplicaSet; a scale (no old one) sets it outright.
    let target = if old_replicas == 0 {
        want
    } else {
        new_target.max(current)
    };
    if new.is_none() || current != target {
        let mut rs = new.clone().unwrap_or_else(|| json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "labels": template["metadata"]["labels"], "ownerReferences": owner_ref(d)},
            "spec": {"selector": selector, "template": template}}));
        rs["spec"]["replicas"] = json!(target);
        store.put(&rs_coll, rs);
    }
    let new_ready = new.as_ref().map_or(0, |r| {
        active(store, r).iter().filter(|p| is_ready(p)).count() as i64
    });
    let mut budget = (min_available - new_ready).max(0);
    for mut rs in old {
        let keep = rs["spec"]["replicas"].as_i64().unwrap_or(0).min(budget);
        budget -= keep;
        if rs["spec"]["replicas"].as_i64() != Some(keep) {
            rs["spec"]["replicas"] = json!(keep);
            store.put(&rs_coll, rs);
        }
    }
    let (mut total, mut updated, mut ready) = (0, 0, 0);
    for rs in owned(store, "replicasets", &ns, d) {
        let pods = active(store, &rs);
        total += pods.len();
        ready += pods.iter().filter(|p| is_ready(p)).count();
        if name_of(&rs) == format!("{name}-{hash}") {
            updated += pods.len();
        }
    }
    let mut next = d.clone();
    next["status"] = json!({"observedGeneration": d["metadata"]["generation"], "replicas": total, "updatedReplicas": updated,
        "readyReplicas": ready, "availableReplicas": ready, "unavailableReplicas": (want - ready as i64).max(0)});
    if next != *d {
        store.put(coll, next);
    }
}

/// Creates one pod of `owner` through admission, or records why it could not.
pub(crate) fn create_pod(
    store: &mut Store,
    b: &Behaviour,
    owner: &Value,
    name: &str,
    extra: Value,
) {
    let ns = owner["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = owner["kind"].as_str().unwrap_or_default().to_owned();
    let template = &owner["spec"]["template"];
    let refuse = |store: &mut Store, why: String| {
        record_event(
            store,
            &ns,
            &kind,
            &name_of(owner),
            "FailedCreate",
            &format!("Error creating: {why}"),
        )
    };
    let active_pods = store
        .list(&kubelet::pods(&ns), &[], &[])
        .iter()
        .filter(|p| is_active(p))
        .count();
    if let Some(quota) = b.pod_quota.filter(|q| active_pods >= *q) {
        return refuse(
            store,
            format!(
                "pods \"{name}\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods={active_pods}, limited: pods={quota}"
            ),
        );
    }
    if let Some(sa) = template["spec"]["serviceAccountName"]
        .as_str()
        .filter(|s| *s != "default")
        && store.get(&core("serviceaccounts", &ns), sa).is_none()
    {
        return refuse(
            store,
            format!(
                "pods \"{name}\" is forbidden: error looking up service account {ns}/{sa}: serviceaccount \"{sa}\" not found"
            ),
        );
    }
    if let Some(why) = pod_security(store.get(&namespaces(), &ns), name, &template["spec"]) {
        return refuse(store, why);
    }
    let mut metadata = template["metadata"].clone();
    metadata["name"] = json!(name);
    metadata["ownerReferences"] = owner_ref(owner);
    let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"], "status": {"phase": "Pending"}});
    if let Value::Object(extra) = extra {
        for (path, v) in extra {
            let (section, key) = path.split_once('.').unwrap_or(("metadata", &path));
            pod[section][key] = v;
        }
    }
    store.put(&kubelet::pods(&ns), pod);
}

fn replica_set(store: &mut Store, b: &Behaviour, coll: &Collection, rs: &Value) {
    let ns = coll.namespace.clone().unwrap_or_default();
    let want = rs["spec"]["replicas"].as_i64().unwrap_or(0) as usize;
    let mut pods: Vec<Value> = owned(store, "pods", &ns, rs)
        .into_iter()
        .filter(is_active)
        .collect();
    if !deleting(rs) {
        let mut n = rs["metadata"]["generation"].as_u64().unwrap_or(1) * 1000 + store.rv() % 1000;
        while pods.len() < want {
            n += 1;
            let name = format!("{}-{n:x}", name_of(rs));
            create_pod(store, b, rs, &name, json!({}));
            match store.get(&kubelet::pods(&ns), &name) {
                Some(p) => pods.push(p.clone()),
                None => break,
            }
        }
    }
    // Scale down: the not-ready and newest first, as the ReplicaSet controller does.
    pods.sort_by_key(|p| {
        (
            is_ready(p),
            std::cmp::Reverse(
                p["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            ),
        )
    });
    while pods.len() > want {
        let p = pods.remove(0);
        store.delete(&kubelet::pods(&ns), &name_of(&p), None);
    }
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let mut next = rs.clone();
    next["status"] = json!({"replicas": pods.len(), "readyReplicas": ready, "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]});
    if next != *rs {
        store.put(coll, next);
    }
}
