//! J3.0 point type 1: launch detection ([`LaunchBody`]).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` (the caller has read its point type byte, 1) and this kind's
/// texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let missile_class = missile_class(b.u8()?, "missile_class")?;
    let confidence_e9 = b.u32()?;
    if confidence_e9 > 1_000_000_000 {
        return Err(out_of_range("confidence", confidence_e9));
    }
    let launch_time_gps_us = b.gps_time("launch_time")?;
    let launch_point = b.ecef()?;
    let uncertainty = b.uncertainty()?;
    let track_id = a.text("track_id", TRACK_ID_MAX, false)?;
    Ok(MessageBody::LaunchDetection(LaunchBody {
        track_id,
        missile_class,
        confidence_e9,
        launch_time_gps_us,
        launch_point,
        uncertainty,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &LaunchBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    if p.confidence_e9 > 1_000_000_000 {
        return Err(unrep("payload.confidence", "above 1"));
    }
    w.put(&[1, missile_class_code(p.missile_class)])?;
    w.put(&p.confidence_e9.to_le_bytes())?;
    w.time("payload.launch_time", p.launch_time_gps_us)?;
    w.ecef(&p.launch_point)?;
    put_uncertainty(w, "payload.launch_point_uncertainty", p.uncertainty)
}
