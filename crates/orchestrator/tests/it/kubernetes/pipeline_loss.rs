//! The pipeline's loss check on the kube runtime, against real processes: a real
//! `redis-server`, a real backend and a real worker play the pods, the fake API server's pod
//! proxy passes requests on to them (as a cluster's does to the pods), and the orchestrator
//! reads Redis through the worker's `/api/pipeline`. Real time, not the paused clock: the
//! processes answer in their own time.

use std::net::SocketAddr;
use std::time::Duration;

use common::HumanDuration;
use common::api::{OrderRequest, routes};
use orchestrator::pipeline::redis::{RedisProcess, find};
use orchestrator::timeline;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::fake::{Behaviour, FakeApi};
use super::pipeline::quick_pipeline;
use super::run::completed_run;

const ORDERS: usize = 120;

/// A backend and a worker of `redis_url` on loopback, stopped with `stop`.
async fn components(redis_url: &str, stop: &CancellationToken) -> (SocketAddr, SocketAddr) {
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let worker = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs = (backend.local_addr().unwrap(), worker.local_addr().unwrap());
    let config = demo_backend::Config {
        listen: addrs.0,
        redis_url: Some(redis_url.to_owned()),
        replica_name: "backend-real".into(),
        service_time: Duration::ZERO,
        ..demo_backend::Config::default()
    };
    tokio::spawn(demo_backend::run(
        config,
        backend,
        stop.clone().cancelled_owned(),
    ));
    let config = demo_backend::worker::WorkerConfig {
        consumer: "worker-real".into(),
        ..demo_backend::worker::WorkerConfig::new(redis_url)
    };
    tokio::spawn(demo_backend::worker::run(
        config,
        worker,
        stop.clone().cancelled_owned(),
    ));
    (addrs.0, addrs.1)
}

async fn post_orders(backend: SocketAddr, n: usize) {
    let client = reqwest::Client::new();
    for i in 0..n {
        let order = OrderRequest {
            region: common::api::ORDER_REGIONS[i % 4].into(),
            items: 1 + (i % 3) as u32,
            amount: 12.5,
        };
        let answer = client
            .post(format!("http://{backend}{}", routes::ORDERS))
            .json(&order)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .expect("the backend answers");
        assert!(
            answer.status().is_success(),
            "order {i}: {}",
            answer.status()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_the_loss_check_balances_exactly_reading_redis_through_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let bin = find().unwrap_or_else(|e| panic!("{e}"));
    let mut redis = RedisProcess::start(&bin, &dir.path().join("redis"), Duration::from_secs(10))
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let (backend, worker) = components(&redis.url(), &stop).await;
    post_orders(backend, ORDERS).await;

    let fake = FakeApi::start(Behaviour {
        upstreams: vec![("backend".into(), backend), ("worker".into(), worker)],
        ..Behaviour::default()
    });
    let mut s = quick_pipeline(&[]);
    s.pipeline.worker.replicas = 1;
    s.load.run_duration = HumanDuration::from_secs(2);
    let runs = tempfile::tempdir().unwrap();
    let result = completed_run(&fake, &s, runs.path()).await;
    stop.cancel();
    redis.stop().await;

    let report = &result.report;
    let section = report.pipeline.as_ref().expect("a pipeline section");
    let loss = section
        .loss
        .as_ref()
        .unwrap_or_else(|| panic!("a loss check on kube: {:?}", section.notes));
    assert!(loss.passed, "{}", loss.detail);
    assert_eq!(loss.produced, ORDERS as f64, "{}", loss.detail);
    assert_eq!(
        loss.acknowledged + loss.queued,
        ORDERS as f64,
        "{}",
        loss.detail
    );
    assert!(
        loss.drained,
        "one worker empties {ORDERS} orders in 10 s: {}",
        loss.detail
    );
    assert_eq!(
        loss.acknowledged_by_workers, ORDERS as f64,
        "{}",
        loss.detail
    );

    // Redis was read through the worker in the sampler's rounds too: the queue, the
    // aggregates and Redis' memory are in the points, with no gap once the worker served.
    let deployed = report.phase(timeline::phase::DEPLOY).unwrap().end;
    let read: Vec<_> = report
        .points
        .iter()
        .filter(|p| p.t > deployed)
        .filter_map(|p| p.pipeline.as_ref()?.redis)
        .collect();
    assert!(!read.is_empty(), "Redis read after the deploy");
    assert!(read.iter().all(|r| r.memory_bytes > 0.0), "{read:?}");
    assert_eq!(read.last().map(|r| r.aggregated), Some(ORDERS as f64));
    assert!(
        report
            .points
            .iter()
            .filter(|p| p.t > deployed)
            .all(|p| !p.gaps.iter().any(|g| g.contains("redis"))),
        "{:?}",
        report.points.iter().map(|p| &p.gaps).collect::<Vec<_>>()
    );
    assert!(
        fake.calls()
            .iter()
            .any(|c| c.path.ends_with(&format!("/proxy{}", routes::PIPELINE))),
        "read through the pod proxy"
    );
}
