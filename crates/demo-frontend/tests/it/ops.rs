//! Operations: summary available at once, health and readiness, /metrics through promtool,
//! the load generator block, and the binary's exit codes.

use std::process::Command;

use axum::body::Body;
use common::api::routes;
use demo_frontend::summary::BackendState;
use demo_frontend::{AppState, ReplicaSource, app};
use tower::ServiceExt;

use crate::support::{
    AutoscalerSource, Backend, Frontend, TestLoad, client, closed_url, config, replicas, scaling_up,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summary_answers_at_once_even_when_every_backend_is_down() {
    let (x, y) = (closed_url().await, closed_url().await);
    let fe = Frontend::start(config(
        &x,
        ReplicaSource::Static(vec![x.clone(), y.clone()]),
    ))
    .await;
    // The very first request, before or after the first poll: 200 with a usable body.
    let s = fe.summary().await;
    assert!(
        matches!(
            s.backend.state,
            BackendState::Starting | BackendState::Unreachable
        ),
        "{:?}",
        s.backend
    );
    let s = fe
        .wait_for("unreachable", |s| {
            s.backend.state == BackendState::Unreachable
        })
        .await;
    assert_eq!((s.current.replicas_up, s.current.replicas_total), (0, 2));
    assert!(
        s.backend.message.contains("cannot connect"),
        "{}",
        s.backend.message
    );
    assert!(s.replicas.iter().all(|r| !r.up && r.error.is_some()));
    fe.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_the_page() {
    let a = Backend::start("health").await;
    let fe = Frontend::start(config(&a.url, replicas(&[&a]))).await;
    assert_eq!(fe.get(routes::HEALTHZ).await.status(), 200);
    assert_eq!(fe.get(routes::READYZ).await.status(), 200);
    let page = fe.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Book a ticket") && html.contains("/api/summary"));
    fe.stop().await;
    a.stop().await;

    // Draining: readiness turns 503 while liveness stays 200.
    let state = AppState::new(
        &config("http://127.0.0.1:9", ReplicaSource::Static(vec![])),
        client(),
    );
    let router = app(state.clone());
    let get = |path: &'static str| {
        http::Request::get(path)
            .body(Body::empty())
            .expect("request")
    };
    assert_eq!(
        router
            .clone()
            .oneshot(get(routes::READYZ))
            .await
            .unwrap()
            .status(),
        200
    );
    state.set_draining();
    assert_eq!(
        router
            .clone()
            .oneshot(get(routes::READYZ))
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        router.oneshot(get(routes::HEALTHZ)).await.unwrap().status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_polls_and_pass_promtool() {
    let a = Backend::start("metrics").await;
    let down = closed_url().await;
    let fe = Frontend::start(config(
        &a.url,
        ReplicaSource::Static(vec![a.url.clone(), down]),
    ))
    .await;
    fe.wait_for("a few polls", |s| s.polls >= 3).await;
    let text = fe.get(routes::METRICS).await.text().await.unwrap();
    let samples = common::exposition::parse(&text).unwrap();
    let value = |name: &str, outcome: Option<&str>| {
        samples
            .iter()
            .find(|s| s.name == name && outcome.is_none_or(|o| s.label("outcome") == Some(o)))
            .map(|s| s.value)
            .unwrap_or_else(|| panic!("{name} {outcome:?} missing from:\n{text}"))
    };
    use demo_frontend::metrics::*;
    assert!(value(FRONTEND_REPLICA_POLLS_TOTAL, Some("ok")) >= 3.0);
    assert!(value(FRONTEND_REPLICA_POLLS_TOTAL, Some("error")) >= 3.0);
    assert_eq!(value(FRONTEND_REPLICAS, None), 2.0);
    assert_eq!(value(FRONTEND_REPLICAS_UP, None), 1.0);
    test_support::assert_promtool_accepts(&text);
    fe.stop().await;
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_is_shown_not_running_then_running() {
    let a = Backend::start("loaded").await;
    let lg_url = closed_url().await;
    let mut cfg = config(&a.url, replicas(&[&a]));
    cfg.loadgen_url = Some(lg_url.clone());
    let fe = Frontend::start(cfg).await;
    let s = fe
        .wait_for("loadgen not running", |s| {
            s.loadgen
                .as_ref()
                .is_some_and(|l| !l.running && s.polls > 0)
        })
        .await;
    let lg = s.loadgen.unwrap();
    assert!(lg.message.contains("not running"), "{}", lg.message);
    assert_eq!(lg.target_rps, None);

    let addr = lg_url.trim_start_matches("http://").parse().unwrap();
    let _load = TestLoad::start(std::slice::from_ref(&a.url), 40.0, addr).await;
    let s = fe
        .wait_for("loadgen running and traffic seen", |s| {
            s.loadgen
                .as_ref()
                .is_some_and(|l| l.running && l.sent_total.unwrap_or(0) > 0)
                && s.current.requests_per_s > 0.0
        })
        .await;
    let lg = s.loadgen.unwrap();
    assert_eq!(lg.target_rps, Some(40.0));
    assert_eq!(lg.dropped_total, Some(0));
    assert!(s.history.loadgen_target_rps.contains(&Some(40.0)));
    fe.stop().await;
    a.stop().await;
}

/// The autoscaler's status, read over HTTP, is in the summary; when its source goes away the
/// last status stays with the reason it is stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_autoscaler_is_shown_from_its_source_and_kept_when_it_goes_away() {
    let a = Backend::start("scaled").await;
    let source = AutoscalerSource::start(scaling_up()).await;
    let mut cfg = config(&a.url, replicas(&[&a]));
    cfg.autoscaler = Some(demo_frontend::AutoscalerSource::Url(source.url.clone()));
    let fe = Frontend::start(cfg).await;
    let s = fe
        .wait_for("the autoscaler's status", |s| {
            s.autoscaler.as_ref().is_some_and(|x| x.status.is_some())
        })
        .await;
    let shown = s.autoscaler.unwrap();
    assert_eq!(shown.status, Some(scaling_up()));
    assert_eq!(shown.url, source.url);

    drop(source);
    let s = fe
        .wait_for("the autoscaler shown as unreachable", |s| {
            s.autoscaler
                .as_ref()
                .is_some_and(|x| x.message != "reachable")
        })
        .await;
    let shown = s.autoscaler.unwrap();
    assert_eq!(shown.status, Some(scaling_up()), "the last status is kept");
    assert!(
        shown.message.contains("/api/autoscaler") || shown.message.contains("connect"),
        "{}",
        shown.message
    );
    fe.stop().await;
    a.stop().await;
}

#[test]
fn the_binary_exits_2_on_bad_flags_and_0_on_version() {
    let bin = env!("CARGO_BIN_EXE_demo-frontend");
    let out = Command::new(bin).arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(bin)
        .args(["--backend-url", "ftp://backend"])
        .env_remove("BACKEND_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--backend-url"));
    let out = Command::new(bin)
        .args(["--backend-url", "http://b:1", "--poll-interval", "soon"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
