//! Where the autoscaler card's status comes from: the orchestrator's local runtime over HTTP
//! (`--autoscaler-url`), or on a cluster the HorizontalPodAutoscaler itself, read through the
//! API server (`--autoscaler-hpa`). Both end as one `Result<AutoscalerStatus, String>` per
//! poll, so the aggregation has one path whatever the source.

use std::time::Duration;

use common::HumanDuration;
use common::api::{AutoscalerStatus, routes};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use kube::Api;

use crate::{Error, Result};

/// The autoscaler source the flags name.
#[derive(Clone, Debug)]
pub enum AutoscalerSource {
    /// Base URL answering `GET /api/autoscaler` (the orchestrator's local runtime).
    Url(String),
    /// An `autoscaling/v2` HPA read through the API server.
    Hpa(HpaRef),
}

/// `NAMESPACE/NAME` of an HPA, and how to reach its API server.
#[derive(Clone, Debug)]
pub struct HpaRef {
    pub namespace: String,
    pub name: String,
    /// `None`: the pod's ServiceAccount (or the kubeconfig), as `kube::Client::try_default`
    /// finds them; tests give a fake API server's URL.
    pub api_server: Option<Box<kube::Config>>,
}

impl HpaRef {
    /// Parses `--autoscaler-hpa NAMESPACE/NAME`; both parts are Kubernetes names.
    pub fn parse(flag: &str) -> Result<Self> {
        let dns = |s: &str| {
            !s.is_empty()
                && s.len() <= 253
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        match flag.trim().split_once('/') {
            Some((ns, name)) if dns(ns) && dns(name) => Ok(Self {
                namespace: ns.to_owned(),
                name: name.to_owned(),
                api_server: None,
            }),
            _ => Err(Error::Flag(format!(
                "--autoscaler-hpa {flag:?} is not NAMESPACE/NAME of a HorizontalPodAutoscaler \
                 (lower-case letters, digits, '-' and '.'), e.g. load-demo-abc123/backend"
            ))),
        }
    }
}

impl AutoscalerSource {
    /// Where the status is read, for the page's messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Url(url) => url.clone(),
            Self::Hpa(h) => format!("HorizontalPodAutoscaler {}/{}", h.namespace, h.name),
        }
    }
}

/// A source ready to be read: the HTTP URL, or a client of the API server.
#[derive(Clone)]
pub enum Reader {
    Url(String),
    Hpa {
        api: Box<Api<HorizontalPodAutoscaler>>,
        name: String,
        describe: String,
    },
}

impl Reader {
    /// Makes the API client of an HPA source (reading the ServiceAccount's token and CA).
    pub async fn connect(source: &AutoscalerSource) -> Result<Self> {
        let h = match source {
            AutoscalerSource::Url(url) => return Ok(Self::Url(url.clone())),
            AutoscalerSource::Hpa(h) => h,
        };
        let client = match &h.api_server {
            Some(config) => kube::Client::try_from(config.as_ref().clone()),
            None => kube::Client::try_default().await,
        }
        .map_err(|e| Error::Kube(source.describe(), e))?;
        Ok(Self::Hpa {
            api: Box::new(Api::namespaced(client, &h.namespace)),
            name: h.name.clone(),
            describe: source.describe(),
        })
    }

    /// The autoscaler's status now, or why it cannot be read.
    pub async fn read(
        &self,
        client: &reqwest::Client,
        timeout: Duration,
    ) -> Result<AutoscalerStatus, String> {
        match self {
            Self::Url(url) => fetch(client, url, timeout).await,
            Self::Hpa {
                api,
                name,
                describe,
            } => {
                let hpa = tokio::time::timeout(timeout, api.get(name))
                    .await
                    .map_err(|_| format!("no answer within {}", HumanDuration(timeout)))?
                    .map_err(|e| api_error(&e, describe))?;
                crate::hpa_status::status(&hpa)
            }
        }
    }
}

/// `GET <url>/api/autoscaler`: the local autoscaler's latest decision.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<AutoscalerStatus, String> {
    let body = crate::poll::get(client, &format!("{url}{}", routes::AUTOSCALER), timeout).await?;
    serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{} did not answer the expected JSON: {e}",
            routes::AUTOSCALER
        )
    })
}

/// The API server's refusal in words a reader can act on.
fn api_error(e: &kube::Error, what: &str) -> String {
    match e {
        kube::Error::Api(s) if s.code == 404 => format!("{what} not found (yet): {}", s.message),
        kube::Error::Api(s) if s.code == 403 => format!(
            "the API server forbids reading {what} ({}): the frontend's ServiceAccount needs a \
             Role allowing get on horizontalpodautoscalers",
            s.message
        ),
        kube::Error::Api(s) => format!("HTTP {} reading {what}: {}", s.code, s.message),
        other => format!("cannot read {what}: {other}"),
    }
}
