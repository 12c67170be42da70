//! The run's Prometheus scrapes every kubelet's cAdvisor through the API server's node proxy,
//! so the CPU, memory and network figures of the report (and the dashboard's per-pod panels)
//! can be queried there too. The proxy needs cluster-wide RBAC, kept as small as it goes:
//! `list`/`watch` on nodes (service discovery) and `get` on `nodes/proxy`, bound to
//! Prometheus' ServiceAccount. Cluster-scoped objects outlive the namespace, so their names
//! carry the run's namespace (and so its uuid), and teardown and `destroy` delete them by
//! label.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use scenario::Scenario;

use super::Object;
use super::prometheus::{Authorization, Relabel, ScrapeConfig, SdConfig, TlsConfig};
use crate::kube::meta::{self, Job};

/// The scrape job's name.
pub const JOB_NAME: &str = "kubernetes-cadvisor";
/// Where the kubelet mounts the ServiceAccount's token and the cluster's CA in every pod that
/// automounts them (Prometheus does).
const SA_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The API server as every pod reaches it.
const API_SERVER: &str = "kubernetes.default.svc:443";

/// The ClusterRole's and the ClusterRoleBinding's name: `<namespace>-<prometheus>-cadvisor`,
/// unique per run because the namespace holds the uuid.
pub fn cluster_name(s: &Scenario) -> String {
    format!("{}-{}-cadvisor", s.namespace(), s.prometheus.name)
}

/// The ClusterRole and its binding to Prometheus' ServiceAccount.
pub fn rbac(s: &Scenario) -> Vec<Object> {
    let name = cluster_name(s);
    let rule = |resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec![resource.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    let role = ClusterRole {
        metadata: meta::cluster_meta(s, Job::PROMETHEUS, &name),
        rules: Some(vec![
            rule("nodes", &["list", "watch"]),
            rule("nodes/proxy", &["get"]),
        ]),
        aggregation_rule: None,
    };
    let binding = ClusterRoleBinding {
        metadata: meta::cluster_meta(s, Job::PROMETHEUS, &name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "ClusterRole".to_owned(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: s.prometheus.name.clone(),
            namespace: Some(s.namespace()),
            ..Subject::default()
        }]),
    };
    vec![
        Object::ClusterRole(role),
        Object::ClusterRoleBinding(binding),
    ]
}

/// The component a pod belongs to, from its name (cAdvisor series carry no pod labels):
/// `(regex, component)`, shortest name first so that a longer name sharing a prefix
/// (`api` and `api-ui`) is applied later and wins.
fn components(s: &Scenario) -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &'static str)> = [
        Job::BACKEND,
        Job::FRONTEND,
        Job::LOADGEN,
        Job::PROMETHEUS,
        Job::Grafana,
    ]
    .into_iter()
    .filter(|j| *j != Job::Grafana || s.grafana.enabled)
    .map(|j| (j.name(s), j.as_str()))
    .collect();
    v.sort_by_key(|(name, _)| name.len());
    // Names are RFC 1035 labels: no regex metacharacters to escape. Prometheus anchors
    // regexes at both ends.
    v.into_iter()
        .map(|(name, job)| (format!("{name}-.+"), job))
        .collect()
}

/// Every node's cAdvisor page via `/api/v1/nodes/<node>/proxy/metrics/cadvisor`, keeping the
/// series of the run's namespace only, labelled like the run's other series.
pub fn scrape_config(s: &Scenario) -> ScrapeConfig {
    let some = |v: &str| Some(v.to_owned());
    let src = |l: &str| Some(vec![l.to_owned()]);
    let mut metric_relabel = vec![
        Relabel {
            source_labels: src("namespace"),
            action: some("keep"),
            regex: Some(s.namespace()),
            ..Relabel::default()
        },
        Relabel {
            target_label: some("uuid"),
            replacement: Some(s.uuid.clone()),
            ..Relabel::default()
        },
    ];
    metric_relabel.extend(components(s).into_iter().map(|(regex, job)| Relabel {
        source_labels: src("pod"),
        action: some("replace"),
        regex: Some(regex),
        replacement: some(job),
        target_label: some("component"),
    }));
    ScrapeConfig {
        job_name: JOB_NAME.to_owned(),
        scheme: some("https"),
        tls_config: Some(TlsConfig {
            ca_file: format!("{SA_DIR}/ca.crt"),
        }),
        authorization: Some(Authorization {
            credentials_file: format!("{SA_DIR}/token"),
        }),
        kubernetes_sd_configs: vec![SdConfig {
            role: "node".into(),
            namespaces: None,
        }],
        relabel_configs: vec![
            Relabel {
                target_label: some("__address__"),
                replacement: some(API_SERVER),
                ..Relabel::default()
            },
            Relabel {
                source_labels: src("__meta_kubernetes_node_name"),
                regex: some("(.+)"),
                target_label: some("__metrics_path__"),
                replacement: some("/api/v1/nodes/$1/proxy/metrics/cadvisor"),
                ..Relabel::default()
            },
            Relabel {
                source_labels: src("__meta_kubernetes_node_name"),
                target_label: some("node"),
                ..Relabel::default()
            },
        ],
        metric_relabel_configs: metric_relabel,
    }
}
