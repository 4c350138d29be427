//! JP codec benchmarks (criterion), one element = one frame.
//!
//! ```text
//! cargo bench -p trilink-jp -- --measurement-time 3 --warm-up-time 1
//! ```
//!
//! - `decode_validate_translate/<kind>`: datagram bytes → `decode_to_common` (decode, CRC,
//!   translation, `MessageId::derive` = one SHA-1) → `Envelope::validate` with
//!   `check_message_id = false` (the id was just derived; re-deriving it would be a second
//!   SHA-1 that proves nothing on ingress).
//! - `decode_only/<kind>`: bytes → `JpFrame` (no translation), for the breakdown.
//! - `validate_only/<kind>`: `Envelope::validate` alone (schema crate), for the breakdown.
//! - `message_id_derive`: one `MessageId::derive`, the SHA-1 every ingress pays.
//! - `encode/<kind>`: `Envelope` → `to_national` → `encode` into a reused buffer.
//!
//! Frames are the committed spec examples in `schemas/vectors/jp/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;

use bytes::BytesMut;
use chrono::Duration;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trilink_jp::{JpCodec, decode_datagram, decode_to_common};
use trilink_schema::testing::files::{vector_envelope, vector_hex};
use trilink_schema::{Envelope, MessageId, Nation, NationalCodec, PayloadKind, ValidationContext};

/// A committed vector: its bytes and its envelope.
fn vector(name: &str) -> (Vec<u8>, Envelope) {
    (vector_hex("jp", name), vector_envelope("jp", name))
}

fn benches(c: &mut Criterion) {
    let codec = JpCodec;
    {
        let mut g = c.benchmark_group("decode_validate_translate");
        g.throughput(Throughput::Elements(1));
        for kind in PayloadKind::NATIONAL {
            let (bytes, expected) = vector(kind.as_str());
            let ingested = expected.ingested_at;
            let mut ctx = ValidationContext::at(ingested + Duration::seconds(1));
            ctx.check_message_id = false;
            let env = decode_to_common(&bytes, ingested).unwrap();
            assert_eq!(env, expected);
            env.validate(&ctx).unwrap();
            g.bench_function(kind.as_str(), |b| {
                b.iter(|| {
                    let env = decode_to_common(black_box(&bytes), ingested).unwrap();
                    env.validate(&ctx).unwrap();
                    env
                });
            });
        }
        g.finish();
    }
    {
        let mut g = c.benchmark_group("decode_only");
        g.throughput(Throughput::Elements(1));
        for kind in PayloadKind::NATIONAL {
            let (bytes, _) = vector(kind.as_str());
            g.bench_function(kind.as_str(), |b| {
                b.iter(|| decode_datagram(black_box(&bytes)).unwrap());
            });
        }
        g.finish();
    }
    {
        let mut g = c.benchmark_group("validate_only");
        g.throughput(Throughput::Elements(1));
        for kind in PayloadKind::NATIONAL {
            let (_, env) = vector(kind.as_str());
            let mut ctx = ValidationContext::at(env.ingested_at + Duration::seconds(1));
            ctx.check_message_id = false;
            g.bench_function(kind.as_str(), |b| {
                b.iter(|| black_box(&env).validate(&ctx).unwrap());
            });
        }
        g.finish();
    }
    {
        let mut g = c.benchmark_group("message_id_derive");
        g.throughput(Throughput::Elements(1));
        g.bench_function("jadgex", |b| {
            b.iter(|| {
                MessageId::derive(
                    black_box(Nation::Jp),
                    black_box("jadgex"),
                    black_box("20261121-000102"),
                )
            });
        });
        g.finish();
    }
    {
        let mut g = c.benchmark_group("encode");
        g.throughput(Throughput::Elements(1));
        for kind in PayloadKind::NATIONAL {
            let (bytes, env) = vector(kind.as_str());
            let mut out = BytesMut::with_capacity(2048);
            g.bench_function(kind.as_str(), |b| {
                b.iter(|| {
                    out.clear();
                    let mut f = codec.to_national(black_box(&env)).unwrap();
                    f.sequence = 1;
                    codec.encode(&f, &mut out).unwrap();
                    out.len()
                });
            });
            assert_eq!(out.len(), bytes.len());
        }
        g.finish();
    }
}

criterion_group!(codec, benches);
criterion_main!(codec);
