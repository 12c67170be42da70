//! `destroy --uuid`: everything of the uuid, in every namespace, and nothing else.

use std::time::Duration;

use serde_json::json;

use super::fake::{Behaviour, FakeApi};

fn config_map(ns: &str, name: &str, uuid: Option<&str>) -> serde_json::Value {
    let mut labels = json!({"app.kubernetes.io/name": "x"});
    if let Some(u) = uuid {
        labels["load-demo.io/uuid"] = json!(u);
    }
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": ns, "labels": labels}})
}

#[tokio::test(start_paused = true)]
async fn destroy_removes_everything_of_the_uuid_in_every_namespace_and_waits() {
    let fake = FakeApi::start(Behaviour::default());
    fake.insert(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": "app-demo-r1", "labels": {"load-demo.io/uuid": "r1"}}}),
    );
    fake.insert(
        "/api/v1/namespaces/app-demo-r1/configmaps",
        config_map("app-demo-r1", "inside", Some("r1")),
    );
    fake.insert(
        "/api/v1/namespaces/default/configmaps",
        config_map("default", "stray", Some("r1")),
    );
    fake.insert(
        "/api/v1/namespaces/default/configmaps",
        config_map("default", "other-run", Some("r2")),
    );
    fake.insert(
        "/api/v1/namespaces/default/configmaps",
        config_map("default", "unlabelled", None),
    );

    let out = tokio::time::timeout(
        Duration::from_secs(20),
        orchestrator::kube::destroy(&fake.client, "r1", Duration::from_secs(5)),
    )
    .await
    .unwrap()
    .expect("destroy");
    assert_eq!(
        out.deleted,
        ["Namespace app-demo-r1", "ConfigMap default/stray"]
    );
    assert!(fake.object("/api/v1/namespaces/app-demo-r1").is_none());
    assert_eq!(
        fake.names("/api/v1/namespaces/default/configmaps"),
        ["other-run", "unlabelled"]
    );
    let calls = fake.calls();
    // Found by label across all namespaces, and waited for through a watch.
    assert!(calls.iter().any(|c| c.path == "/api/v1/configmaps"
        && c.query.get("labelSelector").map(String::as_str) == Some("load-demo.io/uuid=r1")));
    assert!(
        calls
            .iter()
            .any(|c| c.is_watch() && c.path == "/api/v1/namespaces")
    );
}

#[tokio::test(start_paused = true)]
async fn destroy_refuses_a_uuid_that_is_not_a_label_value() {
    let fake = FakeApi::start(Behaviour::default());
    let e = orchestrator::kube::destroy(&fake.client, "", Duration::from_secs(1))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("uuid"), "{e}");
    assert!(
        fake.calls().is_empty(),
        "nothing may be listed with an empty selector"
    );
}
