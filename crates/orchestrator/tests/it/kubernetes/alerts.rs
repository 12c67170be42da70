//! The gate's alerts on a cluster: each copy's Prometheus is asked through the API server's
//! pod proxy (as a cluster's passes requests on to the pod, the fake passes them to a real
//! Prometheus), every copy alike, no NodePort needed; an alert says in which copy it fired,
//! and names the copies it could not be evaluated in, which `--require-alerts` makes a failure.

use std::time::{Duration, SystemTime};

use orchestrator::gate::alerts::evaluate;
use orchestrator::gate::prometheus::PrometheusApi;
use orchestrator::gate::{Gate, GateInputs, Status};
use orchestrator::iterations::{self, Iterations};
use orchestrator::report::Outcome;
use orchestrator::timeline;
use scenario::{AlertEntry, Severity};
use serde_json::json;

use super::fake::{Behaviour, FakeApi};
use super::real_prometheus::{RealPrometheus, serve};
use super::run::{options, quick, runtime};

fn alert(expr: &str, severity: Severity) -> AlertEntry {
    AlertEntry {
        expr: expr.into(),
        description: "{{$value}} in {{$labels.iteration}}".into(),
        severity,
    }
}

#[tokio::test]
async fn alerts_run_where_prometheus_is_reached_and_name_the_copies_it_is_not() {
    let Some(prometheus) = RealPrometheus::start(vec![]) else {
        return;
    };
    prometheus.wait_for("vector(1)", 1).await;
    let end = SystemTime::now();
    let start = end - Duration::from_secs(20);
    let reached = || Ok(PrometheusApi::Url(prometheus.url()));
    let not_ready = |k: u32| {
        Err(format!(
            "no Prometheus pod of namespace ns-{k} is running and ready"
        ))
    };
    let copies = [reached(), not_ready(2), not_ready(3)];
    let firing = alert("vector(3) > 2", Severity::Error);
    let silent = alert("vector(1) > 2", Severity::Error);

    // Fired where it was evaluated: the run fails, whatever the other copies would say.
    for required in [false, true] {
        let c = evaluate(&copies, &firing, start, end, required).await;
        assert_eq!(c.status, Status::Failed, "{c:?}");
        assert_eq!(c.actual, Some(3.0), "{c:?}");
        assert!(
            c.detail.starts_with("fired: 3 in 1 (")
                && c.detail.ends_with("peak value 3 in copy 1)"),
            "{c:?}"
        );
    }
    let warning = alert("vector(3) > 2", Severity::Warning);
    let warned = evaluate(&copies, &warning, start, end, false).await;
    assert_eq!(warned.status, Status::Warned, "{warned:?}");

    // Silent where it was evaluated: a pass that says where it was not and why, unless
    // alerts are required.
    let c = evaluate(&copies, &silent, start, end, false).await;
    assert_eq!(c.status, Status::Passed, "{c:?}");
    assert_eq!(
        c.detail,
        "did not fire in copy 1; not evaluated in copy 2: no Prometheus pod of namespace ns-2 \
         is running and ready; copy 3: no Prometheus pod of namespace ns-3 is running and ready"
    );
    let c = evaluate(&copies, &silent, start, end, true).await;
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.detail.ends_with("(--require-alerts)"), "{c:?}");

    // Every copy reached: a plain pass; a single stack names no copy.
    let c = evaluate(&[reached(), reached()], &silent, start, end, true).await;
    assert_eq!(
        (c.status, c.detail.as_str()),
        (Status::Passed, "did not fire in any of the 2 copies")
    );
    let c = evaluate(&[reached()], &firing, start, end, false).await;
    assert!(
        c.detail.starts_with("fired: 3 in  (") && !c.detail.contains("copy"),
        "{c:?}"
    );

    // No copy reached: skipped with the reasons, or failed when alerts are required.
    let none = [not_ready(1), not_ready(2)];
    let c = evaluate(&none, &firing, start, end, false).await;
    assert_eq!(c.status, Status::Skipped, "{c:?}");
    assert!(
        c.detail
            .contains("copy 2: no Prometheus pod of namespace ns-2"),
        "{c:?}"
    );
    let c = evaluate(&none, &firing, start, end, true).await;
    assert_eq!(c.status, Status::Failed, "{c:?}");
    // A Prometheus that does not answer is a failure that names it and its copy.
    let dead = Ok(PrometheusApi::Url("http://127.0.0.1:9".into()));
    let c = evaluate(&[reached(), dead], &silent, start, end, false).await;
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(
        c.detail
            .starts_with("copy 2: cannot query Prometheus at http://127.0.0.1:9"),
        "{c:?}"
    );
}

/// Two copies on a cluster, each Prometheus pod played by a real Prometheus behind the
/// fake's pod proxy; only one of them scrapes a marker, so the alert on it fires in exactly
/// that copy, and a silent one is evaluated in both (`--require-alerts` would fail it
/// otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_copys_prometheus_is_asked_through_the_pod_proxy() {
    let marker = serve(
        "/metrics",
        "# TYPE copy_marker gauge\ncopy_marker 1\n".into(),
    )
    .await;
    let marked_job =
        json!({"job_name": "marker", "static_configs": [{"targets": [marker.to_string()]}]});
    let (Some(marked), Some(plain)) = (
        RealPrometheus::start(vec![marked_job]),
        RealPrometheus::start(vec![]),
    ) else {
        return;
    };
    marked.wait_for("copy_marker", 1).await;
    plain.wait_for("vector(1)", 1).await;
    let fake = FakeApi::start(Behaviour {
        upstreams: vec![
            ("prometheus".into(), marked.addr()),
            ("prometheus".into(), plain.addr()),
        ],
        // Real time: a pod's life in short steps.
        stage: Duration::from_millis(100),
        ..Behaviour::default()
    });
    let mut s = quick();
    s.iterations.count = 2;
    s.alerts = vec![
        AlertEntry {
            expr: "copy_marker > 0".into(),
            description: "copy {{$labels.iteration}} is marked".into(),
            severity: Severity::Warning,
        },
        alert("vector(1) > 2", Severity::Error),
    ];
    let inputs = GateInputs {
        require_alerts: true,
        ..GateInputs::default()
    };
    let gate = Gate::prepare(&s, "kube", &inputs).expect("the gate");
    let copies = iterations::copies(&s)
        .into_iter()
        .map(|c| runtime(&fake, c))
        .collect();
    let rt = Iterations::new(copies).unwrap();
    let runs = tempfile::tempdir().unwrap();
    let result = tokio::time::timeout(
        Duration::from_secs(120),
        timeline::run_gated(
            rt,
            options(s.clone(), runs.path(), false),
            &gate,
            std::future::pending(),
        ),
    )
    .await
    .expect("the run ends within 120 s");
    let r = &result.report;
    assert_eq!(r.outcome, Outcome::Completed, "{:?}", r.failures);

    // Which copy's pod the marked Prometheus played.
    let claimed = fake.claimed();
    let (pod, _) = claimed
        .iter()
        .find(|(_, addr)| **addr == marked.addr())
        .expect("the marked Prometheus was asked");
    let copy = if pod.starts_with(&format!("{}/", iterations::copies(&s)[0].namespace())) {
        1
    } else {
        2
    };
    let gate = r.gate.as_ref().expect("a gate");
    let [marker, silent] = &gate.alerts[..] else {
        panic!("two alerts: {gate:#?}");
    };
    assert_eq!(marker.status, Status::Warned, "{marker:#?}");
    assert!(
        marker
            .detail
            .starts_with(&format!("fired: copy {copy} is marked ("))
            && marker.detail.ends_with(&format!(" in copy {copy})")),
        "{marker:#?}"
    );
    assert_eq!(
        (silent.status, silent.detail.as_str()),
        (Status::Passed, "did not fire in any of the 2 copies"),
        "{silent:#?}"
    );
    assert!(gate.passed, "{gate:#?}");
    // Both copies' Prometheus pods were asked through the pod proxy.
    for c in iterations::copies(&s) {
        let prefix = format!("/api/v1/namespaces/{}/pods/prometheus-", c.namespace());
        assert!(
            fake.calls()
                .iter()
                .any(|call| call.path.starts_with(&prefix)
                    && call.path.ends_with(":9090/proxy/api/v1/query_range")),
            "{prefix}... in {:#?}",
            fake.calls().iter().map(|c| &c.path).collect::<Vec<_>>()
        );
    }
}
