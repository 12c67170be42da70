//! Unit tests of the aggregation with a hand-driven clock.

use super::*;
use common::api::ActionCounts;

const A: &str = "http://10.0.0.1:8080";
const B: &str = "http://10.0.0.2:8080";

fn facts(linger: Duration) -> Facts {
    Facts {
        backend_url: "http://backend:8080".into(),
        source: "the replica list".into(),
        loadgen_url: Some("http://lg:2112".into()),
        autoscaler: Some("http://orchestrator:9000".into()),
        poll_interval: Duration::from_secs(1),
        linger,
    }
}

/// Stats with `book` interactions (ok) and `fail` errors of give_feedback.
fn stats(name: &str, uptime: f64, book: u64, fail: u64, p95: f64) -> StatsResponse {
    StatsResponse {
        replica: name.into(),
        uptime_seconds: uptime,
        interactions: vec![
            ActionCounts {
                action: Action::BookTicket,
                ok: book,
                errors: 0,
            },
            ActionCounts {
                action: Action::GiveFeedback,
                ok: 0,
                errors: fail,
            },
        ],
        active_sessions: 2,
        queue_depth: 1,
        latency_p50_ms: p95 / 2.0,
        latency_p95_ms: p95,
        ..StatsResponse::default()
    }
}

struct Clock {
    start: Instant,
    secs: f64,
}

impl Clock {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            secs: 0.0,
        }
    }
    fn obs(
        &mut self,
        advance: f64,
        polls: Vec<(&str, Result<StatsResponse, String>)>,
    ) -> Observation {
        self.secs += advance;
        Observation {
            at: self.start + Duration::from_secs_f64(self.secs),
            wall_ms: 1_700_000_000_000 + (self.secs * 1000.0) as u64,
            listed: polls.iter().map(|(u, _)| (*u).to_owned()).collect(),
            listing_error: None,
            polls: polls.into_iter().map(|(u, r)| (u.to_owned(), r)).collect(),
            loadgen: None,
            autoscaler: None,
        }
    }
}

fn approx(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn before_the_first_poll_the_summary_says_starting() {
    let s = Aggregator::new(facts(Duration::ZERO)).summary();
    assert_eq!(s.backend.state, BackendState::Starting);
    assert_eq!(s.generated_at_ms, None);
    assert!(s.history.t_ms.is_empty());
    assert_eq!(s.current.latency_p95_ms, None);
}

#[test]
fn rates_shares_totals_and_weighted_latency_across_two_replicas() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    agg.observe(c.obs(
        0.0,
        vec![
            (A, Ok(stats("a", 10.0, 100, 0, 10.0))),
            (B, Ok(stats("b", 10.0, 0, 0, 40.0))),
        ],
    ));
    // 2 s later: a booked 30 more (15/s), b booked 10 and failed 10 feedbacks (10/s).
    agg.observe(c.obs(
        2.0,
        vec![
            (A, Ok(stats("a", 12.0, 130, 0, 10.0))),
            (B, Ok(stats("b", 12.0, 10, 10, 40.0))),
        ],
    ));
    let s = agg.summary();
    assert_eq!(s.backend.state, BackendState::Ok);
    assert!(approx(s.current.requests_per_s, 25.0), "{:?}", s.current);
    assert!(approx(s.current.errors_per_s, 5.0));
    assert_eq!(s.actions[0].action, Action::BookTicket);
    assert!(approx(s.actions[0].rate_per_s, 20.0));
    assert_eq!(s.actions[0].ok_total, 140);
    assert_eq!(s.actions[2].errors_total, 10);
    assert!(approx(s.actions[2].errors_per_s, 5.0));
    // Weighted by traffic: (15*10 + 10*40) / 25 = 22.
    assert!(approx(s.current.latency_p95_ms.unwrap(), 22.0));
    assert!(approx(s.replicas[0].share, 0.6));
    assert!(approx(s.replicas[1].share, 0.4));
    assert_eq!(s.current.active_sessions, 4);
    assert_eq!(s.current.queue_depth, 2);
    assert_eq!((s.current.replicas_up, s.current.replicas_total), (2, 2));
    assert_eq!(s.history.t_ms.len(), 2);
    assert!(approx(s.history.requests_per_s[1], 25.0));
    assert!(approx(s.history.by_action[0].rate_per_s[1], 20.0));
}

#[test]
fn a_replicas_cpu_is_its_cpu_time_per_second_beside_its_memory() {
    let with = |cpu: Option<f64>, memory: Option<f64>, uptime: f64| StatsResponse {
        cpu_seconds: cpu,
        memory_bytes: memory,
        ..stats("a", uptime, 0, 0, 1.0)
    };
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    agg.observe(c.obs(
        0.0,
        vec![
            (A, Ok(with(Some(1.0), Some(5e6), 10.0))),
            (B, Ok(with(None, None, 10.0))),
        ],
    ));
    // a used 0.5 s of CPU in 2 s; b reports none.
    agg.observe(c.obs(
        2.0,
        vec![
            (A, Ok(with(Some(1.5), Some(6e6), 12.0))),
            (B, Ok(with(None, None, 12.0))),
        ],
    ));
    let s = agg.summary();
    assert_eq!(s.replicas[0].cpu_cores, Some(0.25));
    assert_eq!(s.replicas[0].memory_bytes, Some(6e6));
    assert_eq!(
        (s.replicas[1].cpu_cores, s.replicas[1].memory_bytes),
        (None, None)
    );
    // Restarted (uptime 1 s): its CPU since the restart, never a negative rate.
    agg.observe(c.obs(2.0, vec![(A, Ok(with(Some(0.2), Some(6e6), 1.0)))]));
    let cpu = agg.summary().replicas[0].cpu_cores;
    assert!(cpu.is_some_and(|c| approx(c, 0.2)), "{cpu:?}");
}

#[test]
fn a_replica_that_stops_answering_is_down_counted_and_recovers() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    agg.observe(c.obs(
        0.0,
        vec![
            (A, Ok(stats("a", 1.0, 0, 0, 5.0))),
            (B, Ok(stats("b", 1.0, 0, 0, 5.0))),
        ],
    ));
    agg.observe(c.obs(
        1.0,
        vec![
            (A, Ok(stats("a", 2.0, 10, 0, 5.0))),
            (B, Err("cannot connect: Connection refused".into())),
        ],
    ));
    let s = agg.summary();
    assert_eq!(s.backend.state, BackendState::Degraded);
    assert!(s.backend.message.contains(B), "{}", s.backend.message);
    assert!(s.backend.message.contains("Connection refused"));
    assert_eq!((s.current.replicas_up, s.current.replicas_total), (1, 2));
    assert!(!s.replicas[1].up);
    assert_eq!(s.replicas[1].name.as_deref(), Some("b"));
    assert!(approx(s.replicas[0].share, 1.0));

    agg.observe(c.obs(
        1.0,
        vec![
            (A, Err("no answer within 750 ms".into())),
            (B, Err("refused".into())),
        ],
    ));
    let s = agg.summary();
    assert_eq!(s.backend.state, BackendState::Unreachable);
    assert!(
        s.backend.message.starts_with("Backend unreachable at ")
            && s.backend.message.ends_with("retrying every 1s"),
        "{}",
        s.backend.message
    );
    assert_eq!(s.current.latency_p95_ms, None);
    // Totals keep the last known counts of down replicas.
    assert_eq!(s.actions[0].ok_total, 10);

    agg.observe(c.obs(
        1.0,
        vec![
            (A, Ok(stats("a", 4.0, 20, 0, 5.0))),
            (B, Ok(stats("b", 4.0, 6, 0, 5.0))),
        ],
    ));
    let s = agg.summary();
    assert_eq!(s.backend.state, BackendState::Ok);
    assert_eq!(s.history.replicas_up, vec![2, 1, 0, 2]);
    assert_eq!(s.history.replicas_total, vec![2, 2, 2, 2]);
    // a: 10 more over the 2 s since its last answer; b: 6 over 3 s.
    assert!(approx(s.replicas[0].requests_per_s, 5.0));
    assert!(approx(s.replicas[1].requests_per_s, 2.0));
}

#[test]
fn a_restarted_replica_never_gives_negative_rates() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    agg.observe(c.obs(0.0, vec![(A, Ok(stats("a", 100.0, 500, 0, 5.0)))]));
    // Restarted 2 s ago with 8 bookings since: 4/s, not (8-500)/5.
    agg.observe(c.obs(5.0, vec![(A, Ok(stats("a", 2.0, 8, 0, 5.0)))]));
    let s = agg.summary();
    assert!(approx(s.current.requests_per_s, 4.0), "{:?}", s.current);
}

#[test]
fn history_keeps_ten_minutes() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    for i in 0..700 {
        agg.observe(c.obs(1.0, vec![(A, Ok(stats("a", f64::from(i), 0, 0, 5.0)))]));
    }
    let h = agg.summary().history;
    assert_eq!(h.t_ms.len(), 601);
    assert_eq!(h.t_ms.last().unwrap() - h.t_ms[0], 600_000);
    assert!(h.by_action.iter().all(|a| a.rate_per_s.len() == 601));
}

#[test]
fn a_replica_gone_from_dns_lingers_as_down_then_leaves() {
    let mut agg = Aggregator::new(facts(Duration::from_secs(30)));
    let mut c = Clock::new();
    agg.observe(c.obs(
        0.0,
        vec![
            (A, Ok(stats("a", 1.0, 0, 0, 5.0))),
            (B, Ok(stats("b", 1.0, 0, 0, 5.0))),
        ],
    ));
    agg.observe(c.obs(1.0, vec![(A, Ok(stats("a", 2.0, 0, 0, 5.0)))]));
    let s = agg.summary();
    assert_eq!((s.current.replicas_up, s.current.replicas_total), (1, 2));
    assert!(
        s.replicas[1]
            .error
            .as_deref()
            .unwrap()
            .contains("no longer listed")
    );
    agg.observe(c.obs(31.0, vec![(A, Ok(stats("a", 33.0, 0, 0, 5.0)))]));
    assert_eq!(agg.replica_counts(), (1, 1));
}

#[test]
fn an_empty_listing_says_why() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    let mut obs = c.obs(0.0, vec![]);
    obs.listing_error = Some("cannot resolve backend-headless:8080".into());
    agg.observe(obs);
    let s = agg.summary();
    assert_eq!(s.backend.state, BackendState::NoReplicas);
    assert!(
        s.backend.message.contains("cannot resolve"),
        "{}",
        s.backend.message
    );
}

#[test]
fn loadgen_is_shown_not_running_then_running_with_rates() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    let mut obs = c.obs(0.0, vec![(A, Ok(stats("a", 1.0, 0, 0, 5.0)))]);
    obs.loadgen = Some(Err("cannot connect: Connection refused".into()));
    agg.observe(obs);
    let lg = agg.summary().loadgen.unwrap();
    assert!(!lg.running);
    assert!(lg.message.contains("not running"), "{}", lg.message);
    assert_eq!(lg.target_rps, None);

    let sample = |dropped: f64| LoadgenPage {
        target_rps: Some(50.0),
        current_rps: Some(48.0),
        sent_total: Some(100.0),
        errors_total: Some(0.0),
        dropped_total: Some(dropped),
        ..LoadgenPage::default()
    };
    for (advance, dropped) in [(1.0, 10.0), (2.0, 16.0)] {
        let mut obs = c.obs(advance, vec![(A, Ok(stats("a", 1.0, 0, 0, 5.0)))]);
        obs.loadgen = Some(Ok(sample(dropped)));
        agg.observe(obs);
    }
    let s = agg.summary();
    let lg = s.loadgen.unwrap();
    assert!(lg.running);
    assert_eq!(lg.target_rps, Some(50.0));
    assert_eq!(lg.dropped_total, Some(16));
    assert_eq!(lg.dropped_per_s, Some(3.0));
    assert_eq!(
        s.history.loadgen_target_rps,
        vec![None, Some(50.0), Some(50.0)]
    );
}

#[test]
fn without_traffic_latency_is_the_recent_window_or_unknown() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    agg.observe(c.obs(
        0.0,
        vec![
            (A, Ok(stats("a", 1.0, 5, 0, 0.0))),
            (B, Ok(stats("b", 1.0, 5, 0, 30.0))),
        ],
    ));
    agg.observe(c.obs(
        1.0,
        vec![
            (A, Ok(stats("a", 2.0, 5, 0, 0.0))),
            (B, Ok(stats("b", 2.0, 5, 0, 30.0))),
        ],
    ));
    // No request in the last poll: the highest recent p95 a replica still reports.
    assert_eq!(agg.summary().current.latency_p95_ms, Some(30.0));
    agg.observe(c.obs(
        1.0,
        vec![
            (A, Ok(stats("a", 3.0, 5, 0, 0.0))),
            (B, Ok(stats("b", 3.0, 5, 0, 0.0))),
        ],
    ));
    // Nothing recent anywhere: unknown, not "0 ms".
    let s = agg.summary();
    assert_eq!(s.current.latency_p95_ms, None);
    assert_eq!(s.history.latency_p95_ms.last(), Some(&None));
}

fn status(desired: u32, value: Option<f64>) -> common::api::AutoscalerStatus {
    common::api::AutoscalerStatus {
        mode: "hpa".into(),
        metric: "rps_per_replica".into(),
        target: 50.0,
        value,
        desired,
        ready: 1,
        min: 1,
        max: 4,
        reason: "ScaleUp".into(),
    }
}

/// The page shows nothing of an autoscaler until it is polled, then its latest status; a
/// failed poll keeps the last status known and says why it is stale.
#[test]
fn the_autoscaler_shows_its_latest_status_and_keeps_it_through_a_failed_poll() {
    let mut agg = Aggregator::new(facts(Duration::ZERO));
    let mut c = Clock::new();
    agg.observe(c.obs(1.0, vec![(A, Ok(stats("a", 1.0, 0, 0, 5.0)))]));
    assert_eq!(agg.summary().autoscaler, None);

    let mut obs = c.obs(1.0, vec![(A, Ok(stats("a", 2.0, 0, 0, 5.0)))]);
    obs.autoscaler = Some(Ok(status(3, Some(120.0))));
    agg.observe(obs);
    let shown = agg.summary().autoscaler.unwrap();
    assert_eq!(shown.status, Some(status(3, Some(120.0))));
    assert_eq!(shown.message, "reachable");

    let mut obs = c.obs(1.0, vec![(A, Ok(stats("a", 3.0, 0, 0, 5.0)))]);
    obs.autoscaler = Some(Err("cannot connect: Connection refused".into()));
    agg.observe(obs);
    let shown = agg.summary().autoscaler.unwrap();
    assert_eq!(
        shown.status,
        Some(status(3, Some(120.0))),
        "the last status is kept"
    );
    assert!(
        shown.message.contains("Connection refused"),
        "{}",
        shown.message
    );
    assert!(
        shown.message.contains("http://orchestrator:9000"),
        "{}",
        shown.message
    );
}
