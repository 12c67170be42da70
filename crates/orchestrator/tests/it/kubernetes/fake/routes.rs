//! The fake's HTTP side: each request is recorded, then answered by an injected fault
//! (403, 429 with Retry-After, 5xx) or routed: server-side apply (field manager, conflicts
//! without `force`), get, list, watch, delete (grace period, propagation policy; 409 for a
//! namespace already terminating); what pods and nodes serve is in `proxied.rs`.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use super::admission::{self, Refusal};
use super::store::{Target, namespaces, parse_path};
use super::{Body, Call, State, Verb, proxied, watch};

pub(super) fn full(code: u16, v: &Value, retry_after: Option<u64>) -> Response<Body> {
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

pub(super) fn refuse(
    code: u16,
    reason: &'static str,
    message: impl Into<String>,
) -> Response<Body> {
    status(&Refusal::new(code, reason, message), None)
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
        return proxied::cadvisor(st, node);
    }
    if let Some(ns) = path
        .strip_prefix("/apis/metrics.k8s.io/v1beta1/namespaces/")
        .and_then(|r| r.strip_suffix("/pods"))
    {
        return proxied::pod_metrics(st, ns);
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
        Verb::Proxy => proxied::proxy(st, &t, parts.uri.query()),
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
