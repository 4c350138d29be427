//! Test helpers: envelopes of every kind the view draws.

#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use trilink_schema::{
    CommonEvent, ComponentState, ContributionState, Contributor, Envelope, ErrorEllipse,
    EventState, FusedImpact, FusedLaunch, FusedTrack, GeoPoint, ImpactPrediction, LaunchDetection,
    MissileClass, Mode, Nation, Payload, PositionUncertainty, Source, Status, Subject, TrackId,
    TrackUpdate, VelocityEnu,
};
use uuid::Uuid;

pub fn envelope(
    origin: Nation,
    mode: Mode,
    rel: &[Nation],
    national_id: &str,
    now: DateTime<Utc>,
    payload: Payload,
) -> Envelope {
    Envelope::new(
        origin,
        Source {
            system: "view-test".to_owned(),
            sensor: "sensor-1".to_owned(),
            national_message_id: national_id.to_owned(),
        },
        now,
        now,
        mode,
        rel.iter().copied().chain([origin]).collect(),
        payload,
    )
}

pub fn point(lat: f64, lon: f64, alt: f64) -> GeoPoint {
    GeoPoint {
        lat_deg: lat,
        lon_deg: lon,
        alt_m: alt,
    }
}

pub fn launch(track: &str, at: DateTime<Utc>, p: GeoPoint) -> Payload {
    Payload::LaunchDetection(LaunchDetection {
        track_id: TrackId::new(track).unwrap(),
        launch_time: at,
        launch_point: p,
        launch_point_uncertainty: PositionUncertainty {
            horizontal_m: 500.0,
            vertical_m: 100.0,
        },
        missile_class: MissileClass::Mrbm,
        confidence: 0.9,
    })
}

pub fn update(track: &str, at: DateTime<Utc>, p: GeoPoint) -> Payload {
    Payload::TrackUpdate(TrackUpdate {
        track_id: TrackId::new(track).unwrap(),
        time: at,
        position: p,
        position_uncertainty: PositionUncertainty {
            horizontal_m: 300.0,
            vertical_m: 300.0,
        },
        velocity: VelocityEnu {
            east_mps: 1500.0,
            north_mps: 200.0,
            up_mps: 100.0,
        },
        quality: 12,
        flight_phase: trilink_schema::FlightPhase::Midcourse,
    })
}

pub fn impact(track: &str, at: DateTime<Utc>, p: GeoPoint) -> Payload {
    Payload::ImpactPrediction(ImpactPrediction {
        track_id: TrackId::new(track).unwrap(),
        impact_time: at + Duration::seconds(400),
        impact_point: p,
        error_ellipse: ErrorEllipse {
            semi_major_m: 40_000.0,
            semi_minor_m: 15_000.0,
            orientation_deg: 60.0,
        },
    })
}

/// A heartbeat of `component` at `site`, and its subject.
pub fn heartbeat(site: Nation, component: &str, now: DateTime<Utc>, seq: u64) -> (String, Vec<u8>) {
    let env = envelope(
        site,
        Mode::RealWorld,
        &[],
        &format!("{component}-{seq}"),
        now,
        Payload::Status(Status {
            component: component.to_owned(),
            state: ComponentState::Ok,
            uptime_s: seq as f64,
            detail: String::new(),
        }),
    );
    let subject = Subject::Status {
        site,
        component: component.to_owned(),
    }
    .to_string();
    (subject, env.to_json().unwrap())
}

/// `(subject on dest's output, body)` of an envelope.
pub fn out(env: &Envelope, dest: Nation) -> (String, Vec<u8>) {
    (
        Subject::output_for(env, dest).to_string(),
        env.to_json().unwrap(),
    )
}

/// The id of test event `name` (UUID v5, like the hub's).
pub fn event_id(name: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())
}

/// A common event as the hub publishes it: fused launch at `from`, fused track at `at` and
/// `pos`, fused impact at `to` with a 30 x 12 km ellipse.
pub fn common_event(
    id: Uuid,
    state: EventState,
    contributors: &[(Nation, &str)],
    at: DateTime<Utc>,
    from: GeoPoint,
    pos: GeoPoint,
    to: GeoPoint,
) -> Payload {
    Payload::CommonEvent(Box::new(CommonEvent {
        event_id: id,
        state,
        first_detected_by: contributors.first().map_or(Nation::Us, |c| c.0),
        first_detected_at: at - Duration::seconds(30),
        missile_class: MissileClass::Mrbm,
        contributors: contributors
            .iter()
            .map(|(o, t)| Contributor {
                origin: *o,
                track_id: TrackId::new(*t).unwrap(),
                state: ContributionState::Active,
                last_report_at: at,
            })
            .collect(),
        launch: Some(FusedLaunch {
            launch_time: at - Duration::seconds(60),
            launch_point: from,
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 800.0,
                vertical_m: 800.0,
            },
        }),
        track: Some(FusedTrack {
            time: at,
            position: pos,
            position_uncertainty: PositionUncertainty {
                horizontal_m: 150.0,
                vertical_m: 150.0,
            },
            velocity: VelocityEnu {
                east_mps: 2000.0,
                north_mps: -100.0,
                up_mps: 50.0,
            },
            flight_phase: trilink_schema::FlightPhase::Midcourse,
        }),
        impact: Some(FusedImpact {
            impact_time: at + Duration::seconds(300),
            impact_point: to,
            error_ellipse: ErrorEllipse {
                semi_major_m: 30_000.0,
                semi_minor_m: 12_000.0,
                orientation_deg: 80.0,
            },
        }),
        end: None,
    }))
}

/// `(subject, body)` of a common event as the hub publishes it to `dest`:
/// `tl.out.<dest>.common_event.us.<event id, simple>`.
pub fn common_out(env: &Envelope, dest: Nation) -> (String, Vec<u8>) {
    let id = match &env.payload {
        Payload::CommonEvent(e) => e.event_id.simple().to_string(),
        _ => env.message_id.to_string(),
    };
    (
        format!("tl.out.{dest}.common_event.{}.{id}", env.origin),
        env.to_json().unwrap(),
    )
}
