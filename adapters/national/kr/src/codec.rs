//! Sentence framing and field layout per type: decode and encode (translation to and from the
//! common schema is in [`crate::translate`]).

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use crc::{CRC_32_ISO_HDLC, Crc, Table};
use trilink_schema::{
    ComponentState, Decoded, EndReason, Envelope, FlightPhase, MissileClass, Mode, Nation,
    NationalCodec,
};

use crate::KrError;
use crate::fields::{
    enum_code, nation_code, parse_dms, parse_enum, parse_fixed, parse_nation, parse_references,
    parse_releasability, parse_text, parse_time, parse_track_id, write_dms, write_fixed,
    write_references, write_releasability, write_text, write_time,
};
use crate::frame::{
    CancelBody, CorrectionBody, End, Header, Impact, Launch, Point, Sentence, SentenceBody,
    SentenceType, StatusBody, Track, limits,
};

/// Largest sentence, bytes from `$` to `\n` inclusive.
pub const MAX_SENTENCE_LEN: usize = 2048;
/// The sync prefix every sentence starts with.
pub const SYNC: &[u8; 6] = b"$TLKR,";
/// The only format version this build reads and writes.
pub const VERSION: &str = "1";

/// CRC-32/ISO-HDLC (poly 0x04C11DB7, init 0xFFFFFFFF, refin/refout true, xorout 0xFFFFFFFF,
/// check 0xCBF43926), table-of-16 implementation.
pub static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

const MODES: [(&str, Mode); 3] = [
    ("REAL", Mode::RealWorld),
    ("EXERCISE", Mode::Exercise),
    ("TEST", Mode::Test),
];
const CLASSES: [(&str, MissileClass); 6] = [
    ("SRBM", MissileClass::Srbm),
    ("MRBM", MissileClass::Mrbm),
    ("IRBM", MissileClass::Irbm),
    ("ICBM", MissileClass::Icbm),
    ("SLBM", MissileClass::Slbm),
    ("UNKNOWN", MissileClass::Unknown),
];
const PHASES: [(&str, FlightPhase); 4] = [
    ("BOOST", FlightPhase::Boost),
    ("MIDCOURSE", FlightPhase::Midcourse),
    ("TERMINAL", FlightPhase::Terminal),
    ("UNKNOWN", FlightPhase::Unknown),
];
const END_REASONS: [(&str, EndReason); 3] = [
    ("IMPACT", EndReason::Impact),
    ("LOST", EndReason::Lost),
    ("OTHER", EndReason::Other),
];
const STATES: [(&str, ComponentState); 3] = [
    ("OK", ComponentState::Ok),
    ("DEGRADED", ComponentState::Degraded),
    ("DOWN", ComponentState::Down),
];

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The KR reference-format codec. Stateless; cheap to clone.
#[derive(Debug, Clone, Copy, Default)]
pub struct KrCodec;

fn hex_digit(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'F' => Some(u32::from(b - b'A' + 10)),
        _ => None,
    }
}

/// Most fields any sentence type has (TRK).
const MAX_FIELDS: usize = 23;

const C_PLAIN: u8 = 0;
const C_COMMA: u8 = 1;
const C_LF: u8 = 2;
const C_BAD: u8 = 3;

/// Byte classes for the single scanning pass: body bytes, comma, LF, anything else.
// Indexing in a const initializer is checked at compile time; it cannot panic at run time.
#[allow(clippy::indexing_slicing)]
static CLASS: [u8; 256] = {
    let mut t = [C_BAD; 256];
    let mut i = 0x20;
    while i <= 0x7E {
        t[i] = C_PLAIN;
        i += 1;
    }
    t[b'$' as usize] = C_BAD;
    t[b'*' as usize] = C_BAD;
    t[b',' as usize] = C_COMMA;
    t[b'\n' as usize] = C_LF;
    t
};

/// What one pass over a candidate sentence found.
struct Scan {
    /// Sentence length including the LF.
    len: usize,
    /// Index of the first byte after `$` that may not appear in a body.
    first_bad: usize,
    /// Number of commas before the LF.
    commas: usize,
    /// Positions of the first `MAX_FIELDS - 1` commas.
    pos: [u16; MAX_FIELDS - 1],
}

/// Scan the sentence at the front of `buf` (which starts with the sync prefix) up to its LF
/// in one pass, classifying bytes and recording comma positions.
fn scan(buf: &[u8]) -> Result<Option<Scan>, KrError> {
    let window = buf.get(..buf.len().min(MAX_SENTENCE_LEN)).unwrap_or(buf);
    let mut first_bad = usize::MAX;
    let mut commas = 0usize;
    let mut pos = [0u16; MAX_FIELDS - 1];
    for (i, &b) in window.iter().enumerate().skip(1) {
        match CLASS.get(usize::from(b)).copied().unwrap_or(C_BAD) {
            C_PLAIN => {}
            C_COMMA => {
                if let Some(p) = pos.get_mut(commas) {
                    // i < MAX_SENTENCE_LEN fits in u16.
                    *p = i as u16;
                }
                commas += 1;
            }
            C_LF => {
                return Ok(Some(Scan {
                    len: i + 1,
                    first_bad,
                    commas,
                    pos,
                }));
            }
            _ => first_bad = first_bad.min(i),
        }
    }
    if buf.len() >= MAX_SENTENCE_LEN {
        Err(KrError::Oversize {
            len: buf.len(),
            max: MAX_SENTENCE_LEN,
        })
    } else {
        Ok(None)
    }
}

/// Check framing and checksum of one whole sentence; return the index of its `*`.
fn check_frame(sentence: &[u8], sc: &Scan) -> Result<usize, KrError> {
    let n = sentence.len();
    if n < 2 || sentence.get(n - 2) != Some(&b'\r') {
        return Err(KrError::BadFraming {
            reason: "sentence must end with \\r\\n",
        });
    }
    let star = n.checked_sub(11).ok_or(KrError::BadFraming {
        reason: "no room for *HHHHHHHH before \\r\\n",
    })?;
    if sentence.get(star) != Some(&b'*') {
        return Err(KrError::BadFraming {
            reason: "expected * and 8 hex digits before \\r\\n",
        });
    }
    if sc.first_bad < star {
        let b = sentence.get(sc.first_bad).copied().unwrap_or(0);
        return Err(KrError::BadFraming {
            reason: if b == b'$' || b == b'*' {
                "$ or * inside the sentence body"
            } else {
                "non-printable byte inside the sentence body"
            },
        });
    }
    let mut actual = 0u32;
    for &b in sentence.get(star + 1..n - 2).unwrap_or_default() {
        let d = hex_digit(b).ok_or(KrError::BadFraming {
            reason: "checksum must be 8 upper-case hex digits",
        })?;
        actual = (actual << 4) | d;
    }
    let expected = CRC32.checksum(sentence.get(1..star).unwrap_or_default());
    if expected != actual {
        return Err(KrError::BadChecksum { expected, actual });
    }
    Ok(star)
}

/// Sequential access to the comma-separated fields of a checked sentence.
struct Fields<'a> {
    sentence: &'a [u8],
    pos: &'a [u16],
    star: usize,
    k: usize,
    start: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self) -> &'a [u8] {
        let end = self.pos.get(self.k).map_or(self.star, |&p| usize::from(p));
        self.k += 1;
        let f = self.sentence.get(self.start..end).unwrap_or_default();
        self.start = end + 1;
        f
    }
}

fn parse_point(f: &mut Fields<'_>, names: [&'static str; 3]) -> Result<Point, KrError> {
    let [lat_n, lon_n, alt_n] = names;
    Ok(Point {
        lat: parse_dms(lat_n, f.next(), true)?,
        lon: parse_dms(lon_n, f.next(), false)?,
        alt_cm: parse_fixed(alt_n, f.next(), 2, limits::ALT_CM)?,
    })
}

fn parse_opt_point(f: &mut Fields<'_>, names: [&'static str; 3]) -> Result<Option<Point>, KrError> {
    let [lat_n, lon_n, alt_n] = names;
    let (a, b, c) = (f.next(), f.next(), f.next());
    if a.is_empty() && b.is_empty() && c.is_empty() {
        return Ok(None);
    }
    Ok(Some(Point {
        lat: parse_dms(lat_n, a, true)?,
        lon: parse_dms(lon_n, b, false)?,
        alt_cm: parse_fixed(alt_n, c, 2, limits::ALT_CM)?,
    }))
}

fn parse_sentence(sentence: &[u8], sc: &Scan, star: usize) -> Result<Sentence, KrError> {
    let found = sc.commas + 1;
    let mut f = Fields {
        sentence,
        pos: sc
            .pos
            .get(..sc.commas.min(MAX_FIELDS - 1))
            .unwrap_or_default(),
        star,
        k: 0,
        start: 1,
    };
    if f.next() != b"TLKR" {
        return Err(KrError::BadSync);
    }
    let type_field = f.next();
    if found < 3 {
        return Err(KrError::FieldCount {
            sentence: "?",
            expected: 3,
            found,
        });
    }
    let version = f.next();
    if version != VERSION.as_bytes() {
        return Err(KrError::UnsupportedVersion {
            version: String::from_utf8_lossy(version).into_owned(),
        });
    }
    let ty = SentenceType::parse(type_field).ok_or_else(|| KrError::UnknownType {
        found: String::from_utf8_lossy(type_field).into_owned(),
    })?;
    if found != ty.field_count() {
        return Err(KrError::FieldCount {
            sentence: ty.code(),
            expected: ty.field_count(),
            found,
        });
    }
    let header = Header {
        mode: parse_enum("mode", f.next(), &MODES)?,
        origin: parse_nation("origin", f.next())?,
        releasability: parse_releasability("releasability", f.next())?,
        system: parse_text("system", f.next(), limits::SHORT_TEXT, true)?,
        sensor: parse_text("sensor", f.next(), limits::SHORT_TEXT, true)?,
        national_message_id: parse_text("national_id", f.next(), limits::NATIONAL_ID, true)?,
        observed_at: parse_time("observed", f.next())?,
        references: parse_references("references", f.next())?,
    };
    let body = match ty {
        SentenceType::Lch => SentenceBody::Launch(Launch {
            track_id: parse_track_id("track_id", f.next())?,
            launch_time: parse_time("launch_time", f.next())?,
            point: parse_point(&mut f, ["lat", "lon", "alt"])?,
            unc_h_cm: parse_fixed("unc_h", f.next(), 2, limits::UNC_CM)?,
            unc_v_cm: parse_fixed("unc_v", f.next(), 2, limits::UNC_CM)?,
            class: parse_enum("class", f.next(), &CLASSES)?,
            confidence_e4: parse_fixed("confidence", f.next(), 4, limits::CONF_E4)?,
        }),
        SentenceType::Trk => SentenceBody::Track(Track {
            track_id: parse_track_id("track_id", f.next())?,
            time: parse_time("time", f.next())?,
            point: parse_point(&mut f, ["lat", "lon", "alt"])?,
            unc_h_cm: parse_fixed("unc_h", f.next(), 2, limits::UNC_CM)?,
            unc_v_cm: parse_fixed("unc_v", f.next(), 2, limits::UNC_CM)?,
            vel_e_cms: parse_fixed("vel_e", f.next(), 2, limits::VEL_CMS)?,
            vel_n_cms: parse_fixed("vel_n", f.next(), 2, limits::VEL_CMS)?,
            vel_u_cms: parse_fixed("vel_u", f.next(), 2, limits::VEL_CMS)?,
            quality: parse_fixed("quality", f.next(), 0, limits::QUALITY)? as u8,
            phase: parse_enum("phase", f.next(), &PHASES)?,
        }),
        SentenceType::Imp => SentenceBody::Impact(Impact {
            track_id: parse_track_id("track_id", f.next())?,
            impact_time: parse_time("impact_time", f.next())?,
            point: parse_point(&mut f, ["lat", "lon", "alt"])?,
            semi_major_cm: parse_fixed("semi_major", f.next(), 2, limits::AXIS_CM)?,
            semi_minor_cm: parse_fixed("semi_minor", f.next(), 2, limits::AXIS_CM)?,
            orientation_mdeg: parse_fixed("orientation", f.next(), 3, limits::ORIENT_MDEG)?,
        }),
        SentenceType::End => SentenceBody::End(End {
            track_id: parse_track_id("track_id", f.next())?,
            time: parse_time("time", f.next())?,
            reason: parse_enum("end_reason", f.next(), &END_REASONS)?,
            final_point: parse_opt_point(&mut f, ["lat", "lon", "alt"])?,
        }),
        SentenceType::Can => SentenceBody::Cancel(CancelBody {
            track_id: parse_track_id("track_id", f.next())?,
            reason: parse_text("reason", f.next(), limits::FREE_TEXT, true)?,
        }),
        SentenceType::Cor => {
            let track_id = parse_track_id("track_id", f.next())?;
            let reason = parse_text("reason", f.next(), limits::FREE_TEXT, true)?;
            let t = f.next();
            let corrected_time = if t.is_empty() {
                None
            } else {
                Some(parse_time("corrected_time", t)?)
            };
            let corrected_point = parse_opt_point(&mut f, ["lat", "lon", "alt"])?;
            let c = f.next();
            let corrected_class = if c.is_empty() {
                None
            } else {
                Some(parse_enum("corrected_class", c, &CLASSES)?)
            };
            SentenceBody::Correction(CorrectionBody {
                track_id,
                reason,
                corrected_time,
                corrected_point,
                corrected_class,
            })
        }
        SentenceType::Sta => SentenceBody::Status(StatusBody {
            component: parse_text("component", f.next(), limits::SHORT_TEXT, true)?,
            state: parse_enum("state", f.next(), &STATES)?,
            uptime_ms: parse_fixed("uptime", f.next(), 3, limits::UPTIME_MS)?,
            detail: parse_text("detail", f.next(), limits::FREE_TEXT, false)?,
        }),
    };
    Ok(Sentence { header, body })
}

impl KrCodec {
    /// A codec.
    pub const fn new() -> Self {
        Self
    }

    /// Decode one complete message (one MQTT payload holding exactly one sentence).
    /// An incomplete sentence is [`KrError::Truncated`]; bytes after `\r\n` are
    /// [`KrError::TrailingData`].
    ///
    /// Order (kr.md §7): the sentence's own checks (steps 1–6) come first, so a bad
    /// checksum followed by more bytes is [`KrError::BadChecksum`]; only a sentence that
    /// decodes is followed by the trailing-data check, which rejects the whole payload (the
    /// sentence is not delivered either).
    pub fn decode_message(&self, buf: &[u8]) -> Result<Sentence, KrError> {
        decode_whole(buf)
    }

    /// Decode one complete message and translate it: what the KR adapter does with each
    /// MQTT payload. The envelope is not validated; call
    /// [`Envelope::validate`](trilink_schema::Envelope::validate) next.
    pub fn decode_to_common(
        &self,
        buf: &[u8],
        ingested_at: DateTime<Utc>,
    ) -> Result<Envelope, KrError> {
        crate::translate::into_common(self.decode_message(buf)?, ingested_at)
    }

    /// Translate an envelope and append its sentence to `out` (`to_national` + `encode`).
    pub fn encode_envelope(&self, env: &Envelope, out: &mut BytesMut) -> Result<(), KrError> {
        let s = self.to_national(env)?;
        self.encode(&s, out)
    }
}

fn check_range(field: &'static str, v: i64, (min, max): (i64, i64)) -> Result<(), KrError> {
    if v < min || v > max {
        return Err(KrError::FieldOutOfRange {
            field,
            value: v.to_string(),
        });
    }
    Ok(())
}

fn check_text(field: &'static str, s: &str, max: usize, required: bool) -> Result<(), KrError> {
    if required && s.is_empty() {
        return Err(KrError::MissingField { field });
    }
    if s.len() > max {
        return Err(KrError::FieldOutOfRange {
            field,
            value: format!("{} bytes (max {max})", s.len()),
        });
    }
    Ok(())
}

fn check_point(p: &Point) -> Result<(), KrError> {
    check_range("lat", p.lat, (-limits::LAT_MAX, limits::LAT_MAX))?;
    check_range("lon", p.lon, (-limits::LON_MAX, limits::LON_MAX))?;
    check_range("alt", p.alt_cm, limits::ALT_CM)
}

fn check_track_id(s: &str) -> Result<(), KrError> {
    if crate::fields::is_track_id(s.as_bytes()) {
        Ok(())
    } else {
        Err(KrError::BadText {
            field: "track_id",
            reason: "a track id is 1-32 of [A-Za-z0-9_-]",
        })
    }
}

/// Check that a sentence holds only values its fields can carry, so that `encode` never
/// writes what `decode` would reject.
fn check_sentence(s: &Sentence) -> Result<(), KrError> {
    let h = &s.header;
    if h.releasability.is_empty() {
        return Err(KrError::MissingField {
            field: "releasability",
        });
    }
    check_text("system", &h.system, limits::SHORT_TEXT, true)?;
    check_text("sensor", &h.sensor, limits::SHORT_TEXT, true)?;
    check_text(
        "national_id",
        &h.national_message_id,
        limits::NATIONAL_ID,
        true,
    )?;
    match &s.body {
        SentenceBody::Launch(b) => {
            check_track_id(&b.track_id)?;
            check_point(&b.point)?;
            check_range("unc_h", b.unc_h_cm, limits::UNC_CM)?;
            check_range("unc_v", b.unc_v_cm, limits::UNC_CM)?;
            check_range("confidence", b.confidence_e4, limits::CONF_E4)
        }
        SentenceBody::Track(b) => {
            check_track_id(&b.track_id)?;
            check_point(&b.point)?;
            check_range("unc_h", b.unc_h_cm, limits::UNC_CM)?;
            check_range("unc_v", b.unc_v_cm, limits::UNC_CM)?;
            check_range("vel_e", b.vel_e_cms, limits::VEL_CMS)?;
            check_range("vel_n", b.vel_n_cms, limits::VEL_CMS)?;
            check_range("vel_u", b.vel_u_cms, limits::VEL_CMS)?;
            check_range("quality", i64::from(b.quality), limits::QUALITY)
        }
        SentenceBody::Impact(b) => {
            check_track_id(&b.track_id)?;
            check_point(&b.point)?;
            check_range("semi_major", b.semi_major_cm, limits::AXIS_CM)?;
            check_range("semi_minor", b.semi_minor_cm, limits::AXIS_CM)?;
            check_range("orientation", b.orientation_mdeg, limits::ORIENT_MDEG)
        }
        SentenceBody::End(b) => {
            check_track_id(&b.track_id)?;
            b.final_point.as_ref().map_or(Ok(()), check_point)
        }
        SentenceBody::Cancel(b) => {
            check_track_id(&b.track_id)?;
            check_text("reason", &b.reason, limits::FREE_TEXT, true)
        }
        SentenceBody::Correction(b) => {
            check_track_id(&b.track_id)?;
            check_text("reason", &b.reason, limits::FREE_TEXT, true)?;
            b.corrected_point.as_ref().map_or(Ok(()), check_point)
        }
        SentenceBody::Status(b) => {
            check_text("component", &b.component, limits::SHORT_TEXT, true)?;
            check_range("uptime", b.uptime_ms, limits::UPTIME_MS)?;
            check_text("detail", &b.detail, limits::FREE_TEXT, false)
        }
    }
}

fn put_sep(out: &mut BytesMut) {
    out.put_u8(b',');
}

fn write_point(out: &mut BytesMut, p: &Point) {
    write_dms(out, p.lat, true);
    put_sep(out);
    write_dms(out, p.lon, false);
    put_sep(out);
    write_fixed(out, p.alt_cm, 2);
}

fn write_opt_point(out: &mut BytesMut, p: Option<&Point>) {
    match p {
        Some(p) => write_point(out, p),
        None => out.put_slice(b",,"),
    }
}

fn write_body(out: &mut BytesMut, s: &Sentence) {
    let h = &s.header;
    out.put_slice(b"TLKR,");
    out.put_slice(s.body.type_code().as_bytes());
    put_sep(out);
    out.put_slice(VERSION.as_bytes());
    put_sep(out);
    out.put_slice(enum_code(h.mode, &MODES).as_bytes());
    put_sep(out);
    out.put_slice(nation_code(h.origin).as_bytes());
    put_sep(out);
    write_releasability(out, h.releasability);
    put_sep(out);
    write_text(out, &h.system);
    put_sep(out);
    write_text(out, &h.sensor);
    put_sep(out);
    write_text(out, &h.national_message_id);
    put_sep(out);
    write_time(out, h.observed_at);
    put_sep(out);
    write_references(out, &h.references);
    put_sep(out);
    match &s.body {
        SentenceBody::Launch(b) => {
            out.put_slice(b.track_id.as_bytes());
            put_sep(out);
            write_time(out, b.launch_time);
            put_sep(out);
            write_point(out, &b.point);
            put_sep(out);
            write_fixed(out, b.unc_h_cm, 2);
            put_sep(out);
            write_fixed(out, b.unc_v_cm, 2);
            put_sep(out);
            out.put_slice(enum_code(b.class, &CLASSES).as_bytes());
            put_sep(out);
            write_fixed(out, b.confidence_e4, 4);
        }
        SentenceBody::Track(b) => {
            out.put_slice(b.track_id.as_bytes());
            put_sep(out);
            write_time(out, b.time);
            put_sep(out);
            write_point(out, &b.point);
            put_sep(out);
            write_fixed(out, b.unc_h_cm, 2);
            put_sep(out);
            write_fixed(out, b.unc_v_cm, 2);
            put_sep(out);
            write_fixed(out, b.vel_e_cms, 2);
            put_sep(out);
            write_fixed(out, b.vel_n_cms, 2);
            put_sep(out);
            write_fixed(out, b.vel_u_cms, 2);
            put_sep(out);
            write_fixed(out, i64::from(b.quality), 0);
            put_sep(out);
            out.put_slice(enum_code(b.phase, &PHASES).as_bytes());
        }
        SentenceBody::Impact(b) => {
            out.put_slice(b.track_id.as_bytes());
            put_sep(out);
            write_time(out, b.impact_time);
            put_sep(out);
            write_point(out, &b.point);
            put_sep(out);
            write_fixed(out, b.semi_major_cm, 2);
            put_sep(out);
            write_fixed(out, b.semi_minor_cm, 2);
            put_sep(out);
            write_fixed(out, b.orientation_mdeg, 3);
        }
        SentenceBody::End(b) => {
            out.put_slice(b.track_id.as_bytes());
            put_sep(out);
            write_time(out, b.time);
            put_sep(out);
            out.put_slice(enum_code(b.reason, &END_REASONS).as_bytes());
            put_sep(out);
            write_opt_point(out, b.final_point.as_ref());
        }
        SentenceBody::Cancel(b) => {
            out.put_slice(b.track_id.as_bytes());
            put_sep(out);
            write_text(out, &b.reason);
        }
        SentenceBody::Correction(b) => {
            out.put_slice(b.track_id.as_bytes());
            put_sep(out);
            write_text(out, &b.reason);
            put_sep(out);
            if let Some(t) = b.corrected_time {
                write_time(out, t);
            }
            put_sep(out);
            write_opt_point(out, b.corrected_point.as_ref());
            put_sep(out);
            if let Some(c) = b.corrected_class {
                out.put_slice(enum_code(c, &CLASSES).as_bytes());
            }
        }
        SentenceBody::Status(b) => {
            write_text(out, &b.component);
            put_sep(out);
            out.put_slice(enum_code(b.state, &STATES).as_bytes());
            put_sep(out);
            write_fixed(out, b.uptime_ms, 3);
            put_sep(out);
            write_text(out, &b.detail);
        }
    }
}

/// One complete MQTT payload = exactly one sentence (kr.md §1, §7).
fn decode_whole(buf: &[u8]) -> Result<Sentence, KrError> {
    match KrCodec.decode(buf)? {
        Decoded::NeedMore { needed } => Err(KrError::Truncated { needed }),
        Decoded::Frame { frame, consumed } => {
            if consumed == buf.len() {
                Ok(frame)
            } else {
                Err(KrError::TrailingData {
                    extra: buf.len().saturating_sub(consumed),
                })
            }
        }
    }
}

impl NationalCodec for KrCodec {
    type Frame = Sentence;
    type Error = KrError;

    const NATION: Nation = Nation::Kr;
    const MAX_FRAME_LEN: usize = MAX_SENTENCE_LEN;

    fn decode(&self, buf: &[u8]) -> Result<Decoded<Sentence>, KrError> {
        let prefix = buf.len().min(SYNC.len());
        if buf.get(..prefix) != SYNC.get(..prefix) {
            return Err(KrError::BadSync);
        }
        if buf.len() < SYNC.len() {
            return Ok(Decoded::NeedMore {
                needed: SYNC.len() - buf.len(),
            });
        }
        let Some(sc) = scan(buf)? else {
            return Ok(Decoded::NeedMore { needed: 1 });
        };
        let sentence = buf.get(..sc.len).unwrap_or_default();
        let star = check_frame(sentence, &sc)?;
        let frame = parse_sentence(sentence, &sc, star)?;
        Ok(Decoded::Frame {
            frame,
            consumed: sc.len,
        })
    }

    /// One MQTT payload = exactly one sentence: the same as [`KrCodec::decode_message`].
    fn decode_message(&self, msg: &[u8]) -> Result<Sentence, KrError> {
        decode_whole(msg)
    }

    fn skip_after_error(&self, buf: &[u8]) -> usize {
        buf.iter()
            .skip(1)
            .position(|&b| b == b'$')
            .map_or(buf.len(), |i| i + 1)
            .max(1)
            .min(buf.len().max(1))
    }

    fn encode(&self, frame: &Sentence, out: &mut BytesMut) -> Result<(), KrError> {
        check_sentence(frame)?;
        let start = out.len();
        out.reserve(256);
        out.put_u8(b'$');
        write_body(out, frame);
        let crc = CRC32.checksum(out.get(start + 1..).unwrap_or_default());
        out.put_u8(b'*');
        for shift in (0..8).rev() {
            let nib = ((crc >> (shift * 4)) & 0xF) as usize;
            out.put_u8(HEX.get(nib).copied().unwrap_or(b'0'));
        }
        out.put_slice(b"\r\n");
        let len = out.len() - start;
        if len > MAX_SENTENCE_LEN {
            out.truncate(start);
            return Err(KrError::Oversize {
                len,
                max: MAX_SENTENCE_LEN,
            });
        }
        Ok(())
    }

    fn to_common(&self, s: &Sentence, ingested_at: DateTime<Utc>) -> Result<Envelope, KrError> {
        crate::translate::into_common(s.clone(), ingested_at)
    }

    fn to_national(&self, env: &Envelope) -> Result<Sentence, KrError> {
        crate::translate::to_national(env)
    }
}
