//! [`LocalRuntime`]: the [`Runtime`] that runs every component in-process from its library
//! entry point, each on its own loopback port, with the backend replicas behind the
//! [`balancer`](super::balancer) and, when installed, a Prometheus child process.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use scenario::Scenario;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::ports::{PortPlan, bind};
use super::prometheus::{self, Prometheus};
use super::scrape::{LocalMetrics, Target};
use super::threads::ComponentRuntime;
use crate::autoscale::algorithm::Autoscaler;
use crate::autoscale::observe::Observer;
use crate::components;
use crate::runtime::{
    ComponentKind, Deployed, Endpoint, MetricsSource, Result, Runtime, RuntimeError,
};

mod lifecycle;
mod pipeline;

/// How long a stopped component may take to finish its in-flight work.
const STOP_GRACE: Duration = Duration::from_secs(10);

type Died = Option<(ComponentKind, String, String)>;

struct Running {
    kind: ComponentKind,
    instance: String,
    addr: SocketAddr,
    stop: CancellationToken,
    /// Ends it at once, as a crash would: its futures are dropped mid-flight, nothing drains.
    crash: CancellationToken,
    /// How it ended, once it has on its own (not stopped by the run).
    exited: std::sync::Arc<std::sync::OnceLock<String>>,
    task: JoinHandle<()>,
    /// When it was spawned: its startup latency runs from here to its readiness.
    spawned: Instant,
    /// Dropped after the task: whatever still runs on it stops then (or at once, on a
    /// crash).
    _runtime: std::sync::Arc<std::sync::Mutex<Option<ComponentRuntime>>>,
}

pub struct LocalRuntime {
    scenario: Scenario,
    plan: PortPlan,
    run_dir: PathBuf,
    backends: Vec<Running>,
    /// Spawned and not yet ready: an interrupt while waiting must still stop them.
    starting: Vec<Running>,
    frontend: Option<Running>,
    /// One load generator per load plan, in the scenario's order.
    loadgens: Vec<Running>,
    /// The pipeline's consumers, and its `redis-server` (found on PATH at creation).
    workers: Vec<Running>,
    redis: Option<crate::pipeline::redis::RedisProcess>,
    /// Stops watching Redis for its death when dropped.
    redis_watch: Option<tokio_util::sync::DropGuard>,
    redis_bin: Option<PathBuf>,
    balancer: Option<(CancellationToken, JoinHandle<()>)>,
    /// The per-replica CPU and memory page Prometheus scrapes.
    resource_page: Option<(CancellationToken, JoinHandle<()>)>,
    prometheus: Option<Prometheus>,
    ready_tx: watch::Sender<Vec<SocketAddr>>,
    replica_urls_tx: watch::Sender<Vec<String>>,
    died_tx: watch::Sender<Died>,
    metrics: LocalMetrics,
    http: reqwest::Client,
    /// `scale_mode` hpa/keda: the HPA algorithm and what it has seen of the replicas.
    autoscaler: Autoscaler,
    observer: Observer,
    /// Seconds from spawn to ready of every component started (the report's startup
    /// latency, as a cluster's pods' from creation to ready).
    startup: Vec<f64>,
    /// `i<k>/` for copy `k` of several (`iterations`), empty for a single stack: its
    /// threads' names, so the copies sharing this process are measured apart.
    tag_prefix: String,
}

fn component_err(
    kind: ComponentKind,
    instance: &str,
    reason: impl std::fmt::Display,
) -> RuntimeError {
    RuntimeError::Component {
        component: kind,
        instance: instance.to_owned(),
        reason: reason.to_string(),
    }
}

/// Parses `args` with a component's clap `Opts`, as its binary would.
fn parse<O: Parser>(program: &str, args: Vec<String>) -> std::result::Result<O, String> {
    O::try_parse_from(std::iter::once(program.to_owned()).chain(args)).map_err(|e| e.to_string())
}

impl Runtime for LocalRuntime {
    type Metrics = LocalMetrics;

    fn name(&self) -> &'static str {
        "local"
    }

    async fn deploy(&mut self) -> Result<Deployed> {
        let start = Instant::now();
        let mut notes = Vec::new();
        // The Service stand-in first, so the frontend's backend URL answers from the start.
        let listener = bind(self.plan.balancer(), "backend service (balancer)").await?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(super::balancer::serve(
            listener,
            self.ready_tx.subscribe(),
            stop.clone(),
        ));
        self.balancer = Some((stop, task));
        let resource_page = self.serve_resources().await;
        self.start_pipeline().await?;
        match prometheus::find() {
            Some(bin) => {
                let addr = PortPlan::addr(self.plan.prometheus());
                let loadgens = self
                    .scenario
                    .load_plans()
                    .into_iter()
                    .zip(0..)
                    .map(|(p, i)| prometheus::LoadgenScrape {
                        pod: self.scenario.loadgen_name(&p),
                        plan: p.name,
                        addr: PortPlan::addr(self.plan.loadgen_metrics(i)),
                    })
                    .collect();
                let scrapes = prometheus::Scrapes {
                    loadgens,
                    workers: self.worker_addrs(),
                    resources: resource_page,
                    namespace: self.scenario.namespace(),
                    uuid: self.scenario.uuid.clone(),
                };
                match Prometheus::start(
                    &bin,
                    &self.run_dir.join("prometheus"),
                    addr,
                    &scrapes,
                    self.scenario.ready_timeout.get(),
                )
                .await
                {
                    Ok(p) => {
                        if let Some(pid) = p.pid() {
                            let name = ComponentKind::Prometheus.as_str();
                            self.metrics.resources.watch_process(name, name, pid);
                        }
                        self.prometheus = Some(p);
                    }
                    Err(e) => notes.push(format!("prometheus did not start: {e}")),
                }
            }
            None => notes.push(prometheus::MISSING_NOTE.to_owned()),
        }
        if !cfg!(target_os = "linux") {
            notes.push(crate::resources::local::NOT_LINUX_NOTE.to_owned());
        }
        self.metrics
            .desired
            .store(self.scenario.backend.replicas, Ordering::Relaxed);
        for _ in 0..self.scenario.backend.replicas {
            self.start_backend().await?;
        }
        let kind = ComponentKind::Frontend;
        let instance = self.scenario.frontend.name.clone();
        let port = self.plan.frontend();
        let args = components::frontend_args(
            &format!("127.0.0.1:{port}"),
            &format!("http://{}", PortPlan::addr(self.plan.balancer())),
            // The flags name the replicas ready now (as the binary would get them); the
            // Watch below then follows scaling.
            &components::ReplicaDiscovery::Static(self.replica_urls_tx.borrow().clone()),
            // The UI follows one load generator: the first plan's.
            &format!("http://{}", PortPlan::addr(self.plan.loadgen_metrics(0))),
        );
        let mut config = parse::<demo_frontend::Opts>("demo-frontend", args)
            .and_then(|o| o.into_config().map_err(|e| e.to_string()))
            .map_err(|e| component_err(kind, &instance, format!("bad configuration: {e}")))?;
        // Scaling is pushed to the frontend instead of it polling DNS.
        config.replicas = demo_frontend::ReplicaSource::Watch(self.replica_urls_tx.subscribe());
        if self.scenario.autoscale.mode != scenario::ScaleMode::Manual {
            config.autoscaler = resource_page
                .map(|addr| demo_frontend::AutoscalerSource::Url(format!("http://{addr}")));
        }
        let listener = bind(port, &instance).await?;
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let tag = self.tag(kind.as_str());
        let running = self.spawn(
            kind,
            &instance,
            &tag,
            listener,
            PortPlan::addr(port),
            stop,
            move |l| demo_frontend::run(config, l, shutdown),
        )?;
        let running = self
            .ready(
                running,
                &format!("http://127.0.0.1:{port}{}", common::api::routes::SUMMARY),
            )
            .await?;
        self.frontend = Some(running);
        Ok(Deployed {
            time_to_ready: start.elapsed(),
            notes,
        })
    }

    async fn start_load(&mut self) -> Result<()> {
        let kind = ComponentKind::Loadgen;
        let target = format!("http://{}", PortPlan::addr(self.plan.balancer()));
        // Every plan's generator is spawned before any is waited for: the plans start
        // together. Until all answer they stay in `starting`, which an interrupt stops.
        let first = self.starting.len();
        let mut targets = Vec::new();
        for (plan, i) in self.scenario.load_plans().into_iter().zip(0..) {
            let instance = self.scenario.loadgen_name(&plan);
            let port = self.plan.loadgen_metrics(i);
            let args = components::loadgen_args(&plan, &target, &format!("127.0.0.1:{port}"), None);
            let mut config = parse::<loadgen::Opts>("loadgen", args)
                .and_then(|o| o.into_config().map_err(|e| e.to_string()))
                .map_err(|e| component_err(kind, &instance, format!("bad configuration: {e}")))?;
            // The orchestrator owns the terminal: the in-process generator must not draw its
            // own progress line over the phase display.
            config.progress = loadgen::Progress::Off;
            let listener = bind(port, &instance).await?;
            let stop = CancellationToken::new();
            let shutdown = stop.clone().cancelled_owned();
            // Its lanes' threads are named `<tag>/lane<n>` and counted with it.
            let tag = self.tag(&format!("{kind}-{i}"));
            let running = self.spawn(
                kind,
                &instance,
                &tag,
                listener,
                PortPlan::addr(port),
                stop,
                move |l| async move {
                    loadgen::run(config, Some(l), shutdown)
                        .await
                        .map(|_report| ())
                },
            )?;
            self.starting.push(running);
            targets.push(Target {
                component: kind,
                instance,
                plan: Some(plan.name),
                url: format!("http://127.0.0.1:{port}{}", common::api::routes::METRICS),
            });
        }
        for (k, t) in targets.iter().enumerate() {
            let r = &self.starting[first + k];
            self.wait_ready(r, &t.url).await?;
            self.startup.push(r.spawned.elapsed().as_secs_f64());
        }
        self.loadgens.extend(self.starting.drain(first..));
        for t in targets {
            self.metrics.set(t);
        }
        Ok(())
    }

    async fn scale_backend(&mut self, replicas: u32) -> Result<()> {
        self.metrics.desired.store(replicas, Ordering::Relaxed);
        while u32::try_from(self.backends.len()).unwrap_or(u32::MAX) < replicas {
            self.start_backend().await?;
        }
        while u32::try_from(self.backends.len()).unwrap_or(0) > replicas {
            if let Some(r) = self.backends.pop() {
                self.publish_backends();
                self.metrics.remove(&r.instance);
                Self::stop_running(r).await;
            }
        }
        Ok(())
    }

    async fn autoscale_sync(&mut self, now: Duration) -> Result<crate::autoscale::Sync> {
        let round = self.metrics.scrape().await;
        let t = crate::report::round6(now.as_secs_f64());
        let seen = self.observer.observe(t, &round, &self.scenario);
        let current = u32::try_from(self.backends.len()).unwrap_or(u32::MAX);
        let decision = self.autoscaler.sync(now, current, &seen.observation);
        if decision.desired != current {
            self.scale_backend(decision.desired).await?;
        }
        let a = &self.scenario.autoscale;
        if let Ok(mut latest) = self.metrics.autoscaler.lock() {
            *latest = Some(common::api::AutoscalerStatus {
                mode: a.mode.as_str().to_owned(),
                metric: a.metric.as_str().to_owned(),
                target: a.target,
                value: seen.value,
                desired: decision.desired,
                ready: round.backend_ready,
                min: a.min,
                max: a.max,
                reason: decision.reason.as_str().to_owned(),
            });
        }
        Ok(crate::autoscale::Sync {
            t,
            value: seen.value.map(crate::report::round6),
            recommended: decision.recommended,
            from: current,
            desired: decision.desired,
            ready: round.backend_ready,
            reason: decision.reason.as_str().to_owned(),
            expected: None,
        })
    }

    fn set_load(&mut self, load: scenario::LoadSpec) -> Result<()> {
        self.scenario.load = load;
        Ok(())
    }

    async fn stop_load(&mut self) -> Result<()> {
        // One last scrape happens after the run: keep the loadgens' final counters by
        // leaving their targets until they are gone (a refused scrape is a named gap).
        futures::future::join_all(self.loadgens.drain(..).map(Self::stop_running)).await;
        Ok(())
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        let url = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
        let mut e = vec![
            Endpoint {
                name: "frontend (web UI)".into(),
                url: url(self.plan.frontend(), "/"),
            },
            Endpoint {
                name: "backend service (balancer)".into(),
                url: url(self.plan.balancer(), "/"),
            },
        ];
        for (plan, i) in self.scenario.load_plans().iter().zip(0..) {
            e.push(Endpoint {
                name: format!("{} metrics", self.scenario.loadgen_name(plan)),
                url: url(self.plan.loadgen_metrics(i), common::api::routes::METRICS),
            });
        }
        for w in &self.workers {
            e.push(pipeline::worker_endpoint(&w.instance, w.addr));
        }
        if let Some(url) = self.redis_url() {
            e.push(Endpoint {
                name: crate::runtime::ComponentKind::Redis.as_str().into(),
                url,
            });
        }
        if let Some(p) = &self.prometheus {
            e.push(Endpoint {
                name: "prometheus".into(),
                url: format!("http://{}/", p.addr),
            });
        }
        e
    }

    fn metrics(&self) -> LocalMetrics {
        self.metrics.clone()
    }

    fn resource_source(&self) -> crate::resources::Source {
        crate::resources::local::LocalResources::source()
    }

    fn worker_killer(&self) -> impl Future<Output = Result<String>> + Send + 'static {
        let first = self
            .workers
            .first()
            .map(|w| (w.instance.clone(), w.crash.clone()));
        async move {
            let (instance, crash) = first.ok_or_else(|| {
                RuntimeError::Other("kill_worker_at: the run has no worker to kill".to_owned())
            })?;
            crash.cancel();
            Ok(format!(
                "killed worker {instance} as a crash would: its orders in hand stay unacknowledged, and locally nothing restarts it"
            ))
        }
    }

    fn failure(&self) -> impl Future<Output = RuntimeError> + Send + 'static {
        let mut rx = self.died_tx.subscribe();
        async move {
            // Clone out of the guard at once: it must not live across an await.
            let died = rx
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|d| d.clone());
            match died {
                Some((kind, instance, reason)) => component_err(kind, &instance, reason),
                // The runtime was dropped: nothing can fail any more.
                None => std::future::pending().await,
            }
        }
    }

    async fn pipeline_end(
        &mut self,
        drain: bool,
    ) -> Option<std::result::Result<crate::pipeline::report::End, crate::pipeline::report::Unread>>
    {
        self.pipeline_end_state(drain).await
    }

    async fn pod_startup(&mut self) -> Vec<f64> {
        self.startup.clone()
    }

    async fn teardown(&mut self, _keep: bool) -> Result<()> {
        // Nothing can outlive this process: stop in reverse order of start.
        while let Some(r) = self.starting.pop() {
            Self::stop_running(r).await;
        }
        self.stop_load().await?;
        if let Some(r) = self.frontend.take() {
            Self::stop_running(r).await;
        }
        while let Some(r) = self.backends.pop() {
            Self::stop_running(r).await;
        }
        self.publish_backends();
        self.stop_pipeline().await;
        for (stop, task) in [self.balancer.take(), self.resource_page.take()]
            .into_iter()
            .flatten()
        {
            stop.cancel();
            let _ = tokio::time::timeout(STOP_GRACE, task).await;
        }
        if let Some(mut p) = self.prometheus.take() {
            p.stop().await;
        }
        Ok(())
    }
}
