//! What a run measures, per lane and action label: HDR histograms of corrected latency (from
//! the intended send instant) and service time (from the actual send), outcome counts by
//! error kind and by HTTP status, async jobs' ends and durations, plus counters the
//! scheduler bumps on its hot path. Histograms have fixed bounds, so memory does not grow
//! with the run's length.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use common::names::error_kind;
use hdrhistogram::Histogram;

/// Highest latency kept exactly (1 h, in µs); longer ones count as 1 h.
const MAX_MICROS: u64 = 3_600_000_000;
pub(crate) const KINDS: usize = error_kind::ALL.len();

/// A latency histogram in microseconds, 3 significant digits (about 190 KiB, fixed).
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("constant histogram bounds are valid")
}

pub(crate) fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A response arrived; 4xx and 5xx count as errors of their kind.
    Status(u16),
    /// No response: index into [`error_kind::ALL`].
    Failed(usize),
}

impl Outcome {
    /// The error kind index, or None for a success.
    pub(crate) fn error_kind(self) -> Option<usize> {
        let index = |k: &str| error_kind::ALL.iter().position(|x| *x == k);
        match self {
            Outcome::Status(s) if (400..500).contains(&s) => index(error_kind::HTTP_4XX),
            Outcome::Status(s) if s >= 500 => index(error_kind::HTTP_5XX),
            Outcome::Status(_) => None,
            Outcome::Failed(k) => Some(k),
        }
    }
}

/// How a followed async job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobOutcome {
    Succeeded,
    Failed,
    /// Forgotten by the backend (404), not done within the max wait, or not followable.
    Expired,
}

/// Async jobs of one action label: how they ended and how long they took.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobStats {
    /// 202 answers with a job to follow.
    pub(crate) accepted: u64,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) expired: u64,
    /// From the intended send instant to the poll that saw the job end (succeeded or
    /// failed); allocated on the first job, so sync runs carry no histogram for it.
    pub(crate) duration: Option<Histogram<u64>>,
}

impl JobStats {
    fn merge(&mut self, other: &JobStats) {
        self.accepted += other.accepted;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.expired += other.expired;
        if let Some(theirs) = &other.duration {
            // Same bounds on both sides, so adding cannot fail.
            let _ = self.duration.get_or_insert_with(histogram).add(theirs);
        }
    }
}

/// Index of `kind` in [`error_kind::ALL`].
pub(crate) fn kind_index(kind: &str) -> usize {
    error_kind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(KINDS - 1)
}

/// Everything recorded for one action label.
#[derive(Debug, Clone)]
pub(crate) struct LabelStats {
    pub(crate) corrected: Histogram<u64>,
    pub(crate) service: Histogram<u64>,
    pub(crate) ok: u64,
    pub(crate) errors: [u64; KINDS],
    /// Every response status seen, successes included.
    pub(crate) statuses: BTreeMap<u16, u64>,
    pub(crate) jobs: JobStats,
}

impl LabelStats {
    fn new() -> Self {
        Self {
            corrected: histogram(),
            service: histogram(),
            ok: 0,
            errors: [0; KINDS],
            statuses: BTreeMap::new(),
            jobs: JobStats::default(),
        }
    }

    /// Adds another label's numbers (for the total).
    pub(crate) fn merge(&mut self, other: &LabelStats) {
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.corrected.add(&other.corrected);
        let _ = self.service.add(&other.service);
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (s, n) in &other.statuses {
            *self.statuses.entry(*s).or_default() += n;
        }
        self.jobs.merge(&other.jobs);
    }
}

/// Outcome records of one lane, under a lock that only its own thread takes per request
/// (and the ticker once a second).
pub(crate) struct Recorded {
    pub(crate) labels: Vec<LabelStats>,
    /// Corrected latency of every label since the last timeline tick.
    pub(crate) window: Histogram<u64>,
    /// The latest message of each failure kind without a response (connect, io, timeout).
    pub(crate) last_failure: BTreeMap<&'static str, String>,
}

/// What one lane measures. Each lane writes only its own, so recording a request never
/// contends with another thread; readers add the lanes up. Aligned so that two lanes'
/// counters never share a cache line.
#[repr(align(128))]
pub(crate) struct LaneStats {
    recorded: Mutex<Recorded>,
    pub(crate) sent: Vec<AtomicU64>,
    pub(crate) dropped: Vec<AtomicU64>,
    pub(crate) completed: AtomicU64,
    pub(crate) errors: AtomicU64,
    /// Largest schedule lag (µs) since the last timeline tick.
    pub(crate) window_max_lag: AtomicU64,
}

impl LaneStats {
    fn new(labels: usize) -> Self {
        Self {
            recorded: Mutex::new(Recorded {
                labels: (0..labels).map(|_| LabelStats::new()).collect(),
                window: histogram(),
                last_failure: BTreeMap::new(),
            }),
            sent: (0..labels).map(|_| AtomicU64::new(0)).collect(),
            dropped: (0..labels).map(|_| AtomicU64::new(0)).collect(),
            completed: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            window_max_lag: AtomicU64::new(0),
        }
    }

    /// Records a finished request. `corrected` is None for failures without a response
    /// time worth keeping (refused connections answer in microseconds and would flatter
    /// the latency); timeouts keep theirs.
    pub(crate) fn record(
        &self,
        label: usize,
        outcome: Outcome,
        corrected: Option<Duration>,
        service: Option<Duration>,
    ) {
        let kind = outcome.error_kind();
        {
            let mut r = self.lock();
            let Recorded { labels, window, .. } = &mut *r;
            if let Some(s) = labels.get_mut(label) {
                if let Some(c) = corrected {
                    s.corrected.saturating_record(micros(c));
                    window.saturating_record(micros(c));
                }
                if let Some(d) = service {
                    s.service.saturating_record(micros(d));
                }
                match kind {
                    Some(k) => s.errors[k.min(KINDS - 1)] += 1,
                    None => s.ok += 1,
                }
                if let Outcome::Status(code) = outcome {
                    *s.statuses.entry(code).or_default() += 1;
                }
            }
        }
        // Counted after the histograms, so a reader that sees the count sees the latency.
        if kind.is_some() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.completed.fetch_add(1, Ordering::Release);
    }

    /// Records the 202 that accepted a job: its latency and status, but not an end (the
    /// request's outcome is its job's, see [`LaneStats::record_job`]).
    pub(crate) fn record_accepted(&self, label: usize, corrected: Duration, service: Duration) {
        let mut r = self.lock();
        let Recorded { labels, window, .. } = &mut *r;
        if let Some(s) = labels.get_mut(label) {
            s.corrected.saturating_record(micros(corrected));
            window.saturating_record(micros(corrected));
            s.service.saturating_record(micros(service));
            *s.statuses.entry(202).or_default() += 1;
            s.jobs.accepted += 1;
        }
    }

    /// Records the end of a job accepted before: the end of its request. `duration` is
    /// None for a job that expired (its end was never seen).
    pub(crate) fn record_job(&self, label: usize, outcome: JobOutcome, duration: Option<Duration>) {
        let failed = outcome != JobOutcome::Succeeded;
        {
            let mut r = self.lock();
            if let Some(s) = r.labels.get_mut(label) {
                let j = &mut s.jobs;
                match outcome {
                    JobOutcome::Succeeded => {
                        j.succeeded += 1;
                        s.ok += 1;
                    }
                    JobOutcome::Failed => {
                        j.failed += 1;
                        s.errors[kind_index(error_kind::JOB_FAILED)] += 1;
                    }
                    JobOutcome::Expired => {
                        j.expired += 1;
                        s.errors[kind_index(error_kind::JOB_EXPIRED)] += 1;
                    }
                }
                if let Some(d) = duration {
                    j.duration
                        .get_or_insert_with(histogram)
                        .saturating_record(micros(d));
                }
            }
        }
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.completed.fetch_add(1, Ordering::Release);
    }

    /// Keeps the message of a failure, so the summary can say what went wrong.
    pub(crate) fn note_failure(&self, kind: &'static str, why: String) {
        self.lock().last_failure.insert(kind, why);
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The run's measurements: one [`LaneStats`] per lane, plus the in-flight count that the
/// `--max-in-flight` cap applies to across lanes.
pub(crate) struct Stats {
    pub(crate) lanes: Vec<LaneStats>,
    /// Dispatched and not yet finished (queued for a worker included; in async mode, until
    /// the job ends).
    pub(crate) in_flight: AtomicUsize,
    /// Closed loop: virtual users running now.
    pub(crate) vus: AtomicUsize,
}

/// Every lane's records added up.
pub(crate) struct Merged {
    pub(crate) labels: Vec<LabelStats>,
    pub(crate) last_failure: BTreeMap<&'static str, String>,
}

impl Stats {
    pub(crate) fn new(lanes: usize, labels: usize) -> Self {
        Self {
            lanes: (0..lanes.max(1)).map(|_| LaneStats::new(labels)).collect(),
            in_flight: AtomicUsize::new(0),
            vus: AtomicUsize::new(0),
        }
    }

    fn sum(&self, f: impl Fn(&LaneStats) -> u64) -> u64 {
        self.lanes.iter().map(f).sum()
    }

    /// Lane `i`'s records (lanes are numbered from 0 to the count given to [`Stats::new`]).
    pub(crate) fn lane(&self, i: usize) -> &LaneStats {
        // Never empty (see new), so the modulo cannot divide by zero.
        &self.lanes[i % self.lanes.len()]
    }

    pub(crate) fn sent_of(&self, label: usize) -> u64 {
        self.sum(|l| l.sent.get(label).map_or(0, |a| a.load(Ordering::Relaxed)))
    }

    pub(crate) fn dropped_of(&self, label: usize) -> u64 {
        self.sum(|l| {
            l.dropped
                .get(label)
                .map_or(0, |a| a.load(Ordering::Relaxed))
        })
    }

    pub(crate) fn sent_total(&self) -> u64 {
        self.sum(|l| l.sent.iter().map(|a| a.load(Ordering::Relaxed)).sum())
    }

    pub(crate) fn dropped_total(&self) -> u64 {
        self.sum(|l| l.dropped.iter().map(|a| a.load(Ordering::Relaxed)).sum())
    }

    pub(crate) fn completed_total(&self) -> u64 {
        self.sum(|l| l.completed.load(Ordering::Acquire))
    }

    pub(crate) fn errors_total(&self) -> u64 {
        self.sum(|l| l.errors.load(Ordering::Relaxed))
    }

    /// Moves every lane's latency window into `into` (emptied first); the lanes' windows
    /// are emptied in place, so nothing is allocated per tick.
    pub(crate) fn take_window(&self, into: &mut Histogram<u64>) {
        into.reset();
        for lane in &self.lanes {
            let mut r = lane.lock();
            // Same bounds on both sides, so adding cannot fail.
            let _ = into.add(&r.window);
            r.window.reset();
        }
    }

    /// The largest schedule lag (µs) of any lane since the last call.
    pub(crate) fn take_max_lag(&self) -> u64 {
        self.lanes
            .iter()
            .map(|l| l.window_max_lag.swap(0, Ordering::Relaxed))
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn merged(&self) -> Merged {
        let mut merged: Option<Merged> = None;
        for lane in &self.lanes {
            let r = lane.lock();
            match &mut merged {
                None => {
                    merged = Some(Merged {
                        labels: r.labels.clone(),
                        last_failure: r.last_failure.clone(),
                    });
                }
                Some(m) => {
                    for (a, b) in m.labels.iter_mut().zip(&r.labels) {
                        a.merge(b);
                    }
                    m.last_failure
                        .extend(r.last_failure.iter().map(|(k, v)| (*k, v.clone())));
                }
            }
        }
        merged.unwrap_or(Merged {
            labels: Vec::new(),
            last_failure: BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_map_to_the_design_error_kinds() {
        let kind = |o: Outcome| o.error_kind().map(|k| error_kind::ALL[k]);
        assert_eq!(kind(Outcome::Status(200)), None);
        assert_eq!(kind(Outcome::Status(302)), None);
        assert_eq!(kind(Outcome::Status(409)), Some(error_kind::HTTP_4XX));
        assert_eq!(kind(Outcome::Status(503)), Some(error_kind::HTTP_5XX));
        let timeout = kind_index(error_kind::TIMEOUT);
        assert_eq!(kind(Outcome::Failed(timeout)), Some(error_kind::TIMEOUT));
    }

    #[test]
    fn records_split_by_label_and_lane_and_merge_into_a_total() {
        let s = Stats::new(2, 2);
        let ms = Duration::from_millis;
        s.lanes[0].record(0, Outcome::Status(201), Some(ms(5)), Some(ms(4)));
        s.lanes[1].record(0, Outcome::Status(409), Some(ms(7)), Some(ms(6)));
        let t = kind_index(error_kind::TIMEOUT);
        s.lanes[1].record(1, Outcome::Failed(t), Some(ms(2000)), None);
        s.lanes[1].note_failure(error_kind::TIMEOUT, "slow".into());
        let m = s.merged();
        assert_eq!(m.labels[0].ok, 1);
        assert_eq!(m.labels[0].statuses.get(&409), Some(&1));
        assert_eq!(
            m.last_failure.get(error_kind::TIMEOUT).map(String::as_str),
            Some("slow")
        );
        let mut total = m.labels[0].clone();
        total.merge(&m.labels[1]);
        assert_eq!(total.corrected.len(), 3);
        assert_eq!(total.service.len(), 2);
        assert_eq!(total.errors.iter().sum::<u64>(), 2);
        assert_eq!(s.errors_total(), 2);
        assert_eq!(s.completed_total(), 3);
        let mut window = histogram();
        s.take_window(&mut window);
        assert_eq!(window.len(), 3);
        s.take_window(&mut window);
        assert_eq!(window.len(), 0, "the lanes' windows were emptied");
    }

    #[test]
    fn a_request_of_an_async_job_ends_with_its_job() {
        let s = Stats::new(2, 1);
        let ms = Duration::from_millis;
        for lane in 0..2 {
            s.lanes[lane].record_accepted(0, ms(3), ms(2));
        }
        s.lanes[1].record_accepted(0, ms(4), ms(3));
        assert_eq!(
            s.completed_total(),
            0,
            "a 202 is not the end of its request"
        );
        s.lanes[0].record_job(0, JobOutcome::Succeeded, Some(ms(250)));
        s.lanes[1].record_job(0, JobOutcome::Failed, Some(ms(300)));
        s.lanes[1].record_job(0, JobOutcome::Expired, None);
        assert_eq!(s.completed_total(), 3);
        assert_eq!(s.errors_total(), 2);
        let m = s.merged();
        let l = &m.labels[0];
        assert_eq!((l.jobs.accepted, l.jobs.succeeded), (3, 1));
        assert_eq!((l.jobs.failed, l.jobs.expired), (1, 1));
        assert_eq!(l.ok, 1);
        assert_eq!(l.errors[kind_index(error_kind::JOB_FAILED)], 1);
        assert_eq!(l.errors[kind_index(error_kind::JOB_EXPIRED)], 1);
        assert_eq!(l.statuses.get(&202), Some(&3));
        let d = l.jobs.duration.as_ref().unwrap();
        assert_eq!(d.len(), 2, "an expired job has no duration");
        assert!(d.max() >= 299_000);
        assert_eq!(l.corrected.len(), 3);
    }
}
