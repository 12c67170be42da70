//! Tests of the fake API server itself, so the kube tests rest on something tested: each
//! strictness the runtime depends on, through the same kube client the runtime uses.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use serde_json::{Value, json};

use super::{Behaviour, FakeApi, Fault, Verb, metrics_page};

const NS: &str = "t";

async fn namespace(client: &Client, restricted: bool) {
    let labels = if restricted {
        json!({"pod-security.kubernetes.io/enforce": "restricted"})
    } else {
        json!({})
    };
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": labels}});
    Api::<Namespace>::all(client.clone())
        .patch(NS, &PatchParams::apply("t"), &Patch::Apply(&ns))
        .await
        .unwrap();
}

fn deployment(name: &str, replicas: i64, arg: &str, privileged: bool) -> Value {
    let sc = if privileged {
        json!({})
    } else {
        json!({"runAsNonRoot": true, "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}})
    };
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": NS},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i",
                "args": [arg], "ports": [{"containerPort": 8080}], "securityContext": sc}]}}}})
}

fn code(e: kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn apply_takes_over_another_managers_fields_only_with_force() {
    let fake = FakeApi::start(Behaviour::default());
    namespace(&fake.client, false).await;
    let api: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    let d = deployment("d", 1, "a", false);
    api.patch("d", &PatchParams::apply("kubectl"), &Patch::Apply(&d))
        .await
        .unwrap();
    let e = api
        .patch("d", &PatchParams::apply("other"), &Patch::Apply(&d))
        .await
        .unwrap_err();
    assert_eq!(code(e), 409);
    let stored = api
        .patch("d", &PatchParams::apply("other").force(), &Patch::Apply(&d))
        .await
        .unwrap();
    // Defaulted as an API server does: the runtime reads these.
    let spec = stored.spec.unwrap();
    assert_eq!(
        spec.strategy.unwrap().type_.as_deref(),
        Some("RollingUpdate")
    );
    assert_eq!(
        spec.template.spec.unwrap().termination_grace_period_seconds,
        Some(30)
    );
}

#[tokio::test(start_paused = true)]
async fn invalid_names_node_ports_and_immutable_fields_are_422() {
    let fake = FakeApi::start(Behaviour::default());
    namespace(&fake.client, false).await;
    let pp = PatchParams::apply("t");
    let svcs: Api<Service> = Api::namespaced(fake.client.clone(), NS);
    let svc = |name: &str, port: Option<i64>| {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": port}]}})
    };
    // A Service name is DNS-1035: it starts with a letter.
    assert_eq!(
        code(
            svcs.patch("1st", &pp, &Patch::Apply(&svc("1st", None)))
                .await
                .unwrap_err()
        ),
        422
    );
    let first = svcs
        .patch("a", &pp, &Patch::Apply(&svc("a", Some(30080))))
        .await
        .unwrap();
    assert_eq!(first.spec.unwrap().ports.unwrap()[0].node_port, Some(30080));
    let e = svcs
        .patch("b", &pp, &Patch::Apply(&svc("b", Some(30080))))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("provided port is already allocated"),
        "{e}"
    );
    // Without one asked for, a free one is allocated.
    let free = svcs
        .patch("b", &pp, &Patch::Apply(&svc("b", None)))
        .await
        .unwrap();
    assert_eq!(free.spec.unwrap().ports.unwrap()[0].node_port, Some(30000));
    let deps: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    let mut d = deployment("d", 1, "a", false);
    d["spec"]["template"]["spec"]["containers"][0]["name"] =
        json!(format!("pull-{}", "x".repeat(59)));
    let e = deps.patch("d", &pp, &Patch::Apply(&d)).await.unwrap_err();
    assert!(
        e.to_string().contains("must be no more than 63 characters"),
        "{e}"
    );
    let d = deployment("d", 1, "a", false);
    deps.patch("d", &pp, &Patch::Apply(&d)).await.unwrap();
    let mut moved = d.clone();
    moved["spec"]["selector"]["matchLabels"]["app"] = json!("e");
    moved["spec"]["template"]["metadata"]["labels"]["app"] = json!("e");
    let e = deps
        .patch("d", &pp, &Patch::Apply(&moved))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("field is immutable"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn pods_pass_through_their_phases_on_the_fake_clock() {
    let b = Behaviour::default();
    let fake = FakeApi::start(b.clone());
    namespace(&fake.client, true).await;
    let deps: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    deps.patch(
        "d",
        &PatchParams::apply("t"),
        &Patch::Apply(&deployment("d", 1, "a", false)),
    )
    .await
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(fake.client.clone(), NS);
    let phase = |p: &Pod| {
        p.status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default()
    };
    tokio::time::sleep(b.tick * 2).await;
    let p = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(phase(&p), "Pending");
    // Owned by a ReplicaSet, not the Deployment.
    assert_eq!(p.metadata.owner_references.unwrap()[0].kind, "ReplicaSet");
    tokio::time::sleep(b.stage * 2).await;
    let p = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let waiting = p
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .clone()
        .unwrap();
    assert!(waiting.running.is_some() || waiting.waiting.is_some());
    tokio::time::sleep(b.stage * 2).await;
    let p = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(phase(&p), "Running");
    let created = p.metadata.creation_timestamp.unwrap().0;
    let ready = p
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    let after = ready
        .last_transition_time
        .unwrap()
        .0
        .duration_since(created);
    assert_eq!(after.as_millis(), (b.stage * 3).as_millis() as i128);
}

#[tokio::test(start_paused = true)]
async fn pod_security_refusals_are_failed_create_events_on_the_replica_set() {
    let fake = FakeApi::start(Behaviour::default());
    namespace(&fake.client, true).await;
    let deps: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    deps.patch(
        "bad",
        &PatchParams::apply("t"),
        &Patch::Apply(&deployment("bad", 1, "a", true)),
    )
    .await
    .unwrap();
    fake.step();
    fake.step();
    let events = fake.names(&format!("/api/v1/namespaces/{NS}/events"));
    let ev = fake
        .object(&format!("/api/v1/namespaces/{NS}/events/{}", events[0]))
        .unwrap();
    assert_eq!(ev["involvedObject"]["kind"], "ReplicaSet");
    assert_eq!(ev["reason"], "FailedCreate");
    assert!(
        ev["message"]
            .as_str()
            .unwrap()
            .contains("violates PodSecurity \"restricted:latest\""),
        "{ev}"
    );
    assert!(
        fake.names(&format!("/api/v1/namespaces/{NS}/pods"))
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn a_rolling_update_keeps_old_and_new_pods_side_by_side() {
    let b = Behaviour::default();
    let fake = FakeApi::start(b.clone());
    namespace(&fake.client, false).await;
    let deps: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    let pp = PatchParams::apply("t");
    deps.patch("d", &pp, &Patch::Apply(&deployment("d", 1, "a", false)))
        .await
        .unwrap();
    tokio::time::sleep(b.stage * 4).await;
    deps.patch("d", &pp, &Patch::Apply(&deployment("d", 1, "b", false)))
        .await
        .unwrap();
    tokio::time::sleep(b.stage * 2).await;
    let d = deps.get("d").await.unwrap().status.unwrap();
    assert_eq!(
        (d.replicas, d.updated_replicas, d.ready_replicas),
        (Some(2), Some(1), Some(1))
    );
    tokio::time::sleep(b.stage * 3).await;
    let d = deps.get("d").await.unwrap().status.unwrap();
    assert_eq!(
        (d.replicas, d.updated_replicas, d.ready_replicas),
        (Some(1), Some(1), Some(1))
    );
}

#[tokio::test(start_paused = true)]
async fn a_terminating_namespace_refuses_new_objects_answers_409_and_goes_later() {
    let b = Behaviour::default();
    let fake = FakeApi::start(b.clone());
    namespace(&fake.client, false).await;
    let nss: Api<Namespace> = Api::all(fake.client.clone());
    nss.delete(NS, &DeleteParams::background()).await.unwrap();
    assert_eq!(
        code(
            nss.delete(NS, &DeleteParams::background())
                .await
                .unwrap_err()
        ),
        409
    );
    let svcs: Api<Service> = Api::namespaced(fake.client.clone(), NS);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
    let e = svcs
        .patch("s", &PatchParams::apply("t"), &Patch::Apply(&svc))
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("because it is being terminated"),
        "{e}"
    );
    assert!(
        nss.get_opt(NS).await.unwrap().is_some(),
        "still Terminating"
    );
    tokio::time::sleep(b.namespace_linger + b.tick * 2).await;
    assert!(nss.get_opt(NS).await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn watches_resume_answer_410_when_compacted_send_bookmarks_and_close() {
    let b = Behaviour {
        watch_timeout: Duration::from_secs(3),
        ..Behaviour::default()
    };
    let fake = FakeApi::start(b);
    namespace(&fake.client, false).await;
    let nss: Api<Namespace> = Api::all(fake.client.clone());
    let rv = nss
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    fake.compact();
    namespace(&fake.client, true).await;
    let mut gone = nss
        .watch(&WatchParams::default(), &rv)
        .await
        .unwrap()
        .boxed();
    match gone.try_next().await.unwrap() {
        Some(WatchEvent::Error(s)) => assert_eq!(s.code, 410),
        other => panic!("{other:?}"),
    }
    let now = nss
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let events: Vec<_> = nss
        .watch(&WatchParams::default(), &now)
        .await
        .unwrap()
        .collect()
        .await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ok(WatchEvent::Bookmark(_)))),
        "{events:?}"
    );
    assert_eq!(
        fake.open_watches(),
        0,
        "closed by the server after its timeout"
    );
}

#[tokio::test(start_paused = true)]
async fn faults_answer_429_with_retry_after_and_the_proxy_honours_port_and_phase() {
    let b = Behaviour::default();
    let fake = FakeApi::start(b.clone());
    namespace(&fake.client, false).await;
    fake.fail(Fault {
        verb: Some(Verb::List),
        path: "/pods".into(),
        code: 429,
        retry_after: Some(2),
        times: 1,
    });
    let request = http::Request::get(format!("/api/v1/namespaces/{NS}/pods"))
        .body(Vec::new())
        .unwrap();
    let response = fake.client.send(request.map(Into::into)).await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "2");
    let deps: Api<Deployment> = Api::namespaced(fake.client.clone(), NS);
    deps.patch(
        "d",
        &PatchParams::apply("t"),
        &Patch::Apply(&deployment("d", 1, "a", false)),
    )
    .await
    .unwrap();
    tokio::time::sleep(b.stage * 4).await;
    let pod = fake
        .names(&format!("/api/v1/namespaces/{NS}/pods"))
        .remove(0);
    let get = |port: u16| {
        let path = format!("/api/v1/namespaces/{NS}/pods/{pod}:{port}/proxy/metrics");
        fake.client
            .request_text(http::Request::get(path).body(Vec::new()).unwrap())
    };
    assert_eq!(get(8080).await.unwrap(), metrics_page(&pod));
    assert_eq!(
        code(get(9090).await.unwrap_err()),
        503,
        "nothing listens there"
    );
}

#[test]
fn restricted_admits_an_emptydir_and_refuses_a_host_path_as_the_real_one_does() {
    let ns = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    let spec = |volume: Value| {
        json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}],
            "volumes": [volume],
        })
    };
    let admit = |v| super::admission::pod_security(Some(&ns), "p", &spec(v));
    assert_eq!(admit(json!({"name": "data", "emptyDir": {}})), None);
    let refused = admit(json!({"name": "host", "hostPath": {"path": "/var"}})).unwrap();
    assert!(
        refused.contains(
            "restricted volume types (volume \"host\" uses restricted volume type \"hostPath\")"
        ),
        "{refused}"
    );
}
