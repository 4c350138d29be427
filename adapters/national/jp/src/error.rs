//! The JP codec's error type.

use trilink_schema::NationalError;

/// Everything that can go wrong decoding, encoding or translating a JP frame.
///
/// [`code`](NationalError::code) gives a stable snake-case reason for dead-letter headers and
/// metric labels; the codes are listed in [`JpError::CODES`] and in `schemas/national/jp.md`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JpError {
    /// The first two bytes are not the sync word `0x4A 0x50` ("JP").
    #[error("bad sync word 0x{found:04x} (expected 0x4a50)")]
    BadSync {
        /// The two bytes found (big-endian; a single byte when only one was available).
        found: u16,
    },
    /// The frame's declared length is larger than [`MAX_FRAME_LEN`](crate::MAX_FRAME_LEN).
    #[error("declared frame length {declared} exceeds the maximum {max}")]
    Oversize {
        /// Declared length (bytes).
        declared: usize,
        /// The maximum.
        max: usize,
    },
    /// The declared length is below the minimum frame size, or the body fields do not fill
    /// the declared length exactly (fields run past it or bytes are left over).
    #[error("declared frame length {declared} does not match the frame's content")]
    BadLength {
        /// Declared length (bytes).
        declared: usize,
    },
    /// A datagram ended before the declared frame length (only from whole-datagram decoding;
    /// the streaming [`decode`](trilink_schema::NationalCodec::decode) returns `NeedMore`).
    #[error("truncated frame: {needed} more bytes needed")]
    Truncated {
        /// Bytes missing.
        needed: usize,
    },
    /// A datagram holds bytes after its frame (one frame per datagram).
    #[error("{extra} bytes after the frame in the datagram")]
    TrailingBytes {
        /// Bytes after the frame.
        extra: usize,
    },
    /// The CRC-16 trailer does not match the frame.
    #[error("bad checksum: computed 0x{expected:04x}, frame carries 0x{actual:04x}")]
    BadChecksum {
        /// CRC computed over the frame (what the trailer should hold).
        expected: u16,
        /// CRC the trailer holds.
        actual: u16,
    },
    /// The header's format version is not 1.
    #[error("unsupported JP format version {version} (this build speaks 1)")]
    UnsupportedVersion {
        /// Version byte found.
        version: u8,
    },
    /// The header's message type is not one of 1..=7.
    #[error("unknown JP message type {msg_type}")]
    UnknownType {
        /// Type byte found.
        msg_type: u8,
    },
    /// A field holds a value outside its documented range (enum code, fixed-point range,
    /// string length, reserved bits).
    #[error("field {field} = {value} is out of range")]
    FieldOutOfRange {
        /// Field name as in the spec.
        field: &'static str,
        /// The raw value found.
        value: i64,
    },
    /// A text field is not valid UTF-8, or a track id holds characters outside `[A-Za-z0-9_-]`.
    #[error("field {field} is not valid text")]
    BadText {
        /// Field name as in the spec.
        field: &'static str,
    },
    /// `to_national`: the envelope holds a value the JP format cannot carry (string too long,
    /// number outside the fixed-point range or not finite, too many references, a leap second).
    #[error("field {field} cannot be represented in the JP format")]
    Unrepresentable {
        /// Field name (common-schema path).
        field: &'static str,
    },
}

impl JpError {
    /// Every reason code, for pre-registering metrics.
    pub const CODES: [&'static str; 11] = [
        "bad_sync",
        "oversize",
        "bad_length",
        "truncated",
        "trailing_bytes",
        "bad_checksum",
        "unsupported_version",
        "unknown_type",
        "field_out_of_range",
        "bad_text",
        "unrepresentable",
    ];
}

impl NationalError for JpError {
    fn code(&self) -> &'static str {
        match self {
            Self::BadSync { .. } => "bad_sync",
            Self::Oversize { .. } => "oversize",
            Self::BadLength { .. } => "bad_length",
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::BadChecksum { .. } => "bad_checksum",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::UnknownType { .. } => "unknown_type",
            Self::FieldOutOfRange { .. } => "field_out_of_range",
            Self::BadText { .. } => "bad_text",
            Self::Unrepresentable { .. } => "unrepresentable",
        }
    }
}
