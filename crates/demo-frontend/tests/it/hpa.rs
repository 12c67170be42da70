//! `--autoscaler-hpa`: the card read from a HorizontalPodAutoscaler through the API server.
//! A small fake API server on 127.0.0.1 port 0 serves a typed k8s-openapi HPA (or the API
//! server's refusals) at the real path; the frontend reaches it with `kube::Config::new`.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerSpec, HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus,
    MetricTarget, MetricValueStatus, ResourceMetricSource, ResourceMetricStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use demo_frontend::{AutoscalerSource, HpaRef};

use crate::support::{Backend, Frontend, config, replicas};

const NS: &str = "load-demo-r1";
const NAME: &str = "backend";

/// What the fake API server answers for the HPA: the object, or a refusal `(code, reason)`.
type Answer = Result<HorizontalPodAutoscaler, (u16, &'static str)>;

struct FakeApiServer {
    url: String,
    answer: Arc<Mutex<Answer>>,
    task: JoinHandle<()>,
}

/// The API server's error body (`kind: Status`), as kube-rs reads it.
fn status(code: u16, reason: &str, message: String) -> Response {
    let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
        "message": message, "reason": reason, "code": code});
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(body)).into_response()
}

async fn get_hpa(
    State(answer): State<Arc<Mutex<Answer>>>,
    Path((ns, name)): Path<(String, String)>,
) -> Response {
    let answer = answer.lock().expect("answer").clone();
    match answer {
        Ok(hpa) if ns == NS && name == NAME => axum::Json(hpa).into_response(),
        Ok(_) => status(
            404,
            "NotFound",
            format!("horizontalpodautoscalers.autoscaling \"{name}\" not found"),
        ),
        Err((code, reason)) => status(code, reason, format!("{reason} for {ns}/{name}")),
    }
}

impl FakeApiServer {
    async fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let answer = Arc::new(Mutex::new(answer));
        let app = axum::Router::new()
            .route(
                "/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers/{name}",
                axum::routing::get(get_hpa),
            )
            .fallback(|| async {
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource".into(),
                )
            })
            .with_state(answer.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, answer, task }
    }

    fn answer(&self, a: Answer) {
        *self.answer.lock().expect("answer") = a;
    }

    fn hpa_source(&self, name: &str) -> AutoscalerSource {
        let mut hpa = HpaRef::parse(&format!("{NS}/{name}")).expect("a valid reference");
        hpa.api_server = Some(Box::new(kube::Config::new(
            self.url.parse().expect("a URI"),
        )));
        AutoscalerSource::Hpa(hpa)
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An HPA on cpu at 70 %, reading 105 % on 2 replicas and asking for 3.
fn scaling_hpa() -> HorizontalPodAutoscaler {
    let condition = |type_: &str, status: &str, reason: &str| HorizontalPodAutoscalerCondition {
        type_: type_.into(),
        status: status.into(),
        reason: Some(reason.into()),
        ..HorizontalPodAutoscalerCondition::default()
    };
    HorizontalPodAutoscaler {
        metadata: ObjectMeta {
            name: Some(NAME.into()),
            namespace: Some(NS.into()),
            ..ObjectMeta::default()
        },
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: NAME.into(),
            },
            min_replicas: Some(1),
            max_replicas: 5,
            metrics: Some(vec![MetricSpec {
                type_: "Resource".into(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".into(),
                    target: MetricTarget {
                        type_: "Utilization".into(),
                        average_utilization: Some(70),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: None,
        }),
        status: Some(HorizontalPodAutoscalerStatus {
            current_replicas: Some(2),
            desired_replicas: 3,
            current_metrics: Some(vec![MetricStatus {
                type_: "Resource".into(),
                resource: Some(ResourceMetricStatus {
                    name: "cpu".into(),
                    current: MetricValueStatus {
                        average_utilization: Some(105),
                        ..MetricValueStatus::default()
                    },
                }),
                ..MetricStatus::default()
            }]),
            conditions: Some(vec![
                condition("AbleToScale", "True", "SucceededRescale"),
                condition("ScalingActive", "True", "ValidMetricFound"),
                condition("ScalingLimited", "False", "DesiredWithinRange"),
            ]),
            ..HorizontalPodAutoscalerStatus::default()
        }),
    }
}

/// The HPA's status is the card; when the API server refuses, the last status stays with
/// the refusal in words (gone, or forbidden with what the ServiceAccount needs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_shows_the_hpa_read_through_the_api_server_and_why_a_read_failed() {
    let api = FakeApiServer::start(Ok(scaling_hpa())).await;
    let a = Backend::start("hpa").await;
    let mut cfg = config(&a.url, replicas(&[&a]));
    cfg.autoscaler = Some(api.hpa_source(NAME));
    let fe = Frontend::start(cfg).await;
    let s = fe
        .wait_for("the HPA's status", |s| {
            s.autoscaler.as_ref().is_some_and(|x| x.status.is_some())
        })
        .await;
    let shown = s.autoscaler.unwrap();
    let expected = demo_frontend::hpa_status::status(&scaling_hpa()).unwrap();
    assert_eq!(shown.status.as_ref(), Some(&expected));
    let st = shown.status.unwrap();
    assert_eq!((st.mode.as_str(), st.metric.as_str()), ("hpa", "cpu"));
    assert_eq!((st.value, st.target), (Some(105.0), 70.0));
    assert_eq!((st.desired, st.ready, st.min, st.max), (3, 2, 1, 5));
    assert_eq!(shown.message, "reachable");
    assert_eq!(shown.url, format!("HorizontalPodAutoscaler {NS}/{NAME}"));

    for (answer, needle) in [
        ((404, "NotFound"), "not found"),
        ((403, "Forbidden"), "ServiceAccount needs a Role"),
    ] {
        api.answer(Err(answer));
        let s = fe
            .wait_for(needle, |s| {
                s.autoscaler
                    .as_ref()
                    .is_some_and(|x| x.message.contains(needle))
            })
            .await;
        let shown = s.autoscaler.unwrap();
        assert_eq!(
            shown.status.as_ref(),
            Some(&expected),
            "the last status is kept"
        );
        assert!(
            shown.message.contains(&format!("{NS}/{NAME}")),
            "{}",
            shown.message
        );
    }
    fe.stop().await;
    a.stop().await;
}

/// An HPA that does not exist (yet, as KEDA's right after the apply) is no card, but why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_hpa_that_is_not_there_shows_why_and_no_status() {
    let api = FakeApiServer::start(Ok(scaling_hpa())).await;
    let a = Backend::start("hpa").await;
    let mut cfg = config(&a.url, replicas(&[&a]));
    cfg.autoscaler = Some(api.hpa_source("keda-hpa-backend"));
    let fe = Frontend::start(cfg).await;
    let s = fe
        .wait_for("a failed read", |s| s.autoscaler.is_some())
        .await;
    let shown = s.autoscaler.unwrap();
    assert_eq!(shown.status, None);
    assert!(
        shown.message.contains("keda-hpa-backend") && shown.message.contains("not found"),
        "{}",
        shown.message
    );
    fe.stop().await;
    a.stop().await;
}
