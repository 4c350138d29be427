//! Cost of one track update through the correlator (association, fusion, every destination's
//! picture), on the shipped salvo scenario: three missiles, three nations.
//!
//! Run: `cargo bench -p trilink-picture --bench correlator`. Target: ≤ 20 µs per update,
//! ≥ 100 000 updates/s per core.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // bench code: a panic is a failure

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use trilink_picture::{Config, Correlator};
use trilink_schema::Payload;

fn bench(c: &mut Criterion) {
    let start = "2026-11-21T00:00:00Z".parse().unwrap();
    let cfg = trilink_scenario::named("salvo").unwrap();
    let g = trilink_scenario::generate(&cfg, 2, start).unwrap();
    let reports: Vec<_> = g
        .reports
        .iter()
        .map(|r| (r.envelope.clone(), r.emit_at))
        .collect();
    let updates = reports
        .iter()
        .filter(|(e, _)| matches!(e.payload, Payload::TrackUpdate(_)))
        .count() as u64;

    // Steady state: the picture already holds the salvo's events; one more track update of a
    // bound track (re-fusion in the three destinations' pictures).
    let mut warm = Correlator::new(Config::default());
    let half = reports.len() / 2;
    for (e, t) in &reports[..half] {
        warm.ingest(e, *t).unwrap();
    }
    let (next, at) = reports[half..]
        .iter()
        .find(|(e, _)| matches!(e.payload, Payload::TrackUpdate(_)))
        .cloned()
        .unwrap();
    let mut group = c.benchmark_group("picture");
    group.throughput(Throughput::Elements(1));
    group.bench_function("track_update_steady_state", |b| {
        b.iter_batched_ref(
            || warm.clone(),
            |corr| black_box(corr.ingest(black_box(&next), at).unwrap()),
            BatchSize::SmallInput,
        );
    });

    // Whole scenario: every report (launch detections, track updates, impact predictions,
    // ends) with a tick after each; throughput counted in track updates.
    group.throughput(Throughput::Elements(updates));
    group.bench_function("salvo_scenario_per_track_update", |b| {
        b.iter(|| {
            let mut corr = Correlator::new(Config::default());
            for (e, t) in &reports {
                black_box(corr.ingest(e, *t).unwrap());
                black_box(corr.tick(*t));
            }
            corr
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
