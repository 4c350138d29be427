//! One-at-a-time per-key order for concurrent work: the common picture's lane stores the
//! views of one event one after another with it (`crate::live`'s national path pipelines
//! instead, [`crate::pipeline`]).
//!
//! Two items with the same key must be stored in the order they arrived. [`OrderGate`]
//! admits an item at once unless an earlier item with the same [`TrackKey`] is still running;
//! then it waits and starts when that one finishes, in arrival order. Items without a key
//! never wait. Pure data structure: no clock, no I/O.
//!
//! [`OrderGate::admit_coalescing`] is for items where only the newest of a kind matters (the
//! relay's `common_event` views: the output stream keeps the latest view per destination and
//! event anyway): a newer item replaces a waiting one of the same kind in its place, so at
//! most one item per kind waits behind a running one, however fast the picture changes.

use std::collections::{HashMap, VecDeque};

use trilink_schema::TrackKey;

/// Admission control keeping per-key FIFO order with at most one running item per key.
#[derive(Debug)]
pub struct OrderGate<T> {
    /// Keys with a running item, and the items waiting behind it (arrival order).
    keys: HashMap<TrackKey, VecDeque<T>>,
    waiting: usize,
}

/// What [`OrderGate::admit_coalescing`] did with an item.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<T> {
    /// It may start now.
    Runs(T),
    /// It waits behind the running item with its key.
    Waits,
    /// It replaced an older waiting item of the same kind (which will not run).
    Replaced,
}

impl<T> Default for OrderGate<T> {
    fn default() -> Self {
        Self {
            keys: HashMap::new(),
            waiting: 0,
        }
    }
}

impl<T> OrderGate<T> {
    /// Offer `item` with its key: `Some(item)` when it may start now, `None` when it waits
    /// behind an earlier running item with the same key.
    pub fn admit(&mut self, key: Option<&TrackKey>, item: T) -> Option<T> {
        let Some(key) = key else {
            return Some(item);
        };
        if let Some(queue) = self.keys.get_mut(key) {
            queue.push_back(item);
            self.waiting += 1;
            None
        } else {
            self.keys.insert(key.clone(), VecDeque::new());
            Some(item)
        }
    }

    /// Like [`OrderGate::admit`], but when an item waiting behind the running one with the
    /// same key is `same` as this one, this one takes its place (the older one never runs).
    pub fn admit_coalescing(
        &mut self,
        key: &TrackKey,
        item: T,
        same: impl Fn(&T, &T) -> bool,
    ) -> Admission<T> {
        if let Some(queue) = self.keys.get_mut(key) {
            if let Some(slot) = queue.iter_mut().find(|w| same(w, &item)) {
                *slot = item;
                return Admission::Replaced;
            }
            queue.push_back(item);
            self.waiting += 1;
            Admission::Waits
        } else {
            self.keys.insert(key.clone(), VecDeque::new());
            Admission::Runs(item)
        }
    }

    /// The running item with `key` finished: the next item waiting for that key, which now
    /// runs (the key stays held), or `None` (the key is released).
    pub fn finish(&mut self, key: Option<&TrackKey>) -> Option<T> {
        let key = key?;
        let queue = self.keys.get_mut(key)?;
        if let Some(next) = queue.pop_front() {
            self.waiting -= 1;
            Some(next)
        } else {
            self.keys.remove(key);
            None
        }
    }

    /// Items waiting (not running).
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// The waiting items (e.g. to tell the server they are still in progress).
    pub fn waiting_items(&self) -> impl Iterator<Item = &T> {
        self.keys.values().flatten()
    }

    /// Keys with a running item.
    pub fn running_keys(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use trilink_schema::{Nation, TrackId};

    fn key(origin: Nation, id: &str) -> TrackKey {
        TrackKey {
            origin,
            id: TrackId::new(id).unwrap(),
        }
    }

    #[test]
    fn same_key_waits_other_keys_and_keyless_do_not() {
        let mut g = OrderGate::default();
        let a = key(Nation::Jp, "T1");
        let b = key(Nation::Jp, "T2");
        let a_us = key(Nation::Us, "T1");
        assert_eq!(g.admit(Some(&a), 1), Some(1));
        assert_eq!(g.admit(Some(&a), 2), None);
        assert_eq!(g.admit(Some(&b), 3), Some(3));
        assert_eq!(g.admit(Some(&a_us), 4), Some(4), "same id, other origin");
        assert_eq!(g.admit(None, 5), Some(5));
        assert_eq!(g.admit(Some(&a), 6), None);
        assert_eq!(g.waiting(), 2);
        assert_eq!(g.finish(Some(&a)), Some(2));
        assert_eq!(g.finish(Some(&a)), Some(6));
        assert_eq!(g.finish(Some(&a)), None);
        assert_eq!(g.waiting(), 0);
        assert_eq!(g.running_keys(), 2);
        assert_eq!(g.admit(Some(&a), 7), Some(7), "key released");
    }

    #[test]
    fn a_newer_item_of_the_same_kind_replaces_the_waiting_one_in_its_place() {
        let mut g = OrderGate::default();
        let e = key(Nation::Us, "EVENT");
        // (destination, revision): same kind = same destination.
        let same = |a: &(char, u32), b: &(char, u32)| a.0 == b.0;
        assert_eq!(
            g.admit_coalescing(&e, ('k', 1), same),
            Admission::Runs(('k', 1))
        );
        assert_eq!(g.admit_coalescing(&e, ('k', 2), same), Admission::Waits);
        assert_eq!(g.admit_coalescing(&e, ('j', 2), same), Admission::Waits);
        assert_eq!(g.admit_coalescing(&e, ('k', 3), same), Admission::Replaced);
        assert_eq!(g.admit_coalescing(&e, ('k', 4), same), Admission::Replaced);
        assert_eq!(g.waiting(), 2);
        assert_eq!(
            g.finish(Some(&e)),
            Some(('k', 4)),
            "the newest, in the older one's place"
        );
        assert_eq!(g.finish(Some(&e)), Some(('j', 2)));
        assert_eq!(g.finish(Some(&e)), None);
        assert_eq!(g.waiting(), 0);
    }

    proptest! {
        /// Whatever the interleaving of arrivals and completions, items of one key run one at
        /// a time and in arrival order, and every item runs exactly once.
        #[test]
        fn per_key_fifo_one_at_a_time(ops in proptest::collection::vec((0u8..4, any::<bool>()), 1..200)) {
            let keys: Vec<TrackKey> = (0..3).map(|i| key(Nation::Kr, &format!("T{i}"))).collect();
            let mut g = OrderGate::default();
            let mut running: Vec<(Option<usize>, usize)> = Vec::new(); // (key index, item)
            let mut started: Vec<(Option<usize>, usize)> = Vec::new();
            let mut next = 0usize;
            let mut arrived = Vec::new();
            for (k, complete) in ops {
                if complete && !running.is_empty() {
                    let (ki, _) = running.remove(0);
                    if let Some(n) = g.finish(ki.map(|i| &keys[i])) {
                        running.push((ki, n));
                        started.push((ki, n));
                    }
                } else {
                    let ki = (k < 3).then_some(k as usize);
                    arrived.push((ki, next));
                    if let Some(n) = g.admit(ki.map(|i| &keys[i]), next) {
                        running.push((ki, n));
                        started.push((ki, n));
                    }
                    next += 1;
                }
                for i in 0..3 {
                    prop_assert!(running.iter().filter(|(k, _)| *k == Some(i)).count() <= 1);
                }
            }
            while !running.is_empty() {
                let (ki, _) = running.remove(0);
                if let Some(n) = g.finish(ki.map(|i| &keys[i])) {
                    running.push((ki, n));
                    started.push((ki, n));
                }
            }
            prop_assert_eq!(g.waiting(), 0);
            prop_assert_eq!(started.len(), arrived.len());
            for i in 0..3 {
                let s: Vec<_> = started.iter().filter(|(k, _)| *k == Some(i)).map(|x| x.1).collect();
                let a: Vec<_> = arrived.iter().filter(|(k, _)| *k == Some(i)).map(|x| x.1).collect();
                prop_assert_eq!(s, a);
            }
        }
    }
}
