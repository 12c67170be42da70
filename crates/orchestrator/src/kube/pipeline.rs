//! The pipeline's Redis on a cluster. The orchestrator reaches pods only through the API
//! server's pod proxy, which carries HTTP and not Redis' protocol, so Redis is read through a
//! worker: every worker serves the same atomic reading on `/api/pipeline` that the local
//! runtime takes from Redis itself (`demo_backend::read_pipeline`). One worker is asked, the
//! first running, ready one by name, so the sampler's rounds and the end's reading go to the
//! same pod while it lives.

use ::kube::api::DeleteParams;
use ::kube::{Api, Client};
use common::api::routes;
use common::ports;
use k8s_openapi::api::core::v1::Pod;

use super::error::Error;
use super::meta::Job;
use super::metrics::{ProxyFailure, get_through_proxy};
use super::pods::{PodInfo, PodView, first_serving};
use crate::pipeline::probe::Reading;
use crate::pipeline::report::Unread;
use crate::runtime::RuntimeError;

/// The worker pod Redis is read through; `None` when none serves.
fn reader(pods: &[PodInfo]) -> Option<&PodInfo> {
    first_serving(pods, Job::WORKER)
}

/// The pipeline reading as the worker serves it (Prometheus text), or why there is none;
/// `None` when the run has no worker pod at all (not deployed yet, or not a pipeline run).
pub async fn page(
    client: &Client,
    namespace: &str,
    pods: &[PodInfo],
) -> Option<Result<String, String>> {
    fetch(client, namespace, pods).await.map(|r| {
        r.map_err(|u| match u {
            Unread::Gap(why) | Unread::Unreachable(why) => why,
        })
    })
}

/// A reading through a worker, for the end of the run. No worker to ask, or one whose image
/// has no such route, is a gap; a worker that could not read Redis, or could not be reached,
/// leaves Redis unreachable.
pub async fn read(client: &Client, namespace: &str, pods: &[PodInfo]) -> Result<Reading, Unread> {
    let text = fetch(client, namespace, pods).await.unwrap_or_else(|| {
        Err(Unread::Gap(
            "the run has no worker pod to read Redis through".to_owned(),
        ))
    })?;
    Reading::from_page(&text).ok_or_else(|| {
        Unread::Gap(format!(
            "the worker's {} is not a pipeline reading: {}",
            routes::PIPELINE,
            text.chars().take(200).collect::<String>()
        ))
    })
}

async fn fetch(
    client: &Client,
    namespace: &str,
    pods: &[PodInfo],
) -> Option<Result<String, Unread>> {
    if !pods.iter().any(|p| p.job == Some(Job::WORKER)) {
        return None;
    }
    let Some(pod) = reader(pods) else {
        return Some(Err(Unread::Unreachable(
            "no worker pod is ready to read Redis through (the workers serve the pipeline's reading)"
                .to_owned(),
        )));
    };
    let page = get_through_proxy(
        client,
        namespace,
        &pod.name,
        ports::WORKER,
        routes::PIPELINE,
    )
    .await
    .map_err(|e| explain(&pod.name, e));
    Some(page)
}

/// `kill_worker_at` on a cluster: the first serving worker pod deleted with no grace period,
/// as a crash or a lost node ends it (no drain: what it held stays pending under its name).
pub async fn kill_worker(
    client: Client,
    namespace: String,
    view: PodView,
) -> Result<String, RuntimeError> {
    let pods = view.pods();
    let pod = reader(&pods)
        .ok_or_else(|| {
            RuntimeError::Other("kill_worker_at: no running worker pod to kill".to_owned())
        })?
        .name
        .clone();
    let now = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    Api::<Pod>::namespaced(client, &namespace)
        .delete(&pod, &now)
        .await
        .map_err(|e| Error::api(format!("deleting worker pod {pod}"), &namespace, e))?;
    Ok(format!(
        "deleted worker pod {pod} with no grace period, as a crash or a lost node would: its Deployment starts another, whose consumer name is new, and the orders {pod} held are taken over by the workers once idle for their --claim-idle (30s)"
    ))
}

fn explain(pod: &str, failure: ProxyFailure) -> Unread {
    match failure {
        ProxyFailure::Status(404, _) => Unread::Gap(format!(
            "worker pod {pod} does not serve {} (HTTP 404): its image predates the route; rebuild and load the images (docker compose build, then kind load)",
            routes::PIPELINE
        )),
        // The worker answers 503 when Redis itself failed: its message names Redis.
        ProxyFailure::Status(503, message) => Unread::Unreachable(format!(
            "reading Redis through worker pod {pod}: {}",
            message.trim()
        )),
        other => Unread::Unreachable(format!("reading Redis through worker pod {pod}: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, job: Job, ready: bool, terminating: bool) -> PodInfo {
        PodInfo {
            name: name.to_owned(),
            job: Some(job),
            plan: None,
            ip: Some("10.0.0.1".to_owned()),
            node: None,
            ready,
            phase: "Running".to_owned(),
            terminating,
            problem: None,
            status: String::new(),
        }
    }

    #[test]
    fn the_reader_is_the_first_serving_worker_by_name() {
        let pods = [
            pod("backend-a", Job::BACKEND, true, false),
            pod("worker-c", Job::WORKER, true, false),
            pod("worker-a", Job::WORKER, true, true),
            pod("worker-b", Job::WORKER, false, false),
            pod("worker-d", Job::WORKER, true, false),
        ];
        assert_eq!(reader(&pods).map(|p| p.name.as_str()), Some("worker-c"));
        assert!(reader(&pods[..2]).is_some());
        assert!(reader(&pods[2..4]).is_none());
    }

    #[test]
    fn an_old_image_is_named_with_the_fix() {
        let Unread::Gap(e) = explain("worker-x", ProxyFailure::Status(404, "not found".into()))
        else {
            panic!("an old image is a gap, not Redis down");
        };
        assert!(
            e.contains("worker-x") && e.contains("/api/pipeline") && e.contains("rebuild"),
            "{e}"
        );
        let down = explain(
            "worker-x",
            ProxyFailure::Status(503, "Redis failed: refused".into()),
        );
        assert!(matches!(down, Unread::Unreachable(e) if e.contains("Redis failed")));
    }
}
