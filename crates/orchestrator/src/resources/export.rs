//! The local runtime's resource figures as a Prometheus page under cAdvisor's names
//! (`container_cpu_usage_seconds_total`, `container_memory_working_set_bytes`, labelled
//! `namespace`, `pod`, `container`), which the run's Prometheus scrapes: the dashboard's CPU
//! and memory panels then read the same series locally as on a cluster.

use std::fmt::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::api::{AutoscalerStatus, ErrorBody};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Usage;
use super::local::LocalResources;

pub const CPU: &str = "container_cpu_usage_seconds_total";
pub const MEMORY: &str = "container_memory_working_set_bytes";
/// The backend replicas the run (its scale phase or its autoscaler) asks for now: the
/// dashboard's `desired` line beside the ready replicas.
pub const DESIRED: &str = "load_demo_backend_replicas_desired";

/// Escapes a label value for the text format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A metric family of the page: name, type, help and the figure it shows.
type Family = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Usage) -> Option<f64>,
);

/// The page of `usage`: one series per measured figure of each instance, and the backend
/// replicas asked for.
pub fn page(usage: &[Usage], namespace: &str, desired: u32) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP {DESIRED} Backend replicas the run asks for now.\n# TYPE {DESIRED} gauge\n{DESIRED}{{namespace=\"{}\",component=\"backend\"}} {desired}",
        label(namespace)
    );
    let families: [Family; 2] = [
        (
            CPU,
            "counter",
            "CPU time of the replica's threads, in seconds.",
            |u| u.cpu_seconds,
        ),
        (
            MEMORY,
            "gauge",
            "Resident memory, in bytes (the orchestrator process holds every component).",
            |u| u.memory_bytes,
        ),
    ];
    for (name, kind, help, get) in families {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for u in usage {
            if let Some(v) = get(u) {
                let _ = writeln!(
                    out,
                    "{name}{{namespace=\"{}\",pod=\"{}\",container=\"{}\"}} {v}",
                    label(namespace),
                    label(&u.instance),
                    label(&u.component)
                );
            }
        }
    }
    out
}

/// The local autoscaler's latest decision, written at each sync and read by the page.
pub type SharedAutoscaler = Arc<Mutex<Option<AutoscalerStatus>>>;

#[derive(Clone)]
struct Page {
    resources: LocalResources,
    namespace: String,
    desired: Arc<AtomicU32>,
    autoscaler: SharedAutoscaler,
}

/// `GET /api/autoscaler` for the live UI: the latest sync, or 404 saying why there is none.
async fn autoscaler(State(p): State<Page>) -> Response {
    let latest = p.autoscaler.lock().ok().and_then(|s| s.clone());
    match latest {
        Some(status) => Json(status).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(ErrorBody {
                error: "no autoscaler decision yet".into(),
                detail: Some(
                    "the run has no autoscaler (scale_mode = manual) or has not synced yet".into(),
                ),
            }),
        )
            .into_response(),
    }
}

async fn metrics(State(p): State<Page>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, common::exposition::CONTENT_TYPE)],
        page(
            &p.resources.last(),
            &p.namespace,
            p.desired.load(Ordering::Relaxed),
        ),
    )
}

/// Serves the page of the latest sampling round, and the autoscaler's latest decision, on
/// `listener` until `stop`.
pub async fn serve(
    listener: TcpListener,
    resources: LocalResources,
    namespace: String,
    desired: Arc<AtomicU32>,
    autoscaler: SharedAutoscaler,
    stop: CancellationToken,
) {
    let app = Router::new()
        .route(common::api::routes::METRICS, get(metrics))
        .route(common::api::routes::AUTOSCALER, get(self::autoscaler))
        .with_state(Page {
            resources,
            namespace,
            desired,
            autoscaler,
        });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::warn!(error = %e, "the resource page stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over real HTTP: 404 with a JSON reason until the autoscaler has synced, then its latest
    /// decision as the frontend reads it.
    #[tokio::test]
    async fn the_autoscaler_route_serves_the_latest_sync() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            common::api::routes::AUTOSCALER
        );
        let shared = SharedAutoscaler::default();
        let stop = CancellationToken::new();
        let served = tokio::spawn(serve(
            listener,
            LocalResources::new(),
            "demo".into(),
            Arc::default(),
            shared.clone(),
            stop.clone(),
        ));
        let client = reqwest::Client::new();
        let before = client.get(&url).send().await.unwrap();
        assert_eq!(before.status(), reqwest::StatusCode::NOT_FOUND);
        let why: ErrorBody = before.json().await.unwrap();
        assert!(why.detail.unwrap().contains("scale_mode"));

        let status = AutoscalerStatus {
            mode: "hpa".into(),
            metric: "utilization".into(),
            target: 80.0,
            value: Some(143.5),
            desired: 2,
            ready: 1,
            min: 1,
            max: 4,
            reason: "ScaleUp".into(),
        };
        *shared.lock().unwrap() = Some(status.clone());
        let after = client.get(&url).send().await.unwrap();
        assert_eq!(after.status(), reqwest::StatusCode::OK);
        assert_eq!(after.json::<AutoscalerStatus>().await.unwrap(), status);
        stop.cancel();
        served.await.unwrap();
    }

    #[test]
    fn the_page_is_prometheus_text_with_cadvisor_labels() {
        let usage = [
            Usage {
                instance: "backend-0".into(),
                component: "backend".into(),
                cpu_seconds: Some(1.5),
                ..Usage::default()
            },
            Usage {
                instance: "process".into(),
                component: "process".into(),
                cpu_seconds: Some(3.0),
                memory_bytes: Some(1024.0),
                ..Usage::default()
            },
        ];
        let text = page(&usage, "demo-\"x\"", 3);
        let samples = common::exposition::parse(&text).unwrap();
        let cpu: Vec<_> = samples.iter().filter(|s| s.name == CPU).collect();
        assert_eq!(cpu.len(), 2);
        assert_eq!(cpu[0].label("pod"), Some("backend-0"));
        assert_eq!(cpu[0].label("namespace"), Some("demo-\"x\""));
        let mem: Vec<_> = samples.iter().filter(|s| s.name == MEMORY).collect();
        assert_eq!((mem.len(), mem[0].value), (1, 1024.0));
        let desired: Vec<_> = samples.iter().filter(|s| s.name == DESIRED).collect();
        assert_eq!((desired.len(), desired[0].value), (1, 3.0));
    }
}
