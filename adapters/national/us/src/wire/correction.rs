//! J7.2: correction ([`CorrectionBody`]).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` and this kind's texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let flags = b.u8()?;
    if flags > 7 {
        return Err(out_of_range("correction_flags", flags));
    }
    let class_code = b.u8()?;
    let t = b.u64()?;
    let p = b.ecef()?;
    let corrected_time_gps_us = if flags & 1 != 0 {
        Some(check_gps("corrected_time", t)?)
    } else if t == 0 {
        None
    } else {
        return Err(UsError::Malformed {
            what: "absent field not zero",
        });
    };
    let corrected_point = if flags & 2 != 0 {
        Some(p)
    } else if p == EcefCm::default() {
        None
    } else {
        return Err(UsError::Malformed {
            what: "absent field not zero",
        });
    };
    let corrected_missile_class = if flags & 4 != 0 {
        Some(missile_class(class_code, "corrected_missile_class")?)
    } else if class_code == 0 {
        None
    } else {
        return Err(UsError::Malformed {
            what: "absent field not zero",
        });
    };
    let track_id = a.text("track_id", TRACK_ID_MAX, false)?;
    let reason = a.text("reason", FREE_TEXT_MAX, true)?;
    Ok(MessageBody::Correction(CorrectionBody {
        track_id,
        reason,
        corrected_time_gps_us,
        corrected_point,
        corrected_missile_class,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &CorrectionBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    let flags = u8::from(p.corrected_time_gps_us.is_some())
        | (u8::from(p.corrected_point.is_some()) << 1)
        | (u8::from(p.corrected_missile_class.is_some()) << 2);
    w.put(&[
        flags,
        p.corrected_missile_class.map_or(0, missile_class_code),
    ])?;
    w.time(
        "payload.corrected_time",
        p.corrected_time_gps_us.unwrap_or(0),
    )?;
    w.ecef(&p.corrected_point.unwrap_or_default())
}
