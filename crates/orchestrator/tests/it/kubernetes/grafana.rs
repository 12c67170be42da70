//! `grafana = true` on the kube runtime: the rendered objects read back into their types,
//! Pod Security "restricted", the provisioned dashboard and datasource, a run against the fake
//! API server, and the NodePort clash refused at the command line.

use std::path::Path;
use std::process::Command;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use orchestrator::kube::build::grafana::{self, Datasources, Providers};
use orchestrator::kube::build::{Object, prometheus};
use orchestrator::kube::render_manifests;
use scenario::Scenario;

use super::fake::{Behaviour, FakeApi};
use super::render::parse;
use super::run::{NS, completed_run, quick};
use super::with_grafana;

/// Grafana's rendered objects, read back from their YAML.
fn rendered(s: &Scenario) -> Vec<Object> {
    render_manifests(s)
        .unwrap()
        .iter()
        .map(|(_, yaml)| parse(yaml))
        .filter(|o| o.name().starts_with("grafana"))
        .collect()
}

fn config_map(objects: &[Object], name: &str) -> ConfigMap {
    objects
        .iter()
        .find_map(|o| match o {
            Object::ConfigMap(c) if o.name() == name => Some(c.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ConfigMap {name}"))
}

fn deployment(objects: &[Object]) -> Deployment {
    objects
        .iter()
        .find_map(|o| match o {
            Object::Deployment(d) => Some(d.clone()),
            _ => None,
        })
        .expect("a Grafana Deployment")
}

fn repo_dashboard() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dashboards/load-demo.json");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn grafana_off_renders_no_grafana_object() {
    assert!(rendered(&Scenario::default()).is_empty());
    let kinds: Vec<String> = rendered(&with_grafana())
        .iter()
        .map(Object::describe)
        .collect();
    assert_eq!(
        kinds,
        [
            "ConfigMap/grafana-provisioning",
            "ConfigMap/grafana-dashboards",
            "Service/grafana",
            "Deployment/grafana"
        ]
    );
}

#[test]
fn grafana_runs_restricted_with_writable_dirs_on_empty_dirs() {
    let d = deployment(&rendered(&with_grafana()));
    let pod = d.spec.unwrap().template.spec.unwrap();
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(472));
    assert_eq!(psc.fs_group, Some(472));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert_eq!(pod.automount_service_account_token, Some(false));
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("grafana/grafana:11.1.0"));
    let sc = c.security_context.clone().unwrap();
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.run_as_user, Some(472));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.capabilities.unwrap().drop.unwrap(), ["ALL"]);
    assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    // Everything Grafana writes is on an emptyDir: the root filesystem is read-only.
    let volumes = pod.volumes.unwrap();
    let source_of = |path: &str| {
        let m = c
            .volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .find(|m| m.mount_path == path)
            .unwrap_or_else(|| panic!("nothing mounted at {path}"));
        volumes.iter().find(|v| v.name == m.name).unwrap().clone()
    };
    for dir in ["/var/lib/grafana", "/tmp"] {
        assert!(source_of(dir).empty_dir.is_some(), "{dir}");
    }
    let env = |name: &str| {
        c.env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.value.clone())
    };
    for var in ["GF_PATHS_DATA", "GF_PATHS_PLUGINS", "GF_PATHS_LOGS"] {
        let dir = env(var).unwrap();
        assert!(
            dir.starts_with("/var/lib/grafana") || dir.starts_with("/tmp"),
            "{var}={dir} is on the read-only root"
        );
    }
    // The home dashboard is the provisioned file.
    let home = env("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH").unwrap();
    let dashboards = source_of("/var/lib/grafana/dashboards").config_map.unwrap();
    assert_eq!(dashboards.name, "grafana-dashboards");
    let item = &dashboards.items.unwrap()[0];
    assert_eq!(home, format!("/var/lib/grafana/dashboards/{}", item.path));
    let probe = c.readiness_probe.clone().unwrap().http_get.unwrap();
    assert_eq!(probe.path.as_deref(), Some("/api/health"));
}

#[test]
fn grafana_is_a_node_port_service_on_grafana_node_port() {
    let mut s = with_grafana();
    s.grafana.node_port = 30333;
    let svc: Service = rendered(&s)
        .into_iter()
        .find_map(|o| match o {
            Object::Service(svc) => Some(svc),
            _ => None,
        })
        .unwrap();
    let spec = svc.spec.unwrap();
    assert_eq!(spec.type_.as_deref(), Some("NodePort"));
    let port = &spec.ports.unwrap()[0];
    assert_eq!(port.node_port, Some(30333));
    assert_eq!(port.port, 3000);
}

#[test]
fn the_provisioned_dashboard_is_exactly_the_repository_file() {
    let objects = rendered(&with_grafana());
    let cm = config_map(&objects, "grafana-dashboards");
    let data = cm.data.unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data["load-demo.json"], repo_dashboard());
    // The provider reads the directory the ConfigMap is mounted at.
    let provisioning = config_map(&objects, "grafana-provisioning").data.unwrap();
    let providers: Providers = serde_norway::from_str(&provisioning["dashboards.yml"]).unwrap();
    assert_eq!(
        providers.providers[0].options.path,
        "/var/lib/grafana/dashboards"
    );
}

#[test]
fn the_datasource_is_the_runs_prometheus_under_the_uid_the_dashboard_uses() {
    let mut s = with_grafana();
    s.prometheus.name = "prom".into();
    let objects = rendered(&s);
    let provisioning = config_map(&objects, "grafana-provisioning").data.unwrap();
    let ds: Datasources = serde_norway::from_str(&provisioning["datasources.yml"]).unwrap();
    assert_eq!(ds.datasources.len(), 1);
    let ds = &ds.datasources[0];
    assert_eq!(ds.type_, "prometheus");
    // The Service Prometheus gets, on its port.
    let svc = prometheus::service(&s);
    assert_eq!(
        ds.url,
        format!(
            "http://{}:{}",
            svc.metadata.name.unwrap(),
            svc.spec.unwrap().ports.unwrap()[0].port
        )
    );
    // The dashboard's datasource variable defaults to this uid; its panels refer to the
    // variable.
    let dashboard: serde_json::Value = serde_json::from_str(&repo_dashboard()).unwrap();
    let var = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["type"] == "datasource")
        .unwrap();
    assert_eq!(var["current"]["value"], ds.uid.as_str());
    assert_eq!(ds.uid, grafana::DATASOURCE_UID);
    let name = var["name"].as_str().unwrap();
    for p in dashboard["panels"].as_array().unwrap() {
        assert_eq!(p["datasource"]["uid"], format!("${{{name}}}"));
    }
}

#[tokio::test(start_paused = true)]
async fn a_kube_run_with_grafana_deploys_it_and_cleanup_removes_everything() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.grafana.enabled = true;
    s.prepull = false;
    let result = completed_run(&fake, &s, runs.path()).await;
    let writes = fake.writes();
    for path in [
        format!("/api/v1/namespaces/{NS}/configmaps/grafana-provisioning"),
        format!("/api/v1/namespaces/{NS}/configmaps/grafana-dashboards"),
        format!("/api/v1/namespaces/{NS}/services/grafana"),
        format!("/apis/apps/v1/namespaces/{NS}/deployments/grafana"),
    ] {
        assert!(writes.contains(&format!("PATCH {path}")), "{writes:#?}");
    }
    // Completed means the deploy saw Grafana's Deployment ready, as the rest of the stack;
    // the user is told where it is.
    assert!(
        result
            .report
            .endpoints
            .iter()
            .any(|e| e.url == "http://localhost:30030/d/load-demo"),
        "{:?}",
        result.report.endpoints
    );
    // --cleanup: the namespace and the cluster-scoped RBAC are gone.
    assert!(fake.object(&format!("/api/v1/namespaces/{NS}")).is_none());
    assert!(
        fake.names("/apis/rbac.authorization.k8s.io/v1/clusterroles")
            .is_empty()
    );
    assert!(
        fake.names("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
            .is_empty()
    );
}

fn orchestrator() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_orchestrator"));
    // No cluster is contacted: the configuration is refused first.
    c.env("KUBECONFIG", "/nonexistent")
        .env_remove("KUBE_CONTEXT");
    c
}

#[test]
fn a_grafana_node_port_clash_exits_2_naming_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator()
        .current_dir(dir.path())
        .args([
            "run",
            "--runtime",
            "kube",
            "--set",
            "grafana=true",
            "--set",
            "grafana_node_port=30090",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("grafana_node_port"), "{err}");
    assert!(err.contains("prometheus_node_port"), "{err}");
}

#[test]
fn grafana_on_the_local_runtime_exits_2_pointing_at_compose() {
    let dir = tempfile::tempdir().unwrap();
    let o = orchestrator()
        .current_dir(dir.path())
        .args(["run", "--set", "grafana=true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("grafana"), "{err}");
    assert!(err.contains("docker compose --profile grafana"), "{err}");
}
