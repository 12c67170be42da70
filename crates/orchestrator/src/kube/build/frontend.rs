//! The frontend: the live web UI's Deployment and its Service (NodePort when the scenario
//! says so, for kind's port mappings); with an autoscaler, the ServiceAccount and Role that
//! let it read the backend's HPA for its autoscaler card.

use common::api::routes;
use common::ports;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PodSpec, Service};
use k8s_openapi::api::rbac::v1::PolicyRule;
use scenario::{Scenario, ServiceType};

use super::{Object, backend, keda, loadgen, pod};
use crate::components::{self, ReplicaDiscovery};
use crate::kube::error::Result;
use crate::kube::meta::{self, Job};

pub fn service(s: &Scenario) -> Service {
    let node_port =
        (s.frontend_service_type == ServiceType::NodePort).then_some(s.frontend_node_port);
    super::service(
        s,
        Job::FRONTEND,
        &s.frontend.name,
        ports::FRONTEND,
        node_port,
        false,
    )
}

/// `<namespace>/<name>` of the HPA the frontend shows, when the run has an autoscaler (for
/// `keda`, the HPA KEDA makes, which the ScaledObject names).
pub fn autoscaler_hpa(s: &Scenario) -> Option<String> {
    s.autoscale
        .mode
        .is_auto()
        .then(|| format!("{}/{}", s.namespace(), keda::hpa_name(s)))
}

/// The frontend's ServiceAccount, a Role allowing only `get` of the backend's HPA, and their
/// RoleBinding; none without an autoscaler (the pod then gets no token at all).
pub fn rbac(s: &Scenario) -> Vec<Object> {
    if !s.autoscale.mode.is_auto() {
        return Vec::new();
    }
    super::rbac::objects(
        s,
        Job::FRONTEND,
        &s.frontend.name,
        vec![PolicyRule {
            api_groups: Some(vec!["autoscaling".to_owned()]),
            resources: Some(vec!["horizontalpodautoscalers".to_owned()]),
            resource_names: Some(vec![keda::hpa_name(s)]),
            verbs: vec!["get".to_owned()],
            ..PolicyRule::default()
        }],
    )
}

pub fn deployment(s: &Scenario) -> Result<Deployment> {
    let backend_url = backend::url(s);
    let headless = backend::headless_host_port(s);
    let loadgen_url = loadgen::url(s);
    let mut args = components::frontend_args(
        &format!("0.0.0.0:{}", ports::FRONTEND),
        &backend_url,
        &ReplicaDiscovery::Headless(headless.clone()),
        &loadgen_url,
    );
    let hpa = autoscaler_hpa(s);
    // Only the kube runtime reads the HPA; the local one hands the frontend its status URL.
    if let Some(hpa) = &hpa {
        args.extend(["--autoscaler-hpa".to_owned(), hpa.clone()]);
    }
    let mut c = pod::container(&s.frontend.name, &s.frontend.image, ports::FRONTEND, args);
    // The same values as the flags, under the names ARCHITECTURE.md gives them, so
    // `kubectl describe` shows where the frontend looks.
    let mut env = vec![
        pod::env("BACKEND_URL", backend_url),
        pod::env("BACKEND_HEADLESS", headless),
        pod::env("LOADGEN_URL", loadgen_url),
    ];
    env.extend(hpa.map(|h| pod::env("AUTOSCALER_HPA", h)));
    c.env = Some(env);
    c.resources = Some(pod::resources(("50m", "32Mi"), ("500m", "128Mi")));
    pod::probes(&mut c, routes::HEALTHZ, routes::READYZ);
    let template = pod::template(
        meta::labels(s, Job::FRONTEND),
        Some(pod::scrape_annotations(ports::FRONTEND, routes::METRICS)),
        PodSpec {
            containers: vec![c],
            // With an autoscaler the pod reads its HPA with the token of its own account.
            service_account_name: s.autoscale.mode.is_auto().then(|| s.frontend.name.clone()),
            automount_service_account_token: s.autoscale.mode.is_auto().then_some(true),
            ..PodSpec::default()
        },
    );
    super::deployment(
        s,
        Job::FRONTEND,
        &s.frontend.name,
        s.frontend.replicas,
        meta::selector_labels(s, Job::FRONTEND),
        template,
    )
}
