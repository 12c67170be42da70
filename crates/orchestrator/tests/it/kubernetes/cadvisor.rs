//! The run's Prometheus scrapes the kubelets' cAdvisor through the API server's node proxy:
//! the scrape job (checked by promtool), its cluster-scoped RBAC (as small as it goes, named
//! and labelled per run), which the fake API server stores like a real one and which
//! teardown and `destroy --uuid` remove.

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use orchestrator::kube::build::{Object, cadvisor, prometheus};
use orchestrator::kube::labels;
use scenario::Scenario;
use serde_json::json;

use super::fake::{Behaviour, FakeApi};
use super::objects;
use super::run::{bounded, quick, runtime};

const CLUSTER_ROLES: &str = "/apis/rbac.authorization.k8s.io/v1/clusterroles";
const CLUSTER_BINDINGS: &str = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings";

fn prometheus_yml(s: &Scenario) -> String {
    prometheus::config_map(s).unwrap().data.unwrap()[prometheus::CONFIG_FILE].clone()
}

/// promtool's verdict on a configuration. Debian's Prometheus is built without Kubernetes
/// discovery (its promtool answers "field kubernetes_sd_configs not found"): there, every
/// other field is still checked, with each discovery swapped for a static target.
fn assert_valid_config(yaml: &str) {
    match test_support::promtool_check_config(yaml) {
        Some(Err(report)) if report.contains("field kubernetes_sd_configs not found") => {
            eprintln!("NOTE: promtool has no Kubernetes discovery; checking the rest");
            let mut doc: serde_json::Value = serde_norway::from_str(yaml).unwrap();
            for job in doc["scrape_configs"].as_array_mut().unwrap() {
                let job = job.as_object_mut().unwrap();
                assert!(job.remove("kubernetes_sd_configs").is_some());
                job.insert(
                    "static_configs".into(),
                    json!([{"targets": ["localhost:9090"]}]),
                );
            }
            test_support::assert_promtool_accepts_config(&serde_norway::to_string(&doc).unwrap());
        }
        Some(Err(report)) => panic!("promtool check config refused it:\n{report}\n{yaml}"),
        Some(Ok(())) | None => {}
    }
}

fn cluster_rbac(s: &Scenario) -> (ClusterRole, ClusterRoleBinding) {
    let all = objects(s);
    let role = all.iter().find_map(|o| match o {
        Object::ClusterRole(r) => Some(r.clone()),
        _ => None,
    });
    let binding = all.iter().find_map(|o| match o {
        Object::ClusterRoleBinding(b) => Some(b.clone()),
        _ => None,
    });
    (role.unwrap(), binding.unwrap())
}

#[test]
fn the_cadvisor_job_goes_through_the_node_proxy_with_the_service_account() {
    let s = Scenario::default();
    let text = prometheus_yml(&s);
    assert_valid_config(&text);
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let job = doc["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|j| j["job_name"].as_str() == Some("kubernetes-cadvisor"))
        .expect("a kubernetes-cadvisor job");
    assert_eq!(job["scheme"].as_str(), Some("https"));
    let sa = "/var/run/secrets/kubernetes.io/serviceaccount";
    assert_eq!(
        job["authorization"]["credentials_file"].as_str(),
        Some(format!("{sa}/token").as_str())
    );
    assert_eq!(
        job["tls_config"]["ca_file"].as_str(),
        Some(format!("{sa}/ca.crt").as_str())
    );
    let sd = &job["kubernetes_sd_configs"][0];
    assert_eq!(sd["role"].as_str(), Some("node"));
    assert!(sd.get("namespaces").is_none(), "nodes are in no namespace");
    let relabels = job["relabel_configs"].as_sequence().unwrap();
    let target = |label: &str| {
        relabels
            .iter()
            .find(|r| r["target_label"].as_str() == Some(label))
            .unwrap_or_else(|| panic!("no relabelling to {label}"))
    };
    assert_eq!(
        target("__address__")["replacement"].as_str(),
        Some("kubernetes.default.svc:443")
    );
    let path = target("__metrics_path__");
    assert_eq!(
        path["source_labels"][0].as_str(),
        Some("__meta_kubernetes_node_name")
    );
    assert_eq!(
        path["replacement"].as_str(),
        Some("/api/v1/nodes/$1/proxy/metrics/cadvisor")
    );
    // Series of other namespaces are dropped first, then labelled like every run series.
    let metric = job["metric_relabel_configs"].as_sequence().unwrap();
    assert_eq!(metric[0]["action"].as_str(), Some("keep"));
    assert_eq!(metric[0]["source_labels"][0].as_str(), Some("namespace"));
    assert_eq!(metric[0]["regex"].as_str(), Some(s.namespace().as_str()));
    assert!(
        metric
            .iter()
            .any(|r| r["target_label"].as_str() == Some("uuid")
                && r["replacement"].as_str() == Some(s.uuid.as_str()))
    );
    let components: Vec<(&str, &str)> = metric
        .iter()
        .filter(|r| r["target_label"].as_str() == Some("component"))
        .map(|r| {
            (
                r["regex"].as_str().unwrap(),
                r["replacement"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        components.contains(&("backend-.+", "backend")),
        "{components:?}"
    );
    assert!(
        components.contains(&("loadgen-.+", "loadgen")),
        "{components:?}"
    );
    assert!(
        !components.iter().any(|c| c.1 == "grafana"),
        "{components:?}"
    );
}

#[test]
fn a_longer_component_name_sharing_a_prefix_is_labelled_last_so_it_wins() {
    let mut s = Scenario::default();
    s.backend.name = "api".into();
    s.frontend.name = "api-ui".into();
    s.grafana.enabled = true;
    assert_valid_config(&prometheus_yml(&s));
    let regexes: Vec<String> = cadvisor::scrape_config(&s)
        .metric_relabel_configs
        .iter()
        .filter(|r| r.target_label.as_deref() == Some("component"))
        .map(|r| r.regex.clone().unwrap())
        .collect();
    let at = |r: &str| regexes.iter().position(|x| x == r).unwrap();
    assert!(at("api-.+") < at("api-ui-.+"), "{regexes:?}");
    assert!(regexes.contains(&"grafana-.+".to_owned()), "{regexes:?}");
}

#[test]
fn the_cluster_rbac_is_nodes_list_watch_and_nodes_proxy_get_per_run() {
    let s = Scenario::default();
    let (role, binding) = cluster_rbac(&s);
    let name = format!("{}-prometheus-cadvisor", s.namespace());
    for meta in [&role.metadata, &binding.metadata] {
        assert_eq!(meta.name.as_deref(), Some(name.as_str()));
        assert_eq!(meta.namespace, None);
        let l = meta.labels.as_ref().unwrap();
        assert_eq!(l[labels::UUID], s.uuid);
        assert_eq!(l[labels::JOB], "prometheus");
        assert_eq!(l[labels::MANAGED_BY], labels::MANAGER);
    }
    let rules: Vec<(Vec<String>, Vec<String>)> = role
        .rules
        .unwrap()
        .into_iter()
        .map(|r| {
            assert_eq!(r.api_groups.as_deref(), Some(&[String::new()][..]));
            assert!(r.resource_names.is_none() && r.non_resource_urls.is_none());
            (r.resources.unwrap(), r.verbs)
        })
        .collect();
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        rules,
        [
            (owned(&["nodes"]), owned(&["list", "watch"])),
            (owned(&["nodes/proxy"]), owned(&["get"]))
        ]
    );
    assert_eq!(binding.role_ref.kind, "ClusterRole");
    assert_eq!(binding.role_ref.name, name);
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(subject.kind, "ServiceAccount");
    assert_eq!(subject.name, s.prometheus.name);
    assert_eq!(subject.namespace.as_deref(), Some(s.namespace().as_str()));
    // Another run gets its own.
    let mut other = Scenario::default();
    other.uuid = "run-2".into();
    assert_ne!(cluster_rbac(&other).0.metadata.name.unwrap(), name);
}

#[tokio::test(start_paused = true)]
async fn the_fake_stores_cluster_scoped_rbac_without_a_namespace_and_refuses_bad_bindings() {
    let fake = FakeApi::start(Behaviour::default());
    let s = quick();
    let mut rt = runtime(&fake, s.clone());
    bounded(orchestrator::runtime::Runtime::deploy(&mut rt))
        .await
        .expect("deploy");
    let name = cadvisor::cluster_name(&s);
    for coll in [CLUSTER_ROLES, CLUSTER_BINDINGS] {
        let obj = fake
            .object(&format!("{coll}/{name}"))
            .unwrap_or_else(|| panic!("{coll}/{name} applied"));
        assert!(obj["metadata"].get("namespace").is_none(), "{obj}");
        assert!(
            fake.writes().contains(&format!("PATCH {coll}/{name}")),
            "applied with server-side apply"
        );
    }
    // A ClusterRoleBinding may only bind a ClusterRole, as the RBAC API says.
    let mut bad = serde_json::to_value(cluster_rbac(&s).1).unwrap();
    bad["roleRef"]["kind"] = json!("Role");
    bad["metadata"]["name"] = json!("bad");
    let api: kube::Api<ClusterRoleBinding> = kube::Api::all(fake.client.clone());
    let err = api
        .patch(
            "bad",
            &kube::api::PatchParams::apply("test"),
            &kube::api::Patch::Apply(bad),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("roleRef.kind"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn destroy_removes_the_cluster_scoped_rbac_of_its_uuid_only() {
    let fake = FakeApi::start(Behaviour::default());
    let s = quick();
    let mut rt = runtime(&fake, s.clone());
    bounded(orchestrator::runtime::Runtime::deploy(&mut rt))
        .await
        .expect("deploy");
    // Another run's, left alone.
    let mut other = quick();
    other.uuid = "other-run".into();
    let (role, _) = cluster_rbac(&other);
    fake.insert(CLUSTER_ROLES, serde_json::to_value(&role).unwrap());
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        orchestrator::kube::destroy(&fake.client, &s.uuid, Duration::from_secs(30)),
    )
    .await
    .unwrap()
    .expect("destroy");
    let name = cadvisor::cluster_name(&s);
    assert!(
        out.deleted.contains(&format!("ClusterRole {name}"))
            && out.deleted.contains(&format!("ClusterRoleBinding {name}")),
        "{:?}",
        out.deleted
    );
    assert_eq!(fake.names(CLUSTER_ROLES), [cadvisor::cluster_name(&other)]);
    assert!(fake.names(CLUSTER_BINDINGS).is_empty());
}
