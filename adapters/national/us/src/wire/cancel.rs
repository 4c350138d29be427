//! J7.1: cancel ([`CancelBody`]): no body bytes, its fields are text in the area.
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Read the body from `b` and this kind's texts from `a`.
pub(super) fn read(_b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let track_id = a.text("track_id", TRACK_ID_MAX, false)?;
    let reason = a.text("reason", FREE_TEXT_MAX, true)?;
    Ok(MessageBody::Cancel(CancelBody { track_id, reason }))
}

/// Write the body bytes (none).
#[allow(clippy::unnecessary_wraps)] // the same shape as every kind's `write`
pub(super) fn write(_p: &CancelBody, _w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    Ok(())
}
