//! Replicas going down and coming back, and the sources that list them (watch, DNS).

use demo_frontend::ReplicaSource;
use demo_frontend::summary::BackendState;

use crate::support::{Backend, Frontend, config, replica, replicas};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_replica_is_shown_down_then_up_when_it_returns() {
    let (a, b) = (
        Backend::start("replica-a").await,
        Backend::start("replica-b").await,
    );
    let fe = Frontend::start(config(&a.url, replicas(&[&a, &b]))).await;
    fe.wait_for("both up", |s| s.current.replicas_up == 2).await;

    let b_url = b.url.clone();
    let b_addr = b.stop().await;
    let s = fe
        .wait_for("b down", |s| replica(s, &b_url).is_some_and(|r| !r.up))
        .await;
    // Still listed, still counted in the denominator, with the reason shown.
    assert_eq!((s.current.replicas_up, s.current.replicas_total), (1, 2));
    assert_eq!(s.backend.state, BackendState::Degraded);
    assert!(s.backend.message.contains(&b_url), "{}", s.backend.message);
    let row = replica(&s, &b_url).unwrap();
    assert!(
        row.error.as_deref().is_some_and(|e| !e.is_empty()),
        "{row:?}"
    );
    assert_eq!(
        row.name.as_deref(),
        Some("replica-b"),
        "last known name kept"
    );

    let b = Backend::restart_on("replica-b", b_addr).await;
    let s = fe
        .wait_for("b up again, all ok", |s| {
            s.backend.state == BackendState::Ok && replica(s, &b_url).is_some_and(|r| r.up)
        })
        .await;
    assert!(
        s.history.replicas_up.contains(&1),
        "the dip is in the history"
    );
    fe.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_backend_is_said_plainly_and_recovers_by_itself() {
    let a = Backend::start("solo").await;
    let fe = Frontend::start(config(&a.url, replicas(&[&a]))).await;
    fe.wait_for("up", |s| s.backend.state == BackendState::Ok)
        .await;
    let url = a.url.clone();
    let addr = a.stop().await;
    let s = fe
        .wait_for("unreachable", |s| {
            s.backend.state == BackendState::Unreachable
        })
        .await;
    let msg = &s.backend.message;
    assert!(
        msg.starts_with(&format!("Backend unreachable at {url}"))
            && msg.ends_with("retrying every 200ms"),
        "{msg}"
    );
    assert_eq!(s.current.latency_p95_ms, None);
    let a = Backend::restart_on("solo", addr).await;
    fe.wait_for("recovered", |s| s.backend.state == BackendState::Ok)
        .await;
    fe.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_source_follows_scaling() {
    let (a, b) = (
        Backend::start("replica-a").await,
        Backend::start("replica-b").await,
    );
    let (tx, rx) = tokio::sync::watch::channel(vec![a.url.clone()]);
    let fe = Frontend::start(config(&a.url, ReplicaSource::Watch(rx))).await;
    fe.wait_for("one replica", |s| {
        s.current.replicas_up == 1 && s.current.replicas_total == 1
    })
    .await;
    tx.send(vec![a.url.clone(), b.url.clone()]).unwrap();
    let s = fe
        .wait_for("scaled to two", |s| {
            s.current.replicas_up == 2 && s.current.replicas_total == 2
        })
        .await;
    // The new replica is added after the first one, so it shows up at the bottom, marked
    // as joined after the start (the page's "NEW" badge); the first one is not.
    assert_eq!(s.replicas[1].url, b.url);
    assert!(s.replicas[1].joined_ms.is_some(), "{:?}", s.replicas[1]);
    assert_eq!(s.replicas[0].joined_ms, None);
    tx.send(vec![b.url.clone()]).unwrap();
    let s = fe
        .wait_for("scaled down to b", |s| s.current.replicas_total == 1)
        .await;
    assert_eq!(s.replicas[0].url, b.url);
    // The orchestrator going away leaves the last list in place.
    drop(tx);
    fe.wait_for("still polling b", |s| {
        s.polls > 3 && s.current.replicas_up == 1
    })
    .await;
    fe.stop().await;
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_name_is_resolved_every_poll() {
    let a = Backend::start("pod-0").await;
    let source = ReplicaSource::Headless(a.addr.to_string());
    let fe = Frontend::start(config(&a.url, source)).await;
    let s = fe
        .wait_for("resolved and up", |s| s.current.replicas_up == 1)
        .await;
    assert_eq!(s.replicas[0].url, a.url);
    assert_eq!(s.replicas[0].name.as_deref(), Some("pod-0"));
    assert!(
        s.backend.source.contains(&a.addr.to_string()),
        "{}",
        s.backend.source
    );
    fe.stop().await;

    // A name that resolves to nothing says so instead of showing an empty page.
    let fe = Frontend::start(config(
        &a.url,
        ReplicaSource::Headless("no-such-backend.invalid:8080".into()),
    ))
    .await;
    let s = fe
        .wait_for("no replicas", |s| {
            s.backend.state == BackendState::NoReplicas
        })
        .await;
    assert!(
        s.backend.message.contains("no-such-backend.invalid:8080"),
        "{}",
        s.backend.message
    );
    fe.stop().await;
    a.stop().await;
}
