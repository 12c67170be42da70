//! The capacity model: `workers` permits with a bounded queue in front of them. A request is
//! admitted at once if a worker is free, queued if fewer than `queue` requests wait, and
//! shed otherwise, so an overloaded replica answers 503 immediately instead of piling up.
//! Waiting is FIFO (tokio's semaphore is fair), so queue wait shows in latency.
//!
//! An admission borrows the capacity it came from (`&Capacity`) on the request path, where
//! the request outlives neither, so admitting costs no reference-count traffic; a background
//! job, which outlives its request, holds an `Arc<Capacity>` instead.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::Gauge;
use tokio::sync::Semaphore;

/// One replica's workers and queue.
#[derive(Debug)]
pub(crate) struct Capacity {
    workers: usize,
    queue: usize,
    /// Free workers. Permits are taken with `forget` and given back by [`Worker`]'s drop,
    /// so they can be held through any handle to the capacity.
    permits: Semaphore,
    waiting: AtomicUsize,
    depth_gauge: Gauge,
}

/// The queue is full: the request must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shed;

/// A request let in: it holds a worker already, or a place in the queue.
#[derive(Debug)]
pub(crate) struct Admission<C: Deref<Target = Capacity>> {
    /// Taken by [`Admission::start`]; while here, the drop gives back what `place` holds.
    capacity: Option<C>,
    place: Place,
}

/// What an admission holds until it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Worker,
    /// Counted in the queue depth.
    Queue,
}

/// A worker, held until dropped.
#[derive(Debug)]
pub(crate) struct Worker<C: Deref<Target = Capacity>> {
    capacity: C,
}

impl<C: Deref<Target = Capacity>> Drop for Worker<C> {
    fn drop(&mut self) {
        self.capacity.permits.add_permits(1);
    }
}

impl Capacity {
    pub(crate) fn new(workers: usize, queue: usize, depth_gauge: Gauge) -> Arc<Self> {
        Arc::new(Self {
            workers,
            queue,
            permits: Semaphore::new(workers),
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

    /// Lets a request in through `capacity` (`&Capacity` or `Arc<Capacity>`), or sheds it.
    /// Never waits.
    pub(crate) fn admit<C: Deref<Target = Capacity>>(capacity: C) -> Result<Admission<C>, Shed> {
        // A free permit is only visible here when nobody waits: tokio hands released permits
        // to waiters first, so a newcomer never jumps the queue.
        let free = capacity.permits.try_acquire().map(|permit| permit.forget());
        if free.is_ok() {
            return Ok(Admission {
                capacity: Some(capacity),
                place: Place::Worker,
            });
        }
        let reserved = capacity
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity.queue).then_some(n + 1)
            });
        match reserved {
            Ok(_) => {
                capacity.depth_gauge.increment(1.0);
                Ok(Admission {
                    capacity: Some(capacity),
                    place: Place::Queue,
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

impl<C: Deref<Target = Capacity>> Admission<C> {
    /// Waits in the queue (if queued) until a worker is free. `None` only if the semaphore
    /// was closed, which this crate never does.
    pub(crate) async fn start(mut self) -> Option<Worker<C>> {
        if self.place == Place::Queue {
            let capacity = self.capacity.as_ref()?;
            capacity.permits.acquire().await.ok()?.forget();
            capacity.leave_queue();
            self.place = Place::Worker;
        }
        // From here the worker is the `Worker`'s to give back, not the admission's.
        let capacity = self.capacity.take()?;
        Some(Worker { capacity })
    }
}

impl<C: Deref<Target = Capacity>> Drop for Admission<C> {
    /// A request that times out or whose client goes away while queued leaves the queue;
    /// one dropped before it started gives its worker back.
    fn drop(&mut self) {
        let Some(capacity) = self.capacity.as_ref() else {
            return;
        };
        match self.place {
            Place::Queue => capacity.leave_queue(),
            Place::Worker => capacity.permits.add_permits(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn gauge() -> Gauge {
        Gauge::noop()
    }

    #[tokio::test]
    async fn admits_up_to_workers_then_queues_then_sheds() {
        let cap = Capacity::new(2, 1, gauge());
        let a = Capacity::admit(&*cap).unwrap();
        let b = Capacity::admit(&*cap).unwrap();
        assert_eq!(cap.busy_workers(), 2);
        // Waits on another task, so it holds the capacity by `Arc`, as a background job does.
        let queued = Capacity::admit(cap.clone()).unwrap();
        assert_eq!(cap.queue_depth(), 1);
        assert_eq!(Capacity::admit(&*cap).unwrap_err(), Shed);

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
        let _running = Capacity::admit(&*cap).unwrap();
        let queued = Capacity::admit(&*cap).unwrap();
        assert!(Capacity::admit(&*cap).is_err());
        drop(queued);
        assert_eq!(cap.queue_depth(), 0);
        assert!(Capacity::admit(&*cap).is_ok());
    }

    #[tokio::test]
    async fn an_admission_dropped_before_it_started_gives_its_worker_back() {
        let cap = Capacity::new(1, 0, gauge());
        let admitted = Capacity::admit(&*cap).unwrap();
        assert!(Capacity::admit(&*cap).is_err());
        drop(admitted);
        assert_eq!(cap.busy_workers(), 0);
        let worker = Capacity::admit(&*cap).unwrap().start().await.unwrap();
        assert_eq!(cap.busy_workers(), 1);
        drop(worker);
        assert_eq!(cap.busy_workers(), 0);
    }

    /// A queued request whose wait is abandoned (its timeout fired) leaves the queue and
    /// takes no worker with it.
    #[tokio::test]
    async fn an_abandoned_wait_leaves_the_queue() {
        let cap = Capacity::new(1, 1, gauge());
        let running = Capacity::admit(&*cap).unwrap().start().await.unwrap();
        let queued = Capacity::admit(&*cap).unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(20), queued.start()).await;
        assert!(waited.is_err());
        assert_eq!(cap.queue_depth(), 0);
        drop(running);
        assert_eq!(cap.busy_workers(), 0);
    }

    #[tokio::test]
    async fn zero_queue_sheds_as_soon_as_workers_are_busy() {
        let cap = Capacity::new(1, 0, gauge());
        let _w = Capacity::admit(&*cap).unwrap().start().await.unwrap();
        assert!(Capacity::admit(&*cap).is_err());
    }
}
