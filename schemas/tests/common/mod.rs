//! Shared builders for the schema tests: realistic example envelopes, one per payload kind.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use trilink_schema::{
    Cancel, CommonEvent, ComponentState, ContributionState, Contributor, Correction, EndReason,
    Envelope, ErrorEllipse, EventEnd, EventState, FlightPhase, FusedImpact, FusedLaunch,
    FusedTrack, GeoPoint, Hop, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode,
    Nation, Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate, ValidationContext,
    VelocityEnu,
};

/// The instant the examples are validated at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 0, 10, 0).unwrap()
}

pub fn ctx() -> ValidationContext {
    ValidationContext::at(now())
}

pub fn t(h: u32, m: u32, s: u32, micros: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, h, m, s).unwrap()
        + chrono::Duration::microseconds(i64::from(micros))
}

pub fn all_nations() -> BTreeSet<Nation> {
    Nation::ALL.into_iter().collect()
}

pub fn track() -> TrackId {
    TrackId::new("JP-20261121-0007").unwrap()
}

fn env(
    origin: Nation,
    system: &str,
    sensor: &str,
    nid: &str,
    observed: DateTime<Utc>,
    payload: Payload,
) -> Envelope {
    Envelope::new(
        origin,
        Source {
            system: system.into(),
            sensor: sensor.into(),
            national_message_id: nid.into(),
        },
        observed,
        observed + chrono::Duration::microseconds(850),
        Mode::RealWorld,
        all_nations(),
        payload,
    )
}

pub fn launch_detection() -> Envelope {
    env(
        Nation::Jp,
        "jadgex",
        "fps-5-sado",
        "20261121-000101",
        t(0, 1, 2, 345_678),
        Payload::LaunchDetection(LaunchDetection {
            track_id: track(),
            launch_time: t(0, 0, 58, 0),
            launch_point: GeoPoint {
                lat_deg: 39.660_1,
                lon_deg: 124.705_3,
                alt_m: 12.0,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 2_500.0,
                vertical_m: 500.0,
            },
            missile_class: MissileClass::Irbm,
            confidence: 0.92,
        }),
    )
}

pub fn track_update() -> Envelope {
    env(
        Nation::Jp,
        "jadgex",
        "fps-5-sado",
        "20261121-000102",
        t(0, 2, 10, 125_000),
        Payload::TrackUpdate(TrackUpdate {
            track_id: track(),
            time: t(0, 2, 10, 125_000),
            position: GeoPoint {
                lat_deg: 40.212_345_6,
                lon_deg: 131.987_654_3,
                alt_m: 412_345.5,
            },
            position_uncertainty: PositionUncertainty {
                horizontal_m: 350.0,
                vertical_m: 420.0,
            },
            velocity: VelocityEnu {
                east_mps: 2_150.5,
                north_mps: 310.25,
                up_mps: -120.0,
            },
            quality: 12,
            flight_phase: FlightPhase::Midcourse,
        }),
    )
}

pub fn impact_prediction() -> Envelope {
    let mut e = env(
        Nation::Us,
        "c2bmc",
        "an-tpy-2-kyogamisaki",
        "c2bmc-88213",
        t(0, 3, 0, 500),
        Payload::ImpactPrediction(ImpactPrediction {
            track_id: track(),
            impact_time: t(0, 12, 30, 0),
            impact_point: GeoPoint {
                lat_deg: 40.95,
                lon_deg: 142.1,
                alt_m: 0.0,
            },
            error_ellipse: ErrorEllipse {
                semi_major_m: 18_000.0,
                semi_minor_m: 7_500.0,
                orientation_deg: 62.5,
            },
        }),
    );
    e.references = vec![launch_detection().message_id];
    e
}

pub fn event_end() -> Envelope {
    let mut e = env(
        Nation::Kr,
        "kamd-ops",
        "green-pine-b",
        "KR-20261121-55",
        t(0, 9, 59, 0),
        Payload::EventEnd(EventEnd {
            track_id: track(),
            time: t(0, 9, 58, 0),
            reason: EndReason::Impact,
            final_point: Some(GeoPoint {
                lat_deg: 40.91,
                lon_deg: 142.3,
                alt_m: 0.0,
            }),
        }),
    );
    e.references = vec![launch_detection().message_id];
    e
}

pub fn cancel() -> Envelope {
    let mut e = env(
        Nation::Jp,
        "jadgex",
        "fps-5-sado",
        "20261121-000150",
        t(0, 5, 0, 0),
        Payload::Cancel(Cancel {
            track_id: track(),
            reason: "false alarm: sensor artefact".into(),
        }),
    );
    e.references = vec![launch_detection().message_id, track_update().message_id];
    e
}

pub fn correction() -> Envelope {
    let mut e = env(
        Nation::Jp,
        "jadgex",
        "fps-5-sado",
        "20261121-000120",
        t(0, 4, 0, 0),
        Payload::Correction(Correction {
            track_id: track(),
            reason: "launch point refined".into(),
            corrected_time: Some(t(0, 0, 57, 500_000)),
            corrected_point: Some(GeoPoint {
                lat_deg: 39.655,
                lon_deg: 124.71,
                alt_m: 15.0,
            }),
            corrected_missile_class: Some(MissileClass::Mrbm),
        }),
    );
    e.references = vec![launch_detection().message_id];
    e
}

pub fn status() -> Envelope {
    let mut e = env(
        Nation::Us,
        "trilink",
        "relay-1",
        "status-relay-1-000042",
        t(0, 6, 0, 0),
        Payload::Status(Status {
            component: "relay-1".into(),
            state: ComponentState::Ok,
            uptime_s: 3_600.5,
            detail: "policy v3 loaded".into(),
        }),
    );
    e.relayed_at = Some(t(0, 6, 0, 2_000));
    e.provenance = vec![Hop {
        site: Nation::Us,
        component: "relay-1".into(),
        at: t(0, 6, 0, 2_000),
    }];
    e
}

/// The hub's view of one event for Japan: fused from JP's and the US's tracks.
pub fn common_event() -> Envelope {
    let mut e = env(
        Nation::Us,
        "trilink-hub",
        "correlator",
        "picture-jp-000017",
        t(0, 3, 40, 0),
        Payload::CommonEvent(Box::new(CommonEvent {
            event_id: uuid::Uuid::from_u128(0x5b0e_2f4c_8a31_5d7e_9c02_41f6_aa83_1e57),
            state: EventState::Active,
            first_detected_by: Nation::Jp,
            first_detected_at: t(0, 2, 5, 250_000),
            missile_class: MissileClass::Mrbm,
            contributors: vec![
                Contributor {
                    origin: Nation::Jp,
                    track_id: track(),
                    state: ContributionState::Active,
                    last_report_at: t(0, 3, 39, 500_000),
                },
                Contributor {
                    origin: Nation::Us,
                    track_id: TrackId::new("US-tpy2kyoga-M1").unwrap(),
                    state: ContributionState::Active,
                    last_report_at: t(0, 3, 40, 0),
                },
            ],
            launch: Some(FusedLaunch {
                launch_time: t(0, 1, 40, 0),
                launch_point: GeoPoint {
                    lat_deg: 39.6612,
                    lon_deg: 124.7031,
                    alt_m: 12.0,
                },
                launch_point_uncertainty: PositionUncertainty {
                    horizontal_m: 1_150.0,
                    vertical_m: 1_150.0,
                },
            }),
            track: Some(FusedTrack {
                time: t(0, 3, 40, 0),
                position: GeoPoint {
                    lat_deg: 39.41,
                    lon_deg: 127.95,
                    alt_m: 265_000.0,
                },
                position_uncertainty: PositionUncertainty {
                    horizontal_m: 158.0,
                    vertical_m: 158.0,
                },
                velocity: VelocityEnu {
                    east_mps: 2_480.0,
                    north_mps: -210.0,
                    up_mps: 310.0,
                },
                flight_phase: FlightPhase::Midcourse,
            }),
            impact: Some(FusedImpact {
                impact_time: t(0, 9, 2, 0),
                impact_point: GeoPoint {
                    lat_deg: 38.9,
                    lon_deg: 136.2,
                    alt_m: 0.0,
                },
                error_ellipse: ErrorEllipse {
                    semi_major_m: 9_800.0,
                    semi_minor_m: 4_700.0,
                    orientation_deg: 95.0,
                },
            }),
            end: None,
        })),
    );
    e.releasability = [Nation::Jp, Nation::Us].into_iter().collect();
    e
}

/// One valid example per payload kind, with its file stem.
pub fn valid_examples() -> Vec<(&'static str, Envelope)> {
    vec![
        ("launch_detection", launch_detection()),
        ("track_update", track_update()),
        ("impact_prediction", impact_prediction()),
        ("event_end", event_end()),
        ("cancel", cancel()),
        ("correction", correction()),
        ("status", status()),
        ("common_event", common_event()),
    ]
}

/// Re-derive the message id after a test changed the source.
pub fn rederive(e: &mut Envelope) {
    e.message_id = MessageId::derive(e.origin, &e.source.system, &e.source.national_message_id);
}
