//! Active sessions: distinct session ids (the `X-Session-Id` header or a `session_id`
//! cookie) seen in the last 60 s. Ids are stored as hashes with their last-seen time, in a
//! map capped at [`MAX_TRACKED`] entries, so memory stays bounded whatever clients send.
//!
//! A session sends request after request, so each thread remembers the last id it recorded
//! and skips the shared map while the same id comes back within [`REFRESH_EVERY`]: most
//! requests then cost a byte comparison instead of a hash, a shared lock and a map write.
//! The price is a last-seen time up to [`REFRESH_EVERY`] early, out of a 60 s window.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderName};
use common::api::SESSION_HEADER;

/// How long a session counts as active after its last request.
pub(crate) const SESSION_WINDOW: Duration = Duration::from_secs(60);
/// Most sessions tracked at once; beyond that new ids are not counted until old ones expire.
pub(crate) const MAX_TRACKED: usize = 100_000;
/// The header, parsed once rather than on every lookup.
const SESSION: HeaderName = HeaderName::from_static(SESSION_HEADER);
/// Cookie names read when the header is absent.
const COOKIE_NAMES: [&str; 2] = ["session_id", "session"];

/// How often a full map may be pruned from the request path (pruning is O(n)).
const PRUNE_EVERY: Duration = Duration::from_secs(1);
/// How long a thread may skip the shared map for the id it recorded last.
pub(crate) const REFRESH_EVERY: Duration = Duration::from_secs(1);
/// Longest id a thread remembers; longer ones always take the shared path.
const MAX_REMEMBERED_ID: usize = 64;

/// Tells instances apart in the per-thread memory (several replicas may share a process, and
/// an address can be reused after an instance is dropped).
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// The last id this thread recorded: for which instance, when, and its bytes.
struct Recent {
    instance: u64,
    at: Option<Instant>,
    len: usize,
    id: [u8; MAX_REMEMBERED_ID],
}

thread_local! {
    static RECENT: RefCell<Recent> = const {
        RefCell::new(Recent { instance: 0, at: None, len: 0, id: [0; MAX_REMEMBERED_ID] })
    };
}

#[derive(Debug)]
pub(crate) struct Sessions {
    instance: u64,
    hasher: RandomState,
    seen: Mutex<Seen>,
}

impl Default for Sessions {
    fn default() -> Self {
        Self {
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            hasher: RandomState::new(),
            seen: Mutex::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Seen {
    last: HashMap<u64, Instant, BuildHasherDefault<PassThrough>>,
    pruned_at: Option<Instant>,
}

/// The map's keys are already keyed hashes of the ids: hashing them again would buy nothing.
#[derive(Debug, Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The session id of a request: the header first, else the cookie.
pub(crate) fn session_id(headers: &HeaderMap) -> Option<&[u8]> {
    if let Some(v) = headers.get(&SESSION) {
        let bytes = v.as_bytes();
        return (!bytes.is_empty()).then_some(bytes);
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| COOKIE_NAMES.contains(name) && !value.is_empty())
        .map(|(_, value)| value.as_bytes())
}

impl Sessions {
    /// Notes that the session `id` made a request at `now`.
    pub(crate) fn touch(&self, id: &[u8], now: Instant) {
        if self.recently_recorded_here(id, now) {
            return;
        }
        self.record(id, now);
    }

    /// True when this thread recorded `id` for this instance less than [`REFRESH_EVERY`]
    /// before `now`; otherwise remembers `id` as recorded at `now` (the caller records it).
    fn recently_recorded_here(&self, id: &[u8], now: Instant) -> bool {
        RECENT.with(|recent| {
            let Ok(mut recent) = recent.try_borrow_mut() else {
                return false;
            };
            let same = recent.instance == self.instance
                && recent.id.get(..recent.len) == Some(id)
                && recent
                    .at
                    .is_some_and(|at| now.saturating_duration_since(at) < REFRESH_EVERY);
            if same {
                return true;
            }
            if let Some(slot) = recent.id.get_mut(..id.len()) {
                slot.copy_from_slice(id);
                recent.len = id.len();
                recent.instance = self.instance;
                recent.at = Some(now);
            }
            false
        })
    }

    fn record(&self, id: &[u8], now: Instant) {
        let key = self.hasher.hash_one(id);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.last.len() >= MAX_TRACKED && !seen.last.contains_key(&key) {
            let due = seen
                .pruned_at
                .is_none_or(|at| now.saturating_duration_since(at) >= PRUNE_EVERY);
            if due {
                seen.prune(now);
            }
            if seen.last.len() >= MAX_TRACKED {
                return;
            }
        }
        seen.last.insert(key, now);
    }

    /// Sessions seen within the last [`SESSION_WINDOW`] before `now`; forgets older ones.
    pub(crate) fn active(&self, now: Instant) -> usize {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        seen.prune(now);
        seen.last.len()
    }

    /// Entries held now (for the memory-bound tests).
    pub(crate) fn tracked(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last
            .len()
    }
}

impl Seen {
    fn prune(&mut self, now: Instant) {
        self.last
            .retain(|_, last| now.saturating_duration_since(*last) < SESSION_WINDOW);
        self.pruned_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn counts_distinct_ids_within_the_window() {
        let s = Sessions::default();
        let t0 = Instant::now();
        s.touch(b"a", t0);
        s.touch(b"a", t0 + Duration::from_secs(1));
        s.touch(b"b", t0 + Duration::from_secs(2));
        assert_eq!(s.active(t0 + Duration::from_secs(3)), 2);
        // "b" was seen at 2 s, "a" last at 1 s: at 61.5 s only "b" is within 60 s.
        assert_eq!(s.active(t0 + Duration::from_millis(61_500)), 1);
        assert_eq!(s.active(t0 + Duration::from_secs(120)), 0);
        assert_eq!(s.tracked(), 0);
    }

    #[test]
    fn memory_stays_bounded_under_unique_ids() {
        let s = Sessions::default();
        let now = Instant::now();
        for i in 0..(MAX_TRACKED + 5_000) {
            s.touch(&i.to_le_bytes(), now);
        }
        assert_eq!(s.tracked(), MAX_TRACKED);
        // Once the old ones expire, new ids are counted again.
        let later = now + SESSION_WINDOW;
        s.touch(b"new", later);
        assert_eq!(s.active(later), 1);
    }

    #[test]
    fn a_session_that_keeps_sending_stays_active_past_the_window() {
        let s = Sessions::default();
        let t0 = Instant::now();
        // Every 100 ms for 90 s: most touches skip the shared map, yet the last-seen time
        // keeps moving, so the session never expires while it sends.
        for tenth in 0..900u64 {
            s.touch(b"steady", t0 + Duration::from_millis(tenth * 100));
        }
        let end = t0 + Duration::from_secs(90);
        assert_eq!(s.active(end), 1);
        // It lapses one window after its last request, give or take the refresh interval.
        assert_eq!(s.active(end + SESSION_WINDOW - REFRESH_EVERY * 2), 1);
        assert_eq!(s.active(end + SESSION_WINDOW), 0);
    }

    #[test]
    fn instances_on_one_thread_do_not_share_the_remembered_id() {
        let (a, b) = (Sessions::default(), Sessions::default());
        let now = Instant::now();
        a.touch(b"shared-id", now);
        b.touch(b"shared-id", now);
        a.touch(b"shared-id", now);
        assert_eq!(a.active(now), 1);
        assert_eq!(b.active(now), 1);
    }

    #[test]
    fn alternating_and_long_ids_are_all_counted() {
        let s = Sessions::default();
        let now = Instant::now();
        let long = [b'x'; MAX_REMEMBERED_ID + 10];
        for _ in 0..3 {
            s.touch(b"one", now);
            s.touch(b"two", now);
            s.touch(&long, now);
        }
        assert_eq!(s.active(now), 3);
    }

    #[test]
    fn reads_the_header_then_the_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(session_id(&h), None);
        h.insert(
            COOKIE,
            HeaderValue::from_static("theme=dark; session_id=c1"),
        );
        assert_eq!(session_id(&h), Some(&b"c1"[..]));
        h.insert(SESSION_HEADER, HeaderValue::from_static("h1"));
        assert_eq!(session_id(&h), Some(&b"h1"[..]));
    }
}
