//! Typed errors: every error names the file, the byte offset and the reason.

use std::fmt;

/// Why a capture could not be read (or written).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureErrorKind {
    /// The data is not a pcap, pcapng or JSON Lines capture.
    #[error("not a pcap, pcapng or JSON Lines capture (first bytes {first_bytes})")]
    UnknownFormat {
        /// Hex of the first (up to 8) bytes.
        first_bytes: String,
    },
    /// The file ends in the middle of a header, block or record.
    #[error("truncated {what}: {needed} more bytes expected, file ends")]
    Truncated {
        /// What was being read (`pcap record header`, `pcapng block`, …).
        what: &'static str,
        /// Bytes missing (lower bound).
        needed: u64,
    },
    /// A structure is present but inconsistent.
    #[error("corrupt {what}: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A link-layer type this reader does not decode.
    #[error(
        "unsupported link type {0} (supported: Ethernet 1, raw IP 101/228/229/12/14, NULL 0, LOOP 108, Linux SLL 113, SLL2 276)"
    )]
    UnsupportedLinkType(u32),
    /// A JSON Lines line that is not a valid record.
    #[error("JSON Lines line {line}: {detail}")]
    Jsonl {
        /// 1-based line number.
        line: u64,
        /// What is wrong with the line.
        detail: String,
    },
    /// A record that cannot be written (e.g. a timestamp before 1970, a payload too large).
    #[error("cannot write: {0}")]
    Write(String),
    /// An I/O error from the underlying file.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl CaptureErrorKind {
    /// Stable snake-case reason code (for logs, metrics and exit summaries).
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownFormat { .. } => "unknown_format",
            Self::Truncated { .. } => "truncated",
            Self::Corrupt { .. } => "corrupt",
            Self::UnsupportedLinkType(_) => "unsupported_link_type",
            Self::Jsonl { .. } => "bad_jsonl",
            Self::Write(_) => "write",
            Self::Io(_) => "io",
        }
    }
}

/// An error reading or writing a capture: the file, the byte offset and the reason.
#[derive(Debug, thiserror::Error)]
pub struct CaptureError {
    /// The file (or stream) name given to the reader.
    pub file: String,
    /// Byte offset from the start of the file where the bad structure starts.
    pub offset: u64,
    /// The reason.
    #[source]
    pub kind: CaptureErrorKind,
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: at byte offset {}: {}",
            self.file, self.offset, self.kind
        )
    }
}

impl CaptureError {
    /// Build an error.
    pub fn new(file: impl Into<String>, offset: u64, kind: CaptureErrorKind) -> Self {
        Self {
            file: file.into(),
            offset,
            kind,
        }
    }

    /// Stable snake-case reason code.
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }
}
