//! The namespace's Warning events: what the cluster complained about during the run.

use ::kube::api::ListParams;
use ::kube::{Api, Client};
use k8s_openapi::api::core::v1::Event;
use serde::{Deserialize, Serialize};

use super::api::retry;
use super::error::Result;

/// One Warning event, as `kubectl get events` would show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// `Kind/name` of the object it is about.
    pub object: String,
    pub reason: String,
    pub message: String,
    pub count: i32,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {} (×{})",
            self.object, self.reason, self.message, self.count
        )
    }
}

/// Every Warning event of `namespace`.
pub async fn warnings(client: &Client, namespace: &str) -> Result<Vec<Warning>> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let lp = ListParams::default().fields("type=Warning");
    let list = retry("listing Warning events", namespace, || api.list(&lp)).await?;
    Ok(list
        .items
        .into_iter()
        .map(|e| Warning {
            object: format!(
                "{}/{}",
                e.involved_object.kind.unwrap_or_default(),
                e.involved_object.name.unwrap_or_default()
            ),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            count: e.count.unwrap_or(1),
        })
        .collect())
}

/// The warnings about a workload's own objects, its owners' first: the workload, its
/// ReplicaSets (`<name>-<hash>`) and its pods. A pod that was never created (Pod Security,
/// a missing ServiceAccount, a quota) shows only as FailedCreate on its owner.
pub fn about<'a>(warnings: &'a [Warning], kind: &str, name: &str) -> Vec<&'a Warning> {
    let prefix = format!("{name}-");
    let mut found: Vec<&Warning> = warnings
        .iter()
        .filter(|w| {
            let (k, n) = w.object.split_once('/').unwrap_or(("", &w.object));
            (k == kind && n == name)
                || (matches!(k, "ReplicaSet" | "Pod" | "Job") && n.starts_with(&prefix))
        })
        .collect();
    found.sort_by_key(|w| w.object.starts_with("Pod/"));
    found
}
