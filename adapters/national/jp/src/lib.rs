//! # trilink-jp — the JP reference national format
//!
//! A sans-IO codec and translator for trilink's JP reference format, specified byte for byte
//! in `schemas/national/jp.md`: big-endian binary frames, one per UDP datagram, with a
//! 10-byte header (sync `0x4A50`, version, type, length, sequence), JST times of day in
//! microseconds, WGS84 positions in 1e-7 degree and centimetres, and a CRC-16/IBM-3740 trailer.
//!
//! - [`JpCodec`] implements [`trilink_schema::NationalCodec`]: a streaming
//!   [`decode`](NationalCodec::decode) (partial input → `NeedMore`; the declared length is checked
//!   against [`MAX_FRAME_LEN`] before asking for more), [`encode`](NationalCodec::encode),
//!   [`to_common`](NationalCodec::to_common) and [`to_national`](NationalCodec::to_national).
//! - [`decode_datagram`] decodes exactly one frame from one UDP datagram, and
//!   [`decode_to_common`] goes straight from a datagram to an [`Envelope`] without copying the
//!   strings twice (the adapter's hot path).
//!
//! ## Precision (what a round trip common → JP → common preserves)
//!
//! | quantity | JP wire unit | round-trip error |
//! |---|---|---|
//! | latitude / longitude | 1e-7 degree (i32) | ≤ 0.5e-7 degree (≈ 5.6 mm) |
//! | altitude | 1 cm (i32) | ≤ 0.5 cm |
//! | uncertainties, ellipse axes | 1 cm (u32) | ≤ 0.5 cm |
//! | velocity components | 1 mm/s (i32) | ≤ 0.5 mm/s |
//! | confidence | 1e-4 (u16) | ≤ 0.5e-4 |
//! | ellipse orientation | 0.01 degree (u16) | ≤ 0.005 degree |
//! | uptime | 1 µs (u64, ≤ 10⁹ s) | ≤ 0.5 µs |
//! | every time | 1 µs since JST midnight (u64) | truncated: −1 µs < error ≤ 0 |
//!
//! Times carry no date: `observed_at` is resolved to the instant nearest `ingested_at`
//! (within −12 h … +12 h), every payload time to the instant nearest `observed_at`. Times more
//! than 12 h away from their reference cannot round-trip. Leap seconds are not representable.
//! A JP → common → JP round trip is exact (except `sequence`, which is link-layer).
//!
//! ## What this crate must not do
//!
//! No I/O of any kind (sockets, files, clocks: "now" and `ingested_at` are passed in), no
//! validation policy beyond the byte format (call [`Envelope::validate`] for that), no routing.
//! It never panics on input: every malformed frame is a typed [`JpError`].

#![forbid(unsafe_code)]

mod error;
mod frame;
mod replay;
mod translate;
mod wire;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_schema::{Decoded, Envelope, Nation, NationalCodec};

pub use error::JpError;
pub use frame::{
    CRC_LEN, HEADER_LEN, JpBody, JpCancel, JpCorrection, JpEventEnd, JpFrame, JpImpact, JpLaunch,
    JpPoint, JpStatus, JpTrack, MAX_FRAME_LEN, MICROS_PER_DAY, MIN_FRAME_LEN, SYNC, VERSION,
    limits, ranges, release,
};
pub use translate::{JST_OFFSET_US, releasability_mask, releasability_set, resolve_tod, to_tod};
pub use wire::crc16;

/// The JP reference format codec. Stateless: cheap to clone and share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JpCodec;

impl JpCodec {
    /// A codec.
    pub const fn new() -> Self {
        Self
    }
}

impl NationalCodec for JpCodec {
    type Frame = JpFrame;
    type Error = JpError;

    const NATION: Nation = Nation::Jp;
    const MAX_FRAME_LEN: usize = MAX_FRAME_LEN;

    fn decode(&self, buf: &[u8]) -> Result<Decoded<JpFrame>, JpError> {
        wire::decode(buf)
    }

    /// One UDP datagram = exactly one frame (jp.md §1, §10 steps 3, 4 and 10): the same as
    /// [`decode_datagram`].
    fn decode_message(&self, msg: &[u8]) -> Result<JpFrame, JpError> {
        decode_datagram(msg)
    }

    fn skip_after_error(&self, buf: &[u8]) -> usize {
        wire::skip_after_error(buf)
    }

    fn encode(&self, frame: &JpFrame, out: &mut BytesMut) -> Result<(), JpError> {
        wire::encode(frame, out)
    }

    fn to_common(&self, frame: &JpFrame, ingested_at: DateTime<Utc>) -> Result<Envelope, JpError> {
        frame.clone().into_common(ingested_at)
    }

    fn to_national(&self, env: &Envelope) -> Result<JpFrame, JpError> {
        JpFrame::from_common(env)
    }
}

/// Decode exactly one frame from one UDP datagram: a short datagram is
/// [`JpError::Truncated`], bytes after the frame are [`JpError::TrailingBytes`] (the whole
/// datagram is rejected, its frame included). The frame's own errors come first (jp.md §10:
/// `trailing_bytes` is step 10), so a bad CRC followed by more bytes is
/// [`JpError::BadChecksum`].
pub fn decode_datagram(datagram: &[u8]) -> Result<JpFrame, JpError> {
    match wire::decode(datagram)? {
        Decoded::Frame { frame, consumed } => {
            if consumed == datagram.len() {
                Ok(frame)
            } else {
                Err(JpError::TrailingBytes {
                    extra: datagram.len() - consumed,
                })
            }
        }
        Decoded::NeedMore { needed } => Err(JpError::Truncated { needed }),
    }
}

/// Decode one datagram and translate it to a common envelope (the ingress hot path).
/// The envelope is not validated: call [`Envelope::validate`].
pub fn decode_to_common(datagram: &[u8], ingested_at: DateTime<Utc>) -> Result<Envelope, JpError> {
    decode_datagram(datagram)?.into_common(ingested_at)
}

/// Translate an envelope and encode it with the given link sequence number (the egress path).
pub fn encode_common(env: &Envelope, sequence: u32, out: &mut BytesMut) -> Result<(), JpError> {
    let mut frame = JpFrame::from_common(env)?;
    frame.sequence = sequence;
    wire::encode(&frame, out)
}
