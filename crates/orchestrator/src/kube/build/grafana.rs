//! Grafana (`grafana = true`): a Deployment under Pod Security "restricted", ConfigMaps that
//! provision the run's Prometheus as a datasource and dashboards/load-demo.json, and a NodePort
//! Service (kind/cluster.yaml maps 30030). The same provisioning as docker compose's
//! `--profile grafana` (docker/grafana/), pointed at the run's Prometheus Service.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, KeyToPath, PodSpec, Service, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use scenario::Scenario;
use serde::{Deserialize, Serialize};

use super::{Object, pod};
use crate::kube::error::{Error, Result};
use crate::kube::meta::{self, GRAFANA_NAME, Job};

/// The dashboard, byte for byte as the repository has it (and as docker compose mounts it).
pub const DASHBOARD: &str = include_str!("../../../../../dashboards/load-demo.json");
/// Its file name in the dashboards ConfigMap and on disk.
pub const DASHBOARD_FILE: &str = "load-demo.json";
/// The datasource uid the dashboard's `datasource` variable defaults to.
pub const DATASOURCE_UID: &str = "load-demo-prometheus";
/// Grafana's HTTP port in the container.
pub const PORT: u16 = 3000;
/// The user of the official image (`grafana` in its passwd file): numeric for `runAsNonRoot`.
pub const RUN_AS_USER: i64 = 472;

const PROVISIONING_DIR: &str = "/etc/grafana/provisioning";
const DASHBOARDS_DIR: &str = "/var/lib/grafana/dashboards";
const DATASOURCES_FILE: &str = "datasources.yml";
const PROVIDERS_FILE: &str = "dashboards.yml";

pub fn provisioning_name() -> String {
    format!("{GRAFANA_NAME}-provisioning")
}

pub fn dashboards_name() -> String {
    format!("{GRAFANA_NAME}-dashboards")
}

/// Grafana's datasource provisioning file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasources {
    pub api_version: u32,
    pub datasources: Vec<Datasource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Datasource {
    pub name: String,
    pub uid: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub access: String,
    pub url: String,
    pub is_default: bool,
    pub editable: bool,
}

/// Grafana's dashboard provider file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Providers {
    pub api_version: u32,
    pub providers: Vec<Provider>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub disable_deletion: bool,
    pub allow_ui_updates: bool,
    pub options: ProviderOptions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderOptions {
    pub path: String,
}

/// The run's Prometheus, under the uid the dashboard refers to.
pub fn datasources(s: &Scenario) -> Datasources {
    Datasources {
        api_version: 1,
        datasources: vec![Datasource {
            name: "Prometheus".into(),
            uid: DATASOURCE_UID.into(),
            type_: "prometheus".into(),
            access: "proxy".into(),
            // Same namespace: the Service's short name resolves.
            url: format!("http://{}:{}", s.prometheus.name, common::ports::PROMETHEUS),
            is_default: true,
            editable: false,
        }],
    }
}

pub fn providers() -> Providers {
    Providers {
        api_version: 1,
        providers: vec![Provider {
            name: "load-demo".into(),
            type_: "file".into(),
            disable_deletion: true,
            allow_ui_updates: false,
            options: ProviderOptions {
                path: DASHBOARDS_DIR.into(),
            },
        }],
    }
}

fn yaml<T: Serialize>(what: &str, v: &T) -> Result<String> {
    serde_norway::to_string(v).map_err(|e| Error::Yaml {
        what: what.into(),
        message: e.to_string(),
    })
}

fn config_map(s: &Scenario, name: String, data: BTreeMap<String, String>) -> ConfigMap {
    ConfigMap {
        metadata: meta::object_meta(s, Job::Grafana, name),
        data: Some(data),
        ..ConfigMap::default()
    }
}

/// Every Grafana object in apply order, or none without `grafana = true`.
pub fn objects(s: &Scenario) -> Result<Vec<Object>> {
    if !s.grafana.enabled {
        return Ok(Vec::new());
    }
    let provisioning = BTreeMap::from([
        (
            DATASOURCES_FILE.to_owned(),
            yaml("Grafana's datasources", &datasources(s))?,
        ),
        (
            PROVIDERS_FILE.to_owned(),
            yaml("Grafana's dashboard provider", &providers())?,
        ),
    ]);
    let dashboards = BTreeMap::from([(DASHBOARD_FILE.to_owned(), DASHBOARD.to_owned())]);
    Ok(vec![
        Object::ConfigMap(config_map(s, provisioning_name(), provisioning)),
        Object::ConfigMap(config_map(s, dashboards_name(), dashboards)),
        Object::Service(service(s)),
        Object::Deployment(deployment(s)?),
    ])
}

pub fn service(s: &Scenario) -> Service {
    super::service(
        s,
        Job::Grafana,
        GRAFANA_NAME,
        PORT,
        Some(s.grafana.node_port),
        false,
    )
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: Some(read_only),
        ..VolumeMount::default()
    }
}

fn config_map_volume(name: &str, config_map: String, items: &[(&str, &str)]) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map,
            items: Some(
                items
                    .iter()
                    .map(|(key, path)| KeyToPath {
                        key: (*key).to_owned(),
                        path: (*path).to_owned(),
                        mode: None,
                    })
                    .collect(),
            ),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn empty_dir(name: &str, limit: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(limit.into())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}

pub fn deployment(s: &Scenario) -> Result<Deployment> {
    let mut c = pod::container(GRAFANA_NAME, &s.grafana.image, PORT, Vec::new());
    // The image's entrypoint takes its settings from the environment, not arguments.
    c.args = None;
    if let Some(sc) = c.security_context.as_mut() {
        sc.run_as_user = Some(RUN_AS_USER);
        sc.run_as_group = Some(RUN_AS_USER);
    }
    c.env = Some(vec![
        // A demo's dashboard: anonymous viewers, no login screen (as docker compose).
        pod::env("GF_AUTH_ANONYMOUS_ENABLED", "true"),
        pod::env("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer"),
        // The root filesystem is read-only: everything Grafana writes goes to emptyDirs.
        pod::env("GF_PATHS_DATA", "/var/lib/grafana/data"),
        pod::env("GF_PATHS_PLUGINS", "/var/lib/grafana/plugins"),
        pod::env("GF_PATHS_LOGS", "/tmp"),
        pod::env("GF_PATHS_PROVISIONING", PROVISIONING_DIR),
        pod::env(
            "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH",
            format!("{DASHBOARDS_DIR}/{DASHBOARD_FILE}"),
        ),
        // No calls home from a load test's cluster.
        pod::env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
        pod::env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
    ]);
    c.resources = Some(pod::resources(("50m", "128Mi"), ("500m", "256Mi")));
    pod::probes(&mut c, "/api/health", "/api/health");
    c.volume_mounts = Some(vec![
        mount("data", "/var/lib/grafana", false),
        mount("tmp", "/tmp", false),
        mount("provisioning", PROVISIONING_DIR, true),
        mount("dashboards", DASHBOARDS_DIR, true),
    ]);
    let mut template = pod::template(
        meta::labels(s, Job::Grafana),
        None,
        PodSpec {
            containers: vec![c],
            volumes: Some(vec![
                empty_dir("data", "256Mi"),
                empty_dir("tmp", "64Mi"),
                config_map_volume(
                    "provisioning",
                    provisioning_name(),
                    &[
                        (DATASOURCES_FILE, "datasources/load-demo.yml"),
                        (PROVIDERS_FILE, "dashboards/load-demo.yml"),
                    ],
                ),
                config_map_volume(
                    "dashboards",
                    dashboards_name(),
                    &[(DASHBOARD_FILE, DASHBOARD_FILE)],
                ),
            ]),
            ..PodSpec::default()
        },
    );
    pod::run_pod_as(&mut template, RUN_AS_USER);
    super::deployment(
        s,
        Job::Grafana,
        GRAFANA_NAME,
        1,
        meta::selector_labels(s, Job::Grafana),
        template,
    )
}
