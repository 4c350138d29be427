//! J3.6: ballistic (space) track update ([`TrackBody`]).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` and this kind's texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let quality = b.u8()?;
    if quality > 15 {
        return Err(out_of_range("quality", quality));
    }
    let flight_phase = match b.u8()? {
        0 => FlightPhase::Unknown,
        1 => FlightPhase::Boost,
        2 => FlightPhase::Midcourse,
        3 => FlightPhase::Terminal,
        v => return Err(out_of_range("flight_phase", v)),
    };
    let time_gps_us = b.gps_time("time")?;
    let position = b.ecef()?;
    let velocity = b.velocity()?;
    let uncertainty = b.uncertainty()?;
    let track_id = a.text("track_id", TRACK_ID_MAX, false)?;
    Ok(MessageBody::TrackUpdate(TrackBody {
        track_id,
        quality,
        flight_phase,
        time_gps_us,
        position,
        velocity,
        uncertainty,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &TrackBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    if p.quality > 15 {
        return Err(unrep("payload.quality", "above 15"));
    }
    w.put(&[p.quality, flight_phase_code(p.flight_phase)])?;
    w.time("payload.time", p.time_gps_us)?;
    w.ecef(&p.position)?;
    w.put(&p.velocity.x.to_le_bytes())?;
    w.put(&p.velocity.y.to_le_bytes())?;
    w.put(&p.velocity.z.to_le_bytes())?;
    put_uncertainty(w, "payload.position_uncertainty", p.uncertainty)
}
