//! # trilink-kr — the KR reference national format
//!
//! The Republic of Korea's warning system (as trilink models it) publishes one ASCII
//! sentence per MQTT message, NMEA-like:
//!
//! ```text
//! $TLKR,TRK,1,EXERCISE,KR,JP+KR+US,kamd,green-pine-b,TRK-0001,20261121T094512.123456+0900,,...*1A2B3C4D\r\n
//! ```
//!
//! Positions are degrees-minutes-seconds text with hemisphere letters (0.0001″ ≈ 3 mm),
//! times are Korea Standard Time (UTC+9) with microseconds, and a CRC-32/ISO-HDLC in 8
//! upper-case hex digits protects the characters between `$` and `*`. The byte-exact
//! specification is `schemas/national/kr.md`; test vectors are in `schemas/vectors/kr/`.
//!
//! This crate provides [`KrCodec`], an implementation of
//! [`trilink_schema::NationalCodec`]: a streaming decoder (`$` … `\r\n`, at most
//! [`MAX_SENTENCE_LEN`] bytes, "need more" on partial input), an encoder, and translation
//! to and from the common [`Envelope`](trilink_schema::Envelope). Decoded sentences
//! ([`Sentence`]) hold the exact scaled integers the text carries, so
//! `decode(encode(s)) == s`; precision is lost only in translation from the common schema
//! and is bounded as follows (rounding to nearest, ties away from zero, unless stated):
//!
//! | quantity | KR resolution | worst-case error from common |
//! |---|---|---|
//! | latitude, longitude | 0.0001″ = 1/36 000 000° | ±1.39e-8° (≤ 1.6 mm) |
//! | altitude, uncertainties, ellipse axes | 0.01 m | ±0.005 m |
//! | velocity components | 0.01 m/s | ±0.005 m/s |
//! | confidence | 0.0001 | ±0.00005 |
//! | ellipse orientation | 0.001° | ±0.0005° |
//! | uptime | 0.001 s | ±0.0005 s |
//! | every time | 1 µs | truncated towards the past (< 1 µs) |
//!
//! ## API at a glance
//!
//! - [`KrCodec`] (`Default`, `Clone`, `Copy`): the [`NationalCodec`] implementation
//!   (`decode`, `skip_after_error`, `encode`, `to_common`, `to_national`;
//!   `MAX_FRAME_LEN` = [`MAX_SENTENCE_LEN`] = 2048).
//! - [`KrCodec::decode_message`]: one MQTT payload = exactly one sentence ("need more" becomes
//!   [`KrError::Truncated`], extra bytes [`KrError::TrailingData`]).
//! - [`KrCodec::decode_to_common`]: `decode_message` + translation, moving the decoded
//!   strings instead of copying them (the adapter's hot path).
//! - [`KrCodec::encode_envelope`]: `to_national` + `encode`.
//! - [`SentenceType::mqtt_topic`]: the proposed national MQTT topic per sentence type
//!   (`kr/warning/<kind>`, `kr/status`); [`SentenceBody::kind`] gives the common payload kind.
//! - [`KrError`] with stable codes ([`KrError::CODES`], via [`NationalError::code`]).
//!
//! What this crate must **not** do: any I/O (no sockets, no MQTT client, no files, no
//! clock — "now" is passed in), any validation policy beyond the format's own field ranges
//! (the caller runs [`Envelope::validate`](trilink_schema::Envelope::validate)), or any
//! routing decision.

#![forbid(unsafe_code)]

mod codec;
mod error;
pub mod fields;
pub mod frame;
mod replay;
mod translate;

/// The MQTT topic the KR national system publishes its reports on (adapter-kr's ingress
/// topic in the demo, in generated captures and as `trilink replay`'s default).
pub const REPORT_TOPIC: &str = "kr/warning/out";
/// The MQTT topic adapter-kr delivers the link's messages on (the demo's KR system reads it).
pub const DELIVERY_TOPIC: &str = "kr/warning/in";

pub use codec::{CRC32, KrCodec, MAX_SENTENCE_LEN, SYNC, VERSION};
pub use error::KrError;
pub use frame::{
    CancelBody, CorrectionBody, End, Header, Impact, KstTime, Launch, Point, Releasability,
    Sentence, SentenceBody, SentenceType, StatusBody, Track,
};
pub use trilink_schema::{Decoded, NationalCodec, NationalError};
