//! Calls to the API server: server-side apply with the run's one field manager, deletes by
//! label, and retries with backoff for the errors that are worth retrying.

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use ::kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use ::kube::{Api, Client, Resource, ResourceExt};
use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::build::Object;
use super::error::{Error, Result};

/// The one field manager of every apply: re-running a scenario converges instead of failing.
pub const MANAGER: &str = crate::kube::labels::MANAGER;

/// Attempts of a call that fails transiently (first try included).
const ATTEMPTS: u32 = 5;
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Worth another try: the server is busy or briefly unreachable.
pub fn is_transient(e: &::kube::Error) -> bool {
    match e {
        ::kube::Error::Api(s) => matches!(s.code, 429 | 500 | 502 | 503 | 504),
        ::kube::Error::HyperError(_) | ::kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `call` until it succeeds, fails for good, or [`ATTEMPTS`] transient failures in a
/// row (200 ms, 400 ms, 800 ms, 1.6 s between them).
pub async fn retry<T, F, Fut>(what: &str, namespace: &str, mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ::kube::Result<T>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if attempt < ATTEMPTS && is_transient(&e) => {
                tracing::warn!(%e, attempt, "{what}: transient API error, retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            Err(e) => return Err(Error::api(what, namespace, e)),
        }
    }
}

/// Server-side apply of a namespaced object into its namespace.
pub async fn apply_namespaced<K>(client: &Client, obj: &K) -> Result<K>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug,
{
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(client.clone(), &ns);
    apply_with(&api, obj, &ns).await
}

/// Server-side apply of a cluster-scoped object.
async fn apply_cluster<K>(client: &Client, obj: &K) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope>
        + Clone
        + Serialize
        + DeserializeOwned
        + Debug,
{
    let api: Api<K> = Api::all(client.clone());
    apply_with(&api, obj, "the cluster").await.map(drop)
}

async fn apply_with<K>(api: &Api<K>, obj: &K, ns: &str) -> Result<K>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + Debug,
{
    let name = obj.name_any();
    let what = format!("applying {}/{name}", K::kind(&()));
    let pp = PatchParams::apply(MANAGER).force();
    let patch = Patch::Apply(obj);
    retry(&what, ns, || api.patch(&name, &pp, &patch)).await
}

/// Server-side apply of any object of the plan.
pub async fn apply(client: &Client, object: &Object) -> Result<()> {
    match object {
        Object::Namespace(o) => apply_cluster(client, o).await,
        Object::ClusterRole(o) => apply_cluster(client, o).await,
        Object::ClusterRoleBinding(o) => apply_cluster(client, o).await,
        Object::ServiceAccount(o) => apply_namespaced(client, o).await.map(drop),
        Object::Role(o) => apply_namespaced(client, o).await.map(drop),
        Object::RoleBinding(o) => apply_namespaced(client, o).await.map(drop),
        Object::ConfigMap(o) => apply_namespaced(client, o).await.map(drop),
        Object::Service(o) => apply_namespaced(client, o).await.map(drop),
        Object::Deployment(o) => apply_namespaced(client, o).await.map(drop),
        Object::DaemonSet(o) => apply_namespaced(client, o).await.map(drop),
        Object::Job(o) => apply_namespaced(client, o).await.map(drop),
        Object::HorizontalPodAutoscaler(o) => apply_namespaced(client, o).await.map(drop),
        Object::ScaledObject(o) => apply_namespaced(client, o).await.map(drop),
    }
}

/// Deletes every namespaced object of kind `K` in `api`'s scope (one namespace, or all) that
/// matches `selector` (built from labels; never empty), one by one so it also works for kinds
/// without a `deletecollection` verb. Objects in `skip_namespaces` (being deleted with their
/// namespace) are left alone. Returns `Kind namespace/name` of each deleted object.
pub async fn delete_matching<K>(
    api: &Api<K>,
    selector: &str,
    scope: &str,
    skip_namespaces: &[String],
) -> Result<Vec<String>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let kind = K::kind(&()).to_string();
    let items = list(api, selector, scope).await?;
    let mut deleted = Vec::new();
    for item in items {
        let name = item.name_any();
        let ns = item.namespace().unwrap_or_default();
        if skip_namespaces.contains(&ns) {
            continue;
        }
        // An `Api::all` cannot delete: address the object's own namespace.
        let api_for: Api<K> = Api::namespaced(api.clone().into_client(), &ns);
        delete_one(&api_for, &name, scope).await?;
        deleted.push(format!("{kind} {ns}/{name}"));
    }
    Ok(deleted)
}

/// Deletes every cluster-scoped object of kind `K` matching `selector` (never empty).
/// Returns `Kind name` of each deleted object.
pub async fn delete_cluster_matching<K>(client: &Client, selector: &str) -> Result<Vec<String>>
where
    K: Resource<DynamicType = (), Scope = ClusterResourceScope> + Clone + DeserializeOwned + Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let kind = K::kind(&()).to_string();
    let mut deleted = Vec::new();
    for item in list(&api, selector, "the cluster").await? {
        let name = item.name_any();
        delete_one(&api, &name, "the cluster").await?;
        deleted.push(format!("{kind} {name}"));
    }
    Ok(deleted)
}

/// The run's cluster-scoped objects other than its namespace (Prometheus' ClusterRole and
/// ClusterRoleBinding for cAdvisor): deleting the namespace leaves them, so the run's
/// teardown and `destroy` delete them by `selector`.
pub async fn delete_cluster_objects(client: &Client, selector: &str) -> Result<Vec<String>> {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
    let mut deleted = delete_cluster_matching::<ClusterRoleBinding>(client, selector).await?;
    deleted.extend(delete_cluster_matching::<ClusterRole>(client, selector).await?);
    Ok(deleted)
}

/// Lists the objects matching `selector`, refusing an empty selector.
pub async fn list<K>(api: &Api<K>, selector: &str, scope: &str) -> Result<Vec<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    if selector.trim().is_empty() {
        return Err(Error::Invalid {
            key: "selector",
            reason: "refusing to act on every object of a kind (empty selector)".into(),
        });
    }
    let kind = K::kind(&()).to_string();
    let lp = ListParams::default().labels(selector);
    let what = format!("listing {kind} with {selector}");
    Ok(retry(&what, scope, || api.list(&lp)).await?.items)
}

/// Deletes a namespace. One already terminating answers 409 Conflict: it is going already,
/// which is what the caller wants (it then waits until it is gone), as is 404.
pub async fn delete_namespace(
    api: &Api<k8s_openapi::api::core::v1::Namespace>,
    name: &str,
) -> Result<()> {
    match delete_one(api, name, name).await {
        Err(Error::Api {
            source: ::kube::Error::Api(s),
            ..
        }) if s.code == 409 => Ok(()),
        other => other,
    }
}

/// Deletes one object in the background (dependents such as ReplicaSets or a Job's pods go
/// too). An object already gone is not an error: deletes are idempotent.
pub async fn delete_one<K>(api: &Api<K>, name: &str, scope: &str) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
{
    let what = format!("deleting {}/{name}", K::kind(&()));
    let dp = DeleteParams::background();
    match retry(&what, scope, || api.delete(name, &dp)).await {
        Ok(_) => Ok(()),
        Err(Error::Api {
            source: ::kube::Error::Api(s),
            ..
        }) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}
