//! The capacity model: `workers` permits with a bounded queue in front of them. A request is
//! admitted at once if a worker is free, queued if fewer than `queue` requests wait, and
//! shed otherwise, so an overloaded replica answers 503 immediately instead of piling up.
//! Waiting is FIFO (tokio's semaphore is fair), so queue wait shows in latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One replica's workers and queue.
#[derive(Debug)]
pub(crate) struct Capacity {
    workers: usize,
    queue: usize,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    depth_gauge: Gauge,
}

/// The queue is full: the request must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shed;

/// A request let in: it holds a worker already, or a place in the queue.
#[derive(Debug)]
pub(crate) struct Admission {
    capacity: Arc<Capacity>,
    permit: Option<OwnedSemaphorePermit>,
    /// Still counted in the queue depth (until it gets a worker or is dropped).
    queued: bool,
}

/// A worker, held until dropped.
#[derive(Debug)]
pub(crate) struct Worker {
    _permit: OwnedSemaphorePermit,
}

impl Capacity {
    pub(crate) fn new(workers: usize, queue: usize, depth_gauge: Gauge) -> Arc<Self> {
        Arc::new(Self {
            workers,
            queue,
            permits: Arc::new(Semaphore::new(workers)),
            waiting: AtomicUsize::new(0),
            depth_gauge,
        })
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    /// Requests waiting for a worker now.
    pub(crate) fn queue_depth(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Workers busy now.
    #[cfg(test)]
    pub(crate) fn busy_workers(&self) -> usize {
        self.workers - self.permits.available_permits().min(self.workers)
    }

    /// Lets a request in, or sheds it. Never waits.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Admission, Shed> {
        // A free permit is only visible here when nobody waits: tokio hands released permits
        // to waiters first, so a newcomer never jumps the queue.
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(Admission {
                capacity: self.clone(),
                permit: Some(permit),
                queued: false,
            });
        }
        let reserved = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.queue).then_some(n + 1)
            });
        match reserved {
            Ok(_) => {
                self.depth_gauge.increment(1.0);
                Ok(Admission {
                    capacity: self.clone(),
                    permit: None,
                    queued: true,
                })
            }
            Err(_) => Err(Shed),
        }
    }

    fn leave_queue(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.depth_gauge.decrement(1.0);
    }
}

impl Admission {
    /// Waits in the queue (if queued) until a worker is free. `None` only if the semaphore
    /// was closed, which this crate never does.
    pub(crate) async fn start(mut self) -> Option<Worker> {
        let permit = match self.permit.take() {
            Some(p) => p,
            None => {
                let permit = self.capacity.permits.clone().acquire_owned().await.ok();
                if self.queued {
                    self.queued = false;
                    self.capacity.leave_queue();
                }
                permit?
            }
        };
        Some(Worker { _permit: permit })
    }
}

impl Drop for Admission {
    /// A request that times out or whose client goes away while queued leaves the queue.
    fn drop(&mut self) {
        if self.queued {
            self.capacity.leave_queue();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gauge() -> Gauge {
        Gauge::noop()
    }

    #[tokio::test]
    async fn admits_up_to_workers_then_queues_then_sheds() {
        let cap = Capacity::new(2, 1, gauge());
        let a = cap.admit().unwrap();
        let b = cap.admit().unwrap();
        assert_eq!(cap.busy_workers(), 2);
        let queued = cap.admit().unwrap();
        assert_eq!(cap.queue_depth(), 1);
        assert_eq!(cap.admit().unwrap_err(), Shed);

        let wa = a.start().await.unwrap();
        let _wb = b.start().await.unwrap();
        let waiter = tokio::spawn(queued.start());
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "no worker is free yet");
        drop(wa);
        let _wq = waiter.await.unwrap().unwrap();
        assert_eq!(cap.queue_depth(), 0);
        assert_eq!(cap.busy_workers(), 2);
    }

    #[tokio::test]
    async fn a_dropped_queued_request_frees_its_place() {
        let cap = Capacity::new(1, 1, gauge());
        let _running = cap.admit().unwrap();
        let queued = cap.admit().unwrap();
        assert!(cap.admit().is_err());
        drop(queued);
        assert_eq!(cap.queue_depth(), 0);
        assert!(cap.admit().is_ok());
    }

    #[tokio::test]
    async fn zero_queue_sheds_as_soon_as_workers_are_busy() {
        let cap = Capacity::new(1, 0, gauge());
        let _w = cap.admit().unwrap().start().await.unwrap();
        assert!(cap.admit().is_err());
    }
}
