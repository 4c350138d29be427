//! The decoded form of a KR sentence: national units, scaled integers, no floating point.
//!
//! Every numeric field is held as the exact integer the sentence writes (e.g. latitude in
//! units of 0.0001 arc-second), so `decode(encode(s)) == s` holds bit for bit and all
//! precision loss happens in one place: the translation to and from the common schema.

use chrono::{DateTime, Utc};
use trilink_schema::{
    ComponentState, EndReason, FlightPhase, MessageId, MissileClass, Mode, Nation, PayloadKind,
};

/// Scaled-integer ranges, inclusive. Decoding rejects values outside them with
/// `field_out_of_range`; encoding a frame holding one fails the same way.
pub mod limits {
    /// Units of 0.0001″ per degree (3600 ″/° × 10 000).
    pub const UNITS_PER_DEG: i64 = 36_000_000;
    /// |latitude| ≤ 90°, in 0.0001″.
    pub const LAT_MAX: i64 = 90 * UNITS_PER_DEG;
    /// |longitude| ≤ 180°, in 0.0001″.
    pub const LON_MAX: i64 = 180 * UNITS_PER_DEG;
    /// Altitude range, centimetres (−1 000.00 m … 10 000 000.00 m).
    pub const ALT_CM: (i64, i64) = (-100_000, 1_000_000_000);
    /// Position uncertainty (one sigma), centimetres (0 … 1 000 000.00 m).
    pub const UNC_CM: (i64, i64) = (0, 100_000_000);
    /// Confidence, units of 0.0001 (0.0000 … 1.0000).
    pub const CONF_E4: (i64, i64) = (0, 10_000);
    /// Velocity component, cm/s (−12 000.00 … 12 000.00 m/s).
    pub const VEL_CMS: (i64, i64) = (-1_200_000, 1_200_000);
    /// Track quality (0 … 15).
    pub const QUALITY: (i64, i64) = (0, 15);
    /// Ellipse semi-axes, centimetres (0 … 1 000 000.00 m).
    pub const AXIS_CM: (i64, i64) = (0, 100_000_000);
    /// Ellipse orientation, millidegrees (0.000 … 180.000°).
    pub const ORIENT_MDEG: (i64, i64) = (0, 180_000);
    /// Status uptime, milliseconds (0.000 … 999 999 999 999.999 s).
    pub const UPTIME_MS: (i64, i64) = (0, 999_999_999_999_999);
    /// Longest `system`, `sensor` or `component` text, bytes of UTF-8 after unescaping.
    pub const SHORT_TEXT: usize = 64;
    /// Longest national message id, bytes of UTF-8 after unescaping.
    pub const NATIONAL_ID: usize = 128;
    /// Longest `reason` or `detail` text, bytes of UTF-8 after unescaping.
    pub const FREE_TEXT: usize = 256;
    /// Longest track id (characters of `[A-Za-z0-9_-]`).
    pub const TRACK_ID: usize = 32;
}

/// An instant with microsecond resolution, written in KST (UTC+9) on the wire.
///
/// Held as microseconds since 1970-01-01T00:00:00Z; the range is 1970-01-01T00:00:00Z …
/// 9999-12-31T14:59:59.999999Z (KST 1970-01-01T09:00:00 … 9999-12-31T23:59:59.999999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KstTime(i64);

impl KstTime {
    /// Largest representable instant (9999-12-31T23:59:59.999999+0900), µs since the epoch.
    pub const MAX_MICROS: i64 = 253_402_268_399_999_999;
    /// KST offset from UTC, microseconds.
    pub const OFFSET_MICROS: i64 = 9 * 3_600 * 1_000_000;

    /// From microseconds since the Unix epoch (UTC); `None` outside the range.
    pub const fn from_unix_micros(micros: i64) -> Option<Self> {
        if micros >= 0 && micros <= Self::MAX_MICROS {
            Some(Self(micros))
        } else {
            None
        }
    }

    /// Microseconds since the Unix epoch (UTC).
    pub const fn unix_micros(self) -> i64 {
        self.0
    }

    /// The instant in UTC.
    pub fn to_utc(self) -> DateTime<Utc> {
        // In range by construction; the fallback is unreachable.
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    /// From a UTC instant, truncating to the microsecond (towards the past); `None` outside
    /// the range.
    pub fn from_utc(t: DateTime<Utc>) -> Option<Self> {
        Self::from_unix_micros(t.timestamp_micros())
    }
}

/// The set of nations a message is released to, in the fixed order JP, KR, US.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Releasability(u8);

impl Releasability {
    const fn bit(n: Nation) -> u8 {
        match n {
            Nation::Jp => 1,
            Nation::Kr => 2,
            Nation::Us => 4,
        }
    }

    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// With `n` added.
    #[must_use]
    pub const fn with(self, n: Nation) -> Self {
        Self(self.0 | Self::bit(n))
    }

    /// Whether `n` is in the set.
    pub const fn contains(self, n: Nation) -> bool {
        self.0 & Self::bit(n) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Members in the fixed order JP, KR, US.
    pub fn iter(self) -> impl Iterator<Item = Nation> {
        Nation::ALL.into_iter().filter(move |n| self.contains(*n))
    }
}

/// A WGS84 point as the sentence writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Point {
    /// Latitude, units of 0.0001 arc-second, north positive (|lat| ≤ 90°).
    pub lat: i64,
    /// Longitude, units of 0.0001 arc-second, east positive (|lon| ≤ 180°).
    pub lon: i64,
    /// Height above the WGS84 ellipsoid, centimetres.
    pub alt_cm: i64,
}

/// Fields every sentence carries after its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Real world, exercise or test.
    pub mode: Mode,
    /// Originating nation.
    pub origin: Nation,
    /// Nations the message is released to.
    pub releasability: Releasability,
    /// Originating national system.
    pub system: String,
    /// Sensor.
    pub sensor: String,
    /// The originating system's own message id.
    pub national_message_id: String,
    /// When the sensor observed the event.
    pub observed_at: KstTime,
    /// Earlier messages referenced (common message ids).
    pub references: Vec<MessageId>,
}

/// `LCH` — launch detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Track id.
    pub track_id: String,
    /// Launch time.
    pub launch_time: KstTime,
    /// Launch point.
    pub point: Point,
    /// Horizontal one-sigma, cm.
    pub unc_h_cm: i64,
    /// Vertical one-sigma, cm.
    pub unc_v_cm: i64,
    /// Missile class.
    pub class: MissileClass,
    /// Confidence, 0.0001 units.
    pub confidence_e4: i64,
}

/// `TRK` — track update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// Track id.
    pub track_id: String,
    /// Time of the position.
    pub time: KstTime,
    /// Position.
    pub point: Point,
    /// Horizontal one-sigma, cm.
    pub unc_h_cm: i64,
    /// Vertical one-sigma, cm.
    pub unc_v_cm: i64,
    /// East velocity, cm/s.
    pub vel_e_cms: i64,
    /// North velocity, cm/s.
    pub vel_n_cms: i64,
    /// Up velocity, cm/s.
    pub vel_u_cms: i64,
    /// Quality 0 … 15.
    pub quality: u8,
    /// Flight phase.
    pub phase: FlightPhase,
}

/// `IMP` — impact prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impact {
    /// Track id.
    pub track_id: String,
    /// Predicted impact time.
    pub impact_time: KstTime,
    /// Predicted impact point.
    pub point: Point,
    /// Semi-major axis, cm.
    pub semi_major_cm: i64,
    /// Semi-minor axis, cm.
    pub semi_minor_cm: i64,
    /// Orientation of the semi-major axis, millidegrees clockwise from true north.
    pub orientation_mdeg: i64,
}

/// `END` — event end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct End {
    /// Track id.
    pub track_id: String,
    /// When it ended.
    pub time: KstTime,
    /// Why.
    pub reason: EndReason,
    /// Final point, if known.
    pub final_point: Option<Point>,
}

/// `CAN` — cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelBody {
    /// Track id.
    pub track_id: String,
    /// Reason text.
    pub reason: String,
}

/// `COR` — correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectionBody {
    /// Track id.
    pub track_id: String,
    /// Reason text.
    pub reason: String,
    /// Corrected time, if changed.
    pub corrected_time: Option<KstTime>,
    /// Corrected point, if changed.
    pub corrected_point: Option<Point>,
    /// Corrected class, if changed.
    pub corrected_class: Option<MissileClass>,
}

/// `STA` — status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusBody {
    /// Component name.
    pub component: String,
    /// Health.
    pub state: ComponentState,
    /// Uptime, milliseconds.
    pub uptime_ms: i64,
    /// Detail text (may be empty).
    pub detail: String,
}

/// The type-specific part of a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentenceBody {
    /// `LCH`
    Launch(Launch),
    /// `TRK`
    Track(Track),
    /// `IMP`
    Impact(Impact),
    /// `END`
    End(End),
    /// `CAN`
    Cancel(CancelBody),
    /// `COR`
    Correction(CorrectionBody),
    /// `STA`
    Status(StatusBody),
}

impl SentenceBody {
    /// The three-letter sentence type.
    pub const fn type_code(&self) -> &'static str {
        SentenceType::of(self).code()
    }

    /// The common payload kind.
    pub const fn kind(&self) -> PayloadKind {
        SentenceType::of(self).kind()
    }
}

/// Sentence types and their field counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SentenceType {
    /// Launch detection.
    Lch,
    /// Track update.
    Trk,
    /// Impact prediction.
    Imp,
    /// Event end.
    End,
    /// Cancel.
    Can,
    /// Correction.
    Cor,
    /// Status.
    Sta,
}

impl SentenceType {
    /// Every type.
    pub const ALL: [Self; 7] = [
        Self::Lch,
        Self::Trk,
        Self::Imp,
        Self::End,
        Self::Can,
        Self::Cor,
        Self::Sta,
    ];

    /// Number of header fields (talker, type, version, mode, origin, releasability, system,
    /// sensor, national id, observed, references).
    pub const HEADER_FIELDS: usize = 11;

    /// The type of a body.
    pub const fn of(body: &SentenceBody) -> Self {
        match body {
            SentenceBody::Launch(_) => Self::Lch,
            SentenceBody::Track(_) => Self::Trk,
            SentenceBody::Impact(_) => Self::Imp,
            SentenceBody::End(_) => Self::End,
            SentenceBody::Cancel(_) => Self::Can,
            SentenceBody::Correction(_) => Self::Cor,
            SentenceBody::Status(_) => Self::Sta,
        }
    }

    /// Three-letter code as written in field 1.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Lch => "LCH",
            Self::Trk => "TRK",
            Self::Imp => "IMP",
            Self::End => "END",
            Self::Can => "CAN",
            Self::Cor => "COR",
            Self::Sta => "STA",
        }
    }

    /// Parse field 1.
    pub fn parse(s: &[u8]) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.code().as_bytes() == s)
    }

    /// The common payload kind.
    pub const fn kind(self) -> PayloadKind {
        match self {
            Self::Lch => PayloadKind::LaunchDetection,
            Self::Trk => PayloadKind::TrackUpdate,
            Self::Imp => PayloadKind::ImpactPrediction,
            Self::End => PayloadKind::EventEnd,
            Self::Can => PayloadKind::Cancel,
            Self::Cor => PayloadKind::Correction,
            Self::Sta => PayloadKind::Status,
        }
    }

    /// Total number of comma-separated fields (including `TLKR` and the type).
    pub const fn field_count(self) -> usize {
        Self::HEADER_FIELDS
            + match self {
                Self::Lch => 9,
                Self::Trk => 12,
                Self::Imp => 8,
                Self::End => 6,
                Self::Can => 2,
                Self::Cor => 7,
                Self::Sta => 4,
            }
    }

    /// Proposed MQTT topic for sentences of this type on the national broker.
    pub const fn mqtt_topic(self) -> &'static str {
        match self {
            Self::Lch => "kr/warning/launch_detection",
            Self::Trk => "kr/warning/track_update",
            Self::Imp => "kr/warning/impact_prediction",
            Self::End => "kr/warning/event_end",
            Self::Can => "kr/warning/cancel",
            Self::Cor => "kr/warning/correction",
            Self::Sta => "kr/status",
        }
    }
}

/// One KR sentence, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentence {
    /// Common header fields.
    pub header: Header,
    /// Type-specific fields.
    pub body: SentenceBody,
}
