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

use super::probe::Probe;

/// What the run says when the pipeline needs `redis-server` and PATH has none.
pub const MISSING: &str = "workload = \"pipeline\" needs redis-server, which is not on PATH: install it with `apt-get install redis-server` (or put a redis-server binary on PATH), or run workload = \"movie-night\"";

/// The `redis-server` on PATH, or the error that names the package to install.
pub fn find() -> Result<PathBuf, String> {
    crate::local::on_path("redis-server").ok_or_else(|| MISSING.to_owned())
}

/// A running `redis-server`; killed on drop as well as by [`RedisProcess::stop`].
#[derive(Debug)]
pub struct RedisProcess {
    child: Child,
    pub addr: SocketAddr,
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
        let mut me = Self { child, addr };
        let probe = Probe::new(&me.url()).map_err(|e| e.to_string())?;
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(format!(
                    "redis-server exited at start ({status}); see {}",
                    log.display()
                ));
            }
            if probe.ping().await.is_ok() {
                return Ok(me);
            }
            if start.elapsed() > timeout {
                me.stop().await;
                return Err(format!(
                    "redis-server did not answer on {addr} within {timeout:?}; see {}",
                    log.display()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `redis://127.0.0.1:<port>`, as the backend's and the workers' `--redis-url`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// The child's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
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
        redis.stop().await;
        assert!(probe.ping().await.is_err());
        assert!(dir.path().join("redis.log").exists());
    }
}
