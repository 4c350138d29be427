//! The contract every national codec crate (`trilink-jp`, `trilink-kr`, `trilink-us`)
//! implements, so the runtime can drive any of them the same way.
//!
//! A codec is sans-IO: it sees bytes and returns frames or "need more"; time comes in as an
//! argument. Byte streams (TCP, pcap replay of a stream) feed [`NationalCodec::decode`];
//! message-oriented transports (a UDP datagram, an MQTT publish) feed one whole message to
//! [`NationalCodec::decode_message`], which accepts exactly one frame per message. The one
//! framing algorithm over both ([`StreamFramer`](crate::framing::StreamFramer),
//! [`decode_one_message`](crate::framing::decode_one_message)) lives in [`crate::framing`].
//!
//! ## Translation contract
//!
//! - **Ingress** (national system → adapter): [`NationalCodec::to_common`] turns a decoded frame
//!   into an [`Envelope`] whose `message_id` is [`MessageId::derive`](crate::MessageId::derive)
//!   over origin, `source.system` and `source.national_message_id`, and whose `ingested_at` is
//!   the instant passed in.
//! - **Egress** (hub → adapter → national system): [`NationalCodec::to_national`] turns any
//!   envelope released to the nation, whatever its origin, into a national frame. Every national
//!   format carries origin, source (system, sensor, national message id), `observed_at`, mode,
//!   releasability, references and the payload, so `to_common(to_national(e))` equals `e`
//!   within the precision each spec states (`relayed_at`, `provenance` and `hop_limit` are
//!   link-internal and are not carried; `ingested_at` is set anew by `to_common`).
//! - A value the national format cannot carry (a string too long, a number out of the
//!   fixed-point range) is a typed error from `to_national`, never a silent truncation.

use bytes::BytesMut;
use chrono::{DateTime, Utc};

use crate::{Envelope, Nation};

/// The outcome of trying to decode one frame from the front of a buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded<F> {
    /// A whole frame was decoded from the first `consumed` bytes.
    Frame {
        /// The frame.
        frame: F,
        /// Bytes it occupied at the front of the buffer.
        consumed: usize,
    },
    /// The buffer holds the start of a frame; at least `needed` more bytes are required.
    /// Codecs check a frame's declared length against their maximum **before** asking for
    /// more, so a streaming caller never buffers more than [`NationalCodec::MAX_FRAME_LEN`].
    NeedMore {
        /// Additional bytes required before decoding can make progress (a lower bound).
        needed: usize,
    },
}

/// Errors from a national codec: typed, with a stable reason code for dead-letter headers
/// and metric labels (`bad_sync`, `bad_checksum`, `truncated`, `oversize`, …).
pub trait NationalError: std::error::Error + Send + Sync + 'static {
    /// Stable snake-case reason code.
    fn code(&self) -> &'static str;
}

/// A national reference format.
pub trait NationalCodec {
    /// A decoded national message.
    type Frame: std::fmt::Debug + Clone + PartialEq + Send;
    /// Decode, encode and translation errors.
    type Error: NationalError;

    /// The nation whose format this is.
    const NATION: Nation;
    /// Largest frame the format allows (bytes, including framing and integrity trailer).
    const MAX_FRAME_LEN: usize;

    /// Decode the first frame at the front of `buf`, checking sync, length, integrity and
    /// field ranges. Never panics, whatever `buf` holds.
    fn decode(&self, buf: &[u8]) -> Result<Decoded<Self::Frame>, Self::Error>;

    /// Decode one whole self-delimited message (a UDP datagram, one MQTT PUBLISH payload),
    /// which must hold **exactly one frame** and nothing else, as every national spec requires
    /// of its message-oriented transport. Never panics, whatever `msg` holds.
    ///
    /// The order is the specs' (jp.md §10, kr.md §7, us.md §9): the frame at the front of
    /// `msg` is decoded first with every check of [`decode`](Self::decode), whose error wins
    /// (a bad checksum followed by more bytes is the checksum error); a message that ends
    /// inside the frame is the format's `truncated`; a frame that decodes but is followed by
    /// anything (garbage, padding, a second frame) rejects the **whole** message with the
    /// format's trailing-bytes code (`trailing_bytes` for JP and US, `trailing_data` for KR),
    /// so the frame is not delivered either. Translation ([`to_common`](Self::to_common))
    /// comes after this. Byte streams (TCP) use [`decode`](Self::decode) instead, where
    /// frames legitimately follow each other.
    fn decode_message(&self, msg: &[u8]) -> Result<Self::Frame, Self::Error>;

    /// Bytes a streaming caller should discard after `decode` returned an error, to look for
    /// the next frame (at least 1, at most `buf.len()`).
    fn skip_after_error(&self, buf: &[u8]) -> usize;

    /// Append the encoded frame to `out`.
    fn encode(&self, frame: &Self::Frame, out: &mut BytesMut) -> Result<(), Self::Error>;

    /// Translate a frame into a common envelope; `ingested_at` is the adapter's receive time
    /// and also resolves ambiguous national times (e.g. a time of day without a date).
    fn to_common(
        &self,
        frame: &Self::Frame,
        ingested_at: DateTime<Utc>,
    ) -> Result<Envelope, Self::Error>;

    /// Translate a common envelope into a national frame.
    fn to_national(&self, env: &Envelope) -> Result<Self::Frame, Self::Error>;

    /// Translate a common envelope into the national frames that carry it, in sending order:
    /// one frame ([`to_national`](Self::to_national)) for every national kind; for the hub's
    /// `common_event`, the frames of the "common picture" reports of
    /// [`crate::picture::common_event_reports`] (launch, track, impact, end or cancel of the
    /// event id) — possibly none. A format that can say more (e.g. which national tracks an
    /// event fuses) overrides this.
    fn to_national_frames(&self, env: &Envelope) -> Result<Vec<Self::Frame>, Self::Error> {
        match crate::picture::common_event_reports(env) {
            Some(reports) => reports.iter().map(|e| self.to_national(e)).collect(),
            None => Ok(vec![self.to_national(env)?]),
        }
    }
}
