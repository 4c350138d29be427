//! Offline decoding of national bytes into envelopes, for `trilink decode`: what the adapter
//! would make of them, without a transport or a broker. Each frame (or rejected span) comes
//! with its byte offset, so a bad frame in a file or hex dump can be found.
//!
//! Pure: the translation time is passed in. Nothing here sends or stores anything.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_schema::{Envelope, NationalCodec, NationalError, ValidationContext};

use crate::core::Reject;

/// How the bytes are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One whole message (a UDP datagram, an MQTT payload): exactly one frame.
    Message,
    /// A byte stream (TCP): frames one after another, resynchronising after a bad one.
    Stream,
}

/// One frame or rejected span of the input.
#[derive(Debug, Clone)]
pub struct Inspected {
    /// Byte offset in the input where it starts.
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
    /// The envelope `to_common` makes of it, or why there is none (stage `decode` or
    /// `translate`).
    pub result: Result<Envelope, Reject>,
    /// What the adapter's validation (at the translation time) says of the envelope, when it
    /// refuses it (`None`: valid, or no envelope).
    pub invalid: Option<String>,
}

fn translate<C: NationalCodec>(
    codec: &C,
    frame: &C::Frame,
    at: DateTime<Utc>,
) -> (Result<Envelope, Reject>, Option<String>) {
    match codec.to_common(frame, at) {
        Ok(env) => {
            let invalid = env
                .validate(&ValidationContext::at(at))
                .err()
                .map(|e| e.to_string());
            (Ok(env), invalid)
        }
        Err(e) => (
            Err(Reject {
                stage: "translate",
                code: e.code(),
                detail: e.to_string(),
            }),
            None,
        ),
    }
}

/// Decode `bytes` with `codec`, translating each frame at `at`.
pub fn decode<C: NationalCodec>(
    codec: C,
    bytes: &[u8],
    framing: Framing,
    at: DateTime<Utc>,
) -> Vec<Inspected> {
    let codec = Arc::new(codec);
    let items = match framing {
        Framing::Message => vec![trilink_schema::decode_one_message(
            codec.as_ref(),
            &Bytes::copy_from_slice(bytes),
        )],
        Framing::Stream => crate::transport::decode_stream_all(codec.clone(), bytes),
    };
    let mut offset = 0;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let (len, result, invalid) = match item {
            Ok((frame, raw)) => {
                let (r, inv) = translate(codec.as_ref(), &frame, at);
                (raw.len(), r, inv)
            }
            Err((rej, raw)) => (
                raw.len(),
                Err(Reject {
                    stage: "decode",
                    code: rej.code,
                    detail: rej.detail,
                }),
                None,
            ),
        };
        out.push(Inspected {
            offset,
            len,
            result,
            invalid,
        });
        offset += len;
    }
    out
}
