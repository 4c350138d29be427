//! Proptest strategies over the common schema (feature `testing`): the one generator of valid
//! envelopes ([`envelope`]) the tests share. Time is passed in, so a run is reproducible.

// Test fixtures: a panic here is a failing test, not a production fault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use crate::{
    Cancel, ComponentState, Correction, EndReason, Envelope, ErrorEllipse, EventEnd, FlightPhase,
    GeoPoint, Hop, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode, Nation,
    Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate, VelocityEnu,
};

/// Any nation.
pub fn nation() -> impl Strategy<Value = Nation> {
    prop::sample::select(Nation::ALL.to_vec())
}

/// Instants up to a day before `now`, with nanosecond precision.
fn instant(now: DateTime<Utc>) -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..86_400_000_000_000).prop_map(move |ns| now - Duration::nanoseconds(ns))
}

fn point() -> impl Strategy<Value = GeoPoint> {
    (
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        -1_000.0f64..=2_000_000.0,
    )
        .prop_map(|(lat_deg, lon_deg, alt_m)| GeoPoint {
            lat_deg,
            lon_deg,
            alt_m,
        })
}

fn uncertainty() -> impl Strategy<Value = PositionUncertainty> {
    (0.0f64..1e6, 0.0f64..1e6).prop_map(|(horizontal_m, vertical_m)| PositionUncertainty {
        horizontal_m,
        vertical_m,
    })
}

fn track_id() -> impl Strategy<Value = TrackId> {
    "[A-Za-z0-9_-]{1,32}".prop_map(|s| TrackId::new(s).unwrap())
}

fn text(max: usize) -> impl Strategy<Value = String> {
    // Printable text including non-ASCII and JSON-special characters; never blank; at most
    // `max` bytes (3 bytes per character at worst).
    prop::string::string_regex(&format!(
        "[a-zA-Z0-9][ -~éü한日\"\\\\]{{0,{}}}",
        (max / 3).min(40) - 1
    ))
    .unwrap()
}

/// Any message id (a random UUID).
pub fn message_id() -> impl Strategy<Value = MessageId> {
    any::<u128>().prop_map(|r| MessageId::from_uuid(uuid_from(r)))
}

/// Any missile class.
pub fn missile_class() -> impl Strategy<Value = MissileClass> {
    prop::sample::select(vec![
        MissileClass::Srbm,
        MissileClass::Mrbm,
        MissileClass::Irbm,
        MissileClass::Icbm,
        MissileClass::Slbm,
        MissileClass::Unknown,
    ])
}

/// Any valid payload, its times up to a day before `now` (impacts two hours after that).
pub fn payload(now: DateTime<Utc>) -> impl Strategy<Value = Payload> {
    let v = -12_000.0f64..=12_000.0;
    prop_oneof![
        (
            track_id(),
            instant(now),
            point(),
            uncertainty(),
            missile_class(),
            0.0f64..=1.0
        )
            .prop_map(
                |(
                    track_id,
                    launch_time,
                    launch_point,
                    launch_point_uncertainty,
                    missile_class,
                    confidence,
                )| {
                    Payload::LaunchDetection(LaunchDetection {
                        track_id,
                        launch_time,
                        launch_point,
                        launch_point_uncertainty,
                        missile_class,
                        confidence,
                    })
                }
            ),
        (
            track_id(),
            instant(now),
            point(),
            uncertainty(),
            (v.clone(), v.clone(), v),
            0u8..=15,
            prop::sample::select(vec![
                FlightPhase::Boost,
                FlightPhase::Midcourse,
                FlightPhase::Terminal,
                FlightPhase::Unknown
            ])
        )
            .prop_map(
                |(
                    track_id,
                    time,
                    position,
                    position_uncertainty,
                    (e, n, u),
                    quality,
                    flight_phase,
                )| {
                    Payload::TrackUpdate(TrackUpdate {
                        track_id,
                        time,
                        position,
                        position_uncertainty,
                        velocity: VelocityEnu {
                            east_mps: e,
                            north_mps: n,
                            up_mps: u,
                        },
                        quality,
                        flight_phase,
                    })
                }
            ),
        (
            track_id(),
            instant(now),
            point(),
            0.0f64..1e6,
            0.0f64..=1.0,
            0.0f64..=180.0
        )
            .prop_map(
                |(track_id, t, impact_point, major, ratio, orientation_deg)| {
                    Payload::ImpactPrediction(ImpactPrediction {
                        track_id,
                        impact_time: t + Duration::hours(2),
                        impact_point,
                        error_ellipse: ErrorEllipse {
                            semi_major_m: major,
                            semi_minor_m: major * ratio,
                            orientation_deg,
                        },
                    })
                }
            ),
        (
            track_id(),
            instant(now),
            prop::sample::select(vec![EndReason::Impact, EndReason::Lost, EndReason::Other]),
            prop::option::of(point())
        )
            .prop_map(|(track_id, time, reason, final_point)| Payload::EventEnd(
                EventEnd {
                    track_id,
                    time,
                    reason,
                    final_point
                }
            )),
        (track_id(), text(256))
            .prop_map(|(track_id, reason)| Payload::Cancel(Cancel { track_id, reason })),
        (
            track_id(),
            text(256),
            prop::option::of(instant(now)),
            prop::option::of(point()),
            prop::option::of(missile_class())
        )
            .prop_map(
                |(track_id, reason, corrected_time, corrected_point, corrected_missile_class)| {
                    Payload::Correction(Correction {
                        track_id,
                        reason,
                        corrected_time,
                        corrected_point,
                        corrected_missile_class,
                    })
                }
            ),
        (
            text(64),
            prop::sample::select(vec![
                ComponentState::Ok,
                ComponentState::Degraded,
                ComponentState::Down
            ]),
            0.0f64..1e9,
            "[ -~]{0,100}"
        )
            .prop_map(
                |(component, state, uptime_s, detail)| Payload::Status(Status {
                    component,
                    state,
                    uptime_s,
                    detail
                })
            ),
    ]
}

prop_compose! {
    /// Any valid envelope as of `now` (it passes `validate` with `ValidationContext::at(now)`):
    /// every payload kind, mode and releasability, texts with JSON-special and non-ASCII
    /// characters, provenance, hop limits and references.
    pub fn envelope(now: DateTime<Utc>)(
        origin in nation(),
        system in text(64),
        sensor in text(64),
        nid in text(128),
        observed in instant(now),
        lag_ns in 0i64..5_000_000_000,
        mode in prop::sample::select(Mode::ALL.to_vec()),
        extra in prop::collection::btree_set(nation(), 0..3),
        hops in 0usize..3,
        hop_limit in 3u8..=10,
        refs in prop::collection::btree_set(any::<u128>(), 0..4),
        payload in payload(now),
        relayed in any::<bool>(),
    ) -> Envelope {
        let mut releasability: BTreeSet<Nation> = extra;
        releasability.insert(origin);
        let ingested_at = (observed + Duration::nanoseconds(lag_ns)).min(now);
        let mut e = Envelope::new(
            origin,
            Source { system, sensor, national_message_id: nid },
            observed,
            ingested_at,
            mode,
            releasability,
            payload,
        );
        e.hop_limit = hop_limit;
        e.relayed_at = relayed.then_some(ingested_at);
        e.provenance = (0..hops).map(|i| Hop { site: Nation::Us, component: format!("relay-{i}"), at: ingested_at }).collect();
        e.references = refs.into_iter().map(|r| MessageId::from_uuid(uuid_from(r))).collect();
        if matches!(e.payload, Payload::Cancel(_) | Payload::Correction(_)) && e.references.is_empty() {
            e.references.push(MessageId::derive(Nation::Us, "earlier", "1"));
        }
        e
    }
}

fn uuid_from(r: u128) -> uuid::Uuid {
    uuid::Uuid::from_u128(r)
}
