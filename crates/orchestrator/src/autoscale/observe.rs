//! What the local autoscaler sees at a sync: each backend replica's `/metrics` page, differenced
//! against the same replica's page at the previous sync, turned into the scenario's metric.
//!
//! - `rps_per_replica`: responses per second of each replica (user routes; shed ones too: they
//!   are demand the replica could not take).
//! - `utilization`: busy workers ÷ workers, in %, averaged over the period. The backend's
//!   capacity model holds one worker for `backend_service_time` per request it serves (shed
//!   ones take none), so busy worker-seconds are served × service time; an instant in-flight
//!   gauge would only say what one moment looked like.
//! - `p95_latency`: the service's p95 (every replica's histogram summed), in ms, one value;
//!   0 when the replicas answered but served nothing.
//!
//! A replica seen for the first time has no period to difference yet: it is unready, as a pod
//! still starting is for the HPA; one whose page could not be read is missing.

use std::collections::HashMap;

use common::names;
use scenario::{AutoscaleMetric, Scenario};

use super::algorithm::{Observation, PodMetric};
use crate::runtime::{ComponentKind, ScrapeRound};
use crate::sample::{InstanceReading, diff, quantile, read_page};

/// Remembers each replica's last page between syncs.
#[derive(Debug, Default)]
pub struct Observer {
    last: HashMap<String, (f64, InstanceReading)>,
}

/// An observation and the metric value it amounts to (for the report).
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub observation: Observation,
    /// The average over ready replicas, or the service's value; `None`: nothing was read.
    pub value: Option<f64>,
}

impl Observer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the backend pages of `round`, taken at `t` seconds.
    pub fn observe(&mut self, t: f64, round: &ScrapeRound, s: &Scenario) -> Seen {
        let metric = s.autoscale.metric;
        let capacity = &s.backend_capacity;
        let worker_seconds = capacity.service_time.get().as_secs_f64();
        let workers = f64::from(capacity.workers.max(1));
        let mut pods = Vec::new();
        let mut buckets: Vec<f64> = Vec::new();
        let mut seen = HashMap::new();
        for scrape in round
            .targets
            .iter()
            .filter(|s| s.component == ComponentKind::Backend)
        {
            let Some(reading) = scrape
                .result
                .as_deref()
                .ok()
                .and_then(|t| read_page(t).ok())
            else {
                pods.push(PodMetric::Missing);
                continue;
            };
            let before = self.last.get(&scrape.instance).cloned();
            seen.insert(scrape.instance.clone(), (t, reading.clone()));
            let Some((t0, before)) = before.filter(|(t0, _)| t > *t0) else {
                pods.push(PodMetric::Unready);
                continue;
            };
            let dt = t - t0;
            // A restarted replica's counters start again from zero.
            let delta = |now: f64, was: f64| if now >= was { now - was } else { now };
            let responses = delta(reading.served, before.served);
            let shed = delta(reading.shed, before.shed);
            let value = match metric {
                AutoscaleMetric::RpsPerReplica => responses / dt,
                AutoscaleMetric::Utilization => {
                    (responses - shed).max(0.0) * worker_seconds / dt / workers * 100.0
                }
                // One value for the service: only the histogram is gathered per replica.
                AutoscaleMetric::P95Latency | AutoscaleMetric::Cpu => 0.0,
            };
            let window = diff(&reading.server_latency, &before.server_latency);
            if buckets.len() < window.len() {
                buckets.resize(window.len(), 0.0);
            }
            for (sum, b) in buckets.iter_mut().zip(&window) {
                *sum += b;
            }
            pods.push(PodMetric::Ready(value));
        }
        self.last = seen;
        let ready = pods
            .iter()
            .filter(|p| matches!(p, PodMetric::Ready(_)))
            .count();
        match metric {
            AutoscaleMetric::P95Latency => {
                // Replicas read but nothing served: nobody waited, which lets an idle
                // service scale down instead of holding on a value that cannot exist.
                let p95 = (ready > 0).then(|| {
                    quantile(names::HTTP_LATENCY_BUCKETS, &buckets, 0.95)
                        .map_or(0.0, |s| s * 1000.0)
                });
                Seen {
                    observation: Observation::Value {
                        value: p95.unwrap_or(f64::NAN),
                        ready: u32::try_from(ready).unwrap_or(u32::MAX),
                    },
                    value: p95,
                }
            }
            _ => {
                let values: Vec<f64> = pods
                    .iter()
                    .filter_map(|p| match p {
                        PodMetric::Ready(v) => Some(*v),
                        _ => None,
                    })
                    .collect();
                let value =
                    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
                Seen {
                    observation: Observation::PerPod(pods),
                    value,
                }
            }
        }
    }
}
