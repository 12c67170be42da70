//! The capability mode on the kube runtime against the fake API server: the climb's load
//! generator is applied as one ramp, deleted at its end, and applied again at each settle
//! rate, through the same objects a cluster gets. The fake's pages never change, so no rule
//! breaks: the climb reaches its ceiling and holds it.

use common::HumanDuration;
use orchestrator::capability::Kind;
use orchestrator::timeline::phase;

use super::fake::{Behaviour, FakeApi};
use super::run::{NS, completed_run, quick};

/// The value after `flag` in a Deployment body's first container.
fn arg(body: &serde_json::Value, flag: &str) -> Option<String> {
    let args = body["spec"]["template"]["spec"]["containers"][0]["args"].as_array()?;
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1)?.as_str().map(str::to_owned)
}

#[tokio::test(start_paused = true)]
async fn the_climb_and_each_settle_apply_their_own_load_generator() {
    let fake = FakeApi::start(Behaviour::default());
    let runs = tempfile::tempdir().unwrap();
    let mut s = quick();
    s.capability.enabled = true;
    s.capability.start_rps = 10.0;
    s.capability.step_factor = 2.0;
    s.capability.max_rps = 40.0;
    s.capability.step = HumanDuration::from_millis(300);
    s.capability.settle = HumanDuration::from_millis(300);
    let result = completed_run(&fake, &s, runs.path()).await;

    let path = format!(
        "/apis/apps/v1/namespaces/{NS}/deployments/{}",
        s.loadgen.name
    );
    let calls = fake.calls();
    let applied: Vec<&serde_json::Value> = calls
        .iter()
        .filter(|c| c.method == "PATCH" && c.path == path)
        .filter_map(|c| c.body.as_ref())
        .collect();
    assert_eq!(applied.len(), 2, "the climb, then one settle");
    let rates = |b: &serde_json::Value| {
        (
            arg(b, "--base-rps"),
            arg(b, "--ramp-factor"),
            arg(b, "--max-rps"),
        )
    };
    assert_eq!(
        rates(applied[0]),
        (Some("10".into()), Some("2".into()), Some("40".into())),
        "the climb is one ramp from the start to the ceiling"
    );
    assert_eq!(
        rates(applied[1]).0.as_deref(),
        Some("40"),
        "settle at the ceiling"
    );
    assert_eq!(rates(applied[1]).1.as_deref(), Some("1"), "a constant rate");
    // Deleted between the two: the settle's generator is a new one.
    let lines: Vec<String> = calls
        .iter()
        .filter(|c| c.method != "GET")
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    let first = lines
        .iter()
        .position(|l| *l == format!("PATCH {path}"))
        .unwrap();
    let second = lines
        .iter()
        .rposition(|l| *l == format!("PATCH {path}"))
        .unwrap();
    assert!(
        lines[first..second].iter().any(|l| l.starts_with("DELETE")),
        "{lines:#?}"
    );

    let r = &result.report;
    assert!(r.phase(phase::CAPABILITY).is_some());
    let c = r.capability.as_ref().expect("a capability section");
    assert_eq!(c.capacity_rps, Some(40.0), "{c:#?}");
    assert!(c.at_ceiling && c.ended_by.is_none(), "{c:#?}");
    let kinds: Vec<(Kind, f64, bool)> = c
        .attempts
        .iter()
        .map(|a| (a.kind, a.rate_rps, a.held))
        .collect();
    assert_eq!(
        kinds,
        [
            (Kind::Climb, 10.0, true),
            (Kind::Climb, 20.0, true),
            (Kind::Climb, 40.0, true),
            (Kind::Settle, 40.0, true)
        ]
    );
}
