//! The pipeline's share of each sampling round: orders produced (the backends'
//! `app_orders_total{outcome="enqueued"}`) and failed for Redis' sake, consumed, acknowledged and failed (the workers'
//! counters), the end-to-end histogram, all differenced per instance as every other count,
//! and the queue and memory as the Redis target last read them.

use std::collections::{BTreeMap, HashMap};

use common::exposition::{self, Sample};
use common::names::{self, label, order_outcome};
use serde::{Deserialize, Serialize};

use super::probe::Reading;
use crate::runtime::{ComponentKind, Scrape};
use crate::sample::{add_delta, add_delta_vec};

/// Run-wide pipeline figures at one sampling round: counts cumulative since the run began,
/// the queue and memory as they are now.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PipelinePoint {
    pub produced: f64,
    /// Orders the backends answered 503 because Redis failed or did not answer.
    #[serde(default)]
    pub orders_failed: f64,
    pub consumed: f64,
    pub acknowledged: f64,
    pub worker_errors: f64,
    /// Cumulative counts of [`names::PIPELINE_LATENCY_BUCKETS`] plus `+Inf`.
    pub end_to_end: Vec<f64>,
    /// What Redis said this round (every copy's Redis summed); `None` when one could not
    /// be read (a gap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisFigures>,
    /// `iterations` > 1: the counts by copy (1-based); their sums are the fields above.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub iterations: BTreeMap<u32, IterationCounts>,
}

/// One copy's share of the pipeline's cumulative counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IterationCounts {
    pub produced: f64,
    pub consumed: f64,
    pub acknowledged: f64,
}

/// The Redis reading of a point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RedisFigures {
    pub queued: f64,
    pub pending: f64,
    pub lag: f64,
    pub aggregated: f64,
    pub memory_bytes: f64,
}

impl From<Reading> for RedisFigures {
    fn from(r: Reading) -> Self {
        Self {
            queued: r.queued as f64,
            pending: r.pending as f64,
            lag: r.lag as f64,
            aggregated: r.aggregated as f64,
            memory_bytes: r.used_memory as f64,
        }
    }
}

/// One backend's or worker's counts, before differencing.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counts {
    produced: f64,
    orders_failed: f64,
    consumed: f64,
    acknowledged: f64,
    errors: f64,
    end_to_end: Vec<f64>,
}

impl Counts {
    /// A counter is lower than `before`: the process behind it started again.
    fn went_back_from(&self, before: &Self) -> bool {
        self.produced < before.produced
            || self.consumed < before.consumed
            || self.acknowledged < before.acknowledged
            || self.errors < before.errors
    }
}

fn counts(samples: &[Sample]) -> Counts {
    let mut c = Counts {
        end_to_end: vec![0.0; names::PIPELINE_LATENCY_BUCKETS.len() + 1],
        ..Counts::default()
    };
    let bucket = format!("{}_bucket", names::WORKER_END_TO_END_SECONDS);
    for s in samples {
        let v = s.value;
        match s.name.as_str() {
            names::APP_ORDERS_TOTAL => match s.label(label::OUTCOME) {
                Some(order_outcome::ENQUEUED) => c.produced += v,
                Some(order_outcome::REDIS_ERROR | order_outcome::REDIS_TIMEOUT) => {
                    c.orders_failed += v;
                }
                _ => {}
            },
            names::WORKER_MESSAGES_CONSUMED_TOTAL => c.consumed += v,
            names::WORKER_MESSAGES_ACKNOWLEDGED_TOTAL => c.acknowledged += v,
            names::WORKER_ERRORS_TOTAL => c.errors += v,
            name if name == bucket => {
                if let Some(i) = s.bucket_slot(names::PIPELINE_LATENCY_BUCKETS) {
                    c.end_to_end[i] += v;
                }
            }
            _ => {}
        }
    }
    c
}

/// Accumulates the pipeline's part of sampling rounds; silent until a worker or Redis
/// target shows up (a movie-night run has none).
#[derive(Debug, Default)]
pub struct PipelineAccumulator {
    last: HashMap<String, Counts>,
    point: PipelinePoint,
    active: bool,
    /// Each Redis target's last reading (one per copy); `None`: its last read failed.
    redis: BTreeMap<String, Option<RedisFigures>>,
    /// Workers seen restarting since the run began (their counters went back).
    restarts: u32,
}

impl PipelineAccumulator {
    /// Takes in one target of a round; returns the gap to report for a worker or Redis
    /// target that could not be read (the backends' gaps are reported by the main sampler).
    pub fn observe(&mut self, scrape: &Scrape) -> Option<String> {
        let kind = scrape.component;
        if matches!(kind, ComponentKind::Worker | ComponentKind::Redis) {
            self.active = true;
        }
        let text = match (&scrape.result, kind) {
            (Ok(text), _) => text,
            (Err(e), ComponentKind::Worker | ComponentKind::Redis) => {
                if kind == ComponentKind::Redis {
                    self.set_redis(&scrape.instance, None);
                }
                return Some(format!("{}: {e}", scrape.instance));
            }
            (Err(_), _) => return None,
        };
        match kind {
            ComponentKind::Redis => {
                let figures = Reading::from_page(text).map(RedisFigures::from);
                self.set_redis(&scrape.instance, figures);
                None
            }
            ComponentKind::Backend | ComponentKind::Worker => {
                let Ok(samples) = exposition::parse(text) else {
                    return (kind == ComponentKind::Worker)
                        .then(|| format!("{}: not Prometheus text", scrape.instance));
                };
                let now = counts(&samples);
                // The backends' restarts are counted with their request counters.
                if kind == ComponentKind::Worker
                    && self
                        .last
                        .get(&scrape.instance)
                        .is_some_and(|before| now.went_back_from(before))
                {
                    self.restarts += 1;
                }
                self.add(&scrape.instance, now);
                None
            }
            _ => None,
        }
    }

    /// The point's Redis figures: every copy's summed, or none while one is a gap.
    fn set_redis(&mut self, instance: &str, figures: Option<RedisFigures>) {
        self.redis.insert(instance.to_owned(), figures);
        let mut sum: Option<RedisFigures> = None;
        for f in self.redis.values() {
            let Some(f) = f else {
                self.point.redis = None;
                return;
            };
            sum = Some(match sum {
                None => *f,
                Some(s) => RedisFigures {
                    queued: s.queued + f.queued,
                    pending: s.pending + f.pending,
                    lag: s.lag + f.lag,
                    aggregated: s.aggregated + f.aggregated,
                    memory_bytes: s.memory_bytes + f.memory_bytes,
                },
            });
        }
        self.point.redis = sum;
    }

    fn add(&mut self, instance: &str, now: Counts) {
        let before = self.last.get(instance).cloned().unwrap_or_default();
        if let Some(k) = crate::iterations::of_instance(instance) {
            let i = self.point.iterations.entry(k).or_default();
            add_delta(&mut i.produced, now.produced, before.produced);
            add_delta(&mut i.consumed, now.consumed, before.consumed);
            add_delta(&mut i.acknowledged, now.acknowledged, before.acknowledged);
        }
        let p = &mut self.point;
        add_delta(&mut p.produced, now.produced, before.produced);
        add_delta(
            &mut p.orders_failed,
            now.orders_failed,
            before.orders_failed,
        );
        add_delta(&mut p.consumed, now.consumed, before.consumed);
        add_delta(&mut p.acknowledged, now.acknowledged, before.acknowledged);
        add_delta(&mut p.worker_errors, now.errors, before.errors);
        add_delta_vec(&mut p.end_to_end, &now.end_to_end, &before.end_to_end);
        self.last.insert(instance.to_owned(), now);
    }

    /// Workers seen restarting since the run began.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// The figures of the round so far; `None` for a run without the pipeline.
    pub fn point(&self) -> Option<PipelinePoint> {
        self.active.then(|| self.point.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrape(kind: ComponentKind, instance: &str, page: Result<String, String>) -> Scrape {
        Scrape {
            component: kind,
            instance: instance.into(),
            plan: None,
            result: page,
        }
    }

    fn worker_page(acked: u32) -> String {
        format!(
            "worker_messages_consumed_total {acked}\nworker_messages_acknowledged_total {acked}\nworker_errors_total{{kind=\"redis\"}} 1\nworker_end_to_end_seconds_bucket{{le=\"+Inf\"}} {acked}\n"
        )
    }

    #[test]
    fn counts_add_up_over_workers_and_survive_a_restart() {
        let mut acc = PipelineAccumulator::default();
        assert_eq!(acc.point(), None, "no pipeline target yet");
        let backend = "app_orders_total{outcome=\"enqueued\"} 30\napp_orders_total{outcome=\"rejected\"} 4\napp_orders_total{outcome=\"redis_error\"} 5\napp_orders_total{outcome=\"redis_timeout\"} 2\n";
        acc.observe(&scrape(
            ComponentKind::Backend,
            "backend-0",
            Ok(backend.into()),
        ));
        acc.observe(&scrape(
            ComponentKind::Worker,
            "worker-0",
            Ok(worker_page(10)),
        ));
        acc.observe(&scrape(
            ComponentKind::Worker,
            "worker-1",
            Ok(worker_page(12)),
        ));
        let p = acc.point().unwrap();
        assert_eq!(
            (p.produced, p.orders_failed, p.acknowledged, p.worker_errors),
            (30.0, 7.0, 22.0, 2.0)
        );
        assert_eq!(p.end_to_end.last(), Some(&22.0));
        // worker-0 restarted: its 3 are new.
        acc.observe(&scrape(
            ComponentKind::Worker,
            "worker-0",
            Ok(worker_page(3)),
        ));
        assert_eq!(acc.point().unwrap().acknowledged, 25.0);
        assert_eq!(acc.restarts(), 1, "worker-0's counters went back");
        acc.observe(&scrape(
            ComponentKind::Worker,
            "worker-0",
            Ok(worker_page(3)),
        ));
        assert_eq!(acc.restarts(), 1, "counters standing still are no restart");
    }

    #[test]
    fn redis_is_read_back_and_its_gap_named() {
        let mut acc = PipelineAccumulator::default();
        let reading = Reading {
            queued: 4,
            pending: 1,
            lag: 3,
            aggregated: 9,
            used_memory: 1000,
        };
        acc.observe(&scrape(ComponentKind::Redis, "redis", Ok(reading.page())));
        assert_eq!(acc.point().unwrap().redis, Some(reading.into()));
        let gap = acc.observe(&scrape(
            ComponentKind::Redis,
            "redis",
            Err("refused".into()),
        ));
        assert_eq!(gap.as_deref(), Some("redis: refused"));
        assert_eq!(acc.point().unwrap().redis, None);
    }
}
