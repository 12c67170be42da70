//! A real `redis-server` (Debian's `redis-server` package) for a test: started on a free
//! loopback port in a temporary directory, stopped when dropped, and killable and restartable
//! on the same port, with the same data directory, to test what happens when Redis dies.
//!
//! It writes an append-only file synced on every write, so a Redis killed with SIGKILL and
//! started again comes back with every write it acknowledged: a test can account for every
//! message across the kill.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting server gets to answer PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running (or killed) `redis-server` owned by a test.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port; panics with the install hint when
    /// `redis-server` is not on PATH, and with its log when it does not come up.
    pub fn start() -> Self {
        let port = free_port();
        // An fsync per write on a disk busy with a CI build can stall Redis for seconds; on
        // tmpfs it is free, and a SIGKILLed server still finds every write it acknowledged.
        let shm = Path::new("/dev/shm");
        let builder = {
            let mut b = tempfile::Builder::new();
            b.prefix("redis-test-");
            b
        };
        let dir = if shm.is_dir() {
            builder.tempdir_in(shm).or_else(|_| builder.tempdir())
        } else {
            builder.tempdir()
        }
        .expect("create a temporary directory for redis-server");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once (SIGKILL, as a crash would), and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server in its tracks (SIGSTOP): connections stay open and nothing answers,
    /// as a Redis hung on a stalled disk or a frozen VM; [`resume`](Self::resume) ends it.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a [`pause`](Self::pause)d server go on (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let Some(child) = &self.child else {
            panic!("redis-server on port {} is not running", self.port);
        };
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} redis-server: {status}");
    }

    /// Starts the server again on the same port and directory (after [`kill`](Self::kill));
    /// returns when it answers PING.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--logfile", "redis.log"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not on PATH: install it with `apt-get install redis-server` \
                 (./scripts/test.sh does)"
            ),
            Err(e) => panic!("redis-server cannot start: {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        while !ping(self.port) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "redis-server exited ({status}) before answering on port {}:\n{}",
                    self.port,
                    log(self.dir.path())
                );
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING on port {} within {START_TIMEOUT:?}:\n{}",
                self.port,
                log(self.dir.path())
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port that was free a moment ago (bound to port 0, then released).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

/// True when a server on `port` answers PING with PONG.
fn ping(port: u16) -> bool {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, port).into(),
            Duration::from_millis(200),
        )?;
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        stream.write_all(b"PING\r\n")?;
        let mut answer = [0u8; 7];
        stream.read_exact(&mut answer)?;
        Ok(&answer == b"+PONG\r\n")
    };
    attempt().unwrap_or(false)
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("redis.log")).unwrap_or_else(|e| format!("(no log: {e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_answers_and_comes_back_on_its_port() {
        let mut server = RedisServer::start();
        assert!(ping(server.port()));
        server.kill();
        assert!(!ping(server.port()));
        server.restart();
        assert!(ping(server.port()));
        assert!(server.url().ends_with(&server.port().to_string()));
    }
}
