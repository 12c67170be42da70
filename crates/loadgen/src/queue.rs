//! The hand-over from a lane's scheduler to its workers: slots due now, in order. The
//! scheduler never waits on it (the in-flight cap bounds its length); an idle worker waits
//! for the next slot, and the most recently idle worker is woken first, so at a low rate
//! the same few connections carry the traffic instead of every connection in turn.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

/// One scheduled request, as dispatched.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    /// The schedule's instant: corrected latency is measured from here.
    pub(crate) intended: Instant,
    /// Dispatch + `--timeout`: the request is a timeout from then on, sent or not.
    pub(crate) deadline: Instant,
    /// Index of the action label.
    pub(crate) label: usize,
    /// The slot's random choices (session, showtime, ...).
    pub(crate) roll: u64,
}

pub(crate) struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Notify,
    closed: AtomicBool,
}

impl Queue {
    /// `capacity` is reserved up front so that the queue does not grow during the run.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            jobs: Mutex::new(VecDeque::with_capacity(capacity)),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, job: Job) {
        self.lock().push_back(job);
        self.ready.notify_last();
    }

    /// No more jobs: workers take what is left, then [`Queue::pop`] returns None.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.ready.notify_waiters();
    }

    /// The next job; None once the queue is closed and empty. Cancel-safe: a job is
    /// only taken by a pop that returns it, and a wake-up that a dropped pop received
    /// passes on to another waiting worker.
    pub(crate) async fn pop(&self) -> Option<Job> {
        loop {
            // A busy lane finds work at once, without registering as a waiter.
            if let Some(job) = self.lock().pop_front() {
                return Some(job);
            }
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            let ready = self.ready.notified();
            let mut ready = std::pin::pin!(ready);
            // Registered before looking again, so a push in between is not missed.
            ready.as_mut().enable();
            if let Some(job) = self.lock().pop_front() {
                return Some(job);
            }
            if self.closed.load(Ordering::SeqCst) {
                return None;
            }
            ready.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn job(label: usize) -> Job {
        let now = Instant::now();
        Job {
            intended: now,
            deadline: now,
            label,
            roll: 0,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_job_reaches_one_worker_and_workers_end_when_closed() {
        let q = Arc::new(Queue::new(4));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let q = q.clone();
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    while let Some(j) = q.pop().await {
                        got.push(j.label);
                        tokio::task::yield_now().await;
                    }
                    got
                })
            })
            .collect();
        for i in 0..1000 {
            q.push(job(i));
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        q.close();
        let mut all = Vec::new();
        for w in workers {
            let got = tokio::time::timeout(Duration::from_secs(10), w)
                .await
                .expect("no worker is left waiting")
                .unwrap();
            all.extend(got);
        }
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_cancelled_pop_loses_no_job() {
        let q = Queue::new(1);
        {
            let pop = q.pop();
            let mut pop = std::pin::pin!(pop);
            assert!(futures_poll(pop.as_mut()).is_none());
        }
        q.push(job(3));
        assert_eq!(q.pop().await.map(|j| j.label), Some(3));
    }

    fn futures_poll<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
