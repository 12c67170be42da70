//! `iterations = N`: N copies of the whole stack driven together as one [`Runtime`].
//!
//! [`Iterations`] holds one runtime per copy and forwards every call of the timeline to all
//! of them at once (deploy, load, scaling, teardown run concurrently). With more than one
//! copy, everything a copy names is prefixed with its 1-based number: its scrape targets'
//! instances become `i<k>/<instance>` (unique across copies, and how the sampler tells the
//! copies apart: [`of_instance`]), its endpoints `i<k>: <name>`, its errors name it. One
//! copy is today's single stack, unchanged: nothing is prefixed.

mod metrics;
pub mod render;
pub mod report;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures::future::join_all;

pub use metrics::IterationsMetrics;

use crate::gate::prometheus::PrometheusApi;
use crate::pipeline::report::{End, Unread};
use crate::runtime::{Deployed, Endpoint, Result, Runtime, RuntimeError};

/// The instance `instance` of copy `k` (1-based) as the sampler sees it.
pub fn prefixed(k: u32, instance: &str) -> String {
    format!("i{k}/{instance}")
}

/// The copy (1-based) a prefixed instance belongs to; `None` for a single stack's.
pub fn of_instance(instance: &str) -> Option<u32> {
    let (head, _) = instance.split_once('/')?;
    head.strip_prefix('i')?.parse().ok()
}

/// Each copy's scenario: the scenario itself for one copy; for several, copy `k` (1-based)
/// knows its number (its namespace ends in `-<k>`, its local threads start `i<k>/`).
/// NodePorts are cluster-wide, so only copy 1 takes the scenario's (and its Grafana); the
/// others' frontend and Prometheus are ClusterIP Services, reached by port-forward.
pub fn copies(s: &scenario::Scenario) -> Vec<scenario::Scenario> {
    let n = s.iterations.count.max(1);
    if n == 1 {
        return vec![s.clone()];
    }
    (1..=n)
        .map(|k| {
            let mut copy = s.clone();
            copy.iterations.index = Some(k);
            if k > 1 {
                copy.frontend_service_type = scenario::ServiceType::ClusterIP;
                copy.grafana.enabled = false;
            }
            copy
        })
        .collect()
}

/// Several copies of a stack, one runtime each, driven as one.
pub struct Iterations<R: Runtime> {
    copies: Vec<R>,
}

impl<R: Runtime> Iterations<R> {
    /// The copies in order: the first is copy 1. At least one.
    pub fn new(copies: Vec<R>) -> Result<Self> {
        if copies.is_empty() {
            return Err(RuntimeError::Other(
                "iterations: no copy of the stack to run (set iterations = 1 or more)".into(),
            ));
        }
        Ok(Self { copies })
    }

    fn several(&self) -> bool {
        self.copies.len() > 1
    }

    /// The first failure of `results` (in copy order), named.
    fn first_err<T>(&self, results: Vec<Result<T>>) -> Result<Vec<T>> {
        let several = self.several();
        results
            .into_iter()
            .zip(1..)
            .map(|(r, k)| r.map_err(|e| name_error(several, k, e)))
            .collect()
    }
}

/// `e` of copy `k`, naming the copy when there are several.
fn name_error(several: bool, k: u32, e: RuntimeError) -> RuntimeError {
    if !several {
        return e;
    }
    match e {
        RuntimeError::Component {
            component,
            instance,
            reason,
        } => RuntimeError::Component {
            component,
            instance: prefixed(k, &instance),
            reason,
        },
        RuntimeError::Timeout { what, after } => RuntimeError::Timeout {
            what: format!("iteration {k}: {what}"),
            after,
        },
        // The port and its fix already say all.
        e @ RuntimeError::PortInUse { .. } => e,
        e => RuntimeError::Other(format!("iteration {k}: {e}")),
    }
}

impl<R: Runtime> Runtime for Iterations<R> {
    type Metrics = IterationsMetrics<R::Metrics>;

    fn name(&self) -> &'static str {
        self.copies[0].name()
    }

    async fn deploy(&mut self) -> Result<Deployed> {
        let results = join_all(self.copies.iter_mut().map(R::deploy)).await;
        let deployed = self.first_err(results)?;
        let mut notes: Vec<String> = Vec::new();
        for n in deployed.iter().flat_map(|d| &d.notes) {
            // Every copy says the same about a missing tool: once is enough.
            if !notes.contains(n) {
                notes.push(n.clone());
            }
        }
        Ok(Deployed {
            time_to_ready: deployed
                .iter()
                .map(|d| d.time_to_ready)
                .max()
                .unwrap_or_default(),
            notes,
        })
    }

    async fn start_load(&mut self) -> Result<()> {
        let results = join_all(self.copies.iter_mut().map(R::start_load)).await;
        self.first_err(results).map(drop)
    }

    async fn scale_backend(&mut self, replicas: u32) -> Result<()> {
        let results = join_all(self.copies.iter_mut().map(|c| c.scale_backend(replicas))).await;
        self.first_err(results).map(drop)
    }

    async fn stop_load(&mut self) -> Result<()> {
        let results = join_all(self.copies.iter_mut().map(R::stop_load)).await;
        self.first_err(results).map(drop)
    }

    /// Capability mode: every copy is offered the same rate (the climb's rates are per copy).
    fn set_load(&mut self, load: scenario::LoadSpec) -> Result<()> {
        let results = self
            .copies
            .iter_mut()
            .map(|c| c.set_load(load.clone()))
            .collect();
        self.first_err(results).map(drop)
    }

    fn stop_timeout(&self) -> Duration {
        self.copies
            .iter()
            .map(R::stop_timeout)
            .max()
            .unwrap_or_default()
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        if !self.several() {
            return self.copies[0].endpoints();
        }
        self.copies
            .iter()
            .zip(1..)
            .flat_map(|(c, k)| {
                c.endpoints().into_iter().map(move |e| Endpoint {
                    name: format!("i{k}: {}", e.name),
                    url: e.url,
                })
            })
            .collect()
    }

    fn metrics(&self) -> Self::Metrics {
        IterationsMetrics::new(self.copies.iter().map(R::metrics).collect())
    }

    fn resource_source(&self) -> crate::resources::Source {
        self.copies[0].resource_source()
    }

    /// Every copy's: an alert that fires in any copy is the run's.
    fn prometheus_apis(&self) -> Vec<std::result::Result<PrometheusApi, String>> {
        self.copies.iter().flat_map(R::prometheus_apis).collect()
    }

    /// A worker of copy 1: one crash is what the question asks about, not one per copy.
    fn worker_killer(&self) -> impl Future<Output = Result<String>> + Send + 'static {
        let several = self.several();
        let kill = self.copies[0].worker_killer();
        async move {
            let what = kill.await.map_err(|e| name_error(several, 1, e))?;
            Ok(if several {
                format!("copy 1: {what}")
            } else {
                what
            })
        }
    }

    fn failure(&self) -> impl Future<Output = RuntimeError> + Send + 'static {
        let several = self.several();
        let failures: Vec<Pin<Box<dyn Future<Output = RuntimeError> + Send>>> = self
            .copies
            .iter()
            .zip(1..)
            .map(|(c, k)| {
                let f = c.failure();
                Box::pin(async move { name_error(several, k, f.await) }) as Pin<Box<_>>
            })
            .collect();
        async move { futures::future::select_all(failures).await.0 }
    }

    /// Only a single stack autoscales (the scenario refuses `scale_mode` hpa/keda beside
    /// several copies).
    async fn autoscale_sync(&mut self, now: Duration) -> Result<crate::autoscale::Sync> {
        if self.several() {
            return Err(RuntimeError::Unavailable {
                runtime: self.name(),
                reason: "several copies (iterations > 1) are not autoscaled".to_owned(),
            });
        }
        self.copies[0].autoscale_sync(now).await
    }

    fn autoscale_poll(&self) -> Option<Duration> {
        self.copies[0].autoscale_poll()
    }

    async fn pipeline_end(&mut self, drain: bool) -> Option<std::result::Result<End, Unread>> {
        let several = self.several();
        let ends = join_all(self.copies.iter_mut().map(|c| c.pipeline_end(drain))).await;
        let mut total: Option<End> = None;
        let named = |k: u32, why: String| {
            if several {
                format!("iteration {k}: {why}")
            } else {
                why
            }
        };
        for (end, k) in ends.into_iter().zip(1..) {
            let end = match end? {
                Ok(e) => e,
                Err(Unread::Gap(why)) => return Some(Err(Unread::Gap(named(k, why)))),
                Err(Unread::Unreachable(why)) => {
                    return Some(Err(Unread::Unreachable(named(k, why))));
                }
            };
            total = Some(match total {
                None => end,
                Some(t) => End {
                    queued: t.queued + end.queued,
                    pending: t.pending + end.pending,
                    aggregated: t.aggregated + end.aggregated,
                    memory_bytes: t.memory_bytes + end.memory_bytes,
                    drained: t.drained && end.drained,
                    drain_seconds: t.drain_seconds.max(end.drain_seconds),
                },
            });
        }
        total.map(Ok)
    }

    async fn pod_startup(&mut self) -> Vec<f64> {
        join_all(self.copies.iter_mut().map(R::pod_startup))
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    async fn teardown(&mut self, keep: bool) -> Result<()> {
        let results = join_all(self.copies.iter_mut().map(|c| c.teardown(keep))).await;
        self.first_err(results).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefixed_instance_names_its_copy() {
        assert_eq!(of_instance(&prefixed(3, "backend-0")), Some(3));
        assert_eq!(of_instance(&prefixed(12, "pod/x")), Some(12));
        assert_eq!(of_instance("backend-0"), None);
        assert_eq!(of_instance("loadgen-abc/x"), None);
        assert_eq!(of_instance("redis"), None);
    }
}
