//! NodePorts are cluster-wide: a run left up (the default) keeps 30080 and 30090, and the
//! next run of another uuid would get 422 "provided port is already allocated" half-way
//! through its deploy. So the holder is looked for before anything is applied: a port the
//! scenario left at its default moves to a free one, a port it set is an error naming the
//! holder.

use ::kube::api::ListParams;
use ::kube::{Api, Client, ResourceExt};
use k8s_openapi::api::core::v1::Service;
use scenario::{Scenario, ServiceType};

use super::api::retry;
use super::error::{Error, Result};
use super::labels;

/// The scenario keys of NodePorts.
pub const KEYS: [&str; 3] = [
    "frontend_node_port",
    "prometheus_node_port",
    "grafana_node_port",
];

/// The NodePorts the scenario asks for, with the scenario key of each.
pub fn wanted(s: &Scenario) -> Vec<(&'static str, u16)> {
    let mut out = Vec::new();
    if !super::meta::takes_node_ports(s) {
        return out;
    }
    if s.frontend_service_type == ServiceType::NodePort {
        out.push((KEYS[0], s.frontend_node_port));
    }
    out.push((KEYS[1], s.prometheus_node_port));
    if s.grafana.enabled {
        out.push((KEYS[2], s.grafana.node_port));
    }
    out
}

/// Moves each NodePort held elsewhere whose key is in `movable` (left at its default) to a
/// free port, returning a note per move; fails naming the Service (and its run) that holds a
/// port the scenario set. The run's own namespace does not count (`--reuse` re-applies its
/// own Services).
pub async fn ensure_free(
    client: &Client,
    s: &mut Scenario,
    movable: &[&str],
) -> Result<Vec<String>> {
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
        if svc.namespace().as_deref() == Some(ours.as_str()) {
            continue;
        }
        let ports = svc.spec.as_ref().and_then(|sp| sp.ports.as_ref());
        for p in ports.into_iter().flatten() {
            if let Some(n) = p.node_port.and_then(|n| u16::try_from(n).ok()) {
                taken.push((n, svc));
            }
        }
    }
    let mut notes = Vec::new();
    for (key, port) in wanted(s) {
        let Some((_, holder)) = taken.iter().find(|(n, _)| *n == port) else {
            continue;
        };
        let holder_name = format!(
            "{}/{}",
            holder.namespace().unwrap_or_default(),
            holder.name_any()
        );
        let wanted_now = wanted(s);
        let free = (30000..=32767u16).find(|n| {
            !taken.iter().any(|(t, _)| t == n) && !wanted_now.iter().any(|(_, w)| w == n)
        });
        match free {
            Some(free) if movable.contains(&key) => {
                set(s, key, free);
                notes.push(format!(
                    "{key}: {port} is held by Service {holder_name}; this run uses {free} (set {key} to fix a port)"
                ));
            }
            _ => {
                return Err(Error::NodePortTaken {
                    key,
                    port,
                    holder: holder_name,
                    uuid: holder.labels().get(labels::UUID).cloned(),
                    free,
                });
            }
        }
    }
    Ok(notes)
}

fn set(s: &mut Scenario, key: &str, port: u16) {
    match key {
        k if k == KEYS[0] => s.frontend_node_port = port,
        k if k == KEYS[1] => s.prometheus_node_port = port,
        k if k == KEYS[2] => s.grafana.node_port = port,
        _ => {}
    }
}
