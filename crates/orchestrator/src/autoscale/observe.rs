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
//! - `cpu`: the CPU time the runtime measured for the replica (locally its named threads, see
//!   `resources::local`) over the period, in % of [`LOCAL_CPU_REQUEST_CORES`]: locally a
//!   replica has no CPU request, so one core counts as 100 %. A replica without a CPU reading
//!   (/proc unreadable) is missing.
//!
//! A replica seen for the first time has no period to difference yet: it is unready, as a pod
//! still starting is for the HPA; one whose page could not be read is missing.

use std::collections::HashMap;

use common::names;
use scenario::{AutoscaleMetric, Scenario};

use super::algorithm::{Observation, PodMetric};
use crate::resources::Usage;
use crate::runtime::{ComponentKind, ScrapeRound};
use crate::sample::{InstanceReading, diff, quantile, read_page};

/// The CPU request a local replica's `cpu` utilization is a percentage of: one core.
pub const LOCAL_CPU_REQUEST_CORES: f64 = 1.0;

/// Remembers each replica's last page (and CPU seconds, when measured) between syncs.
#[derive(Debug, Default)]
pub struct Observer {
    last: HashMap<String, (f64, InstanceReading, Option<f64>)>,
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
            let cpu = cpu_seconds(&round.resources.usage, &scrape.instance);
            let before = self.last.get(&scrape.instance).cloned();
            seen.insert(scrape.instance.clone(), (t, reading.clone(), cpu));
            let Some((t0, before, cpu_before)) = before.filter(|(t0, ..)| t > *t0) else {
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
                AutoscaleMetric::Cpu => match (cpu, cpu_before) {
                    (Some(now), Some(was)) => {
                        delta(now, was) / dt / LOCAL_CPU_REQUEST_CORES * 100.0
                    }
                    // Measured now, not then (a gap last sync): no period to difference.
                    (Some(_), None) => {
                        pods.push(PodMetric::Unready);
                        continue;
                    }
                    (None, _) => {
                        pods.push(PodMetric::Missing);
                        continue;
                    }
                },
                // One value for the service: only the histogram is gathered per replica.
                AutoscaleMetric::P95Latency => 0.0,
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

/// The CPU seconds the runtime measured for `instance` this round.
fn cpu_seconds(usage: &[Usage], instance: &str) -> Option<f64> {
    usage
        .iter()
        .find(|u| u.instance == instance)
        .and_then(|u| u.cpu_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Scrape;

    /// A backend page: `ok` 201s and `shed` 503s so far, every one in the `le` bucket.
    fn page(ok: u32, shed: u32, le: f64) -> String {
        let name = names::HTTP_REQUEST_DURATION_SECONDS;
        let mut text = format!(
            "# TYPE http_requests_total counter\n\
             http_requests_total{{method=\"POST\",route=\"/api/tickets\",status=\"201\"}} {ok}\n\
             http_requests_total{{method=\"POST\",route=\"/api/tickets\",status=\"503\"}} {shed}\n\
             http_requests_total{{method=\"GET\",route=\"/metrics\",status=\"200\"}} 99\n\
             # TYPE app_shed_requests_total counter\napp_shed_requests_total {shed}\n\
             # TYPE {name} histogram\n"
        );
        for b in names::HTTP_LATENCY_BUCKETS {
            let n = if *b >= le { ok + shed } else { 0 };
            text.push_str(&format!(
                "{name}_bucket{{method=\"POST\",route=\"/api/tickets\",status=\"201\",le=\"{b}\"}} {n}\n"
            ));
        }
        let all = ok + shed;
        text.push_str(&format!(
            "{name}_bucket{{method=\"POST\",route=\"/api/tickets\",status=\"201\",le=\"+Inf\"}} {all}\n{name}_sum{{method=\"POST\",route=\"/api/tickets\",status=\"201\"}} 1\n{name}_count{{method=\"POST\",route=\"/api/tickets\",status=\"201\"}} {all}\n"
        ));
        text
    }

    fn round(pages: &[(&str, Result<String, String>)]) -> ScrapeRound {
        ScrapeRound {
            targets: pages
                .iter()
                .map(|(instance, result)| Scrape {
                    component: ComponentKind::Backend,
                    instance: (*instance).to_owned(),
                    plan: None,
                    result: result.clone(),
                })
                .collect(),
            backend_ready: pages.len() as u32,
            backend_desired: pages.len() as u32,
            resources: Default::default(),
        }
    }

    /// `round` with the CPU seconds the runtime measured for some replicas.
    fn with_cpu(mut r: ScrapeRound, cpu: &[(&str, f64)]) -> ScrapeRound {
        r.resources.usage = cpu
            .iter()
            .map(|(instance, s)| Usage {
                instance: (*instance).to_owned(),
                component: "backend".into(),
                cpu_seconds: Some(*s),
                ..Usage::default()
            })
            .collect();
        r
    }

    fn scenario(metric: AutoscaleMetric) -> Scenario {
        let mut s = Scenario::default();
        s.autoscale.metric = metric;
        s.backend_capacity.workers = 2;
        s.backend_capacity.service_time = common::HumanDuration::from_millis(20);
        s
    }

    #[test]
    fn a_replica_is_unready_until_it_has_a_period_and_missing_without_a_page() {
        let s = scenario(AutoscaleMetric::RpsPerReplica);
        let mut o = Observer::new();
        let seen = o.observe(0.0, &round(&[("b-0", Ok(page(0, 0, 0.01)))]), &s);
        assert_eq!(
            seen.observation,
            Observation::PerPod(vec![PodMetric::Unready])
        );
        assert_eq!(seen.value, None);
        let seen = o.observe(
            2.0,
            &round(&[
                ("b-0", Ok(page(100, 20, 0.01))),
                ("b-1", Ok(page(0, 0, 0.01))),
                ("b-2", Err("connection refused".into())),
            ]),
            &s,
        );
        // 120 responses (shed ones are demand too) in 2 s; the new replica has no period yet.
        assert_eq!(
            seen.observation,
            Observation::PerPod(vec![
                PodMetric::Ready(60.0),
                PodMetric::Unready,
                PodMetric::Missing
            ])
        );
        assert_eq!(seen.value, Some(60.0));
    }

    #[test]
    fn utilization_is_the_worker_time_of_the_requests_served() {
        let s = scenario(AutoscaleMetric::Utilization);
        let mut o = Observer::new();
        o.observe(0.0, &round(&[("b-0", Ok(page(0, 0, 0.01)))]), &s);
        // 150 served in 2 s × 20 ms = 1.5 worker-seconds per second of 2 workers: 75 %; the
        // 30 shed took no worker.
        let seen = o.observe(2.0, &round(&[("b-0", Ok(page(150, 30, 0.01)))]), &s);
        let Some(v) = seen.value else {
            panic!("{seen:?}")
        };
        assert!((v - 75.0).abs() < 1e-9, "{v}");
        // A restarted replica's counters count from zero again, never negative.
        let seen = o.observe(4.0, &round(&[("b-0", Ok(page(50, 0, 0.01)))]), &s);
        assert!(
            seen.value.is_some_and(|v| (v - 25.0).abs() < 1e-9),
            "{seen:?}"
        );
    }

    #[test]
    fn p95_is_one_value_for_the_service_and_zero_when_idle() {
        let s = scenario(AutoscaleMetric::P95Latency);
        let mut o = Observer::new();
        let pages =
            |a: u32, b: u32| round(&[("b-0", Ok(page(a, 0, 0.25))), ("b-1", Ok(page(b, 0, 0.25)))]);
        o.observe(0.0, &pages(0, 0), &s);
        let seen = o.observe(2.0, &pages(100, 100), &s);
        let Observation::Value { value, ready } = seen.observation else {
            panic!("{seen:?}")
        };
        assert_eq!(ready, 2);
        // All in the (150 ms, 250 ms] bucket: the p95 interpolates inside it.
        assert!(value > 150.0 && value <= 250.0, "{value}");
        let idle = o.observe(4.0, &pages(100, 100), &s);
        assert_eq!(idle.value, Some(0.0));
        let gone = o.observe(6.0, &round(&[("b-0", Err("refused".into()))]), &s);
        assert_eq!(
            gone.value, None,
            "nothing read is no value: the count is held"
        );
    }

    #[test]
    fn cpu_is_the_measured_cpu_time_in_percent_of_one_core() {
        let s = scenario(AutoscaleMetric::Cpu);
        let mut o = Observer::new();
        let pages = |cpu: &[(&str, f64)]| {
            with_cpu(
                round(&[("b-0", Ok(page(0, 0, 0.01))), ("b-1", Ok(page(0, 0, 0.01)))]),
                cpu,
            )
        };
        o.observe(0.0, &pages(&[("b-0", 1.0), ("b-1", 5.0)]), &s);
        // b-0 used 1.5 s of CPU in 2 s (75 % of a core); b-1 has no reading this round.
        let seen = o.observe(2.0, &pages(&[("b-0", 2.5)]), &s);
        assert_eq!(
            seen.observation,
            Observation::PerPod(vec![PodMetric::Ready(75.0), PodMetric::Missing])
        );
        // b-1 is measured again, but its last reading is a sync old: no period yet.
        let seen = o.observe(4.0, &pages(&[("b-0", 2.5), ("b-1", 6.0)]), &s);
        assert_eq!(
            seen.observation,
            Observation::PerPod(vec![PodMetric::Ready(0.0), PodMetric::Unready])
        );
    }
}
