//! J13.5: component status ([`StatusBody`]).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` and this kind's texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let state = match b.u8()? {
        0 => ComponentState::Ok,
        1 => ComponentState::Degraded,
        2 => ComponentState::Down,
        v => return Err(out_of_range("state", v)),
    };
    let reserved = b.u8()?;
    if reserved != 0 {
        return Err(out_of_range("status_reserved", reserved));
    }
    let uptime_us = b.u64()?;
    if uptime_us >= UPTIME_US_LIMIT {
        return Err(out_of_range(
            "uptime",
            i64::try_from(uptime_us).unwrap_or(i64::MAX),
        ));
    }
    let component = a.text("component", COMPONENT_MAX, false)?;
    let detail = a.text("detail", FREE_TEXT_MAX, true)?;
    Ok(MessageBody::Status(StatusBody {
        component,
        state,
        uptime_us,
        detail,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &StatusBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    w.put(&[state_code(p.state), 0])?;
    if p.uptime_us >= UPTIME_US_LIMIT {
        return Err(unrep("payload.uptime_s", "at or above 2^30 s"));
    }
    w.put(&p.uptime_us.to_le_bytes())
}
