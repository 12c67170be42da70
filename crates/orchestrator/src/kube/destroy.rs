//! `orchestrator destroy --uuid ID`: removes everything labelled with a run's uuid, in every
//! namespace, and waits until it is gone.

use std::time::Duration;

use ::kube::{Api, Client, ResourceExt};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

use super::api::{delete_matching, delete_namespace, list};
use super::error::{Error, Result};
use super::meta;
use super::wait::{WaitError, until_gone};

/// What `destroy` removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Destroyed {
    /// `Kind namespace/name` (or `Namespace name`) of every object deleted.
    pub deleted: Vec<String>,
}

/// Deletes the namespaces and every object labelled `load-demo.io/uuid=<uuid>` cluster-wide
/// (cluster-scoped ones too: the cAdvisor ClusterRole and its binding), then waits (at most `timeout`) until the namespaces and the pods are gone.
pub async fn destroy(client: &Client, uuid: &str, timeout: Duration) -> Result<Destroyed> {
    let selector = meta::uuid_selector(uuid)?;
    let scope = "every namespace";
    let mut out = Destroyed::default();

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let doomed: Vec<String> = list(&namespaces, &selector, scope)
        .await?
        .iter()
        .map(|n| n.name_any())
        .collect();
    for ns in &doomed {
        delete_namespace(&namespaces, ns).await?;
        out.deleted.push(format!("Namespace {ns}"));
    }
    // Objects of the run outside its namespaces (e.g. applied by hand elsewhere); those
    // inside go with their namespace.
    macro_rules! sweep {
        ($($kind:ty),*) => {$(
            let api: Api<$kind> = Api::all(client.clone());
            let outside: Vec<String> = delete_matching(&api, &selector, scope, &doomed).await?;
            out.deleted.extend(outside);
        )*};
    }
    sweep!(
        Deployment,
        DaemonSet,
        Job,
        Service,
        ConfigMap,
        ServiceAccount,
        Role,
        RoleBinding,
        Pod
    );
    out.deleted
        .extend(super::api::delete_cluster_objects(client, &selector).await?);

    let left = |what: &str, e: (WaitError, Vec<String>)| match e.0 {
        WaitError::Failed(err) => err,
        WaitError::TimedOut => Error::Timeout {
            what: format!("removing {what} of run {uuid}"),
            after: timeout,
            detail: format!("; still there: {}", e.1.join(", ")),
        },
    };
    until_gone(namespaces, &selector, timeout)
        .await
        .map_err(|e| left("the namespaces", e))?;
    until_gone(Api::<Pod>::all(client.clone()), &selector, timeout)
        .await
        .map_err(|e| left("the pods", e))?;
    Ok(out)
}
