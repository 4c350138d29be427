//! What the relay's [`ReferenceBook`] costs in memory when full: record `<n>` distinct message
//! ids (one a millisecond) into a book of the default capacity and print the process's resident
//! memory before and after (Linux `/proc/self/status`). The figures chose the relay's default
//! `reference_ids` (`ReferenceBook::DEFAULT_CAPACITY`).
//!
//! `cargo run --release -p trilink-relay --example reference_book_memory 400000`

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use trilink_relay::ReferenceBook;
use trilink_schema::{MessageId, Nation};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(ReferenceBook::DEFAULT_CAPACITY, |s| {
            s.parse().expect("<n>: a number of ids")
        });
    let before = rss_kb();
    let mut book = ReferenceBook::new(n.max(1), ReferenceBook::KEEP);
    let t0 = Utc::now();
    for i in 0..n {
        let at = t0 + Duration::milliseconds(i64::try_from(i).unwrap_or(i64::MAX));
        book.record(
            MessageId::derive(Nation::Jp, "memory", &i.to_string()),
            Nation::Jp,
            at,
        );
    }
    let after = rss_kb();
    println!(
        "{n} ids held: {} (capacity {}); RSS {before} kB -> {after} kB (+{} MB)",
        book.len(),
        book.capacity(),
        after.saturating_sub(before) / 1024
    );
}
