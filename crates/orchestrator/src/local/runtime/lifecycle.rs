//! How the local runtime builds itself and starts, readies and stops its components: each on
//! a runtime of its own with named threads, the backend replicas published to the balancer,
//! and the resource page for Prometheus and the live UI.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scenario::Scenario;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::super::ports::{PortPlan, bind};
use super::super::scrape::{LocalMetrics, Target};
use super::super::threads::{self, ComponentRuntime};
use super::{LocalRuntime, Running, STOP_GRACE, component_err, parse};
use crate::autoscale::algorithm::Autoscaler;
use crate::autoscale::observe::Observer;
use crate::components;
use crate::runtime::{ComponentKind, Result, RuntimeError};

impl LocalRuntime {
    pub fn new(scenario: Scenario, port_base: u16, run_dir: PathBuf) -> Result<Self> {
        let plan = PortPlan::new(port_base);
        if plan.last().is_none() {
            return Err(RuntimeError::Other(format!(
                "--port-base {port_base} is too high: the local stack needs {} ports above it",
                super::super::ports::MAX_BACKEND_REPLICAS + super::super::ports::MAX_LOAD_PLANS + 3
            )));
        }
        if scenario.plans.len() > usize::from(super::super::ports::MAX_LOAD_PLANS) {
            return Err(RuntimeError::Other(format!(
                "the local runtime runs at most {} load plans; the scenario has {}",
                super::super::ports::MAX_LOAD_PLANS,
                scenario.plans.len()
            )));
        }
        let most = if scenario.autoscale.mode.is_auto() {
            scenario.autoscale.max
        } else {
            scenario.backend_scale_replicas
        };
        if u32::from(super::super::ports::MAX_BACKEND_REPLICAS)
            < most.max(scenario.backend.replicas)
        {
            return Err(RuntimeError::Other(format!(
                "the local runtime runs at most {} backend replicas",
                super::super::ports::MAX_BACKEND_REPLICAS
            )));
        }
        let redis_bin = match scenario.pipeline.workload {
            scenario::Workload::Pipeline => {
                Some(crate::pipeline::redis::find().map_err(|reason| {
                    RuntimeError::Unavailable {
                        runtime: "local",
                        reason,
                    }
                })?)
            }
            scenario::Workload::MovieNight => None,
        };
        let (ready_tx, ready_rx) = watch::channel(Vec::new());
        let (replica_urls_tx, _) = watch::channel(Vec::new());
        let (died_tx, _) = watch::channel(None);
        Ok(Self {
            startup: Vec::new(),
            tag_prefix: scenario
                .iterations
                .index
                .map(|k| format!("i{k}/"))
                .unwrap_or_default(),
            autoscaler: Autoscaler::new(crate::autoscale::spec(&scenario)),
            observer: Observer::new(),
            scenario,
            plan,
            run_dir,
            backends: Vec::new(),
            starting: Vec::new(),
            frontend: None,
            loadgens: Vec::new(),
            workers: Vec::new(),
            redis: None,
            redis_watch: None,
            redis_bin,
            balancer: None,
            resource_page: None,
            prometheus: None,
            ready_tx,
            replica_urls_tx,
            died_tx,
            metrics: LocalMetrics::new(ready_rx),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(1))
                .build()
                .unwrap_or_default(),
        })
    }

    /// The name of `tag`'s threads: prefixed with the copy when there are several.
    pub(super) fn tag(&self, tag: &str) -> String {
        format!("{}{tag}", self.tag_prefix)
    }

    /// Runs the component `make` builds on `listener` as `instance`, on a runtime of its
    /// own whose threads are named `tag` (its CPU is counted by that name); if it ends
    /// before its stop token fires, that is a death: the run's failure, but for a worker.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn spawn<M, F, E>(
        &self,
        kind: ComponentKind,
        instance: &str,
        tag: &str,
        listener: tokio::net::TcpListener,
        addr: SocketAddr,
        stop: CancellationToken,
        make: M,
    ) -> Result<Running>
    where
        M: FnOnce(tokio::net::TcpListener) -> F + Send + 'static,
        F: Future<Output = std::result::Result<(), E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let workers = match kind {
            ComponentKind::Frontend => 1,
            _ => threads::workers(),
        };
        let cannot =
            |what: &str, e: std::io::Error| component_err(kind, instance, format!("{what}: {e}"));
        let runtime = ComponentRuntime::new(tag, workers)
            .map_err(|e| cannot("cannot start its runtime", e))?;
        // The socket moves to the replica's runtime, whose reactor then serves it.
        let listener = listener
            .into_std()
            .map_err(|e| cannot("cannot hand over its listener", e))?;
        let inner = runtime
            .spawn(async move {
                let listener = tokio::net::TcpListener::from_std(listener)
                    .map_err(|e| format!("cannot take over its listener: {e}"))?;
                make(listener).await.map_err(|e| format!("{e:#}"))
            })
            .ok_or_else(|| component_err(kind, instance, "its runtime is gone"))?;
        let (runtime, crash) = crashable(runtime, &stop);
        self.metrics
            .resources
            .register(&threads::thread_tag(tag), kind.as_str(), instance);
        let died = self.died_tx.clone();
        let exited = std::sync::Arc::new(std::sync::OnceLock::new());
        let (name, token, record) = (instance.to_owned(), stop.clone(), exited.clone());
        let killed = crash.clone();
        let task = tokio::spawn(async move {
            let result = inner.await.unwrap_or_else(|e| {
                Err(if killed.is_cancelled() {
                    "killed: every task of it stopped at once, as in a crash".to_owned()
                } else {
                    format!("its task ended: {e}")
                })
            });
            if token.is_cancelled() {
                return;
            }
            let reason = match result {
                Ok(()) => "exited on its own".to_owned(),
                Err(e) => format!("exited: {e}"),
            };
            let _ = record.set(reason.clone());
            // A worker lost is what the pipeline is there to show (a gap, the queue grows,
            // the capability's lag rule fires), not a failed run; a component the others
            // need is.
            if kind == ComponentKind::Worker {
                tracing::warn!(worker = %name, %reason, "a worker is gone; the run goes on without it");
                return;
            }
            died.send_replace(Some((kind, name, reason)));
        });
        Ok(Running {
            kind,
            instance: instance.to_owned(),
            addr,
            stop,
            crash,
            exited,
            task,
            spawned: Instant::now(),
            _runtime: runtime,
        })
    }

    /// Polls `url` until it answers 2xx, the component dies, or `ready_timeout` passes.
    pub(super) async fn wait_ready(&self, r: &Running, url: &str) -> Result<Duration> {
        let start = Instant::now();
        let timeout = self.scenario.ready_timeout.get();
        loop {
            if r.task.is_finished() {
                let reason = r
                    .exited
                    .get()
                    .cloned()
                    .unwrap_or_else(|| "exited".to_owned());
                return Err(component_err(
                    r.kind,
                    &r.instance,
                    format!("failed to start: {reason}"),
                ));
            }
            if self
                .http
                .get(url)
                .send()
                .await
                .is_ok_and(|resp| resp.status().is_success())
            {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                return Err(RuntimeError::Timeout {
                    what: format!("{} ({url})", r.instance),
                    after: timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Keeps `running` in `starting` while it gets ready, then hands it back.
    pub(super) async fn ready(&mut self, running: Running, url: &str) -> Result<Running> {
        self.starting.push(running);
        let result = match self.starting.last() {
            Some(r) => self.wait_ready(r, url).await,
            None => Err(RuntimeError::Other("unreachable: empty start list".into())),
        };
        result?;
        let running = self
            .starting
            .pop()
            .ok_or_else(|| RuntimeError::Other("unreachable: empty start list".into()))?;
        self.startup.push(running.spawned.elapsed().as_secs_f64());
        Ok(running)
    }

    pub(super) fn publish_backends(&self) {
        let ready: Vec<SocketAddr> = self.backends.iter().map(|b| b.addr).collect();
        self.replica_urls_tx
            .send_replace(ready.iter().map(|a| format!("http://{a}")).collect());
        let named: Vec<(String, SocketAddr)> = self
            .backends
            .iter()
            .map(|b| (b.instance.clone(), b.addr))
            .collect();
        if let Some(Err(e)) = self.prometheus.as_ref().map(|p| p.set_backends(&named)) {
            tracing::warn!(error = %e, "cannot update the Prometheus targets");
        }
        self.ready_tx.send_replace(ready);
    }

    pub(super) async fn start_backend(&mut self) -> Result<()> {
        let i = u16::try_from(self.backends.len()).unwrap_or(u16::MAX);
        let instance = format!("{}-{i}", self.scenario.backend.name);
        let port = self.plan.backend(i);
        let mut args =
            components::backend_args(&self.scenario, &format!("127.0.0.1:{port}"), &instance);
        if let Some(url) = self.redis_url() {
            args.extend(components::backend_pipeline_args(&url));
        }
        let kind = ComponentKind::Backend;
        let config = parse::<demo_backend::Opts>("demo-backend", args)
            .and_then(|o| o.into_config().map_err(|e| e.to_string()))
            .map_err(|e| component_err(kind, &instance, format!("bad configuration: {e}")))?;
        let listener = bind(port, &instance).await?;
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let tag = self.tag(&format!("{kind}-{i}"));
        let running = self.spawn(
            kind,
            &instance,
            &tag,
            listener,
            PortPlan::addr(port),
            stop,
            move |l| demo_backend::run(config, l, shutdown),
        )?;
        let url = format!("http://127.0.0.1:{port}{}", common::api::routes::READYZ);
        let running = self.ready(running, &url).await?;
        self.metrics.set(Target {
            component: kind,
            instance: instance.clone(),
            plan: None,
            url: format!("http://127.0.0.1:{port}{}", common::api::routes::METRICS),
        });
        self.backends.push(running);
        self.publish_backends();
        Ok(())
    }

    /// Starts the resource page for Prometheus on a free loopback port (only Prometheus
    /// needs to know it); `None` when no port is free, which only costs the dashboard's
    /// CPU and memory panels.
    pub(super) async fn serve_resources(&mut self) -> Option<SocketAddr> {
        let listener = tokio::net::TcpListener::bind(PortPlan::addr(0))
            .await
            .ok()?;
        let addr = listener.local_addr().ok()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(crate::resources::export::serve(
            listener,
            self.metrics.resources.clone(),
            self.scenario.namespace(),
            self.metrics.desired.clone(),
            self.metrics.autoscaler.clone(),
            stop.clone(),
        ));
        self.resource_page = Some((stop, task));
        Some(addr)
    }

    pub(super) async fn stop_running(r: Running) {
        r.stop.cancel();
        let mut task = r.task;
        if tokio::time::timeout(STOP_GRACE, &mut task).await.is_err() {
            task.abort();
        }
    }
}

/// The component's runtime, shared with a task that drops it when the returned token fires:
/// every task of the component (its server, a worker's consuming loop) then stops where it
/// is, as in a crash. The task holds it weakly and ends with the component's `stop`, so the
/// runtime still goes with its [`Running`].
fn crashable(
    runtime: ComponentRuntime,
    stop: &CancellationToken,
) -> (Arc<Mutex<Option<ComponentRuntime>>>, CancellationToken) {
    let runtime = Arc::new(Mutex::new(Some(runtime)));
    let crash = CancellationToken::new();
    let (weak, crashed, stopped) = (Arc::downgrade(&runtime), crash.clone(), stop.clone());
    tokio::spawn(async move {
        tokio::select! {
            () = crashed.cancelled() => {
                let taken = weak.upgrade().and_then(|r| r.lock().ok()?.take());
                drop(taken);
            }
            () = stopped.cancelled() => {}
        }
    });
    (runtime, crash)
}
