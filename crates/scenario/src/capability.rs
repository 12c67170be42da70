//! The capability keys: `capability = true` replaces the demo's load story with a climb of
//! the offered rate until a named rule breaks, then steps back to the highest rate held
//! for a settle window (the cluster's capacity). The rules across keys: the climb drives its
//! own load generator (no `[[load]]` plans, no autoscaler moving the target under it), its
//! ceiling is above its start, and its keys beside `capability = false` would be ignored.

use serde::{Deserialize, Serialize};

use common::HumanDuration;

use super::builder::Builder;
use super::check::Check;
use super::error::{ConfigError, ErrorKind, Problem, Source};
use super::keys::{Key, field, key};
use super::value::Field;

/// The climb, its step-back and the rules that end it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capability {
    /// On: deploy, baseline, then the capability phase (no load/scale/recovery story).
    pub enabled: bool,
    /// The first rate of the climb, per iteration.
    pub start_rps: f64,
    /// Each climb step offers this many times the last one's rate.
    pub step_factor: f64,
    /// How long each climb step lasts.
    pub step: HumanDuration,
    /// The climb stops here: a rate held up to it means the capacity is at least this.
    pub max_rps: f64,
    /// A rate counts as held once it ran this long with no rule broken.
    pub settle: HumanDuration,
    /// The pipeline's consumer lag growing for this long breaks the climb.
    pub lag_window: HumanDuration,
    /// The p95 bound: end to end per message (pipeline), per request (movie-night).
    pub p95: HumanDuration,
    /// Failed requests over this share of those sent break the climb.
    pub error_rate: f64,
}

impl Default for Capability {
    /// Steps long enough for a p95 of their own and a lag trend (10 s, 5 s window); a
    /// settle window two steps long, so a rate that only held briefly does not count.
    fn default() -> Self {
        Self {
            enabled: false,
            start_rps: 10.0,
            step_factor: 1.5,
            step: HumanDuration::from_secs(10),
            max_rps: 2000.0,
            settle: HumanDuration::from_secs(20),
            lag_window: HumanDuration::from_secs(5),
            p95: HumanDuration::from_secs(1),
            error_rate: 0.01,
        }
    }
}

impl Capability {
    /// The rates the climb offers, from `start_rps` up to `max_rps` (the last one capped).
    pub fn ladder(&self) -> Vec<f64> {
        let mut rates = Vec::new();
        let mut rate = self.start_rps;
        // A ceiling reachable only after absurdly many steps still ends the climb.
        while rate < self.max_rps && rates.len() < 200 {
            rates.push(rate);
            rate *= self.step_factor;
        }
        rates.push(self.max_rps);
        rates
    }
}

/// The keys only the capability mode reads (set beside `capability = false`: ignored).
pub(crate) const CAPABILITY_KEYS: [&str; 8] = [
    "capability_start_rps",
    "capability_step_factor",
    "capability_step",
    "capability_max_rps",
    "capability_settle",
    "capability_lag_window",
    "capability_p95",
    "capability_error_rate",
];

/// The demo story's keys the climb replaces: set beside `capability = true`, ignored.
const REPLACED_KEYS: [&str; 13] = [
    "load_pause",
    "backend_scale_replicas",
    "load_scale_delay",
    "load_base_rps",
    "load_ramp_factor",
    "load_ramp_interval",
    "load_run_duration",
    "load_max_rps",
    "load_stages",
    "load_profile",
    "load_vus",
    "load_vu_stages",
    "load_think_time",
];

/// The capability keys, documented after the workers' keys.
pub(crate) const KEYS: [Key; 9] = [
    key!(
        "capability",
        Bool,
        capability.enabled,
        Check::None,
        "Capability mode: after the baseline, climb the offered rate until a rule breaks, then step back to the highest rate held for capability_settle (the capacity)."
    ),
    key!(
        "capability_start_rps",
        F64,
        capability.start_rps,
        Check::Positive,
        "capability: the climb's first rate, requests per second per iteration."
    ),
    key!(
        "capability_step_factor",
        F64,
        capability.step_factor,
        Check::Climb,
        "capability: each step offers this many times the last one's rate (above 1)."
    ),
    key!(
        "capability_step",
        Duration,
        capability.step,
        Check::NonZero,
        "capability: how long each climb step lasts."
    ),
    key!(
        "capability_max_rps",
        F64,
        capability.max_rps,
        Check::Positive,
        "capability: the climb's ceiling; held up to it, the capacity is at least this."
    ),
    key!(
        "capability_settle",
        Duration,
        capability.settle,
        Check::NonZero,
        "capability: a rate counts as held after this long with no rule broken."
    ),
    key!(
        "capability_lag_window",
        Duration,
        capability.lag_window,
        Check::NonZero,
        "capability (pipeline): consumer lag growing for longer than this breaks the climb."
    ),
    key!(
        "capability_p95",
        Duration,
        capability.p95,
        Check::NonZero,
        "capability: p95 bound, end to end per order (pipeline) or per request (movie-night)."
    ),
    key!(
        "capability_error_rate",
        F64,
        capability.error_rate,
        Check::Fraction,
        "capability: failed requests over this share of those sent break the climb (0.01 = 1 %)."
    ),
];

impl Builder {
    /// Every contradiction of the capability keys with each other and with the rest.
    pub(crate) fn capability_conflicts(&self) -> Vec<ConfigError> {
        let mut found = Vec::new();
        if self.failed.contains("capability") {
            return found;
        }
        let c = &self.scenario.capability;
        // As the autoscaler's keys: set to something else than the default, or it changes
        // nothing when ignored.
        let defaults = super::Scenario::default();
        let value = |key: &str| {
            super::keys::by_name(key)
                .map(|k| k.field.get(&self.scenario).to_string())
                .unwrap_or_default()
        };
        let set = |key: &str| {
            self.source(key) != Source::Default
                && !self.failed.contains(key)
                && super::keys::by_name(key)
                    .is_some_and(|k| k.field.get(&self.scenario) != k.field.get(&defaults))
        };
        let mut push = |key: &str, problem: String, fix: &str| {
            found.push(Problem::new(ErrorKind::Conflict, problem, fix).at(
                key,
                &value(key),
                Some(self.source(key)),
            ));
        };
        if !c.enabled {
            for key in CAPABILITY_KEYS.iter().filter(|k| set(k)) {
                push(
                    key,
                    format!("{key} is read by the capability mode only, and capability = false"),
                    "set capability = true, or remove the key",
                );
            }
            return found;
        }
        for key in REPLACED_KEYS.iter().filter(|k| set(k)) {
            push(
                key,
                format!(
                    "capability = true climbs its own rates and runs no scripted load or scale-up, so {key} would be ignored"
                ),
                "remove it (the climb is set by the capability_* keys)",
            );
        }
        if !self.failed.contains("capability_max_rps")
            && !self.failed.contains("capability_start_rps")
            && c.max_rps < c.start_rps
        {
            push(
                "capability_max_rps",
                format!(
                    "the climb's ceiling is below its start (capability_start_rps = {})",
                    c.start_rps
                ),
                "raise capability_max_rps, or lower capability_start_rps",
            );
        }
        if self.scenario.autoscale.mode.is_auto() {
            push(
                "capability",
                format!(
                    "capability = true measures a stack of a fixed size, and scale_mode = {} would resize it mid-climb",
                    self.scenario.autoscale.mode.as_str()
                ),
                "set scale_mode = manual (size the stack with backend_replicas and worker_replicas)",
            );
        }
        if !self.scenario.plans.is_empty() {
            push(
                "capability",
                "capability = true drives its own climb, so the [[load]] plans would be ignored"
                    .to_owned(),
                "remove the [[load]] entries (the climb sends the scenario's actions)",
            );
        }
        found
    }
}
