//! `redis-server` for the local pipeline run, as Prometheus is started: found on PATH (the
//! run refuses to start without it, naming the package), run on a free loopback port with
//! its files under `runs/<uuid>/redis/`, and killed when the run ends (on drop too).
//!
//! It keeps nothing on disk (no RDB, no AOF): the queue lives as long as the run.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::probe::Probe;

/// What the run says when the pipeline needs `redis-server` and PATH has none.
pub const MISSING: &str = "workload = \"pipeline\" needs redis-server, which is not on PATH: install it with `apt-get install redis-server` (or put a redis-server binary on PATH), or run workload = \"movie-night\"";

/// The `redis-server` on PATH, or the error that names the package to install.
pub fn find() -> Result<PathBuf, String> {
    crate::local::on_path("redis-server").ok_or_else(|| MISSING.to_owned())
}

/// A running `redis-server`; killed on drop as well as by [`RedisProcess::stop`]. A task
/// owns the child and waits on it, so an exit nobody asked for is seen at once
/// ([`RedisProcess::exited`]).
#[derive(Debug)]
pub struct RedisProcess {
    pub addr: SocketAddr,
    pid: Option<u32>,
    log: PathBuf,
    kill: CancellationToken,
    exited: watch::Receiver<Option<String>>,
    task: Option<JoinHandle<()>>,
}

impl RedisProcess {
    /// Starts `binary` on a free loopback port with its files under `dir`, and waits until
    /// it answers PING (at most `timeout`).
    pub async fn start(binary: &Path, dir: &Path, timeout: Duration) -> Result<Self, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let port = free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let log = dir.join("redis.log");
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--logfile")
            .arg(&log)
            .arg("--dir")
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id();
        let kill = CancellationToken::new();
        let (exited_tx, exited) = watch::channel(None);
        let task = tokio::spawn(own(child, kill.clone(), exited_tx));
        let mut me = Self {
            addr,
            pid,
            log,
            kill,
            exited,
            task: Some(task),
        };
        let probe = Probe::new(&me.url()).map_err(|e| e.to_string())?;
        let start = Instant::now();
        loop {
            if let Some(status) = me.exited() {
                return Err(format!(
                    "redis-server exited at start ({status}); see {}",
                    me.log.display()
                ));
            }
            if probe.ping().await.is_ok() {
                return Ok(me);
            }
            if start.elapsed() > timeout {
                me.stop().await;
                return Err(format!(
                    "redis-server did not answer on {addr} within {timeout:?}; see {}",
                    me.log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `redis://127.0.0.1:<port>`, as the backend's and the workers' `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// The child's process id.
    pub fn pid(&self) -> Option<u32> {
        self.pid
    }

    /// Its log file, for the messages that send the user to it.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// How the process ended (`exit status: 1`, `signal: 9 (SIGKILL)`), once it has.
    pub fn exited(&self) -> Option<String> {
        self.exited.borrow().clone()
    }

    /// A receiver of [`RedisProcess::exited`], for a watcher that outlives this borrow.
    pub fn exit_watch(&self) -> watch::Receiver<Option<String>> {
        self.exited.clone()
    }

    pub async fn stop(&mut self) {
        self.kill.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        // The owning task kills the child; were that task gone with its runtime, the child's
        // kill_on_drop has done it.
        self.kill.cancel();
    }
}

/// Owns the child until it exits or `kill` fires, and publishes how it ended.
async fn own(mut child: Child, kill: CancellationToken, exited: watch::Sender<Option<String>>) {
    let status = tokio::select! {
        status = child.wait() => status,
        () = kill.cancelled() => {
            let _ = child.kill().await;
            child.wait().await
        }
    };
    let status = status.map_or_else(|e| format!("cannot wait for it: {e}"), |s| s.to_string());
    exited.send_replace(Some(status));
}

/// A port that was free a moment ago: redis-server binds by number, it cannot take over a
/// listener. Another process taking it meanwhile makes the start fail with its log.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port for redis-server: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_starts_answers_and_stops() {
        let Ok(bin) = find() else {
            panic!("{MISSING}");
        };
        let dir = tempfile::tempdir().unwrap();
        let mut redis = RedisProcess::start(&bin, dir.path(), Duration::from_secs(10))
            .await
            .unwrap();
        let probe = Probe::new(&redis.url()).unwrap();
        assert!(probe.ping().await.is_ok());
        assert_eq!(redis.exited(), None);
        redis.stop().await;
        assert!(probe.ping().await.is_err());
        assert!(redis.exited().is_some());
        assert!(dir.path().join("redis.log").exists());
    }
}
