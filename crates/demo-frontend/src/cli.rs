//! Command-line flags of the frontend and their validation into a [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use common::HumanDuration;
use common::tls::{self, Trust};

use crate::{AutoscalerSource, Config, Error, HpaRef, ReplicaSource, Result};

/// Live web UI for the demo backend.
#[derive(Debug, Parser)]
#[command(name = "demo-frontend", version)]
pub struct Opts {
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Backend Service URL the three action routes are proxied to.
    #[arg(long, env = "BACKEND_URL")]
    pub backend_url: String,
    /// Comma-separated replica URLs whose /api/stats are polled.
    #[arg(long, env = "BACKEND_REPLICAS", conflicts_with = "backend_headless")]
    pub backend_replicas: Option<String>,
    /// host:port of a headless Service whose DNS A records are the replicas.
    #[arg(long, env = "BACKEND_HEADLESS")]
    pub backend_headless: Option<String>,
    /// Base URL of the load generator's /metrics.
    #[arg(long, env = "LOADGEN_URL")]
    pub loadgen_url: Option<String>,
    /// Base URL serving the autoscaler's latest decision (GET /api/autoscaler); the
    /// orchestrator's local runtime sets it when the run has an autoscaler.
    #[arg(long, env = "AUTOSCALER_URL")]
    pub autoscaler_url: Option<String>,
    /// NAMESPACE/NAME of the HorizontalPodAutoscaler to show, read through the API server
    /// with the pod's ServiceAccount (needs get on horizontalpodautoscalers); the
    /// orchestrator's kube runtime sets it when the run has an autoscaler.
    #[arg(long, env = "AUTOSCALER_HPA")]
    pub autoscaler_hpa: Option<String>,
    /// How often every replica is polled.
    #[arg(long, env = "POLL_INTERVAL", default_value = "1s")]
    pub poll_interval: HumanDuration,
    /// Longest a proxied action may wait for the backend before answering 504.
    #[arg(long, env = "PROXY_TIMEOUT", default_value = "10s")]
    pub proxy_timeout: HumanDuration,
    /// https URLs: trust the CA certificates of this PEM file instead of the system's
    /// roots. Repeatable.
    #[arg(long = "cacert", env = "CACERT", value_delimiter = ',')]
    pub cacert: Vec<PathBuf>,
    /// https URLs: verify no certificate (any issuer, any host name).
    #[arg(long, env = "INSECURE")]
    pub insecure: bool,
}

impl Opts {
    /// Validates the flags; errors name the flag and how to fix it.
    pub fn into_config(self) -> Result<Config> {
        let backend_url = check_url("--backend-url", &self.backend_url)?;
        let replicas = match (self.backend_replicas, self.backend_headless) {
            (Some(list), None) => {
                let urls = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|u| check_url("--backend-replicas", u))
                    .collect::<Result<Vec<_>>>()?;
                if urls.is_empty() {
                    return Err(Error::Flag("--backend-replicas is empty: give comma-separated URLs such as http://10.0.0.1:8080".into()));
                }
                ReplicaSource::Static(urls)
            }
            (None, Some(host)) => {
                if !host.contains(':') {
                    return Err(Error::Flag(format!(
                        "--backend-headless {host:?} needs host:port, e.g. backend-headless:8080"
                    )));
                }
                ReplicaSource::Headless(host)
            }
            (None, None) => ReplicaSource::Static(vec![backend_url.clone()]),
            (Some(_), Some(_)) => {
                return Err(Error::Flag(
                    "give either --backend-replicas or --backend-headless, not both".into(),
                ));
            }
        };
        let loadgen_url = self
            .loadgen_url
            .map(|u| check_url("--loadgen-url", &u))
            .transpose()?;
        let autoscaler = match (self.autoscaler_url, self.autoscaler_hpa) {
            (Some(u), None) => Some(AutoscalerSource::Url(check_url("--autoscaler-url", &u)?)),
            (None, Some(h)) => Some(AutoscalerSource::Hpa(HpaRef::parse(&h)?)),
            (None, None) => None,
            (Some(_), Some(_)) => {
                return Err(Error::Flag(
                    "give either --autoscaler-url (local runtime) or --autoscaler-hpa \
                     (an HPA on the cluster), not both"
                        .into(),
                ));
            }
        };
        if self.poll_interval.0.is_zero() {
            return Err(Error::Flag(
                "--poll-interval must be above zero, e.g. 1s".into(),
            ));
        }
        if self.proxy_timeout.0.is_zero() {
            return Err(Error::Flag(
                "--proxy-timeout must be above zero, e.g. 10s".into(),
            ));
        }
        let trust = Trust::from_flags(self.cacert, self.insecure)
            .map_err(|e| Error::Flag(e.to_string()))?;
        if let Trust::CaFiles(files) = &trust {
            for path in files {
                tls::read_certificates(path).map_err(|e| Error::Flag(e.to_string()))?;
            }
        }
        let config = Config {
            listen: self.listen,
            backend_url,
            replicas,
            loadgen_url,
            autoscaler,
            poll_interval: self.poll_interval.0,
            proxy_timeout: self.proxy_timeout.0,
            trust,
        };
        if config.trust != Trust::System && !config.uses_tls() {
            return Err(Error::Flag(
                "--cacert and --insecure apply to https:// URLs; every URL given is http://".into(),
            ));
        }
        Ok(config)
    }
}

fn check_url(flag: &str, url: &str) -> Result<String> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    if rest.is_none_or(str::is_empty) {
        return Err(Error::Flag(format!(
            "{flag} {url:?} is not an http:// or https:// URL, e.g. http://127.0.0.1:8080"
        )));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config> {
        let mut argv = vec!["demo-frontend"];
        argv.extend_from_slice(args);
        Opts::try_parse_from(argv)
            .expect("flags parse")
            .into_config()
    }

    #[test]
    fn replicas_default_to_the_backend_url() {
        let c = parse(&["--backend-url", "http://127.0.0.1:9/"]).unwrap();
        assert_eq!(c.backend_url, "http://127.0.0.1:9");
        assert!(matches!(c.replicas, ReplicaSource::Static(ref v) if v == &["http://127.0.0.1:9"]));
    }

    #[test]
    fn bad_urls_name_their_flag() {
        let e = parse(&[
            "--backend-url",
            "http://a:1",
            "--backend-replicas",
            "http://b:1,ftp://c",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("--backend-replicas"), "{e}");
        assert!(parse(&["--backend-url", "https://backend:8443"]).is_ok());
        let e = parse(&["--backend-url", "http://a:1", "--insecure"]).unwrap_err();
        assert!(e.to_string().contains("apply to https://"), "{e}");
        let e = parse(&[
            "--backend-url",
            "https://a:1",
            "--cacert",
            "/nonexistent.pem",
        ])
        .unwrap_err();
        assert!(e.to_string().contains("--cacert /nonexistent.pem"), "{e}");
        let e = parse(&["--backend-url", "localhost:8080"]).unwrap_err();
        assert!(e.to_string().contains("--backend-url"), "{e}");
        let e = parse(&["--backend-url", "http://a:1", "--backend-headless", "svc"]).unwrap_err();
        assert!(e.to_string().contains("host:port"), "{e}");
    }

    #[test]
    fn the_autoscaler_is_a_url_or_an_hpa_never_both() {
        let base = ["--backend-url", "http://a:1"];
        let c =
            parse(&[&base[..], &["--autoscaler-hpa", "load-demo-r1/backend"]].concat()).unwrap();
        assert!(matches!(c.autoscaler, Some(AutoscalerSource::Hpa(ref h))
            if h.namespace == "load-demo-r1" && h.name == "backend" && h.api_server.is_none()));
        let c = parse(&[&base[..], &["--autoscaler-url", "http://o:9/"]].concat()).unwrap();
        assert!(matches!(c.autoscaler, Some(AutoscalerSource::Url(ref u)) if u == "http://o:9"));
        let both = [
            &base[..],
            &[
                "--autoscaler-url",
                "http://o:9",
                "--autoscaler-hpa",
                "ns/backend",
            ],
        ]
        .concat();
        let e = parse(&both).unwrap_err().to_string();
        assert!(
            e.contains("not both") && e.contains("--autoscaler-hpa"),
            "{e}"
        );
        for bad in [
            "backend",
            "ns/",
            "/backend",
            "ns/a/b",
            "NS/Backend",
            "ns/back_end",
        ] {
            let e = parse(&[&base[..], &["--autoscaler-hpa", bad]].concat()).unwrap_err();
            assert!(e.to_string().contains("NAMESPACE/NAME"), "{bad}: {e}");
        }
    }

    #[test]
    fn zero_poll_interval_is_refused() {
        let e = parse(&["--backend-url", "http://a:1", "--poll-interval", "0s"]).unwrap_err();
        assert!(e.to_string().contains("--poll-interval"), "{e}");
    }
}
