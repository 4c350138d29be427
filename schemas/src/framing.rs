//! The one framing algorithm every consumer of a [`NationalCodec`] uses: the adapter runtime on
//! live sockets and the capture decoder on recorded traffic.
//!
//! - **Messages** (a UDP datagram, one MQTT PUBLISH payload): [`decode_one_message`] — exactly
//!   one frame per message through [`NationalCodec::decode_message`]; a message longer than the
//!   format's largest frame is `oversize` without decoding.
//! - **Byte streams** (TCP, a reassembled TCP flow): [`StreamFramer`] — frames back to back,
//!   never more than `MAX_FRAME_LEN` bytes buffered, resync with
//!   [`NationalCodec::skip_after_error`].
//!
//! Sans-IO: bytes in, frames or [`Rejected`] out; the caller reads sockets or files.

use std::marker::PhantomData;

use bytes::{Bytes, BytesMut};

use crate::national::{Decoded, NationalCodec, NationalError};

/// How many bytes of an `oversize` message its rejection keeps (a dead letter must fit a NATS
/// message).
pub const OVERSIZE_KEEP: usize = 1024;

/// Why national bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Stable reason code (the codec's `code()`, or `truncated` / `oversize` /
    /// `codec_contract` from the framer).
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl Rejected {
    /// A rejection carrying a codec error's code and message.
    pub fn from_codec<E: NationalError>(e: &E) -> Self {
        Self {
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

/// One item out of the framer: a frame with its bytes, or a rejection with the bytes it
/// concerns (skipped bytes, or the whole message).
pub type FramedItem<F> = Result<(F, Bytes), (Rejected, Bytes)>;

/// Decode one self-delimited message (a UDP datagram, an MQTT payload) with
/// [`NationalCodec::decode_message`]: exactly one frame per message, as every national spec
/// requires. The result carries the **whole** message as its raw bytes: on success the frame's
/// bytes, on a rejection everything that was received. A message with anything after its frame
/// (garbage, a second frame) is rejected whole with the codec's trailing code
/// (`trailing_bytes` for JP and US, `trailing_data` for KR) and its frame is not delivered; a
/// message that ends inside a frame is `truncated`.
///
/// A message longer than the format's largest frame (`C::MAX_FRAME_LEN`) is rejected as
/// `oversize` without decoding, and only its first [`OVERSIZE_KEEP`] bytes are kept (the detail
/// names the full length).
pub fn decode_one_message<C: NationalCodec>(codec: &C, msg: &Bytes) -> FramedItem<C::Frame> {
    if msg.len() > C::MAX_FRAME_LEN {
        let keep = msg.len().min(OVERSIZE_KEEP);
        return Err((
            Rejected {
                code: "oversize",
                detail: format!(
                    "message of {} bytes is longer than the largest {} frame ({} bytes); \
                     the dead letter keeps its first {keep} bytes",
                    msg.len(),
                    C::NATION,
                    C::MAX_FRAME_LEN
                ),
            },
            msg.slice(..keep),
        ));
    }
    match codec.decode_message(msg) {
        Ok(frame) => Ok((frame, msg.clone())),
        Err(e) => Err((Rejected::from_codec(&e), msg.clone())),
    }
}

/// Splits a byte stream into frames of codec `C`.
///
/// Bytes are appended with [`extend`](Self::extend) (or read into
/// [`buffer_mut`](Self::buffer_mut), at most [`room`](Self::room) at a time);
/// [`next_item`](Self::next_item) returns frames, rejections (with the skipped bytes), or
/// `None` when more bytes are needed. The buffer never holds more than `C::MAX_FRAME_LEN` bytes
/// of an incomplete frame: a codec asking for more than that is answered with an `oversize`
/// rejection and a resync.
#[derive(Debug)]
pub struct StreamFramer<C: NationalCodec> {
    buf: BytesMut,
    codec: PhantomData<fn() -> C>,
}

impl<C: NationalCodec> Default for StreamFramer<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: NationalCodec> StreamFramer<C> {
    /// An empty framer.
    pub fn new() -> Self {
        Self {
            buf: BytesMut::with_capacity(C::MAX_FRAME_LEN.min(64 * 1024)),
            codec: PhantomData,
        }
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many bytes may be appended now without exceeding `MAX_FRAME_LEN`
    /// (at least 1 once [`next_item`](Self::next_item) returned `None`).
    pub fn room(&self) -> usize {
        C::MAX_FRAME_LEN.saturating_sub(self.buf.len())
    }

    /// Append bytes. Callers should not append more than [`room`](Self::room) at a time.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The buffer, for a reader that appends into it directly (at most [`room`](Self::room)
    /// bytes at a time).
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Drop everything buffered (a gap in the stream); returns how many bytes were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.buf.len();
        self.buf.clear();
        n
    }

    /// The next frame or rejection, or `None` when more bytes are needed.
    pub fn next_item(&mut self, codec: &C) -> Option<FramedItem<C::Frame>> {
        if self.buf.is_empty() {
            return None;
        }
        match codec.decode(&self.buf) {
            Ok(Decoded::Frame { frame, consumed })
                if consumed > 0 && consumed <= self.buf.len() =>
            {
                let raw = self.buf.split_to(consumed).freeze();
                Some(Ok((frame, raw)))
            }
            Ok(Decoded::Frame { consumed, .. }) => {
                let raw = self.buf.split().freeze();
                Some(Err((
                    Rejected {
                        code: "codec_contract",
                        detail: format!("codec consumed {consumed} of {} bytes", raw.len()),
                    },
                    raw,
                )))
            }
            Ok(Decoded::NeedMore { needed }) => {
                if self.buf.len().saturating_add(needed) > C::MAX_FRAME_LEN {
                    let skip = self.skip_len(codec);
                    let raw = self.buf.split_to(skip).freeze();
                    Some(Err((
                        Rejected {
                            code: "oversize",
                            detail: format!(
                                "frame needs more than {} bytes (buffered {}, {needed} more)",
                                C::MAX_FRAME_LEN,
                                self.buf.len() + raw.len()
                            ),
                        },
                        raw,
                    )))
                } else {
                    None
                }
            }
            Err(e) => {
                let rej = Rejected::from_codec(&e);
                let skip = self.skip_len(codec);
                let raw = self.buf.split_to(skip).freeze();
                Some(Err((rej, raw)))
            }
        }
    }

    fn skip_len(&self, codec: &C) -> usize {
        codec
            .skip_after_error(&self.buf)
            .clamp(1, self.buf.len().max(1))
            .min(self.buf.len())
    }

    /// At end of stream: whatever is left is a truncated frame.
    pub fn finish(&mut self) -> Option<(Rejected, Bytes)> {
        if self.buf.is_empty() {
            return None;
        }
        let raw = self.buf.split().freeze();
        Some((
            Rejected {
                code: "truncated",
                detail: format!("stream ended inside a frame ({} bytes)", raw.len()),
            },
            raw,
        ))
    }
}
