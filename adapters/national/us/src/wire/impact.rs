//! J3.0 point type 2: impact prediction ([`ImpactBody`]).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` (the caller has read its point type byte, 2) and this kind's
/// texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let reserved = b.u8()?;
    if reserved != 0 {
        return Err(out_of_range("impact_reserved", reserved));
    }
    let impact_time_gps_us = b.gps_time("impact_time")?;
    let impact_point = b.ecef()?;
    let semi_major_cm = b.distance("semi_major")?;
    let semi_minor_cm = b.distance("semi_minor")?;
    let orientation_udeg = b.u32()?;
    if orientation_udeg > 180_000_000 {
        return Err(out_of_range("orientation", orientation_udeg));
    }
    let track_id = a.text("track_id", TRACK_ID_MAX, false)?;
    Ok(MessageBody::ImpactPrediction(ImpactBody {
        track_id,
        impact_time_gps_us,
        impact_point,
        semi_major_cm,
        semi_minor_cm,
        orientation_udeg,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &ImpactBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    if p.orientation_udeg > 180_000_000 {
        return Err(unrep("payload.error_ellipse.orientation_deg", "above 180"));
    }
    w.put(&[2, 0])?;
    w.time("payload.impact_time", p.impact_time_gps_us)?;
    w.ecef(&p.impact_point)?;
    put_distance(w, "payload.error_ellipse.semi_major_m", p.semi_major_cm)?;
    put_distance(w, "payload.error_ellipse.semi_minor_m", p.semi_minor_cm)?;
    w.put(&p.orientation_udeg.to_le_bytes())
}
