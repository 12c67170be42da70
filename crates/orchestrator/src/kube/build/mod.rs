//! Typed k8s-openapi objects built from a [`Scenario`] by small functions, one module per
//! part of the stack. [`plan`] groups them in the order the run applies them; `render`
//! writes the same objects as YAML.

pub mod backend;
pub mod cadvisor;
pub mod frontend;
pub mod grafana;
pub mod hpa;
pub mod keda;
pub mod loadgen;
pub mod pipeline;
pub mod pod;
pub mod prepull;
pub mod prometheus;
pub mod rbac;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, DeploymentSpec};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::Job as BatchJob;
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PodTemplateSpec, Service, ServiceAccount, ServicePort, ServiceSpec,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use scenario::Scenario;

use super::error::Result;
use super::meta::{self, Job};

/// One object of the stack, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Namespace(Namespace),
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    /// Cluster-scoped: outlives the namespace, so teardown and `destroy` delete it by label.
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    ConfigMap(ConfigMap),
    Service(Service),
    Deployment(Deployment),
    DaemonSet(DaemonSet),
    Job(BatchJob),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    ScaledObject(keda::ScaledObject),
}

/// Runs `$body` with `$o` bound to the typed object inside any [`Object`].
macro_rules! with_object {
    ($obj:expr, $o:ident => $body:expr) => {
        match $obj {
            Object::Namespace($o) => $body,
            Object::ServiceAccount($o) => $body,
            Object::Role($o) => $body,
            Object::RoleBinding($o) => $body,
            Object::ClusterRole($o) => $body,
            Object::ClusterRoleBinding($o) => $body,
            Object::ConfigMap($o) => $body,
            Object::Service($o) => $body,
            Object::Deployment($o) => $body,
            Object::DaemonSet($o) => $body,
            Object::Job($o) => $body,
            Object::HorizontalPodAutoscaler($o) => $body,
            Object::ScaledObject($o) => $body,
        }
    };
}

impl Object {
    /// The object's `kind`, as in its manifest.
    pub fn kind(&self) -> &'static str {
        fn kind_of<K: k8s_openapi::Resource>(_: &K) -> &'static str {
            K::KIND
        }
        match self {
            // A custom resource: kube's derive, not k8s-openapi, knows its kind.
            Self::ScaledObject(_) => "ScaledObject",
            Self::Namespace(o) => kind_of(o),
            Self::ServiceAccount(o) => kind_of(o),
            Self::Role(o) => kind_of(o),
            Self::RoleBinding(o) => kind_of(o),
            Self::ClusterRole(o) => kind_of(o),
            Self::ClusterRoleBinding(o) => kind_of(o),
            Self::ConfigMap(o) => kind_of(o),
            Self::Service(o) => kind_of(o),
            Self::Deployment(o) => kind_of(o),
            Self::DaemonSet(o) => kind_of(o),
            Self::Job(o) => kind_of(o),
            Self::HorizontalPodAutoscaler(o) => kind_of(o),
        }
    }

    pub fn meta(&self) -> &ObjectMeta {
        use kube::Resource as _;
        with_object!(self, o => o.meta())
    }

    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// `Kind/name`, as kubectl prints it.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// The manifest as YAML, `apiVersion` and `kind` included.
    pub fn to_yaml(&self) -> Result<String> {
        with_object!(self, o => serde_norway::to_string(o))
            .map(|y| quote_yaml11_booleans(&y))
            .map_err(|e| super::error::Error::Yaml {
                what: self.describe(),
                message: e.to_string(),
            })
    }
}

/// Words YAML 1.2 (serde_norway) writes as plain strings but YAML 1.1 reads as booleans.
const YAML11_BOOLEANS: [&str; 16] = [
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

/// Quotes the plain scalar values YAML 1.1 would read as booleans: kubectl's parser is YAML
/// 1.1, so Redis' `--appendonly no` would otherwise reach the API server as `false`.
fn quote_yaml11_booleans(yaml: &str) -> String {
    let mut out = String::with_capacity(yaml.len() + 8);
    for line in yaml.lines() {
        let value_at = line.rfind(": ").map(|i| i + 2).or_else(|| {
            line.trim_start()
                .starts_with("- ")
                .then(|| line.find("- ").unwrap_or(0) + 2)
        });
        match value_at {
            Some(i) if YAML11_BOOLEANS.contains(&&line[i..]) => {
                out.push_str(&format!("{}'{}'", &line[..i], &line[i..]));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Every object of a run, grouped by when the run applies them.
#[derive(Debug, Clone)]
pub struct Plan {
    pub namespace: Namespace,
    /// The pre-pull DaemonSet, when the scenario asks for it (removed after its phase).
    pub prepull: Option<DaemonSet>,
    /// Backend, frontend, Prometheus (with its cluster-scoped cAdvisor RBAC), Grafana when
    /// asked for, and the pipeline's Redis and workers, in apply order (what an object refers
    /// to first).
    pub stack: Vec<Object>,
    /// The load generator's Service and its Deployments (one per shard) or its Job.
    pub loadgen: Vec<Object>,
}

impl Plan {
    /// Everything, in apply order.
    pub fn all(&self) -> Vec<Object> {
        let mut v = vec![Object::Namespace(self.namespace.clone())];
        v.extend(self.prepull.clone().map(Object::DaemonSet));
        v.extend(self.stack.iter().cloned());
        v.extend(self.loadgen.iter().cloned());
        v
    }
}

/// Builds every object of `s`, after checking the names it uses.
pub fn plan(s: &Scenario) -> Result<Plan> {
    meta::validate(s)?;
    let mut stack = prometheus::rbac(s);
    stack.extend(cadvisor::rbac(s));
    stack.push(Object::ConfigMap(prometheus::config_map(s)?));
    let pipeline = pipeline::enabled(s);
    if pipeline {
        // Before the backends and workers: they connect to it as they start.
        stack.extend(pipeline::redis(s)?);
    }
    stack.extend(backend::services(s));
    stack.push(Object::Deployment(backend::deployment(
        s,
        s.backend.replicas,
    )?));
    if pipeline {
        stack.push(Object::Deployment(pipeline::worker_deployment(s)?));
    }
    stack.extend(hpa::hpa(s).map(Object::HorizontalPodAutoscaler));
    stack.extend(keda::scaled_object(s).map(Object::ScaledObject));
    stack.extend(frontend::rbac(s));
    stack.push(Object::Service(frontend::service(s)));
    stack.push(Object::Deployment(frontend::deployment(s)?));
    stack.push(Object::Service(prometheus::service(s)));
    stack.push(Object::Deployment(prometheus::deployment(s)?));
    stack.extend(grafana::objects(s)?);
    Ok(Plan {
        namespace: namespace(s),
        prepull: if s.prepull {
            Some(prepull::daemon_set(s)?)
        } else {
            None
        },
        stack,
        loadgen: loadgen::objects(s)?,
    })
}

/// The run's namespace, enforcing Pod Security "restricted".
pub fn namespace(s: &Scenario) -> Namespace {
    let mut labels = meta::run_labels(s);
    labels.insert(
        meta::POD_SECURITY_ENFORCE.to_owned(),
        "restricted".to_owned(),
    );
    Namespace {
        metadata: ObjectMeta {
            name: Some(s.namespace()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// A Deployment of `replicas` pods selected by `selector` (which the template's labels carry).
pub fn deployment(
    s: &Scenario,
    job: Job,
    name: &str,
    replicas: u32,
    selector: std::collections::BTreeMap<String, String>,
    template: PodTemplateSpec,
) -> Result<Deployment> {
    Ok(Deployment {
        metadata: meta::object_meta(s, job, name),
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(replicas).unwrap_or(i32::MAX)),
            selector: meta::label_selector(selector)?,
            template,
            revision_history_limit: Some(2),
            ..DeploymentSpec::default()
        }),
        status: None,
    })
}

/// A Service on `port` → the pods' named port. `node_port` makes it a NodePort Service.
pub fn service(
    s: &Scenario,
    job: Job,
    name: &str,
    port: u16,
    node_port: Option<u16>,
    headless: bool,
) -> Service {
    let type_ = if node_port.is_some() {
        "NodePort"
    } else {
        "ClusterIP"
    };
    Service {
        metadata: meta::object_meta(s, job, name),
        spec: Some(ServiceSpec {
            type_: Some(type_.to_owned()),
            cluster_ip: headless.then(|| "None".to_owned()),
            selector: Some(meta::selector_labels(s, job)),
            ports: Some(vec![ServicePort {
                name: Some(pod::PORT_NAME.to_owned()),
                port: i32::from(port),
                target_port: Some(IntOrString::String(pod::PORT_NAME.to_owned())),
                node_port: node_port.map(i32::from),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::quote_yaml11_booleans;

    #[test]
    fn values_yaml_1_1_reads_as_booleans_are_quoted_and_nothing_else() {
        let yaml = "args:\n- --appendonly\n- no\n- nothing\nx: on\ny: 'no'\nno: 1\n";
        assert_eq!(
            quote_yaml11_booleans(yaml),
            "args:\n- --appendonly\n- 'no'\n- nothing\nx: 'on'\ny: 'no'\nno: 1\n"
        );
    }
}
