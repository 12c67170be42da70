//! Redis killed mid-run: a pipeline run on the local runtime, through the built binary, whose
//! redis-server the test kills (SIGKILL) while the load runs. The backends answer the orders
//! since with 503 and count them, the run fails naming Redis within a bounded time, writes
//! its report, and the pipeline section says what was in flight instead of a loss check.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use orchestrator::report::{Outcome, Report};
use orchestrator::timeline::phase;

const PIPELINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/pipeline.toml");
/// The whole run, kill included, ends well within this or it hangs.
const RUN_BOUND: Duration = Duration::from_secs(90);

/// The orchestrator's stdout, line by line, as it prints it.
struct Lines {
    rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn of(child: &mut Child) -> Self {
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            rx,
            seen: Vec::new(),
        }
    }

    /// The first line after those already seen that satisfies `want`.
    fn wait_for(&mut self, want: impl Fn(&str) -> bool, what: &str) -> String {
        let deadline = Instant::now() + RUN_BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
                Err(e) => panic!("no {what} on stdout ({e}):\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Everything printed, once the process has ended.
    fn all(mut self) -> String {
        self.seen.extend(self.rx.iter());
        self.seen.join("\n")
    }
}

/// The pid of the redis-server answering on `url`, as it says itself (INFO server), after
/// checking that the process of that id is a redis-server.
fn redis_pid(con: &mut redis::Connection) -> u32 {
    let info: String = redis::cmd("INFO").arg("server").query(con).unwrap();
    let pid: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("process_id:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no process_id in INFO server:\n{info}"));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "redis-server", "pid {pid}");
    pid
}

/// Orders in the aggregates now.
fn aggregated(con: &mut redis::Connection) -> u64 {
    let counts: Vec<u64> = redis::cmd("HVALS")
        .arg("load-demo:orders:count")
        .query(con)
        .unwrap();
    counts.iter().sum()
}

fn wait_bounded(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + RUN_BOUND;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the run did not end within {RUN_BOUND:?} of its start after Redis died");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn redis_killed_mid_load_fails_the_run_with_its_report_and_what_was_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let stderr = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orchestrator"))
        .args(["run", "--scenario", PIPELINE, "--uuid", "redis-kill"])
        .args(["--port-base", "24600", "--runs-dir"])
        .arg(dir.path())
        // Long enough that the load still runs when Redis is killed and declared dead.
        .args(["--set", "load_pause=30s", "--set", "load_scale_delay=3s"])
        // One worker at 40 ms an order carries 25 orders/s of the 50 sent: a queue builds,
        // so orders are in flight when Redis dies.
        .args([
            "--set",
            "worker_replicas=1",
            "--set",
            "worker_work_cpu=40ms",
        ])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut child);
    let endpoint = lines.wait_for(|l| l.contains("redis: redis://"), "Redis endpoint");
    let url = endpoint[endpoint.find("redis://").unwrap()..]
        .trim()
        .to_owned();
    lines.wait_for(|l| l.contains(&format!("▶ {}:", phase::LOAD)), "load phase");
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let pid = redis_pid(&mut con);
    // Orders flow through the whole pipeline before the kill.
    let flowing = Instant::now();
    while aggregated(&mut con) < 40 {
        assert!(
            flowing.elapsed() < Duration::from_secs(20),
            "no orders aggregated"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let killed = Instant::now();
    let status = wait_bounded(&mut child);
    let took = killed.elapsed();
    let stdout = lines.all();
    let stderr = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    // A component died: exit 1, once Redis had been silent for the watch's window.
    assert_eq!(status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        took >= orchestrator::pipeline::watch::DEAD_AFTER && took < Duration::from_secs(30),
        "{took:?}"
    );

    let r = Report::read(&dir.path().join("redis-kill")).unwrap();
    let Outcome::Failed { phase, error } = &r.outcome else {
        panic!("{:?}", r.outcome);
    };
    assert_eq!(phase, phase::LOAD);
    assert!(
        error.starts_with("redis (redis)") && error.contains("signal: 9"),
        "{error}"
    );
    assert!(
        stdout.contains("failed during load: redis (redis)"),
        "{stdout}"
    );

    // The orders sent while Redis was gone failed, and both sides counted them.
    let load = r.phase(phase::LOAD).unwrap();
    assert!(load.error_rate > 0.0, "{load:#?}");
    let p = r.pipeline.as_ref().expect("a pipeline section");
    let pload = p.phases.iter().find(|x| x.name == phase::LOAD).unwrap();
    assert!(pload.orders_failed > 0.0, "{pload:#?}");
    // The load generator agrees, at the last round before the run stopped it (the round
    // after finds it gone, its final second unread).
    let before_stop = r.points.iter().rev().find(|x| x.t < load.end).unwrap();
    let pipe = before_stop.pipeline.as_ref().unwrap();
    let sent = before_stop.totals.sent;
    let answered = pipe.produced + pipe.orders_failed;
    assert!(
        (sent - answered).abs() <= 0.1 * sent,
        "sent {sent} vs enqueued + failed {answered}"
    );
    let errors = before_stop.totals.lg_errors;
    assert!(
        (errors - pipe.orders_failed).abs() <= 0.1 * errors.max(50.0),
        "the load generator's errors {errors} vs the orders failed {}",
        pipe.orders_failed
    );

    // No loss check without Redis' final reading: what was in flight instead.
    assert!(p.loss.is_none(), "{:#?}", p.loss);
    let u = p.redis_unreachable.as_ref().expect("what was in flight");
    assert!(u.produced > 0.0 && u.acknowledged > 0.0, "{u:#?}");
    assert_eq!(u.in_flight, u.produced - u.acknowledged, "{u:#?}");
    let seen = u.last_reading.expect("Redis was read before it died");
    // The worker was behind: a queue when Redis was last read, orders in flight at its death.
    assert!(seen.queued > 0.0 && u.in_flight > 0.0, "{u:#?}");
    // Everything Redis held when last read was produced, and what it had aggregated then
    // was acknowledged by the workers.
    assert!(u.produced >= seen.queued + seen.aggregated, "{u:#?}");
    assert!(u.acknowledged >= seen.aggregated, "{u:#?}");
    let line = "not checked: Redis unreachable at the end";
    assert!(
        stdout.contains(&format!("pipeline loss check: {line}"))
            && stdout.contains("in flight when Redis died"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(dir.path().join("redis-kill/report.md")).unwrap();
    assert!(
        md.contains(&format!("**Loss check**: {line}"))
            && md.contains(&format!("{} in flight when Redis died", u.in_flight)),
        "{md}"
    );
    let html = std::fs::read_to_string(dir.path().join("redis-kill/report.html")).unwrap();
    assert!(
        html.contains(line) && html.contains("in flight when Redis died"),
        "html"
    );
    // The killed redis-server was reaped, not left a zombie.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still there"
    );
}
