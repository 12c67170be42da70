//! `scenarios/hpa.toml` end to end on the local runtime: the HPA algorithm scales the backend
//! up under the ramp, errors and p95 recover, and it scales back down in the cooldown. Every
//! assertion is derived from the run's own points, syncs and events.

use std::process::Command;

use orchestrator::report::{Report, phase_stats};
use orchestrator::timeline::phase;

const HPA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/hpa.toml");

#[test]
fn hpa_scenario_scales_up_under_the_ramp_recovers_and_scales_back_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["run", "--scenario", HPA, "--uuid", "hpa-e2e"])
        .args(["--port-base", "23760", "--runs-dir"])
        .arg(dir.path())
        // A CI gate on how the autoscaler reacted: bounds the story meets with room to spare.
        .args(["--threshold", "run.load_to_scale_up<60s"])
        .args(["--threshold", "run.unload_to_min<5m"])
        .spawn()
        .unwrap();
    let shown = live_ui_autoscaler(&mut child, "http://127.0.0.1:23760");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let r = Report::read(&dir.path().join("hpa-e2e")).unwrap();
    let a = r.autoscale.as_ref().expect("an autoscale section");
    let names: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            phase::DEPLOY,
            phase::BASELINE,
            phase::LOAD,
            phase::UNLOAD,
            phase::COOLDOWN
        ]
    );
    let load = r.phase(phase::LOAD).unwrap();
    let unload = r.phase(phase::UNLOAD).unwrap();

    // Scaled up under the ramp: the first event of the load is up, and the replicas the
    // autoscaler asked for became ready.
    let ups: Vec<_> = a
        .events
        .iter()
        .filter(|e| e.to > e.from && e.t >= load.start && e.t <= load.end)
        .collect();
    let first = ups.first().expect("a scale-up during the load");
    assert!(
        first.value.is_some_and(|v| v > a.target),
        "scaled up on a reading above the target: {first:?}"
    );
    let peak = ups.iter().map(|e| e.to).max().unwrap();
    assert!(peak > a.min && peak <= a.max, "{:?}", a.events);
    assert!(
        r.points.iter().any(|p| p.backend_ready == peak),
        "{peak} replicas became ready"
    );
    let reaction = &a.reaction;
    let to_up = reaction.load_to_scale_up.unwrap();
    assert!((to_up - (first.t - load.start)).abs() < 1e-6);
    assert!(reaction.load_to_new_replica_ready.unwrap() >= to_up);

    // Recovered: after the last scale-up, errors and p95 fall below the saturated stretch
    // between the load start and the last scale-up.
    let last_up = ups.last().unwrap().t;
    let saturated = phase_stats(
        &r.points,
        &orchestrator::report::Phase {
            name: "saturated".into(),
            start: load.start,
            end: last_up,
        },
    );
    let settled = phase_stats(
        &r.points,
        &orchestrator::report::Phase {
            name: "settled".into(),
            start: last_up + (load.end - last_up) / 2.0,
            end: load.end,
        },
    );
    assert!(
        saturated.error_rate > 0.0,
        "one replica shed: {saturated:?}"
    );
    assert!(
        settled.error_rate < saturated.error_rate / 2.0,
        "{} vs {}",
        settled.error_rate,
        saturated.error_rate
    );
    let (sp, tp) = (
        saturated.client_latency.p95.unwrap(),
        settled.client_latency.p95.unwrap(),
    );
    assert!(tp < sp, "settled p95 {tp} vs saturated {sp}");
    assert!(
        reaction.load_to_p95_recovered.is_some(),
        "p95 back under {:?} ms",
        reaction.recovered_p95_ms
    );

    // Scaled down in the cooldown, not before the window, and back at min.
    let downs: Vec<_> = a
        .events
        .iter()
        .filter(|e| e.to < e.from && e.t >= unload.start)
        .collect();
    assert!(!downs.is_empty(), "{:?}", a.events);
    let window = r
        .scenario
        .autoscale
        .scale_down_stabilization
        .get()
        .as_secs_f64();
    assert!(
        downs[0].t - unload.start >= window - r.scenario.autoscale.sync_period.get().as_secs_f64(),
        "scaled down {:.1} s after the unload, inside the {window} s window",
        downs[0].t - unload.start
    );
    assert_eq!(downs.last().unwrap().to, a.min);
    assert!(reaction.unload_to_min.is_some());
    let last = r.points.last().unwrap();
    assert_eq!(last.backend_ready, a.min);

    // The live UI showed the autoscaler asking for more replicas than were ready, on the
    // same metric and target as the report.
    let scaling = shown
        .iter()
        .find(|st| st["desired"].as_u64() > st["ready"].as_u64());
    let scaling = scaling.unwrap_or_else(|| panic!("no scale-up on the live UI: {shown:?}"));
    assert_eq!(scaling["metric"], a.metric.as_str());
    assert_eq!(scaling["target"].as_f64(), Some(a.target));

    // The gate read the same reaction figures the report shows, in milliseconds.
    let gate = r.gate.as_ref().expect("a gate");
    let actual = |name: &str| {
        let check = gate.thresholds.iter().find(|c| c.name.starts_with(name));
        let check = check.unwrap_or_else(|| panic!("no {name} check: {gate:?}"));
        assert_eq!(
            check.status,
            orchestrator::gate::Status::Passed,
            "{check:?}"
        );
        check.actual.unwrap_or_else(|| panic!("{check:?}"))
    };
    for (name, seconds) in [
        ("run.load_to_scale_up", a.reaction.load_to_scale_up),
        ("run.unload_to_min", a.reaction.unload_to_min),
    ] {
        let (gate_ms, report_s) = (actual(name), seconds.unwrap());
        assert!(
            (gate_ms - report_s * 1000.0).abs() < 1e-6,
            "{name}: {gate_ms} ms vs {report_s} s"
        );
    }

    // The report says it in every form.
    let md = std::fs::read_to_string(dir.path().join("hpa-e2e/report.md")).unwrap();
    assert!(
        md.contains("## Autoscaler") && md.contains("### Scale events"),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("hpa-e2e/report.html")).unwrap();
    for id in [
        "chart-autoscale-replicas",
        "chart-autoscale-metric",
        "scale-events",
    ] {
        assert!(html.contains(id), "{id} in report.html");
    }
}

/// Polls the frontend's `/api/summary` until the run ends; every autoscaler status it showed.
fn live_ui_autoscaler(child: &mut std::process::Child, frontend: &str) -> Vec<serde_json::Value> {
    let url = format!("{frontend}{}", common::api::routes::SUMMARY);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let mut shown = Vec::new();
    while child.try_wait().unwrap().is_none() {
        let summary = rt.block_on(async {
            let resp = client.get(&url).send().await.ok()?;
            resp.json::<serde_json::Value>().await.ok()
        });
        if let Some(status) = summary.and_then(|s| s["autoscaler"]["status"].as_object().cloned()) {
            shown.push(serde_json::Value::Object(status));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    shown
}
