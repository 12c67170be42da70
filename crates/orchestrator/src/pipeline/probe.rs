//! The local runtime's reader of the pipeline's Redis, once a second and at the end: one
//! kept connection and [`demo_backend::read_pipeline`], the reading a worker serves on a
//! cluster too (`kube/pipeline.rs`), so both runtimes' figures mean the same.
//!
//! Each reading becomes a small Prometheus page ([`Reading::page`]), the `redis` target of
//! the sampling round, so it travels through the same seam as every component's /metrics.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;

pub use demo_backend::PipelineReading as Reading;

/// Longest a reading may take: a sampling round must fit in its second.
const TIMEOUT: Duration = Duration::from_millis(800);

/// Reads the pipeline's Redis over one connection, kept between readings and made again
/// after any failure (a connection per reading would cost a handshake every second, and a
/// broken one must not be reused); cheap to clone, clones share the connection.
#[derive(Debug, Clone)]
pub struct Probe {
    client: redis::Client,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl Probe {
    pub fn new(url: &str) -> redis::RedisResult<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: Arc::default(),
        })
    }

    /// The kept connection, or a new one (then kept); `true` when it is new.
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), String> {
        if let Some(c) = self.connection.lock().ok().and_then(|c| c.clone()) {
            return Ok((c, false));
        }
        let c = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| format!("cannot reach Redis: {e}"))?;
        if let Ok(mut kept) = self.connection.lock() {
            *kept = Some(c.clone());
        }
        Ok((c, true))
    }

    /// Drops the kept connection: after a failure its state is unknown.
    fn forget(&self) {
        if let Ok(mut kept) = self.connection.lock() {
            *kept = None;
        }
    }

    /// Runs `f` on the kept connection, within [`TIMEOUT`] in all. A kept connection that
    /// fails may only be stale (Redis restarted, the server closed it idle): one new
    /// connection is tried before the reading counts as failed.
    async fn on_connection<T, F>(&self, f: impl Fn(MultiplexedConnection) -> F) -> Result<T, String>
    where
        F: Future<Output = Result<T, String>>,
    {
        let attempt = async {
            let (c, fresh) = self.connection().await?;
            match f(c).await {
                Err(_) if !fresh => {
                    self.forget();
                    let (c, _) = self.connection().await?;
                    f(c).await
                }
                other => other,
            }
        };
        let result = bounded(attempt).await;
        if result.is_err() {
            self.forget();
        }
        result
    }

    pub async fn ping(&self) -> Result<(), String> {
        self.on_connection(|mut c| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// The queue, the aggregates and the memory now.
    pub async fn read(&self) -> Result<Reading, String> {
        self.on_connection(read_on).await
    }
}

async fn read_on(mut c: MultiplexedConnection) -> Result<Reading, String> {
    demo_backend::read_pipeline(&mut c).await
}

async fn bounded<T>(f: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .unwrap_or_else(|_| Err(format!("Redis did not answer within {TIMEOUT:?}")))
}
