//! The pipeline workload on the local runtime: `redis-server` started first (the backends
//! need its URL), the workers in-process like every component (a runtime of their own each,
//! threads named `worker-<i>`), Redis read once a second by the sampler and at the end,
//! watched so that its death fails the run like any component's (`pipeline/watch.rs`), and
//! both stopped with the stack.

use tokio_util::sync::CancellationToken;

use super::super::ports::bind;
use super::super::scrape::Target;
use super::{LocalRuntime, component_err, parse};
use crate::components;
use crate::pipeline::probe::Probe;
use crate::pipeline::redis::RedisProcess;
use crate::pipeline::report::{End, Unread};
use crate::pipeline::watch;
use crate::runtime::{ComponentKind, Result};

impl LocalRuntime {
    /// Starts Redis, then the workers; nothing for a movie-night run.
    pub(super) async fn start_pipeline(&mut self) -> Result<()> {
        let Some(bin) = self.redis_bin.clone() else {
            return Ok(());
        };
        let kind = ComponentKind::Redis;
        let name = kind.spec(&self.scenario).name.clone();
        let redis = RedisProcess::start(
            &bin,
            &self.run_dir.join("redis"),
            self.scenario.ready_timeout.get(),
        )
        .await
        .map_err(|e| component_err(kind, &name, e))?;
        if let Some(pid) = redis.pid() {
            self.metrics
                .resources
                .watch_process(kind.as_str(), &name, pid);
        }
        let url = redis.url();
        let probe = Probe::new(&url).map_err(|e| component_err(kind, &name, e))?;
        self.redis_watch = Some(self.watch_redis(&redis, &name)?.drop_guard());
        self.redis = Some(redis);
        self.metrics.set_redis(probe);
        for i in 0..self.scenario.pipeline.worker.replicas {
            self.start_worker(i, &url).await?;
        }
        Ok(())
    }

    /// Reports Redis as died once it stops answering, until the token returned is cancelled
    /// (the run stopping it is no death). Its own connection: a reading of the sampler
    /// must not wait behind a ping, nor a ping behind a reading.
    fn watch_redis(&self, redis: &RedisProcess, name: &str) -> Result<CancellationToken> {
        let probe =
            Probe::new(&redis.url()).map_err(|e| component_err(ComponentKind::Redis, name, e))?;
        let dead = watch::dead(probe, redis.exit_watch(), redis.log().to_owned());
        let stop = CancellationToken::new();
        let (died, token, name) = (self.died_tx.clone(), stop.clone(), name.to_owned());
        tokio::spawn(async move {
            tokio::select! {
                reason = dead => {
                    if !token.is_cancelled() {
                        died.send_replace(Some((ComponentKind::Redis, name, reason)));
                    }
                }
                () = token.cancelled() => {}
            }
        });
        Ok(stop)
    }

    /// The URL the backends send orders to, once Redis runs.
    pub(super) fn redis_url(&self) -> Option<String> {
        self.redis.as_ref().map(RedisProcess::url)
    }

    async fn start_worker(&mut self, i: u32, redis_url: &str) -> Result<()> {
        let kind = ComponentKind::Worker;
        let instance = format!("{}-{i}", self.scenario.pipeline.worker.name);
        // Its port only matters to the sampler and Prometheus: any free one.
        let listener = bind(0, &instance).await?;
        let addr = listener
            .local_addr()
            .map_err(|e| component_err(kind, &instance, e))?;
        let args = components::worker_args(&self.scenario, &addr.to_string(), redis_url, &instance);
        let config = parse::<demo_backend::worker::WorkerOpts>("demo-worker", args)
            .and_then(|o| o.into_config().map_err(|e| e.to_string()))
            .map_err(|e| component_err(kind, &instance, format!("bad configuration: {e}")))?;
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        let tag = self.tag(&format!("{kind}-{i}"));
        let running = self.spawn(kind, &instance, &tag, listener, addr, stop, move |l| {
            demo_backend::worker::run(config, l, shutdown)
        })?;
        let url = |path: &str| format!("http://{addr}{path}");
        let running = self
            .ready(running, &url(common::api::routes::READYZ))
            .await?;
        self.metrics.set(Target {
            component: kind,
            instance,
            plan: None,
            url: url(common::api::routes::METRICS),
        });
        self.workers.push(running);
        Ok(())
    }

    /// The workers' `/metrics` addresses by instance, for Prometheus.
    pub(super) fn worker_addrs(&self) -> Vec<(String, std::net::SocketAddr)> {
        self.workers
            .iter()
            .map(|w| (w.instance.clone(), w.addr))
            .collect()
    }

    /// Waits (when `drain`) until the workers have emptied the queue or
    /// [`crate::pipeline::DRAIN_TIMEOUT`] has passed, then reads what Redis holds.
    pub(super) async fn pipeline_end_state(&self, drain: bool) -> Option<Result<End, Unread>> {
        let probe = self.metrics.redis_probe()?;
        let read = || async { probe.read().await.map_err(Unread::Unreachable) };
        Some(crate::pipeline::drain::end(drain, read).await)
    }

    /// Stops the workers, then Redis (after the backends, which write to it).
    pub(super) async fn stop_pipeline(&mut self) {
        self.redis_watch = None;
        while let Some(w) = self.workers.pop() {
            self.metrics.remove(&w.instance);
            Self::stop_running(w).await;
        }
        self.metrics.clear_redis();
        if let Some(mut redis) = self.redis.take() {
            redis.stop().await;
        }
    }
}

/// A worker's `/metrics` in the list of endpoints (it has a free port, not one of the plan).
pub(super) fn worker_endpoint(
    instance: &str,
    addr: std::net::SocketAddr,
) -> crate::runtime::Endpoint {
    crate::runtime::Endpoint {
        name: format!("{instance} metrics"),
        url: format!("http://{addr}{}", common::api::routes::METRICS),
    }
}
