//! Async mode (`--mode async`): a 202 hands its request over to a follower, which polls the
//! job (`GET /api/jobs/{id}`) every `--poll-interval` until it ends, the backend forgets it
//! (404) or `--job-max-wait` has passed since the 202. The request ends with its job: a job
//! that succeeded is a success, one that failed counts `job_failed`, one never seen to end
//! counts `job_expired`. Polls are not load: they are not counted as sent, and in the open
//! loop they go out on a lane's own few connections ([`PollPool`]), never queueing behind
//! the schedule's requests.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use common::api::{JobAccepted, JobState, JobStatus, routes};
use common::names::error_kind;
use http::header::{HOST, USER_AGENT};
use http::{HeaderValue, Request, StatusCode, Uri};
use http_body_util::Full;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::JobPolling;
use crate::client::{Conn, Connector, Exchange, Failure, Target, exchange_on};
use crate::engine::Shared;
use crate::lane::Lane;
use crate::stats::{JobOutcome, LaneStats, kind_index};
use crate::worker::Ended;

/// Poll connections per lane: a poll is answered at once, so a few carry thousands a second.
pub(crate) const POLL_CONNECTIONS: usize = 4;

/// What a 202 gave to follow.
#[derive(Debug)]
pub(crate) enum Handover {
    /// The job's status URI under the target.
    Follow(Uri),
    /// A 202 whose body names no job that can be polled; it counts as `job_expired`.
    Unreadable(String),
}

/// Reads the job id of a 202 body (`common::api::JobAccepted`) into its status URI.
pub(crate) fn handover(target: &Target, body: &[u8]) -> Handover {
    let accepted: JobAccepted = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => return Handover::Unreadable(format!("a 202 without a readable job id: {e}")),
    };
    let id = accepted.job_id;
    // Only ids that are safe in a URL path are followed.
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if id.is_empty() || id.len() > 128 || !id.chars().all(safe) {
        return Handover::Unreadable(format!("a 202 with an unusable job id `{id:.40}`"));
    }
    match target.uri(&routes::JOB.replace("{id}", &id)) {
        Ok(uri) => Handover::Follow(uri),
        Err(e) => Handover::Unreadable(format!("job `{id}` has no valid status URI: {e}")),
    }
}

/// How following a job ended.
#[derive(Debug)]
pub(crate) struct Followed {
    pub(crate) outcome: JobOutcome,
    /// When the poll that saw the job end was answered (None when expired).
    pub(crate) ended_at: Option<Instant>,
    /// The job's `result`, as JSON, when it has one.
    pub(crate) result: Option<Bytes>,
    /// Why it expired.
    pub(crate) why: Option<String>,
}

impl Followed {
    pub(crate) fn expired(why: String) -> Self {
        Self {
            outcome: JobOutcome::Expired,
            ended_at: None,
            result: None,
            why: Some(why),
        }
    }
}

/// Where polls go: one GET whose body is kept.
pub(crate) trait Poll {
    async fn get(&mut self, req: Request<Full<Bytes>>) -> Result<Exchange, Failure>;
}

/// Polls the job at `uri` until it ends or `polling.max_wait` has passed since
/// `accepted_at`. Each poll is bounded by `timeout`; a poll that fails or answers oddly is
/// tried again at the next interval.
pub(crate) async fn follow(
    poll: &mut impl Poll,
    target: &Target,
    uri: &Uri,
    accepted_at: Instant,
    polling: JobPolling,
    timeout: Duration,
) -> Followed {
    let deadline = accepted_at + polling.max_wait;
    let mut next = accepted_at + polling.interval;
    loop {
        tokio::time::sleep_until(next.min(deadline)).await;
        let mut req = Request::new(Full::new(Bytes::new()));
        *req.uri_mut() = uri.clone();
        req.headers_mut().insert(HOST, target.host_header.clone());
        req.headers_mut()
            .insert(USER_AGENT, HeaderValue::from_static("loadgen"));
        let last = match tokio::time::timeout(timeout, poll.get(req)).await {
            Ok(Ok(ex)) if ex.status == StatusCode::OK => {
                match serde_json::from_slice::<JobStatus>(&ex.body) {
                    Ok(s) => match s.state {
                        JobState::Succeeded | JobState::Failed => {
                            let outcome = if s.state == JobState::Succeeded {
                                JobOutcome::Succeeded
                            } else {
                                JobOutcome::Failed
                            };
                            let result = s
                                .result
                                .and_then(|v| serde_json::to_vec(&v).ok())
                                .map(Bytes::from);
                            return Followed {
                                outcome,
                                ended_at: Some(Instant::now()),
                                result,
                                why: None,
                            };
                        }
                        JobState::Queued => "it was still queued".to_string(),
                        JobState::Running => "it was still running".to_string(),
                    },
                    Err(e) => format!("an unreadable job status: {e}"),
                }
            }
            Ok(Ok(ex)) if ex.status == StatusCode::NOT_FOUND => {
                return Followed::expired(format!("the backend no longer knows job {uri} (404)"));
            }
            Ok(Ok(ex)) => format!("the poll answered {}", ex.status),
            Ok(Err(f)) => f.describe(),
            Err(_) => format!("the poll did not answer within {timeout:?}"),
        };
        let now = Instant::now();
        if now >= deadline {
            return Followed::expired(format!(
                "job {uri} not done within {:?} (--job-max-wait); at the last poll {last}",
                polling.max_wait
            ));
        }
        // After a slow poll the next one waits a whole interval rather than bursting.
        next = (next + polling.interval).max(now);
    }
}

/// A lane's poll connections, shared by its followers.
pub(crate) struct PollPool {
    idle: Mutex<Vec<Conn>>,
    permits: Semaphore,
}

impl PollPool {
    pub(crate) fn new(connections: usize) -> Self {
        Self {
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(connections.max(1)),
        }
    }
}

/// A poll on one of the pool's connections (a new one when none is idle).
struct Pooled<'a> {
    pool: &'a PollPool,
    connector: &'a Connector,
    max_age: Duration,
}

impl Poll for Pooled<'_> {
    async fn get(&mut self, req: Request<Full<Bytes>>) -> Result<Exchange, Failure> {
        let _permit = self
            .pool
            .permits
            .acquire()
            .await
            .map_err(|_| Failure::Io("the poll connections are closed".into()))?;
        let take = || {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop()
        };
        let mut slot = take();
        let connector = self.connector;
        let out = exchange_on(&mut slot, self.max_age, || connector.dial(), req, true).await;
        // Dropped mid-exchange (timed out), the connection goes with this future instead.
        if let Some(conn) = slot {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
        out
    }
}

/// The open loop's follower of one job: polls it on the lane's pool, records its end, and
/// lets go of its in-flight place.
pub(crate) async fn follow_open(
    shared: Arc<Shared>,
    lane: Arc<Lane>,
    label: usize,
    intended: Instant,
    uri: Uri,
    accepted_at: Instant,
) {
    let mut poll = Pooled {
        pool: &lane.polls,
        connector: &shared.connector,
        max_age: shared.conn_max_age,
    };
    let target = shared.connector.target();
    let followed = follow(
        &mut poll,
        target,
        &uri,
        accepted_at,
        shared.polling,
        shared.timeout,
    )
    .await;
    finish(
        &shared,
        shared.stats.lane(lane.index),
        label,
        intended,
        followed,
    );
    shared.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
}

/// Records the 202 of a request handed over to its job's follower: latency and status now,
/// its end later ([`finish`]).
pub(crate) fn accepted(shared: &Shared, stats: &LaneStats, label: usize, e: &Ended) {
    let corrected = e.corrected.unwrap_or_default();
    stats.record_accepted(label, corrected, e.service.unwrap_or_default());
    if let Some(h) = shared.metrics.latency.get(label) {
        h.record(corrected.as_secs_f64());
    }
}

/// Records how a job ended: its request's outcome, its duration from the request's
/// `intended` instant, the error counters, and the booked ticket its result may hold.
pub(crate) fn finish(
    shared: &Shared,
    stats: &LaneStats,
    label: usize,
    intended: Instant,
    followed: Followed,
) {
    let duration = followed
        .ended_at
        .map(|at| at.saturating_duration_since(intended));
    if let Some(result) = &followed.result {
        shared.workload.observe(label, StatusCode::CREATED, result);
    }
    stats.record_job(label, followed.outcome, duration);
    let m = &shared.metrics;
    if let Some(d) = duration
        && let Some(h) = m.job_duration.get(label)
    {
        h.record(d.as_secs_f64());
    }
    let kind = match followed.outcome {
        JobOutcome::Succeeded => return,
        JobOutcome::Failed => error_kind::JOB_FAILED,
        JobOutcome::Expired => error_kind::JOB_EXPIRED,
    };
    if let Some(c) = m.errors.get(label).and_then(|e| e.get(kind_index(kind))) {
        c.increment(1);
    }
    if let Some(why) = followed.why {
        stats.note_failure(kind, why);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;

    /// Answers polls from a script (then "running" for ever) and notes when each came.
    struct Script {
        answers: VecDeque<Result<(u16, &'static str), Failure>>,
        polled_at: Vec<Instant>,
    }

    impl Script {
        fn new(answers: Vec<Result<(u16, &'static str), Failure>>) -> Self {
            Self {
                answers: answers.into(),
                polled_at: Vec::new(),
            }
        }
    }

    const RUNNING: &str = r#"{"job_id":"j","action":"book_ticket","state":"running"}"#;

    impl Poll for Script {
        async fn get(&mut self, req: Request<Full<Bytes>>) -> Result<Exchange, Failure> {
            assert_eq!(req.uri(), "/api/jobs/j");
            self.polled_at.push(Instant::now());
            let (status, body) = self.answers.pop_front().unwrap_or(Ok((200, RUNNING)))?;
            Ok(Exchange {
                status: StatusCode::from_u16(status).unwrap(),
                body: Bytes::from_static(body.as_bytes()),
                sent_at: Instant::now(),
            })
        }
    }

    fn polling(interval_ms: u64, max_wait_ms: u64) -> JobPolling {
        JobPolling {
            interval: Duration::from_millis(interval_ms),
            max_wait: Duration::from_millis(max_wait_ms),
        }
    }

    async fn run(script: &mut Script, p: JobPolling) -> (Followed, Instant) {
        let target = Target::parse("http://127.0.0.1:1").unwrap();
        let uri: Uri = "/api/jobs/j".parse().unwrap();
        let accepted = Instant::now();
        let f = follow(script, &target, &uri, accepted, p, Duration::from_secs(1)).await;
        (f, accepted)
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_is_polled_every_interval_until_it_ends() {
        let mut script = Script::new(vec![
            Ok((
                200,
                r#"{"job_id":"j","action":"book_ticket","state":"queued"}"#,
            )),
            Err(Failure::Io("reset".into())),
            Ok((503, r#"{"error":"draining"}"#)),
            Ok((200, RUNNING)),
            Ok((
                200,
                r#"{"job_id":"j","action":"book_ticket","state":"succeeded","result":{"id":"t-1","showtime_id":1,"seats":1}}"#,
            )),
        ]);
        let (f, accepted) = run(&mut script, polling(50, 10_000)).await;
        assert_eq!(f.outcome, JobOutcome::Succeeded);
        // Failed and odd polls are tried again at the next interval, never sooner.
        let offsets: Vec<u128> = script
            .polled_at
            .iter()
            .map(|t| t.duration_since(accepted).as_millis())
            .collect();
        assert_eq!(offsets, [50, 100, 150, 200, 250]);
        assert_eq!(
            f.ended_at.unwrap().duration_since(accepted).as_millis(),
            250
        );
        let ticket: common::api::Ticket = serde_json::from_slice(&f.result.unwrap()).unwrap();
        assert_eq!(ticket.id, "t-1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_not_done_within_the_max_wait_expires_then() {
        let mut script = Script::new(vec![]);
        let (f, accepted) = run(&mut script, polling(100, 350)).await;
        assert_eq!(f.outcome, JobOutcome::Expired);
        assert_eq!(f.ended_at, None);
        let last = script.polled_at.last().unwrap().duration_since(accepted);
        assert_eq!(
            last,
            Duration::from_millis(350),
            "one last poll at the max wait"
        );
        assert_eq!(script.polled_at.len(), 4);
        let why = f.why.unwrap();
        assert!(
            why.contains("--job-max-wait") && why.contains("running"),
            "{why}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_forgotten_job_expires_and_a_failed_one_fails_at_once() {
        let mut script = Script::new(vec![Ok((404, r#"{"error":"unknown job"}"#))]);
        let (f, _) = run(&mut script, polling(10, 10_000)).await;
        assert_eq!(f.outcome, JobOutcome::Expired);
        assert!(f.why.unwrap().contains("404"));
        assert_eq!(script.polled_at.len(), 1);
        let failed = r#"{"job_id":"j","action":"give_feedback","state":"failed"}"#;
        let mut script = Script::new(vec![Ok((200, failed))]);
        let (f, accepted) = run(&mut script, polling(10, 10_000)).await;
        assert_eq!(f.outcome, JobOutcome::Failed);
        assert_eq!(f.ended_at.unwrap().duration_since(accepted).as_millis(), 10);
    }

    #[test]
    fn a_202_body_gives_the_job_status_uri_under_the_target() {
        let target = Target::parse("http://127.0.0.1:1/base").unwrap();
        match handover(&target, br#"{"job_id":"job-7-1"}"#) {
            Handover::Follow(uri) => assert_eq!(uri, "/base/api/jobs/job-7-1"),
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"{}"[..],
            b"nope",
            br#"{"job_id":"../x"}"#,
            br#"{"job_id":""}"#,
        ] {
            assert!(
                matches!(handover(&target, bad), Handover::Unreadable(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
