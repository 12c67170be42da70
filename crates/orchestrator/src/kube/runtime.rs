//! [`KubeRuntime`]: the [`Runtime`] that runs the scenario on a cluster. Every call goes
//! through one `kube::Client`, so tests hand it a client whose API server is a mock and
//! exercise the very code a real cluster gets.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ::kube::{Api, Client};
use k8s_openapi::api::core::v1::Namespace;
use scenario::Scenario;

use super::api;
use super::build::{self, Plan, backend};
use super::error::{Error, Result};
use super::meta::{self, Job};
use super::metrics::KubeMetrics;
use super::pods::{self, PodFeed, PodTracker, PodView};
use super::wait::{self, WaitError};
use super::{autoscaler, endpoints, measure, node_ports, preflight, prepull_phase};
use crate::gate::prometheus::PrometheusApi;
use crate::runtime::{Deployed, Endpoint, Runtime, RuntimeError};

mod clients;
mod load;
mod readiness;

/// How long deleting the namespace at `--cleanup` may take at least (finalizers of a busy
/// cluster can be slow); the scenario's `ready_timeout` when it is longer.
const MIN_DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the CLI decides besides the scenario.
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// Run in an existing namespace of the same uuid instead of failing.
    pub reuse: bool,
    /// `runs/<uuid>`: receives kube.json and the pod-latency/event notes of the report.
    pub run_dir: Option<PathBuf>,
    /// Host at which NodePorts are reachable; `None` asks the cluster for a node address.
    pub node_host: Option<String>,
    /// NodePort keys the scenario left at their default: one held by another run moves to a
    /// free port instead of failing the run.
    pub movable_node_ports: Vec<&'static str>,
}

/// The kube runtime. See [`crate::runtime`] for the call order.
pub struct KubeRuntime {
    client: Client,
    scenario: Scenario,
    plan: Plan,
    namespace: String,
    options: KubeOptions,
    view: PodView,
    feed: Option<PodFeed>,
    tracker: Option<PodTracker>,
    desired: Arc<AtomicU32>,
    /// Set once this run created or adopted its namespace: before that, stop and teardown
    /// must not touch it (it may belong to another run of the same uuid).
    owns_namespace: bool,
    endpoints: Vec<Endpoint>,
    notes: Vec<String>,
    /// `scale_mode` hpa/keda: the watch on the cluster's autoscaler.
    autoscale: Option<autoscaler::Watch>,
}

impl std::fmt::Debug for KubeRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeRuntime")
            .field("namespace", &self.namespace)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl KubeRuntime {
    /// A runtime on `client`'s cluster. Builds (and so validates) every object up front.
    pub fn new(client: Client, scenario: Scenario, options: KubeOptions) -> Result<Self> {
        let plan = build::plan(&scenario)?;
        let (view, feed) = pods::channel();
        let autoscale = scenario
            .autoscale
            .mode
            .is_auto()
            .then(|| autoscaler::Watch::new(&scenario));
        Ok(Self {
            client,
            namespace: scenario.namespace(),
            desired: Arc::new(AtomicU32::new(0)),
            scenario,
            plan,
            options,
            view,
            feed: Some(feed),
            tracker: None,
            owns_namespace: false,
            endpoints: Vec::new(),
            notes: Vec::new(),
            autoscale,
        })
    }

    /// The run's directory (`runs/<uuid>`): its report receives the pod-latency and event
    /// notes, and kube.json goes there (a copy of several: in its `i<k>`).
    pub fn set_run_dir(&mut self, dir: PathBuf) {
        self.options.run_dir = Some(dir);
    }

    /// See [`KubeOptions::movable_node_ports`].
    pub fn set_movable_node_ports(&mut self, keys: Vec<&'static str>) {
        self.options.movable_node_ports = keys;
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The pods as the runtime sees them.
    pub fn pods(&self) -> PodView {
        self.view.clone()
    }

    fn timeout(&self) -> Duration {
        self.scenario.ready_timeout.get()
    }

    /// Fails if the namespace exists (unless `--reuse`) or is still terminating; applies it.
    async fn ensure_namespace(&mut self) -> Result<()> {
        let ns = self.namespace.clone();
        let api: Api<Namespace> = Api::all(self.client.clone());
        let existing =
            api::retry(&format!("reading namespace {ns}"), &ns, || api.get_opt(&ns)).await?;
        if let Some(existing) = existing {
            if existing.status.and_then(|s| s.phase).as_deref() == Some("Terminating") {
                return Err(Error::NamespaceTerminating { namespace: ns });
            }
            if !self.options.reuse {
                return Err(Error::NamespaceExists {
                    namespace: ns,
                    uuid: self.scenario.uuid.clone(),
                });
            }
        }
        api::apply(
            &self.client,
            &build::Object::Namespace(self.plan.namespace.clone()),
        )
        .await?;
        self.owns_namespace = true;
        Ok(())
    }

    fn start_tracker(&mut self) -> Result<()> {
        if let Some(feed) = self.feed.take() {
            let selector = meta::uuid_selector(&self.scenario.uuid)?;
            self.tracker = Some(feed.start(self.client.clone(), &self.namespace, selector));
        }
        Ok(())
    }

    async fn deploy_inner(&mut self) -> Result<Deployed> {
        // Before anything is applied: an autoscaler the cluster cannot run (no metrics API,
        // no KEDA, no permission) would leave a stack that never scales.
        preflight::check(&self.client, &self.scenario).await?;
        // Before anything is applied: a NodePort held elsewhere would fail half-way.
        let moved = node_ports::ensure_free(
            &self.client,
            &mut self.scenario,
            &self.options.movable_node_ports,
        )
        .await?;
        if !moved.is_empty() {
            self.plan = build::plan(&self.scenario)?;
        }
        self.ensure_namespace().await?;
        self.start_tracker()?;
        let mut notes = moved;
        if let Some(ds) = self.plan.prepull.clone() {
            notes.push(prepull_phase::run(&self.client, &self.scenario, &self.view, &ds).await?);
        }
        let t0 = Instant::now();
        for object in &self.plan.stack {
            api::apply(&self.client, object).await?;
        }
        self.desired
            .store(self.scenario.backend.replicas, Ordering::Relaxed);
        self.wait_deployments(&readiness::stack_targets(&self.scenario))
            .await?;
        let time_to_ready = t0.elapsed();
        self.endpoints = endpoints::endpoints(
            &self.client,
            &self.scenario,
            self.options.node_host.as_deref(),
        )
        .await;
        notes.push(format!("namespace: {}", self.namespace));
        self.notes.extend(notes.iter().cloned());
        Ok(Deployed {
            time_to_ready,
            notes,
        })
    }

    async fn scale_inner(&mut self, replicas: u32) -> Result<()> {
        let d = backend::deployment(&self.scenario, replicas)?;
        api::apply_namespaced(&self.client, &d).await?;
        self.desired.store(replicas, Ordering::Relaxed);
        self.wait_deployments(&[(Job::BACKEND, self.scenario.backend.name.clone())])
            .await
    }

    async fn teardown_inner(&mut self, keep: bool) -> Result<()> {
        if !self.owns_namespace {
            return Ok(());
        }
        let written = measure::write(
            &self.client,
            &self.scenario,
            &self.view,
            &self.notes,
            self.options.run_dir.as_deref(),
        )
        .await;
        for n in written {
            println!("  {n}");
        }
        self.tracker = None;
        if keep {
            println!(
                "  the stack stays up in namespace {}; remove it with `orchestrator destroy --uuid {}`",
                self.namespace, self.scenario.uuid
            );
            return Ok(());
        }
        // Cluster-scoped objects do not go with the namespace.
        api::delete_cluster_objects(&self.client, &meta::uuid_selector(&self.scenario.uuid)?)
            .await?;
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        api::delete_namespace(&namespaces, &self.namespace).await?;
        let timeout = self.timeout().max(MIN_DELETE_TIMEOUT);
        match wait::until(
            namespaces,
            &self.namespace,
            |n: Option<&Namespace>| n.is_none(),
            timeout,
        )
        .await
        {
            Ok(_) => Ok(()),
            Err(WaitError::Failed(e)) => Err(e),
            Err(WaitError::TimedOut) => Err(Error::Timeout {
                what: format!("deleting namespace {}", self.namespace),
                after: timeout,
                detail: String::new(),
            }),
        }
    }
}

impl Runtime for KubeRuntime {
    type Metrics = KubeMetrics;

    fn name(&self) -> &'static str {
        "kube"
    }

    async fn deploy(&mut self) -> crate::runtime::Result<Deployed> {
        // Boxed: the deploy's nested waits make a large future, kept off the caller's stack.
        Box::pin(self.deploy_inner())
            .await
            .map_err(RuntimeError::from)
    }

    async fn start_load(&mut self) -> crate::runtime::Result<()> {
        Box::pin(self.start_load_inner())
            .await
            .map_err(RuntimeError::from)
    }

    async fn scale_backend(&mut self, replicas: u32) -> crate::runtime::Result<()> {
        self.scale_inner(replicas).await.map_err(RuntimeError::from)
    }

    fn set_load(&mut self, load: scenario::LoadSpec) -> crate::runtime::Result<()> {
        self.scenario.load = load;
        self.plan.loadgen = build::loadgen::objects(&self.scenario).map_err(RuntimeError::from)?;
        Ok(())
    }

    async fn stop_load(&mut self) -> crate::runtime::Result<()> {
        self.stop_load_inner().await.map_err(RuntimeError::from)
    }

    fn autoscale_poll(&self) -> Option<Duration> {
        Some(autoscaler::POLL)
    }

    /// Reads what the cluster's autoscaler did; the backend's spec count goes to the samples.
    async fn autoscale_sync(
        &mut self,
        now: Duration,
    ) -> crate::runtime::Result<crate::autoscale::Sync> {
        let Some(watch) = self.autoscale.as_mut() else {
            return Err(RuntimeError::Other(
                "scale_mode = manual runs no autoscaler to read".to_owned(),
            ));
        };
        let (sync, spec) = watch.sync(&self.client, &self.namespace, now).await;
        if let Some(spec) = spec {
            self.desired.store(spec, Ordering::Relaxed);
        }
        Ok(sync)
    }

    /// The runtime's own bound reports what is still running; the timeline's is a little
    /// longer so that message wins.
    fn stop_timeout(&self) -> Duration {
        self.stop_bound() + Duration::from_secs(10)
    }

    fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints.clone()
    }

    fn resource_source(&self) -> crate::resources::Source {
        super::usage::source()
    }

    /// Through the API server's pod proxy, as every other reading: no NodePort, no route to
    /// the nodes needed, and each copy's Prometheus reached alike.
    fn prometheus_apis(&self) -> Vec<std::result::Result<PrometheusApi, String>> {
        let pods = self.view.pods();
        let api = pods::first_serving(&pods, Job::PROMETHEUS)
            .map(|pod| PrometheusApi::PodProxy {
                client: self.client.clone(),
                namespace: self.namespace.clone(),
                pod: pod.name.clone(),
            })
            .ok_or_else(|| {
                format!(
                    "no Prometheus pod of namespace {} is running and ready",
                    self.namespace
                )
            });
        vec![api]
    }

    fn metrics(&self) -> KubeMetrics {
        let metrics = KubeMetrics::new(
            self.client.clone(),
            self.namespace.clone(),
            self.view.clone(),
            self.desired.clone(),
        );
        if build::pipeline::enabled(&self.scenario) {
            metrics.with_redis(self.scenario.pipeline.redis.name.clone())
        } else {
            metrics
        }
    }

    /// Redis read through a worker (`kube/pipeline.rs`), as often as the drain needs.
    async fn pipeline_end(
        &mut self,
        drain: bool,
    ) -> Option<std::result::Result<crate::pipeline::report::End, crate::pipeline::report::Unread>>
    {
        if !build::pipeline::enabled(&self.scenario) {
            return None;
        }
        let (client, namespace, view) = (&self.client, &self.namespace, &self.view);
        let read = || async move { super::pipeline::read(client, namespace, &view.pods()).await };
        Some(crate::pipeline::drain::end(drain, read).await)
    }

    fn worker_killer(
        &self,
    ) -> impl Future<Output = crate::runtime::Result<String>> + Send + 'static {
        let (client, namespace) = (self.client.clone(), self.namespace.clone());
        super::pipeline::kill_worker(client, namespace, self.view.clone())
    }

    fn failure(&self) -> impl Future<Output = RuntimeError> + Send + 'static {
        let view = self.view.clone();
        async move { RuntimeError::from(pods::problem_error(view.failed().await)) }
    }

    async fn pod_startup(&mut self) -> Vec<f64> {
        self.view
            .times()
            .iter()
            .filter_map(|t| {
                let ready = t.conditions.get("Ready")?;
                let ms = ready.as_millisecond() - t.created.as_millisecond();
                Some(ms.max(0) as f64 / 1000.0)
            })
            .collect()
    }

    async fn teardown(&mut self, keep: bool) -> crate::runtime::Result<()> {
        Box::pin(self.teardown_inner(keep))
            .await
            .map_err(RuntimeError::from)
    }
}
