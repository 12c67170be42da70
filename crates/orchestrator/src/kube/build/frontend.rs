//! The frontend: the live web UI's Deployment and its Service (NodePort when the scenario
//! says so, for kind's port mappings).

use common::api::routes;
use common::ports;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PodSpec, Service};
use scenario::{Scenario, ServiceType};

use super::{backend, loadgen, pod};
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

pub fn deployment(s: &Scenario) -> Result<Deployment> {
    let backend_url = backend::url(s);
    let headless = backend::headless_host_port(s);
    let loadgen_url = loadgen::url(s);
    let args = components::frontend_args(
        &format!("0.0.0.0:{}", ports::FRONTEND),
        &backend_url,
        &ReplicaDiscovery::Headless(headless.clone()),
        &loadgen_url,
    );
    let mut c = pod::container(&s.frontend.name, &s.frontend.image, ports::FRONTEND, args);
    // The same values as the flags, under the names ARCHITECTURE.md gives them, so
    // `kubectl describe` shows where the frontend looks.
    c.env = Some(vec![
        pod::env("BACKEND_URL", backend_url),
        pod::env("BACKEND_HEADLESS", headless),
        pod::env("LOADGEN_URL", loadgen_url),
    ]);
    c.resources = Some(pod::resources(("50m", "32Mi"), ("500m", "128Mi")));
    pod::probes(&mut c, routes::HEALTHZ, routes::READYZ);
    let template = pod::template(
        meta::labels(s, Job::FRONTEND),
        Some(pod::scrape_annotations(ports::FRONTEND, routes::METRICS)),
        PodSpec {
            containers: vec![c],
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
