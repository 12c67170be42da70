//! The instance's lifecycle: the work it is doing (HTTP requests being answered, background
//! jobs), draining, and the stop at the end of the drain. Requests and jobs are counted by
//! two `TaskTracker`s; closing them is what "draining" means, and waiting on them is the drain.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// Cheap to clone: every clone sees the same counts and the same stop.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lifecycle {
    /// HTTP requests being answered now (a token each).
    requests: TaskTracker,
    /// Async jobs running in the background (spawned on it).
    jobs: TaskTracker,
    /// Cancelled when the drain is over: whatever still runs is cut short.
    stop: CancellationToken,
}

impl Lifecycle {
    /// Counts one HTTP request as being answered until the token is dropped.
    pub(crate) fn track_request(&self) -> TaskTrackerToken {
        self.requests.token()
    }

    /// Runs a background job, counted until it ends.
    pub(crate) fn spawn_job(&self, job: impl Future<Output = ()> + Send + 'static) {
        self.jobs.spawn(job);
    }

    /// HTTP requests being answered now.
    pub(crate) fn requests_in_flight(&self) -> usize {
        self.requests.len()
    }

    /// From now on /readyz answers 503 and new action requests are refused; work already
    /// running goes on.
    pub(crate) fn start_draining(&self) {
        self.requests.close();
        self.jobs.close();
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.requests.is_closed()
    }

    /// Drains: resolves once no request or job is running, or after `timeout`; true if it
    /// ran out of work rather than time.
    pub(crate) async fn drain(&self, timeout: Duration) -> bool {
        self.start_draining();
        let idle = async {
            // A request may arrive while the jobs finish (a probe, a refused action): only
            // both at zero at once is idle.
            while !(self.requests.is_empty() && self.jobs.is_empty()) {
                self.requests.wait().await;
                self.jobs.wait().await;
            }
        };
        tokio::time::timeout(timeout, idle).await.is_ok()
    }

    /// Cuts short whatever still runs: requests answer 503, jobs fail.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Resolves once [`Lifecycle::stop`] was called.
    pub(crate) async fn stopped(&self) {
        self.stop.cancelled().await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;
    use tokio::time::Instant;

    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    /// A job `release` ends.
    fn job(lifecycle: &Lifecycle) -> oneshot::Sender<()> {
        let (release, released) = oneshot::channel::<()>();
        lifecycle.spawn_job(async move {
            let _ = released.await;
        });
        release
    }

    /// Paused clock: virtual time only moves once every task waits, so after a sleep every
    /// task that could run has run, and the drain's own timeout shows in `elapsed`.
    #[tokio::test(start_paused = true)]
    async fn the_drain_ends_when_the_last_request_and_job_end() {
        let lifecycle = Lifecycle::default();
        let request = lifecycle.track_request();
        let release = job(&lifecycle);
        let started = Instant::now();
        let drain = tokio::spawn({
            let lifecycle = lifecycle.clone();
            async move { lifecycle.drain(LONG).await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(lifecycle.is_draining());
        assert!(!drain.is_finished(), "a request and a job are running");
        drop(request);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!drain.is_finished(), "the job is still running");
        release.send(()).unwrap();
        assert!(drain.await.unwrap(), "drained, not timed out");
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_instance_drains_at_once_and_a_busy_one_times_out() {
        let lifecycle = Lifecycle::default();
        let started = Instant::now();
        assert!(lifecycle.drain(LONG).await);
        assert_eq!(started.elapsed(), Duration::ZERO);

        let lifecycle = Lifecycle::default();
        let _stuck = lifecycle.track_request();
        assert!(!lifecycle.drain(Duration::from_millis(300)).await);
        assert_eq!(started.elapsed(), Duration::from_millis(300));
    }

    /// Requests arriving while draining are answered and counted: the drain waits for them.
    #[tokio::test(start_paused = true)]
    async fn requests_during_the_drain_are_counted_too() {
        let lifecycle = Lifecycle::default();
        lifecycle.start_draining();
        let late = lifecycle.track_request();
        assert_eq!(lifecycle.requests_in_flight(), 1);
        let release = job(&lifecycle);
        drop(release);
        assert!(!lifecycle.drain(Duration::from_secs(1)).await);
        drop(late);
        assert!(lifecycle.drain(Duration::from_secs(1)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn stop_wakes_every_waiter() {
        let lifecycle = Lifecycle::default();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let lifecycle = lifecycle.clone();
                tokio::spawn(async move { lifecycle.stopped().await })
            })
            .collect();
        tokio::time::sleep(LONG).await;
        assert!(waiters.iter().all(|w| !w.is_finished()));
        lifecycle.stop();
        for waiter in waiters {
            waiter.await.unwrap();
        }
    }
}
