//! Property tests: JP → common → JP is exact; common → JP → common is exact within the
//! precision the spec states; encode/decode are inverse; streaming works in any chunking;
//! garbage never panics.

// Test helpers outside #[test] fns may unwrap and index too (a panic is a test failure).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::unreadable_literal,
    clippy::too_many_arguments,
    clippy::needless_pass_by_value
)]

use std::collections::BTreeSet;

use bytes::BytesMut;
use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use trilink_jp::{
    JpBody, JpCancel, JpCodec, JpCorrection, JpEventEnd, JpFrame, JpImpact, JpLaunch, JpPoint,
    JpStatus, JpTrack, MICROS_PER_DAY, ranges,
};
use trilink_schema::{
    Cancel, ComponentState, Correction, Decoded, EndReason, Envelope, ErrorEllipse, EventEnd,
    FlightPhase, GeoPoint, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode,
    Nation, NationalCodec, Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate,
    VelocityEnu,
};

// ---------------------------------------------------------------------------------------
// Strategies over national frames (wire values)

fn text(max_bytes: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::string::string_regex(&format!("[ -~]{{0,{max_bytes}}}")).unwrap(),
        // Three-byte UTF-8 characters (kana/kanji).
        proptest::string::string_regex(&format!(
            "[\u{3041}-\u{30ff}\u{4e00}-\u{4e20}]{{0,{}}}",
            max_bytes / 3
        ))
        .unwrap(),
    ]
}

fn track_id() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9_-]{1,32}").unwrap()
}

fn tod() -> impl Strategy<Value = u64> {
    prop_oneof![0..MICROS_PER_DAY, Just(0), Just(MICROS_PER_DAY - 1)]
}

fn point() -> impl Strategy<Value = JpPoint> {
    (
        -ranges::LAT_E7..=ranges::LAT_E7,
        -ranges::LON_E7..=ranges::LON_E7,
        ranges::ALT_CM_MIN..=ranges::ALT_CM_MAX,
    )
        .prop_map(|(lat_e7, lon_e7, alt_cm)| JpPoint {
            lat_e7,
            lon_e7,
            alt_cm,
        })
}

fn dist() -> impl Strategy<Value = u32> {
    0..=ranges::DIST_CM_MAX
}
fn vel() -> impl Strategy<Value = i32> {
    -ranges::VEL_MMPS..=ranges::VEL_MMPS
}
fn class() -> impl Strategy<Value = MissileClass> {
    prop_oneof![
        Just(MissileClass::Srbm),
        Just(MissileClass::Mrbm),
        Just(MissileClass::Irbm),
        Just(MissileClass::Icbm),
        Just(MissileClass::Slbm),
        Just(MissileClass::Unknown),
    ]
}

fn body() -> impl Strategy<Value = JpBody> {
    prop_oneof![
        (
            track_id(),
            tod(),
            point(),
            dist(),
            dist(),
            class(),
            0..=ranges::CONFIDENCE
        )
            .prop_map(
                |(track_id, launch_tod_us, point, unc_h_cm, unc_v_cm, class, confidence_e4)| {
                    JpBody::LaunchDetection(JpLaunch {
                        track_id,
                        launch_tod_us,
                        point,
                        unc_h_cm,
                        unc_v_cm,
                        class,
                        confidence_e4,
                    })
                }
            ),
        (
            track_id(),
            tod(),
            point(),
            dist(),
            dist(),
            (vel(), vel(), vel()),
            0..=ranges::QUALITY,
            prop_oneof![
                Just(FlightPhase::Boost),
                Just(FlightPhase::Midcourse),
                Just(FlightPhase::Terminal),
                Just(FlightPhase::Unknown)
            ],
        )
            .prop_map(
                |(track_id, tod_us, point, h, v, (e, n, u), quality, phase)| {
                    JpBody::TrackUpdate(JpTrack {
                        track_id,
                        tod_us,
                        point,
                        unc_h_cm: h,
                        unc_v_cm: v,
                        vel_e_mmps: e,
                        vel_n_mmps: n,
                        vel_u_mmps: u,
                        quality,
                        phase,
                    })
                }
            ),
        (
            track_id(),
            tod(),
            point(),
            dist(),
            dist(),
            0..=ranges::ORIENTATION
        )
            .prop_map(
                |(track_id, impact_tod_us, point, a, b, o)| JpBody::ImpactPrediction(JpImpact {
                    track_id,
                    impact_tod_us,
                    point,
                    semi_major_cm: a,
                    semi_minor_cm: b,
                    orientation_e2: o,
                })
            ),
        (
            track_id(),
            tod(),
            prop_oneof![
                Just(EndReason::Impact),
                Just(EndReason::Lost),
                Just(EndReason::Other)
            ],
            proptest::option::of(point())
        )
            .prop_map(|(track_id, tod_us, reason, final_point)| {
                JpBody::EventEnd(JpEventEnd {
                    track_id,
                    tod_us,
                    reason,
                    final_point,
                })
            }),
        (track_id(), text(256))
            .prop_map(|(track_id, reason)| JpBody::Cancel(JpCancel { track_id, reason })),
        (
            track_id(),
            text(256),
            proptest::option::of(tod()),
            proptest::option::of(point()),
            proptest::option::of(class())
        )
            .prop_map(|(track_id, reason, t, p, c)| {
                JpBody::Correction(JpCorrection {
                    track_id,
                    reason,
                    corrected_tod_us: t,
                    corrected_point: p,
                    corrected_class: c,
                })
            }),
        (
            text(64),
            prop_oneof![
                Just(ComponentState::Ok),
                Just(ComponentState::Degraded),
                Just(ComponentState::Down)
            ],
            prop_oneof![0..=ranges::UPTIME_US, Just(ranges::UPTIME_US)],
            text(256)
        )
            .prop_map(|(component, state, uptime_us, detail)| {
                JpBody::Status(JpStatus {
                    component,
                    state,
                    uptime_us,
                    detail,
                })
            }),
    ]
}

fn nation() -> impl Strategy<Value = Nation> {
    prop_oneof![Just(Nation::Jp), Just(Nation::Kr), Just(Nation::Us)]
}
fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::RealWorld),
        Just(Mode::Exercise),
        Just(Mode::Test)
    ]
}

fn frame() -> impl Strategy<Value = JpFrame> {
    (
        any::<u32>(),
        nation(),
        mode(),
        0u8..=7,
        tod(),
        (text(64), text(64), text(128)),
        proptest::collection::vec(any::<u128>(), 0..=16),
        body(),
    )
        .prop_map(
            |(
                sequence,
                origin,
                mode,
                releasability,
                observed_tod_us,
                (system, sensor, nmid),
                refs,
                body,
            )| {
                JpFrame {
                    sequence,
                    origin,
                    mode,
                    releasability,
                    observed_tod_us,
                    system,
                    sensor,
                    national_message_id: nmid,
                    references: refs
                        .into_iter()
                        .map(|r| MessageId::from_uuid(uuid::Uuid::from_u128(r)))
                        .collect(),
                    body,
                }
            },
        )
}

/// Any instant from 1990 to 2100, microsecond or nanosecond resolution.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (631_152_000i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).unwrap())
}

fn encode(f: &JpFrame) -> Vec<u8> {
    let mut out = BytesMut::new();
    JpCodec.encode(f, &mut out).unwrap();
    out.to_vec()
}

// ---------------------------------------------------------------------------------------
// Strategies over common envelopes (within the JP-representable domain)

fn geo() -> impl Strategy<Value = GeoPoint> {
    (
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        -1000.0f64..=10_000_000.0,
    )
        .prop_map(|(lat_deg, lon_deg, alt_m)| GeoPoint {
            lat_deg,
            lon_deg,
            alt_m,
        })
}
fn metres() -> impl Strategy<Value = f64> {
    0.0f64..=10_000_000.0
}
fn mps() -> impl Strategy<Value = f64> {
    -12_000.0f64..=12_000.0
}
fn tid() -> impl Strategy<Value = TrackId> {
    track_id().prop_map(|s| TrackId::new(s).unwrap())
}
/// An offset of up to ±11 h 59 min (times within 12 h of their reference round-trip).
fn offset() -> impl Strategy<Value = Duration> {
    (-43_140_000_000_000i64..43_140_000_000_000).prop_map(Duration::nanoseconds)
}
fn nonempty(max: usize) -> impl Strategy<Value = String> {
    text(max).prop_filter("non-empty", |s| !s.trim().is_empty())
}

fn payload(observed: DateTime<Utc>) -> impl Strategy<Value = Payload> {
    prop_oneof![
        (
            tid(),
            offset(),
            geo(),
            metres(),
            metres(),
            class(),
            0.0f64..=1.0
        )
            .prop_map(
                move |(track_id, dt, p, h, v, c, conf)| Payload::LaunchDetection(LaunchDetection {
                    track_id,
                    launch_time: observed + dt,
                    launch_point: p,
                    launch_point_uncertainty: PositionUncertainty {
                        horizontal_m: h,
                        vertical_m: v
                    },
                    missile_class: c,
                    confidence: conf,
                })
            ),
        (
            tid(),
            offset(),
            geo(),
            metres(),
            metres(),
            (mps(), mps(), mps()),
            0u8..=15
        )
            .prop_map(
                move |(track_id, dt, p, h, v, (e, n, u), q)| Payload::TrackUpdate(TrackUpdate {
                    track_id,
                    time: observed + dt,
                    position: p,
                    position_uncertainty: PositionUncertainty {
                        horizontal_m: h,
                        vertical_m: v
                    },
                    velocity: VelocityEnu {
                        east_mps: e,
                        north_mps: n,
                        up_mps: u
                    },
                    quality: q,
                    flight_phase: FlightPhase::Boost,
                })
            ),
        (tid(), offset(), geo(), metres(), metres(), 0.0f64..=180.0).prop_map(
            move |(track_id, dt, p, a, b, o)| Payload::ImpactPrediction(ImpactPrediction {
                track_id,
                impact_time: observed + dt,
                impact_point: p,
                error_ellipse: ErrorEllipse {
                    semi_major_m: a.max(b),
                    semi_minor_m: a.min(b),
                    orientation_deg: o
                },
            })
        ),
        (tid(), offset(), proptest::option::of(geo())).prop_map(move |(track_id, dt, fp)| {
            Payload::EventEnd(EventEnd {
                track_id,
                time: observed + dt,
                reason: EndReason::Other,
                final_point: fp,
            })
        }),
        (tid(), nonempty(256))
            .prop_map(|(track_id, reason)| Payload::Cancel(Cancel { track_id, reason })),
        (
            tid(),
            nonempty(256),
            proptest::option::of(offset()),
            proptest::option::of(geo()),
            proptest::option::of(class())
        )
            .prop_map(move |(track_id, reason, dt, p, c)| {
                Payload::Correction(Correction {
                    track_id,
                    reason,
                    corrected_time: dt.map(|d| observed + d),
                    corrected_point: p,
                    corrected_missile_class: c,
                })
            }),
        (nonempty(64), 0.0f64..=1e9, text(256)).prop_map(|(component, uptime_s, detail)| {
            Payload::Status(Status {
                component,
                state: ComponentState::Ok,
                uptime_s,
                detail,
            })
        }),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    (instant(), 0i64..43_140_000_000_000)
        .prop_flat_map(|(ingested, back_ns)| {
            let observed = ingested - Duration::nanoseconds(back_ns);
            (
                Just(ingested),
                Just(observed),
                nation(),
                (nonempty(64), nonempty(64), nonempty(128)),
                mode(),
                proptest::collection::btree_set(nation(), 0..=3),
                proptest::collection::vec(any::<u128>(), 0..=16),
                payload(observed),
            )
        })
        .prop_map(
            |(ingested, observed, origin, (system, sensor, nmid), mode, rel, refs, payload)| {
                let mut e = Envelope::new(
                    origin,
                    Source {
                        system,
                        sensor,
                        national_message_id: nmid,
                    },
                    observed,
                    ingested,
                    mode,
                    rel,
                    payload,
                );
                e.references = refs
                    .into_iter()
                    .map(|r| MessageId::from_uuid(uuid::Uuid::from_u128(r)))
                    .collect();
                e
            },
        )
}

fn close(a: f64, b: f64, half_unit: f64, what: &str) {
    // Half a wire unit, plus a few ulps for the decimal scaling.
    let tol = half_unit * (1.0 + 1e-9) + a.abs().max(b.abs()) * 4.0 * f64::EPSILON;
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b} (tolerance {tol})");
}
fn close_time(orig: DateTime<Utc>, back: DateTime<Utc>, what: &str) {
    let d = orig - back;
    assert!(
        d >= Duration::zero() && d < Duration::microseconds(1),
        "{what}: {orig} vs {back}"
    );
}
fn close_point(a: &GeoPoint, b: &GeoPoint, what: &str) {
    close(a.lat_deg, b.lat_deg, 0.5e-7, what);
    close(a.lon_deg, b.lon_deg, 0.5e-7, what);
    close(a.alt_m, b.alt_m, 0.005, what);
}

/// Compare an envelope with its round trip through the JP format, within the spec's precision.
fn assert_within_precision(e: &Envelope, b: &Envelope) {
    assert_eq!(e.schema_version, b.schema_version);
    assert_eq!(e.message_id, b.message_id);
    assert_eq!(e.origin, b.origin);
    assert_eq!(e.source, b.source);
    close_time(e.observed_at, b.observed_at, "observed_at");
    assert_eq!(e.ingested_at, b.ingested_at);
    assert_eq!(e.mode, b.mode);
    assert_eq!(e.releasability, b.releasability);
    assert_eq!(e.references, b.references);
    assert_eq!(b.hop_limit, trilink_schema::DEFAULT_HOP_LIMIT);
    assert!(b.provenance.is_empty() && b.relayed_at.is_none());
    match (&e.payload, &b.payload) {
        (Payload::LaunchDetection(x), Payload::LaunchDetection(y)) => {
            assert_eq!(x.track_id, y.track_id);
            close_time(x.launch_time, y.launch_time, "launch_time");
            close_point(&x.launch_point, &y.launch_point, "launch_point");
            let (u, v) = (&x.launch_point_uncertainty, &y.launch_point_uncertainty);
            close(u.horizontal_m, v.horizontal_m, 0.005, "unc_h");
            close(u.vertical_m, v.vertical_m, 0.005, "unc_v");
            assert_eq!(x.missile_class, y.missile_class);
            close(x.confidence, y.confidence, 0.5e-4, "confidence");
        }
        (Payload::TrackUpdate(x), Payload::TrackUpdate(y)) => {
            assert_eq!(x.track_id, y.track_id);
            close_time(x.time, y.time, "time");
            close_point(&x.position, &y.position, "position");
            let (u, v) = (&x.position_uncertainty, &y.position_uncertainty);
            close(u.horizontal_m, v.horizontal_m, 0.005, "unc_h");
            close(u.vertical_m, v.vertical_m, 0.005, "unc_v");
            close(x.velocity.east_mps, y.velocity.east_mps, 0.0005, "vel_e");
            close(x.velocity.north_mps, y.velocity.north_mps, 0.0005, "vel_n");
            close(x.velocity.up_mps, y.velocity.up_mps, 0.0005, "vel_u");
            assert_eq!((x.quality, x.flight_phase), (y.quality, y.flight_phase));
        }
        (Payload::ImpactPrediction(x), Payload::ImpactPrediction(y)) => {
            assert_eq!(x.track_id, y.track_id);
            close_time(x.impact_time, y.impact_time, "impact_time");
            close_point(&x.impact_point, &y.impact_point, "impact_point");
            let (u, v) = (&x.error_ellipse, &y.error_ellipse);
            close(u.semi_major_m, v.semi_major_m, 0.005, "semi_major");
            close(u.semi_minor_m, v.semi_minor_m, 0.005, "semi_minor");
            close(u.orientation_deg, v.orientation_deg, 0.005, "orientation");
        }
        (Payload::EventEnd(x), Payload::EventEnd(y)) => {
            assert_eq!((&x.track_id, x.reason), (&y.track_id, y.reason));
            close_time(x.time, y.time, "time");
            assert_eq!(x.final_point.is_some(), y.final_point.is_some());
            if let (Some(p), Some(q)) = (&x.final_point, &y.final_point) {
                close_point(p, q, "final_point");
            }
        }
        (Payload::Cancel(x), Payload::Cancel(y)) => assert_eq!(x, y),
        (Payload::Correction(x), Payload::Correction(y)) => {
            assert_eq!((&x.track_id, &x.reason), (&y.track_id, &y.reason));
            assert_eq!(x.corrected_missile_class, y.corrected_missile_class);
            assert_eq!(x.corrected_time.is_some(), y.corrected_time.is_some());
            if let (Some(s), Some(t)) = (x.corrected_time, y.corrected_time) {
                close_time(s, t, "corrected_time");
            }
            assert_eq!(x.corrected_point.is_some(), y.corrected_point.is_some());
            if let (Some(p), Some(q)) = (&x.corrected_point, &y.corrected_point) {
                close_point(p, q, "corrected_point");
            }
        }
        (Payload::Status(x), Payload::Status(y)) => {
            assert_eq!(
                (&x.component, x.state, &x.detail),
                (&y.component, y.state, &y.detail)
            );
            close(x.uptime_s, y.uptime_s, 0.5e-6, "uptime_s");
        }
        (x, y) => panic!("payload kind changed: {x:?} -> {y:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// decode(encode(f)) == f, and the encoding is exactly `length` bytes.
    #[test]
    fn encode_then_decode_is_identity(f in frame()) {
        let bytes = encode(&f);
        prop_assert!(bytes.len() <= trilink_jp::MAX_FRAME_LEN);
        prop_assert_eq!(usize::from(u16::from_be_bytes([bytes[4], bytes[5]])), bytes.len());
        prop_assert_eq!(trilink_jp::decode_datagram(&bytes).unwrap(), f);
    }

    /// national → common → national is exact (sequence aside), for any receive time.
    #[test]
    fn national_common_national(f in frame(), ingested in instant()) {
        let env = JpCodec.to_common(&f, ingested).unwrap();
        let mut back = JpCodec.to_national(&env).unwrap();
        back.sequence = f.sequence;
        prop_assert_eq!(&back, &f);
        prop_assert_eq!(encode(&back), encode(&f));
    }

    /// common → national → common within the spec's precision, and a second pass is exact.
    #[test]
    fn common_national_common(e in envelope()) {
        let f = JpCodec.to_national(&e).unwrap();
        let back = JpCodec.to_common(&f, e.ingested_at).unwrap();
        assert_within_precision(&e, &back);
        let again = JpCodec.to_common(&JpCodec.to_national(&back).unwrap(), e.ingested_at).unwrap();
        prop_assert_eq!(again, back);
    }

    /// Garbage never panics; whatever decodes re-encodes to the same bytes (the format is
    /// canonical).
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
        let _ = trilink_jp::decode_to_common(&bytes, Utc::now());
        if let Ok(Decoded::Frame { frame, consumed }) = JpCodec.decode(&bytes) {
            prop_assert_eq!(&encode(&frame)[..], &bytes[..consumed]);
        }
        let skip = JpCodec.skip_after_error(&bytes);
        prop_assert!(skip >= 1);
        prop_assert!(skip <= bytes.len().max(1));
    }

    /// Garbage that starts like a frame (right sync, plausible length) never panics either.
    #[test]
    fn framed_garbage_never_panics(
        ty in 0u8..=8,
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let len = (body.len() + 12) as u16;
        let mut b = vec![0x4A, 0x50, 1, ty];
        b.extend_from_slice(&len.to_be_bytes());
        b.extend_from_slice(&[0, 0, 0, 1]);
        b.extend_from_slice(&body);
        let crc = trilink_jp::crc16(&b);
        b.extend_from_slice(&crc.to_be_bytes());
        if let Ok(f) = trilink_jp::decode_datagram(&b) {
            prop_assert_eq!(encode(&f), b);
        }
    }

    /// A stream of frames fed in random chunks decodes to the same frames.
    #[test]
    fn streaming_in_random_chunks(
        frames in proptest::collection::vec(frame(), 1..6),
        chunks in proptest::collection::vec(1usize..200, 1..40),
    ) {
        let mut stream = Vec::new();
        for f in &frames {
            stream.extend(encode(f));
        }
        let mut got = Vec::new();
        let mut buf: Vec<u8> = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < stream.len() {
            let n = chunks[i % chunks.len()].min(stream.len() - pos);
            i += 1;
            buf.extend_from_slice(&stream[pos..pos + n]);
            pos += n;
            loop {
                match JpCodec.decode(&buf).unwrap() {
                    Decoded::Frame { frame, consumed } => {
                        got.push(frame);
                        buf.drain(..consumed);
                    }
                    Decoded::NeedMore { needed } => {
                        prop_assert!(needed >= 1);
                        prop_assert!(buf.len() + needed <= trilink_jp::MAX_FRAME_LEN);
                        break;
                    }
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, frames);
    }
}

#[test]
fn streaming_byte_by_byte_reports_exact_needs() {
    let f = JpFrame {
        sequence: 9,
        origin: Nation::Jp,
        mode: Mode::Exercise,
        releasability: 0b111,
        observed_tod_us: 1,
        system: "jadgex".into(),
        sensor: "fps-5".into(),
        national_message_id: "20261121-1".into(),
        references: vec![],
        body: JpBody::Cancel(JpCancel {
            track_id: "T1".into(),
            reason: "x".into(),
        }),
    };
    let bytes = encode(&f);
    for cut in 0..bytes.len() {
        match JpCodec.decode(&bytes[..cut]).unwrap() {
            Decoded::NeedMore { needed } => {
                let expect = if cut < 10 {
                    10 - cut
                } else {
                    bytes.len() - cut
                };
                assert_eq!(needed, expect, "cut at {cut}");
            }
            Decoded::Frame { .. } => panic!("frame from a {cut}-byte prefix"),
        }
    }
    // Byte by byte through a growing buffer, twice in a row.
    let mut stream = bytes.clone();
    stream.extend(&bytes);
    let mut buf = Vec::new();
    let mut got = 0;
    for b in stream {
        buf.push(b);
        if let Decoded::Frame { frame, consumed } = JpCodec.decode(&buf).unwrap() {
            assert_eq!(frame, f);
            assert_eq!(consumed, bytes.len());
            buf.clear();
            got += 1;
        }
    }
    assert_eq!(got, 2);
}

#[test]
fn resync_after_garbage_finds_the_next_frame() {
    let f = JpFrame {
        sequence: 1,
        origin: Nation::Kr,
        mode: Mode::Test,
        releasability: 0b010,
        observed_tod_us: 5,
        system: "s".into(),
        sensor: "s".into(),
        national_message_id: "n".into(),
        references: vec![],
        body: JpBody::Status(JpStatus {
            component: "c".into(),
            state: ComponentState::Ok,
            uptime_us: 1,
            detail: String::new(),
        }),
    };
    let mut stream = vec![0x00, 0x4A, 0x4A, 0x13, 0xFF];
    stream.extend(encode(&f));
    let mut buf = &stream[..];
    let mut errors = 0;
    loop {
        match JpCodec.decode(buf) {
            Ok(Decoded::Frame { frame, .. }) => {
                assert_eq!(frame, f);
                break;
            }
            Ok(Decoded::NeedMore { .. }) => panic!("stalled"),
            Err(_) => {
                errors += 1;
                buf = &buf[JpCodec.skip_after_error(buf)..];
            }
        }
    }
    assert!(errors >= 1);
}

#[test]
fn releasability_bits() {
    assert_eq!(
        trilink_jp::releasability_set(0b101),
        BTreeSet::from([Nation::Jp, Nation::Us])
    );
    assert_eq!(
        trilink_jp::releasability_mask(&BTreeSet::from([Nation::Kr])),
        0b010
    );
}
