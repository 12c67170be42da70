//! Named load profiles, each a fixed stage list so runs are comparable.

use std::time::Duration;

use super::stages::stages_curve;
use super::{Curve, Error, Result, Stage};

/// A named load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// 5 rps steady for 1 min after a 10 s warm-up: a smoke check.
    Light,
    /// 50 rps for 2 min after a 30 s ramp: a typical day.
    Medium,
    /// Up to 200 rps for 3 min: near the demo backend's capacity.
    Heavy,
    /// 20 rps, then bursts to 300 rps for 10 s, twice: tests queueing and recovery.
    Burst,
    /// 100 rps held for 10 min: leaks and slow drifts show up.
    Sustained,
    /// 10 rps, one sharp jump to 500 rps in 2 s for 30 s, back down: autoscaling reaction.
    Spike,
    /// A steady climb to 400 rps over 3 min: CPU-bound handlers saturate.
    CpuStress,
    /// 150 rps held for 5 min: memory growth under a steady working set.
    MemoryStress,
}

impl Profile {
    pub const ALL: [Profile; 8] = [
        Profile::Light,
        Profile::Medium,
        Profile::Heavy,
        Profile::Burst,
        Profile::Sustained,
        Profile::Spike,
        Profile::CpuStress,
        Profile::MemoryStress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Light => "light",
            Profile::Medium => "medium",
            Profile::Heavy => "heavy",
            Profile::Burst => "burst",
            Profile::Sustained => "sustained",
            Profile::Spike => "spike",
            Profile::CpuStress => "cpu-stress",
            Profile::MemoryStress => "memory-stress",
        }
    }

    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| {
                let known: Vec<_> = Self::ALL.iter().map(|p| p.name()).collect();
                Error::UnknownProfile(name.to_string(), known.join(", "))
            })
    }

    pub fn stages(self) -> Vec<Stage> {
        let s = |secs: u64, rps: f64| Stage {
            duration: Duration::from_secs(secs),
            target_rps: rps,
        };
        match self {
            Profile::Light => vec![s(10, 5.0), s(60, 5.0), s(5, 0.0)],
            Profile::Medium => vec![s(30, 50.0), s(120, 50.0), s(15, 0.0)],
            Profile::Heavy => vec![s(60, 200.0), s(180, 200.0), s(30, 0.0)],
            Profile::Burst => vec![
                s(10, 20.0),
                s(30, 20.0),
                s(1, 300.0),
                s(10, 300.0),
                s(1, 20.0),
                s(30, 20.0),
                s(1, 300.0),
                s(10, 300.0),
                s(1, 20.0),
                s(30, 20.0),
            ],
            Profile::Sustained => vec![s(30, 100.0), s(600, 100.0), s(30, 0.0)],
            Profile::Spike => vec![
                s(10, 10.0),
                s(30, 10.0),
                s(2, 500.0),
                s(30, 500.0),
                s(2, 10.0),
                s(30, 10.0),
            ],
            Profile::CpuStress => vec![s(180, 400.0), s(60, 400.0), s(10, 0.0)],
            Profile::MemoryStress => vec![s(30, 150.0), s(300, 150.0), s(10, 0.0)],
        }
    }

    pub fn curve(self) -> Curve {
        stages_curve(0.0, &self.stages())
    }
}
