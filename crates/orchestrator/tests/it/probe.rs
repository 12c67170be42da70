//! The pipeline probe against a real redis-server: one connection kept across the sampler's
//! readings, made again when it breaks, and a dead or hung Redis answered with an error
//! within the sampling round's one-second budget, never a stall.

use std::time::{Duration, Instant};

use orchestrator::pipeline::probe::Probe;
use test_support::RedisServer;

/// A sampling round's budget: a reading must end (either way) within it.
const ROUND: Duration = Duration::from_secs(1);

/// A connection of the test's own, to ask Redis about its clients.
fn admin(server: &RedisServer) -> redis::Connection {
    redis::Client::open(server.url())
        .unwrap()
        .get_connection()
        .unwrap()
}

fn info_field(con: &mut redis::Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}:\n{info}"))
}

/// Connections Redis has accepted since it started.
fn accepted(con: &mut redis::Connection) -> u64 {
    info_field(con, "stats", "total_connections_received")
}

async fn timed_read(probe: &Probe) -> (Result<(), String>, Duration) {
    let start = Instant::now();
    let r = probe.read().await.map(drop);
    (r, start.elapsed())
}

fn signal(pid: u64, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

#[tokio::test]
async fn readings_share_one_connection_and_a_broken_one_is_made_again_at_once() {
    let server = RedisServer::start();
    let mut con = admin(&server);
    let probe = Probe::new(&server.url()).unwrap();
    let before = accepted(&mut con);
    for _ in 0..5 {
        probe.read().await.unwrap();
    }
    // Clones (the sampler's, the end's) share it too.
    probe.clone().ping().await.unwrap();
    assert_eq!(
        accepted(&mut con) - before,
        1,
        "one connection for six readings"
    );

    // Redis drops every connection but the test's: the next reading still succeeds, on
    // one new connection.
    let killed: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"])
        .query(&mut con)
        .unwrap();
    assert_eq!(killed, 1);
    probe.read().await.unwrap();
    assert_eq!(accepted(&mut con) - before, 2);
}

#[tokio::test]
async fn a_dead_redis_fails_a_reading_within_the_round_and_a_restarted_one_is_read_again() {
    let mut server = RedisServer::start();
    let probe = Probe::new(&server.url()).unwrap();
    probe.read().await.unwrap();
    server.kill();
    for _ in 0..3 {
        let (r, took) = timed_read(&probe).await;
        let e = r.unwrap_err();
        assert!(e.contains("Redis"), "{e}");
        assert!(took < ROUND, "{took:?}");
    }
    server.restart();
    let (r, took) = timed_read(&probe).await;
    r.unwrap();
    assert!(took < ROUND, "{took:?}");
}

#[tokio::test]
async fn a_hung_redis_fails_a_reading_within_the_round() {
    let server = RedisServer::start();
    let pid = info_field(&mut admin(&server), "server", "process_id");
    let probe = Probe::new(&server.url()).unwrap();
    probe.read().await.unwrap();
    signal(pid, "-STOP");
    let (hung, took) = timed_read(&probe).await;
    signal(pid, "-CONT");
    let e = hung.unwrap_err();
    assert!(e.contains("did not answer"), "{e}");
    assert!(took < ROUND, "{took:?}");
    // Answering again: read again, on a new connection (the old one's state was unknown).
    probe.read().await.unwrap();
}
