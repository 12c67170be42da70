//! A fake Kubernetes API server behind `tower_test::mock::pair`: it keeps objects, answers
//! server-side applies, gets, lists, deletes, watches (streamed, replayed from a
//! resourceVersion) and pod-proxy GETs, and plays the controllers and kubelet just enough
//! (Deployments/DaemonSets/Jobs get pods, pods get ready or fail to pull their image).
//! Every request is recorded, so tests assert the API conversation itself.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::channel::mpsc::{UnboundedSender, unbounded};
use http::{Request, Response};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use serde_json::{Value, json};

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// One request the fake received.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) body: Option<Value>,
}

impl Call {
    pub(crate) fn is_watch(&self) -> bool {
        self.query.get("watch").map(String::as_str) == Some("true")
    }

    pub(crate) fn is_apply(&self) -> bool {
        self.method == "PATCH"
    }

    /// `METHOD path` (plus `?labelSelector=...` when there is one), for assertions.
    pub(crate) fn line(&self) -> String {
        let mut s = format!("{} {}", self.method, self.path);
        if let Some(l) = self.query.get("labelSelector") {
            s.push_str(&format!("?labelSelector={l}"));
        }
        s
    }
}

/// How the fake cluster behaves.
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub(crate) nodes: Vec<String>,
    /// Pods of containers with this image fail with ErrImagePull.
    pub(crate) image_pull_error: Option<String>,
    /// Deployments whose pods run but never become ready.
    pub(crate) never_ready: Vec<String>,
    /// Requests whose `METHOD path` contains this answer 403.
    pub(crate) forbid: Option<String>,
    /// The first N applies answer 503 (a transient error).
    pub(crate) transient_apply_failures: u32,
    /// Pre-existing namespace (another run of the same uuid).
    pub(crate) existing_namespace: Option<String>,
    /// Pods whose /metrics the pod proxy cannot reach (HTTP 503).
    pub(crate) unreachable_pods: Vec<String>,
    /// Delay of the controllers' status updates: waits see them arrive through the watch.
    pub(crate) controller_delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            nodes: vec!["kind-worker".into(), "kind-worker2".into()],
            image_pull_error: None,
            never_ready: Vec::new(),
            forbid: None,
            transient_apply_failures: 0,
            existing_namespace: None,
            unreachable_pods: Vec::new(),
            controller_delay: Duration::from_millis(20),
        }
    }
}

/// Where an object lives: `/api/v1` or `/apis/<group>/<version>`, its plural, namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Collection {
    prefix: String,
    plural: String,
    namespace: Option<String>,
}

#[derive(Debug)]
struct Target {
    coll: Collection,
    name: Option<String>,
    sub: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (prefix, rest) = match *segs.first()? {
        "api" => (format!("/api/{}", segs.get(1)?), &segs[2..]),
        "apis" => (
            format!("/apis/{}/{}", segs.get(1)?, segs.get(2)?),
            &segs[3..],
        ),
        _ => return None,
    };
    let coll = |plural: &str, ns: Option<&str>| Collection {
        prefix: prefix.clone(),
        plural: plural.to_owned(),
        namespace: ns.map(str::to_owned),
    };
    let t = match rest {
        ["namespaces"] => Target {
            coll: coll("namespaces", None),
            name: None,
            sub: None,
        },
        ["namespaces", name] => Target {
            coll: coll("namespaces", None),
            name: Some((*name).to_owned()),
            sub: None,
        },
        ["namespaces", ns, plural, tail @ ..] => Target {
            coll: coll(plural, Some(ns)),
            name: tail.first().map(|s| (*s).to_owned()),
            sub: (tail.len() > 1).then(|| tail[1..].join("/")),
        },
        [plural, tail @ ..] => Target {
            coll: coll(plural, None),
            name: tail.first().map(|s| (*s).to_owned()),
            sub: None,
        },
        [] => return None,
    };
    Some(t)
}

struct Watcher {
    coll: Collection,
    labels: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    tx: UnboundedSender<Result<Frame<Bytes>, Infallible>>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<(Collection, String), Value>,
    rv: u64,
    /// (resourceVersion, collection of the object, event type, object)
    log: Vec<(u64, Collection, &'static str, Value)>,
    watchers: Vec<Watcher>,
    calls: Vec<Call>,
    behaviour: Option<Behaviour>,
    uid: u64,
}

fn pairs(selector: Option<&String>) -> Vec<(String, String)> {
    selector
        .map(|s| {
            s.split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn in_collection(coll: &Collection, obj_coll: &Collection) -> bool {
    coll.prefix == obj_coll.prefix
        && coll.plural == obj_coll.plural
        && (coll.namespace.is_none() || coll.namespace == obj_coll.namespace)
}

fn matches(obj: &Value, labels: &[(String, String)], fields: &[(String, String)]) -> bool {
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

impl State {
    fn behaviour(&self) -> Behaviour {
        self.behaviour.clone().unwrap_or_default()
    }

    fn bump(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn emit(&mut self, coll: &Collection, kind: &'static str, obj: &Value) {
        let rv = self.rv;
        self.log.push((rv, coll.clone(), kind, obj.clone()));
        let line = format!("{}\n", json!({"type": kind, "object": obj}));
        self.watchers.retain(|w| {
            if !in_collection(&w.coll, coll) || !matches(obj, &w.labels, &w.fields) {
                return !w.tx.is_closed();
            }
            w.tx.unbounded_send(Ok(Frame::data(Bytes::from(line.clone()))))
                .is_ok()
        });
    }

    /// Stores `obj` (a full object with apiVersion/kind/metadata) and tells the watchers.
    fn put(&mut self, coll: &Collection, mut obj: Value) -> Value {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = (coll.clone(), name);
        let old = self.objects.get(&key).cloned();
        let rv = self.bump();
        let meta = &mut obj["metadata"];
        meta["resourceVersion"] = json!(rv.to_string());
        if let Some(ns) = &coll.namespace {
            meta["namespace"] = json!(ns);
        }
        match &old {
            Some(o) => {
                meta["uid"] = o["metadata"]["uid"].clone();
                meta["creationTimestamp"] = o["metadata"]["creationTimestamp"].clone();
                let gen_old = o["metadata"]["generation"].as_i64().unwrap_or(1);
                let changed = o.get("spec") != obj.get("spec");
                obj["metadata"]["generation"] = json!(gen_old + i64::from(changed));
                if obj.get("status").is_none()
                    && let Some(st) = o.get("status")
                {
                    obj["status"] = st.clone();
                }
            }
            None => {
                self.uid += 1;
                let meta = &mut obj["metadata"];
                meta["uid"] = json!(format!("uid-{}", self.uid));
                if meta.get("creationTimestamp").is_none() {
                    meta["creationTimestamp"] = json!(Timestamp::now().to_string());
                }
                meta["generation"] = json!(1);
            }
        }
        self.objects.insert(key, obj.clone());
        let kind = if old.is_some() { "MODIFIED" } else { "ADDED" };
        self.emit(coll, kind, &obj);
        obj
    }

    fn remove(&mut self, coll: &Collection, name: &str) -> Option<Value> {
        let mut obj = self.objects.remove(&(coll.clone(), name.to_owned()))?;
        let rv = self.bump();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.emit(coll, "DELETED", &obj);
        Some(obj)
    }

    fn list(
        &self,
        coll: &Collection,
        labels: &[(String, String)],
        fields: &[(String, String)],
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((c, _), o)| in_collection(coll, c) && matches(o, labels, fields))
            .map(|(_, o)| o.clone())
            .collect()
    }
}

fn core(plural: &str, ns: &str) -> Collection {
    Collection {
        prefix: "/api/v1".into(),
        plural: plural.into(),
        namespace: Some(ns.into()),
    }
}

fn status(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
               "code": code, "reason": reason, "message": message, "metadata": {}}),
    )
}

fn full(code: u16, v: &Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed_unsync())
        .unwrap()
}

fn text(code: u16, t: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(t)).boxed_unsync())
        .unwrap()
}

/// A page like the backend's, with the pod's name in a label so tests can tell them apart.
pub(crate) fn metrics_page(pod: &str) -> String {
    format!(
        "# TYPE http_requests_total counter\nhttp_requests_total{{method=\"POST\",route=\"/api/tickets\",status=\"201\",pod=\"{pod}\"}} 7\n"
    )
}

/// The fake and the client that talks to it.
pub(crate) struct FakeApi {
    pub(crate) client: Client,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApi {
    pub(crate) fn start(behaviour: Behaviour) -> Self {
        let (svc, mut handle) =
            tower_test::mock::pair::<Request<kube::client::Body>, Response<Body>>();
        let state = Arc::new(Mutex::new(State {
            behaviour: Some(behaviour.clone()),
            ..State::default()
        }));
        if let Some(ns) = &behaviour.existing_namespace {
            let mut s = state.lock().unwrap();
            let coll = Collection {
                prefix: "/api/v1".into(),
                plural: "namespaces".into(),
                namespace: None,
            };
            s.put(
                &coll,
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                "status": {"phase": "Active"}}),
            );
        }
        let st = state.clone();
        let task = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                let response = serve(&st, &parts, &bytes);
                send.send_response(response);
            }
        });
        Self {
            client: Client::new(svc, "default"),
            state,
            task,
        }
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    /// `METHOD path` of every call that is not a read (applies and deletes), in order.
    pub(crate) fn writes(&self) -> Vec<String> {
        self.calls()
            .iter()
            .filter(|c| c.method != "GET")
            .map(Call::line)
            .collect()
    }

    /// The stored object at `path` (e.g. `/apis/apps/v1/namespaces/ns/deployments/backend`).
    pub(crate) fn object(&self, path: &str) -> Option<Value> {
        let t = parse_path(path)?;
        self.state
            .lock()
            .unwrap()
            .objects
            .get(&(t.coll, t.name?))
            .cloned()
    }

    /// Names of the stored objects of a collection path.
    pub(crate) fn names(&self, path: &str) -> Vec<String> {
        let Some(t) = parse_path(path) else {
            return Vec::new();
        };
        self.state
            .lock()
            .unwrap()
            .list(&t.coll, &[], &[])
            .iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    /// Stores an object as if someone else had created it.
    pub(crate) fn insert(&self, collection_path: &str, obj: Value) {
        let t = parse_path(collection_path).expect("collection path");
        self.state.lock().unwrap().put(&t.coll, obj);
    }
}

fn serve(state: &Arc<Mutex<State>>, parts: &http::request::Parts, body: &Bytes) -> Response<Body> {
    let path = parts.uri.path().to_owned();
    let query: BTreeMap<String, String> = parts.uri.query().map(url_pairs).unwrap_or_default();
    let body_json: Option<Value> = serde_json::from_slice(body).ok();
    let method = parts.method.to_string();
    let mut s = state.lock().unwrap();
    s.calls.push(Call {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: body_json.clone(),
    });
    let b = s.behaviour();
    if let Some(f) = &b.forbid
        && format!("{method} {path}").contains(f.as_str())
    {
        {
            let (c, v) = status(
                403,
                "Forbidden",
                &format!(
                    "User \"kind-user\" cannot {} resource at {path}",
                    method.to_lowercase()
                ),
            );
            return full(c, &v);
        }
    }
    if path == "/version" {
        return full(
            200,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1",
            "gitCommit": "x", "gitTreeState": "clean", "buildDate": "2025-05-15T00:00:00Z",
            "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
        );
    }
    let Some(t) = parse_path(&path) else {
        let (c, v) = status(404, "NotFound", "no such path");
        return full(c, &v);
    };
    match (method.as_str(), &t.name, &t.sub) {
        ("GET", Some(name), Some(sub)) if t.coll.plural == "pods" && sub == "proxy/metrics" => {
            let pod = name.split(':').next().unwrap_or_default();
            let ns = t.coll.namespace.clone().unwrap_or_default();
            if !s.objects.contains_key(&(core("pods", &ns), pod.to_owned())) {
                let (c, v) = status(404, "NotFound", &format!("pods \"{pod}\" not found"));
                return full(c, &v);
            }
            if b.unreachable_pods.iter().any(|p| p == pod) {
                let (c, v) = status(
                    503,
                    "ServiceUnavailable",
                    "error trying to reach service: dial tcp 10.244.1.7:8080: connect: connection refused",
                );
                return full(c, &v);
            }
            text(200, metrics_page(pod))
        }
        ("PATCH", Some(name), None) => {
            if s.behaviour
                .as_ref()
                .is_some_and(|b| b.transient_apply_failures > 0)
            {
                if let Some(b) = s.behaviour.as_mut() {
                    b.transient_apply_failures -= 1;
                }
                let (c, v) = status(503, "ServiceUnavailable", "etcdserver: leader changed");
                return full(c, &v);
            }
            let Some(mut obj) = body_json else {
                let (c, v) = status(400, "BadRequest", "apply body is not JSON");
                return full(c, &v);
            };
            if obj["metadata"]["name"].as_str() != Some(name) {
                let (c, v) = status(400, "BadRequest", "name in body and path differ");
                return full(c, &v);
            }
            obj.as_object_mut().map(|o| o.remove("status"));
            let stored = s.put(&t.coll, obj);
            drop(s);
            controllers(state, &t.coll, &stored, b.controller_delay);
            full(200, &stored)
        }
        ("GET", Some(name), None) => match s.objects.get(&(t.coll.clone(), name.clone())) {
            Some(o) => full(200, o),
            None => {
                let (c, v) = status(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", t.coll.plural),
                );
                full(c, &v)
            }
        },
        ("GET", None, None) => {
            let labels = pairs(query.get("labelSelector"));
            let fields = pairs(query.get("fieldSelector"));
            if query.get("watch").map(String::as_str) == Some("true") {
                let since: u64 = query
                    .get("resourceVersion")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let (tx, rx) = unbounded();
                for (rv, coll, kind, obj) in &s.log {
                    if *rv > since && in_collection(&t.coll, coll) && matches(obj, &labels, &fields)
                    {
                        let line = format!("{}\n", json!({"type": kind, "object": obj}));
                        let _ = tx.unbounded_send(Ok(Frame::data(Bytes::from(line))));
                    }
                }
                s.watchers.push(Watcher {
                    coll: t.coll.clone(),
                    labels,
                    fields,
                    tx,
                });
                return Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(StreamBody::new(rx).boxed_unsync())
                    .unwrap();
            }
            let items = s.list(&t.coll, &labels, &fields);
            full(
                200,
                &json!({"apiVersion": "v1", "kind": "List",
                "metadata": {"resourceVersion": s.rv.to_string()}, "items": items}),
            )
        }
        ("DELETE", Some(name), None) if t.coll.plural == "namespaces" => {
            // A namespace terminates first and is gone once its contents are.
            let Some(mut obj) = s.objects.get(&(t.coll.clone(), name.clone())).cloned() else {
                let (c, v) = status(404, "NotFound", &format!("namespaces \"{name}\" not found"));
                return full(c, &v);
            };
            obj["status"] = json!({"phase": "Terminating"});
            obj["metadata"]["deletionTimestamp"] = json!(Timestamp::now().to_string());
            let stored = s.put(&t.coll, obj);
            let (state, coll, name) = (state.clone(), t.coll.clone(), name.clone());
            tokio::spawn(async move {
                tokio::time::sleep(b.controller_delay).await;
                let mut s = state.lock().unwrap();
                if let Some(obj) = s.remove(&coll, &name) {
                    cascade(&mut s, &coll, &obj);
                }
            });
            full(200, &stored)
        }
        ("DELETE", Some(name), None) => {
            let Some(obj) = s.remove(&t.coll, name) else {
                let (c, v) = status(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", t.coll.plural),
                );
                return full(c, &v);
            };
            cascade(&mut s, &t.coll, &obj);
            full(200, &obj)
        }
        _ => {
            let (c, v) = status(405, "MethodNotAllowed", "the fake does not serve this");
            full(c, &v)
        }
    }
}

fn url_pairs(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Deleting an owner deletes what it owns: a namespace its objects, a workload its pods.
fn cascade(s: &mut State, coll: &Collection, obj: &Value) {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if coll.plural == "namespaces" {
        let keys: Vec<_> = s
            .objects
            .keys()
            .filter(|(c, _)| c.namespace.as_deref() == Some(name.as_str()))
            .cloned()
            .collect();
        for (c, n) in keys {
            s.remove(&c, &n);
        }
        return;
    }
    if matches!(coll.plural.as_str(), "deployments" | "daemonsets" | "jobs") {
        let ns = coll.namespace.clone().unwrap_or_default();
        for pod in owned_pods(s, &ns, obj) {
            s.remove(&core("pods", &ns), &pod);
        }
    }
}

fn selector_of(obj: &Value) -> Vec<(String, String)> {
    let sel = &obj["spec"]["selector"]["matchLabels"];
    let sel = if sel.is_object() {
        sel
    } else {
        &obj["spec"]["template"]["metadata"]["labels"]
    };
    sel.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn owned_pods(s: &State, ns: &str, owner: &Value) -> Vec<String> {
    let sel = selector_of(owner);
    if sel.is_empty() {
        return Vec::new();
    }
    s.list(&core("pods", ns), &sel, &[])
        .iter()
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Plays the controllers and the kubelet after an apply, a little later (so waits see the
/// change arrive through their watch).
fn controllers(state: &Arc<Mutex<State>>, coll: &Collection, obj: &Value, delay: Duration) {
    if !matches!(coll.plural.as_str(), "deployments" | "daemonsets" | "jobs") {
        return;
    }
    let state = state.clone();
    let coll = coll.clone();
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let mut s = state.lock().unwrap();
        let Some(obj) = s.objects.get(&(coll.clone(), name.clone())).cloned() else {
            return;
        };
        let b = s.behaviour();
        let ns = coll.namespace.clone().unwrap_or_default();
        let template = obj["spec"]["template"].clone();
        let pods_coll = core("pods", &ns);
        let mut existing = owned_pods(&s, &ns, &obj);
        let want: Vec<(String, Option<String>)> = match coll.plural.as_str() {
            "deployments" => (0..obj["spec"]["replicas"].as_i64().unwrap_or(1))
                .map(|i| (format!("{name}-7d9f8-{i}"), None))
                .collect(),
            "daemonsets" => b
                .nodes
                .iter()
                .map(|n| (format!("{name}-{n}"), Some(n.clone())))
                .collect(),
            _ => (0..obj["spec"]["completions"].as_i64().unwrap_or(1))
                .map(|i| (format!("{name}-{i}-x8k2p"), None))
                .collect(),
        };
        let never_ready = coll.plural == "deployments" && b.never_ready.contains(&name);
        for (i, (pod, node)) in want.iter().enumerate() {
            if let Some(pos) = existing.iter().position(|e| e == pod) {
                existing.remove(pos);
                continue;
            }
            let node = node
                .clone()
                .unwrap_or_else(|| b.nodes[i % b.nodes.len()].clone());
            let p = pod_for(
                &template,
                pod,
                &node,
                i,
                b.image_pull_error.as_deref(),
                never_ready,
            );
            if let Some(image) = pull_failure(&template, b.image_pull_error.as_deref()) {
                let ev = json!({"apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": format!("{pod}.failed"), "namespace": ns},
                    "involvedObject": {"kind": "Pod", "name": pod, "namespace": ns},
                    "type": "Warning", "reason": "Failed", "count": 3,
                    "message": format!("Failed to pull image \"{image}\": not found")});
                s.put(&core("events", &ns), ev);
            }
            s.put(&pods_coll, p);
        }
        for extra in existing {
            s.remove(&pods_coll, &extra);
        }
        let pods = owned_pods(&s, &ns, &obj);
        let ready = pods
            .iter()
            .filter(|p| {
                s.objects
                    .get(&(pods_coll.clone(), (*p).clone()))
                    .is_some_and(|o| {
                        o["status"]["conditions"].as_array().is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        })
                    })
            })
            .count() as i64;
        let generation = obj["metadata"]["generation"].clone();
        let mut updated = obj.clone();
        updated["status"] = match coll.plural.as_str() {
            "deployments" => json!({"observedGeneration": generation, "replicas": pods.len(),
                "readyReplicas": ready, "updatedReplicas": pods.len(), "availableReplicas": ready}),
            "daemonsets" => json!({"observedGeneration": generation,
                "desiredNumberScheduled": b.nodes.len(), "currentNumberScheduled": b.nodes.len(),
                "numberMisscheduled": 0, "numberReady": ready, "updatedNumberScheduled": b.nodes.len()}),
            _ => json!({"active": pods.len(), "ready": ready}),
        };
        s.put(&coll, updated);
    });
}

fn containers(template: &Value) -> Vec<Value> {
    let spec = &template["spec"];
    let mut all: Vec<Value> = spec["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    all.extend(spec["containers"].as_array().cloned().unwrap_or_default());
    all
}

fn pull_failure(template: &Value, bad: Option<&str>) -> Option<String> {
    let bad = bad?;
    containers(template)
        .iter()
        .find(|c| c["image"].as_str() == Some(bad))
        .map(|_| bad.to_owned())
}

fn pod_for(
    template: &Value,
    name: &str,
    node: &str,
    i: usize,
    bad_image: Option<&str>,
    never_ready: bool,
) -> Value {
    let created = Timestamp::now();
    let at = |secs: i64| (created + SignedDuration::from_secs(secs)).to_string();
    let mut metadata = template["metadata"].clone();
    metadata["name"] = json!(name);
    metadata["creationTimestamp"] = json!(created.to_string());
    if !metadata["annotations"].is_object() {
        metadata["annotations"] = json!({});
    }
    metadata["annotations"]["batch.kubernetes.io/job-completion-index"] = json!(i.to_string());
    let mut spec = template["spec"].clone();
    spec["nodeName"] = json!(node);
    let failing = pull_failure(template, bad_image).is_some();
    let status = |c: &Value| {
        let image = c["image"].as_str().unwrap_or_default();
        let state = if bad_image == Some(image) {
            json!({"waiting": {"reason": "ErrImagePull",
                "message": format!("rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/{image}\": not found")}})
        } else if failing {
            json!({"waiting": {"reason": "PodInitializing"}})
        } else {
            json!({"running": {"startedAt": at(1)}})
        };
        json!({"name": c["name"], "image": image, "imageID": "", "ready": !failing && !never_ready,
               "restartCount": 0, "state": state})
    };
    let inits: Vec<Value> = template["spec"]["initContainers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mains: Vec<Value> = template["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ok = !failing && !never_ready;
    let cond = |t: &str, ok: bool, secs: i64| {
        let mut c = json!({"type": t, "status": if ok { "True" } else { "False" }, "lastTransitionTime": at(secs)});
        if !ok {
            c["reason"] = json!(if t == "Initialized" {
                "ContainersNotInitialized"
            } else {
                "ContainersNotReady"
            });
            c["message"] = json!("containers with unready status");
        }
        c
    };
    json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec,
        "status": {
            "phase": if failing { "Pending" } else { "Running" },
            "podIP": if failing { Value::Null } else { json!(format!("10.244.1.{}", 10 + i)) },
            "conditions": [cond("PodScheduled", true, 0), cond("Initialized", !failing, 1),
                           cond("ContainersReady", ok, 2), cond("Ready", ok, 2)],
            "initContainerStatuses": inits.iter().map(status).collect::<Vec<_>>(),
            "containerStatuses": mains.iter().map(status).collect::<Vec<_>>(),
        }
    })
}
