//! A fake Kubernetes API server behind `tower_test::mock::pair`, as strict as a cluster
//! where the runtime depends on it: [`store`] keeps objects and their history, [`watch`]
//! serves watches, [`routes`] answers HTTP, [`admission`] refuses what an API server
//! refuses, [`controllers`], [`jobs`] and [`kubelet`] play the control plane and the nodes on
//! tokio's clock (paused in tests: nothing waits on the wall clock). Every request is
//! recorded, so tests assert the API conversation itself.

mod admission;
mod autoscalers;
mod autoscalers_tests;
mod controllers;
mod jobs;
mod kubelet;
mod proxied;
mod routes;
mod store;
mod tests;
mod watch;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use kube::Client;
use serde_json::{Value, json};

pub(crate) use proxied::metrics_page;
use store::{Store, namespaces, parse_path};

pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// What a request asks for, for fault injection and assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    Apply,
    Get,
    List,
    Watch,
    Delete,
    Proxy,
    Other,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: BTreeMap<String, String>,
    pub(crate) body: Option<Value>,
}

impl Call {
    pub(crate) fn verb(&self) -> Verb {
        let named = parse_path(&self.path).is_some_and(|t| t.name.is_some());
        match self.method.as_str() {
            "GET" if self.path.contains("/proxy") => Verb::Proxy,
            "GET" if self.is_watch() => Verb::Watch,
            "GET" if named => Verb::Get,
            "GET" => Verb::List,
            "PATCH" => Verb::Apply,
            "DELETE" => Verb::Delete,
            _ => Verb::Other,
        }
    }

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

/// An injected failure: the next `times` requests of `verb` (any when `None`) whose path
/// contains `path` answer `code`, with `Retry-After: retry_after` when given.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub(crate) verb: Option<Verb>,
    pub(crate) path: String,
    pub(crate) code: u16,
    pub(crate) retry_after: Option<u64>,
    pub(crate) times: u32,
}

/// How the fake cluster behaves.
#[derive(Debug, Clone)]
pub(crate) struct Behaviour {
    pub(crate) nodes: Vec<String>,
    /// Pods with a container of this image cannot pull it ("not found").
    pub(crate) image_pull_error: Option<String>,
    /// ... unless the registry comes back: the pull then succeeds this long after it began.
    pub(crate) pull_recovers_after: Option<Duration>,
    /// Deployments whose pods run but never become ready.
    pub(crate) never_ready: Vec<String>,
    /// Requests whose `METHOD path` contains this answer 403.
    pub(crate) forbid: Option<String>,
    /// The first N applies answer 503 (a transient error).
    pub(crate) transient_apply_failures: u32,
    /// Pre-existing namespace (another run of the same uuid).
    pub(crate) existing_namespace: Option<String>,
    /// Pods (by name prefix) whose /metrics the pod proxy cannot reach (HTTP 503).
    pub(crate) unreachable_pods: Vec<String>,
    /// The nodes' cAdvisor pages (through the node proxy) are not Prometheus text.
    pub(crate) cadvisor_garbage: bool,
    /// Real processes that play pods: (job label, address). Each pod of the job takes the
    /// next address not yet taken, at its first proxied request, and the pod proxy passes
    /// its requests on to it; pods left without one answer the canned pages.
    pub(crate) upstreams: Vec<(String, std::net::SocketAddr)>,
    /// Each step of a pod's life (scheduled, containers created, ready) takes this long.
    pub(crate) stage: Duration,
    /// How long a pod takes to stop after SIGTERM (at most its grace period).
    pub(crate) pod_stop: Duration,
    /// A Job's pods exit 0 this long after they became ready; `None`: they keep running.
    pub(crate) job_runs_for: Option<Duration>,
    /// At most this many active pods per namespace (a ResourceQuota).
    pub(crate) pod_quota: Option<usize>,
    /// How long an emptied namespace stays Terminating.
    pub(crate) namespace_linger: Duration,
    /// The server closes every watch after this (a real one: `timeoutSeconds`, ~5 min).
    pub(crate) watch_timeout: Duration,
    /// How often the controllers and the kubelet run.
    pub(crate) tick: Duration,
    /// The resource metrics API (metrics-server) is served.
    pub(crate) metrics_api: bool,
    /// KEDA is installed: its ScaledObject CRD exists.
    pub(crate) keda_crd: bool,
    /// What an HPA's metric adds up to over the backend while a load generator runs, and
    /// while none does, in units of the HPA's target per replica (cpu: % of one request).
    pub(crate) demand: f64,
    pub(crate) idle_demand: f64,
    /// How often the HPA controller syncs (`--horizontal-pod-autoscaler-sync-period`).
    pub(crate) hpa_sync: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            nodes: vec!["kind-worker".into(), "kind-worker2".into()],
            image_pull_error: None,
            pull_recovers_after: None,
            never_ready: Vec::new(),
            cadvisor_garbage: false,
            upstreams: Vec::new(),
            forbid: None,
            transient_apply_failures: 0,
            existing_namespace: None,
            unreachable_pods: Vec::new(),
            stage: Duration::from_secs(1),
            pod_stop: Duration::from_secs(1),
            job_runs_for: None,
            pod_quota: None,
            namespace_linger: Duration::from_secs(2),
            watch_timeout: Duration::from_secs(290),
            tick: Duration::from_millis(100),
            metrics_api: false,
            keda_crd: false,
            demand: 0.0,
            idle_demand: 0.0,
            hpa_sync: Duration::from_secs(15),
        }
    }
}

/// Everything behind the fake's one lock.
pub(crate) struct State {
    pub(crate) store: Store,
    pub(crate) behaviour: Behaviour,
    pub(crate) calls: Vec<Call>,
    pub(crate) faults: Vec<Fault>,
    /// The upstream each pod (`namespace/name`) took (see [`Behaviour::upstreams`]).
    pub(crate) claimed: BTreeMap<String, std::net::SocketAddr>,
}

impl State {
    /// The real process behind `pod` (`namespace/name`) of `job`, taking the next free one
    /// on first use.
    pub(crate) fn upstream(&mut self, pod: &str, job: &str) -> Option<std::net::SocketAddr> {
        if let Some(addr) = self.claimed.get(pod) {
            return Some(*addr);
        }
        let addr = self
            .behaviour
            .upstreams
            .iter()
            .find(|(j, a)| j == job && !self.claimed.values().any(|c| c == a))
            .map(|(_, a)| *a)?;
        self.claimed.insert(pod.to_owned(), addr);
        Some(addr)
    }
}

/// The fake and the client that talks to it.
pub(crate) struct FakeApi {
    pub(crate) client: Client,
    /// What `client` sends through, for clients with layers of their own.
    svc: tower_test::mock::Mock<Request<kube::client::Body>, Response<Body>>,
    state: Arc<Mutex<State>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeApi {
    pub(crate) fn start(behaviour: Behaviour) -> Self {
        let (svc, mut handle) =
            tower_test::mock::pair::<Request<kube::client::Body>, Response<Body>>();
        let mut store = Store::new();
        for n in &behaviour.nodes {
            store.put(&store::Collection::new("/api/v1", "nodes", None), json!({"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": n}, "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}));
        }
        if behaviour.keda_crd {
            store.put(
                &store::Collection::new("/apis/apiextensions.k8s.io/v1", "customresourcedefinitions", None),
                json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                    "metadata": {"name": "scaledobjects.keda.sh"},
                    "spec": {"group": "keda.sh", "names": {"kind": "ScaledObject", "plural": "scaledobjects"},
                        "scope": "Namespaced", "versions": [{"name": "v1alpha1", "served": true, "storage": true}]}}),
            );
        }
        if let Some(ns) = &behaviour.existing_namespace {
            store.put(
                &namespaces(),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}),
            );
        }
        let faults = (behaviour.transient_apply_failures > 0)
            .then(|| Fault {
                verb: Some(Verb::Apply),
                path: String::new(),
                code: 503,
                retry_after: None,
                times: behaviour.transient_apply_failures,
            })
            .into_iter()
            .collect();
        let tick = behaviour.tick;
        let state = Arc::new(Mutex::new(State {
            store,
            behaviour,
            calls: Vec::new(),
            faults,
            claimed: BTreeMap::new(),
        }));
        let st = state.clone();
        let server = tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body
                    .collect()
                    .await
                    .map(|c| c.to_bytes())
                    .unwrap_or_default();
                let response = match st.lock() {
                    Ok(mut s) => routes::serve(&mut s, &parts, &bytes),
                    Err(_) => return,
                };
                match response.extensions().get::<proxied::Forward>().cloned() {
                    // A real process answers in its own time; the fake serves on meanwhile.
                    Some(to) => {
                        tokio::spawn(async move { send.send_response(proxied::forward(to).await) });
                    }
                    None => send.send_response(response),
                }
            }
        });
        let st = state.clone();
        let control = tokio::spawn(async move {
            let mut every = tokio::time::interval(tick);
            loop {
                every.tick().await;
                if !step(&st) {
                    return;
                }
            }
        });
        Self {
            client: Client::new(svc.clone(), "default"),
            svc,
            state,
            tasks: vec![server, control],
        }
    }

    /// A client of this fake whose requests go through `layer` first (as the orchestrator
    /// puts its own on the client of a real cluster).
    pub(crate) fn client_with<L>(&self, layer: &L) -> Client
    where
        L: tower::Layer<tower_test::mock::Mock<Request<kube::client::Body>, Response<Body>>>,
        L::Service:
            tower::Service<Request<kube::client::Body>, Response = Response<Body>> + Send + 'static,
        <L::Service as tower::Service<Request<kube::client::Body>>>::Future: Send + 'static,
        <L::Service as tower::Service<Request<kube::client::Body>>>::Error: Into<tower::BoxError>,
    {
        Client::new(layer.layer(self.svc.clone()), "default")
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut s)
    }

    /// Runs the controllers and the kubelet once, now (tests of the fake step it by hand).
    pub(crate) fn step(&self) {
        step(&self.state);
    }

    /// The upstream each pod (`namespace/name`) took.
    pub(crate) fn claimed(&self) -> BTreeMap<String, std::net::SocketAddr> {
        self.with(|s| s.claimed.clone())
    }

    pub(crate) fn calls(&self) -> Vec<Call> {
        self.with(|s| s.calls.clone())
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
        self.with(|s| s.store.get(&t.coll, t.name.as_deref()?).cloned())
    }

    /// Names of the stored objects of a collection path.
    pub(crate) fn names(&self, path: &str) -> Vec<String> {
        let Some(t) = parse_path(path) else {
            return Vec::new();
        };
        self.with(|s| {
            s.store
                .list(&t.coll, &[], &[])
                .iter()
                .map(store::name_of)
                .collect()
        })
    }

    /// Stores an object as if someone else had created it.
    pub(crate) fn insert(&self, collection_path: &str, obj: Value) {
        if let Some(t) = parse_path(collection_path) {
            self.with(|s| s.store.put(&t.coll, obj));
        }
    }

    /// Someone else deletes the object at `path` (as `kubectl delete` would, in the background).
    pub(crate) fn delete(&self, path: &str) {
        if let Some(t) = parse_path(path) {
            self.with(|s| {
                s.store
                    .delete(&t.coll, t.name.as_deref().unwrap_or_default(), None)
            });
        }
    }

    /// Injects a fault (see [`Fault`]).
    pub(crate) fn fail(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault));
    }

    /// Forgets the event history: a watch resuming from an older version gets 410 Gone.
    pub(crate) fn compact(&self) {
        self.with(|s| s.store.compact());
    }

    /// Ends every open watch, with an ERROR event of `code` first when given.
    pub(crate) fn break_watches(&self, code: Option<u16>) {
        self.with(|s| watch::break_all(&mut s.store, code));
    }

    /// Open watches right now.
    pub(crate) fn open_watches(&self) -> usize {
        self.with(|s| s.store.watchers.len())
    }
}

/// One pass of the control plane; false once the lock is poisoned.
fn step(state: &Arc<Mutex<State>>) -> bool {
    let Ok(mut s) = state.lock() else {
        return false;
    };
    let State {
        store, behaviour, ..
    } = &mut *s;
    controllers::run(store, behaviour);
    watch::tick(store);
    true
}
