//! Translation between JP frames and common envelopes: fixed point ↔ f64, JST time of day ↔
//! UTC instants, enum codes ↔ schema enums.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use trilink_schema::{
    Cancel, Correction, Envelope, ErrorEllipse, EventEnd, GeoPoint, ImpactPrediction,
    LaunchDetection, Nation, Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate,
    VelocityEnu,
};

use crate::JpError;
use crate::frame::{
    JpBody, JpCancel, JpCorrection, JpEventEnd, JpFrame, JpImpact, JpLaunch, JpPoint, JpStatus,
    JpTrack, MICROS_PER_DAY, limits, ranges, release,
};

/// JST is UTC+9 all year (no daylight saving time).
pub const JST_OFFSET_US: i64 = 9 * 3_600 * 1_000_000;
const DAY: i64 = MICROS_PER_DAY as i64;

/// Resolve a JST time of day (µs since JST midnight) to the UTC instant nearest to
/// `reference`: the result lies in `[reference − 12 h, reference + 12 h)` (an exact 12 h tie
/// resolves to the earlier day). `reference` is truncated to whole microseconds first.
pub fn resolve_tod(tod_us: u64, reference: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tod = i64::try_from(tod_us).ok()?;
    let ref_us = reference.timestamp_micros();
    let ref_tod = ref_us.checked_add(JST_OFFSET_US)?.rem_euclid(DAY);
    let delta = (tod - ref_tod + DAY / 2).rem_euclid(DAY) - DAY / 2;
    DateTime::from_timestamp_micros(ref_us.checked_add(delta)?)
}

/// The JST time of day (µs since JST midnight) of `t`, truncated to the microsecond (toward
/// the past). `None` for a leap second (chrono's `:60`) or an instant at the edge of
/// chrono's range.
pub fn to_tod(t: DateTime<Utc>) -> Option<u64> {
    if t.timestamp_subsec_nanos() >= 1_000_000_000 {
        return None;
    }
    let us = t.timestamp_micros().checked_add(JST_OFFSET_US)?;
    u64::try_from(us.rem_euclid(DAY)).ok()
}

fn resolve(
    tod_us: u64,
    reference: DateTime<Utc>,
    field: &'static str,
) -> Result<DateTime<Utc>, JpError> {
    resolve_tod(tod_us, reference).ok_or(JpError::FieldOutOfRange {
        field,
        value: i64::try_from(tod_us).unwrap_or(i64::MAX),
    })
}

fn tod(t: DateTime<Utc>, field: &'static str) -> Result<u64, JpError> {
    to_tod(t).ok_or(JpError::Unrepresentable { field })
}

fn point_to_common(p: JpPoint) -> GeoPoint {
    GeoPoint {
        lat_deg: f64::from(p.lat_e7) / 1e7,
        lon_deg: f64::from(p.lon_e7) / 1e7,
        alt_m: f64::from(p.alt_cm) / 100.0,
    }
}

fn cm(v: u32) -> f64 {
    f64::from(v) / 100.0
}

/// `x * scale` rounded to the nearest integer (ties away from zero), if finite and within
/// `min ..= max`.
fn fixed(x: f64, scale: f64, min: i64, max: i64, field: &'static str) -> Result<i64, JpError> {
    let v = (x * scale).round();
    if v.is_finite() && v >= min as f64 && v <= max as f64 {
        Ok(v as i64)
    } else {
        Err(JpError::Unrepresentable { field })
    }
}

fn point_to_national(p: &GeoPoint, field: [&'static str; 3]) -> Result<JpPoint, JpError> {
    let [flat, flon, falt] = field;
    Ok(JpPoint {
        lat_e7: fixed(
            p.lat_deg,
            1e7,
            (-ranges::LAT_E7).into(),
            ranges::LAT_E7.into(),
            flat,
        )? as i32,
        lon_e7: fixed(
            p.lon_deg,
            1e7,
            (-ranges::LON_E7).into(),
            ranges::LON_E7.into(),
            flon,
        )? as i32,
        alt_cm: fixed(
            p.alt_m,
            100.0,
            ranges::ALT_CM_MIN.into(),
            ranges::ALT_CM_MAX.into(),
            falt,
        )? as i32,
    })
}

fn dist_cm(x: f64, field: &'static str) -> Result<u32, JpError> {
    Ok(fixed(x, 100.0, 0, ranges::DIST_CM_MAX.into(), field)? as u32)
}

fn vel_mmps(x: f64, field: &'static str) -> Result<i32, JpError> {
    let m = i64::from(ranges::VEL_MMPS);
    Ok(fixed(x, 1000.0, -m, m, field)? as i32)
}

fn text(s: &str, max: usize, field: &'static str) -> Result<String, JpError> {
    if s.len() > max {
        Err(JpError::Unrepresentable { field })
    } else {
        Ok(s.to_owned())
    }
}

fn track(t: &TrackId) -> Result<String, JpError> {
    if TrackId::is_valid(t.as_str()) {
        Ok(t.as_str().to_owned())
    } else {
        Err(JpError::Unrepresentable {
            field: "payload.track_id",
        })
    }
}

fn track_to_common(s: String) -> Result<TrackId, JpError> {
    TrackId::new(s).map_err(|_| JpError::BadText { field: "track_id" })
}

/// Releasability bit mask → set of nations.
pub fn releasability_set(mask: u8) -> BTreeSet<Nation> {
    let mut set = BTreeSet::new();
    for (bit, n) in [
        (release::JP, Nation::Jp),
        (release::KR, Nation::Kr),
        (release::US, Nation::Us),
    ] {
        if mask & bit != 0 {
            set.insert(n);
        }
    }
    set
}

/// Set of nations → releasability bit mask.
pub fn releasability_mask(set: &BTreeSet<Nation>) -> u8 {
    set.iter().fold(0, |m, n| {
        m | match n {
            Nation::Jp => release::JP,
            Nation::Kr => release::KR,
            Nation::Us => release::US,
        }
    })
}

impl JpFrame {
    /// Translate into a common envelope, moving the strings (no copies). `ingested_at` is
    /// the receive time and resolves `observed_tod` (nearest instant, see [`resolve_tod`]);
    /// every other time of day resolves nearest the resolved `observed_at`.
    pub fn into_common(self, ingested_at: DateTime<Utc>) -> Result<Envelope, JpError> {
        let observed_at = resolve(self.observed_tod_us, ingested_at, "observed_tod")?;
        let at = |t: u64, field: &'static str| resolve(t, observed_at, field);
        let payload = match self.body {
            JpBody::LaunchDetection(b) => Payload::LaunchDetection(LaunchDetection {
                track_id: track_to_common(b.track_id)?,
                launch_time: at(b.launch_tod_us, "launch_tod")?,
                launch_point: point_to_common(b.point),
                launch_point_uncertainty: PositionUncertainty {
                    horizontal_m: cm(b.unc_h_cm),
                    vertical_m: cm(b.unc_v_cm),
                },
                missile_class: b.class,
                confidence: f64::from(b.confidence_e4) / 1e4,
            }),
            JpBody::TrackUpdate(b) => Payload::TrackUpdate(TrackUpdate {
                track_id: track_to_common(b.track_id)?,
                time: at(b.tod_us, "track_tod")?,
                position: point_to_common(b.point),
                position_uncertainty: PositionUncertainty {
                    horizontal_m: cm(b.unc_h_cm),
                    vertical_m: cm(b.unc_v_cm),
                },
                velocity: VelocityEnu {
                    east_mps: f64::from(b.vel_e_mmps) / 1000.0,
                    north_mps: f64::from(b.vel_n_mmps) / 1000.0,
                    up_mps: f64::from(b.vel_u_mmps) / 1000.0,
                },
                quality: b.quality,
                flight_phase: b.phase,
            }),
            JpBody::ImpactPrediction(b) => Payload::ImpactPrediction(ImpactPrediction {
                track_id: track_to_common(b.track_id)?,
                impact_time: at(b.impact_tod_us, "impact_tod")?,
                impact_point: point_to_common(b.point),
                error_ellipse: ErrorEllipse {
                    semi_major_m: cm(b.semi_major_cm),
                    semi_minor_m: cm(b.semi_minor_cm),
                    orientation_deg: f64::from(b.orientation_e2) / 100.0,
                },
            }),
            JpBody::EventEnd(b) => Payload::EventEnd(EventEnd {
                track_id: track_to_common(b.track_id)?,
                time: at(b.tod_us, "end_tod")?,
                reason: b.reason,
                final_point: b.final_point.map(point_to_common),
            }),
            JpBody::Cancel(b) => Payload::Cancel(Cancel {
                track_id: track_to_common(b.track_id)?,
                reason: b.reason,
            }),
            JpBody::Correction(b) => Payload::Correction(Correction {
                track_id: track_to_common(b.track_id)?,
                reason: b.reason,
                corrected_time: match b.corrected_tod_us {
                    Some(t) => Some(at(t, "corrected_tod")?),
                    None => None,
                },
                corrected_point: b.corrected_point.map(point_to_common),
                corrected_missile_class: b.corrected_class,
            }),
            JpBody::Status(b) => Payload::Status(Status {
                component: b.component,
                state: b.state,
                uptime_s: b.uptime_us as f64 / 1e6,
                detail: b.detail,
            }),
        };
        let mut env = Envelope::new(
            self.origin,
            Source {
                system: self.system,
                sensor: self.sensor,
                national_message_id: self.national_message_id,
            },
            observed_at,
            ingested_at,
            self.mode,
            releasability_set(self.releasability),
            payload,
        );
        env.references = self.references;
        Ok(env)
    }

    /// Translate a common envelope into a JP frame (`sequence` 0: the sender stamps it).
    pub fn from_common(env: &Envelope) -> Result<Self, JpError> {
        if env.references.len() > limits::REFERENCES {
            return Err(JpError::Unrepresentable {
                field: "references",
            });
        }
        let body = match &env.payload {
            Payload::LaunchDetection(p) => JpBody::LaunchDetection(JpLaunch {
                track_id: track(&p.track_id)?,
                launch_tod_us: tod(p.launch_time, "payload.launch_time")?,
                point: point_to_national(
                    &p.launch_point,
                    [
                        "payload.launch_point.lat_deg",
                        "payload.launch_point.lon_deg",
                        "payload.launch_point.alt_m",
                    ],
                )?,
                unc_h_cm: dist_cm(
                    p.launch_point_uncertainty.horizontal_m,
                    "payload.launch_point_uncertainty.horizontal_m",
                )?,
                unc_v_cm: dist_cm(
                    p.launch_point_uncertainty.vertical_m,
                    "payload.launch_point_uncertainty.vertical_m",
                )?,
                class: p.missile_class,
                confidence_e4: fixed(
                    p.confidence,
                    1e4,
                    0,
                    ranges::CONFIDENCE.into(),
                    "payload.confidence",
                )? as u16,
            }),
            Payload::TrackUpdate(p) => JpBody::TrackUpdate(JpTrack {
                track_id: track(&p.track_id)?,
                tod_us: tod(p.time, "payload.time")?,
                point: point_to_national(
                    &p.position,
                    [
                        "payload.position.lat_deg",
                        "payload.position.lon_deg",
                        "payload.position.alt_m",
                    ],
                )?,
                unc_h_cm: dist_cm(
                    p.position_uncertainty.horizontal_m,
                    "payload.position_uncertainty.horizontal_m",
                )?,
                unc_v_cm: dist_cm(
                    p.position_uncertainty.vertical_m,
                    "payload.position_uncertainty.vertical_m",
                )?,
                vel_e_mmps: vel_mmps(p.velocity.east_mps, "payload.velocity.east_mps")?,
                vel_n_mmps: vel_mmps(p.velocity.north_mps, "payload.velocity.north_mps")?,
                vel_u_mmps: vel_mmps(p.velocity.up_mps, "payload.velocity.up_mps")?,
                quality: if p.quality <= ranges::QUALITY {
                    p.quality
                } else {
                    return Err(JpError::Unrepresentable {
                        field: "payload.quality",
                    });
                },
                phase: p.flight_phase,
            }),
            Payload::ImpactPrediction(p) => JpBody::ImpactPrediction(JpImpact {
                track_id: track(&p.track_id)?,
                impact_tod_us: tod(p.impact_time, "payload.impact_time")?,
                point: point_to_national(
                    &p.impact_point,
                    [
                        "payload.impact_point.lat_deg",
                        "payload.impact_point.lon_deg",
                        "payload.impact_point.alt_m",
                    ],
                )?,
                semi_major_cm: dist_cm(
                    p.error_ellipse.semi_major_m,
                    "payload.error_ellipse.semi_major_m",
                )?,
                semi_minor_cm: dist_cm(
                    p.error_ellipse.semi_minor_m,
                    "payload.error_ellipse.semi_minor_m",
                )?,
                orientation_e2: fixed(
                    p.error_ellipse.orientation_deg,
                    100.0,
                    0,
                    ranges::ORIENTATION.into(),
                    "payload.error_ellipse.orientation_deg",
                )? as u16,
            }),
            Payload::EventEnd(p) => JpBody::EventEnd(JpEventEnd {
                track_id: track(&p.track_id)?,
                tod_us: tod(p.time, "payload.time")?,
                reason: p.reason,
                final_point: match &p.final_point {
                    Some(fp) => Some(point_to_national(
                        fp,
                        [
                            "payload.final_point.lat_deg",
                            "payload.final_point.lon_deg",
                            "payload.final_point.alt_m",
                        ],
                    )?),
                    None => None,
                },
            }),
            Payload::Cancel(p) => JpBody::Cancel(JpCancel {
                track_id: track(&p.track_id)?,
                reason: text(&p.reason, limits::REASON, "payload.reason")?,
            }),
            Payload::Correction(p) => JpBody::Correction(JpCorrection {
                track_id: track(&p.track_id)?,
                reason: text(&p.reason, limits::REASON, "payload.reason")?,
                corrected_tod_us: match p.corrected_time {
                    Some(t) => Some(tod(t, "payload.corrected_time")?),
                    None => None,
                },
                corrected_point: match &p.corrected_point {
                    Some(cp) => Some(point_to_national(
                        cp,
                        [
                            "payload.corrected_point.lat_deg",
                            "payload.corrected_point.lon_deg",
                            "payload.corrected_point.alt_m",
                        ],
                    )?),
                    None => None,
                },
                corrected_class: p.corrected_missile_class,
            }),
            Payload::Status(p) => JpBody::Status(JpStatus {
                component: text(&p.component, limits::COMPONENT, "payload.component")?,
                state: p.state,
                uptime_us: fixed(
                    p.uptime_s,
                    1e6,
                    0,
                    ranges::UPTIME_US as i64,
                    "payload.uptime_s",
                )? as u64,
                detail: text(&p.detail, limits::DETAIL, "payload.detail")?,
            }),
            // The JP format has no common-event message yet (issue 15).
            Payload::CommonEvent(_) => {
                return Err(JpError::Unrepresentable {
                    field: "payload.kind",
                });
            }
        };
        let rel = releasability_mask(&env.releasability);
        Ok(Self {
            sequence: 0,
            origin: env.origin,
            mode: env.mode,
            releasability: rel,
            observed_tod_us: tod(env.observed_at, "observed_at")?,
            system: text(&env.source.system, limits::SYSTEM, "source.system")?,
            sensor: text(&env.source.sensor, limits::SENSOR, "source.sensor")?,
            national_message_id: text(
                &env.source.national_message_id,
                limits::NATIONAL_ID,
                "source.national_message_id",
            )?,
            references: env.references.clone(),
            body,
        })
    }
}
