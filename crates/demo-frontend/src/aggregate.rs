//! Turns each poll's raw samples into rates, per-replica shares and a 10-minute history,
//! and builds the [`Summary`] the page polls. Pure logic: the caller supplies the clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use common::HumanDuration;
use common::api::{Action, AutoscalerStatus, StatsResponse};

use crate::summary::{
    ActionHistory, ActionSummary, AutoscalerSummary, BackendState, BackendStatus, Current, History,
    LoadgenSummary, ReplicaSummary, Summary,
};
use common::loadgen_page::LoadgenPage;

mod track;
use track::{LoadgenTrack, Rates, Track, counts, update_loadgen, update_track};

/// How far back the charts reach.
pub const WINDOW: Duration = Duration::from_secs(600);
/// Upper bound on history points, whatever the poll interval (memory and JSON size).
const MAX_POINTS: usize = 3000;

/// What the caller learned in one poll.
#[derive(Debug, Clone)]
pub struct Observation {
    /// When the poll finished (monotonic, for rates) and its wall-clock time (Unix ms).
    pub at: Instant,
    pub wall_ms: u64,
    /// Replica base URLs the source lists now.
    pub listed: Vec<String>,
    /// Why the source could not list replicas (e.g. a DNS failure), if it failed.
    pub listing_error: Option<String>,
    /// `/api/stats` result of each listed replica, by URL.
    pub polls: Vec<(String, Result<StatsResponse, String>)>,
    /// The load generator's scrape, when one is configured.
    pub loadgen: Option<Result<LoadgenPage, String>>,
    /// The autoscaler's status, when the frontend has an autoscaler source.
    pub autoscaler: Option<Result<AutoscalerStatus, String>>,
}

/// Fixed facts about this frontend that appear in every summary.
#[derive(Debug, Clone)]
pub struct Facts {
    pub backend_url: String,
    /// Where replicas come from, for messages: "the replica list", "DNS of svc:8080".
    pub source: String,
    pub loadgen_url: Option<String>,
    /// Where the autoscaler's status is read (a URL, or the HPA), if anywhere.
    pub autoscaler: Option<String>,
    pub poll_interval: Duration,
    /// How long a replica that left the listing stays shown as down (headless DNS hides
    /// failing pods, which must not vanish silently); zero drops it at once.
    pub linger: Duration,
}

#[derive(Debug, Clone)]
struct Point {
    at: Instant,
    t_ms: u64,
    by_action: [f64; 3],
    errors: f64,
    p95: Option<f64>,
    up: u32,
    total: u32,
    lg_target: Option<f64>,
}

/// The aggregation state across polls.
#[derive(Debug)]
pub struct Aggregator {
    facts: Facts,
    tracks: Vec<Track>,
    history: VecDeque<Point>,
    loadgen: LoadgenTrack,
    autoscaler: Option<AutoscalerSummary>,
    polls: u64,
    last_wall_ms: Option<u64>,
    listing_error: Option<String>,
}

impl Aggregator {
    pub fn new(facts: Facts) -> Self {
        let loadgen = LoadgenTrack {
            message: "waiting for the first poll".into(),
            ..LoadgenTrack::default()
        };
        Self {
            facts,
            tracks: Vec::new(),
            history: VecDeque::new(),
            loadgen,
            autoscaler: None,
            polls: 0,
            last_wall_ms: None,
            listing_error: None,
        }
    }

    /// Folds one poll into the state.
    pub fn observe(&mut self, obs: Observation) {
        let now = obs.at;
        for url in &obs.listed {
            match self.tracks.iter_mut().find(|t| &t.url == url) {
                Some(t) => t.last_listed = now,
                None => self.tracks.push(Track {
                    url: url.clone(),
                    last: None,
                    up: false,
                    error: Some("not polled yet".into()),
                    rates: Rates::default(),
                    last_listed: now,
                    joined_ms: (self.polls > 0).then_some(obs.wall_ms),
                }),
            }
        }
        let linger = self.facts.linger;
        self.tracks
            .retain(|t| t.last_listed == now || now.duration_since(t.last_listed) < linger);
        for t in self.tracks.iter_mut().filter(|t| t.last_listed != now) {
            t.up = false;
            t.rates = Rates::default();
            t.error = Some(format!("no longer listed by {}", self.facts.source));
        }
        for (url, result) in obs.polls {
            if let Some(t) = self.tracks.iter_mut().find(|t| t.url == url) {
                update_track(t, result, now, obs.wall_ms);
            }
        }
        if let Some(lg) = obs.loadgen {
            update_loadgen(
                &mut self.loadgen,
                lg,
                now,
                self.facts.loadgen_url.as_deref(),
            );
        }
        if let (Some(result), Some(url)) = (obs.autoscaler, &self.facts.autoscaler) {
            self.autoscaler = Some(autoscaler_summary(
                url,
                result,
                self.autoscaler.take().and_then(|a| a.status),
            ));
        }
        self.listing_error = obs.listing_error;
        self.polls += 1;
        self.last_wall_ms = Some(obs.wall_ms);
        let current = self.current();
        self.history.push_back(Point {
            at: now,
            t_ms: obs.wall_ms,
            by_action: self.by_action(),
            errors: current.errors_per_s,
            p95: current.latency_p95_ms,
            up: current.replicas_up,
            total: current.replicas_total,
            lg_target: self
                .loadgen
                .running
                .then(|| self.loadgen.last.as_ref().and_then(|(_, s)| s.target_rps))
                .flatten(),
        });
        while self.history.len() > MAX_POINTS
            || self
                .history
                .front()
                .is_some_and(|p| now.duration_since(p.at) > WINDOW)
        {
            self.history.pop_front();
        }
    }

    /// Replicas up and listed after the last poll.
    pub fn replica_counts(&self) -> (u32, u32) {
        let up = self.tracks.iter().filter(|t| t.up).count();
        (count(up), count(self.tracks.len()))
    }

    fn up(&self) -> impl Iterator<Item = &Track> {
        self.tracks.iter().filter(|t| t.up)
    }

    fn by_action(&self) -> [f64; 3] {
        let mut sum = [0.0; 3];
        for t in self.up() {
            for (s, r) in sum.iter_mut().zip(t.rates.by_action) {
                *s += r;
            }
        }
        sum
    }

    fn current(&self) -> Current {
        let up: Vec<&Track> = self.up().collect();
        let stats = |t: &&Track| t.last.as_ref().map(|s| s.stats.clone()).unwrap_or_default();
        let requests: f64 = up.iter().map(|t| t.rates.requests()).sum();
        let quantile = |pick: fn(&StatsResponse) -> f64| -> Option<f64> {
            if up.is_empty() {
                return None;
            }
            let values = up.iter().map(|t| (t.rates.requests(), pick(&stats(t))));
            if requests > 0.0 {
                // What a request experienced on average: each replica by its traffic.
                Some(values.map(|(r, v)| r * v).sum::<f64>() / requests)
            } else {
                // No traffic in this poll: the replicas' recent window, if it has anything
                // (a replica with no recent request reports 0, which is not a latency).
                Some(values.map(|(_, v)| v).fold(0.0, f64::max)).filter(|v| *v > 0.0)
            }
        };
        let sum = |pick: fn(&StatsResponse) -> u64| up.iter().map(|t| pick(&stats(t))).sum();
        let (replicas_up, replicas_total) = self.replica_counts();
        Current {
            requests_per_s: requests,
            errors_per_s: up.iter().map(|t| t.rates.errors()).sum(),
            shed_per_s: up.iter().map(|t| t.rates.shed).sum(),
            latency_p50_ms: quantile(|s| s.latency_p50_ms),
            latency_p95_ms: quantile(|s| s.latency_p95_ms),
            active_sessions: sum(|s| s.active_sessions),
            in_flight: sum(|s| s.in_flight),
            queue_depth: sum(|s| s.queue_depth),
            workers: sum(|s| s.workers),
            // Totals keep down replicas' last known counts, so they do not drop on a blip.
            shed_total: self
                .tracks
                .iter()
                .filter_map(|t| t.last.as_ref())
                .map(|s| s.stats.shed_total)
                .sum(),
            replicas_up,
            replicas_total,
        }
    }

    fn backend_status(&self) -> BackendStatus {
        let every = HumanDuration(self.facts.poll_interval);
        let (up, total) = self.replica_counts();
        let urls = || {
            self.tracks
                .iter()
                .map(|t| t.url.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (state, message) = if self.polls == 0 {
            (
                BackendState::Starting,
                "Waiting for the first poll of the backend replicas".to_owned(),
            )
        } else if total == 0 {
            let why = self
                .listing_error
                .clone()
                .unwrap_or_else(|| format!("{} lists no replica", self.facts.source));
            (
                BackendState::NoReplicas,
                format!("No backend replica to poll: {why}; retrying every {every}"),
            )
        } else if up == 0 {
            let why = self
                .tracks
                .iter()
                .find_map(|t| t.error.clone())
                .unwrap_or_default();
            (
                BackendState::Unreachable,
                format!(
                    "Backend unreachable at {} ({why}); retrying every {every}",
                    urls()
                ),
            )
        } else if up < total {
            let down = self
                .tracks
                .iter()
                .filter(|t| !t.up)
                .map(|t| format!("{} ({})", t.url, t.error.as_deref().unwrap_or("down")))
                .collect::<Vec<_>>()
                .join(", ");
            (
                BackendState::Degraded,
                format!(
                    "{} of {total} replicas down: {down}; retrying every {every}",
                    total - up
                ),
            )
        } else {
            (BackendState::Ok, format!("All {total} replicas answering"))
        };
        BackendStatus {
            state,
            url: self.facts.backend_url.clone(),
            source: self.facts.source.clone(),
            message,
        }
    }

    /// The summary served as `/api/summary`.
    pub fn summary(&self) -> Summary {
        let current = self.current();
        let by_action = self.by_action();
        let requests = current.requests_per_s;
        let actions = Action::ALL
            .iter()
            .enumerate()
            .map(|(i, &action)| {
                let (mut ok_total, mut errors_total, mut errors_per_s) = (0, 0, 0.0);
                for t in &self.tracks {
                    if let Some(c) = t.last.as_ref().and_then(|s| counts(&s.stats, action)) {
                        ok_total += c.0;
                        errors_total += c.1;
                    }
                }
                for t in self.up() {
                    errors_per_s += t.rates.errors_by_action[i];
                }
                ActionSummary {
                    action,
                    ok_total,
                    errors_total,
                    rate_per_s: round(by_action[i]),
                    errors_per_s: round(errors_per_s),
                }
            })
            .collect();
        let replicas = self
            .tracks
            .iter()
            .map(|t| {
                let s = t.last.as_ref().map(|s| &s.stats);
                let live = |pick: fn(&StatsResponse) -> u64| {
                    if t.up { s.map(pick).unwrap_or(0) } else { 0 }
                };
                let share = if requests > 0.0 && t.up {
                    t.rates.requests() / requests
                } else {
                    0.0
                };
                ReplicaSummary {
                    url: t.url.clone(),
                    name: s.map(|s| s.replica.clone()),
                    up: t.up,
                    error: t.error.clone(),
                    requests_per_s: round(t.rates.requests()),
                    share: round(share),
                    cpu_cores: t.rates.cpu_cores.filter(|_| t.up).map(round),
                    memory_bytes: s.filter(|_| t.up).and_then(|s| s.memory_bytes),
                    latency_p50_ms: s.filter(|_| t.up).map(|s| round(s.latency_p50_ms)),
                    latency_p95_ms: s.filter(|_| t.up).map(|s| round(s.latency_p95_ms)),
                    active_sessions: live(|s| s.active_sessions),
                    in_flight: live(|s| s.in_flight),
                    queue_depth: live(|s| s.queue_depth),
                    workers: live(|s| s.workers),
                    shed_total: s.map(|s| s.shed_total).unwrap_or(0),
                    uptime_seconds: s.filter(|_| t.up).map(|s| round(s.uptime_seconds)),
                    last_seen_ms: t.last.as_ref().map(|s| s.wall_ms),
                    joined_ms: t.joined_ms,
                }
            })
            .collect();
        Summary {
            generated_at_ms: self.last_wall_ms,
            poll_interval_ms: u64::try_from(self.facts.poll_interval.as_millis())
                .unwrap_or(u64::MAX),
            polls: self.polls,
            backend: self.backend_status(),
            current: Current {
                requests_per_s: round(current.requests_per_s),
                errors_per_s: round(current.errors_per_s),
                shed_per_s: round(current.shed_per_s),
                latency_p50_ms: current.latency_p50_ms.map(round),
                latency_p95_ms: current.latency_p95_ms.map(round),
                ..current
            },
            actions,
            replicas,
            loadgen: self.loadgen_summary(),
            autoscaler: self.autoscaler.clone(),
            history: self.history(),
        }
    }

    fn loadgen_summary(&self) -> Option<LoadgenSummary> {
        let url = self.facts.loadgen_url.clone()?;
        let lg = &self.loadgen;
        let last = lg.last.as_ref().filter(|_| lg.running).map(|(_, s)| s);
        let total = |pick: fn(&LoadgenPage) -> Option<f64>| {
            last.and_then(pick).map(|v| v.max(0.0).round() as u64)
        };
        Some(LoadgenSummary {
            url,
            running: lg.running,
            message: lg.message.clone(),
            target_rps: last.and_then(|s| s.target_rps).map(round),
            current_rps: last.and_then(|s| s.current_rps).map(round),
            sent_total: total(|s| s.sent_total),
            errors_total: total(|s| s.errors_total),
            dropped_total: total(|s| s.dropped_total),
            errors_per_s: lg.errors_per_s.filter(|_| lg.running).map(round),
            dropped_per_s: lg.dropped_per_s.filter(|_| lg.running).map(round),
        })
    }

    fn history(&self) -> History {
        let h = &self.history;
        History {
            t_ms: h.iter().map(|p| p.t_ms).collect(),
            requests_per_s: h.iter().map(|p| round(p.by_action.iter().sum())).collect(),
            by_action: Action::ALL
                .iter()
                .enumerate()
                .map(|(i, &action)| ActionHistory {
                    action,
                    rate_per_s: h.iter().map(|p| round(p.by_action[i])).collect(),
                })
                .collect(),
            errors_per_s: h.iter().map(|p| round(p.errors)).collect(),
            latency_p95_ms: h.iter().map(|p| p.p95.map(round)).collect(),
            replicas_up: h.iter().map(|p| p.up).collect(),
            replicas_total: h.iter().map(|p| p.total).collect(),
            loadgen_target_rps: h.iter().map(|p| p.lg_target.map(round)).collect(),
        }
    }
}

/// Rounds to 3 decimals: enough for the page, and a much smaller JSON.
fn round(v: f64) -> f64 {
    if v.is_finite() {
        // `+ 0.0` turns the -0.0 of an empty f64 sum into 0.
        (v * 1000.0).round() / 1000.0 + 0.0
    } else {
        0.0
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;

/// The autoscaler as the page shows it: its latest status, or the last one known with why
/// it could not be read this time.
fn autoscaler_summary(
    url: &str,
    result: Result<AutoscalerStatus, String>,
    last: Option<AutoscalerStatus>,
) -> AutoscalerSummary {
    match result {
        Ok(status) => AutoscalerSummary {
            url: url.to_owned(),
            message: "reachable".into(),
            status: Some(status),
        },
        Err(e) => AutoscalerSummary {
            url: url.to_owned(),
            message: format!("not read at {url}: {e}"),
            status: last,
        },
    }
}
