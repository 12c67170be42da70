//! Tests that depend on request rates (run alone by nextest, see .config/nextest.toml).

use crate::support::{Backend, Frontend, book, client, config, replica, replicas};

/// Traffic to one replica only gives it the whole share; then both share it. This is what
/// makes a new replica taking load after a scale-up visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_of_traffic_follows_where_requests_go() {
    let (a, b) = (
        Backend::start("replica-a").await,
        Backend::start("replica-b").await,
    );
    let fe = Frontend::start(config(&a.url, replicas(&[&a, &b]))).await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(0usize);
    // Background traffic: to a only (phase 0), then alternating (phase 1).
    let targets = [a.url.clone(), b.url.clone()];
    let traffic = tokio::spawn(async move {
        let http = client();
        let mut i = 0usize;
        loop {
            let phase = *stop_rx.borrow();
            if phase > 1 {
                break;
            }
            let target = if phase == 0 {
                &targets[0]
            } else {
                &targets[i % 2]
            };
            book(&http, target).await;
            i += 1;
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
    });
    let s = fe
        .wait_for("replica a has all the traffic", |s| {
            s.current.requests_per_s > 0.0
                && replica(s, &a.url).is_some_and(|r| r.share > 0.99 && r.requests_per_s > 0.0)
        })
        .await;
    assert_eq!(replica(&s, &b.url).unwrap().share, 0.0);
    stop_tx.send(1).unwrap();
    fe.wait_for("both replicas share the traffic", |s| {
        s.replicas.iter().all(|r| r.share > 0.2 && r.share < 0.8)
    })
    .await;
    stop_tx.send(2).unwrap();
    traffic.await.unwrap();
    fe.stop().await;
    a.stop().await;
    b.stop().await;
}
