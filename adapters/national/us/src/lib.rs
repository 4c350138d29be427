//! # trilink-us — the US reference national format
//!
//! The US national system speaks **SIMPLE** (STANAG 5602) packets carrying **Link-16-style
//! J-words**, byte for byte as `schemas/national/us.md` specifies: sync `0x49 0x36`, a 14-byte
//! little-endian SIMPLE header as Wireshark's SIMPLE dissector reads it, packet type 1 (Link 16)
//! with its 14-byte sub-header, 10-byte J-words (16-bit word header: word format, label,
//! sublabel, message length indicator; 8 data bytes laid out by trilink), and the 16-bit
//! SIMPLE checksum (byte sum). Positions travel as WGS84 ECEF centimetres, velocities as ECEF
//! mm/s, times as GPS microseconds since 1980-01-06 (GPS time scale, leap-second table in
//! [`gps`]).
//!
//! This crate is **sans-IO**: [`UsCodec`] implements [`NationalCodec`] over byte slices and
//! [`bytes::BytesMut`]; the runtime owns sockets (TCP streams are decoded with
//! [`NationalCodec::decode`] — it answers [`Decoded::NeedMore`] on a partial packet — and UDP
//! datagrams with [`decode_datagram`]). It must never open sockets or files, read clocks, spawn
//! tasks or log: time comes in as an argument and failures come back as [`UsError`].
//!
//! ## Precision (also in the spec, §8)
//!
//! | quantity | national resolution | round-trip error common → US → common |
//! |---|---|---|
//! | times | 1 µs | ≤ 0.5 µs |
//! | positions | 1 cm per ECEF axis | ≤ 0.87 cm (3-D) |
//! | velocity | 1 mm/s per ECEF axis | ≤ 0.87 mm/s (3-D) |
//! | uncertainties, ellipse axes | 1 cm | ≤ 0.5 cm |
//! | ellipse orientation | 1e-6 ° | ≤ 5e-7 ° |
//! | confidence | 1e-9 | ≤ 5e-10 |
//! | uptime | 1 µs | ≤ 0.5 µs |
//!
//! `relayed_at`, `provenance` and `hop_limit` are not carried (`to_common` sets `None`, empty,
//! [`DEFAULT_HOP_LIMIT`](trilink_schema::DEFAULT_HOP_LIMIT)); `message_id` is re-derived.

#![forbid(unsafe_code)]

mod error;
pub mod geo;
pub mod gps;
mod replay;
mod translate;
pub mod wire;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_schema::{Decoded, Envelope, Nation, NationalCodec};

pub use error::UsError;
pub use wire::{
    AssociationBody, AssociationMember, CancelBody, CorrectionBody, EcefCm, EcefVelMmps,
    EventEndBody, ImpactBody, LaunchBody, Link16Header, MAX_FRAME_LEN, MIN_FRAME_LEN, MessageBody,
    SimpleHeader, StatusBody, TrackBody, UncertaintyCm, UsFrame, UsMessage, simple_checksum,
};

/// The US codec. Its configuration supplies the SIMPLE and Link 16 header values that
/// [`to_national`](NationalCodec::to_national) writes (the sequence number is left at 0 for
/// the transport to set on [`UsFrame::simple`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UsCodec {
    /// SIMPLE header values for outgoing frames.
    pub simple: SimpleHeader,
    /// Link 16 sub-header values for outgoing frames.
    pub link16: Link16Header,
}

impl UsCodec {
    /// A codec with the default headers (source node 1, destination 129 broadcast, subnodes
    /// 206 Link 16, NPG 7, STN 00001).
    pub fn new() -> Self {
        Self::default()
    }
}

impl NationalCodec for UsCodec {
    type Frame = UsFrame;
    type Error = UsError;

    const NATION: Nation = Nation::Us;
    const MAX_FRAME_LEN: usize = wire::MAX_FRAME_LEN;

    fn decode(&self, buf: &[u8]) -> Result<Decoded<UsFrame>, UsError> {
        wire::decode(buf)
    }

    /// One UDP datagram = exactly one packet (us.md §1, §9): the same as
    /// [`decode_datagram`].
    fn decode_message(&self, msg: &[u8]) -> Result<UsFrame, UsError> {
        decode_datagram(msg)
    }

    fn skip_after_error(&self, buf: &[u8]) -> usize {
        skip_to_next_sync(buf)
    }

    fn encode(&self, frame: &UsFrame, out: &mut BytesMut) -> Result<(), UsError> {
        wire::encode(frame, out)
    }

    fn to_common(&self, frame: &UsFrame, ingested_at: DateTime<Utc>) -> Result<Envelope, UsError> {
        translate::to_common(frame, ingested_at)
    }

    fn to_national(&self, env: &Envelope) -> Result<UsFrame, UsError> {
        translate::to_national(env, self.simple, self.link16)
    }

    /// A `common_event` is the "common picture" reports
    /// ([`trilink_schema::picture::common_event_reports`]) followed by the J7.7 association
    /// packets naming its contributing national tracks ([`association_frames`]; us.md §13);
    /// nothing when the reports are empty. Every other envelope is one frame.
    fn to_national_frames(&self, env: &Envelope) -> Result<Vec<UsFrame>, UsError> {
        let Some(reports) = trilink_schema::picture::common_event_reports(env) else {
            return Ok(vec![self.to_national(env)?]);
        };
        let mut out = reports
            .iter()
            .map(|e| self.to_national(e))
            .collect::<Result<Vec<_>, _>>()?;
        if !out.is_empty() {
            out.extend(association_frames(env, self.simple, self.link16)?);
        }
        Ok(out)
    }
}

/// The J7.7 association packets of a `common_event` envelope with `codec`'s headers (us.md
/// §13); empty for any other payload.
pub fn association_frames(
    env: &Envelope,
    simple: SimpleHeader,
    link16: Link16Header,
) -> Result<Vec<UsFrame>, UsError> {
    translate::association_frames(env, simple, link16)
}

/// Bytes to drop after a decode error: up to the next `0x49` that could start a packet (at
/// least 1, at most `buf.len()`).
pub fn skip_to_next_sync(buf: &[u8]) -> usize {
    let rest = buf.get(1..).unwrap_or_default();
    let n = rest.windows(2).position(|w| w == wire::SYNC).map_or_else(
        || {
            // Keep a trailing 0x49: it may be the first half of the next sync.
            if rest.last() == Some(&wire::SYNC[0]) {
                rest.len()
            } else {
                rest.len() + 1
            }
        },
        |p| p + 1,
    );
    n.clamp(1, buf.len().max(1))
}

/// Decode one UDP datagram, which must hold exactly one SIMPLE packet: a short datagram is
/// [`UsError::Truncated`] (also one of 0–3 bytes whose bytes are not already a bad sync),
/// extra bytes are [`UsError::TrailingBytes`] (the whole datagram is rejected, its packet
/// included). Order (us.md §9): the packet's own checks (steps 1–17) first, so a bad checksum
/// followed by more bytes is [`UsError::BadChecksum`]; the trailing-bytes check next; the
/// translation checks of step 18 ([`decode_to_common`]) last.
pub fn decode_datagram(buf: &[u8]) -> Result<UsFrame, UsError> {
    match wire::decode(buf)? {
        Decoded::Frame { frame, consumed } => {
            if consumed == buf.len() {
                Ok(frame)
            } else {
                Err(UsError::TrailingBytes {
                    extra: buf.len() - consumed,
                })
            }
        }
        Decoded::NeedMore { needed } => Err(UsError::Truncated { needed }),
    }
}

/// Decode one datagram and translate it: the usual ingress path for UDP. Cheaper than
/// `decode` + `to_common` because the decoded strings move into the envelope.
pub fn decode_to_common(buf: &[u8], ingested_at: DateTime<Utc>) -> Result<Envelope, UsError> {
    translate::into_common(decode_datagram(buf)?.message, ingested_at)
}

/// Translate a decoded frame, consuming it (no string copies): use after
/// [`NationalCodec::decode`] on a stream when the frame is not needed afterwards.
pub fn frame_into_common(frame: UsFrame, ingested_at: DateTime<Utc>) -> Result<Envelope, UsError> {
    translate::into_common(frame.message, ingested_at)
}

/// Translate and encode an envelope with `codec`'s headers: the usual egress path.
pub fn encode_from_common(
    codec: &UsCodec,
    env: &Envelope,
    out: &mut BytesMut,
) -> Result<(), UsError> {
    let frame = codec.to_national(env)?;
    wire::encode(&frame, out)
}
