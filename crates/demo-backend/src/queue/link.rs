//! A bounded link to Redis: redis-rs's `ConnectionManager` (one multiplexed connection,
//! re-established in the background after a failure), made on first use so a process starts
//! whether or not Redis is up, with every command bounded by a timeout so no request or
//! worker loop waits on a dead Redis.

use std::fmt;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, FromRedisValue};
use tokio::sync::OnceCell;

/// Why a command got no answer. Both name Redis: they reach clients and logs as they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No answer within the timeout.
    Timeout(Duration),
    /// Redis refused the command, or could not be reached.
    Redis(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout(t) => write!(
                f,
                "Redis did not answer within {}",
                common::HumanDuration(*t)
            ),
            Failure::Redis(e) => write!(f, "Redis failed: {e}"),
        }
    }
}

/// One process's connection to Redis; cheap to clone (the manager is shared).
#[derive(Clone)]
pub(crate) struct Link {
    client: Client,
    manager: std::sync::Arc<OnceCell<ConnectionManager>>,
    timeout: Duration,
    /// The longest BLOCK a command of this link asks for: answers may take that much longer.
    block: Duration,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Link {
    /// A link to `url` (`redis://host:port[/db]`); nothing is connected yet. Fails only for a
    /// URL redis-rs cannot read.
    pub(crate) fn new(url: &str, timeout: Duration, block: Duration) -> redis::RedisResult<Self> {
        Ok(Self {
            client: Client::open(url)?,
            manager: std::sync::Arc::default(),
            timeout,
            block,
        })
    }

    /// Checks a `--redis-url` value without connecting.
    pub(crate) fn check_url(url: &str) -> Result<(), String> {
        Client::open(url).map(drop).map_err(|e| {
            format!("`{url}` is not a Redis URL ({e}): write it like redis://127.0.0.1:6379")
        })
    }

    async fn manager(&self) -> Result<ConnectionManager, Failure> {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout + self.block))
            // The caller's own timeout bounds every attempt; retrying inside it would only
            // hide how long Redis has been gone.
            .set_number_of_retries(1)
            .set_max_delay(self.timeout);
        self.manager
            .get_or_try_init(|| async { self.client.get_connection_manager_lazy(config) })
            .await
            .cloned()
            .map_err(|e| Failure::Redis(e.to_string()))
    }

    /// Runs `cmd`, answered within the timeout.
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, Failure> {
        self.bounded(self.timeout, |mut con| async move {
            cmd.query_async(&mut con).await
        })
        .await
    }

    /// Runs a command that may block in Redis for up to the link's `block`.
    pub(crate) async fn query_blocking<T: FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> Result<T, Failure> {
        self.bounded(self.timeout + self.block, |mut con| async move {
            cmd.query_async(&mut con).await
        })
        .await
    }

    /// Runs `pipe` (a MULTI/EXEC transaction when built `.atomic()`), within the timeout.
    pub(crate) async fn pipeline<T: FromRedisValue>(
        &self,
        pipe: &redis::Pipeline,
    ) -> Result<T, Failure> {
        self.bounded(self.timeout, |mut con| async move {
            pipe.query_async(&mut con).await
        })
        .await
    }

    /// Runs a Lua script (EVALSHA, loading it first when Redis does not know it yet), within
    /// the timeout.
    pub(crate) async fn invoke<T: FromRedisValue>(
        &self,
        script: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Failure> {
        self.bounded(self.timeout, |mut con| async move {
            script.invoke_async(&mut con).await
        })
        .await
    }

    /// One [`super::reading::read`] of the pipeline's Redis, within the timeout.
    pub(crate) async fn reading(&self) -> Result<super::reading::Reading, Failure> {
        let answer = tokio::time::timeout(self.timeout, async {
            let mut con = self.manager().await?;
            super::reading::read(&mut con).await.map_err(Failure::Redis)
        })
        .await;
        answer.unwrap_or(Err(Failure::Timeout(self.timeout)))
    }

    async fn bounded<T, F>(
        &self,
        limit: Duration,
        run: impl FnOnce(ConnectionManager) -> F,
    ) -> Result<T, Failure>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        let answer = tokio::time::timeout(limit, async {
            let con = self.manager().await?;
            run(con).await.map_err(|e| Failure::Redis(e.to_string()))
        })
        .await;
        answer.unwrap_or(Err(Failure::Timeout(limit)))
    }
}
