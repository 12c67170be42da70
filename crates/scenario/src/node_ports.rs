//! Checks on the keys that expose the stack on a cluster: NodePorts must differ from each
//! other (a clash fails half-way through a deploy with 422), and `grafana` has no meaning on
//! the local runtime, where docker compose provisions Grafana instead.

use super::Platform;
use super::builder::Builder;
use super::error::{ConfigError, ErrorKind, Problem};
use super::scenario::ServiceType;

impl Builder {
    /// The NodePort keys in use, in the order a clash is blamed on the later one.
    fn node_ports(&self) -> Vec<(&'static str, u16)> {
        let s = &self.scenario;
        let mut out = Vec::new();
        if s.frontend_service_type == ServiceType::NodePort
            && !self.failed.contains("frontend_service_type")
        {
            out.push(("frontend_node_port", s.frontend_node_port));
        }
        out.push(("prometheus_node_port", s.prometheus_node_port));
        if s.grafana.enabled && !self.failed.contains("grafana") {
            out.push(("grafana_node_port", s.grafana.node_port));
        }
        out.retain(|(key, _)| !self.failed.contains(key));
        out
    }

    /// Two NodePort keys with the same port: one problem at the later key, naming both.
    pub(crate) fn node_port_conflicts(&self) -> Vec<ConfigError> {
        let ports = self.node_ports();
        let mut found = Vec::new();
        for (i, (key, port)) in ports.iter().enumerate() {
            let Some((other, _)) = ports[..i].iter().find(|(_, p)| p == port) else {
                continue;
            };
            found.push(
                Problem::new(
                    ErrorKind::Conflict,
                    format!(
                        "the same NodePort as {other} (from {}): two Services cannot both have {port}",
                        self.source(other)
                    ),
                    format!("give {key} and {other} different NodePorts (30000-32767)"),
                )
                .at(key, &port.to_string(), Some(self.source(key))),
            );
        }
        found
    }

    /// `grafana = true` where the run cannot deploy it.
    pub(crate) fn grafana_conflicts(&self) -> Vec<ConfigError> {
        let s = &self.scenario;
        if self.platform != Some(Platform::Local) || !s.grafana.enabled {
            return Vec::new();
        }
        vec![
            Problem::new(
                ErrorKind::Conflict,
                "the local runtime deploys no Grafana: its components run in this process, Grafana cannot",
                "run `docker compose --profile grafana up` for Grafana with the load-demo dashboard beside a local stack, or use --runtime kube; remove grafana = true for a local run",
            )
            .at("grafana", "true", Some(self.source("grafana"))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConfigInputs, Source, resolve};

    fn errors(sets: &[&str], platform: Option<Platform>) -> Vec<ConfigError> {
        let inputs = ConfigInputs {
            sets: sets.iter().map(|s| (*s).to_owned()).collect(),
            platform,
            ..ConfigInputs::default()
        };
        match resolve(&inputs) {
            Ok(_) => Vec::new(),
            Err(e) => e.0,
        }
    }

    #[test]
    fn a_grafana_node_port_clash_names_both_keys() {
        let found = errors(
            &["grafana=true", "grafana_node_port=30090"],
            Some(Platform::Kube),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "grafana_node_port");
        assert_eq!(found[0].kind, ErrorKind::Conflict);
        assert!(
            found[0].problem.contains("prometheus_node_port"),
            "{found:?}"
        );
        assert_eq!(found[0].origin, Some(Source::Flag));
        let found = errors(
            &["grafana=true", "grafana_node_port=30080"],
            Some(Platform::Kube),
        );
        assert!(found[0].problem.contains("frontend_node_port"), "{found:?}");
    }

    #[test]
    fn a_clash_with_grafana_off_or_a_clusterip_frontend_is_none() {
        assert!(errors(&["grafana_node_port=30090"], Some(Platform::Kube)).is_empty());
        assert!(
            errors(
                &[
                    "grafana=true",
                    "grafana_node_port=30080",
                    "frontend_service_type=ClusterIP"
                ],
                Some(Platform::Kube)
            )
            .is_empty()
        );
    }

    #[test]
    fn the_old_frontend_prometheus_clash_still_names_both() {
        let found = errors(&["prometheus_node_port=30080"], None);
        assert_eq!(found[0].key, "prometheus_node_port");
        assert!(found[0].problem.contains("frontend_node_port"));
    }

    #[test]
    fn grafana_on_the_local_runtime_points_at_compose() {
        let found = errors(&["grafana=true"], Some(Platform::Local));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, "grafana");
        assert!(found[0].fix.contains("docker compose --profile grafana"));
        assert!(errors(&["grafana=true"], Some(Platform::Kube)).is_empty());
        assert!(errors(&["grafana=true"], None).is_empty());
    }
}
