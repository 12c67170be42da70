//! The pipeline workload's objects (`workload = "pipeline"`): Redis (a Deployment of the
//! official image and its ClusterIP Service, applied before the backends that write to it)
//! and the workers' Deployment (the demo-worker binary of the backend's image).

use common::api::routes;
use common::ports;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, PodSpec, Probe, Service, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use scenario::{Scenario, Workload};

use super::{Object, pod};
use crate::components;
use crate::kube::error::Result;
use crate::kube::meta::{self, Job};

/// Redis' port, in the pod and on its Service.
pub const REDIS_PORT: u16 = 6379;

/// The `redis` user of the official image (uid and gid 999 in both its Debian and Alpine
/// variants): numeric, so the kubelet can check `runAsNonRoot`.
pub const REDIS_USER: i64 = 999;

/// Name of Redis' container port (it speaks RESP, not HTTP).
const REDIS_PORT_NAME: &str = "redis";

/// The worker binary inside the backend's image (docker/Dockerfile copies it beside `/app`).
pub const WORKER_COMMAND: &str = "/demo-worker";

/// Whether the scenario runs the pipeline.
pub fn enabled(s: &Scenario) -> bool {
    s.pipeline.workload == Workload::Pipeline
}

/// `redis://<redis Service>:6379`: what the backends and the workers connect to.
pub fn redis_url(s: &Scenario) -> String {
    format!("redis://{}:{REDIS_PORT}", s.pipeline.redis.name)
}

/// Redis' ClusterIP Service and Deployment, in apply order.
pub fn redis(s: &Scenario) -> Result<Vec<Object>> {
    Ok(vec![
        Object::Service(redis_service(s)),
        Object::Deployment(redis_deployment(s)?),
    ])
}

fn redis_service(s: &Scenario) -> Service {
    let mut svc = super::service(
        s,
        Job::REDIS,
        &s.pipeline.redis.name,
        REDIS_PORT,
        None,
        false,
    );
    for p in svc
        .spec
        .iter_mut()
        .flat_map(|sp| sp.ports.iter_mut().flatten())
    {
        p.name = Some(REDIS_PORT_NAME.to_owned());
        p.target_port = Some(IntOrString::String(REDIS_PORT_NAME.to_owned()));
    }
    svc
}

fn tcp_probe(period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(REDIS_PORT_NAME.to_owned()),
            host: None,
        }),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(2),
        failure_threshold: Some(failure_threshold),
        success_threshold: Some(1),
        ..Probe::default()
    }
}

fn redis_container(s: &Scenario) -> Container {
    // The queue is the run's own: nothing to keep across restarts, so no snapshots or AOF
    // (and nothing written but the working directory, an emptyDir).
    let args = ["--save", "", "--appendonly", "no"]
        .map(str::to_owned)
        .to_vec();
    let mut c = pod::container(
        &s.pipeline.redis.name,
        &s.pipeline.redis.image,
        REDIS_PORT,
        args,
    );
    for p in c.ports.iter_mut().flatten() {
        p.name = Some(REDIS_PORT_NAME.to_owned());
    }
    if let Some(sc) = c.security_context.as_mut() {
        sc.run_as_user = Some(REDIS_USER);
        sc.run_as_group = Some(REDIS_USER);
    }
    c.resources = Some(pod::resources(("100m", "64Mi"), ("1", "512Mi")));
    c.readiness_probe = Some(tcp_probe(2, 2));
    c.liveness_probe = Some(tcp_probe(10, 3));
    c.volume_mounts = Some(vec![VolumeMount {
        name: "data".to_owned(),
        mount_path: "/data".to_owned(),
        ..VolumeMount::default()
    }]);
    c
}

fn redis_deployment(s: &Scenario) -> Result<Deployment> {
    let mut template = pod::template(
        meta::labels(s, Job::REDIS),
        None,
        PodSpec {
            containers: vec![redis_container(s)],
            volumes: Some(vec![Volume {
                name: "data".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }]),
            ..PodSpec::default()
        },
    );
    pod::run_pod_as(&mut template, REDIS_USER);
    super::deployment(
        s,
        Job::REDIS,
        &s.pipeline.redis.name,
        1,
        meta::selector_labels(s, Job::REDIS),
        template,
    )
}

/// The workers' Deployment: `worker_replicas` consumers of the order stream, each its own
/// consumer in the group (its pod name: a restarted container takes up its own pending
/// entries), scraped like the backend.
pub fn worker_deployment(s: &Scenario) -> Result<Deployment> {
    let name = &s.pipeline.worker.name;
    let args = components::worker_args(
        s,
        &format!("0.0.0.0:{}", ports::WORKER),
        &redis_url(s),
        // Expanded by the kubelet from the env below.
        "$(POD_NAME)",
    );
    let mut c = pod::container(name, &s.backend.image, ports::WORKER, args);
    c.command = Some(vec![WORKER_COMMAND.to_owned()]);
    c.env = Some(vec![pod::pod_name_env()]);
    c.resources = Some(pod::resources(("100m", "64Mi"), ("1", "512Mi")));
    pod::probes(&mut c, routes::HEALTHZ, routes::READYZ);
    let template = pod::template(
        meta::labels(s, Job::WORKER),
        Some(pod::scrape_annotations(ports::WORKER, routes::METRICS)),
        PodSpec {
            containers: vec![c],
            ..PodSpec::default()
        },
    );
    super::deployment(
        s,
        Job::WORKER,
        name,
        s.pipeline.worker.replicas,
        meta::selector_labels(s, Job::WORKER),
        template,
    )
}
