//! How the local run notices that its Redis is gone: Redis is pinged every [`EVERY`], and
//! unanswered for [`DEAD_AFTER`] in a row it is a component that died: the run fails naming
//! it, and writes its report.
//!
//! Not at the first unanswered ping: a blip (a moment of a machine too busy) is survived,
//! and shows only as the orders that failed during it. And not only when the process exits:
//! a Redis that runs but does not answer (stopped, swapping) is as dead to the pipeline. The
//! window also lets the backends' failed orders of a dead Redis reach the report's error
//! figures before the run ends.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::probe::Probe;

/// How long Redis may stay silent before the run counts it dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(3);
/// Between pings.
const EVERY: Duration = Duration::from_millis(250);

/// Unanswered pings in a row, by when the first of them was sent.
#[derive(Debug, Default)]
pub struct Silence {
    since: Option<Instant>,
}

impl Silence {
    /// Takes in one ping sent at `sent`; once Redis has been silent for [`DEAD_AFTER`] up to
    /// `now`, how long.
    pub fn observe(&mut self, answered: bool, sent: Instant, now: Instant) -> Option<Duration> {
        if answered {
            self.since = None;
            return None;
        }
        let since = *self.since.get_or_insert(sent);
        let silent = now.saturating_duration_since(since);
        (silent >= DEAD_AFTER).then_some(silent)
    }
}

/// Resolves, with the reason, once Redis has not answered for [`DEAD_AFTER`]; `exited`
/// says whether (and how) the process ended, `log` is where its own account is.
pub async fn dead(probe: Probe, exited: watch::Receiver<Option<String>>, log: PathBuf) -> String {
    let mut silence = Silence::default();
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sent = Instant::now();
        let answered = probe.ping().await.is_ok();
        let Some(silent) = silence.observe(answered, sent, Instant::now()) else {
            continue;
        };
        let status = exited.borrow().clone();
        return reason(status.as_deref(), silent, &log);
    }
}

fn reason(exited: Option<&str>, silent: Duration, log: &std::path::Path) -> String {
    let silent = silent.as_secs_f64();
    match exited {
        Some(status) => format!(
            "redis-server exited ({status}); it has not answered for {silent:.1} s and the orders failed since; see {}",
            log.display()
        ),
        None => format!(
            "Redis has not answered for {silent:.1} s (redis-server still runs, but does not answer); see {}",
            log.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_counts_from_the_first_unanswered_ping_and_an_answer_resets_it() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut s = Silence::default();
        assert_eq!(s.observe(false, at(0), at(800)), None);
        assert_eq!(s.observe(false, at(1000), at(2999)), None);
        // A blip: one answer and the window starts again.
        assert_eq!(s.observe(true, at(3000), at(3001)), None);
        assert_eq!(s.observe(false, at(3250), at(6000)), None);
        assert_eq!(
            s.observe(false, at(6000), at(6250)),
            Some(Duration::from_millis(3000))
        );
    }

    #[test]
    fn the_reason_says_whether_the_process_ended() {
        let log = std::path::Path::new("runs/x/redis/redis.log");
        let gone = reason(Some("signal: 9 (SIGKILL)"), Duration::from_secs(3), log);
        assert!(
            gone.contains("redis-server exited (signal: 9 (SIGKILL))")
                && gone.contains("3.0 s")
                && gone.contains("runs/x/redis/redis.log"),
            "{gone}"
        );
        let hung = reason(None, Duration::from_secs(4), log);
        assert!(
            hung.contains("still runs") && hung.contains("4.0 s"),
            "{hung}"
        );
    }
}

#[cfg(test)]
mod with_redis {
    use super::*;
    use crate::pipeline::redis::{RedisProcess, find};

    async fn started(dir: &std::path::Path) -> RedisProcess {
        let bin = find().unwrap_or_else(|e| panic!("{e}"));
        RedisProcess::start(&bin, dir, Duration::from_secs(10))
            .await
            .unwrap()
    }

    fn signal(pid: u32, sig: &str) {
        let status = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {sig} {pid}");
    }

    fn watcher(r: &RedisProcess) -> impl Future<Output = String> + use<> {
        dead(
            Probe::new(&r.url()).unwrap(),
            r.exit_watch(),
            r.log().to_owned(),
        )
    }

    #[tokio::test]
    async fn a_killed_redis_is_dead_within_the_window_naming_its_exit() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = started(dir.path()).await;
        let watching = tokio::spawn(watcher(&r));
        // Alive: nothing to say.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!watching.is_finished());
        let killed = Instant::now();
        signal(r.pid().unwrap(), "-KILL");
        let why = tokio::time::timeout(DEAD_AFTER * 2, watching)
            .await
            .expect("declared dead in time")
            .unwrap();
        let took = killed.elapsed();
        assert!(took >= DEAD_AFTER, "{took:?}");
        assert!(why.contains("exited") && why.contains("signal: 9"), "{why}");
        r.stop().await;
    }

    #[tokio::test]
    async fn a_stopped_redis_that_still_runs_is_dead_too() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = started(dir.path()).await;
        let pid = r.pid().unwrap();
        signal(pid, "-STOP");
        let why = tokio::time::timeout(DEAD_AFTER * 2, watcher(&r)).await;
        signal(pid, "-CONT");
        r.stop().await;
        let why = why.expect("declared dead in time");
        assert!(why.contains("still runs"), "{why}");
    }
}
