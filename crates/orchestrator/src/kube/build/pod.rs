//! Building blocks of every pod: the restricted security context, probes, resources,
//! pod-name environment, and the pod template with its labels and scrape annotations.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// The numeric user of the demo images (`USER 65532:65532` in docker/Dockerfile); numeric so
/// the kubelet can check `runAsNonRoot` without a passwd file in the image.
pub const RUN_AS_USER: i64 = 65532;

/// `imagePullPolicy`: images built locally for kind are `:latest`, which would otherwise
/// default to `Always` and fail to pull from a registry that does not have them.
pub const PULL_POLICY: &str = "IfNotPresent";

/// Name of the main container port, used by probes and Services.
pub const PORT_NAME: &str = "http";

/// The container-level half of Pod Security "restricted".
pub fn container_security() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        seccomp_profile: Some(runtime_default()),
        ..SecurityContext::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    }
}

/// The pod-level half: non-root, and `fsGroup` so emptyDir volumes are writable.
pub fn pod_security() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(RUN_AS_USER),
        run_as_group: Some(RUN_AS_USER),
        fs_group: Some(RUN_AS_USER),
        seccomp_profile: Some(runtime_default()),
        ..PodSecurityContext::default()
    }
}

/// Requests and limits, as `(cpu, memory)` pairs.
pub fn resources(request: (&str, &str), limit: (&str, &str)) -> ResourceRequirements {
    let pair = |(cpu, mem): (&str, &str)| {
        BTreeMap::from([
            ("cpu".to_owned(), Quantity(cpu.to_owned())),
            ("memory".to_owned(), Quantity(mem.to_owned())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(request)),
        limits: Some(pair(limit)),
        ..ResourceRequirements::default()
    }
}

/// An HTTP GET probe on the named container port.
pub fn http_probe(path: &str, period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String(PORT_NAME.to_owned()),
            scheme: Some("HTTP".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(2),
        failure_threshold: Some(failure_threshold),
        success_threshold: Some(1),
        ..Probe::default()
    }
}

/// Liveness on `live`, readiness on `ready`: readiness is checked often so a scaled-up
/// replica joins its Service quickly.
pub fn probes(container: &mut Container, live: &str, ready: &str) {
    container.liveness_probe = Some(http_probe(live, 10, 3));
    container.readiness_probe = Some(http_probe(ready, 2, 2));
}

/// `POD_NAME` from the downward API, so args can say `$(POD_NAME)`.
pub fn pod_name_env() -> EnvVar {
    EnvVar {
        name: "POD_NAME".to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".to_owned(),
                api_version: Some("v1".to_owned()),
            }),
            ..EnvVarSource::default()
        }),
        value: None,
    }
}

pub fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        value_from: None,
    }
}

/// A container with the settings every container of the stack shares.
pub fn container(name: &str, image: &str, port: u16, args: Vec<String>) -> Container {
    Container {
        name: name.to_owned(),
        image: Some(image.to_owned()),
        image_pull_policy: Some(PULL_POLICY.to_owned()),
        args: Some(args),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: i32::from(port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        security_context: Some(container_security()),
        ..Container::default()
    }
}

/// Annotations Prometheus' kubernetes_sd config keys on (see `prometheus.rs`).
pub fn scrape_annotations(port: u16, path: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("prometheus.io/scrape".to_owned(), "true".to_owned()),
        ("prometheus.io/port".to_owned(), port.to_string()),
        ("prometheus.io/path".to_owned(), path.to_owned()),
    ])
}

/// A pod template: `labels` (which must include the owner's selector), optional
/// annotations, the restricted pod security context, and `spec` for the rest.
pub fn template(
    labels: BTreeMap<String, String>,
    annotations: Option<BTreeMap<String, String>>,
    mut spec: PodSpec,
) -> PodTemplateSpec {
    spec.security_context = Some(pod_security());
    // Only Prometheus talks to the API server; it opts back in.
    spec.automount_service_account_token.get_or_insert(false);
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels),
            annotations,
            ..ObjectMeta::default()
        }),
        spec: Some(spec),
    }
}

/// Runs `template`'s pod as an image's own non-root user: `fsGroup` then makes the
/// emptyDir volumes writable by it (third-party images such as Grafana's and Redis' expect
/// their uid, not ours).
pub fn run_pod_as(template: &mut PodTemplateSpec, uid: i64) {
    if let Some(sc) = template
        .spec
        .as_mut()
        .and_then(|p| p.security_context.as_mut())
    {
        sc.run_as_user = Some(uid);
        sc.run_as_group = Some(uid);
        sc.fs_group = Some(uid);
    }
}
