//! The gate's alerts over several copies of the stack on a cluster, where this process
//! reaches only copy 1's Prometheus (the others' are ClusterIP Services): each alert runs on
//! the real Prometheus it reaches, says in which copy it fired, and names the copies it could
//! not be evaluated in, which `--require-alerts` makes a failure.

use std::time::{Duration, SystemTime};

use orchestrator::gate::Status;
use orchestrator::gate::alerts::evaluate;
use scenario::{AlertEntry, Severity};

use super::real_prometheus::RealPrometheus;

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
    let copies = [Some(prometheus.url()), None, None];
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
    let warned = evaluate(
        &copies,
        &alert("vector(3) > 2", Severity::Warning),
        start,
        end,
        false,
    )
    .await;
    assert_eq!(warned.status, Status::Warned, "{warned:?}");

    // Silent where it was evaluated: a pass that says where it was not, unless required.
    let c = evaluate(&copies, &silent, start, end, false).await;
    assert_eq!(c.status, Status::Passed, "{c:?}");
    assert!(
        c.detail
            .starts_with("did not fire in copy 1; not evaluated in copies 2, 3, whose "),
        "{c:?}"
    );
    let c = evaluate(&copies, &silent, start, end, true).await;
    assert_eq!(c.status, Status::Failed, "{c:?}");
    assert!(c.detail.ends_with("(--require-alerts)"), "{c:?}");

    // Every copy reached: a plain pass; a single stack names no copy.
    let both = [Some(prometheus.url()), Some(prometheus.url())];
    let c = evaluate(&both, &silent, start, end, true).await;
    assert_eq!(
        (c.status, c.detail.as_str()),
        (Status::Passed, "did not fire in any of the 2 copies")
    );
    let one = [Some(prometheus.url())];
    let c = evaluate(&one, &firing, start, end, false).await;
    assert!(
        c.detail.starts_with("fired: 3 in  (") && !c.detail.contains("copy"),
        "{c:?}"
    );

    // No copy reached: skipped, or failed when alerts are required.
    let none = [None, None];
    let c = evaluate(&none, &firing, start, end, false).await;
    assert_eq!(c.status, Status::Skipped, "{c:?}");
    let c = evaluate(&none, &firing, start, end, true).await;
    assert_eq!(c.status, Status::Failed, "{c:?}");
}
