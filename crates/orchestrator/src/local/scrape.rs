//! The local runtime's [`MetricsSource`]: GET every target's `/metrics` over loopback.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use crate::pipeline::probe::Probe;
use crate::resources::local::LocalResources;
use crate::runtime::{ComponentKind, MetricsSource, Scrape, ScrapeRound};

/// Per-request bound: a round must fit in the one-second sampling interval.
const SCRAPE_TIMEOUT: Duration = Duration::from_millis(800);

/// One scrape target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub component: ComponentKind,
    pub instance: String,
    /// The load plan of a load generator.
    pub plan: Option<String>,
    pub url: String,
}

/// Shared, cloneable view of what to scrape; the runtime adds and removes targets.
#[derive(Debug, Clone)]
pub struct LocalMetrics {
    client: reqwest::Client,
    pub targets: Arc<RwLock<Vec<Target>>>,
    pub ready: watch::Receiver<Vec<SocketAddr>>,
    pub desired: Arc<AtomicU32>,
    /// The autoscaler's latest decision, for the live UI.
    pub autoscaler: crate::resources::export::SharedAutoscaler,
    /// CPU and memory per replica (per-thread CPU from /proc).
    pub resources: LocalResources,
    /// The pipeline's Redis, read as one more target of each round.
    redis: Arc<RwLock<Option<Probe>>>,
}

impl LocalMetrics {
    pub fn new(ready: watch::Receiver<Vec<SocketAddr>>) -> Self {
        let client = reqwest::Client::builder()
            .timeout(SCRAPE_TIMEOUT)
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            client,
            targets: Arc::default(),
            ready,
            desired: Arc::default(),
            autoscaler: Arc::default(),
            resources: LocalResources::new(),
            redis: Arc::default(),
        }
    }

    /// Reads `probe`'s Redis in every round from now on (target `redis`).
    pub fn set_redis(&self, probe: Probe) {
        if let Ok(mut r) = self.redis.write() {
            *r = Some(probe);
        }
    }

    pub fn clear_redis(&self) {
        if let Ok(mut r) = self.redis.write() {
            *r = None;
        }
    }

    pub fn redis_probe(&self) -> Option<Probe> {
        self.redis.read().ok().and_then(|r| r.clone())
    }

    pub fn set(&self, target: Target) {
        if let Ok(mut t) = self.targets.write() {
            t.retain(|x| x.instance != target.instance);
            t.push(target);
        }
    }

    /// Stops scraping and measuring `instance`.
    pub fn remove(&self, instance: &str) {
        self.resources.unregister(instance);
        if let Ok(mut t) = self.targets.write() {
            t.retain(|x| x.instance != instance);
        }
    }
}

async fn get(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = client.get(url).send().await.map_err(|e| {
        if e.is_timeout() {
            format!("no answer within {SCRAPE_TIMEOUT:?}")
        } else {
            format!("cannot reach {url}: {e}")
        }
    })?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    resp.text().await.map_err(|e| format!("reading {url}: {e}"))
}

impl MetricsSource for LocalMetrics {
    async fn scrape(&self) -> ScrapeRound {
        let targets = self.targets.read().map(|t| t.clone()).unwrap_or_default();
        let redis = self.redis_probe().map(|probe| async move {
            Scrape {
                component: ComponentKind::Redis,
                instance: ComponentKind::Redis.as_str().to_owned(),
                plan: None,
                result: probe.read().await.map(|r| r.page()),
            }
        });
        let pages = futures::future::join_all(targets.into_iter().map(|t| {
            let client = self.client.clone();
            async move {
                let result = get(&client, &t.url).await;
                Scrape {
                    component: t.component,
                    instance: t.instance,
                    plan: t.plan,
                    result,
                }
            }
        }));
        let (mut scrapes, redis) =
            futures::future::join(pages, futures::future::OptionFuture::from(redis)).await;
        scrapes.extend(redis);
        // /proc reads are file reads: off the runtime's workers.
        let resources = self.resources.clone();
        let resources = tokio::task::spawn_blocking(move || resources.read())
            .await
            .unwrap_or_default();
        ScrapeRound {
            resources,
            targets: scrapes,
            backend_ready: u32::try_from(self.ready.borrow().len()).unwrap_or(u32::MAX),
            backend_desired: self.desired.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A minimal HTTP server answering every request with `body`.
    async fn serve(body: &'static str) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_round_has_every_page_and_names_the_unreachable() {
        let up = serve("lg_sent_requests_total 3\n").await;
        let dead = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        let (_tx, rx) = watch::channel(vec![up]);
        let m = LocalMetrics::new(rx);
        m.desired.store(2, Ordering::Relaxed);
        m.set(Target {
            component: ComponentKind::Loadgen,
            instance: "loadgen".into(),
            plan: Some("main".into()),
            url: format!("http://{up}/metrics"),
        });
        m.set(Target {
            component: ComponentKind::Backend,
            instance: "backend-0".into(),
            plan: None,
            url: format!("http://{dead}/metrics"),
        });
        let round = m.scrape().await;
        assert_eq!((round.backend_ready, round.backend_desired), (1, 2));
        let by = |i: &str| {
            round
                .targets
                .iter()
                .find(|t| t.instance == i)
                .unwrap()
                .result
                .clone()
        };
        assert_eq!(by("loadgen").unwrap(), "lg_sent_requests_total 3\n");
        let err = by("backend-0").unwrap_err();
        assert!(err.contains(&dead.to_string()), "{err}");
        m.remove("backend-0");
        assert_eq!(m.scrape().await.targets.len(), 1);
    }
}
