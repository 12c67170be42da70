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
