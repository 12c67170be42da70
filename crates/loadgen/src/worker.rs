//! A worker: one keep-alive connection and a loop that sends the lane's jobs on it, one at
//! a time. The connection opens on the first job, and is replaced when it breaks, times out
//! or grows older than `--conn-max-age` (a new one resolves DNS again). One timer per
//! worker, reset for each job, bounds every request.

use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use common::names::error_kind;
use http::Request;
use http_body_util::Full;
use tokio::time::{Instant, Sleep};

use crate::client::{Conn, Exchange, Failure, SendError};
use crate::engine::Shared;
use crate::lane::Lane;
use crate::queue::Job;
use crate::stats::{Outcome, kind_index};

pub(crate) struct Worker {
    shared: Arc<Shared>,
    lane: Arc<Lane>,
    conn: Option<Conn>,
}

/// How one job ended, as recorded.
struct Ended {
    outcome: Outcome,
    corrected: Option<std::time::Duration>,
    service: Option<std::time::Duration>,
}

impl Worker {
    pub(crate) fn new(shared: Arc<Shared>, lane: Arc<Lane>) -> Self {
        Self {
            shared,
            lane,
            conn: None,
        }
    }

    /// Serves jobs until the lane's queue is closed and empty.
    pub(crate) async fn run(mut self) {
        // Registered with the lane's timer only once reset for the first job.
        let mut timer = pin!(tokio::time::sleep(self.shared.timeout));
        while let Some(job) = self.next_job().await {
            let ended = self.serve(job, timer.as_mut()).await;
            self.record(job.label, &ended);
        }
    }

    /// The next job. While idle with a connection, the ticker's sweep closes it once too
    /// old (it would otherwise hold a socket on a replica that may be gone).
    async fn next_job(&mut self) -> Option<Job> {
        loop {
            if self.conn.is_none() {
                return self.lane.queue.pop().await;
            }
            let job = tokio::select! {
                biased;
                job = self.lane.queue.pop() => Some(job),
                () = self.shared.sweep.notified() => None,
            };
            match job {
                Some(job) => return job,
                None => {
                    let max_age = self.shared.conn_max_age;
                    if self.conn.as_mut().is_some_and(|c| !c.usable(max_age)) {
                        self.conn = None;
                    }
                }
            }
        }
    }

    /// Sends one job's request and reads the response, within the job's deadline.
    async fn serve(&mut self, job: Job, mut timer: Pin<&mut Sleep>) -> Ended {
        let timed_out = |now: Instant| Ended {
            outcome: Outcome::Failed(kind_index(error_kind::TIMEOUT)),
            corrected: Some(now.saturating_duration_since(job.intended)),
            service: None,
        };
        if Instant::now() >= job.deadline {
            // Waited in the queue past its timeout: sending it now would only add load.
            self.lane_stats()
                .note_failure(error_kind::TIMEOUT, self.timeout_message());
            return timed_out(Instant::now());
        }
        // Deadlines only move forward, so this mostly updates the registered timer in place.
        timer.as_mut().reset(job.deadline);
        let prepared = self.shared.workload.prepare(job.label, job.roll);
        let result = tokio::select! {
            biased;
            r = self.exchange(prepared.request, prepared.keep_body) => Some(r),
            () = timer.as_mut() => None,
        };
        let done = Instant::now();
        let corrected = done.saturating_duration_since(job.intended);
        match result {
            Some(Ok(ex)) => {
                self.shared.workload.observe(job.label, ex.status, &ex.body);
                Ended {
                    outcome: Outcome::Status(ex.status.as_u16()),
                    corrected: Some(corrected),
                    service: Some(done.saturating_duration_since(ex.sent_at)),
                }
            }
            Some(Err(failure)) => {
                let (kind, why) = match failure {
                    Failure::Connect(why) => (error_kind::CONNECT, why),
                    Failure::Io(why) => (error_kind::IO, why),
                };
                self.lane_stats().note_failure(kind, why);
                Ended {
                    outcome: Outcome::Failed(kind_index(kind)),
                    corrected: None,
                    service: None,
                }
            }
            None => {
                // The request may still be on the wire: this connection cannot be reused.
                self.conn = None;
                self.lane_stats()
                    .note_failure(error_kind::TIMEOUT, self.timeout_message());
                timed_out(done)
            }
        }
    }

    /// Sends on the worker's connection, opening one when needed. A request that a reused
    /// connection closed under before writing it is sent once more on a new connection, as
    /// hyper-util's client does.
    async fn exchange(
        &mut self,
        mut req: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Exchange, Failure> {
        let max_age = self.shared.conn_max_age;
        let mut retried = false;
        loop {
            let reused = self.conn.as_mut().is_some_and(|c| c.usable(max_age));
            let conn = match &mut self.conn {
                Some(c) if reused => c,
                slot => {
                    *slot = None;
                    slot.insert(open(&self.shared, &self.lane).await?)
                }
            };
            match conn.exchange(req, keep_body).await {
                Ok(ex) => return Ok(ex),
                Err(SendError::NotSent(back)) if reused && !retried => {
                    self.conn = None;
                    req = *back;
                    retried = true;
                }
                Err(SendError::NotSent(_)) => {
                    self.conn = None;
                    return Err(Failure::Io("connection closed before the request".into()));
                }
                Err(SendError::Failed(f)) => {
                    self.conn = None;
                    return Err(f);
                }
            }
        }
    }

    fn record(&self, label: usize, e: &Ended) {
        self.lane_stats()
            .record(label, e.outcome, e.corrected, e.service);
        let m = &self.shared.metrics;
        if let Some(c) = e.corrected
            && let Some(h) = m.latency.get(label)
        {
            h.record(c.as_secs_f64());
        }
        if let Some(k) = e.outcome.error_kind()
            && let Some(c) = m.errors.get(label).and_then(|e| e.get(k))
        {
            c.increment(1);
        }
        self.shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    fn lane_stats(&self) -> &crate::stats::LaneStats {
        self.shared.stats.lane(self.lane.index)
    }

    fn timeout_message(&self) -> String {
        format!("no complete response within {:?}", self.shared.timeout)
    }
}

/// A connection for a worker: the one the start-up checks opened when this lane still holds
/// it (so that it is not wasted), else a new one.
async fn open(shared: &Shared, lane: &Lane) -> Result<Conn, Failure> {
    if let Some(parked) = lane.take_spare()
        && let Ok(conn) = Conn::adopt(parked).await
    {
        return Ok(conn);
    }
    shared.connector.dial().await
}
