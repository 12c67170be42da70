//! The image pre-pull DaemonSet: on every node, one init container per image runs that
//! image's `--version` (pulling it, and proving the binary starts), then the pause image
//! idles until the phase removes the DaemonSet.

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use scenario::Scenario;

use super::pod;
use crate::kube::error::Result;
use crate::kube::meta::{self, Job};

/// Name of the DaemonSet.
pub const NAME: &str = "prepull";

/// Each distinct image of the stack with the init-container name that pulls it (Redis' too
/// with the pipeline; the workers run the backend's image).
pub fn images(s: &Scenario) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let redis = &s.pipeline.redis;
    let pipeline = super::pipeline::enabled(s).then_some((&redis.name, &redis.image));
    for (name, image) in [
        (&s.backend.name, &s.backend.image),
        (&s.frontend.name, &s.frontend.image),
        (&s.loadgen.name, &s.loadgen.image),
        (&s.prometheus.name, &s.prometheus.image),
    ]
    .into_iter()
    .chain(pipeline)
    {
        if !out.iter().any(|(_, i)| i == image) {
            out.push((format!("pull-{name}"), image.clone()));
        }
    }
    out
}

fn small(name: &str, image: &str) -> Container {
    Container {
        name: name.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some(pod::PULL_POLICY.to_owned()),
        security_context: Some(pod::container_security()),
        resources: Some(pod::resources(("10m", "16Mi"), ("200m", "128Mi"))),
        ..Container::default()
    }
}

pub fn daemon_set(s: &Scenario) -> Result<DaemonSet> {
    let init_containers = images(s)
        .into_iter()
        .map(|(name, image)| {
            let mut c = small(&name, &image);
            c.args = Some(vec!["--version".to_owned()]);
            c
        })
        .collect();
    let mut pause = small("pause", &s.pause_image);
    pause.resources = Some(pod::resources(("1m", "8Mi"), ("10m", "16Mi")));
    let template = pod::template(
        meta::labels(s, Job::Prepull),
        None,
        PodSpec {
            init_containers: Some(init_containers),
            containers: vec![pause],
            termination_grace_period_seconds: Some(1),
            ..PodSpec::default()
        },
    );
    Ok(DaemonSet {
        metadata: meta::object_meta(s, Job::Prepull, NAME),
        spec: Some(DaemonSetSpec {
            selector: meta::label_selector(meta::selector_labels(s, Job::Prepull))?,
            template,
            ..DaemonSetSpec::default()
        }),
        status: None,
    })
}
