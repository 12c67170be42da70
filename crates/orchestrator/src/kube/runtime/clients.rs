//! How a [`KubeRuntime`] gets its client: one runtime on a kubeconfig context, or one per
//! copy of the stack (`iterations`) sharing one client held to `kube_qps` and `kube_burst`.

use ::kube::Client;
use scenario::Scenario;

use super::{KubeOptions, KubeRuntime};
use crate::kube::connect;
use crate::kube::error::Result;
use crate::kube::ratelimit::RateLimitLayer;

impl KubeRuntime {
    /// A runtime on the cluster of `context` (default: the kubeconfig's current context),
    /// after checking that its API server answers.
    pub async fn connect(context: Option<&str>, scenario: &Scenario, reuse: bool) -> Result<Self> {
        let (client, options) = Self::client_for(context, None, reuse).await?;
        Self::new(client, scenario.clone(), options)
    }

    /// One runtime per scenario (the copies of `iterations`), sharing one client whose
    /// requests keep to the first scenario's `kube_qps` and `kube_burst` all together.
    pub async fn connect_copies(
        context: Option<&str>,
        copies: Vec<Scenario>,
        reuse: bool,
    ) -> Result<Vec<Self>> {
        let limit = copies
            .first()
            .map(|s| RateLimitLayer::new(s.iterations.kube_qps, s.iterations.kube_burst));
        let (client, options) = Self::client_for(context, limit, reuse).await?;
        copies
            .into_iter()
            .map(|s| Self::new(client.clone(), s, options.clone()))
            .collect()
    }

    /// A client of `context` (answering), and the options that go with its cluster.
    async fn client_for(
        context: Option<&str>,
        limit: Option<RateLimitLayer>,
        reuse: bool,
    ) -> Result<(Client, KubeOptions)> {
        let config = connect::config(context).await?;
        let host = config.cluster_url.host().unwrap_or_default().to_owned();
        let client = connect::client_limited(context, limit).await?;
        // kind (and most local clusters) map NodePorts onto the host's loopback.
        let local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]" | "::1");
        let options = KubeOptions {
            reuse,
            run_dir: None,
            node_host: local.then(|| "localhost".to_owned()),
            movable_node_ports: Vec::new(),
        };
        Ok((client, options))
    }
}
