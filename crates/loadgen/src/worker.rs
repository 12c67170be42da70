//! A worker: one keep-alive connection and a loop that sends the lane's jobs on it, one at
//! a time. The connection opens on the first job, and is replaced when it breaks, times out
//! or grows older than `--conn-max-age` (a new one resolves DNS again). Over HTTP/2 a group
//! of `--h2-streams` workers shares one connection, each sending on its own stream. One
//! timer per worker, reset for each job, bounds every request. In async mode a 202 is handed
//! over to a follower of its job (`jobs.rs`) and the worker moves on.

use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use common::names::error_kind;
use http::{Request, StatusCode};
use http_body_util::Full;
use tokio::time::{Instant, Sleep};

use crate::Mode;
use crate::client::{Conn, Exchange, Failure, exchange_on};
use crate::engine::Shared;
use crate::jobs::{self, Followed, Handover};
use crate::lane::Lane;
use crate::queue::Job;
use crate::stats::{LaneStats, Outcome, kind_index};

pub(crate) struct Worker {
    shared: Arc<Shared>,
    lane: Arc<Lane>,
    conn: Option<Conn>,
    /// HTTP/2: the connection this worker's group shares; `conn` is a handle on it.
    group: Option<Arc<SharedConn>>,
}

/// HTTP/2: the connection of a group of workers. The lock is held while one is opened, so
/// the group opens one, not one each.
pub(crate) type SharedConn = tokio::sync::Mutex<Option<Conn>>;

/// How one request ended, as recorded (by a worker here, or by a virtual user).
pub(crate) struct Ended {
    pub(crate) outcome: Outcome,
    /// From `from` (see [`Ended::of`]) to the end of the response.
    pub(crate) corrected: Option<Duration>,
    pub(crate) service: Option<Duration>,
    /// Async mode: the job a 202 started, to follow before the request counts as ended.
    pub(crate) job: Option<Handover>,
}

impl Ended {
    /// How an exchange measured from `from` ended at `done` (None: its time ran out).
    /// Failures are noted in `stats`; a booked ticket is remembered for cancellations.
    pub(crate) fn of(
        shared: &Shared,
        stats: &LaneStats,
        label: usize,
        result: Option<Result<Exchange, Failure>>,
        from: Instant,
        done: Instant,
    ) -> Self {
        let corrected = done.saturating_duration_since(from);
        match result {
            Some(Ok(ex)) => {
                let accepted = ex.status == StatusCode::ACCEPTED && shared.mode == Mode::Async;
                let job = accepted.then(|| jobs::handover(shared.connector.target(), &ex.body));
                if job.is_none() {
                    shared.workload.observe(label, ex.status, &ex.body);
                }
                Self {
                    outcome: Outcome::Status(ex.status.as_u16()),
                    corrected: Some(corrected),
                    service: Some(done.saturating_duration_since(ex.sent_at)),
                    job,
                }
            }
            Some(Err(failure)) => {
                let (kind, why) = match failure {
                    Failure::Connect(why) => (error_kind::CONNECT, why),
                    Failure::Tls(why) => (error_kind::TLS, why),
                    Failure::Io(why) => (error_kind::IO, why),
                };
                stats.note_failure(kind, why);
                Self {
                    outcome: Outcome::Failed(kind_index(kind)),
                    corrected: None,
                    service: None,
                    job: None,
                }
            }
            None => Self::timed_out(shared, stats, corrected),
        }
    }

    /// A request whose time ran out keeps its (long) latency; it has no service time.
    fn timed_out(shared: &Shared, stats: &LaneStats, corrected: Duration) -> Self {
        let why = format!("no complete response within {:?}", shared.timeout);
        stats.note_failure(error_kind::TIMEOUT, why);
        Self {
            outcome: Outcome::Failed(kind_index(error_kind::TIMEOUT)),
            corrected: Some(corrected),
            service: None,
            job: None,
        }
    }
}

/// Records a request that ended, and lets go of its in-flight place.
pub(crate) fn record(shared: &Shared, stats: &LaneStats, label: usize, e: &Ended) {
    stats.record(label, e.outcome, e.corrected, e.service);
    let m = &shared.metrics;
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
    shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
}

impl Worker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        lane: Arc<Lane>,
        group: Option<Arc<SharedConn>>,
    ) -> Self {
        Self {
            shared,
            lane,
            conn: None,
            group,
        }
    }

    /// Serves jobs until the lane's queue is closed and empty.
    pub(crate) async fn run(mut self) {
        // Registered with the lane's timer only once reset for the first job.
        let mut timer = pin!(tokio::time::sleep(self.shared.timeout));
        while let Some(job) = self.next_job().await {
            let mut ended = self.serve(job, timer.as_mut()).await;
            match ended.job.take() {
                None => record(&self.shared, self.lane_stats(), job.label, &ended),
                Some(handover) => self.hand_over(job, &ended, handover),
            }
        }
    }

    /// The next job. While idle with a connection, the ticker's sweep closes it once too
    /// old (it would otherwise hold a socket on a replica that may be gone).
    async fn next_job(&mut self) -> Option<Job> {
        loop {
            if self.conn.is_none() && self.group.is_none() {
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
                    // The group's own handle keeps an HTTP/2 connection open too.
                    if let Some(group) = &self.group
                        && let Ok(mut held) = group.try_lock()
                        && held.as_mut().is_some_and(|c| !c.usable(max_age))
                    {
                        *held = None;
                    }
                }
            }
        }
    }

    /// Sends one job's request and reads the response, within the job's deadline.
    async fn serve(&mut self, job: Job, mut timer: Pin<&mut Sleep>) -> Ended {
        if Instant::now() >= job.deadline {
            // Waited in the queue past its timeout: sending it now would only add load.
            let late = Instant::now().saturating_duration_since(job.intended);
            return Ended::timed_out(&self.shared, self.lane_stats(), late);
        }
        // Deadlines only move forward, so this mostly updates the registered timer in place.
        timer.as_mut().reset(job.deadline);
        let prepared = self.shared.workload.prepare(job.label, job.roll);
        let result = tokio::select! {
            biased;
            r = self.exchange(prepared.request, prepared.keep_body) => Some(r),
            () = timer.as_mut() => None,
        };
        if result.is_none() {
            // The request may still be on the wire: this connection cannot be reused.
            self.conn = None;
        }
        let stats = self.shared.stats.lane(self.lane.index);
        Ended::of(
            &self.shared,
            stats,
            job.label,
            result,
            job.intended,
            Instant::now(),
        )
    }

    /// Sends on the worker's connection, opening one when needed (see [`exchange_on`]).
    async fn exchange(
        &mut self,
        req: Request<Full<Bytes>>,
        keep_body: bool,
    ) -> Result<Exchange, Failure> {
        let (shared, lane, group) = (&self.shared, &self.lane, self.group.as_deref());
        let open = || open(shared, lane, group);
        exchange_on(&mut self.conn, shared.conn_max_age, open, req, keep_body).await
    }

    /// Async mode: the 202's latency is recorded now; the request ends with its job, whose
    /// follower keeps the in-flight place until then.
    fn hand_over(&self, job: Job, e: &Ended, handover: Handover) {
        let stats = self.lane_stats();
        jobs::accepted(&self.shared, stats, job.label, e);
        match handover {
            Handover::Follow(uri) => {
                let follower = jobs::follow_open(
                    self.shared.clone(),
                    self.lane.clone(),
                    job.label,
                    job.intended,
                    uri,
                    Instant::now(),
                );
                self.lane.followers.spawn(follower);
            }
            Handover::Unreadable(why) => {
                let followed = Followed::expired(why);
                jobs::finish(&self.shared, stats, job.label, job.intended, followed);
                self.shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn lane_stats(&self) -> &LaneStats {
        self.shared.stats.lane(self.lane.index)
    }
}

/// A connection for a worker: over HTTP/2 a handle on its group's connection (opened when
/// there is none usable); else the one the start-up checks opened when this lane still holds
/// it (so that it is not wasted), else a new one.
async fn open(shared: &Shared, lane: &Lane, group: Option<&SharedConn>) -> Result<Conn, Failure> {
    if let Some(group) = group {
        let mut held = group.lock().await;
        if let Some(c) = held.as_mut()
            && c.usable(shared.conn_max_age)
            && let Some(mine) = c.share()
        {
            return Ok(mine);
        }
        *held = None;
        let conn = shared.connector.dial().await?;
        let mine = conn.share();
        *held = Some(conn);
        return mine.ok_or_else(|| Failure::Io("an HTTP/1.1 connection cannot be shared".into()));
    }
    if let Some(parked) = lane.take_spare()
        && let Ok(conn) = Conn::adopt(parked, shared.connector.setup().network()).await
    {
        return Ok(conn);
    }
    shared.connector.dial().await
}
