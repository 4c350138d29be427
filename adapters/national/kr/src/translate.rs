//! Translation between KR sentences and the common schema: [`into_common`] (a decoded
//! sentence → an [`Envelope`]) and [`to_national`] (an envelope → a sentence), with the
//! scaling, range and text checks of kr.md.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use trilink_schema::{
    Cancel, Correction, Envelope, ErrorEllipse, EventEnd, GeoPoint, ImpactPrediction,
    LaunchDetection, Nation, Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate,
    VelocityEnu,
};

use crate::KrError;
use crate::frame::{
    CancelBody, CorrectionBody, End, Header, Impact, KstTime, Launch, Point, Releasability,
    Sentence, SentenceBody, StatusBody, Track, limits,
};

fn scaled(field: &'static str, v: f64, scale: f64, (min, max): (i64, i64)) -> Result<i64, KrError> {
    if !v.is_finite() {
        return Err(KrError::Unrepresentable {
            field,
            reason: "not a finite number",
        });
    }
    let r = (v * scale).round();
    if r < min as f64 || r > max as f64 {
        return Err(KrError::Unrepresentable {
            field,
            reason: "outside the KR field's range",
        });
    }
    Ok(r as i64)
}

fn to_point(field: &'static str, p: &GeoPoint) -> Result<Point, KrError> {
    let deg = limits::UNITS_PER_DEG as f64;
    Ok(Point {
        lat: scaled(field, p.lat_deg, deg, (-limits::LAT_MAX, limits::LAT_MAX))?,
        lon: scaled(field, p.lon_deg, deg, (-limits::LON_MAX, limits::LON_MAX))?,
        alt_cm: scaled(field, p.alt_m, 100.0, limits::ALT_CM)?,
    })
}

fn from_point(p: &Point) -> GeoPoint {
    let deg = limits::UNITS_PER_DEG as f64;
    GeoPoint {
        lat_deg: p.lat as f64 / deg,
        lon_deg: p.lon as f64 / deg,
        alt_m: p.alt_cm as f64 / 100.0,
    }
}

fn to_time(field: &'static str, t: DateTime<Utc>) -> Result<KstTime, KrError> {
    KstTime::from_utc(t).ok_or(KrError::Unrepresentable {
        field,
        reason: "KR times cover 1970-01-01T00:00:00Z ..= 9999-12-31T14:59:59.999999Z",
    })
}

fn to_text(field: &'static str, s: &str, max: usize, required: bool) -> Result<String, KrError> {
    if required && s.is_empty() {
        return Err(KrError::Unrepresentable {
            field,
            reason: "empty text",
        });
    }
    if s.len() > max {
        return Err(KrError::Unrepresentable {
            field,
            reason: "text longer than the KR field allows",
        });
    }
    Ok(s.to_owned())
}

fn to_track_id(t: &TrackId) -> Result<String, KrError> {
    if crate::fields::is_track_id(t.as_str().as_bytes()) {
        Ok(t.as_str().to_owned())
    } else {
        Err(KrError::Unrepresentable {
            field: "payload.track_id",
            reason: "a track id is 1-32 of [A-Za-z0-9_-]",
        })
    }
}

fn track_id(s: String) -> Result<TrackId, KrError> {
    TrackId::new(s).map_err(|_| KrError::BadText {
        field: "track_id",
        reason: "a track id is 1-32 of [A-Za-z0-9_-]",
    })
}

/// Translate an owned sentence (moves its strings instead of copying them).
pub(crate) fn into_common(s: Sentence, ingested_at: DateTime<Utc>) -> Result<Envelope, KrError> {
    let Sentence { header: h, body } = s;
    let payload = match body {
        SentenceBody::Launch(b) => Payload::LaunchDetection(LaunchDetection {
            track_id: track_id(b.track_id)?,
            launch_time: b.launch_time.to_utc(),
            launch_point: from_point(&b.point),
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: b.unc_h_cm as f64 / 100.0,
                vertical_m: b.unc_v_cm as f64 / 100.0,
            },
            missile_class: b.class,
            confidence: b.confidence_e4 as f64 / 10_000.0,
        }),
        SentenceBody::Track(b) => Payload::TrackUpdate(TrackUpdate {
            track_id: track_id(b.track_id)?,
            time: b.time.to_utc(),
            position: from_point(&b.point),
            position_uncertainty: PositionUncertainty {
                horizontal_m: b.unc_h_cm as f64 / 100.0,
                vertical_m: b.unc_v_cm as f64 / 100.0,
            },
            velocity: VelocityEnu {
                east_mps: b.vel_e_cms as f64 / 100.0,
                north_mps: b.vel_n_cms as f64 / 100.0,
                up_mps: b.vel_u_cms as f64 / 100.0,
            },
            quality: b.quality,
            flight_phase: b.phase,
        }),
        SentenceBody::Impact(b) => Payload::ImpactPrediction(ImpactPrediction {
            track_id: track_id(b.track_id)?,
            impact_time: b.impact_time.to_utc(),
            impact_point: from_point(&b.point),
            error_ellipse: ErrorEllipse {
                semi_major_m: b.semi_major_cm as f64 / 100.0,
                semi_minor_m: b.semi_minor_cm as f64 / 100.0,
                orientation_deg: b.orientation_mdeg as f64 / 1_000.0,
            },
        }),
        SentenceBody::End(b) => Payload::EventEnd(EventEnd {
            track_id: track_id(b.track_id)?,
            time: b.time.to_utc(),
            reason: b.reason,
            final_point: b.final_point.as_ref().map(from_point),
        }),
        SentenceBody::Cancel(b) => Payload::Cancel(Cancel {
            track_id: track_id(b.track_id)?,
            reason: b.reason,
        }),
        SentenceBody::Correction(b) => Payload::Correction(Correction {
            track_id: track_id(b.track_id)?,
            reason: b.reason,
            corrected_time: b.corrected_time.map(KstTime::to_utc),
            corrected_point: b.corrected_point.as_ref().map(from_point),
            corrected_missile_class: b.corrected_class,
        }),
        SentenceBody::Status(b) => Payload::Status(Status {
            component: b.component,
            state: b.state,
            uptime_s: b.uptime_ms as f64 / 1_000.0,
            detail: b.detail,
        }),
    };
    let releasability: BTreeSet<Nation> = h.releasability.iter().collect();
    let source = Source {
        system: h.system,
        sensor: h.sensor,
        national_message_id: h.national_message_id,
    };
    let mut env = Envelope::new(
        h.origin,
        source,
        h.observed_at.to_utc(),
        ingested_at,
        h.mode,
        releasability,
        payload,
    );
    env.references = h.references;
    Ok(env)
}

/// Translate an envelope into a sentence (`NationalCodec::to_national`).
pub(crate) fn to_national(env: &Envelope) -> Result<Sentence, KrError> {
    let releasability = env
        .releasability
        .iter()
        .fold(Releasability::EMPTY, |r, n| r.with(*n));
    if releasability.is_empty() {
        return Err(KrError::Unrepresentable {
            field: "releasability",
            reason: "empty",
        });
    }
    let header = Header {
        mode: env.mode,
        origin: env.origin,
        releasability,
        system: to_text(
            "source.system",
            &env.source.system,
            limits::SHORT_TEXT,
            true,
        )?,
        sensor: to_text(
            "source.sensor",
            &env.source.sensor,
            limits::SHORT_TEXT,
            true,
        )?,
        national_message_id: to_text(
            "source.national_message_id",
            &env.source.national_message_id,
            limits::NATIONAL_ID,
            true,
        )?,
        observed_at: to_time("observed_at", env.observed_at)?,
        references: env.references.clone(),
    };
    let body = match &env.payload {
        Payload::LaunchDetection(p) => SentenceBody::Launch(Launch {
            track_id: to_track_id(&p.track_id)?,
            launch_time: to_time("payload.launch_time", p.launch_time)?,
            point: to_point("payload.launch_point", &p.launch_point)?,
            unc_h_cm: scaled(
                "payload.launch_point_uncertainty.horizontal_m",
                p.launch_point_uncertainty.horizontal_m,
                100.0,
                limits::UNC_CM,
            )?,
            unc_v_cm: scaled(
                "payload.launch_point_uncertainty.vertical_m",
                p.launch_point_uncertainty.vertical_m,
                100.0,
                limits::UNC_CM,
            )?,
            class: p.missile_class,
            confidence_e4: scaled(
                "payload.confidence",
                p.confidence,
                10_000.0,
                limits::CONF_E4,
            )?,
        }),
        Payload::TrackUpdate(p) => SentenceBody::Track(Track {
            track_id: to_track_id(&p.track_id)?,
            time: to_time("payload.time", p.time)?,
            point: to_point("payload.position", &p.position)?,
            unc_h_cm: scaled(
                "payload.position_uncertainty.horizontal_m",
                p.position_uncertainty.horizontal_m,
                100.0,
                limits::UNC_CM,
            )?,
            unc_v_cm: scaled(
                "payload.position_uncertainty.vertical_m",
                p.position_uncertainty.vertical_m,
                100.0,
                limits::UNC_CM,
            )?,
            vel_e_cms: scaled(
                "payload.velocity.east_mps",
                p.velocity.east_mps,
                100.0,
                limits::VEL_CMS,
            )?,
            vel_n_cms: scaled(
                "payload.velocity.north_mps",
                p.velocity.north_mps,
                100.0,
                limits::VEL_CMS,
            )?,
            vel_u_cms: scaled(
                "payload.velocity.up_mps",
                p.velocity.up_mps,
                100.0,
                limits::VEL_CMS,
            )?,
            quality: if p.quality <= 15 {
                p.quality
            } else {
                return Err(KrError::Unrepresentable {
                    field: "payload.quality",
                    reason: "quality is 0 ..= 15",
                });
            },
            phase: p.flight_phase,
        }),
        Payload::ImpactPrediction(p) => SentenceBody::Impact(Impact {
            track_id: to_track_id(&p.track_id)?,
            impact_time: to_time("payload.impact_time", p.impact_time)?,
            point: to_point("payload.impact_point", &p.impact_point)?,
            semi_major_cm: scaled(
                "payload.error_ellipse.semi_major_m",
                p.error_ellipse.semi_major_m,
                100.0,
                limits::AXIS_CM,
            )?,
            semi_minor_cm: scaled(
                "payload.error_ellipse.semi_minor_m",
                p.error_ellipse.semi_minor_m,
                100.0,
                limits::AXIS_CM,
            )?,
            orientation_mdeg: scaled(
                "payload.error_ellipse.orientation_deg",
                p.error_ellipse.orientation_deg,
                1_000.0,
                limits::ORIENT_MDEG,
            )?,
        }),
        Payload::EventEnd(p) => SentenceBody::End(End {
            track_id: to_track_id(&p.track_id)?,
            time: to_time("payload.time", p.time)?,
            reason: p.reason,
            final_point: p
                .final_point
                .as_ref()
                .map(|fp| to_point("payload.final_point", fp))
                .transpose()?,
        }),
        Payload::Cancel(p) => SentenceBody::Cancel(CancelBody {
            track_id: to_track_id(&p.track_id)?,
            reason: to_text("payload.reason", &p.reason, limits::FREE_TEXT, true)?,
        }),
        Payload::Correction(p) => SentenceBody::Correction(CorrectionBody {
            track_id: to_track_id(&p.track_id)?,
            reason: to_text("payload.reason", &p.reason, limits::FREE_TEXT, true)?,
            corrected_time: p
                .corrected_time
                .map(|t| to_time("payload.corrected_time", t))
                .transpose()?,
            corrected_point: p
                .corrected_point
                .as_ref()
                .map(|cp| to_point("payload.corrected_point", cp))
                .transpose()?,
            corrected_class: p.corrected_missile_class,
        }),
        Payload::Status(p) => SentenceBody::Status(StatusBody {
            component: to_text("payload.component", &p.component, limits::SHORT_TEXT, true)?,
            state: p.state,
            uptime_ms: scaled("payload.uptime_s", p.uptime_s, 1_000.0, limits::UPTIME_MS)?,
            detail: to_text("payload.detail", &p.detail, limits::FREE_TEXT, false)?,
        }),
        // The KR format has no common-event sentence yet (issue 15).
        Payload::CommonEvent(_) => {
            return Err(KrError::Unrepresentable {
                field: "payload.kind",
                reason: "common_event has no KR sentence yet",
            });
        }
    };
    Ok(Sentence { header, body })
}
