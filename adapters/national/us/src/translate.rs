//! Translation between [`UsFrame`] and the common [`Envelope`] (spec §8).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use trilink_schema::{
    Cancel, Correction, DEFAULT_HOP_LIMIT, Envelope, ErrorEllipse, EventEnd, GeoPoint,
    ImpactPrediction, LaunchDetection, MessageId, Nation, Payload, PositionUncertainty,
    SCHEMA_VERSION, Source, Status, TrackId, TrackUpdate, VelocityEnu,
};

use crate::UsError;
use crate::geo;
use crate::gps;
use crate::wire::{
    AssociationBody, AssociationMember, CancelBody, CorrectionBody, DISTANCE_CM_MAX, EcefCm,
    EcefVelMmps, EventEndBody, ImpactBody, LaunchBody, Link16Header, MessageBody, SimpleHeader,
    StatusBody, TrackBody, UncertaintyCm, UsFrame, UsMessage,
};

fn time(field: &'static str, gps_us: u64) -> Result<DateTime<Utc>, UsError> {
    gps::gps_us_to_utc(gps_us).ok_or(UsError::FieldOutOfRange {
        field,
        value: i64::try_from(gps_us).unwrap_or(i64::MAX),
    })
}

fn point(field: &'static str, p: &EcefCm) -> Result<GeoPoint, UsError> {
    let g = geo::ecef_to_geodetic(
        f64::from(p.x) / 100.0,
        f64::from(p.y) / 100.0,
        f64::from(p.z) / 100.0,
    );
    let (lo, hi) = GeoPoint::ALT_RANGE;
    if g.lat_deg.is_finite() && g.lon_deg.is_finite() && (lo..=hi).contains(&g.alt_m) {
        Ok(g)
    } else {
        // Outside the schema's altitude range (or the Earth's centre): the common schema
        // cannot carry it, and it could not be encoded back (spec §6). Value: altitude, m.
        Err(UsError::FieldOutOfRange {
            field,
            value: if g.alt_m.is_finite() {
                g.alt_m as i64
            } else {
                i64::MIN
            },
        })
    }
}

/// ECEF mm/s → ENU m/s at the decoded position `at`, or `field_out_of_range` when a
/// component lies outside the common schema's ±12 000 m/s (spec §6, §9 step 18): an i32 mm/s
/// ECEF velocity can be ~180 times faster, and the common schema, JP and KR cannot carry it.
/// Value: the offending component, m/s.
fn enu_velocity(v: &EcefVelMmps, at: &GeoPoint) -> Result<VelocityEnu, UsError> {
    let enu = geo::ecef_to_enu_velocity(
        f64::from(v.x) / 1000.0,
        f64::from(v.y) / 1000.0,
        f64::from(v.z) / 1000.0,
        at,
    );
    let max = VelocityEnu::MAX_COMPONENT_MPS;
    for c in [enu.east_mps, enu.north_mps, enu.up_mps] {
        if !(c.is_finite() && (-max..=max).contains(&c)) {
            return Err(UsError::FieldOutOfRange {
                field: "velocity",
                value: if c.is_finite() { c as i64 } else { i64::MIN },
            });
        }
    }
    Ok(enu)
}

fn uncertainty(u: UncertaintyCm) -> PositionUncertainty {
    PositionUncertainty {
        horizontal_m: f64::from(u.horizontal) / 100.0,
        vertical_m: f64::from(u.vertical) / 100.0,
    }
}

fn releasability(bits: u8) -> BTreeSet<Nation> {
    let mut s = BTreeSet::new();
    for (bit, n) in [(1u8, Nation::Jp), (2, Nation::Kr), (4, Nation::Us)] {
        if bits & bit != 0 {
            s.insert(n);
        }
    }
    s
}

/// Frame → envelope. `message_id` is derived; `ingested_at` is the argument.
pub fn to_common(frame: &UsFrame, ingested_at: DateTime<Utc>) -> Result<Envelope, UsError> {
    into_common(frame.message.clone(), ingested_at)
}

/// Like [`to_common`], consuming the message so its strings move instead of being copied.
pub fn into_common(m: UsMessage, ingested_at: DateTime<Utc>) -> Result<Envelope, UsError> {
    let observed_at = time("observed_at", m.observed_at_gps_us)?;
    let message_id = MessageId::derive(m.origin, &m.system, &m.national_message_id);
    let payload = match m.body {
        MessageBody::LaunchDetection(b) => Payload::LaunchDetection(LaunchDetection {
            track_id: track_id(b.track_id)?,
            launch_time: time("launch_time", b.launch_time_gps_us)?,
            launch_point: point("launch_point", &b.launch_point)?,
            launch_point_uncertainty: uncertainty(b.uncertainty),
            missile_class: b.missile_class,
            confidence: f64::from(b.confidence_e9) / 1e9,
        }),
        MessageBody::TrackUpdate(b) => {
            let track_id = track_id(b.track_id)?;
            let position = point("position", &b.position)?;
            let velocity = enu_velocity(&b.velocity, &position)?;
            Payload::TrackUpdate(TrackUpdate {
                track_id,
                time: time("time", b.time_gps_us)?,
                position,
                position_uncertainty: uncertainty(b.uncertainty),
                velocity,
                quality: b.quality,
                flight_phase: b.flight_phase,
            })
        }
        MessageBody::ImpactPrediction(b) => Payload::ImpactPrediction(ImpactPrediction {
            track_id: track_id(b.track_id)?,
            impact_time: time("impact_time", b.impact_time_gps_us)?,
            impact_point: point("impact_point", &b.impact_point)?,
            error_ellipse: ErrorEllipse {
                semi_major_m: f64::from(b.semi_major_cm) / 100.0,
                semi_minor_m: f64::from(b.semi_minor_cm) / 100.0,
                orientation_deg: f64::from(b.orientation_udeg) / 1e6,
            },
        }),
        MessageBody::EventEnd(b) => Payload::EventEnd(EventEnd {
            track_id: track_id(b.track_id)?,
            time: time("time", b.time_gps_us)?,
            reason: b.reason,
            final_point: b
                .final_point
                .as_ref()
                .map(|p| point("final_point", p))
                .transpose()?,
        }),
        MessageBody::Cancel(b) => Payload::Cancel(Cancel {
            track_id: track_id(b.track_id)?,
            reason: b.reason,
        }),
        MessageBody::Correction(b) => Payload::Correction(Correction {
            track_id: track_id(b.track_id)?,
            reason: b.reason,
            corrected_time: b
                .corrected_time_gps_us
                .map(|t| time("corrected_time", t))
                .transpose()?,
            corrected_point: b
                .corrected_point
                .as_ref()
                .map(|p| point("corrected_point", p))
                .transpose()?,
            corrected_missile_class: b.corrected_missile_class,
        }),
        MessageBody::Status(b) => Payload::Status(Status {
            component: b.component,
            state: b.state,
            uptime_s: b.uptime_us as f64 / 1e6,
            detail: b.detail,
        }),
        // The hub's statement about a common event: never national input (us.md §9 step 18).
        MessageBody::Association(_) => {
            return Err(UsError::HubOnly {
                what: "J7.7 association",
            });
        }
    };
    Ok(Envelope {
        schema_version: SCHEMA_VERSION,
        message_id,
        origin: m.origin,
        source: Source {
            system: m.system,
            sensor: m.sensor,
            national_message_id: m.national_message_id,
        },
        observed_at,
        ingested_at,
        relayed_at: None,
        mode: m.mode,
        releasability: releasability(m.releasability),
        provenance: Vec::new(),
        hop_limit: DEFAULT_HOP_LIMIT,
        references: m
            .references
            .iter()
            .map(|r| MessageId::from_uuid(uuid::Uuid::from_bytes(*r)))
            .collect(),
        payload,
    })
}

/// A track id must be a valid subject token (1–32 of `[A-Za-z0-9_-]`); anything else is
/// rejected here as `bad_text`, because [`TrackId`] cannot hold it.
fn track_id(s: String) -> Result<TrackId, UsError> {
    TrackId::new(s).map_err(|_| UsError::BadText { field: "track_id" })
}

// ---------------------------------------------------------------------------------------------

fn unrep(field: &'static str, why: &'static str) -> UsError {
    UsError::Unrepresentable { field, why }
}

fn gps_time(field: &'static str, t: DateTime<Utc>) -> Result<u64, UsError> {
    gps::utc_to_gps_us(t).ok_or(unrep(
        field,
        "before the GPS epoch 1980-01-06 or at/after 2^56 µs after it",
    ))
}

/// Geodetic → centimetre ECEF, and the geodetic point the receiver decodes from it.
fn ecef_decoded(field: &'static str, p: &GeoPoint) -> Result<(EcefCm, GeoPoint), UsError> {
    if !(p.lat_deg.is_finite() && (-90.0..=90.0).contains(&p.lat_deg)) {
        return Err(unrep(field, "latitude not finite or outside -90..=90"));
    }
    if !(p.lon_deg.is_finite() && (-180.0..=180.0).contains(&p.lon_deg)) {
        return Err(unrep(field, "longitude not finite or outside -180..=180"));
    }
    if !(p.alt_m.is_finite() && (GeoPoint::ALT_RANGE.0..=GeoPoint::ALT_RANGE.1).contains(&p.alt_m))
    {
        return Err(unrep(field, "altitude not finite or outside -1000..=1e7 m"));
    }
    let (x, y, z) = geo::geodetic_to_ecef(p);
    let cm = EcefCm {
        x: to_i32(field, x * 100.0)?,
        y: to_i32(field, y * 100.0)?,
        z: to_i32(field, z * 100.0)?,
    };
    // The receiver converts the centimetre point back and rejects an altitude outside the
    // schema's range (§9 step 18). A point within ~1 cm of a range edge can round to one that
    // decodes just outside it: the format cannot carry that point (spec §8).
    let at = point(field, &cm).map_err(|_| {
        unrep(
            field,
            "altitude so close to -1000 or 1e7 m that the centimetre ECEF point decodes outside the range",
        )
    })?;
    Ok((cm, at))
}

fn ecef(field: &'static str, p: &GeoPoint) -> Result<EcefCm, UsError> {
    ecef_decoded(field, p).map(|(cm, _)| cm)
}

fn to_i32(field: &'static str, v: f64) -> Result<i32, UsError> {
    let r = v.round();
    if r.is_finite() && r >= f64::from(i32::MIN) && r <= f64::from(i32::MAX) {
        Ok(r as i32)
    } else {
        Err(unrep(field, "outside the 32-bit fixed-point range"))
    }
}

/// Uncertainty or ellipse axis, metres → centimetres (0 ..= [`DISTANCE_CM_MAX`]).
fn distance_cm(field: &'static str, v: f64) -> Result<u32, UsError> {
    let r = (v * 100.0).round();
    if v.is_finite() && r >= 0.0 && r <= f64::from(DISTANCE_CM_MAX) {
        Ok(r as u32)
    } else {
        Err(unrep(
            field,
            "negative, not finite or above 10 000 km (1e9 cm)",
        ))
    }
}

fn uncertainty_cm(field: &'static str, u: &PositionUncertainty) -> Result<UncertaintyCm, UsError> {
    Ok(UncertaintyCm {
        horizontal: distance_cm(field, u.horizontal_m)?,
        vertical: distance_cm(field, u.vertical_m)?,
    })
}

fn velocity(v: &VelocityEnu, at: &GeoPoint) -> Result<EcefVelMmps, UsError> {
    const F: &str = "payload.velocity";
    if !(v.east_mps.is_finite() && v.north_mps.is_finite() && v.up_mps.is_finite()) {
        return Err(unrep(F, "not finite"));
    }
    let (x, y, z) = geo::enu_to_ecef_velocity(v, at);
    let mm = EcefVelMmps {
        x: to_i32(F, x * 1000.0)?,
        y: to_i32(F, y * 1000.0)?,
        z: to_i32(F, z * 1000.0)?,
    };
    // The receiver rotates the millimetre value back at the same point and rejects a component
    // outside ±12 000 m/s (§9 step 18); one within ~1 mm/s of that edge can round outside it.
    enu_velocity(&mm, at).map_err(|_| {
        unrep(
            F,
            "a component so close to ±12 000 m/s that the mm/s ECEF value decodes outside the range",
        )
    })?;
    Ok(mm)
}

fn releasability_bits(s: &BTreeSet<Nation>) -> u8 {
    s.iter().fold(0, |acc, n| {
        acc | match n {
            Nation::Jp => 1,
            Nation::Kr => 2,
            Nation::Us => 4,
        }
    })
}

/// Envelope → frame, with the given SIMPLE and Link 16 header values.
pub fn to_national(
    env: &Envelope,
    simple: SimpleHeader,
    link16: Link16Header,
) -> Result<UsFrame, UsError> {
    let body = match &env.payload {
        Payload::LaunchDetection(p) => {
            if !(p.confidence.is_finite() && (0.0..=1.0).contains(&p.confidence)) {
                return Err(unrep("payload.confidence", "not finite or outside 0..=1"));
            }
            MessageBody::LaunchDetection(LaunchBody {
                track_id: p.track_id.as_str().to_owned(),
                missile_class: p.missile_class,
                confidence_e9: (p.confidence * 1e9).round() as u32,
                launch_time_gps_us: gps_time("payload.launch_time", p.launch_time)?,
                launch_point: ecef("payload.launch_point", &p.launch_point)?,
                uncertainty: uncertainty_cm(
                    "payload.launch_point_uncertainty",
                    &p.launch_point_uncertainty,
                )?,
            })
        }
        Payload::TrackUpdate(p) => {
            if p.quality > 15 {
                return Err(unrep("payload.quality", "above 15"));
            }
            // Rotate the velocity at the position the receiver will decode (the centimetre
            // grid point), so both ends use the same ENU frame; near the poles the frame turns
            // quickly with position.
            let (position, at) = ecef_decoded("payload.position", &p.position)?;
            MessageBody::TrackUpdate(TrackBody {
                track_id: p.track_id.as_str().to_owned(),
                quality: p.quality,
                flight_phase: p.flight_phase,
                time_gps_us: gps_time("payload.time", p.time)?,
                position,
                velocity: velocity(&p.velocity, &at)?,
                uncertainty: uncertainty_cm(
                    "payload.position_uncertainty",
                    &p.position_uncertainty,
                )?,
            })
        }
        Payload::ImpactPrediction(p) => {
            let o = p.error_ellipse.orientation_deg;
            if !(o.is_finite() && (0.0..=180.0).contains(&o)) {
                return Err(unrep(
                    "payload.error_ellipse.orientation_deg",
                    "not finite or outside 0..=180",
                ));
            }
            MessageBody::ImpactPrediction(ImpactBody {
                track_id: p.track_id.as_str().to_owned(),
                impact_time_gps_us: gps_time("payload.impact_time", p.impact_time)?,
                impact_point: ecef("payload.impact_point", &p.impact_point)?,
                semi_major_cm: distance_cm(
                    "payload.error_ellipse.semi_major_m",
                    p.error_ellipse.semi_major_m,
                )?,
                semi_minor_cm: distance_cm(
                    "payload.error_ellipse.semi_minor_m",
                    p.error_ellipse.semi_minor_m,
                )?,
                orientation_udeg: (o * 1e6).round() as u32,
            })
        }
        Payload::EventEnd(p) => MessageBody::EventEnd(EventEndBody {
            track_id: p.track_id.as_str().to_owned(),
            reason: p.reason,
            time_gps_us: gps_time("payload.time", p.time)?,
            final_point: p
                .final_point
                .as_ref()
                .map(|fp| ecef("payload.final_point", fp))
                .transpose()?,
        }),
        Payload::Cancel(p) => MessageBody::Cancel(CancelBody {
            track_id: p.track_id.as_str().to_owned(),
            reason: p.reason.clone(),
        }),
        Payload::Correction(p) => MessageBody::Correction(CorrectionBody {
            track_id: p.track_id.as_str().to_owned(),
            reason: p.reason.clone(),
            corrected_time_gps_us: p
                .corrected_time
                .map(|t| gps_time("payload.corrected_time", t))
                .transpose()?,
            corrected_point: p
                .corrected_point
                .as_ref()
                .map(|cp| ecef("payload.corrected_point", cp))
                .transpose()?,
            corrected_missile_class: p.corrected_missile_class,
        }),
        Payload::Status(p) => {
            if !(p.uptime_s.is_finite() && p.uptime_s >= 0.0) {
                return Err(unrep("payload.uptime_s", "negative or not finite"));
            }
            let us = (p.uptime_s * 1e6).round();
            if us >= crate::wire::UPTIME_US_LIMIT as f64 {
                return Err(unrep("payload.uptime_s", "at or above 2^30 s"));
            }
            MessageBody::Status(StatusBody {
                component: p.component.clone(),
                state: p.state,
                uptime_us: us as u64,
                detail: p.detail.clone(),
            })
        }
        // A common event is several packets (us.md §13): `to_national_frames`.
        Payload::CommonEvent(_) => {
            return Err(unrep(
                "payload.kind",
                "a common_event is several US packets (to_national_frames), not one",
            ));
        }
    };
    let frame = UsFrame {
        simple,
        link16,
        message: UsMessage {
            origin: env.origin,
            mode: env.mode,
            releasability: releasability_bits(&env.releasability),
            observed_at_gps_us: gps_time("observed_at", env.observed_at)?,
            system: env.source.system.clone(),
            sensor: env.source.sensor.clone(),
            national_message_id: env.source.national_message_id.clone(),
            references: env
                .references
                .iter()
                .map(|r| *r.as_uuid().as_bytes())
                .collect(),
            body,
        },
    };
    crate::wire::encoded_len(&frame)?;
    Ok(frame)
}

/// The J7.7 association packets of a `common_event` envelope (us.md §13): its contributors
/// (the ones the destination may know of: the envelope is that destination's view) in the order
/// they joined, as many per packet as fit, national message id `<event's>-co<k>` for the k-th
/// packet (1-based). Envelope fields as the event's other picture packets (origin, mode,
/// releasability, `observed_at`, system; sensor = the contributors text; no references). Empty
/// for any other payload.
pub fn association_frames(
    env: &Envelope,
    simple: SimpleHeader,
    link16: Link16Header,
) -> Result<Vec<UsFrame>, UsError> {
    let Payload::CommonEvent(ev) = &env.payload else {
        return Ok(Vec::new());
    };
    let all: Vec<AssociationMember> = ev
        .contributors
        .iter()
        .map(|c| AssociationMember {
            origin: c.origin,
            state: c.state,
            track_id: c.track_id.as_str().to_owned(),
        })
        .collect();
    let total = u8::try_from(all.len())
        .ok()
        .filter(|t| (1..=crate::wire::ASSOCIATION_MAX as u8).contains(t))
        .ok_or(unrep(
            "payload.contributors",
            "an association lists 1 to 16 contributors",
        ))?;
    let observed_at_gps_us = gps_time("observed_at", env.observed_at)?;
    let sensor = trilink_schema::picture::contributors_text(ev);
    let track_id = ev.track_id().as_str().to_owned();
    let frame = |k: usize, first: usize, members: &[AssociationMember]| UsFrame {
        simple,
        link16,
        message: UsMessage {
            origin: env.origin,
            mode: env.mode,
            releasability: releasability_bits(&env.releasability),
            observed_at_gps_us,
            system: env.source.system.clone(),
            sensor: sensor.clone(),
            national_message_id: format!("{}-co{k}", env.source.national_message_id),
            references: Vec::new(),
            body: MessageBody::Association(AssociationBody {
                track_id: track_id.clone(),
                first: first as u8,
                total,
                members: members.to_vec(),
            }),
        },
    };
    let mut out = Vec::new();
    let mut first = 0;
    while first < all.len() {
        // The most contributors that fit in one packet (at least one, or the event's texts
        // alone do not fit: unrepresentable).
        let mut n = all.len() - first;
        loop {
            let members = all.get(first..first + n).unwrap_or_default();
            let f = frame(out.len() + 1, first, members);
            match crate::wire::encoded_len(&f) {
                Ok(_) => {
                    out.push(f);
                    break;
                }
                Err(_) if n > 1 => n -= 1,
                Err(e) => return Err(e),
            }
        }
        first += n;
    }
    Ok(out)
}
