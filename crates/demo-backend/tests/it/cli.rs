//! The binary: `--version` exits 0, bad flags exit 2 naming the flag, and it serves and
//! stops on SIGTERM with exit 0.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_demo-backend");

#[test]
fn version_exits_zero() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_flags_exit_two_and_name_the_flag() {
    for (args, flag) in [
        (&["--workers", "0"][..], "--workers"),
        (&["--service-time", "soon"][..], "--service-time"),
        (&["--no-such-flag"][..], "--no-such-flag"),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{args:?}: {err}");
    }
}

#[test]
fn environment_variables_configure_it_too() {
    let out = Command::new(BIN)
        .env("BACKEND_WORKERS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workers"));
}

#[cfg(unix)]
#[test]
fn serves_and_exits_zero_on_sigterm() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(BIN)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--replica-name",
            "cli",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = loop {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if text.starts_with("HTTP/1.1 200") {
                break true;
            }
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let pid = child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the backend did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(ready, "the backend never answered /readyz");
    assert!(status.success(), "{status:?}");
}

/// `demo-worker`: a missing or bad `--redis-url` exits 2 naming the flag.
#[test]
fn the_worker_needs_a_redis_url() {
    let worker = env!("CARGO_BIN_EXE_demo-worker");
    for args in [&[][..], &["--redis-url", "http://127.0.0.1:1"][..]] {
        let out = Command::new(worker)
            .args(args)
            .env_remove("REDIS_URL")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--redis-url"), "{args:?}: {err}");
    }
}

/// `demo-worker` consumes from a real Redis and, on SIGTERM, stops with exit 0.
#[cfg(unix)]
#[test]
fn the_worker_binary_stops_on_sigterm() {
    let redis = test_support::RedisServer::start();
    let mut child = Command::new(env!("CARGO_BIN_EXE_demo-worker"))
        .args(["--listen", "127.0.0.1:0", "--redis-url", &redis.url()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // It has started consuming once it has made the consumer group.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis_has_group(redis.port()) {
        assert!(Instant::now() < deadline, "the worker never made its group");
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the worker did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(exit.code(), Some(0));
}

fn redis_has_group(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}")) else {
        return false;
    };
    let Ok(mut con) = client.get_connection() else {
        return false;
    };
    redis::cmd("XINFO")
        .arg("GROUPS")
        .arg(demo_backend::STREAM)
        .query::<redis::streams::StreamInfoGroupsReply>(&mut con)
        .is_ok_and(|r| r.groups.iter().any(|g| g.name == demo_backend::GROUP))
}
