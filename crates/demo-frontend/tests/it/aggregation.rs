//! The summary adds up what two real backend replicas report, and shows who takes traffic.

use common::api::Action;
use demo_frontend::summary::BackendState;

use crate::support::{Backend, Frontend, book, client, config, replica, replicas};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_are_summed_across_two_replicas() {
    let (a, b) = (
        Backend::start("replica-a").await,
        Backend::start("replica-b").await,
    );
    let fe = Frontend::start(config(&a.url, replicas(&[&a, &b]))).await;
    let http = client();
    for _ in 0..3 {
        book(&http, &a.url).await;
    }
    for _ in 0..2 {
        book(&http, &b.url).await;
    }
    let s = fe
        .wait_for("5 bookings over both replicas, both up", |s| {
            s.backend.state == BackendState::Ok
                && s.actions
                    .iter()
                    .any(|x| x.action == Action::BookTicket && x.ok_total == 5)
        })
        .await;
    assert_eq!((s.current.replicas_up, s.current.replicas_total), (2, 2));
    assert_eq!(
        replica(&s, &a.url).unwrap().name.as_deref(),
        Some("replica-a")
    );
    assert_eq!(
        replica(&s, &b.url).unwrap().name.as_deref(),
        Some("replica-b")
    );
    assert!(s.current.workers > 0, "workers summed: {:?}", s.current);
    assert!(s.history.t_ms.len() >= 2 && s.history.t_ms.windows(2).all(|w| w[0] <= w[1]));
    fe.stop().await;
    a.stop().await;
    b.stop().await;
}
