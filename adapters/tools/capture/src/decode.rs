//! From captured messages to national frames: a small port map says which nation and framing
//! a flow carries, and each nation's [`NationalCodec`] decodes the bytes through the schema's
//! shared framer, exactly as the adapter runtime does on live sockets: a TCP flow through a
//! [`StreamFramer`], and each UDP datagram or MQTT PUBLISH payload through
//! [`decode_one_message`] — exactly one frame per message, as every national spec requires
//! (a message with anything after its frame is rejected whole with the codec's trailing code).

use std::collections::HashMap;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use rumqttc::mqttbytes::v4::Publish;
use rumqttc::mqttbytes::{self, PacketType};
use serde::{Deserialize, Serialize};
use trilink_schema::{
    Envelope, Nation, NationalCodec, NationalError, Rejected, StreamFramer, decode_one_message,
};

use crate::link::Transport;
use crate::reader::CapturedMessage;
use crate::tcp::FlowKey;

/// How the bytes of a flow are framed before the national codec sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Framing {
    /// Each UDP datagram holds exactly one frame (JP, US SIMPLE over UDP); anything after the
    /// frame rejects the whole datagram.
    Datagram,
    /// A TCP byte stream of back-to-back frames (US SIMPLE over TCP).
    Stream,
    /// An MQTT 3.1.1 session on TCP; each PUBLISH payload holds exactly one frame (a KR
    /// sentence).
    Mqtt,
}

/// One line of a [`CaptureMap`]: traffic to or from `port` over `transport` is `nation`'s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapEntry {
    /// The nation whose format the flow carries.
    pub nation: Nation,
    /// UDP or TCP.
    pub transport: Transport,
    /// Port on either end of the flow (the destination port is tried first).
    pub port: u16,
    /// Framing; defaults to `datagram` for UDP and `stream` for TCP.
    #[serde(default)]
    pub framing: Option<Framing>,
}

impl MapEntry {
    /// The effective framing.
    pub fn framing(&self) -> Framing {
        self.framing.unwrap_or(match self.transport {
            Transport::Udp => Framing::Datagram,
            Transport::Tcp => Framing::Stream,
        })
    }
}

/// Which (transport, port) carries which nation's traffic. Deserializable from TOML/JSON:
/// `[[entries]] nation = "kr", transport = "tcp", port = 1883, framing = "mqtt"`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureMap {
    /// The entries, first match wins.
    #[serde(default)]
    pub entries: Vec<MapEntry>,
}

impl CaptureMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an entry (builder style).
    #[must_use]
    pub fn with(
        mut self,
        nation: Nation,
        transport: Transport,
        port: u16,
        framing: Framing,
    ) -> Self {
        self.entries.push(MapEntry {
            nation,
            transport,
            port,
            framing: Some(framing),
        });
        self
    }

    /// The nation and framing of a message, matching the destination port first, then the
    /// source port; `None` when no entry matches.
    pub fn classify(&self, m: &CapturedMessage) -> Option<(Nation, Framing)> {
        let hit = |port: u16| {
            self.entries
                .iter()
                .find(|e| e.transport == m.transport && e.port == port)
        };
        hit(m.dst.port())
            .or_else(|| hit(m.src.port()))
            .map(|e| (e.nation, e.framing()))
    }
}

/// A decoded national frame with where and when it was captured.
#[derive(Debug, Clone, PartialEq)]
pub struct NationalMessage<F> {
    /// The nation whose format it is.
    pub nation: Nation,
    /// Capture timestamp of the packet that completed the frame.
    pub timestamp: DateTime<Utc>,
    /// UDP or TCP.
    pub transport: Transport,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// MQTT topic of the PUBLISH that carried it (MQTT framing only).
    pub topic: Option<String>,
    /// The exact bytes of the national frame (what a replay sends).
    pub raw: Bytes,
    /// File offset of the packet record that completed the frame.
    pub offset: u64,
    /// The decoded frame.
    pub frame: F,
}

/// A frame (or MQTT packet) that did not decode. Not fatal: decoding continues after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{nation} {transport:?} {src} -> {dst} at {timestamp} (file offset {offset}): {code}: {detail}"
)]
pub struct FrameError {
    /// The nation the flow is mapped to.
    pub nation: Nation,
    /// Capture timestamp.
    pub timestamp: DateTime<Utc>,
    /// UDP or TCP.
    pub transport: Transport,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// File offset of the packet record concerned.
    pub offset: u64,
    /// Stable reason code: the codec's (`bad_checksum`, `trailing_bytes`, …), the framer's
    /// (`oversize`, `codec_contract`) or `bad_mqtt`, `stream_gap`, `truncated_at_end`,
    /// `translate_*`.
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

/// Largest MQTT packet accepted in a capture.
pub const MAX_MQTT_PACKET: usize = 1024 * 1024;

#[derive(Debug)]
struct FlowState<C: NationalCodec> {
    /// MQTT framing: bytes of an incomplete MQTT packet.
    mqtt: BytesMut,
    /// Stream framing: the national byte stream.
    framer: StreamFramer<C>,
    last: Option<(DateTime<Utc>, u64)>,
}

impl<C: NationalCodec> Default for FlowState<C> {
    fn default() -> Self {
        Self {
            mqtt: BytesMut::new(),
            framer: StreamFramer::new(),
            last: None,
        }
    }
}

impl<C: NationalCodec> FlowState<C> {
    fn buffered(&self) -> usize {
        self.mqtt.len() + self.framer.buffered()
    }
}

/// Streaming decoder for one nation's traffic, generic over its codec.
#[derive(Debug)]
pub struct NationDecoder<C: NationalCodec> {
    codec: C,
    flows: HashMap<(Transport, FlowKey), FlowState<C>>,
}

type Out<F> = Vec<Result<NationalMessage<F>, FrameError>>;

impl<C: NationalCodec> NationDecoder<C> {
    /// A decoder using `codec`.
    pub fn new(codec: C) -> Self {
        Self {
            codec,
            flows: HashMap::new(),
        }
    }

    /// The codec.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    fn error(m: &CapturedMessage, code: &'static str, detail: String) -> FrameError {
        FrameError {
            nation: C::NATION,
            timestamp: m.timestamp,
            transport: m.transport,
            src: m.src,
            dst: m.dst,
            offset: m.offset,
            code,
            detail,
        }
    }

    fn message(
        m: &CapturedMessage,
        topic: Option<&str>,
        frame: C::Frame,
        raw: Bytes,
    ) -> NationalMessage<C::Frame> {
        NationalMessage {
            nation: C::NATION,
            timestamp: m.timestamp,
            transport: m.transport,
            src: m.src,
            dst: m.dst,
            topic: topic.map(str::to_owned),
            raw,
            offset: m.offset,
            frame,
        }
    }

    /// Decode one whole message (a datagram or a PUBLISH payload): exactly one frame.
    fn decode_whole(
        &self,
        m: &CapturedMessage,
        topic: Option<&str>,
        data: &Bytes,
        out: &mut Out<C::Frame>,
    ) {
        if data.is_empty() {
            return;
        }
        out.push(match decode_one_message(&self.codec, data) {
            Ok((frame, raw)) => Ok(Self::message(m, topic, frame, raw)),
            Err((Rejected { code, detail }, _)) => Err(Self::error(m, code, detail)),
        });
    }

    /// Decode as many frames as the flow's stream framer holds.
    fn decode_stream(
        &self,
        m: &CapturedMessage,
        framer: &mut StreamFramer<C>,
        out: &mut Out<C::Frame>,
    ) {
        while let Some(item) = framer.next_item(&self.codec) {
            out.push(match item {
                Ok((frame, raw)) => Ok(Self::message(m, None, frame, raw)),
                Err((Rejected { code, detail }, _)) => Err(Self::error(m, code, detail)),
            });
        }
    }

    fn decode_mqtt(&self, m: &CapturedMessage, buf: &mut BytesMut, out: &mut Out<C::Frame>) {
        loop {
            let header = match mqttbytes::check(buf.iter(), MAX_MQTT_PACKET) {
                Ok(h) => h,
                Err(mqttbytes::Error::InsufficientBytes(_)) => return,
                Err(e) => {
                    out.push(Err(Self::error(
                        m,
                        "bad_mqtt",
                        format!(
                            "MQTT stream lost sync ({e}); {} buffered bytes dropped",
                            buf.len()
                        ),
                    )));
                    buf.clear();
                    return;
                }
            };
            let packet = buf.split_to(header.frame_length().min(buf.len())).freeze();
            match header.packet_type() {
                Ok(PacketType::Publish) => match Publish::read(header, packet) {
                    Ok(p) => self.decode_whole(m, Some(&p.topic), &p.payload, out),
                    Err(e) => {
                        out.push(Err(Self::error(m, "bad_mqtt", format!("bad PUBLISH: {e}"))));
                    }
                },
                Ok(_) => {} // CONNECT, PUBACK, PINGREQ, …: not national traffic
                Err(e) => {
                    out.push(Err(Self::error(
                        m,
                        "bad_mqtt",
                        format!("MQTT stream lost sync ({e})"),
                    )));
                    buf.clear();
                    return;
                }
            }
        }
    }

    /// Feed one captured message with the framing its flow uses.
    pub fn push(&mut self, m: &CapturedMessage, framing: Framing, out: &mut Out<C::Frame>) {
        if framing == Framing::Datagram || m.transport == Transport::Udp {
            self.decode_whole(m, None, &m.bytes, out);
            return;
        }
        let mut state = self
            .flows
            .remove(&(m.transport, (m.src, m.dst)))
            .unwrap_or_default();
        if m.lost_before > 0 {
            out.push(Err(Self::error(
                m,
                "stream_gap",
                format!(
                    "{} stream bytes were not captured; {} buffered bytes dropped",
                    m.lost_before,
                    state.buffered()
                ),
            )));
            state.mqtt.clear();
            state.framer.clear();
        }
        state.last = Some((m.timestamp, m.offset));
        match framing {
            Framing::Mqtt => {
                state.mqtt.extend_from_slice(&m.bytes);
                self.decode_mqtt(m, &mut state.mqtt, out);
            }
            Framing::Stream | Framing::Datagram => {
                state.framer.extend(&m.bytes);
                self.decode_stream(m, &mut state.framer, out);
            }
        }
        self.flows.insert((m.transport, (m.src, m.dst)), state);
    }

    /// At the end of a capture: report bytes left in stream buffers (an incomplete last frame).
    pub fn finish(&mut self, out: &mut Out<C::Frame>) {
        let mut flows: Vec<_> = self
            .flows
            .drain()
            .filter(|(_, s)| s.buffered() > 0)
            .collect();
        flows.sort_by_key(|((t, k), _)| (*t, *k));
        for ((transport, (src, dst)), state) in flows {
            let (timestamp, offset) = state.last.unwrap_or((DateTime::UNIX_EPOCH, 0));
            out.push(Err(FrameError {
                nation: C::NATION,
                timestamp,
                transport,
                src,
                dst,
                offset,
                code: "truncated_at_end",
                detail: format!(
                    "capture ends with {} bytes of an incomplete frame",
                    state.buffered()
                ),
            }));
        }
    }
}

/// A national frame translated to the common schema, with its capture context: the
/// nation-independent output of [`CaptureDecoder`].
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRecord {
    /// The nation whose format it is.
    pub nation: Nation,
    /// Capture timestamp (also used as `ingested_at` for the translation).
    pub timestamp: DateTime<Utc>,
    /// UDP or TCP.
    pub transport: Transport,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// MQTT topic (MQTT framing only).
    pub topic: Option<String>,
    /// Exact national frame bytes (what a replay sends to the adapter's national port, or as
    /// the PUBLISH payload on `topic`).
    pub raw: Bytes,
    /// File offset of the packet record that completed the frame.
    pub offset: u64,
    /// The frame translated with `to_common(frame, timestamp)`.
    pub envelope: Envelope,
}

/// Object-safe view of a [`NationDecoder`] that yields [`DecodedRecord`]s, so one
/// [`CaptureDecoder`] can hold the three nations' decoders.
pub trait ErasedDecoder: Send + std::fmt::Debug {
    /// The decoder's nation.
    fn nation(&self) -> Nation;
    /// Feed one message.
    fn push(
        &mut self,
        m: &CapturedMessage,
        framing: Framing,
        out: &mut Vec<Result<DecodedRecord, FrameError>>,
    );
    /// End of capture.
    fn finish(&mut self, out: &mut Vec<Result<DecodedRecord, FrameError>>);
}

#[allow(clippy::result_large_err)] // internal; the public API yields Vec<Result<…>>
fn translate<C: NationalCodec>(
    codec: &C,
    r: Result<NationalMessage<C::Frame>, FrameError>,
) -> Result<DecodedRecord, FrameError> {
    let m = r?;
    match codec.to_common(&m.frame, m.timestamp) {
        Ok(envelope) => Ok(DecodedRecord {
            nation: m.nation,
            timestamp: m.timestamp,
            transport: m.transport,
            src: m.src,
            dst: m.dst,
            topic: m.topic,
            raw: m.raw,
            offset: m.offset,
            envelope,
        }),
        Err(e) => Err(FrameError {
            nation: m.nation,
            timestamp: m.timestamp,
            transport: m.transport,
            src: m.src,
            dst: m.dst,
            offset: m.offset,
            code: e.code(),
            detail: format!("translation to the common schema failed: {e}"),
        }),
    }
}

#[allow(clippy::result_large_err)]
impl<C> ErasedDecoder for NationDecoder<C>
where
    C: NationalCodec + Send + std::fmt::Debug,
{
    fn nation(&self) -> Nation {
        C::NATION
    }

    fn push(
        &mut self,
        m: &CapturedMessage,
        framing: Framing,
        out: &mut Vec<Result<DecodedRecord, FrameError>>,
    ) {
        let mut frames = Vec::new();
        NationDecoder::push(self, m, framing, &mut frames);
        out.extend(frames.into_iter().map(|r| translate(&self.codec, r)));
    }

    fn finish(&mut self, out: &mut Vec<Result<DecodedRecord, FrameError>>) {
        let mut frames = Vec::new();
        NationDecoder::finish(self, &mut frames);
        out.extend(frames.into_iter().map(|r| translate(&self.codec, r)));
    }
}

/// Routes captured messages to the registered nations' decoders by [`CaptureMap`].
#[derive(Debug)]
pub struct CaptureDecoder {
    map: CaptureMap,
    decoders: Vec<Box<dyn ErasedDecoder>>,
    unmapped: u64,
}

impl CaptureDecoder {
    /// A decoder with `map` and no codecs yet.
    pub fn new(map: CaptureMap) -> Self {
        Self {
            map,
            decoders: Vec::new(),
            unmapped: 0,
        }
    }

    /// Register a nation's codec (replaces an earlier one for the same nation).
    #[must_use]
    pub fn with_codec<C>(mut self, codec: C) -> Self
    where
        C: NationalCodec + Send + std::fmt::Debug + 'static,
    {
        self.decoders.retain(|d| d.nation() != C::NATION);
        self.decoders.push(Box::new(NationDecoder::new(codec)));
        self
    }

    /// Messages that matched no map entry, or whose nation has no registered codec.
    pub fn unmapped(&self) -> u64 {
        self.unmapped
    }

    /// Decode one captured message.
    pub fn push(&mut self, m: &CapturedMessage) -> Vec<Result<DecodedRecord, FrameError>> {
        let mut out = Vec::new();
        let target = self.map.classify(m).and_then(|(nation, framing)| {
            self.decoders
                .iter_mut()
                .find(|d| d.nation() == nation)
                .map(|d| (d, framing))
        });
        match target {
            Some((d, framing)) => d.push(m, framing, &mut out),
            None => self.unmapped += 1,
        }
        out
    }

    /// End of capture: incomplete frames left in stream buffers.
    pub fn finish(&mut self) -> Vec<Result<DecodedRecord, FrameError>> {
        let mut out = Vec::new();
        for d in &mut self.decoders {
            d.finish(&mut out);
        }
        out
    }
}
