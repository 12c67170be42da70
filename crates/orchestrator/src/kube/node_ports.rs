//! NodePorts are cluster-wide: a run left up (the default) keeps 30080 and 30090, and the
//! next run of another uuid would get 422 "provided port is already allocated" half-way
//! through its deploy. So the holder is looked for before anything is applied.

use ::kube::api::ListParams;
use ::kube::{Api, Client, ResourceExt};
use k8s_openapi::api::core::v1::Service;
use scenario::{Scenario, ServiceType};

use super::api::retry;
use super::error::{Error, Result};
use super::labels;

/// The NodePorts the scenario asks for, with the scenario key of each.
pub fn wanted(s: &Scenario) -> Vec<(&'static str, u16)> {
    let mut out = Vec::new();
    if s.frontend_service_type == ServiceType::NodePort {
        out.push(("frontend_node_port", s.frontend_node_port));
    }
    out.push(("prometheus_node_port", s.prometheus_node_port));
    out
}

/// Fails naming the Service (and its run) that holds a NodePort the scenario wants; the
/// run's own namespace does not count (`--reuse` re-applies its own Services).
pub async fn ensure_free(client: &Client, s: &Scenario) -> Result<()> {
    let api: Api<Service> = Api::all(client.clone());
    let lp = ListParams::default();
    let services = retry(
        "listing Services (NodePorts in use)",
        "every namespace",
        || api.list(&lp),
    )
    .await?
    .items;
    let ours = s.namespace();
    let mut taken: Vec<(u16, &Service)> = Vec::new();
    for svc in &services {
        let ports = svc.spec.as_ref().and_then(|sp| sp.ports.as_ref());
        for p in ports.into_iter().flatten() {
            if let Some(n) = p.node_port.and_then(|n| u16::try_from(n).ok()) {
                taken.push((n, svc));
            }
        }
    }
    for (key, port) in wanted(s) {
        let Some((_, holder)) = taken
            .iter()
            .find(|(n, svc)| *n == port && svc.namespace().as_deref() != Some(ours.as_str()))
        else {
            continue;
        };
        let free = (30000..=32767u16)
            .find(|n| !taken.iter().any(|(t, _)| t == n) && !wanted(s).iter().any(|(_, w)| w == n));
        return Err(Error::NodePortTaken {
            key,
            port,
            holder: format!(
                "{}/{}",
                holder.namespace().unwrap_or_default(),
                holder.name_any()
            ),
            uuid: holder.labels().get(labels::UUID).cloned(),
            free,
        });
    }
    Ok(())
}
