//! Property tests: common → national → common and national → common → national round trips
//! within the precision the spec states (§8), and the wire round trip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use trilink_schema::{
    ComponentState, Decoded, EndReason, Envelope, FlightPhase, GeoPoint, MissileClass, Mode,
    Nation, NationalCodec, NationalError, Payload, VelocityEnu,
};
use trilink_us::geo::geodetic_to_ecef;
use trilink_us::gps::{GPS_EPOCH_UNIX_S, GPS_US_LIMIT, LEAP_SECONDS_UNIX};
use trilink_us::wire::DISTANCE_CM_MAX;
use trilink_us::*;

fn close_time(a: DateTime<Utc>, b: DateTime<Utc>, what: &str) {
    let d = (a - b).num_nanoseconds().unwrap().abs();
    assert!(d <= 500, "{what}: {a} vs {b} ({d} ns)");
}

fn close_point(a: &GeoPoint, b: &GeoPoint, what: &str) {
    let (x, y, z) = geodetic_to_ecef(a);
    let (p, q, r) = geodetic_to_ecef(b);
    let d = ((x - p).powi(2) + (y - q).powi(2) + (z - r).powi(2)).sqrt();
    assert!(d <= 0.0087, "{what}: {a:?} vs {b:?} ({d} m apart)");
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
}

/// Assert `back` equals `orig` within the spec's stated precision.
fn assert_within_precision(orig: &Envelope, back: &Envelope, ingested: DateTime<Utc>) {
    assert_eq!(back.schema_version, orig.schema_version);
    assert_eq!(back.message_id, orig.message_id);
    assert_eq!(back.origin, orig.origin);
    assert_eq!(back.source, orig.source);
    close_time(back.observed_at, orig.observed_at, "observed_at");
    assert_eq!(back.ingested_at, ingested);
    assert_eq!(back.relayed_at, None);
    assert!(back.provenance.is_empty());
    assert_eq!(back.hop_limit, trilink_schema::DEFAULT_HOP_LIMIT);
    assert_eq!(back.mode, orig.mode);
    assert_eq!(back.releasability, orig.releasability);
    assert_eq!(back.references, orig.references);
    match (&orig.payload, &back.payload) {
        (Payload::LaunchDetection(a), Payload::LaunchDetection(b)) => {
            assert_eq!(a.track_id, b.track_id);
            close_time(a.launch_time, b.launch_time, "launch_time");
            close_point(&a.launch_point, &b.launch_point, "launch_point");
            let (u, v) = (a.launch_point_uncertainty, b.launch_point_uncertainty);
            close(u.horizontal_m, v.horizontal_m, 0.005 + 1e-9, "horizontal");
            close(u.vertical_m, v.vertical_m, 0.005 + 1e-9, "vertical");
            assert_eq!(a.missile_class, b.missile_class);
            close(a.confidence, b.confidence, 5e-10 + 1e-15, "confidence");
        }
        (Payload::TrackUpdate(a), Payload::TrackUpdate(b)) => {
            assert_eq!(a.track_id, b.track_id);
            close_time(a.time, b.time, "time");
            close_point(&a.position, &b.position, "position");
            close(a.velocity.east_mps, b.velocity.east_mps, 0.001, "east");
            close(a.velocity.north_mps, b.velocity.north_mps, 0.001, "north");
            close(a.velocity.up_mps, b.velocity.up_mps, 0.001, "up");
            let (u, v) = (a.position_uncertainty, b.position_uncertainty);
            close(u.horizontal_m, v.horizontal_m, 0.005 + 1e-9, "horizontal");
            close(u.vertical_m, v.vertical_m, 0.005 + 1e-9, "vertical");
            assert_eq!(a.quality, b.quality);
            assert_eq!(a.flight_phase, b.flight_phase);
        }
        (Payload::ImpactPrediction(a), Payload::ImpactPrediction(b)) => {
            assert_eq!(a.track_id, b.track_id);
            close_time(a.impact_time, b.impact_time, "impact_time");
            close_point(&a.impact_point, &b.impact_point, "impact_point");
            let (e, f) = (a.error_ellipse, b.error_ellipse);
            close(e.semi_major_m, f.semi_major_m, 0.005 + 1e-9, "semi_major");
            close(e.semi_minor_m, f.semi_minor_m, 0.005 + 1e-9, "semi_minor");
            close(
                e.orientation_deg,
                f.orientation_deg,
                5e-7 + 1e-12,
                "orientation",
            );
        }
        (Payload::EventEnd(a), Payload::EventEnd(b)) => {
            assert_eq!(a.track_id, b.track_id);
            close_time(a.time, b.time, "time");
            assert_eq!(a.reason, b.reason);
            assert_eq!(a.final_point.is_some(), b.final_point.is_some());
            if let (Some(p), Some(q)) = (&a.final_point, &b.final_point) {
                close_point(p, q, "final_point");
            }
        }
        (Payload::Cancel(a), Payload::Cancel(b)) => assert_eq!(a, b),
        (Payload::Correction(a), Payload::Correction(b)) => {
            assert_eq!(a.track_id, b.track_id);
            assert_eq!(a.reason, b.reason);
            assert_eq!(a.corrected_missile_class, b.corrected_missile_class);
            assert_eq!(a.corrected_time.is_some(), b.corrected_time.is_some());
            if let (Some(s), Some(t)) = (a.corrected_time, b.corrected_time) {
                close_time(s, t, "corrected_time");
            }
            assert_eq!(a.corrected_point.is_some(), b.corrected_point.is_some());
            if let (Some(p), Some(q)) = (&a.corrected_point, &b.corrected_point) {
                close_point(p, q, "corrected_point");
            }
        }
        (Payload::Status(a), Payload::Status(b)) => {
            assert_eq!(a.component, b.component);
            assert_eq!(a.state, b.state);
            assert_eq!(a.detail, b.detail);
            close(a.uptime_s, b.uptime_s, 5e-7 + a.uptime_s * 1e-15, "uptime");
        }
        (a, b) => panic!("payload kind changed: {a:?} -> {b:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn common_national_common(env in common::envelope()) {
        let codec = UsCodec::default();
        let frame = match codec.to_national(&env) {
            Ok(f) => f,
            // The generator keeps texts short, but multi-byte text plus references can still
            // exceed the 48-word packet; that must be the capacity error, nothing else.
            Err(UsError::Unrepresentable { field: "message", .. }) => return Ok(()),
            Err(e) => panic!("to_national failed: {e} for {env:?}"),
        };
        let mut out = BytesMut::new();
        codec.encode(&frame, &mut out).unwrap();
        prop_assert!(out.len() <= UsCodec::MAX_FRAME_LEN);
        let ingested = env.ingested_at;
        let back = decode_to_common(&out, ingested).unwrap();
        assert_within_precision(&env, &back, ingested);
        // A second pass is exact: translation is idempotent on its own output.
        let frame2 = codec.to_national(&back).unwrap();
        prop_assert_eq!(frame2, frame);
    }
}

// ---------------------------------------------------------------------------------------------
// national -> common -> national, generating frames directly from integer fields.

fn gps_time() -> impl Strategy<Value = u64> {
    // Bias towards the leap seconds (23:59:60 UTC), which must round-trip too.
    prop_oneof![
        4 => 0..GPS_US_LIMIT,
        1 => (0..LEAP_SECONDS_UNIX.len(), 0u64..3_000_000).prop_map(|(i, d)| {
            (LEAP_SECONDS_UNIX[i] - GPS_EPOCH_UNIX_S + i as i64) as u64 * 1_000_000 - 1_000_000 + d
        }),
    ]
}

fn ecef() -> impl Strategy<Value = EcefCm> {
    common::point().prop_map(|p| {
        let (x, y, z) = geodetic_to_ecef(&p);
        EcefCm {
            x: (x * 100.0).round() as i32,
            y: (y * 100.0).round() as i32,
            z: (z * 100.0).round() as i32,
        }
    })
}

/// ECEF velocities whose ENU components are within the schema's ±12 000 m/s wherever they are
/// rotated: |component| ≤ |v| ≤ √3 · 6 900 m/s < 12 000 m/s (faster ones are
/// `field_out_of_range`, tested in `tests/errors.rs`).
fn ecef_velocity() -> impl Strategy<Value = (i32, i32, i32)> {
    let c = -6_900_000i32..=6_900_000;
    (c.clone(), c.clone(), c)
}

/// Uncertainties / ellipse axes in the carried range 0 ..= 10 000 km, edges included.
fn distances() -> impl Strategy<Value = (u32, u32)> {
    let d = prop_oneof![
        8 => 0..=DISTANCE_CM_MAX,
        1 => Just(DISTANCE_CM_MAX),
        1 => Just(0),
    ];
    (d.clone(), d)
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[ -~é]{{0,{max}}}")).unwrap()
}

fn track() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z0-9_-]{1,32}").unwrap()
}

fn class() -> impl Strategy<Value = MissileClass> {
    (0u8..6).prop_map(|c| {
        [
            MissileClass::Unknown,
            MissileClass::Srbm,
            MissileClass::Mrbm,
            MissileClass::Irbm,
            MissileClass::Icbm,
            MissileClass::Slbm,
        ][usize::from(c)]
    })
}

fn body() -> impl Strategy<Value = MessageBody> {
    prop_oneof![
        (
            track(),
            class(),
            0u32..=1_000_000_000,
            gps_time(),
            ecef(),
            distances()
        )
            .prop_map(|(track_id, missile_class, confidence_e9, t, p, (h, v))| {
                MessageBody::LaunchDetection(LaunchBody {
                    track_id,
                    missile_class,
                    confidence_e9,
                    launch_time_gps_us: t,
                    launch_point: p,
                    uncertainty: UncertaintyCm {
                        horizontal: h,
                        vertical: v,
                    },
                })
            }),
        (
            track(),
            0u8..=15,
            0u8..4,
            gps_time(),
            ecef(),
            ecef_velocity(),
            distances()
        )
            .prop_map(|(track_id, quality, ph, t, p, (vx, vy, vz), (h, v))| {
                MessageBody::TrackUpdate(TrackBody {
                    track_id,
                    quality,
                    flight_phase: [
                        FlightPhase::Unknown,
                        FlightPhase::Boost,
                        FlightPhase::Midcourse,
                        FlightPhase::Terminal,
                    ][usize::from(ph)],
                    time_gps_us: t,
                    position: p,
                    velocity: EcefVelMmps {
                        x: vx,
                        y: vy,
                        z: vz,
                    },
                    uncertainty: UncertaintyCm {
                        horizontal: h,
                        vertical: v,
                    },
                })
            }),
        (track(), gps_time(), ecef(), distances(), 0u32..=180_000_000).prop_map(
            |(track_id, t, p, (a, b), o)| MessageBody::ImpactPrediction(ImpactBody {
                track_id,
                impact_time_gps_us: t,
                impact_point: p,
                semi_major_cm: a,
                semi_minor_cm: b,
                orientation_udeg: o,
            })
        ),
        (track(), 0u8..3, gps_time(), proptest::option::of(ecef())).prop_map(
            |(track_id, r, t, p)| MessageBody::EventEnd(EventEndBody {
                track_id,
                reason: [EndReason::Impact, EndReason::Lost, EndReason::Other][usize::from(r)],
                time_gps_us: t,
                final_point: p,
            })
        ),
        (track(), text(80))
            .prop_map(|(track_id, reason)| MessageBody::Cancel(CancelBody { track_id, reason })),
        (
            track(),
            text(80),
            proptest::option::of(gps_time()),
            proptest::option::of(ecef()),
            proptest::option::of(class())
        )
            .prop_map(|(track_id, reason, t, p, c)| MessageBody::Correction(
                CorrectionBody {
                    track_id,
                    reason,
                    corrected_time_gps_us: t,
                    corrected_point: p,
                    corrected_missile_class: c,
                }
            )),
        (
            text(32),
            0u8..3,
            0..trilink_us::wire::UPTIME_US_LIMIT,
            text(100)
        )
            .prop_map(|(component, s, up, detail)| {
                MessageBody::Status(StatusBody {
                    component,
                    state: [
                        ComponentState::Ok,
                        ComponentState::Degraded,
                        ComponentState::Down,
                    ][usize::from(s)],
                    uptime_us: up,
                    detail,
                })
            }),
    ]
}

fn frame() -> impl Strategy<Value = UsFrame> {
    (
        any::<(u16, u8, u8, u8, u8, u16)>(),
        any::<(u8, u8, u8, u16, u16, u16, u16)>(),
        (0u8..3, 0u8..3, 0u8..8, gps_time()),
        (text(20), text(20), text(40)),
        proptest::collection::vec(any::<[u8; 16]>(), 0..4),
        body(),
    )
        .prop_map(
            |(
                (sequence, src_node, src_subnode, dst_node, dst_subnode, transit_time),
                (rc_flag, network, ssc2, npg, ssc1, stn, loopback_id),
                (o, m, releasability, observed_at_gps_us),
                (system, sensor, national_message_id),
                references,
                body,
            )| UsFrame {
                simple: SimpleHeader {
                    sequence,
                    src_node,
                    src_subnode,
                    dst_node,
                    dst_subnode,
                    transit_time,
                },
                link16: Link16Header {
                    rc_flag,
                    network,
                    ssc2,
                    npg,
                    ssc1,
                    stn,
                    loopback_id,
                },
                message: UsMessage {
                    origin: [Nation::Jp, Nation::Kr, Nation::Us][usize::from(o)],
                    mode: [Mode::RealWorld, Mode::Exercise, Mode::Test][usize::from(m)],
                    releasability,
                    observed_at_gps_us,
                    system,
                    sensor,
                    national_message_id,
                    references,
                    body,
                },
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn national_common_national(frame in frame()) {
        let mut bytes = BytesMut::new();
        match UsCodec::default().encode(&frame, &mut bytes) {
            Ok(()) => {}
            Err(UsError::Unrepresentable { field: "message", .. }) => return Ok(()),
            Err(e) => panic!("encode: {e}"),
        }
        // wire round trip
        let Decoded::Frame { frame: decoded, consumed } = UsCodec::default().decode(&bytes).unwrap() else {
            panic!("need more on a whole frame")
        };
        prop_assert_eq!(consumed, bytes.len());
        prop_assert_eq!(&decoded, &frame);
        // translation round trip: a codec configured with the frame's headers reproduces it
        // exactly, bytes included.
        let codec = UsCodec { simple: frame.simple, link16: frame.link16 };
        let env = codec.to_common(&decoded, Utc::now()).unwrap();
        let again = codec.to_national(&env).unwrap();
        prop_assert_eq!(&again, &frame);
        let mut bytes2 = BytesMut::new();
        codec.encode(&again, &mut bytes2).unwrap();
        prop_assert_eq!(bytes2, bytes);
    }

    #[test]
    fn unrepresentable_values_are_typed_errors(env in common::envelope(), which in 0u8..5) {
        let mut env = env;
        match which {
            0 => env.source.system = "s".repeat(65),
            1 => env.source.national_message_id = "n".repeat(129),
            2 => env.observed_at = "1979-06-01T00:00:00Z".parse().unwrap(),
            3 => env.references = (0..30u128).map(|i| trilink_schema::MessageId::from_uuid(uuid::Uuid::from_u128(i))).collect(),
            _ => match &mut env.payload {
                Payload::LaunchDetection(p) => p.launch_point.lat_deg = f64::NAN,
                Payload::TrackUpdate(p) => p.velocity.east_mps = f64::INFINITY,
                Payload::ImpactPrediction(p) => p.error_ellipse.orientation_deg = 181.0,
                Payload::EventEnd(p) => p.time = "1970-01-01T00:00:00Z".parse().unwrap(),
                Payload::Cancel(p) => p.reason = "r".repeat(257),
                Payload::Correction(p) => p.corrected_point = Some(GeoPoint { lat_deg: 0.0, lon_deg: 0.0, alt_m: 2e7 }),
                Payload::Status(p) => p.uptime_s = -1.0,
                // Not carried at all: refused as unrepresentable as it is.
                Payload::CommonEvent(_) => {}
            },
        }
        let err = UsCodec::default().to_national(&env).unwrap_err();
        prop_assert_eq!(err.code(), "unrepresentable");
    }
}

// ---------------------------------------------------------------------------------------------
// Range edges: whatever `to_national` produces, the receiver accepts (spec §8).

fn edge_component() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(VelocityEnu::MAX_COMPONENT_MPS),
        Just(-VelocityEnu::MAX_COMPONENT_MPS),
        -12_000.0f64..=12_000.0,
    ]
}

fn edge_point() -> impl Strategy<Value = GeoPoint> {
    (
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        prop_oneof![
            Just(GeoPoint::ALT_RANGE.0),
            Just(GeoPoint::ALT_RANGE.1),
            -1_000.0f64..=10_000_000.0
        ],
    )
        .prop_map(|(lat_deg, lon_deg, alt_m)| GeoPoint {
            lat_deg,
            lon_deg,
            alt_m,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Altitudes on −1 000 / 10 000 000 m, velocity components on ±12 000 m/s, distances on
    /// 10 000 km: `to_national` either builds a packet that decodes with every value inside
    /// the schema's ranges, or refuses the position or velocity as `unrepresentable` (its
    /// rounding would decode outside the range) — never a packet the receiver rejects.
    #[test]
    fn range_edges_encode_to_decodable_packets_or_are_refused(
        env in common::envelope(),
        p in edge_point(),
        v in (edge_component(), edge_component(), edge_component()),
    ) {
        let mut env = env;
        let max = 10_000_000.0;
        match &mut env.payload {
            Payload::LaunchDetection(d) => {
                d.launch_point = p;
                d.launch_point_uncertainty.horizontal_m = max;
            }
            Payload::TrackUpdate(t) => {
                t.position = p;
                t.velocity = VelocityEnu { east_mps: v.0, north_mps: v.1, up_mps: v.2 };
                t.position_uncertainty.vertical_m = max;
            }
            Payload::ImpactPrediction(i) => {
                i.impact_point = p;
                i.error_ellipse.semi_major_m = max;
            }
            Payload::EventEnd(e) => e.final_point = Some(p),
            Payload::Correction(c) => c.corrected_point = Some(p),
            // `common::envelope()` generates national kinds only.
            Payload::Cancel(_) | Payload::Status(_) | Payload::CommonEvent(_) => {}
        }
        let codec = UsCodec::default();
        let frame = match codec.to_national(&env) {
            Ok(f) => f,
            Err(UsError::Unrepresentable {
                field:
                    "message"
                    | "payload.velocity"
                    | "payload.position"
                    | "payload.launch_point"
                    | "payload.impact_point"
                    | "payload.final_point"
                    | "payload.corrected_point",
                ..
            }) => return Ok(()),
            Err(e) => panic!("to_national failed: {e} for {env:?}"),
        };
        let mut out = BytesMut::new();
        codec.encode(&frame, &mut out).unwrap();
        let back = decode_to_common(&out, env.ingested_at)
            .unwrap_or_else(|e| panic!("to_national built a packet the decoder rejects: {e}"));
        assert_within_precision(&env, &back, env.ingested_at);
    }
}
