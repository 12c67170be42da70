//! Autoscaling (`scale_mode` hpa/keda): the HPA algorithm ([`algorithm`]), what the local
//! runtime feeds it ([`observe`]), the record of every sync ([`Sync`]) and what the report
//! derives from them ([`report`]).

pub mod algorithm;
pub mod drive;
pub mod observe;
pub mod render;
pub mod report;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use algorithm::{Rules, Spec};

/// One sync of the autoscaler, as the timeline records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sync {
    /// Seconds since the run started.
    pub t: f64,
    /// The metric as the autoscaler saw it, in the unit of `autoscale_target` (the average
    /// over the ready replicas, or the service's p95); `None`: nothing could be read.
    pub value: Option<f64>,
    /// The replica calculator's recommendation before windows and policies.
    pub recommended: Option<u32>,
    /// Replicas asked for before and after this sync.
    pub from: u32,
    pub desired: u32,
    /// Ready replicas when the sync ran.
    pub ready: u32,
    /// The controller's reason for `desired` (`DesiredWithinRange`, `ScaleDownStabilized`, ...).
    pub reason: String,
    /// On a cluster: what the local algorithm decides on the controller's own reading, beside
    /// `desired` (what the controller decided); locally they are one and the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<u32>,
}

/// The algorithm's configuration from the scenario: its min/max/target and windows, the
/// API's default rate policies.
pub fn spec(s: &scenario::Scenario) -> Spec {
    let a = &s.autoscale;
    let mut up = Rules::default_up();
    up.stabilization = a.scale_up_stabilization.get();
    let mut down = Rules::default_down();
    down.stabilization = a.scale_down_stabilization.get();
    Spec {
        min: a.min,
        max: a.max,
        target: a.target,
        tolerance: algorithm::DEFAULT_TOLERANCE,
        up,
        down,
    }
}

/// The sync period of the scenario.
pub fn sync_period(s: &scenario::Scenario) -> Duration {
    s.autoscale.sync_period.get()
}
