//! Resource use measured on the real local runtime: a short run with a quiet baseline and a
//! steady load, every component in this process, Prometheus from PATH when installed.

use common::HumanDuration;
use orchestrator::local::runtime::LocalRuntime;
use orchestrator::report::Report;
use orchestrator::resources::{ComponentUsage, PROCESS};
use orchestrator::timeline::{RunOptions, phase, run};
use scenario::Scenario;

/// A port base no other test of this binary uses.
const PORT_BASE: u16 = 24_710;

fn usage<'a>(r: &'a Report, phase: &str, instance: &str) -> &'a ComponentUsage {
    let section = r.resources.as_ref().expect("a resources section");
    section
        .phases
        .iter()
        .find(|p| p.phase == phase)
        .and_then(|p| p.components.iter().find(|c| c.instance == instance))
        .unwrap_or_else(|| panic!("no {instance} in {phase}: {section:#?}"))
}

type Get = fn(&orchestrator::resources::Usage) -> Option<f64>;

/// The last sample where both `a` and `b` were read (one round: one instant), with its
/// time: the load generator's page is gone once it stopped.
fn last_pair(r: &Report, a: (&str, Get), b: (&str, Get)) -> (f64, f64, f64) {
    let read = |p: &orchestrator::sample::Point, (i, get): (&str, Get)| {
        p.usage.iter().find(|u| u.instance == i).and_then(get)
    };
    r.points
        .iter()
        .rev()
        .find_map(|p| Some((p.t, read(p, a)?, read(p, b)?)))
        .expect("a sample with both readings")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_cpu_follows_its_load_and_the_byte_counts_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::default();
    s.uuid = "resources".into();
    s.baseline_pause = HumanDuration::from_millis(4000);
    s.load_pause = HumanDuration::from_millis(5000);
    s.load_scale_delay = HumanDuration::from_millis(1000);
    s.backend_scale_replicas = 1;
    // A steady 200 requests per second that one replica carries without queueing.
    s.load.base_rps = 200.0;
    s.load.ramp_factor = 1.0;
    s.load.run_duration = HumanDuration::from_millis(60_000);
    s.backend_capacity.workers = 16;
    s.backend_capacity.service_time = HumanDuration::from_millis(1);
    let rt = LocalRuntime::new(s.clone(), PORT_BASE, dir.path().join("resources")).unwrap();
    let opts = RunOptions {
        scenario: s,
        config: scenario::Effective::default(),
        runs_dir: dir.path().to_owned(),
        hold: false,
        keep: false,
        progress: false,
    };
    let result = run(rt, opts, std::future::pending()).await;
    let r = &result.report;
    assert_eq!(result.exit_code(), 0, "{:?}", r.outcome);
    let section = r.resources.as_ref().unwrap();
    assert!(section.gaps.is_empty(), "{:?}", section.gaps);

    // CPU: near zero at baseline, well above it under load (an ordering, not a constant).
    let (base, load) = (
        usage(r, phase::BASELINE, "backend-0"),
        usage(r, phase::LOAD, "backend-0"),
    );
    let (base_cpu, load_cpu) = (base.cpu_cores_avg.unwrap(), load.cpu_cores_avg.unwrap());
    assert!(
        base_cpu * 4.0 < load_cpu && base_cpu < load.cpu_cores_max.unwrap(),
        "baseline {base_cpu} cores, load {load_cpu} cores"
    );
    let lg = usage(r, phase::LOAD, "loadgen");
    assert!(lg.cpu_cores_avg.unwrap() > 0.0, "{lg:?}");
    let per_1k = section
        .phases
        .iter()
        .find(|p| p.phase == phase::LOAD)
        .and_then(|p| p.backend_cpu_seconds_per_1k_requests);
    assert!(per_1k.is_some_and(|v| v > 0.0), "{per_1k:?}");
    // The process holds every component: its CPU is at least the replicas', its RSS real.
    let process = usage(r, phase::LOAD, PROCESS);
    assert!(
        process.cpu_cores_avg.unwrap() >= load_cpu * 0.9,
        "{process:?}"
    );
    assert!(
        process.memory_bytes_max.unwrap() > 1_048_576.0,
        "{process:?}"
    );

    // Network: what the load generator wrote is what the replica read, besides the scrapes
    // and stats polls it also gets, whose rate the baseline shows.
    let (t, sent, received) = last_pair(
        r,
        ("loadgen", |u| u.net_tx_bytes),
        ("backend-0", |u| u.net_rx_bytes),
    );
    let background = base.net_rx_bytes_per_s.unwrap() * t;
    let from_load = received - background;
    assert!(sent > 100_000.0, "the load generator sent {sent} bytes");
    assert!(
        (from_load - sent).abs() / sent < 0.03,
        "loadgen sent {sent} B, backend-0 received {received} B of which {background} B background"
    );
    // And the answers the other way.
    let (_, read, answered) = last_pair(
        r,
        ("loadgen", |u| u.net_rx_bytes),
        ("backend-0", |u| u.net_tx_bytes),
    );
    assert!(answered >= read && read > sent / 2.0, "{answered} {read}");

    // What the components count themselves: the replica holds the load generator's
    // sessions under load and none before it; both sides keep their in-flight counts.
    let held = |u: &ComponentUsage, name: &str| u.held.get(name).map(|h| h.max);
    let load_sessions = held(load, "sessions").unwrap_or_else(|| panic!("{load:?}"));
    assert!(
        load_sessions > held(base, "sessions").unwrap_or(0.0),
        "{base:?} {load:?}"
    );
    for (u, name) in [
        (load, "requests_in_flight"),
        (load, "requests_queued"),
        (lg, "requests_in_flight"),
    ] {
        assert!(held(u, name).is_some_and(|v| v >= 0.0), "{name}: {u:?}");
    }

    let md = std::fs::read_to_string(result.dir.join("report.md")).unwrap();
    assert!(
        md.contains("## Resources") && md.contains("| load | backend-0 |"),
        "{md}"
    );
    assert!(
        md.contains("holds (avg / max)") && md.contains("sessions "),
        "{md}"
    );
    let html = std::fs::read_to_string(result.dir.join("report.html")).unwrap();
    for id in [
        "chart-cpu-backend",
        "chart-cpu-loadgen",
        "chart-memory-process",
    ] {
        assert!(html.contains(id), "report.html has no {id}");
    }
}

/// `autoscale_metric = cpu` locally: the autoscaler reads each replica's measured CPU (its
/// named threads) over the sync period, in % of one core.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_autoscaler_reads_the_replicas_measured_cpu() {
    use orchestrator::runtime::Runtime;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Scenario::default();
    s.uuid = "cpu-autoscale".into();
    s.autoscale.mode = scenario::ScaleMode::Hpa;
    s.autoscale.metric = scenario::AutoscaleMetric::Cpu;
    s.autoscale.min = 1;
    s.autoscale.max = 1;
    s.load.base_rps = 200.0;
    s.load.ramp_factor = 1.0;
    s.load.run_duration = HumanDuration::from_millis(60_000);
    s.backend_capacity.workers = 16;
    s.backend_capacity.service_time = HumanDuration::from_millis(1);
    let mut rt = LocalRuntime::new(s, PORT_BASE + 30, dir.path().to_owned()).unwrap();
    rt.deploy().await.unwrap();
    let first = rt.autoscale_sync(Duration::ZERO).await.unwrap();
    // A replica's first sync has no period to difference: unready, no value yet.
    assert_eq!(first.value, None, "{first:?}");
    rt.start_load().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = rt.autoscale_sync(Duration::from_secs(3)).await.unwrap();
    rt.teardown(false).await.unwrap();
    let cpu = loaded.value.expect("a CPU reading of backend-0");
    // 200 requests a second cost CPU, and one replica cannot use more than the cores there are.
    let cores = std::thread::available_parallelism().map_or(64, |n| n.get()) as f64;
    assert!(cpu > 0.0 && cpu <= cores * 100.0, "{cpu} % of a core");
}
