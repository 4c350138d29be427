//! Byte-level decoding and encoding of JP frames (no translation).

use bytes::{BufMut, BytesMut};
use crc::{Crc, Table};
use trilink_schema::{
    ComponentState, Decoded, EndReason, FlightPhase, MessageId, MissileClass, Mode, Nation,
};
use uuid::Uuid;

use crate::JpError;
use crate::frame::{
    CRC_LEN, HEADER_LEN, JpBody, JpCancel, JpCorrection, JpEventEnd, JpFrame, JpImpact, JpLaunch,
    JpPoint, JpStatus, JpTrack, MAX_FRAME_LEN, MICROS_PER_DAY, MIN_FRAME_LEN, SYNC, VERSION,
    limits, ranges, release,
};

/// CRC-16/IBM-3740 (a.k.a. CCITT-FALSE): poly 0x1021, init 0xFFFF, no reflection, xorout 0,
/// check value 0x29B1 over ASCII "123456789".
pub(crate) static CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&crc::CRC_16_IBM_3740);

/// The CRC the JP format uses, over `bytes`.
pub fn crc16(bytes: &[u8]) -> u16 {
    CRC16.checksum(bytes)
}

// ---------------------------------------------------------------------------------------
// Decoding

/// A bounds-checked big-endian reader over the frame body. Running past the end is a
/// `BadLength` error: the body's fields do not fit the declared length.
struct Reader<'a> {
    buf: &'a [u8],
    declared: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], JpError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<N>()
            .ok_or(JpError::BadLength {
                declared: self.declared,
            })?;
        self.buf = rest;
        Ok(*head)
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], JpError> {
        if n > self.buf.len() {
            return Err(JpError::BadLength {
                declared: self.declared,
            });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, JpError> {
        Ok(u8::from_be_bytes(self.take::<1>()?))
    }
    fn u16(&mut self) -> Result<u16, JpError> {
        Ok(u16::from_be_bytes(self.take::<2>()?))
    }
    fn u32(&mut self) -> Result<u32, JpError> {
        Ok(u32::from_be_bytes(self.take::<4>()?))
    }
    fn i32(&mut self) -> Result<i32, JpError> {
        Ok(i32::from_be_bytes(self.take::<4>()?))
    }
    fn u64(&mut self) -> Result<u64, JpError> {
        Ok(u64::from_be_bytes(self.take::<8>()?))
    }

    /// A text field with a one- or two-byte length prefix.
    fn text(&mut self, field: &'static str, len: usize, max: usize) -> Result<String, JpError> {
        if len > max {
            return Err(JpError::FieldOutOfRange {
                field,
                value: len as i64,
            });
        }
        let raw = self.bytes(len)?;
        match std::str::from_utf8(raw) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err(JpError::BadText { field }),
        }
    }
    fn text8(&mut self, field: &'static str, max: usize) -> Result<String, JpError> {
        let len = usize::from(self.u8()?);
        self.text(field, len, max)
    }
    fn text16(&mut self, field: &'static str, max: usize) -> Result<String, JpError> {
        let len = usize::from(self.u16()?);
        self.text(field, len, max)
    }

    fn track_id(&mut self) -> Result<String, JpError> {
        let len = usize::from(self.u8()?);
        if len == 0 || len > limits::TRACK_ID {
            return Err(JpError::FieldOutOfRange {
                field: "track_id",
                value: len as i64,
            });
        }
        let raw = self.bytes(len)?;
        if !raw
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
        {
            return Err(JpError::BadText { field: "track_id" });
        }
        // ASCII checked above, so this never fails; map anyway rather than unwrap.
        std::str::from_utf8(raw)
            .map(str::to_owned)
            .map_err(|_| JpError::BadText { field: "track_id" })
    }

    fn tod(&mut self, field: &'static str) -> Result<u64, JpError> {
        let v = self.u64()?;
        check_tod(field, v)?;
        Ok(v)
    }

    fn point(&mut self, prefix: Prefix) -> Result<JpPoint, JpError> {
        let p = JpPoint {
            lat_e7: self.i32()?,
            lon_e7: self.i32()?,
            alt_cm: self.i32()?,
        };
        check_point(prefix, &p)?;
        Ok(p)
    }

    fn dist(&mut self, field: &'static str) -> Result<u32, JpError> {
        let v = self.u32()?;
        check_dist(field, v)?;
        Ok(v)
    }

    fn vel(&mut self, field: &'static str) -> Result<i32, JpError> {
        let v = self.i32()?;
        check_vel(field, v)?;
        Ok(v)
    }
}

/// Which point a range error names (spec field names).
#[derive(Clone, Copy)]
pub(crate) enum Prefix {
    Launch,
    Position,
    Impact,
    Final,
    Corrected,
}

impl Prefix {
    const fn names(self) -> [&'static str; 3] {
        match self {
            Self::Launch => ["launch_lat", "launch_lon", "launch_alt"],
            Self::Position => ["lat", "lon", "alt"],
            Self::Impact => ["impact_lat", "impact_lon", "impact_alt"],
            Self::Final => ["final_lat", "final_lon", "final_alt"],
            Self::Corrected => ["corrected_lat", "corrected_lon", "corrected_alt"],
        }
    }
}

fn out_of_range(field: &'static str, value: impl Into<i64>) -> JpError {
    JpError::FieldOutOfRange {
        field,
        value: value.into(),
    }
}

fn check_tod(field: &'static str, v: u64) -> Result<(), JpError> {
    if v < MICROS_PER_DAY {
        Ok(())
    } else {
        // u64 above i64::MAX saturates in the error report.
        Err(out_of_range(field, i64::try_from(v).unwrap_or(i64::MAX)))
    }
}

fn check_point(prefix: Prefix, p: &JpPoint) -> Result<(), JpError> {
    let [lat, lon, alt] = prefix.names();
    if !(-ranges::LAT_E7..=ranges::LAT_E7).contains(&p.lat_e7) {
        return Err(out_of_range(lat, p.lat_e7));
    }
    if !(-ranges::LON_E7..=ranges::LON_E7).contains(&p.lon_e7) {
        return Err(out_of_range(lon, p.lon_e7));
    }
    if !(ranges::ALT_CM_MIN..=ranges::ALT_CM_MAX).contains(&p.alt_cm) {
        return Err(out_of_range(alt, p.alt_cm));
    }
    Ok(())
}

fn check_uptime(v: u64) -> Result<(), JpError> {
    if v <= ranges::UPTIME_US {
        Ok(())
    } else {
        Err(out_of_range("uptime", i64::try_from(v).unwrap_or(i64::MAX)))
    }
}

fn check_dist(field: &'static str, v: u32) -> Result<(), JpError> {
    if v <= ranges::DIST_CM_MAX {
        Ok(())
    } else {
        Err(out_of_range(field, v))
    }
}

fn check_vel(field: &'static str, v: i32) -> Result<(), JpError> {
    if (-ranges::VEL_MMPS..=ranges::VEL_MMPS).contains(&v) {
        Ok(())
    } else {
        Err(out_of_range(field, v))
    }
}

pub(crate) fn nation_from(code: u8) -> Result<Nation, JpError> {
    match code {
        1 => Ok(Nation::Jp),
        2 => Ok(Nation::Kr),
        3 => Ok(Nation::Us),
        other => Err(out_of_range("origin", other)),
    }
}
pub(crate) const fn nation_code(n: Nation) -> u8 {
    match n {
        Nation::Jp => 1,
        Nation::Kr => 2,
        Nation::Us => 3,
    }
}
fn mode_from(code: u8) -> Result<Mode, JpError> {
    match code {
        1 => Ok(Mode::RealWorld),
        2 => Ok(Mode::Exercise),
        3 => Ok(Mode::Test),
        other => Err(out_of_range("mode", other)),
    }
}
const fn mode_code(m: Mode) -> u8 {
    match m {
        Mode::RealWorld => 1,
        Mode::Exercise => 2,
        Mode::Test => 3,
    }
}
fn class_from(field: &'static str, code: u8) -> Result<MissileClass, JpError> {
    match code {
        1 => Ok(MissileClass::Srbm),
        2 => Ok(MissileClass::Mrbm),
        3 => Ok(MissileClass::Irbm),
        4 => Ok(MissileClass::Icbm),
        5 => Ok(MissileClass::Slbm),
        6 => Ok(MissileClass::Unknown),
        other => Err(out_of_range(field, other)),
    }
}
const fn class_code(c: MissileClass) -> u8 {
    match c {
        MissileClass::Srbm => 1,
        MissileClass::Mrbm => 2,
        MissileClass::Irbm => 3,
        MissileClass::Icbm => 4,
        MissileClass::Slbm => 5,
        MissileClass::Unknown => 6,
    }
}
fn phase_from(code: u8) -> Result<FlightPhase, JpError> {
    match code {
        1 => Ok(FlightPhase::Boost),
        2 => Ok(FlightPhase::Midcourse),
        3 => Ok(FlightPhase::Terminal),
        4 => Ok(FlightPhase::Unknown),
        other => Err(out_of_range("flight_phase", other)),
    }
}
const fn phase_code(p: FlightPhase) -> u8 {
    match p {
        FlightPhase::Boost => 1,
        FlightPhase::Midcourse => 2,
        FlightPhase::Terminal => 3,
        FlightPhase::Unknown => 4,
    }
}
fn end_from(code: u8) -> Result<EndReason, JpError> {
    match code {
        1 => Ok(EndReason::Impact),
        2 => Ok(EndReason::Lost),
        3 => Ok(EndReason::Other),
        other => Err(out_of_range("end_reason", other)),
    }
}
const fn end_code(r: EndReason) -> u8 {
    match r {
        EndReason::Impact => 1,
        EndReason::Lost => 2,
        EndReason::Other => 3,
    }
}
fn state_from(code: u8) -> Result<ComponentState, JpError> {
    match code {
        1 => Ok(ComponentState::Ok),
        2 => Ok(ComponentState::Degraded),
        3 => Ok(ComponentState::Down),
        other => Err(out_of_range("state", other)),
    }
}
const fn state_code(s: ComponentState) -> u8 {
    match s {
        ComponentState::Ok => 1,
        ComponentState::Degraded => 2,
        ComponentState::Down => 3,
    }
}

/// Streaming decode of the first frame at the front of `buf` (see the spec's "Decoding
/// procedure" for the order of checks).
pub(crate) fn decode(buf: &[u8]) -> Result<Decoded<JpFrame>, JpError> {
    // 1. Sync, checked on as many bytes as are present.
    match buf {
        [] => return Ok(Decoded::NeedMore { needed: HEADER_LEN }),
        [a] if *a != SYNC[0] => {
            return Err(JpError::BadSync {
                found: u16::from(*a) << 8,
            });
        }
        [a, b, ..] if [*a, *b] != SYNC => {
            return Err(JpError::BadSync {
                found: u16::from_be_bytes([*a, *b]),
            });
        }
        _ => {}
    }
    // 2. Declared length, checked as soon as it is present and before asking for more.
    let declared = match buf {
        [_, _, _, _, l0, l1, ..] => {
            let declared = usize::from(u16::from_be_bytes([*l0, *l1]));
            if declared > MAX_FRAME_LEN {
                return Err(JpError::Oversize {
                    declared,
                    max: MAX_FRAME_LEN,
                });
            }
            if declared < MIN_FRAME_LEN {
                return Err(JpError::BadLength { declared });
            }
            declared
        }
        _ => HEADER_LEN,
    };
    // 3. Header complete?
    let Some((header, _)) = buf.split_first_chunk::<HEADER_LEN>() else {
        return Ok(Decoded::NeedMore {
            needed: HEADER_LEN - buf.len(),
        });
    };
    let [_, _, version, msg_type, _, _, s0, s1, s2, s3] = *header;
    // 4. Whole frame present?
    let Some(frame) = buf.get(..declared) else {
        return Ok(Decoded::NeedMore {
            needed: declared - buf.len(),
        });
    };
    // 5. CRC over everything but the trailer.
    let Some((covered, trailer)) = frame.split_last_chunk::<CRC_LEN>() else {
        return Err(JpError::BadLength { declared });
    };
    let actual = u16::from_be_bytes(*trailer);
    let expected = crc16(covered);
    if expected != actual {
        return Err(JpError::BadChecksum { expected, actual });
    }
    // 6. Version and type.
    if version != VERSION {
        return Err(JpError::UnsupportedVersion { version });
    }
    if !(1..=7).contains(&msg_type) {
        return Err(JpError::UnknownType { msg_type });
    }
    // 7. Body.
    let body = covered.get(HEADER_LEN..).unwrap_or_default();
    let mut r = Reader {
        buf: body,
        declared,
    };
    let origin = nation_from(r.u8()?)?;
    let mode = mode_from(r.u8()?)?;
    let releasability = r.u8()?;
    if releasability & !release::ALL != 0 {
        return Err(out_of_range("releasability", releasability));
    }
    let ref_count = usize::from(r.u8()?);
    if ref_count > limits::REFERENCES {
        return Err(out_of_range("ref_count", ref_count as i64));
    }
    let observed_tod_us = r.tod("observed_tod")?;
    let system = r.text8("system", limits::SYSTEM)?;
    let sensor = r.text8("sensor", limits::SENSOR)?;
    let national_message_id = r.text8("national_message_id", limits::NATIONAL_ID)?;
    let mut references = Vec::with_capacity(ref_count);
    for _ in 0..ref_count {
        let raw = r.take::<16>()?;
        references.push(MessageId::from_uuid(Uuid::from_bytes(raw)));
    }
    let body = match msg_type {
        1 => JpBody::LaunchDetection(JpLaunch {
            track_id: r.track_id()?,
            launch_tod_us: r.tod("launch_tod")?,
            point: r.point(Prefix::Launch)?,
            unc_h_cm: r.dist("unc_h")?,
            unc_v_cm: r.dist("unc_v")?,
            class: class_from("missile_class", r.u8()?)?,
            confidence_e4: {
                let c = r.u16()?;
                if c > ranges::CONFIDENCE {
                    return Err(out_of_range("confidence", c));
                }
                c
            },
        }),
        2 => JpBody::TrackUpdate(JpTrack {
            track_id: r.track_id()?,
            tod_us: r.tod("track_tod")?,
            point: r.point(Prefix::Position)?,
            unc_h_cm: r.dist("unc_h")?,
            unc_v_cm: r.dist("unc_v")?,
            vel_e_mmps: r.vel("vel_e")?,
            vel_n_mmps: r.vel("vel_n")?,
            vel_u_mmps: r.vel("vel_u")?,
            quality: {
                let q = r.u8()?;
                if q > ranges::QUALITY {
                    return Err(out_of_range("quality", q));
                }
                q
            },
            phase: phase_from(r.u8()?)?,
        }),
        3 => JpBody::ImpactPrediction(JpImpact {
            track_id: r.track_id()?,
            impact_tod_us: r.tod("impact_tod")?,
            point: r.point(Prefix::Impact)?,
            semi_major_cm: r.dist("semi_major")?,
            semi_minor_cm: r.dist("semi_minor")?,
            orientation_e2: {
                let o = r.u16()?;
                if o > ranges::ORIENTATION {
                    return Err(out_of_range("orientation", o));
                }
                o
            },
        }),
        4 => {
            let track_id = r.track_id()?;
            let tod_us = r.tod("end_tod")?;
            let reason = end_from(r.u8()?)?;
            let flags = r.u8()?;
            if flags & !0b1 != 0 {
                return Err(out_of_range("end_flags", flags));
            }
            let final_point = if flags & 1 == 1 {
                Some(r.point(Prefix::Final)?)
            } else {
                None
            };
            JpBody::EventEnd(JpEventEnd {
                track_id,
                tod_us,
                reason,
                final_point,
            })
        }
        5 => JpBody::Cancel(JpCancel {
            track_id: r.track_id()?,
            reason: r.text16("reason", limits::REASON)?,
        }),
        6 => {
            let track_id = r.track_id()?;
            let reason = r.text16("reason", limits::REASON)?;
            let flags = r.u8()?;
            if flags & !0b111 != 0 {
                return Err(out_of_range("correction_flags", flags));
            }
            let corrected_tod_us = if flags & 0b001 != 0 {
                Some(r.tod("corrected_tod")?)
            } else {
                None
            };
            let corrected_point = if flags & 0b010 != 0 {
                Some(r.point(Prefix::Corrected)?)
            } else {
                None
            };
            let corrected_class = if flags & 0b100 != 0 {
                Some(class_from("corrected_class", r.u8()?)?)
            } else {
                None
            };
            JpBody::Correction(JpCorrection {
                track_id,
                reason,
                corrected_tod_us,
                corrected_point,
                corrected_class,
            })
        }
        _ => JpBody::Status(JpStatus {
            component: r.text8("component", limits::COMPONENT)?,
            state: state_from(r.u8()?)?,
            uptime_us: {
                let u = r.u64()?;
                check_uptime(u)?;
                u
            },
            detail: r.text16("detail", limits::DETAIL)?,
        }),
    };
    if !r.buf.is_empty() {
        return Err(JpError::BadLength { declared });
    }
    Ok(Decoded::Frame {
        frame: JpFrame {
            sequence: u32::from_be_bytes([s0, s1, s2, s3]),
            origin,
            mode,
            releasability,
            observed_tod_us,
            system,
            sensor,
            national_message_id,
            references,
            body,
        },
        consumed: declared,
    })
}

/// Where to resume after an error: the next byte that could start a sync word.
pub(crate) fn skip_after_error(buf: &[u8]) -> usize {
    buf.iter()
        .skip(1)
        .position(|b| *b == SYNC[0])
        .map_or(buf.len().max(1), |p| p + 1)
}

// ---------------------------------------------------------------------------------------
// Encoding

fn put_text8(out: &mut BytesMut, field: &'static str, s: &str, max: usize) -> Result<(), JpError> {
    if s.len() > max {
        return Err(out_of_range(field, s.len() as i64));
    }
    out.put_u8(s.len() as u8);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn put_text16(out: &mut BytesMut, field: &'static str, s: &str, max: usize) -> Result<(), JpError> {
    if s.len() > max {
        return Err(out_of_range(field, s.len() as i64));
    }
    out.put_u16(s.len() as u16);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn put_track_id(out: &mut BytesMut, s: &str) -> Result<(), JpError> {
    if s.is_empty() || s.len() > limits::TRACK_ID {
        return Err(out_of_range("track_id", s.len() as i64));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(JpError::BadText { field: "track_id" });
    }
    out.put_u8(s.len() as u8);
    out.put_slice(s.as_bytes());
    Ok(())
}

fn put_tod(out: &mut BytesMut, field: &'static str, v: u64) -> Result<(), JpError> {
    check_tod(field, v)?;
    out.put_u64(v);
    Ok(())
}

fn put_point(out: &mut BytesMut, prefix: Prefix, p: &JpPoint) -> Result<(), JpError> {
    check_point(prefix, p)?;
    out.put_i32(p.lat_e7);
    out.put_i32(p.lon_e7);
    out.put_i32(p.alt_cm);
    Ok(())
}

fn put_dist(out: &mut BytesMut, field: &'static str, v: u32) -> Result<(), JpError> {
    check_dist(field, v)?;
    out.put_u32(v);
    Ok(())
}

fn put_vel(out: &mut BytesMut, field: &'static str, v: i32) -> Result<(), JpError> {
    check_vel(field, v)?;
    out.put_i32(v);
    Ok(())
}

/// Encode `f` at the end of `out`. Every field is range-checked exactly as `decode` checks
/// it, so whatever `encode` writes, `decode` reads back; on error `out` is left as it was.
pub(crate) fn encode(f: &JpFrame, out: &mut BytesMut) -> Result<(), JpError> {
    let start = out.len();
    let res = encode_inner(f, out, start);
    if res.is_err() {
        out.truncate(start);
    }
    res
}

fn encode_inner(f: &JpFrame, out: &mut BytesMut, start: usize) -> Result<(), JpError> {
    if f.releasability & !release::ALL != 0 {
        return Err(out_of_range("releasability", f.releasability));
    }
    if f.references.len() > limits::REFERENCES {
        return Err(out_of_range("ref_count", f.references.len() as i64));
    }
    out.reserve(256);
    out.put_slice(&SYNC);
    out.put_u8(VERSION);
    out.put_u8(f.body.msg_type());
    out.put_u16(0); // length, patched below
    out.put_u32(f.sequence);
    out.put_u8(nation_code(f.origin));
    out.put_u8(mode_code(f.mode));
    out.put_u8(f.releasability);
    out.put_u8(f.references.len() as u8);
    put_tod(out, "observed_tod", f.observed_tod_us)?;
    put_text8(out, "system", &f.system, limits::SYSTEM)?;
    put_text8(out, "sensor", &f.sensor, limits::SENSOR)?;
    put_text8(
        out,
        "national_message_id",
        &f.national_message_id,
        limits::NATIONAL_ID,
    )?;
    for r in &f.references {
        out.put_slice(r.as_uuid().as_bytes());
    }
    match &f.body {
        JpBody::LaunchDetection(b) => {
            put_track_id(out, &b.track_id)?;
            put_tod(out, "launch_tod", b.launch_tod_us)?;
            put_point(out, Prefix::Launch, &b.point)?;
            put_dist(out, "unc_h", b.unc_h_cm)?;
            put_dist(out, "unc_v", b.unc_v_cm)?;
            out.put_u8(class_code(b.class));
            if b.confidence_e4 > ranges::CONFIDENCE {
                return Err(out_of_range("confidence", b.confidence_e4));
            }
            out.put_u16(b.confidence_e4);
        }
        JpBody::TrackUpdate(b) => {
            put_track_id(out, &b.track_id)?;
            put_tod(out, "track_tod", b.tod_us)?;
            put_point(out, Prefix::Position, &b.point)?;
            put_dist(out, "unc_h", b.unc_h_cm)?;
            put_dist(out, "unc_v", b.unc_v_cm)?;
            put_vel(out, "vel_e", b.vel_e_mmps)?;
            put_vel(out, "vel_n", b.vel_n_mmps)?;
            put_vel(out, "vel_u", b.vel_u_mmps)?;
            if b.quality > ranges::QUALITY {
                return Err(out_of_range("quality", b.quality));
            }
            out.put_u8(b.quality);
            out.put_u8(phase_code(b.phase));
        }
        JpBody::ImpactPrediction(b) => {
            put_track_id(out, &b.track_id)?;
            put_tod(out, "impact_tod", b.impact_tod_us)?;
            put_point(out, Prefix::Impact, &b.point)?;
            put_dist(out, "semi_major", b.semi_major_cm)?;
            put_dist(out, "semi_minor", b.semi_minor_cm)?;
            if b.orientation_e2 > ranges::ORIENTATION {
                return Err(out_of_range("orientation", b.orientation_e2));
            }
            out.put_u16(b.orientation_e2);
        }
        JpBody::EventEnd(b) => {
            put_track_id(out, &b.track_id)?;
            put_tod(out, "end_tod", b.tod_us)?;
            out.put_u8(end_code(b.reason));
            out.put_u8(u8::from(b.final_point.is_some()));
            if let Some(p) = &b.final_point {
                put_point(out, Prefix::Final, p)?;
            }
        }
        JpBody::Cancel(b) => {
            put_track_id(out, &b.track_id)?;
            put_text16(out, "reason", &b.reason, limits::REASON)?;
        }
        JpBody::Correction(b) => {
            put_track_id(out, &b.track_id)?;
            put_text16(out, "reason", &b.reason, limits::REASON)?;
            let flags = u8::from(b.corrected_tod_us.is_some())
                | u8::from(b.corrected_point.is_some()) << 1
                | u8::from(b.corrected_class.is_some()) << 2;
            out.put_u8(flags);
            if let Some(t) = b.corrected_tod_us {
                put_tod(out, "corrected_tod", t)?;
            }
            if let Some(p) = &b.corrected_point {
                put_point(out, Prefix::Corrected, p)?;
            }
            if let Some(c) = b.corrected_class {
                out.put_u8(class_code(c));
            }
        }
        JpBody::Status(b) => {
            put_text8(out, "component", &b.component, limits::COMPONENT)?;
            out.put_u8(state_code(b.state));
            check_uptime(b.uptime_us)?;
            out.put_u64(b.uptime_us);
            put_text16(out, "detail", &b.detail, limits::DETAIL)?;
        }
    }
    let len = out.len() - start + CRC_LEN;
    if len > MAX_FRAME_LEN {
        // Unreachable with the limits above (the largest frame is 871 bytes); kept as a guard.
        return Err(JpError::Oversize {
            declared: len,
            max: MAX_FRAME_LEN,
        });
    }
    let written = out.get_mut(start..).unwrap_or_default();
    if let Some(l) = written.get_mut(4..6) {
        l.copy_from_slice(&(len as u16).to_be_bytes());
    }
    let crc = crc16(out.get(start..).unwrap_or_default());
    out.put_u16(crc);
    Ok(())
}
