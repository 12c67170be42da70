//! The fake's object store: objects by collection and name, resourceVersions, the bounded
//! event log that watches resume from, a clock that follows tokio's (paused in tests), and
//! graceful deletion (deletionTimestamp, grace periods, finalizers).

use std::collections::{BTreeMap, VecDeque};

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use orchestrator::autoscale::algorithm::Autoscaler;
use serde_json::{Value, json};

use super::watch::Watcher;

/// Where an object lives: `/api/v1` or `/apis/<group>/<version>`, its plural, namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Collection {
    pub(crate) prefix: String,
    pub(crate) plural: String,
    pub(crate) namespace: Option<String>,
}

impl Collection {
    pub(crate) fn new(prefix: &str, plural: &str, namespace: Option<&str>) -> Self {
        Self {
            prefix: prefix.to_owned(),
            plural: plural.to_owned(),
            namespace: namespace.map(str::to_owned),
        }
    }

    /// Does this (possibly cluster-wide) collection hold objects of `other`?
    pub(crate) fn holds(&self, other: &Collection) -> bool {
        self.prefix == other.prefix
            && self.plural == other.plural
            && (self.namespace.is_none() || self.namespace == other.namespace)
    }
}

pub(crate) fn core(plural: &str, ns: &str) -> Collection {
    Collection::new("/api/v1", plural, Some(ns))
}

pub(crate) fn apps(plural: &str, ns: &str) -> Collection {
    Collection::new("/apis/apps/v1", plural, Some(ns))
}

pub(crate) fn namespaces() -> Collection {
    Collection::new("/api/v1", "namespaces", None)
}

/// A request path taken apart: the collection, the object's name, a subresource.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) coll: Collection,
    pub(crate) name: Option<String>,
    /// `proxy/metrics`, `status`, ...: the routes tell them apart by the name's port.
    #[allow(dead_code)]
    pub(crate) sub: Option<String>,
}

pub(crate) fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (prefix, rest) = match *segs.first()? {
        "api" => (format!("/api/{}", segs.get(1)?), segs.get(2..)?),
        "apis" => (
            format!("/apis/{}/{}", segs.get(1)?, segs.get(2)?),
            segs.get(3..)?,
        ),
        _ => return None,
    };
    let t = |plural: &str, ns: Option<&str>, name: Option<&&str>, sub: Option<String>| Target {
        coll: Collection::new(&prefix, plural, ns),
        name: name.map(|s| (*s).to_owned()),
        sub,
    };
    Some(match rest {
        ["namespaces"] => t("namespaces", None, None, None),
        ["namespaces", name] => t("namespaces", None, Some(name), None),
        ["namespaces", ns, plural, tail @ ..] => t(
            plural,
            Some(ns),
            tail.first(),
            (tail.len() > 1).then(|| tail[1..].join("/")),
        ),
        [plural, tail @ ..] => t(plural, None, tail.first(), None),
        [] => return None,
    })
}

/// `k=v,k2=v2` (as selectors are written) into pairs.
pub(crate) fn pairs(selector: Option<&String>) -> Vec<(String, String)> {
    selector
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn matches(
    obj: &Value,
    labels: &[(String, String)],
    fields: &[(String, String)],
) -> bool {
    labels
        .iter()
        .all(|(k, v)| obj["metadata"]["labels"][k].as_str() == Some(v))
        && fields.iter().all(|(k, v)| {
            let got = match k.as_str() {
                "metadata.name" => obj["metadata"]["name"].as_str(),
                "metadata.namespace" => obj["metadata"]["namespace"].as_str(),
                other => obj[other].as_str(),
            };
            got == Some(v)
        })
}

pub(crate) fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One entry of the event log: what watches replay.
#[derive(Debug, Clone)]
pub(crate) struct Logged {
    pub(crate) rv: u64,
    pub(crate) coll: Collection,
    pub(crate) kind: &'static str,
    pub(crate) obj: Value,
}

/// The objects and their history.
pub(crate) struct Store {
    objects: BTreeMap<(Collection, String), Value>,
    rv: u64,
    log: VecDeque<Logged>,
    /// The oldest resourceVersion a watch may still resume from; older ones get 410 Gone.
    pub(crate) oldest: u64,
    /// Entries kept in the log before the oldest are compacted away (etcd's compaction).
    pub(crate) log_window: usize,
    uid: u64,
    pub(crate) watchers: Vec<Watcher>,
    started: tokio::time::Instant,
    base: Timestamp,
    /// The HPA controller's memory (recommendations, scale events) per HPA uid.
    pub(crate) autoscalers: std::collections::HashMap<String, Autoscaler>,
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            objects: BTreeMap::new(),
            rv: 100,
            log: VecDeque::new(),
            oldest: 100,
            log_window: 10_000,
            uid: 0,
            watchers: Vec::new(),
            started: tokio::time::Instant::now(),
            // Whole seconds, as the API server writes times.
            base: Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_default(),
            autoscalers: std::collections::HashMap::new(),
        }
    }

    /// The fake cluster's clock: wall-clock start, then tokio's time (paused in tests).
    pub(crate) fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.started.elapsed()).unwrap_or_default();
        self.base + elapsed
    }

    /// Time since the fake started, the monotonic clock the HPA controller's algorithm takes.
    pub(crate) fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn get(&self, coll: &Collection, name: &str) -> Option<&Value> {
        self.objects.get(&(coll.clone(), name.to_owned()))
    }

    pub(crate) fn list(
        &self,
        coll: &Collection,
        labels: &[(String, String)],
        fields: &[(String, String)],
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((c, _), o)| coll.holds(c) && matches(o, labels, fields))
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Every stored object with its collection.
    pub(crate) fn all(&self) -> Vec<(Collection, Value)> {
        self.objects
            .iter()
            .map(|((c, _), o)| (c.clone(), o.clone()))
            .collect()
    }

    pub(crate) fn uid_exists(&self, uid: &str) -> bool {
        self.objects
            .values()
            .any(|o| o["metadata"]["uid"].as_str() == Some(uid))
    }

    /// The log entries after `rv`; `None` when `rv` is older than the log keeps (410 Gone).
    pub(crate) fn since(&self, rv: u64) -> Option<Vec<Logged>> {
        if rv < self.oldest {
            return None;
        }
        Some(self.log.iter().filter(|l| l.rv > rv).cloned().collect())
    }

    /// Forgets the history: a watch resuming from any version seen so far answers 410 Gone
    /// (and its client must list again).
    pub(crate) fn compact(&mut self) {
        self.log.clear();
        self.oldest = self.rv + 1;
    }

    fn record(&mut self, coll: &Collection, kind: &'static str, obj: &Value) {
        let entry = Logged {
            rv: self.rv,
            coll: coll.clone(),
            kind,
            obj: obj.clone(),
        };
        super::watch::notify(&mut self.watchers, &entry);
        self.log.push_back(entry);
        while self.log.len() > self.log_window {
            if let Some(old) = self.log.pop_front() {
                self.oldest = old.rv;
            }
        }
    }

    /// Stores `obj` (apiVersion, kind, metadata...), assigning what the server assigns, and
    /// tells the watchers. `spec` changes bump the generation; a missing status is kept.
    pub(crate) fn put(&mut self, coll: &Collection, mut obj: Value) -> Value {
        let name = name_of(&obj);
        let key = (coll.clone(), name);
        let old = self.objects.get(&key).cloned();
        self.rv += 1;
        let now = self.now().to_string();
        let meta = &mut obj["metadata"];
        meta["resourceVersion"] = json!(self.rv.to_string());
        if let Some(ns) = &coll.namespace {
            meta["namespace"] = json!(ns);
        }
        match &old {
            Some(o) => {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "deletionTimestamp",
                    "ownerReferences",
                ] {
                    if obj["metadata"].get(k).is_none() && o["metadata"].get(k).is_some() {
                        obj["metadata"][k] = o["metadata"][k].clone();
                    }
                }
                let generation = o["metadata"]["generation"].as_i64().unwrap_or(1);
                let changed = o.get("spec") != obj.get("spec");
                obj["metadata"]["generation"] = json!(generation + i64::from(changed));
                if obj.get("status").is_none()
                    && let Some(st) = o.get("status")
                {
                    obj["status"] = st.clone();
                }
            }
            None => {
                self.uid += 1;
                meta["uid"] = json!(format!("uid-{}", self.uid));
                if meta.get("creationTimestamp").is_none() {
                    meta["creationTimestamp"] = json!(now);
                }
                meta["generation"] = json!(1);
            }
        }
        self.objects.insert(key, obj.clone());
        let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
        self.record(coll, kind, &obj);
        obj
    }

    /// Removes an object for good (its finalizers are done) and tells the watchers.
    pub(crate) fn remove(&mut self, coll: &Collection, name: &str) -> Option<Value> {
        let mut obj = self.objects.remove(&(coll.clone(), name.to_owned()))?;
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.record(coll, "DELETED", &obj);
        Some(obj)
    }

    /// Starts deleting an object: gone at once when nothing holds it, else marked with a
    /// deletionTimestamp (and the grace period) until the kubelet or a finalizer lets go.
    /// Returns the object as the DELETE answer shows it.
    pub(crate) fn delete(
        &mut self,
        coll: &Collection,
        name: &str,
        grace: Option<i64>,
    ) -> Option<Value> {
        let obj = self.get(coll, name)?.clone();
        if obj["metadata"].get("deletionTimestamp").is_some() {
            return Some(obj);
        }
        let finalizers = obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        let grace = grace.or_else(|| obj["spec"]["terminationGracePeriodSeconds"].as_i64());
        let graceful = coll.plural == "pods" && grace.unwrap_or(30) > 0;
        if !finalizers && !graceful && coll.plural != "namespaces" {
            return self.remove(coll, name);
        }
        let mut marked = obj;
        marked["metadata"]["deletionTimestamp"] = json!(self.now().to_string());
        if coll.plural == "pods" {
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(grace.unwrap_or(30));
        }
        if coll.plural == "namespaces" {
            marked["status"] = json!({"phase": "Terminating"});
        }
        Some(self.put(coll, marked))
    }

    /// Removes `finalizer` from an object; an object being deleted goes once none is left.
    pub(crate) fn drop_finalizer(&mut self, coll: &Collection, name: &str, finalizer: &str) {
        let Some(mut obj) = self.get(coll, name).cloned() else {
            return;
        };
        if let Some(list) = obj["metadata"]["finalizers"].as_array_mut() {
            list.retain(|f| f.as_str() != Some(finalizer));
        }
        let done = obj["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if done && obj["metadata"].get("deletionTimestamp").is_some() && coll.plural != "pods" {
            self.remove(coll, name);
        } else {
            self.put(coll, obj);
        }
    }
}
