//! The replica's in-memory state: showtimes with seat inventory, booked tickets and feedback
//! (async jobs are in `jobs.rs`). Everything is bounded: tickets roll over (the oldest is
//! released and its seats return to the inventory), feedback keeps only the newest entries,
//! so memory stays flat over hours of load.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};

use common::api::{FeedbackRequest, Showtime, Ticket};

/// Tickets held at once; booking one more releases the oldest.
pub const TICKET_CAP: usize = 512;
/// Feedback entries kept.
pub const FEEDBACK_CAP: usize = 1_024;
/// Most seats one booking may take.
pub const MAX_SEATS_PER_BOOKING: u16 = 10;

/// The programme. Every screening has more seats than [`TICKET_CAP`], so one-seat bookings
/// never sell out; bookings of several seats into one screening can.
const PROGRAMME: [(&str, &str, u32); 5] = [
    ("The Rust Identity", "18:00", 600),
    ("Borrow Checker Returns", "19:30", 750),
    ("Async Night", "20:15", 900),
    ("Zero-Cost Abstraction", "21:00", 600),
    ("The Last Lifetime", "22:30", 1_200),
];

/// Why a booking failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BookError {
    UnknownShowtime(u32),
    SoldOut { showtime_id: u32, available: u32 },
}

#[derive(Debug)]
struct Screening {
    showtime: Showtime,
}

#[derive(Debug)]
struct Held {
    screening: usize,
    seats: u16,
}

/// A stored feedback entry (kept to model a write; never read back by the API).
#[derive(Debug)]
#[allow(dead_code)]
struct Feedback {
    id: String,
    rating: u8,
    comment: Option<String>,
}

/// Unique ids: a random per-instance part (replicas never collide) and a sequence.
#[derive(Debug)]
pub(crate) struct Ids {
    /// `-{a random u32 as 8 hex digits}-`, written once.
    infix: String,
    next: AtomicU64,
}

impl Ids {
    pub(crate) fn new() -> Self {
        let salt: u32 = rand::random();
        Self {
            infix: format!("-{salt:08x}-"),
            next: AtomicU64::new(1),
        }
    }

    /// `{prefix}-{salt as 8 hex digits}-{n}`. Written by hand: every action request makes
    /// one, and `format!` costs several times as much.
    pub(crate) fn next(&self, prefix: &str) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = n;
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let digits = &digits[start..];
        let mut id = String::with_capacity(prefix.len() + self.infix.len() + digits.len());
        id.push_str(prefix);
        id.push_str(&self.infix);
        id.extend(digits.iter().map(|&d| char::from(d)));
        id
    }
}

#[derive(Debug)]
pub(crate) struct Store {
    screenings: Vec<Screening>,
    tickets: HashMap<String, Held>,
    ticket_order: VecDeque<String>,
    feedback: VecDeque<Feedback>,
}

impl Store {
    pub(crate) fn new() -> Self {
        let screenings = PROGRAMME
            .iter()
            .zip(1u32..)
            .map(|(&(title, starts_at, seats), id)| Screening {
                showtime: Showtime {
                    id,
                    title: title.to_owned(),
                    starts_at: starts_at.to_owned(),
                    seats_total: seats,
                    seats_available: seats,
                },
            })
            .collect();
        Self {
            screenings,
            tickets: HashMap::new(),
            ticket_order: VecDeque::new(),
            feedback: VecDeque::new(),
        }
    }

    pub(crate) fn showtimes(&self) -> Vec<Showtime> {
        self.screenings.iter().map(|s| s.showtime.clone()).collect()
    }

    /// Reserves `seats` (already validated 1..=MAX) for `showtime_id` under ticket `id`.
    pub(crate) fn book(
        &mut self,
        id: String,
        showtime_id: u32,
        seats: u16,
    ) -> Result<Ticket, BookError> {
        let index = self
            .screenings
            .iter()
            .position(|s| s.showtime.id == showtime_id)
            .ok_or(BookError::UnknownShowtime(showtime_id))?;
        if self.ticket_order.len() >= TICKET_CAP {
            self.release_oldest_ticket();
        }
        let showtime = &mut self.screenings[index].showtime;
        if showtime.seats_available < u32::from(seats) {
            return Err(BookError::SoldOut {
                showtime_id,
                available: showtime.seats_available,
            });
        }
        showtime.seats_available -= u32::from(seats);
        self.tickets.insert(
            id.clone(),
            Held {
                screening: index,
                seats,
            },
        );
        self.ticket_order.push_back(id.clone());
        Ok(Ticket {
            id,
            showtime_id,
            seats,
        })
    }

    fn release_oldest_ticket(&mut self) {
        // The order queue may hold ids already cancelled; skip those.
        while let Some(old) = self.ticket_order.pop_front() {
            if self.release(&old) {
                return;
            }
        }
    }

    fn release(&mut self, id: &str) -> bool {
        match self.tickets.remove(id) {
            Some(held) => {
                if let Some(s) = self.screenings.get_mut(held.screening) {
                    s.showtime.seats_available = (s.showtime.seats_available
                        + u32::from(held.seats))
                    .min(s.showtime.seats_total);
                }
                true
            }
            None => false,
        }
    }

    /// Cancels ticket `id`; true if it existed.
    pub(crate) fn cancel(&mut self, id: &str) -> bool {
        let existed = self.release(id);
        if existed && let Some(pos) = self.ticket_order.iter().position(|t| t == id) {
            self.ticket_order.remove(pos);
        }
        existed
    }

    pub(crate) fn add_feedback(&mut self, id: String, request: FeedbackRequest) {
        if self.feedback.len() >= FEEDBACK_CAP {
            self.feedback.pop_front();
        }
        self.feedback.push_back(Feedback {
            id,
            rating: request.rating,
            comment: request.comment,
        });
    }

    /// Tickets held and feedback entries kept.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.tickets.len(), self.feedback.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_the_prefix_the_salt_in_hex_and_a_counter() {
        let ids = Ids::new();
        let first = ids.next("fb");
        let salt = first
            .strip_prefix("fb-")
            .and_then(|rest| rest.strip_suffix("-1"))
            .unwrap_or_else(|| panic!("{first}"));
        assert!(
            salt.len() == 8 && salt.bytes().all(|b| b.is_ascii_hexdigit()),
            "{first}"
        );
        assert_eq!(ids.next("tkt"), format!("tkt-{salt}-2"));
        ids.next.store(9, Ordering::Relaxed);
        assert_eq!(ids.next("t"), format!("t-{salt}-9"));
        ids.next.store(u64::MAX, Ordering::Relaxed);
        assert_eq!(ids.next("job"), format!("job-{salt}-{}", u64::MAX));
        assert_ne!(Ids::new().next("fb"), Ids::new().next("fb"), "salts differ");
    }

    fn total_available(store: &Store) -> u32 {
        store.showtimes().iter().map(|s| s.seats_available).sum()
    }

    #[test]
    fn a_hundred_thousand_bookings_keep_memory_flat() {
        let mut store = Store::new();
        let ids = Ids::new();
        let seats_total: u32 = store.showtimes().iter().map(|s| s.seats_total).sum();
        for i in 0..100_000u32 {
            let showtime = 1 + i % 5;
            store.book(ids.next("t"), showtime, 1).unwrap();
            store.add_feedback(
                ids.next("f"),
                FeedbackRequest {
                    rating: 5,
                    comment: Some("x".repeat(500)),
                },
            );
        }
        let (tickets, feedback) = store.sizes();
        assert_eq!(tickets, TICKET_CAP);
        assert_eq!(store.ticket_order.len(), TICKET_CAP);
        assert_eq!(feedback, FEEDBACK_CAP);
        // Rolled-over tickets gave their seats back: exactly the held ones are taken.
        assert_eq!(total_available(&store), seats_total - TICKET_CAP as u32);
    }

    #[test]
    fn booking_sells_out_and_cancelling_frees_seats() {
        let mut store = Store::new();
        let ids = Ids::new();
        let total = store.showtimes()[0].seats_total;
        let mut booked = Vec::new();
        for _ in 0..total / 10 {
            booked.push(store.book(ids.next("t"), 1, 10).unwrap());
        }
        assert_eq!(
            store.book(ids.next("t"), 1, 1),
            Err(BookError::SoldOut {
                showtime_id: 1,
                available: 0
            })
        );
        assert!(store.cancel(&booked[0].id));
        assert!(
            !store.cancel(&booked[0].id),
            "cancelling twice finds nothing"
        );
        assert_eq!(store.showtimes()[0].seats_available, 10);
        assert!(store.book(ids.next("t"), 1, 10).is_ok());
        assert_eq!(
            store.book(ids.next("t"), 99, 1),
            Err(BookError::UnknownShowtime(99))
        );
    }

    #[test]
    fn cancelled_tickets_do_not_confuse_the_rollover() {
        let mut store = Store::new();
        let ids = Ids::new();
        let first = store.book(ids.next("t"), 5, 1).unwrap();
        store.cancel(&first.id);
        for _ in 0..(TICKET_CAP * 3) {
            store.book(ids.next("t"), 5, 1).unwrap();
        }
        assert_eq!(store.sizes().0, TICKET_CAP);
        assert_eq!(store.ticket_order.len(), TICKET_CAP);
    }
}
