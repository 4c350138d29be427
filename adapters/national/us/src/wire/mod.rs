//! The byte layout: SIMPLE header, Link 16 sub-header, J-words, checksum (spec §2–§7).
//!
//! The packet framing, the envelope word and the text area are here; each body kind (J3.0
//! launch and impact, J3.6 track, J7.0–J7.2, J7.7 association, J13.5 status) has its own
//! module with its read and write side by side.

use bytes::{BufMut, BytesMut};
use trilink_schema::{
    ComponentState, ContributionState, Decoded, EndReason, FlightPhase, MissileClass, Mode, Nation,
};

use crate::UsError;
use crate::gps::GPS_US_LIMIT;

// One module per body kind, each with its read and write side by side.
mod association;
mod cancel;
mod correction;
mod event_end;
mod impact;
mod launch;
mod status;
mod track;

/// SIMPLE sync bytes.
pub const SYNC: [u8; 2] = [0x49, 0x36];
/// SIMPLE header length (bytes), as Wireshark's SIMPLE dissector reads it.
pub const SIMPLE_HEADER_LEN: usize = 14;
/// Link 16 sub-header length (bytes).
pub const LINK16_HEADER_LEN: usize = 14;
/// One J-word as SIMPLE carries it: 16-bit word header + 8 data bytes.
pub const WORD_LEN: usize = 10;
/// Data bytes per J-word.
pub const WORD_DATA_LEN: usize = 8;
/// Bytes before the first J-word.
pub const WORDS_OFFSET: usize = SIMPLE_HEADER_LEN + LINK16_HEADER_LEN;
/// Header, sub-header and checksum.
pub const OVERHEAD: usize = WORDS_OFFSET + 2;
/// Most J-words in one packet (keeps `length` below Wireshark's 518-byte limit).
pub const MAX_WORDS: usize = 48;
/// Smallest valid packet (one primary word and one container word).
pub const MIN_FRAME_LEN: usize = OVERHEAD + 2 * WORD_LEN;
/// Largest valid packet.
pub const MAX_FRAME_LEN: usize = OVERHEAD + MAX_WORDS * WORD_LEN;
/// SIMPLE packet type "Link 16".
pub const PACKET_TYPE_LINK16: u8 = 1;
/// SIMPLE Link 16 subtype "Fixed Format".
pub const LINK16_SUBTYPE_FIXED_FORMAT: u8 = 2;
/// Container J-message label/sublabel (J28.2).
pub const CONTAINER_LABEL: (u8, u8) = (28, 2);

const MAX_AREA: usize = (MAX_WORDS - 1) * WORD_DATA_LEN;
const MAX_BODY: usize = 7 * WORD_DATA_LEN;

/// Uptime limit (exclusive), µs: 2^30 s (about 34 years), so that `uptime_s` as an f64 maps
/// back to the same microsecond.
pub const UPTIME_US_LIMIT: u64 = (1 << 30) * 1_000_000;

/// Largest uncertainty or error-ellipse axis (inclusive), cm: 10 000 km, the common schema's
/// limit for these distances (and JP's `cm32` range). A `u32` could carry 42 950 km.
pub const DISTANCE_CM_MAX: u32 = 1_000_000_000;

/// Text field limits (bytes).
pub const SYSTEM_MAX: usize = 64;
/// Sensor name limit.
pub const SENSOR_MAX: usize = 64;
/// National message id limit.
pub const NATIONAL_ID_MAX: usize = 128;
/// Track id limit.
pub const TRACK_ID_MAX: usize = 32;
/// Component name limit.
pub const COMPONENT_MAX: usize = 64;
/// Free text (reason, detail) limit.
pub const FREE_TEXT_MAX: usize = 256;
/// Most contributors one J7.7 association lists (the common schema's limit per event).
pub const ASSOCIATION_MAX: usize = 16;

/// The SIMPLE packet header fields a sender chooses (sync, length, packet size and type are
/// implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleHeader {
    /// Sequence number.
    pub sequence: u16,
    /// Source node (1–128 unicast).
    pub src_node: u8,
    /// Source subnode (206 = Link 16).
    pub src_subnode: u8,
    /// Destination node (129 = broadcast).
    pub dst_node: u8,
    /// Destination subnode.
    pub dst_subnode: u8,
    /// Transit time (opaque to trilink).
    pub transit_time: u16,
}

impl Default for SimpleHeader {
    fn default() -> Self {
        Self {
            sequence: 0,
            src_node: 1,
            src_subnode: 206,
            dst_node: 129,
            dst_subnode: 206,
            transit_time: 0,
        }
    }
}

/// The SIMPLE Link 16 sub-header fields (subtype and word count are implied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link16Header {
    /// R/C flag.
    pub rc_flag: u8,
    /// Network number.
    pub network: u8,
    /// Sequential slot count 2.
    pub ssc2: u8,
    /// Network participation group (7 = Surveillance).
    pub npg: u16,
    /// Sequential slot count 1.
    pub ssc1: u16,
    /// Source track number (shown in octal by Wireshark).
    pub stn: u16,
    /// Loopback id.
    pub loopback_id: u16,
}

impl Default for Link16Header {
    fn default() -> Self {
        Self {
            rc_flag: 0,
            network: 0,
            ssc2: 0,
            npg: 7,
            ssc1: 0,
            stn: 0o00001,
            loopback_id: 0,
        }
    }
}

/// An ECEF position in centimetres (WGS84).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcefCm {
    /// X, cm.
    pub x: i32,
    /// Y, cm.
    pub y: i32,
    /// Z, cm.
    pub z: i32,
}

/// An ECEF velocity in millimetres per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EcefVelMmps {
    /// X, mm/s.
    pub x: i32,
    /// Y, mm/s.
    pub y: i32,
    /// Z, mm/s.
    pub z: i32,
}

/// One-sigma position uncertainty in centimetres, each 0 ..= [`DISTANCE_CM_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UncertaintyCm {
    /// Horizontal, cm.
    pub horizontal: u32,
    /// Vertical, cm.
    pub vertical: u32,
}

/// J3.0 point type 1: launch detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchBody {
    /// Track id.
    pub track_id: String,
    /// Missile class.
    pub missile_class: MissileClass,
    /// Confidence in units of 1e-9 (0 … 1 000 000 000).
    pub confidence_e9: u32,
    /// Launch time, GPS µs.
    pub launch_time_gps_us: u64,
    /// Launch point.
    pub launch_point: EcefCm,
    /// Launch point uncertainty.
    pub uncertainty: UncertaintyCm,
}

/// J3.6: ballistic (space) track update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackBody {
    /// Track id.
    pub track_id: String,
    /// Track quality 0 … 15.
    pub quality: u8,
    /// Flight phase.
    pub flight_phase: FlightPhase,
    /// Time of the position, GPS µs.
    pub time_gps_us: u64,
    /// Position.
    pub position: EcefCm,
    /// Velocity.
    pub velocity: EcefVelMmps,
    /// Position uncertainty.
    pub uncertainty: UncertaintyCm,
}

/// J3.0 point type 2: impact prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactBody {
    /// Track id.
    pub track_id: String,
    /// Predicted impact time, GPS µs.
    pub impact_time_gps_us: u64,
    /// Predicted impact point.
    pub impact_point: EcefCm,
    /// Error ellipse semi-major axis, cm (0 ..= [`DISTANCE_CM_MAX`]).
    pub semi_major_cm: u32,
    /// Error ellipse semi-minor axis, cm (0 ..= [`DISTANCE_CM_MAX`]).
    pub semi_minor_cm: u32,
    /// Orientation, micro-degrees clockwise from true north (0 … 180 000 000).
    pub orientation_udeg: u32,
}

/// J7.0: event end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEndBody {
    /// Track id.
    pub track_id: String,
    /// Why it ended.
    pub reason: EndReason,
    /// When it ended, GPS µs.
    pub time_gps_us: u64,
    /// Final point, if known.
    pub final_point: Option<EcefCm>,
}

/// J7.1: cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelBody {
    /// Track id.
    pub track_id: String,
    /// Reason text.
    pub reason: String,
}

/// J7.2: correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionBody {
    /// Track id.
    pub track_id: String,
    /// Reason text.
    pub reason: String,
    /// Corrected time, GPS µs.
    pub corrected_time_gps_us: Option<u64>,
    /// Corrected point.
    pub corrected_point: Option<EcefCm>,
    /// Corrected missile class.
    pub corrected_missile_class: Option<MissileClass>,
}

/// One national track named by a J7.7 association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationMember {
    /// The nation that reported the track.
    pub origin: Nation,
    /// State of its contribution to the event.
    pub state: ContributionState,
    /// The national track id.
    pub track_id: String,
}

/// J7.7: association — the national tracks the hub fused into one common event (us.md §13).
/// An event's list may take several J7.7 packets: this one holds `members`, which are the
/// event's contributors `first .. first + members.len()` of `total`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssociationBody {
    /// The event's track id (its event id, 32 hex digits).
    pub track_id: String,
    /// Position of `members[0]` in the event's contributor list (0-based).
    pub first: u8,
    /// Number of contributors the event's list holds (at most [`ASSOCIATION_MAX`]).
    pub total: u8,
    /// Contributors carried here (1 ..= [`ASSOCIATION_MAX`]), in the order they joined.
    pub members: Vec<AssociationMember>,
}

/// J13.5: component status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusBody {
    /// Component name.
    pub component: String,
    /// Health.
    pub state: ComponentState,
    /// Uptime, µs.
    pub uptime_us: u64,
    /// Detail text.
    pub detail: String,
}

/// The payload-specific part of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    /// J3.0 (point type 1).
    LaunchDetection(LaunchBody),
    /// J3.6.
    TrackUpdate(TrackBody),
    /// J3.0 (point type 2).
    ImpactPrediction(ImpactBody),
    /// J7.0.
    EventEnd(EventEndBody),
    /// J7.1.
    Cancel(CancelBody),
    /// J7.2.
    Correction(CorrectionBody),
    /// J13.5.
    Status(StatusBody),
    /// J7.7 (hub only).
    Association(AssociationBody),
}

impl MessageBody {
    /// Link 16 (label, sublabel) of the primary J-message.
    pub const fn j_label(&self) -> (u8, u8) {
        match self {
            MessageBody::LaunchDetection(_) | MessageBody::ImpactPrediction(_) => (3, 0),
            MessageBody::TrackUpdate(_) => (3, 6),
            MessageBody::EventEnd(_) => (7, 0),
            MessageBody::Cancel(_) => (7, 1),
            MessageBody::Correction(_) => (7, 2),
            MessageBody::Status(_) => (13, 5),
            MessageBody::Association(_) => (7, 7),
        }
    }

    /// Number of continuation words of the primary J-message (its MLI); for a J7.7 it follows
    /// from the number of contributors, ⌈(4 + n) / 8⌉.
    pub fn mli(&self) -> u8 {
        match self {
            MessageBody::Association(a) => association::mli_for(a.members.len()),
            MessageBody::LaunchDetection(_) | MessageBody::ImpactPrediction(_) => 5,
            MessageBody::TrackUpdate(_) => 6,
            MessageBody::EventEnd(_) | MessageBody::Correction(_) => 3,
            MessageBody::Cancel(_) => 0,
            MessageBody::Status(_) => 2,
        }
    }
}

/// Envelope-level fields plus the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsMessage {
    /// Originating nation.
    pub origin: Nation,
    /// Mode.
    pub mode: Mode,
    /// Releasability bit set: bit 0 JP, bit 1 KR, bit 2 US.
    pub releasability: u8,
    /// Observation time, GPS µs.
    pub observed_at_gps_us: u64,
    /// Originating national system.
    pub system: String,
    /// Sensor.
    pub sensor: String,
    /// National message id.
    pub national_message_id: String,
    /// Referenced message ids (UUID bytes, RFC 4122 order).
    pub references: Vec<[u8; 16]>,
    /// Payload.
    pub body: MessageBody,
}

/// One decoded SIMPLE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsFrame {
    /// SIMPLE header.
    pub simple: SimpleHeader,
    /// Link 16 sub-header.
    pub link16: Link16Header,
    /// The trilink message carried in the J-words.
    pub message: UsMessage,
}

/// 16-bit SIMPLE checksum: sum of all bytes modulo 2^16.
pub fn simple_checksum(bytes: &[u8]) -> u16 {
    bytes
        .iter()
        .fold(0u16, |acc, &b| acc.wrapping_add(u16::from(b)))
}

// ---------------------------------------------------------------------------------------------
// Decoding

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], UsError> {
        let end = self.pos.saturating_add(n);
        match self.buf.get(self.pos..end) {
            Some(s) => {
                self.pos = end;
                Ok(s)
            }
            None => Err(UsError::Truncated {
                needed: end - self.buf.len().max(self.pos),
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], UsError> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, UsError> {
        Ok(u8::from_le_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, UsError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, UsError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, UsError> {
        Ok(i32::from_le_bytes(self.array()?))
    }
    fn u64(&mut self) -> Result<u64, UsError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn gps_time(&mut self, field: &'static str) -> Result<u64, UsError> {
        let v = self.u64()?;
        check_gps(field, v)
    }

    fn ecef(&mut self) -> Result<EcefCm, UsError> {
        Ok(EcefCm {
            x: self.i32()?,
            y: self.i32()?,
            z: self.i32()?,
        })
    }

    fn velocity(&mut self) -> Result<EcefVelMmps, UsError> {
        Ok(EcefVelMmps {
            x: self.i32()?,
            y: self.i32()?,
            z: self.i32()?,
        })
    }

    fn uncertainty(&mut self) -> Result<UncertaintyCm, UsError> {
        Ok(UncertaintyCm {
            horizontal: self.distance("uncertainty_horizontal")?,
            vertical: self.distance("uncertainty_vertical")?,
        })
    }

    /// An uncertainty or ellipse axis, cm, at most [`DISTANCE_CM_MAX`].
    fn distance(&mut self, field: &'static str) -> Result<u32, UsError> {
        let v = self.u32()?;
        if v > DISTANCE_CM_MAX {
            return Err(out_of_range(field, v));
        }
        Ok(v)
    }

    fn text(&mut self, field: &'static str, max: usize, wide: bool) -> Result<String, UsError> {
        let len = if wide {
            usize::from(self.u16()?)
        } else {
            usize::from(self.u8()?)
        };
        if len > max {
            return Err(UsError::FieldOutOfRange {
                field,
                value: len as i64,
            });
        }
        let raw = self.bytes(len)?;
        std::str::from_utf8(raw)
            .map(ToOwned::to_owned)
            .map_err(|_| UsError::BadText { field })
    }

    /// Remaining bytes must be zero padding shorter than one word.
    fn finish_padding(&self) -> Result<(), UsError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if rest.iter().any(|&b| b != 0) {
            return Err(UsError::Malformed {
                what: "non-zero padding",
            });
        }
        if rest.len() >= WORD_DATA_LEN {
            return Err(UsError::Malformed {
                what: "a whole word of padding",
            });
        }
        Ok(())
    }
}

fn check_gps(field: &'static str, v: u64) -> Result<u64, UsError> {
    if v >= GPS_US_LIMIT {
        return Err(UsError::FieldOutOfRange {
            field,
            value: i64::try_from(v).unwrap_or(i64::MAX),
        });
    }
    Ok(v)
}

fn missile_class(code: u8, field: &'static str) -> Result<MissileClass, UsError> {
    Ok(match code {
        0 => MissileClass::Unknown,
        1 => MissileClass::Srbm,
        2 => MissileClass::Mrbm,
        3 => MissileClass::Irbm,
        4 => MissileClass::Icbm,
        5 => MissileClass::Slbm,
        v => {
            return Err(UsError::FieldOutOfRange {
                field,
                value: i64::from(v),
            });
        }
    })
}

/// Wire code of a missile class.
pub const fn missile_class_code(c: MissileClass) -> u8 {
    match c {
        MissileClass::Unknown => 0,
        MissileClass::Srbm => 1,
        MissileClass::Mrbm => 2,
        MissileClass::Irbm => 3,
        MissileClass::Icbm => 4,
        MissileClass::Slbm => 5,
    }
}

const fn flight_phase_code(p: FlightPhase) -> u8 {
    match p {
        FlightPhase::Unknown => 0,
        FlightPhase::Boost => 1,
        FlightPhase::Midcourse => 2,
        FlightPhase::Terminal => 3,
    }
}

const fn end_reason_code(r: EndReason) -> u8 {
    match r {
        EndReason::Impact => 0,
        EndReason::Lost => 1,
        EndReason::Other => 2,
    }
}

const fn state_code(s: ComponentState) -> u8 {
    match s {
        ComponentState::Ok => 0,
        ComponentState::Degraded => 1,
        ComponentState::Down => 2,
    }
}

fn out_of_range(field: &'static str, v: impl Into<i64>) -> UsError {
    UsError::FieldOutOfRange {
        field,
        value: v.into(),
    }
}

/// Word header fields.
#[derive(Clone, Copy)]
struct WordHeader {
    format: u16,
    label: u8,
    sublabel: u8,
    mli: u8,
    reserved: u16,
}

impl WordHeader {
    fn parse(h: u16) -> Self {
        Self {
            format: h & 0x3,
            label: ((h >> 2) & 0x1F) as u8,
            sublabel: ((h >> 7) & 0x7) as u8,
            mli: ((h >> 10) & 0x7) as u8,
            reserved: h >> 13,
        }
    }
}

fn initial_header(label: u8, sublabel: u8, mli: u8) -> u16 {
    (u16::from(label & 0x1F) << 2) | (u16::from(sublabel & 0x7) << 7) | (u16::from(mli & 0x7) << 10)
}

fn continuation_header(index: u8) -> u16 {
    1 | (u16::from(index & 0x1F) << 2)
}

fn split_word(w: &[u8]) -> Result<(u16, [u8; WORD_DATA_LEN]), UsError> {
    let mut r = Reader::new(w);
    let h = r.u16()?;
    let d = r.array::<WORD_DATA_LEN>()?;
    Ok((h, d))
}

/// Check an initial word's header; returns (label, sublabel, mli).
fn expect_initial(h: u16) -> Result<(u8, u8, u8), UsError> {
    let wh = WordHeader::parse(h);
    match wh.format {
        0 => {}
        1 => {
            return Err(UsError::Malformed {
                what: "continuation word where an initial word must start a J-message",
            });
        }
        f => {
            return Err(UsError::UnknownType {
                field: "word_format",
                value: u32::from(f),
            });
        }
    }
    if wh.reserved != 0 {
        return Err(UsError::Malformed {
            what: "reserved initial-word header bits set",
        });
    }
    Ok((wh.label, wh.sublabel, wh.mli))
}

/// Check a continuation word's header (must be the `index`-th of its J-message).
fn expect_continuation(h: u16, index: u8) -> Result<(), UsError> {
    let format = h & 0x3;
    match format {
        1 => {}
        0 => {
            return Err(UsError::Malformed {
                what: "initial word inside a J-message (fewer words than its MLI)",
            });
        }
        f => {
            return Err(UsError::UnknownType {
                field: "word_format",
                value: u32::from(f),
            });
        }
    }
    if ((h >> 2) & 0x1F) as u8 != index {
        return Err(UsError::Malformed {
            what: "continuation label out of sequence",
        });
    }
    if h >> 7 != 0 {
        return Err(UsError::Malformed {
            what: "reserved continuation-word header bits set",
        });
    }
    Ok(())
}

/// Decode the first SIMPLE packet at the front of `buf` (streaming).
pub fn decode(buf: &[u8]) -> Result<Decoded<UsFrame>, UsError> {
    let Some(&b0) = buf.first() else {
        return Ok(Decoded::NeedMore { needed: 4 });
    };
    let b1 = buf.get(1).copied();
    if b0 != SYNC[0] || b1.is_some_and(|b| b != SYNC[1]) {
        return Err(UsError::BadSync {
            found: u16::from_be_bytes([b0, b1.unwrap_or(SYNC[1])]),
        });
    }
    let Some(&[l0, l1]) = buf.get(2..4).and_then(|s| s.first_chunk::<2>()) else {
        return Ok(Decoded::NeedMore {
            needed: 4 - buf.len(),
        });
    };
    let length = usize::from(u16::from_le_bytes([l0, l1]));
    if length > MAX_FRAME_LEN {
        return Err(UsError::Oversize {
            length,
            max: MAX_FRAME_LEN,
        });
    }
    if length < MIN_FRAME_LEN || !(length - OVERHEAD).is_multiple_of(WORD_LEN) {
        return Err(UsError::BadLength {
            field: "length",
            value: length as u32,
        });
    }
    let Some(frame) = buf.get(..length) else {
        return Ok(Decoded::NeedMore {
            needed: length - buf.len(),
        });
    };
    let frame_value = parse_frame(frame)?;
    Ok(Decoded::Frame {
        frame: frame_value,
        consumed: length,
    })
}

/// Parse one complete packet of exactly its declared length (already range-checked).
#[allow(clippy::many_single_char_names)]
fn parse_frame(f: &[u8]) -> Result<UsFrame, UsError> {
    let length = f.len();
    let n_words = (length - OVERHEAD) / WORD_LEN;
    let Some((covered, trailer)) = f.split_at_checked(length - 2) else {
        return Err(UsError::Truncated { needed: 2 });
    };
    let actual = Reader::new(trailer).u16()?;
    let expected = simple_checksum(covered);
    if expected != actual {
        return Err(UsError::BadChecksum { expected, actual });
    }

    let mut r = Reader::new(covered);
    let _sync = r.u16()?;
    let _length = r.u16()?;
    let sequence = r.u16()?;
    let src_node = r.u8()?;
    let src_subnode = r.u8()?;
    let dst_node = r.u8()?;
    let dst_subnode = r.u8()?;
    let packet_size = r.u8()?;
    let packet_type = r.u8()?;
    let transit_time = r.u16()?;
    if usize::from(packet_size) * 2 + 8 != length {
        return Err(UsError::BadLength {
            field: "packet_size",
            value: u32::from(packet_size),
        });
    }
    if packet_type != PACKET_TYPE_LINK16 {
        return Err(UsError::UnknownType {
            field: "packet_type",
            value: u32::from(packet_type),
        });
    }
    let subtype = r.u8()?;
    let rc_flag = r.u8()?;
    let network = r.u8()?;
    let ssc2 = r.u8()?;
    let npg = r.u16()?;
    let ssc1 = r.u16()?;
    let stn = r.u16()?;
    let word_count = r.u16()?;
    let loopback_id = r.u16()?;
    if subtype != LINK16_SUBTYPE_FIXED_FORMAT {
        return Err(UsError::UnknownType {
            field: "link16_subtype",
            value: u32::from(subtype),
        });
    }
    if usize::from(word_count) != n_words * 5 {
        return Err(UsError::BadLength {
            field: "word_count",
            value: u32::from(word_count),
        });
    }
    let words = r.bytes(n_words * WORD_LEN)?;
    let mut words = words.chunks_exact(WORD_LEN);

    // Primary J-message.
    let first = words
        .next()
        .ok_or(UsError::Truncated { needed: WORD_LEN })?;
    let (h0, env_word) = split_word(first)?;
    let (label, sublabel, mli) = expect_initial(h0)?;
    let expected_mli = match (label, sublabel) {
        (3, 0) => 5,
        (3, 6) => 6,
        (7, 0 | 2) => 3,
        (7, 1) => 0,
        (13, 5) => 2,
        // J7.7: one to three continuation words; §9 step 16 checks the count against it.
        (7, 7) if (1..=3).contains(&mli) => mli,
        (7, 7) => {
            return Err(UsError::BadLength {
                field: "mli",
                value: u32::from(mli),
            });
        }
        _ => {
            return Err(UsError::UnknownType {
                field: "j_label",
                value: u32::from(label) * 10 + u32::from(sublabel),
            });
        }
    };
    if mli != expected_mli {
        return Err(UsError::BadLength {
            field: "mli",
            value: u32::from(mli),
        });
    }
    let mut body_buf = [0u8; MAX_BODY];
    let mut body_len = 0;
    for i in 1..=mli {
        let w = words.next().ok_or(UsError::Truncated {
            needed: usize::from(mli - i + 1) * WORD_LEN,
        })?;
        let (h, d) = split_word(w)?;
        expect_continuation(h, i)?;
        if let Some(dst) = body_buf.get_mut(body_len..body_len + WORD_DATA_LEN) {
            dst.copy_from_slice(&d);
        }
        body_len += WORD_DATA_LEN;
    }

    // Container J28.2 messages: one or more (§5). A packet whose primary J-message fills it
    // has no text area at all: a structural error, not a text running past the area (§9 step 14).
    if words.len() == 0 {
        return Err(UsError::Malformed {
            what: "no J28.2 container J-message after the primary J-message",
        });
    }
    let mut area = [0u8; MAX_AREA];
    let mut area_len = 0;
    while let Some(w) = words.next() {
        let (h, d) = split_word(w)?;
        let (cl, cs, cmli) = expect_initial(h)?;
        if (cl, cs) != CONTAINER_LABEL {
            return Err(UsError::UnknownType {
                field: "j_label",
                value: u32::from(cl) * 10 + u32::from(cs),
            });
        }
        let mut push = |d: &[u8; WORD_DATA_LEN]| {
            if let Some(dst) = area.get_mut(area_len..area_len + WORD_DATA_LEN) {
                dst.copy_from_slice(d);
            }
            area_len += WORD_DATA_LEN;
        };
        push(&d);
        for i in 1..=cmli {
            let w = words.next().ok_or(UsError::Truncated {
                needed: usize::from(cmli - i + 1) * WORD_LEN,
            })?;
            let (h, d) = split_word(w)?;
            expect_continuation(h, i)?;
            push(&d);
        }
        if cmli != 7 && words.len() > 0 {
            return Err(UsError::Malformed {
                what: "a J28.2 container message other than the last has fewer than 8 words",
            });
        }
    }

    let message = parse_message(
        env_word,
        (label, sublabel),
        body_buf.get(..body_len).unwrap_or_default(),
        area.get(..area_len).unwrap_or_default(),
    )?;
    Ok(UsFrame {
        simple: SimpleHeader {
            sequence,
            src_node,
            src_subnode,
            dst_node,
            dst_subnode,
            transit_time,
        },
        link16: Link16Header {
            rc_flag,
            network,
            ssc2,
            npg,
            ssc1,
            stn,
            loopback_id,
        },
        message,
    })
}

fn parse_message(
    env_word: [u8; 8],
    label: (u8, u8),
    body: &[u8],
    area: &[u8],
) -> Result<UsMessage, UsError> {
    let [flags, t0, t1, t2, t3, t4, t5, t6] = env_word;
    let origin = match flags & 0x3 {
        0 => Nation::Jp,
        1 => Nation::Kr,
        2 => Nation::Us,
        v => return Err(out_of_range("origin", v)),
    };
    let mode = match (flags >> 2) & 0x3 {
        0 => Mode::RealWorld,
        1 => Mode::Exercise,
        2 => Mode::Test,
        v => return Err(out_of_range("mode", v)),
    };
    let releasability = (flags >> 4) & 0x7;
    if flags & 0x80 != 0 {
        return Err(out_of_range("envelope_reserved", 1));
    }
    let observed_at_gps_us = u64::from_le_bytes([t0, t1, t2, t3, t4, t5, t6, 0]);

    let mut a = Reader::new(area);
    let system = a.text("system", SYSTEM_MAX, false)?;
    let sensor = a.text("sensor", SENSOR_MAX, false)?;
    let national_message_id = a.text("national_message_id", NATIONAL_ID_MAX, false)?;

    let mut b = Reader::new(body);
    let body = match label {
        (3, 0) => {
            let point_type = b.u8()?;
            match point_type {
                1 => launch::read(&mut b, &mut a)?,
                2 => impact::read(&mut b, &mut a)?,
                v => {
                    return Err(UsError::UnknownType {
                        field: "point_type",
                        value: u32::from(v),
                    });
                }
            }
        }
        (3, 6) => track::read(&mut b, &mut a)?,
        (7, 0) => event_end::read(&mut b, &mut a)?,
        (7, 1) => cancel::read(&mut b, &mut a)?,
        (7, 2) => correction::read(&mut b, &mut a)?,
        (7, 7) => association::read(&mut b, &mut a)?,
        _ => status::read(&mut b, &mut a)?,
    };
    b.finish_padding()?;

    let n_refs = usize::from(a.u8()?);
    let mut references = Vec::with_capacity(n_refs);
    for _ in 0..n_refs {
        references.push(a.array::<16>()?);
    }
    a.finish_padding()?;

    Ok(UsMessage {
        origin,
        mode,
        releasability,
        observed_at_gps_us,
        system,
        sensor,
        national_message_id,
        references,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// Encoding

struct Writer<const N: usize> {
    buf: [u8; N],
    len: usize,
}

impl<const N: usize> Writer<N> {
    fn new() -> Self {
        Self {
            buf: [0u8; N],
            len: 0,
        }
    }
    fn put(&mut self, b: &[u8]) -> Result<(), UsError> {
        let dst =
            self.buf
                .get_mut(self.len..self.len + b.len())
                .ok_or(UsError::Unrepresentable {
                    field: "message",
                    why: "texts and references exceed the 48-word packet capacity",
                })?;
        dst.copy_from_slice(b);
        self.len += b.len();
        Ok(())
    }
    fn text(
        &mut self,
        field: &'static str,
        s: &str,
        max: usize,
        wide: bool,
    ) -> Result<(), UsError> {
        if s.len() > max {
            return Err(UsError::Unrepresentable {
                field,
                why: "text longer than the format allows",
            });
        }
        if wide {
            self.put(&(s.len() as u16).to_le_bytes())?;
        } else {
            self.put(&[s.len() as u8])?;
        }
        self.put(s.as_bytes())
    }
    fn ecef(&mut self, p: &EcefCm) -> Result<(), UsError> {
        self.put(&p.x.to_le_bytes())?;
        self.put(&p.y.to_le_bytes())?;
        self.put(&p.z.to_le_bytes())
    }
    fn time(&mut self, field: &'static str, t: u64) -> Result<(), UsError> {
        if t >= GPS_US_LIMIT {
            return Err(UsError::Unrepresentable {
                field,
                why: "time at or after 2^56 µs since the GPS epoch",
            });
        }
        self.put(&t.to_le_bytes())
    }
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }
}

fn unrep(field: &'static str, why: &'static str) -> UsError {
    UsError::Unrepresentable { field, why }
}

fn put_distance(w: &mut Writer<MAX_BODY>, field: &'static str, cm: u32) -> Result<(), UsError> {
    if cm > DISTANCE_CM_MAX {
        return Err(unrep(field, "above 10 000 km (1e9 cm)"));
    }
    w.put(&cm.to_le_bytes())
}

fn put_uncertainty(
    w: &mut Writer<MAX_BODY>,
    field: &'static str,
    u: UncertaintyCm,
) -> Result<(), UsError> {
    put_distance(w, field, u.horizontal)?;
    put_distance(w, field, u.vertical)
}

fn encode_body(body: &MessageBody, w: &mut Writer<MAX_BODY>) -> Result<(), UsError> {
    match body {
        MessageBody::LaunchDetection(p) => launch::write(p, w),
        MessageBody::TrackUpdate(p) => track::write(p, w),
        MessageBody::ImpactPrediction(p) => impact::write(p, w),
        MessageBody::EventEnd(p) => event_end::write(p, w),
        MessageBody::Cancel(p) => cancel::write(p, w),
        MessageBody::Correction(p) => correction::write(p, w),
        MessageBody::Status(p) => status::write(p, w),
        MessageBody::Association(p) => association::write(p, w),
    }
}

fn encode_area(m: &UsMessage, w: &mut Writer<MAX_AREA>) -> Result<(), UsError> {
    w.text("source.system", &m.system, SYSTEM_MAX, false)?;
    w.text("source.sensor", &m.sensor, SENSOR_MAX, false)?;
    w.text(
        "source.national_message_id",
        &m.national_message_id,
        NATIONAL_ID_MAX,
        false,
    )?;
    match &m.body {
        MessageBody::LaunchDetection(LaunchBody { track_id, .. })
        | MessageBody::TrackUpdate(TrackBody { track_id, .. })
        | MessageBody::ImpactPrediction(ImpactBody { track_id, .. })
        | MessageBody::EventEnd(EventEndBody { track_id, .. }) => {
            w.text("payload.track_id", track_id, TRACK_ID_MAX, false)?;
        }
        MessageBody::Cancel(CancelBody { track_id, reason })
        | MessageBody::Correction(CorrectionBody {
            track_id, reason, ..
        }) => {
            w.text("payload.track_id", track_id, TRACK_ID_MAX, false)?;
            w.text("payload.reason", reason, FREE_TEXT_MAX, true)?;
        }
        MessageBody::Status(s) => {
            w.text("payload.component", &s.component, COMPONENT_MAX, false)?;
            w.text("payload.detail", &s.detail, FREE_TEXT_MAX, true)?;
        }
        MessageBody::Association(p) => {
            w.text("payload.track_id", &p.track_id, TRACK_ID_MAX, false)?;
            for m in &p.members {
                w.text(
                    "payload.contributors.track_id",
                    &m.track_id,
                    TRACK_ID_MAX,
                    false,
                )?;
            }
        }
    }
    let n = u8::try_from(m.references.len())
        .map_err(|_| unrep("references", "more than 255 references"))?;
    w.put(&[n])?;
    for r in &m.references {
        w.put(r)?;
    }
    Ok(())
}

/// Number of bytes `frame` encodes to, or the reason it cannot be encoded.
pub fn encoded_len(frame: &UsFrame) -> Result<usize, UsError> {
    let mut body = Writer::<MAX_BODY>::new();
    encode_body(&frame.message.body, &mut body)?;
    let mut area = Writer::<MAX_AREA>::new();
    encode_area(&frame.message, &mut area)?;
    let words = 1 + usize::from(frame.message.body.mli()) + area.len.div_ceil(WORD_DATA_LEN);
    if words > MAX_WORDS {
        return Err(unrep(
            "message",
            "texts and references exceed the 48-word packet capacity",
        ));
    }
    Ok(OVERHEAD + words * WORD_LEN)
}

/// Append the encoded packet to `out`.
#[allow(clippy::many_single_char_names)]
pub fn encode(frame: &UsFrame, out: &mut BytesMut) -> Result<(), UsError> {
    let m = &frame.message;
    if m.releasability > 7 {
        return Err(unrep("releasability", "unknown nation bits"));
    }
    if m.observed_at_gps_us >= GPS_US_LIMIT {
        return Err(unrep(
            "observed_at",
            "time at or after 2^56 µs since the GPS epoch",
        ));
    }
    let mut body = Writer::<MAX_BODY>::new();
    encode_body(&m.body, &mut body)?;
    let mut area = Writer::<MAX_AREA>::new();
    encode_area(m, &mut area)?;
    let mli = m.body.mli();
    let area_words = area.len.div_ceil(WORD_DATA_LEN);
    let n_words = 1 + usize::from(mli) + area_words;
    if n_words > MAX_WORDS {
        return Err(unrep(
            "message",
            "texts and references exceed the 48-word packet capacity",
        ));
    }
    let length = OVERHEAD + n_words * WORD_LEN;

    let start = out.len();
    out.reserve(length);
    let s = &frame.simple;
    out.put_slice(&SYNC);
    out.put_u16_le(length as u16);
    out.put_u16_le(s.sequence);
    out.put_u8(s.src_node);
    out.put_u8(s.src_subnode);
    out.put_u8(s.dst_node);
    out.put_u8(s.dst_subnode);
    out.put_u8(((length - 8) / 2) as u8);
    out.put_u8(PACKET_TYPE_LINK16);
    out.put_u16_le(s.transit_time);
    let l = &frame.link16;
    out.put_u8(LINK16_SUBTYPE_FIXED_FORMAT);
    out.put_u8(l.rc_flag);
    out.put_u8(l.network);
    out.put_u8(l.ssc2);
    out.put_u16_le(l.npg);
    out.put_u16_le(l.ssc1);
    out.put_u16_le(l.stn);
    out.put_u16_le((n_words * 5) as u16);
    out.put_u16_le(l.loopback_id);

    // Primary J-message.
    let origin = match m.origin {
        Nation::Jp => 0u8,
        Nation::Kr => 1,
        Nation::Us => 2,
    };
    let mode = match m.mode {
        Mode::RealWorld => 0u8,
        Mode::Exercise => 1,
        Mode::Test => 2,
    };
    let (label, sublabel) = m.body.j_label();
    out.put_u16_le(initial_header(label, sublabel, mli));
    out.put_u8(origin | (mode << 2) | (m.releasability << 4));
    let t = m.observed_at_gps_us.to_le_bytes();
    out.put_slice(t.get(..7).unwrap_or_default());
    let body_bytes = body.bytes();
    for i in 0..mli {
        out.put_u16_le(continuation_header(i + 1));
        put_padded(out, body_bytes, usize::from(i) * WORD_DATA_LEN);
    }

    // Container J28.2 messages of up to 8 words each.
    let area_bytes = area.bytes();
    let mut word = 0;
    while word < area_words {
        let in_msg = (area_words - word).min(8);
        for j in 0..in_msg {
            let h = if j == 0 {
                initial_header(CONTAINER_LABEL.0, CONTAINER_LABEL.1, (in_msg - 1) as u8)
            } else {
                continuation_header(j as u8)
            };
            out.put_u16_le(h);
            put_padded(out, area_bytes, (word + j) * WORD_DATA_LEN);
        }
        word += in_msg;
    }

    let sum = simple_checksum(out.get(start..).unwrap_or_default());
    out.put_u16_le(sum);
    Ok(())
}

/// Write the 8 bytes of `src` starting at `from`, zero-padded past its end.
fn put_padded(out: &mut BytesMut, src: &[u8], from: usize) {
    let mut d = [0u8; WORD_DATA_LEN];
    let chunk = src.get(from..).unwrap_or_default();
    let n = chunk.len().min(WORD_DATA_LEN);
    if let (Some(dst), Some(s)) = (d.get_mut(..n), chunk.get(..n)) {
        dst.copy_from_slice(s);
    }
    out.put_slice(&d);
}
