//! The HTTP surface: the page, `/api/summary`, health, readiness, `/metrics` and the
//! proxied actions, composed in [`app`] over the shared [`AppState`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use common::api::routes;

use crate::aggregate::Aggregator;
use crate::metrics::FrontendMetrics;
use crate::summary::Summary;
use crate::{Config, page, poll, proxy};

/// State shared by the handlers and the poll loop.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend_url", &self.inner.backend_url)
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// The latest summary, serialized once per poll: page polls only copy bytes.
    summary: RwLock<Bytes>,
    draining: AtomicBool,
    metrics: FrontendMetrics,
    client: reqwest::Client,
    backend_url: String,
    proxy_timeout: Duration,
}

impl AppState {
    /// State for `config`; the summary says "waiting for the first poll" until one is
    /// published.
    pub fn new(config: &Config, client: reqwest::Client) -> Self {
        let initial = Aggregator::new(poll::facts(config)).summary();
        Self {
            inner: Arc::new(Inner {
                summary: RwLock::new(serialize(&initial)),
                draining: AtomicBool::new(false),
                metrics: FrontendMetrics::new(),
                client,
                backend_url: config.backend_url.clone(),
                proxy_timeout: config.proxy_timeout,
            }),
        }
    }

    /// Replaces the summary served by `/api/summary`.
    pub fn publish(&self, summary: &Summary) {
        let bytes = serialize(summary);
        // A poisoned lock only means a panic elsewhere mid-swap; the bytes are still whole.
        let mut slot = self
            .inner
            .summary
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *slot = bytes;
    }

    fn summary_json(&self) -> Bytes {
        self.inner
            .summary
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// From now on `/readyz` answers 503.
    pub fn set_draining(&self) {
        self.inner.draining.store(true, Ordering::Relaxed);
    }

    pub fn metrics(&self) -> &FrontendMetrics {
        &self.inner.metrics
    }

    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    pub(crate) fn backend_url(&self) -> &str {
        &self.inner.backend_url
    }

    pub(crate) fn proxy_timeout(&self) -> Duration {
        self.inner.proxy_timeout
    }
}

fn serialize(summary: &Summary) -> Bytes {
    // Plain data with no maps keyed by non-strings: serialization cannot fail.
    serde_json::to_vec(summary)
        .map(Bytes::from)
        .unwrap_or_else(|e| Bytes::from(format!(r#"{{"error":"cannot serialize: {e}"}}"#)))
}

/// The frontend's router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route(routes::SUMMARY, get(summary))
        .route(routes::HEALTHZ, get(healthz))
        .route(routes::READYZ, get(readyz))
        .route(routes::METRICS, get(metrics))
        .merge(proxy::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

async fn index() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Everything is inline and same-origin: nothing may be fetched from elsewhere.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                 connect-src 'self'; img-src 'self' data:",
            ),
        ],
        page::html(),
    )
        .into_response()
}

async fn summary(State(state): State<AppState>) -> Response {
    let mut response = state.summary_json().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.inner.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response()
    } else {
        "ready\n".into_response()
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, common::exposition::CONTENT_TYPE)],
        state.metrics().render(),
    )
        .into_response()
}

async fn not_found() -> Response {
    proxy::error(
        StatusCode::NOT_FOUND,
        "no such route",
        Some(format!(
            "the frontend serves /, {}, {}, {}, {} and proxies POST {}, DELETE {}, POST {}",
            routes::SUMMARY,
            routes::HEALTHZ,
            routes::READYZ,
            routes::METRICS,
            routes::TICKETS,
            routes::TICKET,
            routes::FEEDBACK
        )),
    )
}

async fn method_not_allowed() -> Response {
    proxy::error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
        Some(format!(
            "the proxied actions are POST {}, DELETE {} and POST {}",
            routes::TICKETS,
            routes::TICKET,
            routes::FEEDBACK
        )),
    )
}
