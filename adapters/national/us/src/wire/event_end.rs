//! J7.0: event end ([`EventEndBody`]).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` and this kind's texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let reason = match b.u8()? {
        0 => EndReason::Impact,
        1 => EndReason::Lost,
        2 => EndReason::Other,
        v => return Err(out_of_range("end_reason", v)),
    };
    let flags = b.u8()?;
    if flags > 1 {
        return Err(out_of_range("event_end_flags", flags));
    }
    let time_gps_us = b.gps_time("time")?;
    let p = b.ecef()?;
    let final_point = if flags & 1 == 1 {
        Some(p)
    } else if p == EcefCm::default() {
        None
    } else {
        return Err(UsError::Malformed {
            what: "absent field not zero",
        });
    };
    let track_id = a.text("track_id", TRACK_ID_MAX, false)?;
    Ok(MessageBody::EventEnd(EventEndBody {
        track_id,
        reason,
        time_gps_us,
        final_point,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &EventEndBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    w.put(&[end_reason_code(p.reason), u8::from(p.final_point.is_some())])?;
    w.time("payload.time", p.time_gps_us)?;
    w.ecef(&p.final_point.unwrap_or_default())
}
