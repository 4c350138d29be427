//! Field syntax: parsing and writing of the KR field types (fixed-point decimals, DMS
//! angles, KST times, escaped text, references). Parsers take one field's bytes (never
//! containing `,`) and return the exact scaled integer or text; writers produce the one
//! canonical spelling, so a decoded field re-encodes to the same bytes.

use bytes::{BufMut, BytesMut};
use chrono::{Datelike, NaiveDate};
use trilink_schema::{MessageId, Nation};

use crate::KrError;
use crate::frame::{KstTime, Releasability, limits};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_CE_DAYS: i64 = 719_163;
const MICROS_PER_DAY: i64 = 86_400_000_000;

const fn digit(b: u8) -> Option<i64> {
    if b.is_ascii_digit() {
        Some((b - b'0') as i64)
    } else {
        None
    }
}

/// Parse a fixed-point decimal `-?(0|[1-9][0-9]*)(\.[0-9]{frac})` (no dot when `frac` is
/// 0) into the integer scaled by 10^frac, checking the inclusive range.
pub fn parse_fixed(
    field: &'static str,
    s: &[u8],
    frac: usize,
    (min, max): (i64, i64),
) -> Result<i64, KrError> {
    if s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    let bad = |reason| KrError::BadField { field, reason };
    let (neg, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let (int_part, frac_part) = if frac == 0 {
        (digits, &[][..])
    } else {
        let dot = digits
            .iter()
            .position(|&b| b == b'.')
            .ok_or_else(|| bad("missing decimal point"))?;
        let (i, f) = digits.split_at(dot);
        (i, f.get(1..).unwrap_or_default())
    };
    if int_part.is_empty() {
        return Err(bad("no digits before the decimal point"));
    }
    if int_part.len() > 1 && int_part.first() == Some(&b'0') {
        return Err(bad("leading zero"));
    }
    if frac_part.len() != frac {
        return Err(bad("wrong number of decimal places"));
    }
    let mut v: i64 = 0;
    let mut overflow = false;
    for &b in int_part.iter().chain(frac_part) {
        let d = digit(b).ok_or_else(|| bad("not a decimal number"))?;
        match v.checked_mul(10).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    if neg && v == 0 && !overflow {
        return Err(bad("negative zero"));
    }
    let v = if neg { -v } else { v };
    if overflow || v < min || v > max {
        return Err(KrError::FieldOutOfRange {
            field,
            value: String::from_utf8_lossy(s).into_owned(),
        });
    }
    Ok(v)
}

/// Write `v / 10^frac` as a canonical fixed-point decimal.
pub fn write_fixed(out: &mut BytesMut, v: i64, frac: usize) {
    if v < 0 {
        out.put_u8(b'-');
    }
    let mut buf = [0u8; 24];
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    let mut written = 0usize;
    loop {
        if written == frac && frac > 0 {
            i -= 1;
            if let Some(slot) = buf.get_mut(i) {
                *slot = b'.';
            }
        }
        i -= 1;
        if let Some(slot) = buf.get_mut(i) {
            *slot = b'0' + (n % 10) as u8;
        }
        n /= 10;
        written += 1;
        if n == 0 && written > frac {
            break;
        }
    }
    out.put_slice(buf.get(i..).unwrap_or_default());
}

fn put_digits(out: &mut BytesMut, v: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut n = v;
    let w = width.min(buf.len());
    for slot in buf.iter_mut().take(w).rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.put_slice(buf.get(..w).unwrap_or_default());
}

fn digits_at(s: &[u8], range: std::ops::Range<usize>) -> Option<i64> {
    let mut v = 0i64;
    for &b in s.get(range)? {
        v = v * 10 + digit(b)?;
    }
    Some(v)
}

/// Parse a DMS angle: latitude `DDMMSS.ssss[NS]` (12 bytes) when `lat`, longitude
/// `DDDMMSS.ssss[EW]` (13 bytes) otherwise. Returns signed units of 0.0001″.
pub fn parse_dms(field: &'static str, s: &[u8], lat: bool) -> Result<i64, KrError> {
    if s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    let bad = |reason| KrError::BadField { field, reason };
    let dw = if lat { 2 } else { 3 };
    if s.len() != dw + 10 {
        return Err(bad("wrong length for a DMS angle"));
    }
    let (Some(deg), Some(min), Some(sec), Some(b'.'), Some(frac), Some(hemi)) = (
        digits_at(s, 0..dw),
        digits_at(s, dw..dw + 2),
        digits_at(s, dw + 2..dw + 4),
        s.get(dw + 4).copied(),
        digits_at(s, dw + 5..dw + 9),
        s.get(dw + 9).copied(),
    ) else {
        return Err(bad("not DDMMSS.ssss / DDDMMSS.ssss"));
    };
    let negative = match (lat, hemi) {
        (true, b'N') | (false, b'E') => false,
        (true, b'S') | (false, b'W') => true,
        _ => return Err(bad("bad hemisphere letter")),
    };
    let max = if lat {
        limits::LAT_MAX
    } else {
        limits::LON_MAX
    };
    let v = deg * limits::UNITS_PER_DEG + min * 600_000 + sec * 10_000 + frac;
    if min > 59 || sec > 59 || v > max {
        return Err(KrError::FieldOutOfRange {
            field,
            value: String::from_utf8_lossy(s).into_owned(),
        });
    }
    if negative && v == 0 {
        return Err(bad("zero must be written with N or E"));
    }
    Ok(if negative { -v } else { v })
}

/// Write a DMS angle from signed units of 0.0001″ (the caller checked the range).
pub fn write_dms(out: &mut BytesMut, v: i64, lat: bool) {
    let u = v.unsigned_abs();
    let units = limits::UNITS_PER_DEG.unsigned_abs();
    let d = u / units;
    let r = u % units;
    put_digits(out, d, if lat { 2 } else { 3 });
    put_digits(out, r / 600_000, 2);
    let s4 = r % 600_000;
    put_digits(out, s4 / 10_000, 2);
    out.put_u8(b'.');
    put_digits(out, s4 % 10_000, 4);
    out.put_u8(match (lat, v < 0) {
        (true, false) => b'N',
        (true, true) => b'S',
        (false, false) => b'E',
        (false, true) => b'W',
    });
}

/// Parse a KST time `YYYYMMDDThhmmss.ffffff+0900` (27 bytes).
pub fn parse_time(field: &'static str, s: &[u8]) -> Result<KstTime, KrError> {
    if s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    let bad = |reason| KrError::BadField { field, reason };
    if s.len() != 27 {
        return Err(bad("a time is 27 characters: YYYYMMDDThhmmss.ffffff+0900"));
    }
    if s.get(8) != Some(&b'T') || s.get(15) != Some(&b'.') {
        return Err(bad("not YYYYMMDDThhmmss.ffffff+0900"));
    }
    if s.get(22..27) != Some(b"+0900".as_slice()) {
        return Err(bad("time zone must be +0900 (KST)"));
    }
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se), Some(us)) = (
        digits_at(s, 0..4),
        digits_at(s, 4..6),
        digits_at(s, 6..8),
        digits_at(s, 9..11),
        digits_at(s, 11..13),
        digits_at(s, 13..15),
        digits_at(s, 16..22),
    ) else {
        return Err(bad("not YYYYMMDDThhmmss.ffffff+0900"));
    };
    let out_of_range = || KrError::FieldOutOfRange {
        field,
        value: String::from_utf8_lossy(s).into_owned(),
    };
    let date = NaiveDate::from_ymd_opt(y as i32, mo as u32, d as u32).ok_or_else(out_of_range)?;
    if h > 23 || mi > 59 || se > 59 {
        return Err(out_of_range());
    }
    let days = i64::from(date.num_days_from_ce()) - UNIX_EPOCH_CE_DAYS;
    let local = days * MICROS_PER_DAY + ((h * 60 + mi) * 60 + se) * 1_000_000 + us;
    KstTime::from_unix_micros(local - KstTime::OFFSET_MICROS).ok_or_else(out_of_range)
}

/// Write a KST time.
pub fn write_time(out: &mut BytesMut, t: KstTime) {
    let local = t.unix_micros() + KstTime::OFFSET_MICROS;
    let days = local.div_euclid(MICROS_PER_DAY);
    let rem = local.rem_euclid(MICROS_PER_DAY);
    let date = NaiveDate::from_num_days_from_ce_opt((days + UNIX_EPOCH_CE_DAYS) as i32)
        .unwrap_or_default();
    put_digits(out, date.year().unsigned_abs().into(), 4);
    put_digits(out, date.month().into(), 2);
    put_digits(out, date.day().into(), 2);
    out.put_u8(b'T');
    let secs = (rem / 1_000_000).unsigned_abs();
    put_digits(out, secs / 3600, 2);
    put_digits(out, secs / 60 % 60, 2);
    put_digits(out, secs % 60, 2);
    out.put_u8(b'.');
    put_digits(out, (rem % 1_000_000).unsigned_abs(), 6);
    out.put_slice(b"+0900");
}

/// Whether a byte may appear unescaped in a text field.
pub const fn is_plain_text_byte(b: u8) -> bool {
    matches!(b, 0x20..=0x7E) && !matches!(b, b'$' | b'*' | b',' | b'^' | b'\\')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parse an escaped text field (`^HH` for every byte that is not plain), checking the
/// UTF-8 and the length of the unescaped text. `required` makes an empty field an error.
pub fn parse_text(
    field: &'static str,
    s: &[u8],
    max: usize,
    required: bool,
) -> Result<String, KrError> {
    if s.is_empty() && required {
        return Err(KrError::MissingField { field });
    }
    let bad = |reason| KrError::BadText { field, reason };
    // Fast path: nothing escaped (plain bytes are ASCII, hence UTF-8).
    if s.iter().all(|&b| is_plain_text_byte(b)) {
        if s.len() > max {
            return Err(KrError::FieldOutOfRange {
                field,
                value: format!("{} bytes (max {max})", s.len()),
            });
        }
        return std::str::from_utf8(s)
            .map(str::to_owned)
            .map_err(|_| bad("not UTF-8"));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if b == b'^' {
            let (Some(hi), Some(lo)) = (
                it.next().copied().and_then(hex_val),
                it.next().copied().and_then(hex_val),
            ) else {
                return Err(bad("^ must be followed by two upper-case hex digits"));
            };
            let v = (hi << 4) | lo;
            if is_plain_text_byte(v) {
                return Err(bad("escaped a byte that must be written plain"));
            }
            out.push(v);
        } else if is_plain_text_byte(b) {
            out.push(b);
        } else {
            return Err(bad("byte must be escaped"));
        }
    }
    if out.len() > max {
        return Err(KrError::FieldOutOfRange {
            field,
            value: format!("{} bytes (max {max})", out.len()),
        });
    }
    String::from_utf8(out).map_err(|_| bad("not UTF-8"))
}

/// Write text, escaping every byte that is not plain as `^HH`.
pub fn write_text(out: &mut BytesMut, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if is_plain_text_byte(b) {
            out.put_u8(b);
        } else {
            out.put_u8(b'^');
            out.put_u8(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.put_u8(HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'));
        }
    }
}

/// Length of `s` once escaped.
pub fn escaped_len(s: &str) -> usize {
    s.bytes()
        .map(|b| if is_plain_text_byte(b) { 1 } else { 3 })
        .sum()
}

/// Whether `s` is a valid track id: 1–32 of `[A-Za-z0-9_-]`.
pub fn is_track_id(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= limits::TRACK_ID
        && s.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parse a track id.
pub fn parse_track_id(field: &'static str, s: &[u8]) -> Result<String, KrError> {
    if s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    if s.len() > limits::TRACK_ID {
        return Err(KrError::FieldOutOfRange {
            field,
            value: format!("{} characters (max 32)", s.len()),
        });
    }
    if !is_track_id(s) {
        return Err(KrError::BadText {
            field,
            reason: "a track id is [A-Za-z0-9_-] only",
        });
    }
    // All ASCII, checked above.
    Ok(s.iter().map(|&b| char::from(b)).collect())
}

/// Nation code as written (`JP`, `KR`, `US`).
pub const fn nation_code(n: Nation) -> &'static str {
    match n {
        Nation::Jp => "JP",
        Nation::Kr => "KR",
        Nation::Us => "US",
    }
}

/// Parse a nation code.
pub fn parse_nation(field: &'static str, s: &[u8]) -> Result<Nation, KrError> {
    match s {
        b"" => Err(KrError::MissingField { field }),
        b"JP" => Ok(Nation::Jp),
        b"KR" => Ok(Nation::Kr),
        b"US" => Ok(Nation::Us),
        _ => Err(KrError::BadField {
            field,
            reason: "nation must be JP, KR or US",
        }),
    }
}

/// Parse releasability: `+`-separated nation codes, each once, in the order JP, KR, US.
pub fn parse_releasability(field: &'static str, s: &[u8]) -> Result<Releasability, KrError> {
    if s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    let mut set = Releasability::EMPTY;
    let mut last: Option<Nation> = None;
    for part in s.split(|&b| b == b'+') {
        let n = parse_nation(field, part).map_err(|_| KrError::BadField {
            field,
            reason: "releasability is JP, KR, US joined by + in that order, each once",
        })?;
        if last.is_some_and(|l| l >= n) {
            return Err(KrError::BadField {
                field,
                reason: "releasability is JP, KR, US joined by + in that order, each once",
            });
        }
        last = Some(n);
        set = set.with(n);
    }
    Ok(set)
}

/// Write releasability.
pub fn write_releasability(out: &mut BytesMut, r: Releasability) {
    for (i, n) in r.iter().enumerate() {
        if i > 0 {
            out.put_u8(b'+');
        }
        out.put_slice(nation_code(n).as_bytes());
    }
}

/// Parse a canonical lower-case hyphenated UUID (36 bytes).
fn parse_uuid(s: &[u8]) -> Option<uuid::Uuid> {
    // `try_parse_ascii` accepts only the hyphenated form at 36 bytes, in either case.
    if s.len() != 36 || s.iter().any(u8::is_ascii_uppercase) {
        return None;
    }
    uuid::Uuid::try_parse_ascii(s).ok()
}

/// Parse references: empty, or `+`-separated lower-case hyphenated UUIDs.
pub fn parse_references(field: &'static str, s: &[u8]) -> Result<Vec<MessageId>, KrError> {
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(s.len() / 37 + 1);
    for part in s.split(|&b| b == b'+') {
        let v = parse_uuid(part).ok_or(KrError::BadField {
            field,
            reason: "references are lower-case hyphenated UUIDs joined by +",
        })?;
        out.push(MessageId::from_uuid(v));
    }
    Ok(out)
}

/// Write references.
pub fn write_references(out: &mut BytesMut, refs: &[MessageId]) {
    let mut buf = [0u8; 36];
    for (i, r) in refs.iter().enumerate() {
        if i > 0 {
            out.put_u8(b'+');
        }
        out.put_slice(r.as_uuid().hyphenated().encode_lower(&mut buf).as_bytes());
    }
}

/// Parse an enumerated field against its table.
pub fn parse_enum<T: Copy>(
    field: &'static str,
    s: &[u8],
    table: &[(&'static str, T)],
) -> Result<T, KrError> {
    if s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    table
        .iter()
        .find(|(code, _)| code.as_bytes() == s)
        .map(|(_, v)| *v)
        .ok_or(KrError::BadField {
            field,
            reason: "not one of the allowed codes",
        })
}

/// The code of `v` in its table.
pub fn enum_code<T: Copy + PartialEq>(v: T, table: &[(&'static str, T)]) -> &'static str {
    table
        .iter()
        .find(|(_, t)| *t == v)
        .map_or("", |(code, _)| code)
}
