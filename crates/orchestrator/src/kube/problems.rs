//! What is wrong with a pod, from its status alone: an image that cannot be pulled, a
//! container that crash-loops or cannot be created, a container that failed; and which of
//! those no retry of the kubelet's will cure.

use ::kube::ResourceExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::error::{Error, PodProblem};
use super::labels;

/// Waiting reasons that mean the image cannot be had.
pub const IMAGE_PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// Waiting reasons that mean the container cannot run.
pub const FAILING_REASONS: &[&str] = &[
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// Messages of a pull that no retry will make succeed.
const NO_SUCH_IMAGE: &[&str] = &[
    "not found",
    "manifest unknown",
    "repository does not exist",
    "pull access denied",
    "no such host",
];

/// A problem no retry of the kubelet's will cure: a crash loop, a bad image name, or an
/// image that cannot exist (the registry says so, or it is a `kind.local/` image, which
/// only `kind load` can bring). Pull errors, and containers that could not be created or
/// started, are often transient.
pub fn permanent(p: &PodProblem) -> bool {
    match p.reason.as_str() {
        "ErrImagePull" | "ImagePullBackOff" => {
            let message = p.message.to_ascii_lowercase();
            p.image.starts_with("kind.local/") || NO_SUCH_IMAGE.iter().any(|m| message.contains(m))
        }
        "CreateContainerError" | "RunContainerError" | "CreateContainerConfigError" => false,
        _ => true,
    }
}

/// What is wrong with a pod, if anything: an image that cannot be pulled, a container that
/// crash-loops or cannot be created, or (pods that do not restart) a container that failed.
pub fn diagnose(pod: &Pod, namespace: &str) -> Option<PodProblem> {
    let status = pod.status.as_ref()?;
    let spec_image = |name: &str| {
        let spec = pod.spec.as_ref()?;
        spec.init_containers
            .iter()
            .flatten()
            .chain(&spec.containers)
            .find(|c| c.name == name)
            .and_then(|c| c.image.clone())
    };
    let problem = |cs: &ContainerStatus, reason: &str, message: String| PodProblem {
        component: pod
            .labels()
            .get(labels::JOB)
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned()),
        pod: pod.name_any(),
        namespace: namespace.to_owned(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        container: cs.name.clone(),
        image: spec_image(&cs.name).unwrap_or_else(|| cs.image.clone()),
        reason: reason.to_owned(),
        message,
    };
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for cs in statuses {
        let state = cs.state.as_ref();
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            let reason = w.reason.as_deref().unwrap_or_default();
            // A container that keeps finishing successfully (a load generator whose
            // --duration ended, restarted by its Deployment) is done, not crashing.
            let finished_ok = cs
                .last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .is_some_and(|t| t.exit_code == 0);
            if reason == "CrashLoopBackOff" && finished_ok {
                continue;
            }
            if IMAGE_PULL_REASONS.contains(&reason) || FAILING_REASONS.contains(&reason) {
                return Some(problem(cs, reason, w.message.clone().unwrap_or_default()));
            }
        }
        if status.phase.as_deref() == Some("Failed")
            && let Some(t) = state.and_then(|s| s.terminated.as_ref())
            && t.exit_code != 0
        {
            let reason = t.reason.clone().unwrap_or_else(|| "Error".to_owned());
            let message = t
                .message
                .clone()
                .unwrap_or_else(|| format!("exited with code {}", t.exit_code));
            return Some(problem(cs, &reason, message));
        }
    }
    None
}

/// The error a problem is reported as: image pulls get the `kind load` hint.
pub fn problem_error(p: PodProblem) -> Error {
    if IMAGE_PULL_REASONS.contains(&p.reason.as_str()) {
        Error::ImagePull(Box::new(p))
    } else {
        Error::ContainerFailing(Box::new(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::labels;
    use k8s_openapi::api::core::v1::Pod;
    use k8s_openapi::api::core::v1::{
        ContainerState, ContainerStateTerminated, ContainerStateWaiting, PodStatus,
    };

    fn pod(waiting: &str, last_exit: Option<i32>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("backend-1".into());
        p.metadata.labels = Some([(labels::JOB.to_owned(), "backend".to_owned())].into());
        p.status = Some(PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![ContainerStatus {
                name: "backend".into(),
                image: "img:1".into(),
                state: Some(ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(waiting.into()),
                        message: Some("back-off 10s".into()),
                    }),
                    ..ContainerState::default()
                }),
                last_state: last_exit.map(|code| ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: code,
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                }),
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        });
        p
    }

    #[test]
    fn crash_loops_and_pull_errors_are_problems_a_clean_exit_is_not() {
        let p = diagnose(&pod("CrashLoopBackOff", Some(1)), "ns").unwrap();
        assert_eq!(
            (p.component.as_str(), p.reason.as_str()),
            ("backend", "CrashLoopBackOff")
        );
        assert!(
            problem_error(p)
                .to_string()
                .contains("kubectl logs -n ns backend-1 -c backend --previous")
        );
        assert!(diagnose(&pod("CrashLoopBackOff", Some(0)), "ns").is_none());
        let p = diagnose(&pod("ImagePullBackOff", None), "ns").unwrap();
        assert!(
            problem_error(p)
                .to_string()
                .contains("kind load docker-image img:1")
        );
        assert!(diagnose(&pod("ContainerCreating", None), "ns").is_none());
    }
}
