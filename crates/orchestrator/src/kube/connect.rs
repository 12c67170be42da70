//! A client for the cluster of a kubeconfig context, checked by asking the API server its
//! version, so "no cluster" is said once, clearly, before anything else happens.

use std::time::Duration;

use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};

use super::error::{Error, Result};

/// How long the API server may take to say its version.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// `e` and its sources, `: `-separated.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = inner.source();
    }
    s
}

/// Loads the kubeconfig (`$KUBECONFIG` or `~/.kube/config`, or the in-cluster service
/// account when there is none) for `context` (default: the current context).
pub async fn config(context: Option<&str>) -> Result<Config> {
    match context {
        Some(ctx) => {
            let options = KubeConfigOptions {
                context: Some(ctx.to_owned()),
                ..KubeConfigOptions::default()
            };
            Config::from_kubeconfig(&options).await.map_err(|e| {
                let known = Kubeconfig::read()
                    .map(|k| {
                        k.contexts
                            .iter()
                            .map(|c| c.name.clone())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default();
                Error::NoCluster {
                    reason: format!(
                        "cannot use kubeconfig context {ctx:?}: {}{}",
                        chain(&e),
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!(" (contexts in the kubeconfig: {known})")
                        }
                    ),
                }
            })
        }
        None => Config::infer().await.map_err(|e| Error::NoCluster {
            reason: format!("cannot load a kubeconfig: {}", chain(&e)),
        }),
    }
}

/// A client for `context`, after the API server answered.
pub async fn client(context: Option<&str>) -> Result<Client> {
    client_limited(context, None).await
}

/// [`client`], its requests bounded by `limit` when given (`kube_qps`, `kube_burst`).
pub async fn client_limited(
    context: Option<&str>,
    limit: Option<super::ratelimit::RateLimitLayer>,
) -> Result<Client> {
    let config = config(context).await?;
    let url = config.cluster_url.to_string();
    let cannot = |e: ::kube::Error| Error::NoCluster {
        reason: format!("cannot build a client for {url}: {}", chain(&e)),
    };
    let client = match limit {
        None => Client::try_from(config).map_err(cannot)?,
        Some(layer) => ::kube::client::ClientBuilder::try_from(config)
            .map_err(cannot)?
            .with_layer(&layer)
            .build(),
    };
    match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => Ok(client),
        Ok(Err(e)) => Err(Error::NoCluster {
            reason: format!("the API server at {url} did not answer: {}", chain(&e)),
        }),
        Err(_) => Err(Error::NoCluster {
            reason: format!("the API server at {url} did not answer within {PROBE_TIMEOUT:?}"),
        }),
    }
}
