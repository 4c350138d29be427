//! J7.7: association ([`AssociationBody`]) — the hub's statement "these national tracks are one
//! common event" (us.md §5.2, §13). Only the hub sends it; `to_common` refuses it
//! (`hub_only_kind`), but a US system decodes it with [`decode`](super::decode).
//!
//! `read` and `write` side by side: the body bytes (`b`) and, for reading, the texts this
//! kind keeps in the text area (`a`; `encode_area` in the parent module writes them).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Body bytes before the contributor bytes: count, first, total, reserved.
const HEAD: usize = 4;

/// MLI of a J7.7 carrying `n` contributors: ⌈(4 + n) / 8⌉.
pub(super) const fn mli_for(n: usize) -> u8 {
    (HEAD + n).div_ceil(WORD_DATA_LEN) as u8
}

const fn state_code(s: ContributionState) -> u8 {
    match s {
        ContributionState::Active => 0,
        ContributionState::Stale => 1,
        ContributionState::Ended => 2,
        ContributionState::Cancelled => 3,
    }
}

const fn origin_code(n: Nation) -> u8 {
    match n {
        Nation::Jp => 0,
        Nation::Kr => 1,
        Nation::Us => 2,
    }
}

/// A track id read from a J7.7: 1–32 characters of `[A-Za-z0-9_-]`, else `bad_text`
/// (checked here, not in translation: a J7.7 is never translated).
fn track_id(a: &mut Reader<'_>, field: &'static str) -> Result<String, UsError> {
    let s = a.text(field, TRACK_ID_MAX, false)?;
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
    {
        return Err(UsError::BadText { field });
    }
    Ok(s)
}

/// Read the body from `b` (its MLI is `b`'s length / 8) and this kind's texts from `a`.
pub(super) fn read(b: &mut Reader<'_>, a: &mut Reader<'_>) -> Result<MessageBody, UsError> {
    let mli = b.buf.len() / WORD_DATA_LEN;
    let n = b.u8()?;
    if n == 0 || usize::from(n) > ASSOCIATION_MAX {
        return Err(out_of_range("association_count", n));
    }
    if usize::from(mli_for(usize::from(n))) != mli {
        return Err(UsError::BadLength {
            field: "mli",
            value: mli as u32,
        });
    }
    let first = b.u8()?;
    let total = b.u8()?;
    if usize::from(total) > ASSOCIATION_MAX || u16::from(first) + u16::from(n) > u16::from(total) {
        return Err(out_of_range("association_total", total));
    }
    let reserved = b.u8()?;
    if reserved != 0 {
        return Err(out_of_range("association_reserved", reserved));
    }
    let mut codes = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let c = b.u8()?;
        if c & 0x3 == 3 {
            return Err(out_of_range("contributor_origin", 3u8));
        }
        if c >> 4 != 0 {
            return Err(out_of_range("contributor_reserved", c >> 4));
        }
        codes.push(c);
    }
    let event_track_id = track_id(a, "track_id")?;
    let mut members = Vec::with_capacity(codes.len());
    for c in codes {
        let origin = match c & 0x3 {
            0 => Nation::Jp,
            1 => Nation::Kr,
            _ => Nation::Us,
        };
        let state = match (c >> 2) & 0x3 {
            0 => ContributionState::Active,
            1 => ContributionState::Stale,
            2 => ContributionState::Ended,
            _ => ContributionState::Cancelled,
        };
        members.push(AssociationMember {
            origin,
            state,
            track_id: track_id(a, "contributor_track_id")?,
        });
    }
    Ok(MessageBody::Association(AssociationBody {
        track_id: event_track_id,
        first,
        total,
        members,
    }))
}

/// Write the body bytes.
pub(super) fn write(p: &AssociationBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    let n = p.members.len();
    if n == 0 || n > ASSOCIATION_MAX {
        return Err(unrep(
            "payload.contributors",
            "a J7.7 carries 1 to 16 contributors",
        ));
    }
    if usize::from(p.total) > ASSOCIATION_MAX || usize::from(p.first) + n > usize::from(p.total) {
        return Err(unrep(
            "payload.contributors",
            "first + count exceeds the total, or the total exceeds 16",
        ));
    }
    w.put(&[n as u8, p.first, p.total, 0])?;
    for m in &p.members {
        w.put(&[origin_code(m.origin) | (state_code(m.state) << 2)])?;
    }
    Ok(())
}
