//! Every way of giving the load's shape, as the server saw it: arrivals per second compared
//! with the plan's (differences of `Curve::count_before`), and for Poisson arrivals with the
//! seeded schedule itself and with the plan within its noise.

use std::sync::atomic::Ordering;
use std::time::Duration;

use common::load::stages::stages_curve;
use common::load::{Arrivals, Curve, Profile, Ramp, Schedule, Shard, parse_stages};

use crate::helpers::{config, run};
use crate::server::Server;

const LIMIT: Duration = Duration::from_secs(60);
const S: u64 = 1_000_000_000;

/// Arrivals per second as the server saw them, placing its first arrival at `first_ns` (the
/// schedule's first instant).
fn seen_per_second(server: &Server, first_ns: u64, seconds: usize) -> Vec<f64> {
    let mut counts = vec![0.0; seconds];
    for s in server.state.seen() {
        let t = first_ns + u64::try_from(s.since_first.as_nanos()).unwrap();
        let k = ((t / S) as usize).min(seconds - 1);
        counts[k] += 1.0;
    }
    counts
}

/// The plan's requests per second: request n goes out when the rate integral reaches n, so
/// `[a, b)` holds `ceil(C(b)) - ceil(C(a))` of them.
fn planned_per_second(curve: &Curve, seconds: usize) -> Vec<f64> {
    (0..seconds as u64)
        .map(|k| curve.count_before((k + 1) * S).ceil() - curve.count_before(k * S).ceil())
        .collect()
}

fn instants(curve: &Curve, arrivals: Arrivals) -> Vec<u64> {
    Schedule::new(curve.clone(), arrivals, Shard::WHOLE)
        .iter()
        .map(|(_, at)| at)
        .collect()
}

/// Each second within two requests (plus 2 % of its count: a request due at a second's
/// edge may land on either side of it).
fn assert_per_second(seen: &[f64], want: &[f64], what: &str) {
    for (k, (s, w)) in seen.iter().zip(want).enumerate() {
        assert!(
            (s - w).abs() <= 2.0 + 0.02 * w,
            "{what}, second {k}: the server saw {s}, the plan has {w}\nseen {seen:?}\nplan {want:?}"
        );
    }
}

/// Runs `args` against a fresh server and checks it against the uniform plan `curve`.
async fn assert_follows_the_plan(args: &[&str], curve: &Curve, what: &str) {
    let server = Server::ok().await;
    let mut all = vec!["--url", "/"];
    all.extend_from_slice(args);
    let report = run(config(&server.url, &all), LIMIT).await;
    let planned = instants(curve, Arrivals::Uniform);
    assert_eq!(report.total.sent, planned.len() as u64, "{what}");
    assert_eq!(
        server.state.requests.load(Ordering::SeqCst),
        planned.len() as u64,
        "{what}"
    );
    let seconds = curve.duration().as_secs_f64().ceil() as usize;
    let seen = seen_per_second(&server, planned[0], seconds);
    assert_per_second(&seen, &planned_per_second(curve, seconds), what);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_from_zero_sends_from_its_first_second_as_planned() {
    let stages = "3s:40,2s:40,2s:0";
    let curve = stages_curve(0.0, &parse_stages(stages).unwrap());
    // The defect this guards: nothing for the whole first stage, then all of it at once.
    assert!(planned_per_second(&curve, 7)[0] >= 5.0);
    assert_follows_the_plan(&["--stages", stages], &curve, "--stages").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exponential_ramp_steps_up_as_planned() {
    let args = [
        "--base-rps",
        "20",
        "--ramp-factor",
        "2",
        "--ramp-interval",
        "1s",
        "--duration",
        "3s",
    ];
    let curve = Ramp {
        base_rps: 20.0,
        factor: 2.0,
        interval: Duration::from_secs(1),
        max_rps: None,
        duration: Duration::from_secs(3),
    }
    .curve()
    .unwrap();
    assert_eq!(planned_per_second(&curve, 3), [20.0, 40.0, 80.0]);
    assert_follows_the_plan(&args, &curve, "ramp").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_profile_runs_time_scaled() {
    // spike: 104 s of 10 rps with a 500 rps plateau; at 0.05 it takes 5.2 s.
    let curve = Profile::Spike.curve().scaled(0.05).unwrap();
    assert_eq!(curve.duration(), Duration::from_millis(5200));
    let args = ["--profile", "spike", "--time-scale", "0.05"];
    assert_follows_the_plan(&args, &curve, "--profile spike").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_arrivals_follow_the_seeded_schedule_and_the_plan() {
    let server = Server::ok().await;
    let args = [
        "--url",
        "/",
        "--arrival",
        "poisson",
        "--seed",
        "7",
        "--base-rps",
        "200",
        "--ramp-factor",
        "1",
        "--duration",
        "3s",
    ];
    let report = run(config(&server.url, &args), LIMIT).await;
    let curve = Ramp {
        base_rps: 200.0,
        factor: 1.0,
        interval: Duration::from_secs(45),
        max_rps: None,
        duration: Duration::from_secs(3),
    }
    .curve()
    .unwrap();
    let schedule = instants(&curve, Arrivals::Poisson { seed: 7 });
    let n = schedule.len() as u64;
    assert_eq!(report.total.sent, n);
    assert_eq!(server.state.requests.load(Ordering::SeqCst), n);
    let seen = seen_per_second(&server, schedule[0], 3);
    let mut want = vec![0.0; 3];
    for at in &schedule {
        want[((at / S) as usize).min(2)] += 1.0;
    }
    assert_per_second(&seen, &want, "poisson against its schedule");
    // And the schedule against the plan: 200 a second, within 5 standard deviations.
    for w in &want {
        assert!((w - 200.0).abs() <= 5.0 * 200f64.sqrt(), "{want:?}");
    }
    // Random gaps, as the server saw them: their spread is about their mean (it is 0 for
    // evenly spaced arrivals).
    let mut times: Vec<f64> = server
        .state
        .seen()
        .iter()
        .map(|s| s.since_first.as_secs_f64())
        .collect();
    times.sort_by(f64::total_cmp);
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    let cv = var.sqrt() / mean;
    assert!(
        (0.75..1.3).contains(&cv),
        "coefficient of variation of the gaps {cv}"
    );
}
