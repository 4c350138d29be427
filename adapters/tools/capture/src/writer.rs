//! pcapng writing (sans-IO: bytes accumulate in memory; the caller writes them out).
//!
//! Every packet is an Ethernet II / IPv4-or-IPv6 / UDP-or-TCP frame built with etherparse
//! (checksums computed), on one interface with `if_tsresol = 9` (nanoseconds). TCP flows get a
//! SYN / SYN-ACK / ACK handshake the first time they are used and consistent sequence and
//! acknowledgement numbers afterwards, so Wireshark/tshark reassemble them. MQTT (KR national
//! traffic) is written as a real MQTT 3.1.1 session on the TCP flow: CONNECT / CONNACK once, then
//! PUBLISH (QoS 1) / PUBACK per message, encoded with `rumqttc::mqttbytes::v4`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use etherparse::PacketBuilder;
use pcap_parser::pcapng::{
    EnhancedPacketBlock, InterfaceDescriptionBlock, OptionCode, PcapNGOption, SectionHeaderBlock,
};
use pcap_parser::{Linktype, ToVec};
use rumqttc::mqttbytes::QoS;
use rumqttc::mqttbytes::v4::{ConnAck, Connect, ConnectReturnCode, PubAck, Publish};

use crate::decode::DecodedRecord;
use crate::error::{CaptureError, CaptureErrorKind};
use crate::link::Transport;
use crate::reader::CapturedMessage;

/// Name used for the writer in [`CaptureError::file`].
pub const WRITER_NAME: &str = "<pcapng writer>";

/// Largest TCP payload per written segment (an Ethernet MSS).
pub const TCP_MSS: usize = 1460;

/// Largest UDP payload the writer accepts (IPv4 limit).
pub const MAX_UDP_PAYLOAD: usize = 65_507;

#[derive(Debug, Clone, Copy)]
struct Conn {
    /// Next sequence number client → server.
    next_c: u32,
    /// Next sequence number server → client.
    next_s: u32,
}

#[derive(Debug, Clone, Copy)]
struct MqttSession {
    next_pkid: u16,
}

/// Builds a pcapng capture in memory.
pub struct PcapngWriter {
    /// The pcapng file so far (little-endian blocks).
    inner: Vec<u8>,
    /// Connections keyed by (client, server).
    conns: HashMap<(SocketAddr, SocketAddr), Conn>,
    mqtt: HashMap<(SocketAddr, SocketAddr), MqttSession>,
    packets: u64,
}

impl std::fmt::Debug for PcapngWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapngWriter")
            .field("bytes", &self.inner.len())
            .field("packets", &self.packets)
            .finish_non_exhaustive()
    }
}

fn werr(at: usize, detail: impl Into<String>) -> CaptureError {
    CaptureError::new(
        WRITER_NAME,
        at as u64,
        CaptureErrorKind::Write(detail.into()),
    )
}

fn mac_for(ip: IpAddr) -> [u8; 6] {
    // Locally administered unicast MAC derived from the address, stable per host.
    let o = match ip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let s = v6.octets();
            [s[12], s[13], s[14], s[15]]
        }
    };
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

fn isn_for(a: SocketAddr, b: SocketAddr) -> u32 {
    // Deterministic, different per direction and flow, far from 0 so wrapping is exercised
    // only by long flows.
    let mut h: u32 = 0x811c_9dc5;
    for byte in format!("{a}>{b}").bytes() {
        h = (h ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    h
}

/// TCP flags of one written segment.
#[derive(Debug, Clone, Copy, Default)]
#[allow(clippy::struct_excessive_bools)]
struct Flags {
    syn: bool,
    ack: bool,
    psh: bool,
    fin: bool,
}

impl PcapngWriter {
    /// A new capture: section header and one Ethernet interface with nanosecond timestamps.
    pub fn new() -> Result<Self, CaptureError> {
        let option = |code, value: &'static [u8]| PcapNGOption {
            code,
            len: u16::try_from(value.len()).unwrap_or(0),
            value: Cow::Borrowed(value),
        };
        let mut section = SectionHeaderBlock {
            block_type: 0,
            block_len1: 0,
            bom: 0,
            major_version: 1,
            minor_version: 0,
            section_len: -1,
            // shb_userappl (4)
            options: vec![option(OptionCode(4), b"trilink-capture")],
            block_len2: 0,
        };
        let mut inner = section.to_vec().map_err(|e| werr(0, format!("{e:?}")))?;
        // Serialised as given (`to_vec_raw`): `to_vec` would add an `if_tsoffset` option of 0,
        // which changes every capture's bytes for nothing.
        let options = vec![
            option(OptionCode(2), b"trilink"),   // if_name
            option(OptionCode::IfTsresol, &[9]), // nanoseconds
            option(OptionCode::EndOfOpt, &[]),
        ];
        let len = 20
            + options
                .iter()
                .map(|o| (4 + o.value.len()).next_multiple_of(4))
                .sum::<usize>();
        let len = u32::try_from(len).map_err(|_| werr(0, "interface block too long"))?;
        let idb = InterfaceDescriptionBlock {
            block_type: pcap_parser::pcapng::IDB_MAGIC,
            block_len1: len,
            linktype: Linktype::ETHERNET,
            reserved: 0,
            snaplen: 0,
            options,
            block_len2: len,
            if_tsresol: 9,
            if_tsoffset: 0,
        };
        let at = inner.len();
        inner.extend(idb.to_vec_raw().map_err(|e| werr(at, format!("{e:?}")))?);
        Ok(Self {
            inner,
            conns: HashMap::new(),
            mqtt: HashMap::new(),
            packets: 0,
        })
    }

    /// Bytes written so far (a valid pcapng file after every call).
    pub fn as_bytes(&self) -> &[u8] {
        &self.inner
    }

    /// Take the bytes written so far, leaving the buffer empty; writing continues the same
    /// file (for a recorder that appends to a file as it goes instead of holding everything).
    pub fn drain(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.inner)
    }

    /// The finished capture.
    pub fn into_bytes(self) -> Vec<u8> {
        self.inner
    }

    /// Packets written so far (including TCP handshakes and MQTT control packets).
    pub fn packets(&self) -> u64 {
        self.packets
    }

    fn write_frame(&mut self, ts: DateTime<Utc>, frame: &[u8]) -> Result<(), CaptureError> {
        let at = self.inner.len();
        let nanos = ts
            .timestamp_nanos_opt()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| werr(at, format!("timestamp {ts} is before 1970 or after 2262")))?;
        let len = u32::try_from(frame.len())
            .map_err(|_| werr(at, format!("frame of {} bytes", frame.len())))?;
        let mut epb = EnhancedPacketBlock {
            block_type: 0,
            block_len1: 0,
            if_id: 0,
            ts_high: (nanos >> 32) as u32,
            ts_low: (nanos & 0xffff_ffff) as u32,
            caplen: len,
            origlen: len,
            data: frame,
            options: vec![],
            block_len2: 0,
        };
        self.inner
            .extend(epb.to_vec().map_err(|e| werr(at, format!("{e:?}")))?);
        self.packets += 1;
        Ok(())
    }

    fn builder(
        &self,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<etherparse::PacketBuilderStep<etherparse::IpHeaders>, CaptureError> {
        let eth = PacketBuilder::ethernet2(mac_for(src.ip()), mac_for(dst.ip()));
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => Ok(eth.ipv4(s.octets(), d.octets(), 64)),
            (IpAddr::V6(s), IpAddr::V6(d)) => Ok(eth.ipv6(s.octets(), d.octets(), 64)),
            _ => Err(werr(
                self.inner.len(),
                format!("{src} and {dst} are not the same IP version"),
            )),
        }
    }

    /// Write one UDP datagram.
    pub fn udp(
        &mut self,
        ts: DateTime<Utc>,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(werr(
                self.inner.len(),
                format!(
                    "UDP payload of {} bytes exceeds {MAX_UDP_PAYLOAD}",
                    payload.len()
                ),
            ));
        }
        let b = self.builder(src, dst)?.udp(src.port(), dst.port());
        let mut frame = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut frame, payload)
            .map_err(|e| werr(self.inner.len(), e.to_string()))?;
        self.write_frame(ts, &frame)
    }

    #[allow(clippy::too_many_arguments)]
    fn tcp_segment(
        &mut self,
        ts: DateTime<Utc>,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: Flags,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        let mut b = self
            .builder(src, dst)?
            .tcp(src.port(), dst.port(), seq, 65_535);
        if flags.syn {
            b = b.syn();
        }
        if flags.ack {
            b = b.ack(ack);
        }
        if flags.psh {
            b = b.psh();
        }
        if flags.fin {
            b = b.fin();
        }
        let mut frame = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut frame, payload)
            .map_err(|e| werr(self.inner.len(), e.to_string()))?;
        self.write_frame(ts, &frame)
    }

    /// The connection `src`↔`dst`, opened (handshake written at `ts`) if new.
    /// Returns the (client, server) key.
    fn conn(
        &mut self,
        ts: DateTime<Utc>,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<(SocketAddr, SocketAddr), CaptureError> {
        if self.conns.contains_key(&(src, dst)) {
            return Ok((src, dst));
        }
        if self.conns.contains_key(&(dst, src)) {
            return Ok((dst, src));
        }
        let isn_c = isn_for(src, dst);
        let isn_s = isn_for(dst, src);
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        self.tcp_segment(ts, src, dst, isn_c, 0, syn, &[])?;
        let synack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        self.tcp_segment(ts, dst, src, isn_s, isn_c.wrapping_add(1), synack, &[])?;
        let ack = Flags {
            ack: true,
            ..Flags::default()
        };
        self.tcp_segment(
            ts,
            src,
            dst,
            isn_c.wrapping_add(1),
            isn_s.wrapping_add(1),
            ack,
            &[],
        )?;
        self.conns.insert(
            (src, dst),
            Conn {
                next_c: isn_c.wrapping_add(1),
                next_s: isn_s.wrapping_add(1),
            },
        );
        Ok((src, dst))
    }

    /// Write `payload` as the next bytes of the TCP stream `src` → `dst` (segments of at most
    /// [`TCP_MSS`] bytes; a handshake first if the connection is new).
    pub fn tcp(
        &mut self,
        ts: DateTime<Utc>,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<(), CaptureError> {
        let key = self.conn(ts, src, dst)?;
        let from_client = key.0 == src;
        let data = Flags {
            ack: true,
            psh: true,
            ..Flags::default()
        };
        for chunk in payload.chunks(TCP_MSS) {
            let Some(c) = self.conns.get(&key).copied() else {
                return Err(werr(self.inner.len(), "connection state lost"));
            };
            let (seq, ack) = if from_client {
                (c.next_c, c.next_s)
            } else {
                (c.next_s, c.next_c)
            };
            self.tcp_segment(ts, src, dst, seq, ack, data, chunk)?;
            if let Some(c) = self.conns.get_mut(&key) {
                let n = chunk.len() as u32;
                if from_client {
                    c.next_c = c.next_c.wrapping_add(n);
                } else {
                    c.next_s = c.next_s.wrapping_add(n);
                }
            }
        }
        Ok(())
    }

    /// Close the TCP connection between `src` and `dst` with a FIN from `src` (and the
    /// peer's FIN-ACK); a later write to the pair opens a new connection.
    pub fn tcp_close(
        &mut self,
        ts: DateTime<Utc>,
        src: SocketAddr,
        dst: SocketAddr,
    ) -> Result<(), CaptureError> {
        let key = if self.conns.contains_key(&(src, dst)) {
            (src, dst)
        } else if self.conns.contains_key(&(dst, src)) {
            (dst, src)
        } else {
            return Ok(());
        };
        let Some(c) = self.conns.remove(&key) else {
            return Ok(());
        };
        self.mqtt.remove(&key);
        let (seq_a, seq_b) = if key.0 == src {
            (c.next_c, c.next_s)
        } else {
            (c.next_s, c.next_c)
        };
        let finack = Flags {
            fin: true,
            ack: true,
            ..Flags::default()
        };
        self.tcp_segment(ts, src, dst, seq_a, seq_b, finack, &[])?;
        self.tcp_segment(ts, dst, src, seq_b, seq_a.wrapping_add(1), finack, &[])?;
        let ack = Flags {
            ack: true,
            ..Flags::default()
        };
        self.tcp_segment(
            ts,
            src,
            dst,
            seq_a.wrapping_add(1),
            seq_b.wrapping_add(1),
            ack,
            &[],
        )
    }

    /// Write an MQTT 3.1.1 PUBLISH (QoS 1) from `client` to `broker` on TCP, and the broker's
    /// PUBACK. The first publish on a connection is preceded by CONNECT / CONNACK. Returns the
    /// packet id used.
    pub fn mqtt_publish(
        &mut self,
        ts: DateTime<Utc>,
        client: SocketAddr,
        broker: SocketAddr,
        topic: &str,
        payload: &[u8],
    ) -> Result<u16, CaptureError> {
        let at = self.inner.len();
        if topic.is_empty() || topic.len() > 65_535 || topic.contains(['+', '#', '\0']) {
            return Err(werr(at, format!("invalid MQTT topic name {topic:?}")));
        }
        let key = (client, broker);
        if !self.mqtt.contains_key(&key) {
            let mut buf = BytesMut::new();
            Connect::new("trilink-capture")
                .write(&mut buf)
                .map_err(|e| werr(at, e.to_string()))?;
            self.tcp(ts, client, broker, &buf)?;
            buf.clear();
            ConnAck::new(ConnectReturnCode::Success, false)
                .write(&mut buf)
                .map_err(|e| werr(at, e.to_string()))?;
            self.tcp(ts, broker, client, &buf)?;
            self.mqtt.insert(key, MqttSession { next_pkid: 1 });
        }
        let pkid = self.mqtt.get(&key).map_or(1, |s| s.next_pkid);
        if let Some(s) = self.mqtt.get_mut(&key) {
            s.next_pkid = s.next_pkid.checked_add(1).unwrap_or(1);
        }
        let mut publish = Publish::new(topic, QoS::AtLeastOnce, payload);
        publish.pkid = pkid;
        let mut buf = BytesMut::new();
        publish
            .write(&mut buf)
            .map_err(|e| werr(at, e.to_string()))?;
        self.tcp(ts, client, broker, &buf)?;
        buf.clear();
        PubAck::new(pkid)
            .write(&mut buf)
            .map_err(|e| werr(at, e.to_string()))?;
        self.tcp(ts, broker, client, &buf)?;
        Ok(pkid)
    }

    /// Write a decoded national frame back on its original transport: an MQTT PUBLISH from
    /// `src` (publisher) to `dst` (broker) when it came with a topic, else a UDP datagram or
    /// the next bytes of its TCP stream. Used by `record` so that record → replay → record
    /// keeps the same frames.
    pub fn record(&mut self, r: &DecodedRecord) -> Result<(), CaptureError> {
        match (&r.topic, r.transport) {
            (Some(topic), _) => self
                .mqtt_publish(r.timestamp, r.src, r.dst, topic, &r.raw)
                .map(|_| ()),
            (None, Transport::Udp) => self.udp(r.timestamp, r.src, r.dst, &r.raw),
            (None, Transport::Tcp) => self.tcp(r.timestamp, r.src, r.dst, &r.raw),
        }
    }

    /// Write a captured message back: a UDP datagram, or the next bytes of its TCP stream.
    pub fn message(&mut self, m: &CapturedMessage) -> Result<(), CaptureError> {
        match m.transport {
            Transport::Udp => self.udp(m.timestamp, m.src, m.dst, &m.bytes),
            Transport::Tcp => self.tcp(m.timestamp, m.src, m.dst, &m.bytes),
        }
    }
}
