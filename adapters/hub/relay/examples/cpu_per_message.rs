//! trilink's own per-message CPU work without sockets or brokers, for instruction counts
//! (`valgrind --tool=callgrind`; wall time on a shared machine is noise). One message is what
//! the `trilink bench` path does to it in trilink's process: adapter-jp ingress (decode the JP
//! frame, translate, validate, serialise, the received/published metrics), the relay's
//! `process` (parse, checks, validate, policy, provenance, serialise the outputs for KR and US),
//! and adapter-kr egress (parse, validate, to_national, encode, the delivered metric).
//!
//! `cargo build --release -p trilink-relay --example cpu_per_message`, then
//! `valgrind --tool=callgrind --toggle-collect='*run_loop*' --callgrind-out-file=/dev/null target/release/examples/cpu_per_message <phase> <n>`:
//! instructions per message = the collected Ir / n (only the loop is counted, not the set-up).
//! `<phase>`: `all` (default), `ingress`, `relay`, `egress`, `metrics` (the runtime's
//! per-message metric events only, with the Prometheus recorder installed).

#![forbid(unsafe_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use chrono::{Duration, Utc};
use trilink_relay::{Policy, ReferenceBook, RelayIdentity, process};
use trilink_runtime::core::{CoreCtx, ingest, prepare_egress};
use trilink_runtime::telemetry::events;
use trilink_schema::testing::encode_national;
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{GeoPoint, Mode, Nation, PayloadKind, Subject};

fn main() {
    let phase = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let n: u64 = std::env::args()
        .nth(2)
        .map_or(10_000, |s| s.parse().unwrap());
    let _handle = trilink_runtime::telemetry::install_metrics().unwrap();
    let policy = Policy::load(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../broker-config/policies/strict-trilateral.toml"),
    )
    .unwrap();
    let now = Utc::now();
    let sample = envelope(&SampleSpec {
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
    let frame = Bytes::from(encode_national(&trilink_jp::JpCodec, &sample));
    let ctx = CoreCtx {
        future_tolerance: Duration::seconds(5),
    };
    let id = RelayIdentity::default();
    let refs = ReferenceBook::default();
    let kr = trilink_kr::KrCodec;

    // Prepared inputs for the single phases.
    let env = ingest(&trilink_jp::JpCodec, &frame, now, now, &ctx).unwrap();
    let body = env.to_json().unwrap();
    let subject = Subject::input_for(&env).to_string();
    let out = process(&subject, &body, now, &policy, &id, &refs);
    assert!(out.reject.is_none(), "{:?}", out.reject);
    let kr_body = out
        .outputs
        .iter()
        .find(|o| o.dest == Nation::Kr)
        .unwrap()
        .body
        .clone();

    let sink = run_loop(&Loop {
        phase: &phase,
        n,
        frame: &frame,
        ctx: &ctx,
        policy: &policy,
        id: &id,
        refs: &refs,
        kr: &kr,
        body: &body,
        subject: &subject,
        kr_body: &kr_body,
        now,
    });
    println!("{phase} {n} {sink}");
}

/// What the loop works on.
struct Loop<'a> {
    phase: &'a str,
    n: u64,
    frame: &'a Bytes,
    ctx: &'a CoreCtx,
    policy: &'a Policy,
    id: &'a RelayIdentity,
    refs: &'a ReferenceBook,
    kr: &'a trilink_kr::KrCodec,
    body: &'a [u8],
    subject: &'a str,
    kr_body: &'a [u8],
    now: chrono::DateTime<Utc>,
}

/// The measured loop (callgrind `--toggle-collect='*run_loop*'`).
#[inline(never)]
fn run_loop(l: &Loop<'_>) -> usize {
    let Loop {
        phase,
        n,
        frame,
        ctx,
        policy,
        id,
        refs,
        kr,
        body,
        subject,
        kr_body,
        now,
    } = *l;
    let mut buf = BytesMut::new();
    let mut sink = 0usize;
    for _ in 0..n {
        match phase {
            "ingress" => {
                let env = ingest(&trilink_jp::JpCodec, black_box(frame), now, now, ctx).unwrap();
                sink += env.to_json().unwrap().len();
                sink += Subject::input_for(&env).to_string().len();
            }
            "relay" => {
                let out = process(black_box(subject), black_box(body), now, policy, id, refs);
                sink += out.outputs.len();
            }
            "egress" => {
                let ready = prepare_egress(kr, black_box(kr_body), now, ctx, &mut buf).unwrap();
                sink += ready.frames.len();
            }
            "metrics" => {
                events::received(Nation::Jp, "udp", 64);
                events::published(Nation::Jp, "track_update", false, now, now);
                events::delivered(Nation::Kr, "mqtt");
            }
            _ => {
                let env = ingest(&trilink_jp::JpCodec, black_box(frame), now, now, ctx).unwrap();
                let body = env.to_json().unwrap();
                let subject = Subject::input_for(&env).to_string();
                events::received(Nation::Jp, "udp", body.len());
                events::published(Nation::Jp, "track_update", false, now, now);
                let out = process(&subject, &body, now, policy, id, refs);
                for o in out.outputs.iter().filter(|o| o.dest == Nation::Kr) {
                    let ready = prepare_egress(kr, &o.body, now, ctx, &mut buf).unwrap();
                    sink += ready.frames.len();
                    events::delivered(Nation::Kr, "mqtt");
                }
            }
        }
    }
    sink
}
