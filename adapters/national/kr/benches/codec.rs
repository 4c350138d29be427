//! Criterion benchmarks of the KR codec, one per sentence type:
//! `decode_validate_translate` = `decode_message` → `to_common` → `Envelope::validate`
//! (with `check_message_id = false`: `to_common` has just derived the id with
//! `MessageId::derive`, so re-deriving it would measure the same SHA-1 twice), and
//! `encode` = `to_national` + `encode` into a reused buffer.
//!
//! Run: `cargo bench -p trilink-kr -- --measurement-time 3 --warm-up-time 1`

#![allow(clippy::unwrap_used, clippy::expect_used)] // benchmark setup

use std::hint::black_box;

use bytes::BytesMut;
use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trilink_kr::KrCodec;
use trilink_schema::ValidationContext;
use trilink_schema::testing::files::vector_hex;

const VECTORS: [(&str, &str); 7] = [
    ("launch_detection", "lch_exercise"),
    ("track_update", "trk_exercise"),
    ("impact_prediction", "imp_exercise"),
    ("event_end", "end_impact"),
    ("cancel", "can_exercise"),
    ("correction", "cor_exercise"),
    ("status", "sta_degraded"),
];

fn benches(c: &mut Criterion) {
    let codec = KrCodec;
    let ingested: DateTime<Utc> = "2026-11-21T00:55:00Z".parse().unwrap();
    let mut ctx = ValidationContext::at(ingested + Duration::seconds(1));
    ctx.check_message_id = false;

    let mut g = c.benchmark_group("kr_decode_validate_translate");
    g.throughput(Throughput::Elements(1));
    for (kind, name) in VECTORS {
        let bytes = vector_hex("kr", name);
        // Sanity: the pipeline succeeds on this input.
        codec
            .decode_to_common(&bytes, ingested)
            .unwrap()
            .validate(&ctx)
            .unwrap();
        g.bench_function(kind, |b| {
            b.iter(|| {
                let env = codec.decode_to_common(black_box(&bytes), ingested).unwrap();
                env.validate(&ctx).unwrap();
                black_box(env)
            });
        });
    }
    g.finish();

    let mut g = c.benchmark_group("kr_encode");
    g.throughput(Throughput::Elements(1));
    for (kind, name) in VECTORS {
        let env = codec
            .decode_to_common(&vector_hex("kr", name), ingested)
            .unwrap();
        let mut out = BytesMut::with_capacity(4096);
        g.bench_function(kind, |b| {
            b.iter(|| {
                out.clear();
                codec.encode_envelope(black_box(&env), &mut out).unwrap();
                black_box(out.len())
            });
        });
    }
    g.finish();

    // The same without `validate`, to show the split between codec and schema validation.
    let mut g = c.benchmark_group("kr_decode_translate");
    g.throughput(Throughput::Elements(1));
    for (kind, name) in VECTORS {
        let bytes = vector_hex("kr", name);
        g.bench_function(kind, |b| {
            b.iter(|| black_box(codec.decode_to_common(black_box(&bytes), ingested).unwrap()));
        });
    }
    g.finish();

    let mut g = c.benchmark_group("kr_decode_only");
    g.throughput(Throughput::Elements(1));
    let bytes = vector_hex("kr", "trk_exercise");
    g.bench_function("track_update", |b| {
        b.iter(|| black_box(codec.decode_message(black_box(&bytes)).unwrap()));
    });
    g.finish();
}

criterion_group!(kr, benches);
criterion_main!(kr);
