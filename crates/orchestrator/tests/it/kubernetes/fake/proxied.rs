//! What the fake API server passes on from pods and nodes: the pod proxy (a canned page, or a
//! real component's answer forwarded, as [`super::Behaviour::upstreams`] says), a kubelet's
//! cAdvisor page and metrics-server's pod metrics.

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use super::routes::{full, refuse};
use super::store::Target;
use super::{Body, State};

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

/// The pod proxy's answer for `t`; a forwarded request keeps `query` as it came, as the API
/// server passes it on.
pub(super) fn proxy(st: &mut State, t: &Target, query: Option<&str>) -> Response<Body> {
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
    let namespace = t.coll.namespace.clone().unwrap_or_default();
    if let Some(addr) = st.upstream(&format!("{namespace}/{pod}"), &job) {
        let mut forward = Response::new(Full::new(Bytes::new()).boxed_unsync());
        let route = match query {
            Some(q) => format!("{route}?{q}"),
            None => route,
        };
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
/// address and the path under the pod, with its query.
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
pub(super) fn cadvisor(st: &State, node: &str) -> Response<Body> {
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
pub(super) fn pod_metrics(st: &State, ns: &str) -> Response<Body> {
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
