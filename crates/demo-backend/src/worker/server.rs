//! Running one worker: the consuming loop (`consume.rs`) beside a small HTTP server of
//! `/metrics` (the queue gauges refreshed from Redis at each scrape), `/api/pipeline` (the
//! pipeline's Redis in one atomic reading), `/healthz` and `/readyz`.
//! On the shutdown signal /readyz turns 503, the loop finishes the entry in hand (at most
//! `--drain-timeout`; past it the entry stays unacknowledged, never lost), and `run` returns.

use std::future::{Future, IntoFuture};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::api::routes;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::config::WorkerConfig;
use super::consume::{self, BLOCK};
use super::metrics::WorkerMetrics;
use crate::error::ApiError;
use crate::queue::{Failure, Link};
use crate::{Error, Result};

/// How often recorded histogram samples are folded into buckets when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);
/// After the loop has stopped, how long open connections get before `run` returns anyway.
const CLOSE_GRACE: Duration = Duration::from_millis(500);

/// How long a scrape of /metrics waits for Redis to refresh the queue gauges. Scrapers give
/// the whole page about a second (the orchestrator 800 ms): a Redis that hangs must leave the
/// gauges as last read, not cost the counters their scrape.
const QUEUE_GAUGES_BUDGET: Duration = Duration::from_millis(300);

#[derive(Debug, Clone)]
struct WorkerState {
    link: Link,
    metrics: Arc<WorkerMetrics>,
    draining: Arc<AtomicBool>,
}

/// Runs a worker serving its pages on `listener` until `shutdown` resolves, then drains and
/// returns.
pub async fn run(
    config: WorkerConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = listener.local_addr().map_err(Error::LocalAddr)?;
    let link = Link::new(&config.redis_url, config.redis_timeout, BLOCK).map_err(|e| {
        Error::InvalidFlag {
            flag: "--redis-url",
            reason: e.to_string(),
        }
    })?;
    // A connection of its own for the scrapes: Redis answers a connection's commands in order,
    // so on the consuming loop's connection a probe would wait behind every blocking read.
    let probe_link =
        Link::new(&config.redis_url, config.redis_timeout, Duration::ZERO).map_err(|e| {
            Error::InvalidFlag {
                flag: "--redis-url",
                reason: e.to_string(),
            }
        })?;
    let metrics = Arc::new(WorkerMetrics::new());
    let state = WorkerState {
        link: probe_link,
        metrics: metrics.clone(),
        draining: Arc::default(),
    };
    tracing::info!(
        %addr,
        consumer = %config.consumer,
        work_cpu = %common::HumanDuration(config.work_cpu),
        work_memory = config.work_memory,
        "demo-worker consuming {}",
        crate::queue::STREAM
    );
    let drain_timeout = config.drain_timeout;
    let stop = CancellationToken::new();
    let mut consumer = tokio::spawn(consume::consume(
        link,
        Arc::new(config),
        metrics.clone(),
        stop.clone(),
    ));
    let upkeep = tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP_EVERY);
        loop {
            tick.tick().await;
            metrics.upkeep();
        }
    });
    let stop_serving = CancellationToken::new();
    let serve = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(stop_serving.clone().cancelled_owned())
        .into_future();
    tokio::pin!(serve);
    let served = tokio::select! {
        served = &mut serve => Some(served),
        () = shutdown => None,
    };
    state.draining.store(true, Ordering::Relaxed);
    stop.cancel();
    match tokio::time::timeout(drain_timeout, &mut consumer).await {
        Ok(_) => tracing::info!("demo-worker: consuming stopped"),
        Err(_) => {
            tracing::warn!(
                ?drain_timeout,
                "demo-worker: the entry in hand did not finish: left unacknowledged"
            );
            consumer.abort();
        }
    }
    upkeep.abort();
    if let Some(served) = served {
        return served.map_err(Error::Serve);
    }
    stop_serving.cancel();
    if tokio::time::timeout(CLOSE_GRACE, serve).await.is_err() {
        tracing::warn!("demo-worker: connections still open: leaving them");
    }
    tracing::info!(%addr, "demo-worker stopped");
    Ok(())
}

fn app(state: WorkerState) -> Router {
    Router::new()
        .route(routes::HEALTHZ, get(|| async { "ok" }))
        .route(routes::READYZ, get(readyz))
        .route(routes::METRICS, get(metrics_page))
        .route(routes::PIPELINE, get(pipeline_page))
        .fallback(|uri: Uri| async move {
            let path: String = uri.path().chars().take(200).collect();
            ApiError::not_found(format!("no route for {path}"))
                .with_detail("the worker serves /metrics, /api/pipeline, /healthz and /readyz")
        })
        .with_state(state)
}

async fn readyz(State(state): State<WorkerState>) -> Response {
    if state.draining.load(Ordering::Relaxed) {
        ApiError::unavailable("the worker is shutting down").into_response()
    } else {
        "ready".into_response()
    }
}

async fn metrics_page(State(state): State<WorkerState>) -> Response {
    let refresh = consume::probe(&state.link, &state.metrics);
    if tokio::time::timeout(QUEUE_GAUGES_BUDGET, refresh)
        .await
        .is_err()
    {
        state
            .metrics
            .failure(&Failure::Timeout(QUEUE_GAUGES_BUDGET));
    }
    exposition(state.metrics.render())
}

/// The whole pipeline's Redis, read atomically: not this worker's view but the run's, served
/// here because every worker already holds a link to Redis.
async fn pipeline_page(State(state): State<WorkerState>) -> Response {
    match state.link.reading().await {
        Ok(reading) => exposition(reading.page()),
        Err(failure) => ApiError::unavailable(failure.to_string())
            .with_detail("the pipeline's Redis could not be read; see the worker's log")
            .into_response(),
    }
}

fn exposition(text: String) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(common::exposition::CONTENT_TYPE),
    );
    response
}
