//! What the relay remembers between messages: which nation originated each message id it has
//! relayed, so that a `cancel`, a `correction` or any `references` list can be checked against
//! the origin of what it points at (a nation may retract or correct only its own messages).
//!
//! Pure and bounded: time is passed in, entries older than [`ReferenceBook::keep`] are
//! forgotten, and at most [`ReferenceBook::capacity`] ids are held (the oldest go first).
//! An id the book does not know (older than the window, or seen before a relay restart) cannot
//! be checked and is let through; `broker-config/SECURITY.md` lists that as a residual risk.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use trilink_schema::{MessageId, Nation};

/// Message id → origin for the recent past. See the module docs.
#[derive(Debug, Clone)]
pub struct ReferenceBook {
    origins: HashMap<MessageId, Nation>,
    order: VecDeque<(DateTime<Utc>, MessageId)>,
    capacity: usize,
    keep: Duration,
}

impl Default for ReferenceBook {
    /// One day (the output streams' `max_age`) and [`Self::DEFAULT_CAPACITY`] ids.
    fn default() -> Self {
        Self::new(Self::DEFAULT_CAPACITY, Self::KEEP)
    }
}

impl ReferenceBook {
    /// Default number of ids held (the relay's `reference_ids`): ~20 MB, just under the
    /// size at which the map's table doubles (`cargo run --release -p trilink-relay --example
    /// reference_book_memory 400000`: +19 MB; 458 000: +21 MB; 460 000: +30 MB; 1 000 000: +62 MB).
    pub const DEFAULT_CAPACITY: usize = 400_000;

    /// How long an id is remembered: one day, the output streams' `max_age`.
    pub const KEEP: Duration = Duration::hours(24);

    /// A book holding at most `capacity` ids for at most `keep`.
    pub fn new(capacity: usize, keep: Duration) -> Self {
        Self {
            origins: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            keep,
        }
    }

    /// How many ids the book holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How long an id is remembered.
    pub fn keep(&self) -> Duration {
        self.keep
    }

    /// Number of ids held now.
    pub fn len(&self) -> usize {
        self.origins.len()
    }

    /// Whether the book holds nothing.
    pub fn is_empty(&self) -> bool {
        self.origins.is_empty()
    }

    /// The origin of `id`, when the book knows it.
    pub fn origin_of(&self, id: &MessageId) -> Option<Nation> {
        self.origins.get(id).copied()
    }

    /// Remember that `id` came from `origin`, seen at `now`; forget what is too old or beyond
    /// the capacity. Re-recording a known id keeps its first origin (ids are deterministic from
    /// the origin, so a different origin for the same id is a collision nobody can cause
    /// without breaking SHA-1).
    pub fn record(&mut self, id: MessageId, origin: Nation, now: DateTime<Utc>) {
        self.expire(now);
        if self.origins.contains_key(&id) {
            return;
        }
        while self.origins.len() >= self.capacity {
            let Some((_, old)) = self.order.pop_front() else {
                break;
            };
            self.origins.remove(&old);
        }
        self.origins.insert(id, origin);
        self.order.push_back((now, id));
    }

    fn expire(&mut self, now: DateTime<Utc>) {
        while let Some((at, id)) = self.order.front().copied() {
            if now - at <= self.keep {
                break;
            }
            self.order.pop_front();
            self.origins.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn id(n: u8) -> MessageId {
        MessageId::derive(Nation::Us, "test", &n.to_string())
    }

    #[test]
    fn remembers_forgets_by_age_and_by_capacity() {
        let t0 = Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap();
        let mut b = ReferenceBook::new(2, Duration::minutes(10));
        b.record(id(1), Nation::Jp, t0);
        b.record(id(2), Nation::Kr, t0 + Duration::minutes(1));
        assert_eq!(b.origin_of(&id(1)), Some(Nation::Jp));
        assert_eq!(b.origin_of(&id(2)), Some(Nation::Kr));
        // Capacity 2: a third id pushes out the oldest.
        b.record(id(3), Nation::Us, t0 + Duration::minutes(2));
        assert_eq!(b.origin_of(&id(1)), None);
        assert_eq!(b.len(), 2);
        // Age: 11 minutes after id 2 it is gone.
        b.record(id(4), Nation::Jp, t0 + Duration::minutes(12));
        assert_eq!(b.origin_of(&id(2)), None);
        assert_eq!(b.origin_of(&id(3)), Some(Nation::Us));
        // A known id keeps its first origin.
        b.record(id(3), Nation::Jp, t0 + Duration::minutes(12));
        assert_eq!(b.origin_of(&id(3)), Some(Nation::Us));
    }
}
