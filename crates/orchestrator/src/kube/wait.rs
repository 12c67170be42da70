//! Waits: watches with a timeout, never sleep-polling. A watch that the server closes,
//! resets or answers 410 Gone is resumed (the watcher re-lists) with backoff until the
//! deadline; only an answer no retry can change (401, 403, 404) ends it early.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

use ::kube::runtime::wait::Condition;
use ::kube::runtime::watcher::{self, Event};
use ::kube::{Api, Resource, ResourceExt};
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use serde::de::DeserializeOwned;

use super::error::{Error, Result};

/// A Deployment is rolled out as `kubectl rollout status` judges it: the controller has seen
/// its latest spec, every replica runs the latest template (`updatedReplicas`), no old
/// replica is left (`replicas`, which counts old and new pods during a rolling update), and
/// the updated ones are available. `readyReplicas` alone is not enough: with `--reuse` and
/// a changed spec it counts the old pods too. kube-rs's `is_deployment_completed` looks at
/// the Progressing condition, which a replicas-only patch does not change.
pub fn deployment_ready(d: Option<&Deployment>) -> bool {
    let Some(d) = d else { return false };
    let (Some(spec), Some(status)) = (d.spec.as_ref(), d.status.as_ref()) else {
        return false;
    };
    let generation = d.metadata.generation.unwrap_or(0);
    let want = spec.replicas.unwrap_or(1);
    let updated = status.updated_replicas.unwrap_or(0);
    status.observed_generation.unwrap_or(-1) >= generation
        && updated >= want
        && status.replicas.unwrap_or(0) <= updated
        && status.available_replicas.unwrap_or(0) >= updated
        && status.ready_replicas.unwrap_or(0) >= want
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
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let mut events = std::pin::pin!(watcher::watcher(api, config));
        let mut backoff = Backoff::default();
        let mut current: Option<K>;
        let mut relist: Option<Option<K>> = None;
        while let Some(event) = events.next().await {
            match backoff.judge(&what, event).await? {
                None => continue,
                Some(Event::Init) => {
                    relist = Some(None);
                    continue;
                }
                Some(Event::InitApply(o)) => {
                    relist = Some(Some(o));
                    continue;
                }
                Some(Event::InitDone) => current = relist.take().flatten(),
                Some(Event::Apply(o)) => current = Some(o),
                Some(Event::Delete(_)) => current = None,
            }
            if cond.matches_object(current.as_ref()) {
                return Ok(current);
            }
        }
        Err(Error::Watch {
            what,
            message: "the watch ended".into(),
        })
    })
    .await
}

/// First and longest pause between watch retries.
const WATCH_BACKOFF: (Duration, Duration) = (Duration::from_millis(200), Duration::from_secs(5));

/// Backoff between watch retries, reset by every event that arrives.
#[derive(Debug)]
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(WATCH_BACKOFF.0)
    }
}

impl Backoff {
    /// An event passes through (`Some`); a retryable error waits and yields `None` (the
    /// watcher then resumes or re-lists); a final one is the error.
    async fn judge<K>(
        &mut self,
        what: &str,
        event: Result<Event<K>, watcher::Error>,
    ) -> Result<Option<Event<K>>> {
        match event {
            Ok(e) => {
                self.0 = WATCH_BACKOFF.0;
                Ok(Some(e))
            }
            Err(e) if matches!(watch_code(&e), Some(401 | 403 | 404)) => Err(watch_error(what, e)),
            Err(e) => {
                tracing::warn!(%e, "watching {what}: retrying in {:?}", self.0);
                tokio::time::sleep(self.0).await;
                self.0 = (self.0 * 2).min(WATCH_BACKOFF.1);
                Ok(None)
            }
        }
    }
}

/// The HTTP status of a watch error, when it has one.
fn watch_code(e: &watcher::Error) -> Option<u16> {
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => match k {
            ::kube::Error::Api(s) => Some(s.code),
            _ => None,
        },
        watcher::Error::WatchError(s) => Some(s.code),
        watcher::Error::NoResourceVersion => None,
    }
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
        let mut backoff = Backoff::default();
        while let Some(event) = events.next().await {
            let Some(event) = backoff.judge(&what, event).await? else {
                continue;
            };
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
        rollout(generation, want, observed, (ready, ready, ready))
    }

    /// A Deployment whose status has `(replicas, updated, available)`, all of them ready.
    fn rollout(
        generation: i64,
        want: i32,
        observed: i64,
        (total, updated, available): (i32, i32, i32),
    ) -> Deployment {
        let mut d = Deployment::default();
        d.metadata.generation = Some(generation);
        d.spec = Some(DeploymentSpec {
            replicas: Some(want),
            ..DeploymentSpec::default()
        });
        d.status = Some(DeploymentStatus {
            observed_generation: Some(observed),
            replicas: Some(total),
            ready_replicas: Some(total),
            updated_replicas: Some(updated),
            available_replicas: Some(available),
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

    #[test]
    fn a_rolling_update_is_not_ready_while_old_pods_remain() {
        // One old ready pod and one new one: readyReplicas says 2 of 1, but it is not done.
        assert!(!deployment_ready(Some(&rollout(2, 1, 2, (2, 1, 1)))));
        // The new pod runs but is not available yet.
        assert!(!deployment_ready(Some(&rollout(2, 1, 2, (1, 1, 0)))));
        assert!(deployment_ready(Some(&rollout(2, 1, 2, (1, 1, 1)))));
    }
}
