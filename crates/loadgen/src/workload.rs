//! What one schedule slot sends: the weighted action mix of the demo (booking, cancelling a
//! ticket this generator booked, feedback) with realistic session ids, each with
//! `?mode=async` in async mode, the pipeline workload's random orders, or the one `--url`
//! request. Random choices come from a
//! per-slot roll drawn by the seeded scheduler.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use common::api::{
    self, Action, BookTicketRequest, FeedbackRequest, ORDER_REGIONS, OrderRequest, Ticket, routes,
};
use http::header::{CONTENT_TYPE, HOST, USER_AGENT};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::Full;
use rand::RngCore;
use rand::rngs::SmallRng;

use crate::client::Target;
use crate::{CustomRequest, Mode, Workload as Spec};

/// Ticket ids remembered for cancel_ticket; the oldest are forgotten beyond this.
const TICKETS_KEPT: usize = 10_000;
/// Distinct session ids in use, as a few hundred users would be.
const SESSIONS: usize = 200;
/// Showtimes booked when the target does not list its own.
pub(crate) const DEFAULT_SHOWTIMES: [u32; 3] = [1, 2, 3];
/// The `action` label of `--url` requests.
pub(crate) const CUSTOM_LABEL: &str = "custom";

/// Most items in one generated order (the API allows many more).
const MAX_ITEMS: u64 = 5;
/// Largest amount of one generated order, in cents.
const MAX_AMOUNT_CENTS: u64 = 50_000;

const COMMENTS: [&str; 4] = [
    "Great seats, the sound was superb.",
    "Popcorn was stale but the film made up for it.",
    "Booking took a while tonight.",
    "Would come again.",
];

/// One request ready to send, and whether its body is needed afterwards.
pub(crate) struct Prepared {
    pub(crate) request: Request<Full<Bytes>>,
    pub(crate) keep_body: bool,
}

pub(crate) struct Workload {
    labels: Vec<&'static str>,
    /// Cumulative weights, one per label.
    cumulative: Vec<u64>,
    kind: Kind,
    target: Target,
    user_agent: HeaderValue,
}

enum Kind {
    Actions {
        actions: Vec<Action>,
        showtimes: Vec<u32>,
        sessions: Vec<HeaderValue>,
        tickets: Mutex<VecDeque<String>>,
        // Parsed once: building a request must stay cheap at tens of thousands per second.
        tickets_uri: http::Uri,
        feedback_uri: http::Uri,
        orders_uri: http::Uri,
        /// `?mode=async` in async mode (the body of every answer is then kept: a 202 names
        /// its job), else empty.
        query: &'static str,
    },
    Custom {
        request: CustomRequest,
        uri: http::Uri,
    },
}

impl Workload {
    pub(crate) fn new(
        spec: &Spec,
        mode: Mode,
        target: Target,
        showtimes: Vec<u32>,
        rng: &mut SmallRng,
    ) -> Self {
        let user_agent = HeaderValue::from_static(concat!("loadgen/", env!("CARGO_PKG_VERSION")));
        let uri = |path: &str| {
            target
                .uri(path)
                .unwrap_or_else(|_| http::Uri::from_static("/"))
        };
        match spec {
            Spec::Custom(c) => Self {
                labels: vec![CUSTOM_LABEL],
                cumulative: vec![1],
                kind: Kind::Custom {
                    request: c.clone(),
                    uri: uri(&c.path),
                },
                target,
                user_agent,
            },
            Spec::Actions(mix) => {
                let mix: Vec<_> = mix.iter().filter(|(_, w)| *w > 0).copied().collect();
                let mut total = 0u64;
                let cumulative = mix
                    .iter()
                    .map(|&(_, w)| {
                        total += u64::from(w);
                        total
                    })
                    .collect();
                let sessions = (0..SESSIONS).map(|_| session_id(rng)).collect();
                let showtimes = if showtimes.is_empty() {
                    DEFAULT_SHOWTIMES.to_vec()
                } else {
                    showtimes
                };
                let query = match mode {
                    Mode::Sync => "",
                    Mode::Async => "?mode=async",
                };
                Self {
                    labels: mix.iter().map(|(a, _)| a.as_str()).collect(),
                    cumulative,
                    kind: Kind::Actions {
                        actions: mix.iter().map(|&(a, _)| a).collect(),
                        showtimes,
                        sessions,
                        tickets: Mutex::new(VecDeque::new()),
                        tickets_uri: uri(&format!("{}{query}", routes::TICKETS)),
                        feedback_uri: uri(&format!("{}{query}", routes::FEEDBACK)),
                        // Orders are always answered 202 at once: no async variant.
                        orders_uri: uri(routes::ORDERS),
                        query,
                    },
                    target,
                    user_agent,
                }
            }
        }
    }

    /// The `action` label values, indexed by what [`Workload::pick`] returns.
    pub(crate) fn labels(&self) -> &[&'static str] {
        &self.labels
    }

    /// Chooses the label of a slot by weight, from a uniformly random `roll`.
    pub(crate) fn pick(&self, roll: u64) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1).max(1);
        // The modulo bias is below 2^-40 for any realistic total of weights.
        let x = roll % total;
        self.cumulative.partition_point(|&c| c <= x)
    }

    /// Builds the request of a slot; `roll` supplies its random choices.
    pub(crate) fn prepare(&self, label: usize, roll: u64) -> Prepared {
        let (method, uri, body, session, keep_body) = match &self.kind {
            Kind::Custom { request, uri } => (
                request.method.clone(),
                uri.clone(),
                request.body.clone(),
                None,
                false,
            ),
            Kind::Actions {
                actions,
                showtimes,
                sessions,
                tickets,
                tickets_uri,
                feedback_uri,
                orders_uri,
                query,
            } => {
                let keep_all = !query.is_empty();
                let session = sessions.get(roll as usize % sessions.len().max(1)).cloned();
                let pick = (roll >> 16) as usize;
                match actions.get(label).copied().unwrap_or_default() {
                    Action::BookTicket => {
                        let req = BookTicketRequest {
                            showtime_id: showtimes[pick % showtimes.len()],
                            seats: 1 + ((roll >> 40) % 4) as u16,
                        };
                        let body = serde_json::to_vec(&req).unwrap_or_default();
                        (
                            Method::POST,
                            tickets_uri.clone(),
                            body.into(),
                            session,
                            true,
                        )
                    }
                    Action::CancelTicket => {
                        let known = tickets
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .pop_front();
                        // Nothing booked yet: an id the target has never seen (404 or 204).
                        let id = known.unwrap_or_else(|| format!("lg-{roll:016x}"));
                        let path = routes::TICKET.replace("{id}", &id);
                        let uri = if query.is_empty() {
                            self.uri(&path)
                        } else {
                            self.uri(&format!("{path}{query}"))
                        };
                        (Method::DELETE, uri, Bytes::new(), session, keep_all)
                    }
                    Action::GiveFeedback => {
                        let req = FeedbackRequest {
                            rating: *api::RATING_RANGE.start() + (roll % 5) as u8,
                            comment: (!pick.is_multiple_of(3))
                                .then(|| COMMENTS[pick % COMMENTS.len()].into()),
                        };
                        let body = serde_json::to_vec(&req).unwrap_or_default();
                        (
                            Method::POST,
                            feedback_uri.clone(),
                            body.into(),
                            session,
                            keep_all,
                        )
                    }
                    Action::PlaceOrder => {
                        let req = OrderRequest {
                            region: ORDER_REGIONS[pick % ORDER_REGIONS.len()].to_owned(),
                            items: 1 + ((roll >> 40) % MAX_ITEMS) as u32,
                            amount: ((roll >> 8) % MAX_AMOUNT_CENTS) as f64 / 100.0,
                        };
                        let body = serde_json::to_vec(&req).unwrap_or_default();
                        (
                            Method::POST,
                            orders_uri.clone(),
                            body.into(),
                            session,
                            false,
                        )
                    }
                }
            }
        };
        let json = !body.is_empty() && matches!(self.kind, Kind::Actions { .. });
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        let headers = request.headers_mut();
        headers.insert(HOST, self.target.host_header.clone());
        headers.insert(USER_AGENT, self.user_agent.clone());
        if let Some(s) = session {
            headers.insert(api::SESSION_HEADER, s);
        }
        if json {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Kind::Custom { request: c, .. } = &self.kind {
            for (name, value) in &c.headers {
                headers.append(name, value.clone());
            }
        }
        Prepared { request, keep_body }
    }

    /// The origin-form URI of `path` under the target; `/` stands in for one that does not
    /// parse (paths are validated by the flags or built here).
    fn uri(&self, path: &str) -> http::Uri {
        self.target
            .uri(path)
            .unwrap_or_else(|_| http::Uri::from_static("/"))
    }

    /// Learns from a response: booked ticket ids feed later cancellations.
    pub(crate) fn observe(&self, label: usize, status: StatusCode, body: &[u8]) {
        let Kind::Actions {
            actions, tickets, ..
        } = &self.kind
        else {
            return;
        };
        if actions.get(label) != Some(&Action::BookTicket) || !status.is_success() {
            return;
        }
        let Ok(ticket) = serde_json::from_slice::<Ticket>(body) else {
            return;
        };
        // Only ids that are safe in a URL path are kept.
        let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if ticket.id.is_empty() || ticket.id.len() > 128 || !ticket.id.chars().all(safe) {
            return;
        }
        let mut t = tickets.lock().unwrap_or_else(PoisonError::into_inner);
        if t.len() >= TICKETS_KEPT {
            t.pop_front();
        }
        t.push_back(ticket.id);
    }
}

/// A version-4 UUID, as a browser session would carry.
fn session_id(rng: &mut SmallRng) -> HeaderValue {
    let a = rng.next_u64();
    let b = rng.next_u64();
    let s = format!(
        "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        8 + (b >> 62),
        (b >> 48) & 0xfff,
        b & 0xffff_ffff_ffff
    );
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("session"))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn actions(mix: &[(Action, u32)]) -> Workload {
        let target = Target::parse("http://127.0.0.1:1").unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        Workload::new(
            &Spec::Actions(mix.to_vec()),
            Mode::Sync,
            target,
            vec![],
            &mut rng,
        )
    }

    #[test]
    fn the_mix_follows_the_weights() {
        let w = actions(&[
            (Action::BookTicket, 5),
            (Action::CancelTicket, 0),
            (Action::GiveFeedback, 1),
        ]);
        assert_eq!(w.labels(), ["book_ticket", "give_feedback"]);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut counts = [0u32; 2];
        for _ in 0..60_000 {
            counts[w.pick(rng.next_u64())] += 1;
        }
        let share = f64::from(counts[0]) / 60_000.0;
        assert!((share - 5.0 / 6.0).abs() < 0.01, "book share {share}");
    }

    #[test]
    fn cancel_uses_a_booked_ticket_then_a_made_up_one() {
        let w = actions(&[(Action::BookTicket, 1), (Action::CancelTicket, 1)]);
        let book = w.prepare(0, 42);
        assert_eq!(book.request.method(), Method::POST);
        assert_eq!(book.request.uri(), routes::TICKETS);
        assert!(book.keep_body);
        assert!(book.request.headers().contains_key(api::SESSION_HEADER));
        let body = br#"{"id":"t-123","showtime_id":1,"seats":2}"#;
        w.observe(0, StatusCode::CREATED, body);
        let cancel = w.prepare(1, 9);
        assert_eq!(cancel.request.method(), Method::DELETE);
        assert_eq!(cancel.request.uri(), "/api/tickets/t-123");
        let again = w.prepare(1, 9);
        assert_eq!(again.request.uri(), "/api/tickets/lg-0000000000000009");
        // A hostile id is never put in a path.
        w.observe(
            0,
            StatusCode::CREATED,
            br#"{"id":"../x","showtime_id":1,"seats":1}"#,
        );
        assert_eq!(
            w.prepare(1, 1).request.uri(),
            "/api/tickets/lg-0000000000000001"
        );
    }

    #[test]
    fn async_mode_asks_for_a_job_and_keeps_every_answer() {
        let target = Target::parse("http://127.0.0.1:1").unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let mix = Spec::Actions(Action::ALL.iter().map(|&a| (a, 1)).collect());
        let w = Workload::new(&mix, Mode::Async, target, vec![], &mut rng);
        let uris: Vec<String> = (0..3)
            .map(|label| {
                let p = w.prepare(label, 5);
                assert!(p.keep_body, "a 202 body names the job");
                p.request.uri().to_string()
            })
            .collect();
        assert_eq!(
            uris,
            [
                "/api/tickets?mode=async",
                "/api/tickets/lg-0000000000000005?mode=async",
                "/api/feedback?mode=async"
            ]
        );
    }

    #[test]
    fn orders_are_valid_and_spread_over_the_regions() {
        let w = actions(&[(Action::PlaceOrder, 1)]);
        assert_eq!(w.labels(), ["place_order"]);
        let mut rng = SmallRng::seed_from_u64(11);
        let mut regions = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let p = w.prepare(0, rng.next_u64());
            assert_eq!(p.request.method(), Method::POST);
            assert_eq!(p.request.uri(), routes::ORDERS);
            assert!(!p.keep_body);
            assert_eq!(p.request.headers()[CONTENT_TYPE], "application/json");
            let body = p.request.into_body();
            let bytes = futures_body(body);
            let order: OrderRequest = serde_json::from_slice(&bytes).unwrap();
            assert!((1..=MAX_ITEMS as u32).contains(&order.items), "{order:?}");
            assert!(
                (0.0..=api::MAX_ORDER_AMOUNT).contains(&order.amount),
                "{order:?}"
            );
            regions.insert(order.region);
        }
        assert_eq!(regions.len(), ORDER_REGIONS.len(), "{regions:?}");
    }

    /// The bytes of a prepared body (a `Full` holds them in one frame).
    fn futures_body(body: Full<Bytes>) -> Bytes {
        use http_body_util::BodyExt;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(body.collect()).unwrap().to_bytes()
    }

    #[test]
    fn session_ids_look_like_uuids() {
        let mut rng = SmallRng::seed_from_u64(3);
        let s = session_id(&mut rng);
        let s = s.to_str().unwrap();
        assert_eq!(s.len(), 36, "{s}");
        assert_eq!(s.as_bytes()[14], b'4');
    }
}
