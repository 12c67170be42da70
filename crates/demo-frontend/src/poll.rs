//! The poll loop: every interval, list the replicas, fetch each one's `/api/stats` (and the
//! load generator's `/metrics`) concurrently with a timeout, aggregate, and publish.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::api::{StatsResponse, routes};
use futures::future::join_all;

use common::HumanDuration;

use crate::aggregate::{Aggregator, Facts, Observation};
use crate::autoscaler::Reader;
use crate::server::AppState;
use crate::{Config, ReplicaSource};
use common::loadgen_page::LoadgenPage;

/// How long a replica that left a headless Service's DNS stays on the page as down.
pub const HEADLESS_LINGER: Duration = Duration::from_secs(30);
/// The longest any single poll request may take, however long the interval.
const MAX_POLL_TIMEOUT: Duration = Duration::from_secs(5);
/// A stats or metrics body larger than this is refused rather than parsed.
const MAX_BODY: usize = 4 << 20;

/// What the poll loop needs from the configuration.
#[derive(Clone)]
pub struct PollConfig {
    pub source: ReplicaSource,
    pub loadgen_url: Option<String>,
    /// The autoscaler's source, connected (see [`Reader::connect`]).
    pub autoscaler: Option<Reader>,
    pub interval: Duration,
    /// Per-request timeout, below the interval so one slow replica never delays the next poll.
    pub timeout: Duration,
    pub facts: Facts,
}

impl PollConfig {
    pub fn from_config(config: &Config, autoscaler: Option<Reader>) -> Self {
        Self {
            source: config.replicas.clone(),
            loadgen_url: config.loadgen_url.clone(),
            autoscaler,
            interval: config.poll_interval,
            timeout: (config.poll_interval * 3 / 4).min(MAX_POLL_TIMEOUT),
            facts: facts(config),
        }
    }
}

/// The fixed facts of the summary for `config`.
pub fn facts(config: &Config) -> Facts {
    let (source, linger) = match &config.replicas {
        ReplicaSource::Static(urls) if urls.len() == 1 => {
            ("the replica list (1 URL)".into(), Duration::ZERO)
        }
        ReplicaSource::Static(urls) => (
            format!("the replica list ({} URLs)", urls.len()),
            Duration::ZERO,
        ),
        ReplicaSource::Headless(host) => (format!("DNS of {host}"), HEADLESS_LINGER),
        ReplicaSource::Watch(_) => ("the orchestrator's replica list".into(), Duration::ZERO),
    };
    Facts {
        backend_url: config.backend_url.clone(),
        source,
        loadgen_url: config.loadgen_url.clone(),
        autoscaler: config
            .autoscaler
            .as_ref()
            .map(crate::AutoscalerSource::describe),
        poll_interval: config.poll_interval,
        linger,
    }
}

/// Polls until the task is aborted, publishing a summary to `state` after every poll.
pub async fn run(config: PollConfig, client: reqwest::Client, state: AppState) {
    let mut agg = Aggregator::new(config.facts.clone());
    let mut ticker = tokio::time::interval(config.interval);
    // After a stall, poll once and carry on at the usual pace rather than bursting.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (listed, listing_error) = list(&config.source, config.timeout).await;
        let stats = join_all(
            listed
                .iter()
                .map(|url| fetch_stats(&client, url, config.timeout)),
        );
        let lg = async {
            match &config.loadgen_url {
                Some(url) => Some(fetch_loadgen(&client, url, config.timeout).await),
                None => None,
            }
        };
        let autoscaler = async {
            match &config.autoscaler {
                Some(reader) => Some(reader.read(&client, config.timeout).await),
                None => None,
            }
        };
        let (stats, loadgen, autoscaler) = futures::join!(stats, lg, autoscaler);
        let metrics = state.metrics();
        for r in &stats {
            match r {
                Ok(_) => metrics.replica_polls_ok.increment(1),
                Err(_) => metrics.replica_polls_error.increment(1),
            }
        }
        match &loadgen {
            Some(Ok(_)) => metrics.loadgen_polls_ok.increment(1),
            Some(Err(_)) => metrics.loadgen_polls_error.increment(1),
            None => {}
        }
        agg.observe(Observation {
            at: Instant::now(),
            wall_ms: unix_ms(SystemTime::now()),
            polls: listed.iter().cloned().zip(stats).collect(),
            listed,
            listing_error,
            loadgen,
            autoscaler,
        });
        let (up, total) = agg.replica_counts();
        metrics.replicas_up.set(f64::from(up));
        metrics.replicas.set(f64::from(total));
        state.publish(&agg.summary());
    }
}

/// The replica base URLs the source names now, or why it names none.
pub async fn list(source: &ReplicaSource, timeout: Duration) -> (Vec<String>, Option<String>) {
    match source {
        ReplicaSource::Static(urls) => (urls.clone(), None),
        ReplicaSource::Watch(rx) => (rx.borrow().clone(), None),
        ReplicaSource::Headless(host) => {
            // DNS can hang; a poll never waits on it longer than on a replica.
            match tokio::time::timeout(timeout, tokio::net::lookup_host(host.as_str())).await {
                Ok(Ok(addrs)) => {
                    let mut urls: Vec<String> = addrs.map(|a| format!("http://{a}")).collect();
                    urls.sort();
                    urls.dedup();
                    (urls, None)
                }
                Ok(Err(e)) => (Vec::new(), Some(format!("cannot resolve {host}: {e}"))),
                Err(_) => (
                    Vec::new(),
                    Some(format!(
                        "resolving {host} took longer than {}",
                        HumanDuration(timeout)
                    )),
                ),
            }
        }
    }
}

/// `GET <url>/api/stats`, with a message naming the problem on failure.
pub async fn fetch_stats(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<StatsResponse, String> {
    let body = get(client, &format!("{url}{}", routes::STATS), timeout).await?;
    serde_json::from_slice(&body)
        .map_err(|e| format!("{} did not answer the expected JSON: {e}", routes::STATS))
}

/// `GET <url>/metrics` of the load generator, parsed.
pub async fn fetch_loadgen(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<LoadgenPage, String> {
    let body = get(client, &format!("{url}{}", routes::METRICS), timeout).await?;
    let text = String::from_utf8_lossy(&body);
    LoadgenPage::parse(&text).map_err(|e| e.to_string())
}

pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let fetch = async {
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| describe(&e, timeout))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(format!("answer larger than {MAX_BODY} bytes"));
        }
        let body = resp.bytes().await.map_err(|e| describe(&e, timeout))?;
        Ok(body.to_vec())
    };
    // One deadline for connect, headers and body together.
    tokio::time::timeout(timeout, fetch)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}", HumanDuration(timeout))))
}

/// A short, human message for a client error: "cannot connect: Connection refused".
pub fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("no answer within {}", HumanDuration(timeout));
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
        // A refused TLS handshake, said with its cause (certificate, host name, ...).
        if let Some(why) = common::tls::refusal_in(next) {
            return format!("tls: {why}");
        }
    }
    if e.is_connect() {
        format!("cannot connect: {root}")
    } else if e.is_builder() {
        format!("bad URL: {root}")
    } else {
        root.to_string()
    }
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
