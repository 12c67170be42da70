//! The backend: a Deployment of the service under test, its ClusterIP Service (what the load
//! and the frontend's proxied actions go through) and a headless Service whose DNS records
//! list the replicas for the frontend.

use common::api::routes;
use common::ports;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::PodSpec;
use scenario::Scenario;

use super::{Object, pod};
use crate::components;
use crate::kube::error::Result;
use crate::kube::meta::{self, Job};

/// `http://<backend>:8080`: the Service the load generator and the frontend call.
pub fn url(s: &Scenario) -> String {
    format!("http://{}:{}", s.backend.name, ports::BACKEND)
}

/// Name of the headless Service.
pub fn headless_name(s: &Scenario) -> String {
    format!("{}-headless", s.backend.name)
}

/// `<backend>-headless:8080`, the frontend's `--backend-headless`.
pub fn headless_host_port(s: &Scenario) -> String {
    format!("{}:{}", headless_name(s), ports::BACKEND)
}

pub fn services(s: &Scenario) -> Vec<Object> {
    vec![
        Object::Service(super::service(
            s,
            Job::BACKEND,
            &s.backend.name,
            ports::BACKEND,
            None,
            false,
        )),
        Object::Service(super::service(
            s,
            Job::BACKEND,
            &headless_name(s),
            ports::BACKEND,
            None,
            true,
        )),
    ]
}

/// The backend Deployment with `replicas` pods (scaling re-applies it with a new count).
pub fn deployment(s: &Scenario, replicas: u32) -> Result<Deployment> {
    let mut args = components::backend_args(
        s,
        &format!("0.0.0.0:{}", ports::BACKEND),
        // Expanded by the kubelet from the env below: each replica reports its pod name.
        "$(POD_NAME)",
    );
    if super::pipeline::enabled(s) {
        args.extend(components::backend_pipeline_args(
            &super::pipeline::redis_url(s),
        ));
    }
    let mut c = pod::container(&s.backend.name, &s.backend.image, ports::BACKEND, args);
    c.env = Some(vec![pod::pod_name_env()]);
    c.resources = Some(pod::resources(("100m", "64Mi"), ("1", "256Mi")));
    pod::probes(&mut c, routes::HEALTHZ, routes::READYZ);
    let template = pod::template(
        meta::labels(s, Job::BACKEND),
        Some(pod::scrape_annotations(ports::BACKEND, routes::METRICS)),
        PodSpec {
            containers: vec![c],
            // Readiness turns 503 at SIGTERM and in-flight requests finish: give them time.
            termination_grace_period_seconds: Some(30),
            ..PodSpec::default()
        },
    );
    super::deployment(
        s,
        Job::BACKEND,
        &s.backend.name,
        replicas,
        meta::selector_labels(s, Job::BACKEND),
        template,
    )
}
