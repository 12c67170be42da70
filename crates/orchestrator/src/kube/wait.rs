//! Waits: watches with a timeout, never sleep-polling.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use ::kube::runtime::wait::{Condition, await_condition};
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Resource, ResourceExt};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use serde::de::DeserializeOwned;

use super::error::{Error, Result};

/// A Deployment is ready when the controller has seen its latest spec and as many replicas
/// are ready as the spec asks for. kube-rs's `is_deployment_completed` looks at the
/// Progressing condition, which a replicas-only patch does not change.
pub fn deployment_ready(d: Option<&Deployment>) -> bool {
    let Some(d) = d else { return false };
    let (Some(spec), Some(status)) = (d.spec.as_ref(), d.status.as_ref()) else {
        return false;
    };
    let generation = d.metadata.generation.unwrap_or(0);
    let want = spec.replicas.unwrap_or(1);
    status.observed_generation.unwrap_or(-1) >= generation
        && status.ready_replicas.unwrap_or(0) == want
        && status.updated_replicas.unwrap_or(0) >= want
}

/// A DaemonSet is ready when its latest spec runs, ready, on every node it is scheduled to
/// (and it is scheduled to at least one: zero nodes would pre-pull nothing).
pub fn daemon_set_ready(d: Option<&DaemonSet>) -> bool {
    let Some(d) = d else { return false };
    let Some(status) = d.status.as_ref() else {
        return false;
    };
    let generation = d.metadata.generation.unwrap_or(0);
    status.observed_generation.unwrap_or(-1) >= generation
        && status.desired_number_scheduled > 0
        && status.number_ready == status.desired_number_scheduled
        && status.updated_number_scheduled.unwrap_or(0) == status.desired_number_scheduled
}

/// `Kind/name (ready/wanted ready)` for messages.
pub fn deployment_progress(d: Option<&Deployment>) -> String {
    let ready = d
        .and_then(|d| d.status.as_ref())
        .and_then(|s| s.ready_replicas)
        .unwrap_or(0);
    let want = d
        .and_then(|d| d.spec.as_ref())
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    format!("{ready}/{want} ready")
}

/// Why a watch-based wait did not finish.
#[derive(Debug)]
pub enum WaitError {
    TimedOut,
    Failed(Error),
}

/// Watches `name` until `cond` holds, for at most `timeout`. `None`: the condition held for
/// an object that does not exist (e.g. waiting for a deletion).
pub async fn until<K>(
    api: Api<K>,
    name: &str,
    cond: impl Condition<K>,
    timeout: Duration,
) -> Result<Option<K>, WaitError>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource<DynamicType = ()> + 'static,
{
    let what = format!("{}/{name}", K::kind(&()));
    bounded(timeout, async {
        await_condition(api, name, cond)
            .await
            .map_err(|e| watch_error(&what, e))
    })
    .await
}

/// Bounds `fut` by `timeout`.
pub async fn bounded<T>(
    timeout: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<T, WaitError> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r.map_err(WaitError::Failed),
        Err(_) => Err(WaitError::TimedOut),
    }
}

fn watch_error(what: &str, e: impl std::error::Error) -> Error {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    if message.contains("403") || message.to_ascii_lowercase().contains("forbidden") {
        return Error::Forbidden {
            what: format!("watching {what}"),
            namespace: String::new(),
            message,
        };
    }
    Error::Watch {
        what: what.to_owned(),
        message,
    }
}

/// Watches the objects of `api` matching `selector` until none is left, for at most
/// `timeout`. Returns the names still there on timeout in the error's detail.
pub async fn until_gone<K>(
    api: Api<K>,
    selector: &str,
    timeout: Duration,
) -> Result<(), (WaitError, Vec<String>)>
where
    K: Clone + Debug + Send + DeserializeOwned + Resource<DynamicType = ()> + 'static,
{
    if selector.trim().is_empty() {
        return Err((
            WaitError::Failed(Error::Invalid {
                key: "selector",
                reason: "refusing to wait on every object of a kind (empty selector)".into(),
            }),
            Vec::new(),
        ));
    }
    let what = format!("{} with {selector}", K::kind(&()));
    let left = std::sync::Arc::new(std::sync::Mutex::new(BTreeSet::<String>::new()));
    let seen = left.clone();
    let fut = async move {
        let config = watcher::Config::default().labels(selector);
        let mut events = std::pin::pin!(watcher::watcher(api, config));
        let mut relist: Option<BTreeSet<String>> = None;
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| watch_error(&what, e))?;
            let Ok(mut set) = seen.lock() else {
                break;
            };
            let key = |o: &K| format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any());
            match event {
                // Emitted before the list is even requested: nothing is known yet.
                Event::Init => {
                    relist = Some(BTreeSet::new());
                    continue;
                }
                Event::InitApply(o) => {
                    if let Some(r) = relist.as_mut() {
                        r.insert(key(&o));
                    }
                    continue;
                }
                Event::InitDone => *set = relist.take().unwrap_or_default(),
                Event::Apply(o) => {
                    set.insert(key(&o));
                }
                Event::Delete(o) => {
                    set.remove(&key(&o));
                }
            }
            if set.is_empty() {
                return Ok(());
            }
        }
        Err(Error::Watch {
            what,
            message: "the watch ended".into(),
        })
    };
    bounded(timeout, fut).await.map_err(|e| {
        let names = left
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        (e, names)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStatus};

    fn dep(generation: i64, want: i32, observed: i64, ready: i32) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.generation = Some(generation);
        d.spec = Some(DeploymentSpec {
            replicas: Some(want),
            ..DeploymentSpec::default()
        });
        d.status = Some(DeploymentStatus {
            observed_generation: Some(observed),
            ready_replicas: Some(ready),
            updated_replicas: Some(ready),
            ..DeploymentStatus::default()
        });
        d
    }

    #[test]
    fn a_replicas_only_patch_is_not_ready_until_the_new_replicas_are() {
        assert!(deployment_ready(Some(&dep(1, 1, 1, 1))));
        // Scaled to 2: the controller has not seen generation 2 yet.
        assert!(!deployment_ready(Some(&dep(2, 2, 1, 1))));
        // Seen, but the second replica is not ready.
        assert!(!deployment_ready(Some(&dep(2, 2, 2, 1))));
        assert!(deployment_ready(Some(&dep(2, 2, 2, 2))));
        assert!(!deployment_ready(None));
    }
}
