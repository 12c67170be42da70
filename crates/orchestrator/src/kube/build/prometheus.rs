//! Prometheus: a ServiceAccount with a Role to discover the namespace's pods, a ConfigMap
//! with a kubernetes_sd pod scrape config keyed on the `prometheus.io/*` annotations (and
//! the cAdvisor job of [`super::cadvisor`]), its Deployment and a NodePort Service.

use std::collections::BTreeMap;

use crate::kube::labels;
use common::ports;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, EmptyDirVolumeSource, PodSpec, Service, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::PolicyRule;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use scenario::Scenario;
use serde::{Deserialize, Serialize};

use super::{Object, pod};
use crate::kube::error::{Error, Result};
use crate::kube::meta::{self, Job};

/// The ConfigMap key and the file Prometheus reads.
pub const CONFIG_FILE: &str = "prometheus.yml";
const CONFIG_DIR: &str = "/etc/prometheus";
const DATA_DIR: &str = "/prometheus";

pub fn config_map_name(s: &Scenario) -> String {
    format!("{}-config", s.prometheus.name)
}

/// The ServiceAccount, the Role (pods get/list/watch in the run's namespace only) and the
/// RoleBinding between them.
pub fn rbac(s: &Scenario) -> Vec<Object> {
    super::rbac::objects(
        s,
        Job::PROMETHEUS,
        &s.prometheus.name,
        vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".to_owned()]),
            verbs: ["get", "list", "watch"].map(str::to_owned).to_vec(),
            ..PolicyRule::default()
        }],
    )
}

/// The part of Prometheus' configuration file the demo uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromConfig {
    pub global: Global,
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Global {
    pub scrape_interval: String,
    pub evaluation_interval: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    pub kubernetes_sd_configs: Vec<SdConfig>,
    pub relabel_configs: Vec<Relabel>,
    /// Applied to every scraped series (after the scrape), unlike `relabel_configs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_relabel_configs: Vec<Relabel>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TlsConfig {
    pub ca_file: String,
}

/// `Bearer` credentials read from a file (Prometheus re-reads it, so a rotated token works).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    pub credentials_file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SdConfig {
    pub role: String,
    /// Namespaced roles only (pod); a node is in no namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespaces: Option<SdNamespaces>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SdNamespaces {
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Relabel {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_labels: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
}

/// Prometheus' spelling of a pod label in service discovery: every character that is not
/// a letter, digit or `_` becomes `_`.
fn sd_pod_label(label: &str) -> String {
    let clean: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__meta_kubernetes_pod_label_{clean}")
}

/// Scrapes every pod of the namespace annotated `prometheus.io/scrape: "true"`, on the
/// annotated port and path, under the job of its component (`backend`, `worker`, ...),
/// labelled with its component and pod name; and the kubelets' cAdvisor for the namespace's
/// containers ([`super::cadvisor`]).
pub fn config(s: &Scenario) -> PromConfig {
    let src = |l: &[&str]| Some(l.iter().map(|s| (*s).to_owned()).collect());
    let some = |v: &str| Some(v.to_owned());
    PromConfig {
        global: Global {
            scrape_interval: "5s".into(),
            evaluation_interval: "5s".into(),
        },
        scrape_configs: vec![
            ScrapeConfig {
                job_name: "pods".into(),
                kubernetes_sd_configs: vec![SdConfig {
                    role: "pod".into(),
                    namespaces: Some(SdNamespaces {
                        names: vec![s.namespace()],
                    }),
                }],
                relabel_configs: vec![
                    Relabel {
                        source_labels: src(&[
                            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
                        ]),
                        action: some("keep"),
                        regex: some("true"),
                        ..Relabel::default()
                    },
                    Relabel {
                        source_labels: src(&[
                            "__meta_kubernetes_pod_annotation_prometheus_io_path",
                        ]),
                        action: some("replace"),
                        regex: some("(.+)"),
                        target_label: some("__metrics_path__"),
                        ..Relabel::default()
                    },
                    Relabel {
                        source_labels: src(&[
                            "__meta_kubernetes_pod_ip",
                            "__meta_kubernetes_pod_annotation_prometheus_io_port",
                        ]),
                        action: some("replace"),
                        regex: some("(.+);(\\d+)"),
                        replacement: some("$1:$2"),
                        target_label: some("__address__"),
                    },
                    Relabel {
                        source_labels: Some(vec![sd_pod_label(labels::JOB)]),
                        action: some("replace"),
                        target_label: some("component"),
                        ..Relabel::default()
                    },
                    // The job is the component, as the local run's jobs are named
                    // (`up{job="worker"}` means the same on both runtimes).
                    Relabel {
                        source_labels: Some(vec![sd_pod_label(labels::JOB)]),
                        action: some("replace"),
                        target_label: some("job"),
                        ..Relabel::default()
                    },
                    // A load generator's plan; other pods have none, and an empty value
                    // sets no label.
                    Relabel {
                        source_labels: Some(vec![sd_pod_label(labels::PLAN)]),
                        action: some("replace"),
                        target_label: some("plan"),
                        ..Relabel::default()
                    },
                    Relabel {
                        source_labels: src(&["__meta_kubernetes_pod_name"]),
                        action: some("replace"),
                        target_label: some("pod"),
                        ..Relabel::default()
                    },
                    // The dashboard's variables (dashboards/load-demo.json), as locally.
                    Relabel {
                        source_labels: src(&["__meta_kubernetes_namespace"]),
                        action: some("replace"),
                        target_label: some("namespace"),
                        ..Relabel::default()
                    },
                    Relabel {
                        source_labels: Some(vec![sd_pod_label(labels::UUID)]),
                        action: some("replace"),
                        target_label: some("uuid"),
                        ..Relabel::default()
                    },
                ],
                ..ScrapeConfig::default()
            },
            super::cadvisor::scrape_config(s),
        ],
    }
}

pub fn config_map(s: &Scenario) -> Result<ConfigMap> {
    let yaml = serde_norway::to_string(&config(s)).map_err(|e| Error::Yaml {
        what: "the Prometheus configuration".into(),
        message: e.to_string(),
    })?;
    Ok(ConfigMap {
        metadata: meta::object_meta(s, Job::PROMETHEUS, config_map_name(s)),
        data: Some(BTreeMap::from([(CONFIG_FILE.to_owned(), yaml)])),
        ..ConfigMap::default()
    })
}

pub fn service(s: &Scenario) -> Service {
    super::service(
        s,
        Job::PROMETHEUS,
        &s.prometheus.name,
        ports::PROMETHEUS,
        crate::kube::meta::takes_node_ports(s).then_some(s.prometheus_node_port),
        false,
    )
}

pub fn deployment(s: &Scenario) -> Result<Deployment> {
    let args = vec![
        format!("--config.file={CONFIG_DIR}/{CONFIG_FILE}"),
        format!("--storage.tsdb.path={DATA_DIR}"),
        "--storage.tsdb.retention.time=1d".to_owned(),
        format!("--web.listen-address=:{}", ports::PROMETHEUS),
    ];
    let mut c = pod::container(
        &s.prometheus.name,
        &s.prometheus.image,
        ports::PROMETHEUS,
        args,
    );
    c.resources = Some(pod::resources(("100m", "128Mi"), ("1", "512Mi")));
    // Prometheus' own health endpoints.
    pod::probes(&mut c, "/-/healthy", "/-/ready");
    c.volume_mounts = Some(vec![
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
        VolumeMount {
            name: "data".into(),
            mount_path: DATA_DIR.into(),
            ..VolumeMount::default()
        },
    ]);
    let template = pod::template(
        meta::labels(s, Job::PROMETHEUS),
        None,
        PodSpec {
            containers: vec![c],
            service_account_name: Some(s.prometheus.name.clone()),
            automount_service_account_token: Some(true),
            volumes: Some(vec![
                Volume {
                    name: "config".into(),
                    config_map: Some(ConfigMapVolumeSource {
                        name: config_map_name(s),
                        ..ConfigMapVolumeSource::default()
                    }),
                    ..Volume::default()
                },
                Volume {
                    name: "data".into(),
                    // The root filesystem is read-only: the TSDB lives here, bounded.
                    empty_dir: Some(EmptyDirVolumeSource {
                        size_limit: Some(Quantity("1Gi".into())),
                        ..EmptyDirVolumeSource::default()
                    }),
                    ..Volume::default()
                },
            ]),
            ..PodSpec::default()
        },
    );
    super::deployment(
        s,
        Job::PROMETHEUS,
        &s.prometheus.name,
        s.prometheus.replicas,
        meta::selector_labels(s, Job::PROMETHEUS),
        template,
    )
}
