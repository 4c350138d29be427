//! Codec throughput: decode + validate + translate per message kind, and translate + encode.
//!
//! `cargo bench -p trilink-us -- --measurement-time 3 --warm-up-time 1`
//!
//! Validation runs with `check_message_id = false`: `to_common` has just derived the id with
//! `MessageId::derive`, so recomputing it (a second SHA-1) would measure the same work twice.
//! The relay always checks it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::path::PathBuf;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trilink_schema::{Envelope, NationalCodec, ValidationContext};
use trilink_us::UsCodec;

fn vectors() -> Vec<(String, Vec<u8>, Envelope)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/vectors/us");
    [
        "launch_detection",
        "track_update",
        "impact_prediction",
        "event_end",
        "cancel",
        "correction",
        "status",
    ]
    .iter()
    .map(|name| {
        let text = std::fs::read_to_string(dir.join(format!("{name}.hex"))).unwrap();
        let digits: String = text
            .lines()
            .map(|l| l.split('#').next().unwrap())
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let bytes = hex::decode(digits).unwrap();
        let env: Envelope = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        ((*name).to_owned(), bytes, env)
    })
    .collect()
}

fn bench(c: &mut Criterion) {
    let codec = UsCodec::default();
    let now: DateTime<Utc> = "2026-11-21T07:00:00Z".parse().unwrap();
    let mut ctx = ValidationContext::at(now);
    ctx.check_message_id = false;
    let vs = vectors();

    let mut g = c.benchmark_group("us_decode_validate_translate");
    g.throughput(Throughput::Elements(1));
    for (name, bytes, _) in &vs {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                let env = trilink_us::decode_to_common(black_box(bytes), now).unwrap();
                env.validate(&ctx).unwrap();
                black_box(env)
            });
        });
    }
    g.finish();

    // This crate's share: decode + translate, without the schema's validation.
    let mut g = c.benchmark_group("us_decode_translate");
    g.throughput(Throughput::Elements(1));
    for (name, bytes, _) in &vs {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(trilink_us::decode_to_common(black_box(bytes), now).unwrap()));
        });
    }
    g.finish();

    let mut g = c.benchmark_group("us_decode_only");
    g.throughput(Throughput::Elements(1));
    for (name, bytes, _) in &vs {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(trilink_us::decode_datagram(black_box(bytes)).unwrap()));
        });
    }
    g.finish();

    // Breakdown: the schema's Envelope::validate alone (not this crate's code).
    let mut g = c.benchmark_group("us_validate_only");
    g.throughput(Throughput::Elements(1));
    for (name, _, env) in &vs {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| black_box(env).validate(&ctx).unwrap());
        });
    }
    g.finish();

    let mut g = c.benchmark_group("us_translate_encode");
    g.throughput(Throughput::Elements(1));
    let mut out = BytesMut::with_capacity(1024);
    for (name, _, env) in &vs {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| {
                out.clear();
                let frame = codec.to_national(black_box(env)).unwrap();
                codec.encode(&frame, &mut out).unwrap();
                black_box(out.len())
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
