//! Framing entry points over the schema's one framer ([`trilink_schema::framing`]): one
//! message ([`decode_message`]) or a byte stream ([`StreamDecoder`]).

#[allow(clippy::wildcard_imports)]
use super::*;

/// Decode one self-delimited message (a UDP datagram, an MQTT payload): exactly one frame per
/// message, through the shared [`trilink_schema::decode_one_message`] (see there: the whole
/// message is the raw bytes; anything after the frame rejects it whole with the codec's
/// trailing code; a message longer than `C::MAX_FRAME_LEN` is `oversize` and only its first
/// [`OVERSIZE_KEEP`] bytes are kept).
pub fn decode_message<C: NationalCodec>(codec: &C, msg: &Bytes) -> StreamItem<C::Frame> {
    trilink_schema::decode_one_message(codec, msg)
}

/// Splits a byte stream into frames with a [`NationalCodec`]: the shared
/// [`StreamFramer`] with its codec and an async reader.
///
/// Bytes are appended with [`extend`](Self::extend) (or read into [`read_buf`](Self::read_buf));
/// [`next_item`](Self::next_item) returns frames, rejections (with the skipped bytes), or `None` when
/// more bytes are needed. The buffer never holds more than `C::MAX_FRAME_LEN` bytes of an
/// incomplete frame: a codec asking for more than that is answered with an `oversize`
/// rejection and a resync.
#[derive(Debug)]
pub struct StreamDecoder<C: NationalCodec> {
    codec: Arc<C>,
    framer: StreamFramer<C>,
}

/// One item from a [`StreamDecoder`].
pub type StreamItem<F> = trilink_schema::framing::FramedItem<F>;

impl<C: NationalCodec> StreamDecoder<C> {
    /// A decoder over `codec`.
    pub fn new(codec: Arc<C>) -> Self {
        Self {
            codec,
            framer: StreamFramer::new(),
        }
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    /// How many bytes may be read into the buffer now without exceeding `MAX_FRAME_LEN`
    /// (at least 1 once [`next_item`](Self::next_item) returned `None`).
    pub fn room(&self) -> usize {
        self.framer.room()
    }

    /// Append bytes. Callers should not append more than [`room`](Self::room) at a time.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.framer.extend(bytes);
    }

    /// Read from `r` into the buffer, at most [`room`](Self::room) bytes. Returns the number
    /// read (0 = end of stream).
    pub async fn read_buf<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> std::io::Result<usize> {
        let room = self.room().max(1);
        let mut limited = (&mut *r).take(room as u64);
        limited.read_buf(self.framer.buffer_mut()).await
    }

    /// The next frame or rejection, or `None` when more bytes are needed.
    pub fn next_item(&mut self) -> Option<StreamItem<C::Frame>> {
        self.framer.next_item(&self.codec)
    }

    /// At end of stream: whatever is left is a truncated frame.
    pub fn finish(&mut self) -> Option<(Rejected, Bytes)> {
        self.framer.finish()
    }
}

/// Convenience for tests and tools: read one whole buffer through a [`StreamDecoder`].
pub fn decode_stream_all<C: NationalCodec>(
    codec: Arc<C>,
    mut bytes: &[u8],
) -> Vec<StreamItem<C::Frame>> {
    let mut dec = StreamDecoder::new(codec);
    let mut out = Vec::new();
    while bytes.has_remaining() || dec.buffered() > 0 {
        let room = dec.room().max(1).min(bytes.len());
        if room > 0 {
            let (head, tail) = bytes.split_at(room);
            dec.extend(head);
            bytes = tail;
        }
        let mut progressed = false;
        while let Some(item) = dec.next_item() {
            out.push(item);
            progressed = true;
        }
        if bytes.is_empty() && !progressed {
            if let Some(rest) = dec.finish() {
                out.push(Err(rest));
            }
            break;
        }
    }
    out
}
