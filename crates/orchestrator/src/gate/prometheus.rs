//! Where the gate asks a run's Prometheus its HTTP API: directly where this process reaches
//! it (the local run's), or through the API server's pod proxy on a cluster, as every other
//! reading of the kube runtime goes, so neither a NodePort nor a route to the nodes is needed
//! and every copy of the stack is reached alike.

use std::time::Duration;

use ::kube::Client;
use common::ports;

use crate::kube::metrics::{ProxyFailure, get_through_proxy_within};

/// Bounds every request to Prometheus: the run is over, nothing may hang now.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One Prometheus' HTTP API and the way to it.
#[derive(Clone)]
pub enum PrometheusApi {
    /// A base URL this process reaches: `http://host:port`.
    Url(String),
    /// The Prometheus pod `pod` of `namespace`, through the API server's pod proxy.
    PodProxy {
        client: Client,
        namespace: String,
        pod: String,
    },
}

impl std::fmt::Display for PrometheusApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrometheusApi::Url(base) => write!(f, "Prometheus at {base}"),
            PrometheusApi::PodProxy { namespace, pod, .. } => write!(
                f,
                "Prometheus pod {namespace}/{pod} (through the API server's pod proxy)"
            ),
        }
    }
}

impl PrometheusApi {
    /// GETs `path` (`/api/v1/query`, ...) with `query`: the status and body Prometheus
    /// answered, or why it could not be asked.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<(u16, String), String> {
        match self {
            PrometheusApi::Url(base) => {
                let url = format!("{}{path}", base.trim_end_matches('/'));
                let answer = async {
                    let response = client().get(&url).query(query).send().await?;
                    let code = response.status().as_u16();
                    Ok::<_, reqwest::Error>((code, response.text().await?))
                };
                answer
                    .await
                    .map_err(|e| format!("cannot query {self}: {e}"))
            }
            PrometheusApi::PodProxy {
                client,
                namespace,
                pod,
            } => {
                let route = with_query(path, query);
                let port = ports::PROMETHEUS;
                match get_through_proxy_within(client, namespace, pod, port, &route, QUERY_TIMEOUT)
                    .await
                {
                    Ok(body) => Ok((200, body)),
                    // Prometheus' own refusal (a bad expression) is its answer to read.
                    Err(ProxyFailure::Status(code, body)) if !matches!(code, 502 | 503) => {
                        Ok((code, body))
                    }
                    Err(e) => Err(format!("cannot query {self}: {e}")),
                }
            }
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(QUERY_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// `path?k=v&...`, the values percent-encoded.
fn with_query(path: &str, query: &[(&str, &str)]) -> String {
    let Ok(mut url) = reqwest::Url::parse("http://prometheus") else {
        return path.to_owned();
    };
    url.query_pairs_mut().extend_pairs(query);
    match url.query() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_encoded_after_the_path() {
        assert_eq!(
            with_query(
                "/api/v1/query",
                &[("query", "up{job=\"a b\"} > 0 & x"), ("step", "1")]
            ),
            "/api/v1/query?query=up%7Bjob%3D%22a+b%22%7D+%3E+0+%26+x&step=1"
        );
        assert_eq!(with_query("/api/v1/query", &[]), "/api/v1/query");
    }
}
