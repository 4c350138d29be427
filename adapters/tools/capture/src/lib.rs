//! # trilink-capture — captures of national and common traffic, sans network I/O
//!
//! The library under `trilink replay` and `trilink record`. It reads and writes the two
//! capture kinds trilink deals with and plans replays; it never opens a socket.
//!
//! ## Reading pcap / pcapng ([`CaptureReader`], [`read_messages`])
//!
//! Legacy pcap (both byte orders, µs/ns, the "modified" variant) and pcapng (any `if_tsresol`,
//! `if_tsoffset`, several sections/interfaces), parsed with `pcap-parser`; link types Ethernet,
//! Linux cooked SLL and SLL2 (`tcpdump -i any`), raw IPv4/IPv6, BSD NULL/LOOP; IPv4 and IPv6;
//! UDP and TCP, decoded with `etherparse`. TCP is reassembled per flow by sequence number
//! ([`TcpReassembler`]: retransmissions and overlaps trimmed, out-of-order segments held up to a
//! bound — 1 MiB per flow by default — then the hole is given up and reported as
//! [`CapturedMessage::lost_before`]). Output: one [`CapturedMessage`] `{timestamp (UTC, ns),
//! transport, src, dst, bytes, lost_before, offset}` per UDP datagram or per in-order TCP chunk,
//! in capture order. Frames that are not UDP/TCP over IP are counted in [`ReadStats::skipped`].
//! The reader works on a byte slice; [`read_file`] is the only file access.
//!
//! ```no_run
//! # fn main() -> Result<(), trilink_capture::CaptureError> {
//! use trilink_capture::{read_file, CaptureReader};
//! let path = std::path::Path::new("traffic.pcapng");
//! let bytes = read_file(path)?;
//! for msg in CaptureReader::new(path.display().to_string(), &bytes) {
//!     let msg = msg?; // a CaptureError names the file, the byte offset and the reason
//!     println!("{} {:?} {} -> {} {} bytes", msg.timestamp, msg.transport, msg.src, msg.dst, msg.bytes.len());
//! }
//! # Ok(()) }
//! ```
//!
//! ## Decoding national traffic ([`CaptureMap`], [`CaptureDecoder`], [`NationDecoder`])
//!
//! A [`CaptureMap`] (serde: `entries = [{nation, transport, port, framing}]`) says which
//! (transport, port) carries which nation and how it is framed ([`Framing::Datagram`]: exactly
//! one frame per UDP datagram (JP, US over UDP); [`Framing::Stream`]: a TCP byte stream (US
//! SIMPLE over TCP); [`Framing::Mqtt`]: an MQTT 3.1.1 session whose PUBLISH payloads are one
//! frame each (KR)). Both go through the schema's one framer, as the adapter runtime does.
//! [`NationDecoder<C>`] is generic over [`trilink_schema::NationalCodec`] and yields
//! [`NationalMessage`]s (frame, exact raw bytes, capture timestamp, flow, MQTT topic).
//! [`CaptureDecoder`] holds one decoder per nation (`.with_codec(JpCodec)…`) and yields
//! [`DecodedRecord`]s whose `envelope` is `to_common(frame, capture timestamp)`. Bad frames are
//! [`FrameError`]s (with the codec's reason code) and decoding continues; `finish()` reports a
//! frame cut off by the end of the capture.
//!
//! [`national_map`] is the map of the captures `trilink scenario` generates (ports in
//! [`national`]).
//!
//! ## Writing pcapng ([`PcapngWriter`])
//!
//! In memory ([`PcapngWriter::drain`] hands over the bytes so far, for a recorder appending to a
//! file): Ethernet/IPv4-or-IPv6 frames with checksums, nanosecond timestamps, UDP datagrams
//! ([`PcapngWriter::udp`]), TCP streams with a handshake and consistent sequence numbers
//! ([`PcapngWriter::tcp`], [`PcapngWriter::tcp_close`]), and MQTT PUBLISH QoS 1 with
//! CONNECT/CONNACK/PUBACK ([`PcapngWriter::mqtt_publish`]) — tshark dissects all of it without
//! expert warnings. [`PcapngWriter::message`] writes a [`CapturedMessage`] back.
//!
//! ## JSON Lines of envelopes ([`JsonlRecord`], [`JsonlReader`], [`write_jsonl`])
//!
//! `{"ts": "<RFC 3339 with 9 fractional digits>Z", "subject": "tl.…", "envelope": {…}}` per
//! line; strict reading (see [`jsonl`]), a trailing newline optional.
//!
//! ## Replay planning ([`Scheduler`], [`TimingErrors`], [`ReplayFilter`])
//!
//! Pure helpers: due instants for a [`Speed`] (factor or max; `restart` for `--loop`),
//! send-time error percentiles for the summary, and filters by nation, kind and time window.
//!
//! ## Replay rewriting ([`Rewrite`], [`Retime`], [`FrameRewriter`], [`rewrite_envelope`])
//!
//! Mode rewriting (a recorded real-world warning replayed as an exercise) and retiming (the
//! recorded intervals kept, the first message moved to now) of national frames — decoded,
//! rewritten through [`trilink_schema::ReplayRewrite`] and re-encoded by the nation's codec —
//! and of envelopes. See [`rewrite`].
//!
//! ## Errors
//!
//! [`CaptureError`] `{file, offset, kind}` displays as `"<file>: at byte offset <n>: <reason>"`;
//! [`CaptureError::code`] is a stable reason (`unknown_format`, `truncated`, `corrupt`,
//! `unsupported_link_type`, `bad_jsonl`, `write`, `io`). Nothing here panics on input.
//!
//! ## What this crate must not do
//!
//! No network I/O, no async runtime, no clocks ("now" is passed in), no NATS or MQTT
//! connections (those belong to `trilink-runtime` and `trilink-replay`), no national-format knowledge
//! beyond calling a [`NationalCodec`](trilink_schema::NationalCodec), and no silent loss: every
//! skipped frame, stream gap or undecodable frame is counted or reported.

#![forbid(unsafe_code)]

pub mod container;
pub mod decode;
pub mod error;
pub mod jsonl;
pub mod link;
pub mod national;
pub mod reader;
pub mod rewrite;
pub mod schedule;
pub mod tcp;
pub mod writer;

pub use container::{CaptureFormat, PacketIter, RawPacket};
pub use decode::{
    CaptureDecoder, CaptureMap, DecodedRecord, ErasedDecoder, FrameError, Framing, MapEntry,
    NationDecoder, NationalMessage,
};
pub use error::{CaptureError, CaptureErrorKind};
pub use jsonl::{JsonlReader, JsonlRecord, check_nats_subject, read_jsonl, write_jsonl};
pub use link::{SkipReason, Transport};
pub use national::national_map;
pub use reader::{CaptureReader, CapturedMessage, ReadStats, read_file, read_messages};
pub use rewrite::{FrameRewriter, Retime, Rewrite, RewriteError, Rewritten, rewrite_envelope};
pub use schedule::{BadSpeed, ReplayFilter, Scheduler, Speed, TimingErrors, TimingSummary};
pub use tcp::{FlowKey, TcpChunk, TcpReassembler};
pub use writer::PcapngWriter;
