//! Per-source tracking between polls: a replica's last answer and the rates from its
//! counter deltas (restart-safe), and the load generator's last scrape and its rates.

use std::time::Instant;

use common::api::{Action, StatsResponse};

use common::loadgen_page::LoadgenPage;

/// Per-second rates of one replica between its last two answers.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rates {
    /// All outcomes, per action.
    pub(super) by_action: [f64; 3],
    /// Failed ones, per action.
    pub(super) errors_by_action: [f64; 3],
    pub(super) shed: f64,
    /// CPU cores the replica used, when it reports its CPU time.
    pub(super) cpu_cores: Option<f64>,
}

impl Rates {
    pub(super) fn requests(&self) -> f64 {
        self.by_action.iter().sum()
    }

    pub(super) fn errors(&self) -> f64 {
        self.errors_by_action.iter().sum()
    }
}

#[derive(Debug, Clone)]
pub(super) struct Sample {
    pub(super) at: Instant,
    pub(super) wall_ms: u64,
    pub(super) stats: StatsResponse,
}

#[derive(Debug, Clone)]
pub(super) struct Track {
    pub(super) url: String,
    pub(super) last: Option<Sample>,
    pub(super) up: bool,
    pub(super) error: Option<String>,
    pub(super) rates: Rates,
    pub(super) last_listed: Instant,
    /// When it was first listed (Unix ms), if that was after the first poll: a replica
    /// added by scaling, which the page marks as new.
    pub(super) joined_ms: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct LoadgenTrack {
    pub(super) last: Option<(Instant, LoadgenPage)>,
    pub(super) running: bool,
    pub(super) message: String,
    pub(super) errors_per_s: Option<f64>,
    pub(super) dropped_per_s: Option<f64>,
}

/// `(ok, errors)` of `action` in a replica's stats (0 when the replica does not list it).
pub(super) fn counts(stats: &StatsResponse, action: Action) -> Option<(u64, u64)> {
    stats
        .interactions
        .iter()
        .find(|c| c.action == action)
        .map(|c| (c.ok, c.errors))
}

pub(super) fn update_track(
    t: &mut Track,
    result: Result<StatsResponse, String>,
    now: Instant,
    wall: u64,
) {
    match result {
        Ok(stats) => {
            t.rates = t
                .last
                .as_ref()
                .map(|prev| rates(prev, &stats, now))
                .unwrap_or_default();
            t.last = Some(Sample {
                at: now,
                wall_ms: wall,
                stats,
            });
            t.up = true;
            t.error = None;
        }
        Err(e) => {
            t.up = false;
            t.rates = Rates::default();
            t.error = Some(e);
        }
    }
}

/// Rates from the counter deltas between two answers of one replica. A counter that went
/// down (or a shorter uptime) means the replica restarted: its counts since the restart
/// are the delta, over its uptime.
pub(super) fn rates(prev: &Sample, cur: &StatsResponse, now: Instant) -> Rates {
    let mut dt = now.duration_since(prev.at).as_secs_f64();
    let old = &prev.stats;
    let pairs: Vec<((u64, u64), (u64, u64))> = Action::ALL
        .iter()
        .map(|&a| {
            (
                counts(old, a).unwrap_or_default(),
                counts(cur, a).unwrap_or_default(),
            )
        })
        .collect();
    let restarted = cur.uptime_seconds < old.uptime_seconds
        || cur.shed_total < old.shed_total
        || pairs.iter().any(|(o, c)| c.0 < o.0 || c.1 < o.1);
    if restarted && cur.uptime_seconds > 0.0 {
        dt = dt.min(cur.uptime_seconds);
    }
    if dt < 1e-3 {
        return Rates::default();
    }
    let delta = |old: u64, new: u64| if restarted { new } else { new - old } as f64 / dt;
    let cpu_cores = match (old.cpu_seconds, cur.cpu_seconds) {
        (Some(o), Some(c)) if !restarted && c >= o => Some((c - o) / dt),
        (_, Some(c)) if restarted => Some(c / dt),
        _ => None,
    };
    let mut r = Rates {
        shed: delta(old.shed_total, cur.shed_total),
        cpu_cores,
        ..Rates::default()
    };
    for (i, (o, c)) in pairs.iter().enumerate() {
        r.by_action[i] = delta(o.0, c.0) + delta(o.1, c.1);
        r.errors_by_action[i] = delta(o.1, c.1);
    }
    r
}

pub(super) fn update_loadgen(
    lg: &mut LoadgenTrack,
    result: Result<LoadgenPage, String>,
    now: Instant,
    url: Option<&str>,
) {
    match result {
        Ok(sample) => {
            let rate = |pick: fn(&LoadgenPage) -> Option<f64>| {
                let (at, prev) = lg.last.as_ref()?;
                let dt = now.duration_since(*at).as_secs_f64();
                let (old, new) = (pick(prev)?, pick(&sample)?);
                // A restarted load generator starts its counters again from zero.
                let delta = if new >= old { new - old } else { new };
                (dt >= 1e-3).then(|| delta / dt)
            };
            lg.errors_per_s = rate(|s| s.errors_total);
            lg.dropped_per_s = rate(|s| s.dropped_total);
            lg.last = Some((now, sample));
            lg.running = true;
            lg.message = "running".into();
        }
        Err(e) => {
            lg.running = false;
            lg.errors_per_s = None;
            lg.dropped_per_s = None;
            // Keep the last sample out of rates: the next run starts from scratch.
            lg.last = None;
            lg.message = format!(
                "not running (not started yet, or finished): {} answered {e}",
                url.unwrap_or("the load generator")
            );
        }
    }
}
