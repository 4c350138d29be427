//! The KR codec's typed errors and their stable reason codes.

use trilink_schema::NationalError;

/// Every way a KR sentence can fail to decode, encode or translate.
///
/// [`code`](NationalError::code) gives the stable snake-case reason used in dead-letter
/// headers, metric labels and the `*.error` test vectors (`schemas/vectors/kr/`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KrError {
    /// The input does not start with the sync prefix `$TLKR,`.
    #[error("bad sync: a KR sentence starts with \"$TLKR,\"")]
    BadSync,
    /// The sentence is not framed as `$<body>*<8 hex digits>\r\n` with printable body bytes.
    #[error("bad framing: {reason}")]
    BadFraming {
        /// What is wrong.
        reason: &'static str,
    },
    /// The CRC-32 written after `*` is not the CRC-32 of the body.
    #[error("bad checksum: computed {expected:08X}, sentence says {actual:08X}")]
    BadChecksum {
        /// CRC-32/ISO-HDLC computed over the body.
        expected: u32,
        /// The value written in the sentence.
        actual: u32,
    },
    /// A complete message (one MQTT payload) ends before its sentence does.
    #[error("truncated: at least {needed} more bytes needed")]
    Truncated {
        /// Lower bound of the missing bytes.
        needed: usize,
    },
    /// A complete message (one MQTT payload) holds bytes after its sentence's `\r\n`.
    #[error("{extra} bytes after the end of the sentence")]
    TrailingData {
        /// Number of extra bytes.
        extra: usize,
    },
    /// The sentence is (or would be) longer than [`MAX_SENTENCE_LEN`](crate::MAX_SENTENCE_LEN).
    #[error("oversize: sentence of {len}+ bytes exceeds the maximum of {max}")]
    Oversize {
        /// Bytes seen (a lower bound when decoding).
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// The format version field is not `1`.
    #[error("unsupported format version {version:?} (this build speaks 1)")]
    UnsupportedVersion {
        /// The version field as written.
        version: String,
    },
    /// The sentence type is none of LCH, TRK, IMP, END, CAN, COR, STA.
    #[error("unknown sentence type {found:?}")]
    UnknownType {
        /// The type field as written.
        found: String,
    },
    /// The sentence has the wrong number of comma-separated fields for its type.
    #[error("{sentence} sentence has {found} fields, expected {expected}")]
    FieldCount {
        /// Sentence type (or `?` when the type is not known yet).
        sentence: &'static str,
        /// Fields the type requires.
        expected: usize,
        /// Fields present.
        found: usize,
    },
    /// A required field is empty.
    #[error("required field {field} is empty")]
    MissingField {
        /// Field name as in the spec.
        field: &'static str,
    },
    /// A field does not follow its syntax.
    #[error("field {field}: {reason}")]
    BadField {
        /// Field name as in the spec.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A text field has a bad escape, is not UTF-8 or holds a forbidden character.
    #[error("text field {field}: {reason}")]
    BadText {
        /// Field name as in the spec.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A well-formed field holds a value outside its range.
    #[error("field {field} = {value} is out of range")]
    FieldOutOfRange {
        /// Field name as in the spec.
        field: &'static str,
        /// The value (as written, or as a scaled integer when encoding).
        value: String,
    },
    /// `to_national`: the common value cannot be carried by a KR sentence.
    #[error("{field} cannot be represented in a KR sentence: {reason}")]
    Unrepresentable {
        /// Common-schema field path.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}

impl KrError {
    /// Every reason code, for pre-registering metrics.
    pub const CODES: [&'static str; 14] = [
        "bad_sync",
        "bad_framing",
        "bad_checksum",
        "truncated",
        "trailing_data",
        "oversize",
        "unsupported_version",
        "unknown_type",
        "field_count",
        "missing_field",
        "bad_field",
        "bad_text",
        "field_out_of_range",
        "unrepresentable",
    ];
}

impl NationalError for KrError {
    fn code(&self) -> &'static str {
        match self {
            Self::BadSync => "bad_sync",
            Self::BadFraming { .. } => "bad_framing",
            Self::BadChecksum { .. } => "bad_checksum",
            Self::Truncated { .. } => "truncated",
            Self::TrailingData { .. } => "trailing_data",
            Self::Oversize { .. } => "oversize",
            Self::UnsupportedVersion { .. } => "unsupported_version",
            Self::UnknownType { .. } => "unknown_type",
            Self::FieldCount { .. } => "field_count",
            Self::MissingField { .. } => "missing_field",
            Self::BadField { .. } => "bad_field",
            Self::BadText { .. } => "bad_text",
            Self::FieldOutOfRange { .. } => "field_out_of_range",
            Self::Unrepresentable { .. } => "unrepresentable",
        }
    }
}
