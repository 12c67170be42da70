//! The URLs a user opens after a kube deploy: NodePorts on the host kind maps them to, or on
//! a node's address for other clusters.

use ::kube::{Api, Client};
use common::ports;
use k8s_openapi::api::core::v1::Node;
use scenario::{Scenario, ServiceType};

use crate::runtime::Endpoint;

/// Where NodePorts are reachable: `node_host` when known (loopback for kind), else the first
/// node's ExternalIP or InternalIP.
async fn node_host(client: &Client, node_host: Option<&str>) -> String {
    if let Some(h) = node_host {
        return h.to_owned();
    }
    let nodes: Api<Node> = Api::all(client.clone());
    let addresses = nodes
        .list(&Default::default())
        .await
        .ok()
        .into_iter()
        .flat_map(|l| l.items)
        .filter_map(|n| n.status.and_then(|s| s.addresses))
        .flatten()
        .collect::<Vec<_>>();
    addresses
        .iter()
        .find(|a| a.type_ == "ExternalIP")
        .or_else(|| addresses.iter().find(|a| a.type_ == "InternalIP"))
        .map_or_else(|| "<node-address>".to_owned(), |a| a.address.clone())
}

/// Frontend, Prometheus, the in-cluster backend URL, and Grafana when deployed.
pub async fn endpoints(client: &Client, s: &Scenario, host: Option<&str>) -> Vec<Endpoint> {
    let host = node_host(client, host).await;
    let ns = s.namespace();
    let frontend = match s.frontend_service_type {
        ServiceType::NodePort => format!("http://{host}:{}", s.frontend_node_port),
        ServiceType::ClusterIP => format!(
            "http://localhost:{port} (after `kubectl port-forward -n {ns} svc/{} {port}:{port}`)",
            s.frontend.name,
            port = ports::FRONTEND,
        ),
    };
    let mut out = vec![
        Endpoint {
            name: "frontend (web UI)".into(),
            url: frontend,
        },
        Endpoint {
            name: "prometheus".into(),
            url: if crate::kube::meta::takes_node_ports(s) {
                format!("http://{host}:{}", s.prometheus_node_port)
            } else {
                format!(
                    "http://localhost:{port} (after `kubectl port-forward -n {ns} svc/{} {port}:{port}`)",
                    s.prometheus.name,
                    port = ports::PROMETHEUS,
                )
            },
        },
        Endpoint {
            name: "backend (in the cluster)".into(),
            url: format!("http://{}.{ns}.svc:{}", s.backend.name, ports::BACKEND),
        },
    ];
    if s.grafana.enabled {
        out.push(Endpoint {
            name: "grafana (load-demo dashboard)".into(),
            url: format!("http://{host}:{}/d/load-demo", s.grafana.node_port),
        });
    }
    out
}
