//! The codec's error type.

use trilink_schema::NationalError;

/// Everything that can go wrong decoding, encoding or translating a US (SIMPLE / Link 16) frame.
///
/// [`NationalError::code`] gives the stable snake-case reason used in dead-letter headers and
/// metric labels; the codes are listed in `schemas/national/us.md` §9.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsError {
    /// The first two bytes are not the SIMPLE sync bytes `0x49 0x36`.
    #[error("bad SIMPLE sync bytes {found:#06x} (expected 0x4936)")]
    BadSync {
        /// The first two bytes as read (first byte in the high half; a missing second byte reads as 0x36).
        found: u16,
    },
    /// The declared SIMPLE length exceeds the maximum frame size.
    #[error("declared SIMPLE length {length} exceeds the maximum of {max} bytes")]
    Oversize {
        /// Declared length.
        length: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// A length-like header field is impossible or inconsistent with the SIMPLE length.
    #[error("bad {field} {value}")]
    BadLength {
        /// `length`, `packet_size`, `word_count` or `mli`.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// The 16-bit SIMPLE checksum does not match.
    #[error("bad SIMPLE checksum: computed {expected:#06x}, frame carries {actual:#06x}")]
    BadChecksum {
        /// Checksum computed over the frame.
        expected: u16,
        /// Checksum carried in the frame.
        actual: u16,
    },
    /// A datagram is shorter than its declared length, or a field inside the frame declares
    /// more bytes than remain.
    #[error("truncated: {needed} more bytes needed")]
    Truncated {
        /// Missing bytes.
        needed: usize,
    },
    /// A datagram carries bytes after the SIMPLE packet.
    #[error("{extra} bytes after the SIMPLE packet in a datagram")]
    TrailingBytes {
        /// Number of extra bytes.
        extra: usize,
    },
    /// A type field names something this format does not define (packet type, Link 16 subtype,
    /// word format, J-series label/sublabel, point type).
    #[error("unknown {field} {value}")]
    UnknownType {
        /// Which type field.
        field: &'static str,
        /// The value found (for `j_label`: label × 10 + sublabel).
        value: u32,
    },
    /// A field holds a value outside its documented range.
    #[error("field {field} = {value} is out of range")]
    FieldOutOfRange {
        /// Field name as in the spec.
        field: &'static str,
        /// The value found.
        value: i64,
    },
    /// The J-word sequence does not have the documented structure.
    #[error("malformed J-word structure: {what}")]
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// A text field is not valid UTF-8.
    #[error("text field {field} is not valid UTF-8")]
    BadText {
        /// Field name.
        field: &'static str,
    },
    /// `to_common`: a message only the hub sends (the J7.7 association of a common event); a
    /// national system never originates it, so ingress refuses it like the relay refuses a
    /// `common_event` from any nation.
    #[error("{what} is sent by the hub only; a national system does not originate it")]
    HubOnly {
        /// The message (`J7.7 association`).
        what: &'static str,
    },
    /// `to_national`/`encode`: a value this format cannot carry.
    #[error("{field} cannot be represented in the US format: {why}")]
    Unrepresentable {
        /// Dotted path of the field.
        field: &'static str,
        /// Why not.
        why: &'static str,
    },
}

impl UsError {
    /// Every reason code, for pre-registering metrics.
    pub const CODES: [&'static str; 12] = [
        "bad_sync",
        "oversize",
        "bad_length",
        "bad_checksum",
        "truncated",
        "trailing_bytes",
        "unknown_type",
        "field_out_of_range",
        "malformed",
        "bad_text",
        "unrepresentable",
        "hub_only_kind",
    ];
}

impl NationalError for UsError {
    fn code(&self) -> &'static str {
        match self {
            Self::BadSync { .. } => "bad_sync",
            Self::Oversize { .. } => "oversize",
            Self::BadLength { .. } => "bad_length",
            Self::BadChecksum { .. } => "bad_checksum",
            Self::Truncated { .. } => "truncated",
            Self::TrailingBytes { .. } => "trailing_bytes",
            Self::UnknownType { .. } => "unknown_type",
            Self::FieldOutOfRange { .. } => "field_out_of_range",
            Self::Malformed { .. } => "malformed",
            Self::BadText { .. } => "bad_text",
            Self::Unrepresentable { .. } => "unrepresentable",
            Self::HubOnly { .. } => "hub_only_kind",
        }
    }
}
