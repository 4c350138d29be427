//! Cost of the relay's pure per-message work: parse + origin check + validate + policy +
//! provenance + serialize (`process`), and the policy decision alone.
//! `cargo bench -p trilink-relay --bench process -- --measurement-time 3 --warm-up-time 1`

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use chrono::{Duration, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trilink_relay::{Policy, RelayIdentity, process};
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{GeoPoint, Mode, Nation, PayloadKind, Subject};

fn bench(c: &mut Criterion) {
    let policy = Policy::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../broker-config/policies/strict-trilateral.toml"),
    )
    .unwrap();
    let now = Utc::now();
    let env = envelope(&SampleSpec {
        origin: Nation::Jp,
        kind: PayloadKind::TrackUpdate,
        mode: Mode::RealWorld,
        releasability: Nation::ALL.into_iter().collect(),
        seq: 42,
        observed_at: now - Duration::seconds(1),
        point: GeoPoint {
            lat_deg: 38.0,
            lon_deg: 131.0,
            alt_m: 80_000.0,
        },
    })
    .unwrap();
    let body = env.to_json().unwrap();
    let subject = Subject::input_for(&env).to_string();
    let id = RelayIdentity::default();

    let mut g = c.benchmark_group("relay");
    g.throughput(Throughput::Elements(1));
    g.bench_function("process_track_update_2_outputs", |b| {
        let refs = trilink_relay::ReferenceBook::default();
        b.iter(|| {
            process(
                black_box(&subject),
                black_box(&body),
                now,
                &policy,
                &id,
                &refs,
            )
        });
    });
    g.bench_function("policy_decide_3_destinations", |b| {
        b.iter(|| policy.decide(black_box(&env)));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
