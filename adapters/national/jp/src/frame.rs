//! The decoded JP frame: wire values (fixed-point integers, JST times of day), not common
//! schema values. [`crate::JpCodec`] translates between the two.

use trilink_schema::{
    ComponentState, EndReason, FlightPhase, MessageId, MissileClass, Mode, Nation,
};

/// Format version this build reads and writes (header byte 2).
pub const VERSION: u8 = 1;
/// Sync word, header bytes 0–1 (ASCII "JP").
pub const SYNC: [u8; 2] = [0x4A, 0x50];
/// Header length in bytes (sync, version, type, length, sequence).
pub const HEADER_LEN: usize = 10;
/// CRC trailer length in bytes.
pub const CRC_LEN: usize = 2;
/// Largest frame (bytes, header to CRC inclusive). The largest encodable frame is 871 bytes.
pub const MAX_FRAME_LEN: usize = 1024;
/// Smallest declared length accepted before the body is parsed (header plus CRC).
pub const MIN_FRAME_LEN: usize = HEADER_LEN + CRC_LEN;

/// Microseconds in a day; times of day are `0 ..= MICROS_PER_DAY - 1`.
pub const MICROS_PER_DAY: u64 = 86_400_000_000;

/// Maximum byte lengths of the text fields.
pub mod limits {
    /// `system`.
    pub const SYSTEM: usize = 64;
    /// `sensor`.
    pub const SENSOR: usize = 64;
    /// `national_message_id`.
    pub const NATIONAL_ID: usize = 128;
    /// `track_id` (ASCII `[A-Za-z0-9_-]`).
    pub const TRACK_ID: usize = 32;
    /// `reason` (cancel, correction).
    pub const REASON: usize = 256;
    /// `component` (status).
    pub const COMPONENT: usize = 64;
    /// `detail` (status).
    pub const DETAIL: usize = 256;
    /// Number of references.
    pub const REFERENCES: usize = 16;
}

/// Fixed-point ranges (inclusive) of the numeric fields, in wire units.
pub mod ranges {
    /// Latitude, 1e-7 degree.
    pub const LAT_E7: i32 = 900_000_000;
    /// Longitude, 1e-7 degree.
    pub const LON_E7: i32 = 1_800_000_000;
    /// Altitude, centimetres: minimum.
    pub const ALT_CM_MIN: i32 = -100_000;
    /// Altitude, centimetres: maximum.
    pub const ALT_CM_MAX: i32 = 1_000_000_000;
    /// Uncertainties and ellipse axes, centimetres.
    pub const DIST_CM_MAX: u32 = 1_000_000_000;
    /// Velocity components, mm/s (±).
    pub const VEL_MMPS: i32 = 12_000_000;
    /// Track quality.
    pub const QUALITY: u8 = 15;
    /// Confidence, 1e-4.
    pub const CONFIDENCE: u16 = 10_000;
    /// Ellipse orientation, 0.01 degree.
    pub const ORIENTATION: u16 = 18_000;
    /// Uptime, microseconds (10⁹ s ≈ 31.7 years; below 2⁵⁰ so that µs → f64 seconds → µs
    /// is exact).
    pub const UPTIME_US: u64 = 1_000_000_000_000_000;
}

/// Release bit for each nation in the `releasability` byte.
pub mod release {
    /// Japan.
    pub const JP: u8 = 0b001;
    /// Korea.
    pub const KR: u8 = 0b010;
    /// United States.
    pub const US: u8 = 0b100;
    /// All defined bits; the others are reserved and must be zero.
    pub const ALL: u8 = 0b111;
}

/// A WGS84 point in wire units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JpPoint {
    /// Latitude, 1e-7 degree, ±900 000 000.
    pub lat_e7: i32,
    /// Longitude, 1e-7 degree, ±1 800 000 000.
    pub lon_e7: i32,
    /// Height above the WGS84 ellipsoid, centimetres, −100 000 ..= 1 000 000 000.
    pub alt_cm: i32,
}

/// Type 1: launch detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpLaunch {
    /// Track id, 1–32 of `[A-Za-z0-9_-]`.
    pub track_id: String,
    /// Launch time, microseconds since JST midnight.
    pub launch_tod_us: u64,
    /// Launch point.
    pub point: JpPoint,
    /// Horizontal one-sigma uncertainty, cm.
    pub unc_h_cm: u32,
    /// Vertical one-sigma uncertainty, cm.
    pub unc_v_cm: u32,
    /// Missile class.
    pub class: MissileClass,
    /// Confidence, 1e-4 (0 ..= 10 000).
    pub confidence_e4: u16,
}

/// Type 2: track update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpTrack {
    /// Track id.
    pub track_id: String,
    /// Time of the position, microseconds since JST midnight.
    pub tod_us: u64,
    /// Position.
    pub point: JpPoint,
    /// Horizontal one-sigma uncertainty, cm.
    pub unc_h_cm: u32,
    /// Vertical one-sigma uncertainty, cm.
    pub unc_v_cm: u32,
    /// Velocity east, mm/s.
    pub vel_e_mmps: i32,
    /// Velocity north, mm/s.
    pub vel_n_mmps: i32,
    /// Velocity up, mm/s.
    pub vel_u_mmps: i32,
    /// Track quality 0 ..= 15.
    pub quality: u8,
    /// Flight phase.
    pub phase: FlightPhase,
}

/// Type 3: impact prediction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpImpact {
    /// Track id.
    pub track_id: String,
    /// Predicted impact time, microseconds since JST midnight.
    pub impact_tod_us: u64,
    /// Predicted impact point.
    pub point: JpPoint,
    /// Semi-major axis, cm.
    pub semi_major_cm: u32,
    /// Semi-minor axis, cm.
    pub semi_minor_cm: u32,
    /// Orientation of the semi-major axis, 0.01 degree clockwise from true north, 0 ..= 18 000.
    pub orientation_e2: u16,
}

/// Type 4: event end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpEventEnd {
    /// Track id.
    pub track_id: String,
    /// End time, microseconds since JST midnight.
    pub tod_us: u64,
    /// Why it ended.
    pub reason: EndReason,
    /// Final point, if known.
    pub final_point: Option<JpPoint>,
}

/// Type 5: cancel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpCancel {
    /// Track id.
    pub track_id: String,
    /// Free-text reason, ≤ 256 bytes UTF-8.
    pub reason: String,
}

/// Type 6: correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpCorrection {
    /// Track id.
    pub track_id: String,
    /// Free-text reason, ≤ 256 bytes UTF-8.
    pub reason: String,
    /// Corrected event time, microseconds since JST midnight.
    pub corrected_tod_us: Option<u64>,
    /// Corrected point.
    pub corrected_point: Option<JpPoint>,
    /// Corrected missile class.
    pub corrected_class: Option<MissileClass>,
}

/// Type 7: status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpStatus {
    /// Component name, ≤ 64 bytes UTF-8.
    pub component: String,
    /// Health.
    pub state: ComponentState,
    /// Uptime, microseconds, 0 ..= 10¹⁵.
    pub uptime_us: u64,
    /// Free-text detail, ≤ 256 bytes UTF-8.
    pub detail: String,
}

/// The type-specific part of a frame; its variant decides the header's message type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JpBody {
    /// Type 1.
    LaunchDetection(JpLaunch),
    /// Type 2.
    TrackUpdate(JpTrack),
    /// Type 3.
    ImpactPrediction(JpImpact),
    /// Type 4.
    EventEnd(JpEventEnd),
    /// Type 5.
    Cancel(JpCancel),
    /// Type 6.
    Correction(JpCorrection),
    /// Type 7.
    Status(JpStatus),
}

impl JpBody {
    /// The header's message-type byte for this body.
    pub const fn msg_type(&self) -> u8 {
        match self {
            Self::LaunchDetection(_) => 1,
            Self::TrackUpdate(_) => 2,
            Self::ImpactPrediction(_) => 3,
            Self::EventEnd(_) => 4,
            Self::Cancel(_) => 5,
            Self::Correction(_) => 6,
            Self::Status(_) => 7,
        }
    }
}

/// One decoded JP frame.
///
/// `sequence` is a link-layer counter of the sending system (it wraps at 2³²); it is not
/// part of the common envelope, so [`to_national`](trilink_schema::NationalCodec::to_national)
/// leaves it 0 and the egress sender stamps its own counter before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpFrame {
    /// Header sequence number (link-layer; not carried into the common schema).
    pub sequence: u32,
    /// Originating nation.
    pub origin: Nation,
    /// Real world, exercise or test.
    pub mode: Mode,
    /// Releasability bit mask, see [`release`].
    pub releasability: u8,
    /// When the sensor observed the event, microseconds since JST midnight.
    pub observed_tod_us: u64,
    /// Originating system, ≤ 64 bytes UTF-8.
    pub system: String,
    /// Originating sensor, ≤ 64 bytes UTF-8.
    pub sensor: String,
    /// National message id, ≤ 128 bytes UTF-8, unique forever within `system`.
    pub national_message_id: String,
    /// Referenced earlier messages (≤ 16).
    pub references: Vec<MessageId>,
    /// Type-specific body.
    pub body: JpBody,
}
