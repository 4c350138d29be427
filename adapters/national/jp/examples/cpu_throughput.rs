//! Frames per second per **CPU-second** of the ingress path, for a machine shared with other
//! work: criterion (`benches/codec.rs`) measures wall time, which on a loaded 2-core machine
//! includes time the thread spent waiting for a core. This program also counts the thread's
//! on-CPU time from `/proc/thread-self/schedstat` (Linux) and reports both.
//!
//! ```text
//! cargo run --release -p trilink-jp --example cpu_throughput [LABEL-SUBSTRING]
//! ```
//!
//! Each kind runs the same work as criterion's `decode_validate_translate/<kind>`:
//! `decode_to_common` then `Envelope::validate` (with `check_message_id = false`), plus the
//! pieces alone for the breakdown.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::time::Instant;

use chrono::Duration;
use trilink_jp::{decode_datagram, decode_to_common};
use trilink_schema::testing::files::{vector_envelope, vector_hex};
use trilink_schema::{Envelope, MessageId, Nation, PayloadKind, ValidationContext};

/// On-CPU nanoseconds of the calling thread.
fn cpu_ns() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn measure(label: &str, mut f: impl FnMut()) {
    // Optional filter: `cpu_throughput <substring>` runs only matching labels.
    if let Some(filter) = std::env::args().nth(1)
        && !label.contains(&filter)
    {
        return;
    }
    // Warm up, then run batches until ~1 s of CPU time.
    for _ in 0..10_000 {
        f();
    }
    let (c0, w0) = (cpu_ns(), Instant::now());
    let mut n: u64 = 0;
    while cpu_ns() - c0 < 1_000_000_000 {
        for _ in 0..10_000 {
            f();
        }
        n += 10_000;
    }
    let cpu = (cpu_ns() - c0) as f64 / 1e9;
    let wall = w0.elapsed().as_secs_f64();
    println!(
        "{label:<44} {:>7.1} ns/frame CPU  {:>6.2} M frames/s/core   (wall {:>6.2} M/s)",
        cpu * 1e9 / n as f64,
        n as f64 / cpu / 1e6,
        n as f64 / wall / 1e6
    );
}

fn vector(name: &str) -> (Vec<u8>, Envelope) {
    (vector_hex("jp", name), vector_envelope("jp", name))
}

fn main() {
    for kind in PayloadKind::NATIONAL {
        let (bytes, env) = vector(kind.as_str());
        let ingested = env.ingested_at;
        let mut ctx = ValidationContext::at(ingested + Duration::seconds(1));
        ctx.check_message_id = false;
        measure(&format!("decode_validate_translate/{kind}"), || {
            let e = decode_to_common(black_box(&bytes), ingested).unwrap();
            e.validate(&ctx).unwrap();
            black_box(e);
        });
        measure(&format!("  decode_translate (no validate)/{kind}"), || {
            black_box(decode_to_common(black_box(&bytes), ingested).unwrap());
        });
        measure(&format!("  decode_only/{kind}"), || {
            black_box(decode_datagram(black_box(&bytes)).unwrap());
        });
        measure(&format!("  validate_only/{kind}"), || {
            black_box(&env).validate(&ctx).unwrap();
        });
    }
    measure("message_id_derive", || {
        black_box(MessageId::derive(
            black_box(Nation::Jp),
            black_box("jadgex"),
            black_box("20261121-000102"),
        ));
    });
}
