//! The Kubernetes HorizontalPodAutoscaler's replica algorithm, as documented ("Algorithm
//! details" and "Configurable scaling behavior" of the HPA task page) and as the controller
//! (`replica_calculator.go`, `horizontal.go`) implements it: the replica calculator with its
//! tolerance and its handling of unready pods and missing metrics, then the stabilization
//! windows, then the rate policies and min/max.
//!
//! Deterministic and without I/O or a clock: the caller passes the time of each sync, so the
//! same function runs locally (it scales the local replicas) and next to a real cluster (the
//! "expected" desired count beside what the controller did), and tests replay any history.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The controller's default `--horizontal-pod-autoscaler-tolerance`.
pub const DEFAULT_TOLERANCE: f64 = 0.1;

/// How a policy bounds the change over its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PolicyKind {
    /// At most this many pods.
    Pods,
    /// At most this percentage of the replicas at the start of the period.
    Percent,
}

/// One `HPAScalingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub kind: PolicyKind,
    pub value: u32,
    pub period: Duration,
}

/// `selectPolicy`: which policy wins when several apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Select {
    /// The policy that allows the largest change (the default).
    #[default]
    Max,
    /// The policy that allows the smallest change.
    Min,
    /// No change in this direction at all.
    Disabled,
}

/// `HPAScalingRules` of one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    pub stabilization: Duration,
    pub select: Select,
    pub policies: Vec<Policy>,
}

impl Rules {
    /// The API's default scale-up: no window; 4 pods or 100 % per 15 s, whichever is more.
    pub fn default_up() -> Self {
        Self {
            stabilization: Duration::ZERO,
            select: Select::Max,
            policies: vec![
                Policy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period: Duration::from_secs(15),
                },
                Policy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period: Duration::from_secs(15),
                },
            ],
        }
    }

    /// The API's default scale-down: a 300 s window; 100 % per 15 s.
    pub fn default_down() -> Self {
        Self {
            stabilization: Duration::from_secs(300),
            select: Select::Max,
            policies: vec![Policy {
                kind: PolicyKind::Percent,
                value: 100,
                period: Duration::from_secs(15),
            }],
        }
    }

    fn longest_period(&self) -> Duration {
        self.policies
            .iter()
            .map(|p| p.period)
            .max()
            .unwrap_or_default()
    }
}

/// What the autoscaler is configured with (an HPA's spec, metric aside).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Spec {
    pub min: u32,
    pub max: u32,
    /// The metric's target: per pod for [`Observation::PerPod`], for the whole target for
    /// [`Observation::Value`]. Above 0.
    pub target: f64,
    pub tolerance: f64,
    pub up: Rules,
    pub down: Rules,
}

/// One pod's reading of the metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PodMetric {
    /// Ready, with a value.
    Ready(f64),
    /// Not ready yet (starting): counted as 0 % of the target on a scale-up, left out otherwise.
    Unready,
    /// Ready but without a value: 100 % of the target on a scale-down, 0 % on a scale-up.
    Missing,
}

/// What the metric reads at one sync.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Observation {
    /// A per-pod metric with an average target (`Pods`/`Resource` metrics, KEDA's
    /// `AverageValue`): one entry per pod of the target.
    PerPod(Vec<PodMetric>),
    /// One value for the whole workload with a `Value` target (`Object`/`External` metrics,
    /// e.g. a p95 latency): scaled by the ready pods.
    Value { value: f64, ready: u32 },
}

/// `|1 - ratio| <= tolerance`: close enough to the target to leave the count alone.
fn within(ratio: f64, tolerance: f64) -> bool {
    (1.0 - ratio).abs() <= tolerance
}

/// `ceil`, forgiving the last bits of float noise (`1.1 × 10` is `11.000000000000002`); the
/// controller works in milli-units and does not see it.
fn ceil(x: f64) -> u32 {
    let c = (x - 1e-9).ceil().max(0.0);
    if c >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        c as u32
    }
}

/// The replica calculator: `ceil(current × value / target)` with the tolerance and the rules
/// for unready pods and missing metrics. `None` when nothing was measured (the controller
/// then leaves the count as it is).
pub fn replica_count(current: u32, obs: &Observation, target: f64, tolerance: f64) -> Option<u32> {
    match obs {
        Observation::Value { value, ready } => {
            if !value.is_finite() || target <= 0.0 {
                return None;
            }
            let ratio = value / target;
            if within(ratio, tolerance) {
                return Some(current);
            }
            Some(ceil(ratio * f64::from(*ready)))
        }
        Observation::PerPod(pods) => per_pod(current, pods, target, tolerance),
    }
}

fn per_pod(current: u32, pods: &[PodMetric], target: f64, tolerance: f64) -> Option<u32> {
    let ready: Vec<f64> = pods
        .iter()
        .filter_map(|p| match p {
            PodMetric::Ready(v) if v.is_finite() => Some(*v),
            _ => None,
        })
        .collect();
    let unready = pods
        .iter()
        .filter(|p| matches!(p, PodMetric::Unready))
        .count();
    let missing = pods.len() - ready.len() - unready;
    if ready.is_empty() || target <= 0.0 {
        return None;
    }
    let sum: f64 = ready.iter().sum();
    let ratio = sum / ready.len() as f64 / target;
    let scale_up_with_unready = unready > 0 && ratio > 1.0;
    if !scale_up_with_unready && missing == 0 {
        if within(ratio, tolerance) {
            return Some(current);
        }
        return Some(ceil(ratio * ready.len() as f64));
    }
    // Recompute conservatively: missing pods at 100 % of the target when scaling down and
    // 0 % when scaling up, unready pods at 0 % on a scale-up.
    let (mut sum, mut n) = (sum, ready.len());
    if missing > 0 {
        if ratio < 1.0 {
            sum += target * missing as f64;
        }
        n += missing;
    }
    if scale_up_with_unready {
        n += unready;
    }
    let new_ratio = sum / n as f64 / target;
    // Neither the tolerance nor a reversed direction may come out of the filling-in.
    if within(new_ratio, tolerance)
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Some(current);
    }
    let proposed = ceil(new_ratio * n as f64);
    if (new_ratio < 1.0 && proposed > current) || (new_ratio > 1.0 && proposed < current) {
        return Some(current);
    }
    Some(proposed)
}

/// Why a sync ended on its count, in the controller's words (its `ScalingLimited` and
/// `AbleToScale` reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum Reason {
    /// The recommendation passed every bound.
    DesiredWithinRange,
    /// A higher recommendation within the scale-down window holds the count up.
    ScaleDownStabilized,
    /// A lower recommendation within the scale-up window holds the count down.
    ScaleUpStabilized,
    /// A scale-up policy caps the step.
    ScaleUpLimit,
    /// A scale-down policy caps the step.
    ScaleDownLimit,
    /// Capped at `max`.
    TooManyReplicas,
    /// Raised to `min`.
    TooFewReplicas,
    /// No value could be read: the count is held.
    NoMetrics,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DesiredWithinRange => "DesiredWithinRange",
            Self::ScaleDownStabilized => "ScaleDownStabilized",
            Self::ScaleUpStabilized => "ScaleUpStabilized",
            Self::ScaleUpLimit => "ScaleUpLimit",
            Self::ScaleDownLimit => "ScaleDownLimit",
            Self::TooManyReplicas => "TooManyReplicas",
            Self::TooFewReplicas => "TooFewReplicas",
            Self::NoMetrics => "NoMetrics",
        }
    }
}

/// The result of one sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// What the replica calculator recommended before windows and policies (`None`: no data).
    pub recommended: Option<u32>,
    /// The count to set.
    pub desired: u32,
    pub reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Stamped {
    at: Duration,
    replicas: u32,
}

/// One HPA's memory between syncs: its recent recommendations (for the windows) and its
/// recent scale events (for the policies). Feed it [`Autoscaler::sync`] once per period.
#[derive(Debug, Clone)]
pub struct Autoscaler {
    spec: Spec,
    recommendations: Vec<Stamped>,
    /// Replicas added (`up`) or removed (`down`) per rescale.
    up_events: Vec<Stamped>,
    down_events: Vec<Stamped>,
}

impl Autoscaler {
    pub fn new(spec: Spec) -> Self {
        Self {
            spec,
            recommendations: Vec::new(),
            up_events: Vec::new(),
            down_events: Vec::new(),
        }
    }

    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// One reconcile at `now` (any monotonic clock) with `current` replicas (the scale's
    /// spec). The caller applies `desired`; the change is remembered as a scale event.
    pub fn sync(&mut self, now: Duration, current: u32, obs: &Observation) -> Decision {
        let (min, max) = (self.spec.min, self.spec.max);
        let decision = if current > max {
            Decision {
                recommended: None,
                desired: max,
                reason: Reason::TooManyReplicas,
            }
        } else if current < min {
            Decision {
                recommended: None,
                desired: min,
                reason: Reason::TooFewReplicas,
            }
        } else {
            match replica_count(current, obs, self.spec.target, self.spec.tolerance) {
                None => Decision {
                    recommended: None,
                    desired: current,
                    reason: Reason::NoMetrics,
                },
                Some(recommended) => {
                    let (stable, why) = self.stabilize(now, current, recommended);
                    let (desired, limit) = self.limit_rate(now, current, stable);
                    let reason = if limit == Reason::DesiredWithinRange {
                        why
                    } else {
                        limit
                    };
                    Decision {
                        recommended: Some(recommended),
                        desired,
                        reason,
                    }
                }
            }
        };
        self.record(now, current, decision.desired);
        decision
    }

    /// The windows: the count may not go above the lowest recommendation of the scale-up
    /// window nor below the highest of the scale-down window (this one included).
    fn stabilize(&mut self, now: Duration, current: u32, recommended: u32) -> (u32, Reason) {
        let bound = |window: Duration, pick: fn(u32, u32) -> u32| {
            self.recommendations
                .iter()
                .filter(|r| r.at + window > now)
                .map(|r| r.replicas)
                .fold(recommended, pick)
        };
        let up = bound(self.spec.up.stabilization, u32::min);
        let down = bound(self.spec.down.stabilization, u32::max);
        let oldest = self.spec.up.stabilization.max(self.spec.down.stabilization);
        self.recommendations.retain(|r| r.at + oldest > now);
        self.recommendations.push(Stamped {
            at: now,
            replicas: recommended,
        });
        let stable = current.max(up).min(down);
        let reason = if stable > recommended {
            Reason::ScaleDownStabilized
        } else if stable < recommended {
            Reason::ScaleUpStabilized
        } else {
            Reason::DesiredWithinRange
        };
        (stable, reason)
    }

    /// The policies and min/max, against the scale events of each policy's period.
    fn limit_rate(&self, now: Duration, current: u32, desired: u32) -> (u32, Reason) {
        let (min, max) = (i64::from(self.spec.min), i64::from(self.spec.max));
        let (cur, want) = (i64::from(current), i64::from(desired));
        if want > cur {
            let limit = self.up_limit(now, cur).max(cur);
            let (ceiling, reason) = if max > limit {
                (limit, Reason::ScaleUpLimit)
            } else {
                (max, Reason::TooManyReplicas)
            };
            if want > ceiling {
                return (to_u32(ceiling), reason);
            }
        } else if want < cur {
            let limit = self.down_limit(now, cur).min(cur);
            let (floor, reason) = if min < limit {
                (limit, Reason::ScaleDownLimit)
            } else {
                (min, Reason::TooFewReplicas)
            };
            if want < floor {
                return (to_u32(floor), reason);
            }
        }
        (desired, Reason::DesiredWithinRange)
    }

    /// Replicas at the start of `period`: now, minus what was added and plus what was removed
    /// since.
    fn period_start(&self, now: Duration, current: i64, period: Duration) -> i64 {
        let since = |events: &[Stamped]| -> i64 {
            events
                .iter()
                .filter(|e| e.at + period > now)
                .map(|e| i64::from(e.replicas))
                .sum()
        };
        current - since(&self.up_events) + since(&self.down_events)
    }

    fn up_limit(&self, now: Duration, current: i64) -> i64 {
        let rules = &self.spec.up;
        let proposals = rules.policies.iter().map(|p| {
            let start = self.period_start(now, current, p.period);
            match p.kind {
                PolicyKind::Pods => start + i64::from(p.value),
                // Rounded up: a small percentage of few pods must still allow one more.
                PolicyKind::Percent => {
                    (start as f64 * (1.0 + f64::from(p.value) / 100.0)).ceil() as i64
                }
            }
        });
        match rules.select {
            Select::Disabled => current,
            Select::Max => proposals.max().unwrap_or(current),
            Select::Min => proposals.min().unwrap_or(current),
        }
    }

    fn down_limit(&self, now: Duration, current: i64) -> i64 {
        let rules = &self.spec.down;
        let proposals = rules.policies.iter().map(|p| {
            let start = self.period_start(now, current, p.period);
            match p.kind {
                PolicyKind::Pods => start - i64::from(p.value),
                // Truncated, as the controller's int32 conversion does.
                PolicyKind::Percent => (start as f64 * (1.0 - f64::from(p.value) / 100.0)) as i64,
            }
        });
        // For a scale-down the largest change is the lowest count.
        match rules.select {
            Select::Disabled => current,
            Select::Max => proposals.min().unwrap_or(current),
            Select::Min => proposals.max().unwrap_or(current),
        }
    }

    fn record(&mut self, now: Duration, from: u32, to: u32) {
        let keep_up = self.spec.up.longest_period();
        let keep_down = self.spec.down.longest_period();
        self.up_events.retain(|e| e.at + keep_up > now);
        self.down_events.retain(|e| e.at + keep_down > now);
        if to > from {
            self.up_events.push(Stamped {
                at: now,
                replicas: to - from,
            });
        } else if to < from {
            self.down_events.push(Stamped {
                at: now,
                replicas: from - to,
            });
        }
    }
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
