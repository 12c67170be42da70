//! What an autoscaled run needs from the cluster, checked before anything is applied: the
//! resource metrics API for `cpu`, KEDA's CRD for `keda`, and RBAC that lets the kubeconfig
//! user apply the autoscaler and read its HPA. Each missing piece is a named error with the
//! way to get it, rather than a half-deployed run that never scales.

use ::kube::api::PostParams;
use ::kube::{Api, Client};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use scenario::{AutoscaleMetric, ScaleMode, Scenario};

use super::api;
use super::build::keda;
use super::error::{Error, Result};

/// The group/version of the resource metrics API (metrics-server).
pub const METRICS_API: &str = "metrics.k8s.io/v1beta1";

/// `(verb, group, resource)` the run uses for its autoscaler.
fn needed(mode: ScaleMode) -> Vec<(&'static str, &'static str, &'static str)> {
    match mode {
        ScaleMode::Manual => Vec::new(),
        ScaleMode::Hpa => vec![
            ("patch", "autoscaling", "horizontalpodautoscalers"),
            ("get", "autoscaling", "horizontalpodautoscalers"),
        ],
        ScaleMode::Keda => vec![
            ("patch", "keda.sh", "scaledobjects"),
            ("get", "autoscaling", "horizontalpodautoscalers"),
        ],
    }
}

/// Every check for `s`'s autoscaler; nothing for `scale_mode = "manual"`.
pub async fn check(client: &Client, s: &Scenario) -> Result<()> {
    let a = &s.autoscale;
    if !a.mode.is_auto() {
        return Ok(());
    }
    if a.mode == ScaleMode::Keda {
        keda_crd(client).await?;
    }
    if a.metric == AutoscaleMetric::Cpu {
        metrics_api(client, a.mode.as_str()).await?;
    }
    rbac(client, s).await
}

async fn metrics_api(client: &Client, mode: &'static str) -> Result<()> {
    match client.list_api_group_resources(METRICS_API).await {
        Ok(_) => Ok(()),
        Err(::kube::Error::Api(status)) if matches!(status.code, 404 | 503) => {
            Err(Error::MetricsApiMissing {
                mode,
                detail: format!(
                    "GET /apis/{METRICS_API}: HTTP {} {}",
                    status.code,
                    status.message.trim()
                ),
            })
        }
        Err(e) => Err(Error::api(
            format!("asking for the metrics API ({METRICS_API})"),
            "",
            e,
        )),
    }
}

async fn keda_crd(client: &Client) -> Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let found = api::retry(&format!("reading CRD {}", keda::CRD), "", || {
        crds.get_opt(keda::CRD)
    })
    .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(Error::KedaMissing {
            crd: keda::CRD,
            detail: "GET customresourcedefinitions: not found".to_owned(),
        }),
    }
}

/// One SelfSubjectAccessReview per verb and resource, as `kubectl auth can-i` asks. A
/// cluster that does not answer reviews is not blocked here: the apply itself then says.
async fn rbac(client: &Client, s: &Scenario) -> Result<()> {
    let reviews: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let namespace = s.namespace();
    for (verb, group, resource) in needed(s.autoscale.mode) {
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.clone()),
                    verb: Some(verb.to_owned()),
                    group: Some(group.to_owned()),
                    resource: Some(resource.to_owned()),
                    ..ResourceAttributes::default()
                }),
                ..SelfSubjectAccessReviewSpec::default()
            },
            ..SelfSubjectAccessReview::default()
        };
        let answer = match reviews.create(&PostParams::default(), &review).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(%e, "no access review for {verb} {resource}; the apply will tell");
                continue;
            }
        };
        if !answer.status.is_some_and(|st| st.allowed) {
            return Err(Error::AutoscalerForbidden {
                mode: s.autoscale.mode.as_str(),
                verb,
                resource: match group {
                    "keda.sh" => "scaledobjects.keda.sh",
                    _ => "horizontalpodautoscalers.autoscaling",
                },
                namespace,
            });
        }
    }
    Ok(())
}
