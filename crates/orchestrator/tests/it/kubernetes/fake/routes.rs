//! The fake's HTTP side: each request is recorded, then answered by an injected fault
//! (403, 429 with Retry-After, 5xx) or routed: server-side apply (field manager, conflicts
//! without `force`), get, list, watch, delete (grace period, propagation policy; 409 for a
//! namespace already terminating) and the pod proxy (the pod's port and phase decide).

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use super::admission::{self, Refusal};
use super::store::{Target, namespaces, parse_path};
use super::{Body, Call, State, Verb, watch};

fn full(code: u16, v: &Value, retry_after: Option<u64>) -> Response<Body> {
    let mut r = Response::builder()
        .status(code)
        .header("content-type", "application/json");
    if let Some(s) = retry_after {
        r = r.header("retry-after", s.to_string());
    }
    r.body(Full::new(Bytes::from(v.to_string())).boxed_unsync())
        .unwrap_or_default()
}

fn status(r: &Refusal, retry_after: Option<u64>) -> Response<Body> {
    let v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "code": r.code, "reason": r.reason, "message": r.message});
    full(r.code, &v, retry_after)
}

fn refuse(code: u16, reason: &'static str, message: impl Into<String>) -> Response<Body> {
    status(&Refusal::new(code, reason, message), None)
}

/// A page like the backend's, with the pod's name in a label so tests can tell them apart.
/// A pipeline worker's page (the pod's job label says which page it serves): the
/// consumer's counters the sampler reads.
pub(crate) fn worker_page(pod: &str) -> String {
    format!(
        "# TYPE worker_messages_consumed_total counter\nworker_messages_consumed_total{{pod=\"{pod}\"}} 7\n# TYPE worker_messages_acknowledged_total counter\nworker_messages_acknowledged_total{{pod=\"{pod}\"}} 7\n"
    )
}

pub(crate) fn metrics_page(pod: &str) -> String {
    format!(
        "# TYPE http_requests_total counter\nhttp_requests_total{{method=\"POST\",route=\"/api/tickets\",status=\"201\",pod=\"{pod}\"}} 7\n"
    )
}

fn url_pairs(q: &str) -> BTreeMap<String, String> {
    let decode = |s: &str| {
        let b = s.as_bytes();
        let (mut out, mut i) = (Vec::new(), 0);
        while i < b.len() {
            match b[i] {
                b'%' if i + 2 < b.len() => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
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
    };
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Answers one request.
pub(crate) fn serve(st: &mut State, parts: &http::request::Parts, bytes: &[u8]) -> Response<Body> {
    let path = parts.uri.path().to_owned();
    let query = url_pairs(parts.uri.query().unwrap_or(""));
    let method = parts.method.as_str().to_owned();
    let body: Option<Value> = serde_json::from_slice(bytes).ok();
    let call = Call {
        method,
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    };
    let verb = call.verb();
    st.calls.push(call.clone());
    if st
        .behaviour
        .forbid
        .as_ref()
        .is_some_and(|f| call.line().contains(f.as_str()))
    {
        return refuse(
            403,
            "Forbidden",
            format!(
                "{} is forbidden: User \"kind-user\" cannot {} resource in API group \"\"",
                call.path,
                call.method.to_lowercase()
            ),
        );
    }
    if let Some(f) = st
        .faults
        .iter_mut()
        .find(|f| f.times > 0 && f.verb.is_none_or(|v| v == verb) && call.path.contains(&f.path))
    {
        f.times -= 1;
        let reason = if f.code == 429 {
            "TooManyRequests"
        } else {
            "ServiceUnavailable"
        };
        let message = if f.code == 429 {
            "the server has received too many requests and has asked us to try again later"
        } else {
            "etcdserver: leader changed"
        };
        return status(&Refusal::new(f.code, reason, message), f.retry_after);
    }
    if path == "/version" {
        return full(
            200,
            &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "gitCommit": "x", "gitTreeState": "clean",
            "buildDate": "2025-05-15T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
            None,
        );
    }
    if let Some(node) = path
        .strip_prefix("/api/v1/nodes/")
        .and_then(|r| r.strip_suffix("/proxy/metrics/cadvisor"))
    {
        return cadvisor(st, node);
    }
    if let Some(ns) = path
        .strip_prefix("/apis/metrics.k8s.io/v1beta1/namespaces/")
        .and_then(|r| r.strip_suffix("/pods"))
    {
        return pod_metrics(st, ns);
    }
    if path == "/apis/metrics.k8s.io/v1beta1" && st.behaviour.metrics_api {
        return full(
            200,
            &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "metrics.k8s.io/v1beta1",
                "resources": [{"name": "pods", "singularName": "", "namespaced": true, "kind": "PodMetrics", "verbs": ["get", "list"]}]}),
            None,
        );
    }
    if call.method == "POST" && path.ends_with("/selfsubjectaccessreviews") {
        return access_review(st, body.as_ref());
    }
    let Some(t) = parse_path(&path) else {
        return refuse(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    match verb {
        Verb::Proxy => proxy(st, &t),
        Verb::Apply => apply(st, &t, &query, parts, body),
        Verb::Get => match st.store.get(&t.coll, t.name.as_deref().unwrap_or_default()) {
            Some(o) => full(200, o, None),
            None => refuse(
                404,
                "NotFound",
                format!(
                    "{} \"{}\" not found",
                    t.coll.plural,
                    t.name.unwrap_or_default()
                ),
            ),
        },
        Verb::List => {
            let labels = super::store::pairs(query.get("labelSelector"));
            let fields = super::store::pairs(query.get("fieldSelector"));
            let items = st.store.list(&t.coll, &labels, &fields);
            full(
                200,
                &json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": st.store.rv().to_string()}, "items": items}),
                None,
            )
        }
        Verb::Watch => watch::open(&mut st.store, &t.coll, &query, st.behaviour.watch_timeout),
        Verb::Delete => delete(st, &t, body.as_ref()),
        Verb::Other => refuse(405, "MethodNotAllowed", "the fake does not serve this"),
    }
}

fn apply(
    st: &mut State,
    t: &Target,
    query: &BTreeMap<String, String>,
    parts: &http::request::Parts,
    body: Option<Value>,
) -> Response<Body> {
    let content_type = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.contains("apply-patch") {
        return refuse(
            415,
            "UnsupportedMediaType",
            format!("the fake serves server-side apply only, not {content_type}"),
        );
    }
    let Some(manager) = query.get("fieldManager").filter(|m| !m.is_empty()) else {
        return refuse(
            422,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        );
    };
    let Some(mut obj) = body else {
        return refuse(400, "BadRequest", "apply body is not JSON");
    };
    let name = t.name.clone().unwrap_or_default();
    if obj["metadata"]["name"].as_str() != Some(name.as_str()) {
        return refuse(
            400,
            "BadRequest",
            "the name of the object does not match the name on the URL",
        );
    }
    let old = st.store.get(&t.coll, &name).cloned();
    let owner = old.as_ref().and_then(|o| {
        o["metadata"]["managedFields"][0]["manager"]
            .as_str()
            .map(str::to_owned)
    });
    let force = query.get("force").map(String::as_str) == Some("true");
    if let Some(owner) = owner.filter(|o| o != manager && !force) {
        return refuse(
            409,
            "Conflict",
            format!("Apply failed with 1 conflict: conflict with \"{owner}\": .spec"),
        );
    }
    if let Some(o) = obj.as_object_mut() {
        o.remove("status");
    }
    admission::default(&st.store, &t.coll, &mut obj, old.as_ref());
    if let Err(r) = admission::admit(&st.store, &t.coll, &obj, old.as_ref()) {
        return status(&r, None);
    }
    if t.coll == namespaces() && old.is_none() {
        obj["status"] = json!({"phase": "Active"});
        obj["spec"]["finalizers"] = json!(["kubernetes"]);
    }
    obj["metadata"]["managedFields"] =
        json!([{"manager": manager, "operation": "Apply", "apiVersion": obj["apiVersion"]}]);
    full(200, &st.store.put(&t.coll, obj), None)
}

fn delete(st: &mut State, t: &Target, options: Option<&Value>) -> Response<Body> {
    let name = t.name.clone().unwrap_or_default();
    let Some(obj) = st.store.get(&t.coll, &name).cloned() else {
        return refuse(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", t.coll.plural),
        );
    };
    if t.coll == namespaces() && obj["metadata"].get("deletionTimestamp").is_some() {
        return refuse(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on namespaces \"{name}\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
            ),
        );
    }
    let policy = options
        .and_then(|o| o["propagationPolicy"].as_str())
        .unwrap_or("Background");
    let id = obj["metadata"]["uid"].clone();
    match policy {
        "Orphan" => {
            for (c, mut dep) in st.store.all() {
                let refs = dep["metadata"]["ownerReferences"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                if refs.iter().any(|r| r["uid"] == id) {
                    dep["metadata"]["ownerReferences"] = json!(
                        refs.into_iter()
                            .filter(|r| r["uid"] != id)
                            .collect::<Vec<_>>()
                    );
                    st.store.put(&c, dep);
                }
            }
        }
        "Foreground" => {
            let mut marked = obj.clone();
            let mut finalizers = marked["metadata"]["finalizers"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            finalizers.push(json!("foregroundDeletion"));
            marked["metadata"]["finalizers"] = json!(finalizers);
            st.store.put(&t.coll, marked);
        }
        _ => {}
    }
    let grace = options.and_then(|o| o["gracePeriodSeconds"].as_i64());
    match st.store.delete(&t.coll, &name, grace) {
        Some(o) => full(200, &o, None),
        None => refuse(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", t.coll.plural),
        ),
    }
}

fn proxy(st: &mut State, t: &Target) -> Response<Body> {
    let target = t.name.clone().unwrap_or_default();
    let (pod, port) = target.split_once(':').unwrap_or((&target, "80"));
    let Some(p) = st.store.get(&t.coll, pod) else {
        return refuse(404, "NotFound", format!("pods \"{pod}\" not found"));
    };
    let Some(ip) = p["status"]["podIP"].as_str() else {
        return refuse(
            503,
            "ServiceUnavailable",
            format!("pod {pod} has no IP yet"),
        );
    };
    let refused = || {
        refuse(
            503,
            "ServiceUnavailable",
            format!(
                "error trying to reach service: dial tcp {ip}:{port}: connect: connection refused"
            ),
        )
    };
    let listens = p["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
        .any(|cp| {
            cp["containerPort"]
                .as_u64()
                .map(|n| n.to_string())
                .as_deref()
                == Some(port)
        });
    // Only a running container listens; a finished pod keeps its IP but answers nothing.
    if p["status"]["phase"] != "Running"
        || !listens
        || st
            .behaviour
            .unreachable_pods
            .iter()
            .any(|u| pod.starts_with(u.as_str()))
    {
        return refused();
    }
    let job = p["metadata"]["labels"]["load-demo.io/job"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let route = t
        .sub
        .as_deref()
        .and_then(|s| s.strip_prefix("proxy"))
        .unwrap_or_default()
        .to_owned();
    if let Some(addr) = st.upstream(pod, &job) {
        let mut forward = Response::new(Full::new(Bytes::new()).boxed_unsync());
        forward.extensions_mut().insert(Forward(addr, route));
        return forward;
    }
    let page = match (job.as_str(), route.as_str()) {
        ("worker", "/metrics") => worker_page(pod),
        (_, "/metrics") => metrics_page(pod),
        // What an image without the route answers: the component's own 404, passed on.
        _ => {
            return Response::builder()
                .status(404)
                .header("content-type", "application/json")
                .body(
                    Full::new(Bytes::from(format!(
                        "{{\"error\":\"no route for {route}\"}}"
                    )))
                    .boxed_unsync(),
                )
                .unwrap_or_default();
        }
    };
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(page)).boxed_unsync())
        .unwrap_or_default()
}

/// A proxied request the fake passes on to a real component (the pod's process): the
/// address and the path under the pod.
#[derive(Debug, Clone)]
pub(crate) struct Forward(pub(crate) std::net::SocketAddr, pub(crate) String);

/// GETs `path` from the real component at `addr` and answers as the API server's proxy
/// does: the component's status and body, as they are.
pub(crate) async fn forward(Forward(addr, path): Forward) -> Response<Body> {
    let url = format!("http://{addr}{path}");
    let answer = async {
        let r = reqwest::get(&url).await?;
        let code = r.status().as_u16();
        let body = r.bytes().await?;
        Ok::<_, reqwest::Error>((code, body))
    };
    match tokio::time::timeout(Duration::from_secs(5), answer).await {
        Ok(Ok((code, body))) => Response::builder()
            .status(code)
            .body(Full::new(body).boxed_unsync())
            .unwrap_or_default(),
        Ok(Err(e)) => refuse(
            503,
            "ServiceUnavailable",
            format!("error trying to reach service: {e}"),
        ),
        Err(_) => refuse(
            503,
            "ServiceUnavailable",
            format!("error trying to reach service: {url}: timeout"),
        ),
    }
}

/// The running pods of the store: (namespace, pod, node, first container), in name order.
fn running_pods(st: &State) -> Vec<(String, String, String, String)> {
    st.store
        .all()
        .into_iter()
        .filter(|(c, o)| c.plural == "pods" && o["status"]["phase"] == "Running")
        .map(|(_, o)| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            (
                text(&o["metadata"]["namespace"]),
                text(&o["metadata"]["name"]),
                text(&o["spec"]["nodeName"]),
                text(&o["spec"]["containers"][0]["name"]),
            )
        })
        .collect()
}

/// A kubelet's cAdvisor page: every running pod of `node`, its counters growing with the
/// store's resource version (each write moves the fake's clock of work on).
fn cadvisor(st: &State, node: &str) -> Response<Body> {
    if !st.behaviour.nodes.iter().any(|n| n == node) {
        return refuse(404, "NotFound", format!("nodes \"{node}\" not found"));
    }
    let text = if st.behaviour.cadvisor_garbage {
        "<html><body>502 Bad Gateway</body></html>".to_owned()
    } else {
        let work = st.store.rv() as f64;
        let mut out = String::from("# TYPE container_cpu_usage_seconds_total counter\n");
        for (ns, pod, _, container) in running_pods(st).into_iter().filter(|p| p.2 == node) {
            let l = format!("namespace=\"{ns}\",pod=\"{pod}\"");
            out.push_str(&format!(
                "container_cpu_usage_seconds_total{{{l},container=\"{container}\"}} {}\n\
                 container_cpu_usage_seconds_total{{{l},container=\"\"}} {}\n\
                 container_memory_working_set_bytes{{{l},container=\"{container}\"}} 20971520\n\
                 container_network_receive_bytes_total{{{l},container=\"POD\",interface=\"eth0\"}} {}\n\
                 container_network_transmit_bytes_total{{{l},container=\"POD\",interface=\"eth0\"}} {}\n",
                work * 0.01,
                work * 0.02,
                work * 100.0,
                work * 300.0
            ));
        }
        out
    };
    Response::builder()
        .status(200)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from(text)).boxed_unsync())
        .unwrap_or_default()
}

/// metrics-server's PodMetricsList of `ns` (404 without metrics-server, as a cluster says).
fn pod_metrics(st: &State, ns: &str) -> Response<Body> {
    if !st.behaviour.metrics_api {
        return refuse(
            404,
            "NotFound",
            "the server could not find the requested resource",
        );
    }
    let items: Vec<Value> = running_pods(st)
        .into_iter()
        .filter(|p| p.0 == ns)
        .map(|(_, pod, _, container)| {
            json!({"metadata": {"name": pod, "namespace": ns}, "window": "15s",
                   "containers": [{"name": container, "usage": {"cpu": "50m", "memory": "20Mi"}}]})
        })
        .collect();
    full(
        200,
        &json!({"kind": "PodMetricsList", "apiVersion": "metrics.k8s.io/v1beta1", "items": items}),
        None,
    )
}

/// `kubectl auth can-i`: allowed unless [`super::Behaviour::forbid`] would refuse the call the
/// review asks about.
fn access_review(st: &State, body: Option<&Value>) -> Response<Body> {
    let Some(review) = body else {
        return refuse(400, "BadRequest", "the review body is not JSON");
    };
    let a = &review["spec"]["resourceAttributes"];
    let group = a["group"].as_str().unwrap_or_default();
    let prefix = match group {
        "" => "/api/v1".to_owned(),
        "autoscaling" => "/apis/autoscaling/v2".to_owned(),
        "keda.sh" => "/apis/keda.sh/v1alpha1".to_owned(),
        g => format!("/apis/{g}/v1"),
    };
    let method = match a["verb"].as_str().unwrap_or_default() {
        "patch" => "PATCH",
        "delete" => "DELETE",
        "create" => "POST",
        _ => "GET",
    };
    let line = format!(
        "{method} {prefix}/namespaces/{}/{}",
        a["namespace"].as_str().unwrap_or_default(),
        a["resource"].as_str().unwrap_or_default()
    );
    let allowed = st
        .behaviour
        .forbid
        .as_ref()
        .is_none_or(|f| !line.contains(f.as_str()));
    let mut answer = review.clone();
    answer["status"] = json!({"allowed": allowed});
    full(201, &answer, None)
}
