//! Shared helpers for the US codec tests: vector files, tolerant comparison, generators.

#![allow(
    dead_code,
    clippy::missing_panics_doc,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use trilink_schema::{
    Cancel, ComponentState, Correction, EndReason, Envelope, ErrorEllipse, EventEnd, FlightPhase,
    GeoPoint, Hop, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode, Nation,
    Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate, VelocityEnu,
};

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/vectors/us")
}

/// Parse a `.hex` vector: hex digits, whitespace, `#` comments to end of line.
pub fn read_hex(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    hex::decode(digits).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Names (without extension) of files in the vector directory with the given extension.
pub fn names_with(ext: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(vectors_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == ext).then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    v.sort();
    v
}

/// Compare two JSON values; numbers may differ by 1e-9 relative (platform libm differences).
pub fn json_close(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Result<(), String> {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            if (x - y).abs() <= 1e-9 * x.abs().max(1.0) {
                Ok(())
            } else {
                Err(format!("{path}: {x} != {y}"))
            }
        }
        (V::Object(x), V::Object(y)) => {
            let kx: BTreeSet<_> = x.keys().collect();
            let ky: BTreeSet<_> = y.keys().collect();
            if kx != ky {
                return Err(format!("{path}: keys {kx:?} != {ky:?}"));
            }
            for k in kx {
                json_close(&x[k], &y[k], &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (V::Array(x), V::Array(y)) => {
            if x.len() != y.len() {
                return Err(format!("{path}: lengths {} != {}", x.len(), y.len()));
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                json_close(p, q, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ if a == b => Ok(()),
        _ => Err(format!("{path}: {a} != {b}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Generators of envelopes inside the representable domain.

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::string::string_regex(&format!("[a-zA-Z0-9_.:-]{{1,{max_chars}}}")).unwrap(),
        1 => proptest::string::string_regex(&format!("[a-zé漢 ]{{1,{}}}", max_chars / 3)).unwrap(),
    ]
}

pub fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 1980-01-07 .. 2100-01-01, nanosecond resolution.
    (
        315_964_800i64 + 86_400..4_102_444_800i64,
        0u32..1_000_000_000,
    )
        .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).unwrap())
}

pub fn point() -> impl Strategy<Value = GeoPoint> {
    (
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        prop_oneof![
            -1_000.0f64..10_000.0,
            0.0f64..2_000_000.0,
            0.0f64..=10_000_000.0
        ],
    )
        .prop_map(|(lat_deg, lon_deg, alt_m)| GeoPoint {
            lat_deg,
            lon_deg,
            alt_m,
        })
}

fn uncertainty() -> impl Strategy<Value = PositionUncertainty> {
    (0.0f64..10_000_000.0, 0.0f64..10_000_000.0).prop_map(|(h, v)| PositionUncertainty {
        horizontal_m: h,
        vertical_m: v,
    })
}

fn track_id() -> impl Strategy<Value = TrackId> {
    proptest::string::string_regex("[A-Za-z0-9_-]{1,32}")
        .unwrap()
        .prop_map(|s| TrackId::new(s).unwrap())
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

fn payload() -> impl Strategy<Value = Payload> {
    let v = -12_000.0f64..=12_000.0;
    prop_oneof![
        (
            track_id(),
            time(),
            point(),
            uncertainty(),
            class(),
            0.0f64..=1.0
        )
            .prop_map(
                |(track_id, launch_time, launch_point, u, missile_class, confidence)| {
                    Payload::LaunchDetection(LaunchDetection {
                        track_id,
                        launch_time,
                        launch_point,
                        launch_point_uncertainty: u,
                        missile_class,
                        confidence,
                    })
                }
            ),
        (
            track_id(),
            time(),
            point(),
            uncertainty(),
            (v.clone(), v.clone(), v),
            0u8..=15,
            prop_oneof![
                Just(FlightPhase::Boost),
                Just(FlightPhase::Midcourse),
                Just(FlightPhase::Terminal),
                Just(FlightPhase::Unknown)
            ]
        )
            .prop_map(
                |(track_id, time, position, u, (e, n, up), quality, flight_phase)| {
                    Payload::TrackUpdate(TrackUpdate {
                        track_id,
                        time,
                        position,
                        position_uncertainty: u,
                        velocity: VelocityEnu {
                            east_mps: e,
                            north_mps: n,
                            up_mps: up,
                        },
                        quality,
                        flight_phase,
                    })
                }
            ),
        (
            track_id(),
            time(),
            point(),
            0.0f64..1e7,
            0.0f64..1e7,
            0.0f64..=180.0
        )
            .prop_map(|(track_id, impact_time, impact_point, a, b, o)| {
                Payload::ImpactPrediction(ImpactPrediction {
                    track_id,
                    impact_time,
                    impact_point,
                    error_ellipse: ErrorEllipse {
                        semi_major_m: a.max(b),
                        semi_minor_m: a.min(b),
                        orientation_deg: o,
                    },
                })
            }),
        (
            track_id(),
            time(),
            prop_oneof![
                Just(EndReason::Impact),
                Just(EndReason::Lost),
                Just(EndReason::Other)
            ],
            proptest::option::of(point())
        )
            .prop_map(|(track_id, time, reason, final_point)| {
                Payload::EventEnd(EventEnd {
                    track_id,
                    time,
                    reason,
                    final_point,
                })
            }),
        (track_id(), text(60))
            .prop_map(|(track_id, reason)| Payload::Cancel(Cancel { track_id, reason })),
        (
            track_id(),
            text(60),
            proptest::option::of(time()),
            proptest::option::of(point()),
            proptest::option::of(class())
        )
            .prop_map(
                |(track_id, reason, t, p, c)| Payload::Correction(Correction {
                    track_id,
                    reason,
                    corrected_time: t,
                    corrected_point: p,
                    corrected_missile_class: c,
                })
            ),
        (
            text(32),
            prop_oneof![
                Just(ComponentState::Ok),
                Just(ComponentState::Degraded),
                Just(ComponentState::Down)
            ],
            0.0f64..1e9,
            prop_oneof![Just(String::new()), text(80)]
        )
            .prop_map(
                |(component, state, uptime_s, detail)| Payload::Status(Status {
                    component,
                    state,
                    uptime_s,
                    detail,
                })
            ),
    ]
}

fn nation() -> impl Strategy<Value = Nation> {
    prop_oneof![Just(Nation::Jp), Just(Nation::Kr), Just(Nation::Us)]
}

/// Envelopes the US format can carry (texts short enough to fit the 48-word packet).
pub fn envelope() -> impl Strategy<Value = Envelope> {
    (
        nation(),
        (text(24), text(24), text(40)),
        time(),
        time(),
        prop_oneof![
            Just(Mode::RealWorld),
            Just(Mode::Exercise),
            Just(Mode::Test)
        ],
        proptest::collection::btree_set(nation(), 0..=3),
        proptest::collection::vec(any::<u128>(), 0..4),
        payload(),
        proptest::option::of(time()),
        1u8..=8,
    )
        .prop_map(
            |(
                origin,
                (system, sensor, nid),
                observed_at,
                ingested_at,
                mode,
                rel,
                refs,
                payload,
                relayed,
                hop_limit,
            )| {
                let mut e = Envelope::new(
                    origin,
                    Source {
                        system,
                        sensor,
                        national_message_id: nid,
                    },
                    observed_at,
                    ingested_at,
                    mode,
                    rel,
                    payload,
                );
                e.references = refs
                    .into_iter()
                    .map(|r| MessageId::from_uuid(uuid::Uuid::from_u128(r)))
                    .collect();
                e.relayed_at = relayed;
                e.hop_limit = hop_limit;
                if relayed.is_some() {
                    e.provenance = vec![Hop {
                        site: Nation::Us,
                        component: "relay-1".into(),
                        at: observed_at,
                    }];
                }
                e
            },
        )
}
