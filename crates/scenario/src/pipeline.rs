//! The workload keys: `workload` (the movie-night interactions, or the pipeline of orders
//! through a Redis stream to workers) and the workers' keys, with the rules across them:
//! the pipeline sends `place_order` only (an explicit other mix contradicts it), the
//! movie-night stack has no Redis for `place_order`, and worker keys beside movie-night
//! would be silently ignored.

use serde::{Deserialize, Serialize};

use common::HumanDuration;
use common::api::Action;

use super::builder::Builder;
use super::check::Check;
use super::error::{ConfigError, ErrorKind, Problem, Source};
use super::keys::{Key, field, key};
use super::scenario::{ComponentSpec, LoadMode};
use super::value::Field;

/// What the load generators send and what the stack is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// The ticketing interactions (book, cancel, feedback) against the backend.
    #[default]
    MovieNight,
    /// Orders (`place_order`) the backend appends to a Redis stream that workers consume.
    Pipeline,
}

impl Workload {
    pub const ALL: [Self; 2] = [Self::MovieNight, Self::Pipeline];
    /// The choices, as messages list them.
    pub(crate) const CHOICES: &'static str = "`movie-night` or `pipeline`";

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MovieNight => "movie-night",
            Self::Pipeline => "pipeline",
        }
    }
}

/// The pipeline workload's workers (`workload = "pipeline"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub workload: Workload,
    /// The workers: `worker_name`, `worker_replicas` (on a cluster they run the backend's
    /// image, where the demo-worker binary sits beside the backend's).
    pub worker: ComponentSpec,
    /// The queue and store: `redis_image` on a cluster (the local run starts `redis-server`
    /// from PATH).
    pub redis: ComponentSpec,
    /// CPU time burnt per message (the worker's `--work-cpu`).
    pub work_cpu: HumanDuration,
    /// Bytes held per message (the worker's `--work-memory`).
    pub work_memory: u32,
    /// Messages read from the stream at once (the worker's `--batch`).
    pub batch: u32,
    /// One worker killed this long after the load starts, as a crash would; zero: never.
    /// Reports written before the key existed read as never.
    #[serde(default)]
    pub kill_worker_at: HumanDuration,
}

impl Default for Pipeline {
    /// One worker doing a little work per order: enough to show up in its CPU figures,
    /// far from saturating it at the demo's rates.
    fn default() -> Self {
        Self {
            workload: Workload::MovieNight,
            worker: ComponentSpec {
                name: "worker".to_owned(),
                replicas: 1,
                image: "kind.local/demo-app-backend:latest".to_owned(),
            },
            redis: ComponentSpec {
                name: "redis".to_owned(),
                replicas: 1,
                image: "redis:7.2-alpine".to_owned(),
            },
            work_cpu: HumanDuration::from_millis(1),
            work_memory: 64 * 1024,
            batch: 16,
            kill_worker_at: HumanDuration::ZERO,
        }
    }
}

/// The action mix of every load plan with `workload = "pipeline"`.
pub const PIPELINE_ACTIONS: &str = "place_order";

/// The keys only the pipeline reads.
pub(crate) const WORKER_KEYS: [&str; 7] = [
    "worker_name",
    "worker_replicas",
    "worker_work_cpu",
    "worker_work_memory",
    "worker_batch",
    "redis_image",
    "kill_worker_at",
];

/// The workers' keys, documented after the others.
pub(crate) const KEYS: [Key; 7] = [
    key!(
        "worker_name",
        Text,
        pipeline.worker.name,
        Check::ServiceName(58),
        "pipeline: name of the workers (instances worker-0, worker-1, ...; the Deployment on a cluster)."
    ),
    key!(
        "worker_replicas",
        U32,
        pipeline.worker.replicas,
        Check::Between(1, 16),
        "pipeline: workers consuming the order stream in one consumer group."
    ),
    key!(
        "worker_work_cpu",
        Duration,
        pipeline.work_cpu,
        Check::AtMostMs(1000),
        "pipeline: CPU time each worker burns per order (its --work-cpu), at most 1s."
    ),
    key!(
        "worker_work_memory",
        U32,
        pipeline.work_memory,
        Check::Between(0, 256 * 1024 * 1024),
        "pipeline: bytes each worker allocates and holds per order (its --work-memory)."
    ),
    key!(
        "worker_batch",
        U32,
        pipeline.batch,
        Check::Between(1, 1000),
        "pipeline: orders a worker reads from the stream at once (its --batch)."
    ),
    key!(
        "redis_image",
        Text,
        pipeline.redis.image,
        Check::Image,
        "pipeline: Redis container image (kube runtime; locally redis-server from PATH)."
    ),
    key!(
        "kill_worker_at",
        Duration,
        pipeline.kill_worker_at,
        Check::AtMostMs(3_600_000),
        "pipeline: kill one worker this long after the load starts, as a crash would (0: never); on a cluster its pod is deleted with no grace period."
    ),
];

/// The `workload` key, listed with the load keys.
pub(crate) const WORKLOAD_KEY: Key = key!(
    "workload",
    Workload,
    pipeline.workload,
    Check::None,
    "What the load sends: movie-night (ticketing interactions) or pipeline (orders through a Redis stream to workers)."
);

impl Builder {
    /// Every contradiction of `workload` with the other keys; with the pipeline, sets every
    /// plan's mix to [`PIPELINE_ACTIONS`].
    pub(crate) fn pipeline_conflicts(&mut self) -> Vec<ConfigError> {
        let mut found = Vec::new();
        if self.failed.contains("workload") {
            return found;
        }
        let pipeline = self.scenario.pipeline.workload == Workload::Pipeline;
        let workload = format!(
            "workload = {} (from {})",
            self.scenario.pipeline.workload.as_str(),
            self.source("workload")
        );
        let conflict = |problem: String, fix: &str, key: &str, value: &str, at: Source| {
            Problem::new(ErrorKind::Conflict, problem, fix).at(key, value, Some(at))
        };
        // Each mix: the flat key, then every [[load]] entry, with where it was written.
        let mut mixes = vec![(
            "actions".to_owned(),
            self.scenario.actions.clone(),
            self.source("actions"),
        )];
        for (i, plan) in self.scenario.plans.iter().enumerate() {
            let at = self.plan_actions.get(&plan.name).cloned();
            mixes.push((
                format!("load[{i}].actions"),
                plan.actions.clone(),
                at.unwrap_or(Source::Default),
            ));
        }
        for (key, mix, at) in mixes {
            let orders = mix_has_orders(&mix);
            if pipeline && at != Source::Default && mix.trim() != PIPELINE_ACTIONS {
                found.push(conflict(
                    format!("{workload} sends orders only ({PIPELINE_ACTIONS})"),
                    "remove the actions key (the pipeline sets it), or set workload = movie-night",
                    &key,
                    &mix,
                    at,
                ));
            } else if !pipeline && orders {
                found.push(conflict(
                    format!("place_order needs the pipeline's Redis, and {workload} has none"),
                    "set workload = pipeline, or take place_order out of the mix",
                    &key,
                    &mix,
                    at,
                ));
            }
        }
        if pipeline {
            self.scenario.actions = PIPELINE_ACTIONS.to_owned();
            for plan in &mut self.scenario.plans {
                plan.actions = PIPELINE_ACTIONS.to_owned();
            }
            let modes = std::iter::once(self.scenario.load.mode)
                .chain(self.scenario.plans.iter().map(|p| p.load.mode));
            if modes.into_iter().any(|m| m == LoadMode::Async) {
                found.push(conflict(
                    format!("{workload}: an order is answered 202 at once, with no job to follow"),
                    "remove load_mode (or set it to sync)",
                    "load_mode",
                    "async",
                    self.source("load_mode"),
                ));
            }
            return found;
        }
        let defaults = super::Scenario::default();
        for key in WORKER_KEYS {
            let Some(k) = super::keys::by_name(key) else {
                continue;
            };
            let set = self.source(key) != Source::Default && !self.failed.contains(key);
            let value = k.field.get(&self.scenario);
            if set && value != k.field.get(&defaults) {
                found.push(conflict(
                    format!("{workload} runs no workers, so this key would be ignored"),
                    "set workload = pipeline, or remove it",
                    key,
                    &value.to_string(),
                    self.source(key),
                ));
            }
        }
        found
    }
}

/// The weighted mix `mix` sends orders.
fn mix_has_orders(mix: &str) -> bool {
    mix.split(',').any(|part| {
        let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
        name.trim() == Action::PlaceOrder.as_str() && weight.trim() != "0"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mix_with_a_weighted_order_sends_orders() {
        assert!(mix_has_orders("place_order"));
        assert!(mix_has_orders("book_ticket=2, place_order=1"));
        assert!(!mix_has_orders("book_ticket,place_order=0"));
        assert!(!mix_has_orders("book_ticket,give_feedback"));
    }

    #[test]
    fn every_workload_round_trips_through_its_name() {
        for w in Workload::ALL {
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(json, format!("\"{}\"", w.as_str()));
        }
    }
}
