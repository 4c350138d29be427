//! Valid example envelopes for tests, benches and the sample-capture example. Deterministic: the same
//! arguments give the same envelope (and the same message id).

use std::collections::BTreeSet;

use crate::{
    Cancel, ComponentState, Correction, EndReason, Envelope, ErrorEllipse, EventEnd, FlightPhase,
    GeoPoint, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode, Nation, Payload,
    PayloadKind, PositionUncertainty, Source, Status, TrackId, TrackIdError, TrackUpdate,
    VelocityEnu,
};
use chrono::{DateTime, Duration, Utc};

/// Parameters of a sample envelope.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    /// Origin nation.
    pub origin: Nation,
    /// Payload kind.
    pub kind: PayloadKind,
    /// Mode.
    pub mode: Mode,
    /// Releasability (the origin is added if missing).
    pub releasability: BTreeSet<Nation>,
    /// National sequence number (makes the message id unique).
    pub seq: u64,
    /// Observation time; ingestion is 50 ms later.
    pub observed_at: DateTime<Utc>,
    /// The reference point (launch, track, impact, final, corrected point).
    pub point: GeoPoint,
}

/// The national system name used for samples from `origin`.
pub fn system_of(origin: Nation) -> &'static str {
    match origin {
        Nation::Jp => "jadgex",
        Nation::Kr => "kamd",
        Nation::Us => "c2bmc",
    }
}

/// Build a valid envelope from `spec`. Fails only if the derived track id were invalid, which
/// the `<origin>-<seq mod 1000>` pattern never is.
pub fn envelope(spec: &SampleSpec) -> Result<Envelope, TrackIdError> {
    let mut rel = spec.releasability.clone();
    rel.insert(spec.origin);
    let system = system_of(spec.origin);
    let track = TrackId::new(format!("{}-{}", spec.origin, spec.seq % 1000))?;
    let t = spec.observed_at;
    let payload = match spec.kind {
        PayloadKind::LaunchDetection => Payload::LaunchDetection(LaunchDetection {
            track_id: track,
            launch_time: t - Duration::seconds(20),
            launch_point: spec.point,
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 500.0,
                vertical_m: 100.0,
            },
            missile_class: MissileClass::Srbm,
            confidence: 0.9,
        }),
        PayloadKind::TrackUpdate => Payload::TrackUpdate(TrackUpdate {
            track_id: track,
            time: t,
            position: spec.point,
            position_uncertainty: PositionUncertainty {
                horizontal_m: 200.0,
                vertical_m: 80.0,
            },
            velocity: VelocityEnu {
                east_mps: 1200.0,
                north_mps: -300.0,
                up_mps: 500.0,
            },
            quality: 12,
            flight_phase: FlightPhase::Midcourse,
        }),
        PayloadKind::ImpactPrediction => Payload::ImpactPrediction(ImpactPrediction {
            track_id: track,
            impact_time: t + Duration::seconds(300),
            impact_point: spec.point,
            error_ellipse: ErrorEllipse {
                semi_major_m: 8000.0,
                semi_minor_m: 3000.0,
                orientation_deg: 45.0,
            },
        }),
        PayloadKind::EventEnd => Payload::EventEnd(EventEnd {
            track_id: track,
            time: t,
            reason: EndReason::Impact,
            final_point: Some(spec.point),
        }),
        PayloadKind::Cancel => Payload::Cancel(Cancel {
            track_id: track,
            reason: "false alarm".to_owned(),
        }),
        PayloadKind::Correction => Payload::Correction(Correction {
            track_id: track,
            reason: "refined launch point".to_owned(),
            corrected_time: None,
            corrected_point: Some(spec.point),
            corrected_missile_class: None,
        }),
        PayloadKind::Status => Payload::Status(Status {
            component: format!("adapter-{}", spec.origin),
            state: ComponentState::Ok,
            uptime_s: 3600.0,
            detail: String::new(),
        }),
        PayloadKind::CommonEvent => Payload::CommonEvent(Box::new(crate::CommonEvent {
            event_id: *crate::MessageId::derive(spec.origin, "sample-event", &spec.seq.to_string())
                .as_uuid(),
            state: crate::EventState::Active,
            first_detected_by: spec.origin,
            first_detected_at: t,
            missile_class: MissileClass::Srbm,
            contributors: vec![crate::Contributor {
                origin: spec.origin,
                track_id: track,
                state: crate::ContributionState::Active,
                last_report_at: t,
            }],
            launch: None,
            track: None,
            impact: None,
            end: None,
        })),
    };
    let mut env = Envelope::new(
        spec.origin,
        Source {
            system: system.to_owned(),
            sensor: format!("{system}-sensor"),
            national_message_id: format!("{}-{}", spec.kind, spec.seq),
        },
        t,
        t + Duration::milliseconds(50),
        spec.mode,
        rel,
        payload,
    );
    if matches!(spec.kind, PayloadKind::Cancel | PayloadKind::Correction) {
        // Reference the launch detection with the same sequence number.
        env.references.push(MessageId::derive(
            spec.origin,
            system,
            &format!("{}-{}", PayloadKind::LaunchDetection, spec.seq),
        ));
    }
    Ok(env)
}

/// The launch detection of the JP format's worked example (track `JP-T0042`, an IRBM from
/// 39.04 N 125.76 E, system `jadgex`, sensor `fps-5-sado`), here from `origin` with the
/// national message id `national_message_id`, released to JP and US, launched, observed and
/// ingested at `at`: what the runtime's latency and throughput examples send.
pub fn worked_launch(origin: Nation, national_message_id: String, at: DateTime<Utc>) -> Envelope {
    #[allow(clippy::expect_used)] // a constant, valid track id
    let track_id = TrackId::new("JP-T0042").expect("a valid track id");
    Envelope::new(
        origin,
        Source {
            system: "jadgex".into(),
            sensor: "fps-5-sado".into(),
            national_message_id,
        },
        at,
        at,
        Mode::Exercise,
        [Nation::Jp, Nation::Us].into_iter().collect(),
        Payload::LaunchDetection(LaunchDetection {
            track_id,
            launch_time: at,
            launch_point: GeoPoint {
                lat_deg: 39.039_219_3,
                lon_deg: 125.762_524_1,
                alt_m: 35.5,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 1500.0,
                vertical_m: 250.0,
            },
            missile_class: MissileClass::Irbm,
            confidence: 0.87,
        }),
    )
}
