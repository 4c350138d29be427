//! National transports: how national bytes come in and go out.
//!
//! **Ingress** tasks ([`run_udp_in`], [`run_tcp_server_in`], [`run_tcp_client_in`],
//! [`run_mqtt_in`]) decode with the nation's codec and send each outcome as a [`Received`]
//! into a bounded channel (a full channel back-pressures the transport: UDP then drops in
//! the kernel, TCP and MQTT stop reading). Message-oriented transports (UDP datagrams, MQTT
//! publishes) decode each message with [`decode_message`]: exactly one frame per message, and
//! a message with anything after its frame is rejected whole (jp.md §1, kr.md §1, us.md §1).
//! TCP streams go through a [`StreamDecoder`], which decodes frames back to back, never
//! buffers more than the codec's `MAX_FRAME_LEN` and resyncs with `skip_after_error`.
//!
//! **Egress** sinks ([`Sink`]) send one encoded national frame and report success only when the
//! transport accepted it (UDP `send_to`, TCP `write_all`, MQTT PUBACK at QoS 1), so the
//! egress consumer acknowledges JetStream only after a successful national send.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use trilink_schema::{Decoded, Nation, NationalCodec, NationalError};

use crate::config::Invalid;
use crate::telemetry::events;
use crate::tls::{ClientTlsConfig, TlsError};

/// Errors from national transports.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A socket operation failed.
    #[error("{op} {addr}: {source}")]
    Io {
        /// What was attempted (`bind`, `connect`, `send`, …).
        op: &'static str,
        /// The address involved.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A TCP server sink has no connected national client to send to.
    #[error("no national client connected to {0}")]
    NoPeer(String),
    /// The MQTT client failed.
    #[error("mqtt {topic}: {message}")]
    Mqtt {
        /// The topic.
        topic: String,
        /// What went wrong.
        message: String,
    },
    /// The transport did not confirm the send in time.
    #[error("{0}: no confirmation within {1:?}")]
    Timeout(String, Duration),
    /// The TLS configuration of an endpoint could not be loaded (the endpoint is not
    /// started: a transport configured for TLS never falls back to plaintext).
    #[error("TLS for {endpoint}: {source}")]
    Tls {
        /// The endpoint (`mqtt://host:port`).
        endpoint: String,
        /// What is wrong, with the key at fault.
        source: TlsError,
    },
}

fn io_err(op: &'static str, addr: &impl ToString) -> impl FnOnce(std::io::Error) -> TransportError {
    let addr = addr.to_string();
    move |source| TransportError::Io { op, addr, source }
}

/// Completion signal for one [`Received`]: the adapter sends `()` once the input is safely
/// stored (JetStream ack) or dead-lettered; a transport that can acknowledge its peer (MQTT
/// QoS 1) waits for it before acknowledging, so nothing is lost if the adapter dies.
pub type Settle = oneshot::Sender<()>;

/// One decoded (or undecodable) national message with its receive time.
#[derive(Debug)]
pub struct Received<F> {
    /// Transport label (`udp:0.0.0.0:7000`, `tcp:10.0.0.5:9000`, `mqtt:kr/out`).
    pub transport: Arc<str>,
    /// When the bytes were read from the socket.
    pub received_at: DateTime<Utc>,
    /// The bytes of this frame (or the bytes skipped on an error).
    pub raw: Bytes,
    /// The frame, or the codec's reason code and message.
    pub outcome: Result<F, Rejected>,
    /// Signal to send once the input is stored or dead-lettered (none: nobody waits).
    pub settle: Option<Settle>,
}

/// How many bytes of an `oversize` message its dead letter keeps.
pub const OVERSIZE_KEEP: usize = 1024;

/// Largest MQTT packet the national-side MQTT client accepts (16 MiB). Far above any national
/// frame, so an oversize publish arrives, is dead-lettered as `oversize` and acknowledged —
/// rather than refused by the client, which would drop the connection and have the broker
/// redeliver the same publish forever (a poison pill). Configure the national broker's
/// `message_size_limit` below it (deploy/etc/mosquitto/trilink-kr.conf).
pub const MQTT_MAX_INCOMING_PACKET: usize = 16 << 20;

/// Why national bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Stable reason code (the codec's `code()`, or `truncated` / `oversize` from the runtime).
    pub code: &'static str,
    /// Human-readable detail.
    pub detail: String,
}

impl Rejected {
    fn from_codec<E: NationalError>(e: &E) -> Self {
        Self {
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

/// Decode one self-delimited message (a UDP datagram, an MQTT payload) with
/// [`NationalCodec::decode_message`]: exactly one frame per message, as every national spec
/// requires. The result carries the **whole** message as its raw bytes: on success the frame's
/// bytes, on a rejection everything that was received, so the dead letter holds the message as
/// it arrived. A message with anything after its frame (garbage, a second frame) is rejected
/// whole with the codec's trailing code (`trailing_bytes` for JP and US, `trailing_data` for
/// KR) and its frame is not delivered; a message that ends inside a frame is `truncated`.
///
/// A message longer than the format's largest frame (`C::MAX_FRAME_LEN`) is rejected as
/// `oversize` without decoding, and only its first [`OVERSIZE_KEEP`] bytes are kept for the
/// dead letter (a dead letter must fit a NATS message; the detail names the full length).
pub fn decode_message<C: NationalCodec>(codec: &C, msg: &Bytes) -> StreamItem<C::Frame> {
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

/// Splits a byte stream into frames with a [`NationalCodec`].
///
/// Bytes are appended with [`extend`](Self::extend) (or read into [`read_buf`](Self::read_buf));
/// [`next_item`](Self::next_item) returns frames, rejections (with the skipped bytes), or `None` when
/// more bytes are needed. The buffer never holds more than `C::MAX_FRAME_LEN` bytes of an
/// incomplete frame: a codec asking for more than that is answered with an `oversize`
/// rejection and a resync.
#[derive(Debug)]
pub struct StreamDecoder<C: NationalCodec> {
    codec: Arc<C>,
    buf: BytesMut,
}

/// One item from a [`StreamDecoder`].
pub type StreamItem<F> = Result<(F, Bytes), (Rejected, Bytes)>;

impl<C: NationalCodec> StreamDecoder<C> {
    /// A decoder over `codec`.
    pub fn new(codec: Arc<C>) -> Self {
        Self {
            codec,
            buf: BytesMut::with_capacity(C::MAX_FRAME_LEN.min(64 * 1024)),
        }
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// How many bytes may be read into the buffer now without exceeding `MAX_FRAME_LEN`
    /// (at least 1 once [`next_item`](Self::next_item) returned `None`).
    pub fn room(&self) -> usize {
        C::MAX_FRAME_LEN.saturating_sub(self.buf.len())
    }

    /// Append bytes. Callers should not append more than [`room`](Self::room) at a time.
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Read from `r` into the buffer, at most [`room`](Self::room) bytes. Returns the number
    /// read (0 = end of stream).
    pub async fn read_buf<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        r: &mut R,
    ) -> std::io::Result<usize> {
        let room = self.room().max(1);
        let mut limited = (&mut *r).take(room as u64);
        limited.read_buf(&mut self.buf).await
    }

    /// The next frame or rejection, or `None` when more bytes are needed.
    pub fn next_item(&mut self) -> Option<StreamItem<C::Frame>> {
        if self.buf.is_empty() {
            return None;
        }
        match self.codec.decode(&self.buf) {
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
                    let skip = self.skip_len();
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
                let skip = self.skip_len();
                let raw = self.buf.split_to(skip).freeze();
                Some(Err((rej, raw)))
            }
        }
    }

    fn skip_len(&self) -> usize {
        self.codec
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

/// Exponential backoff with a ceiling.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Start at `initial`, double up to `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max,
            current: initial,
        }
    }
    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        d
    }
    /// Back to the initial delay (after a success).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(5))
    }
}

// ---------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------

/// UDP receive socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpInConfig {
    /// Local address to bind (`0.0.0.0:7000`; use the group's port for multicast).
    pub bind: SocketAddr,
    /// IPv4 multicast group to join.
    #[serde(default)]
    pub multicast_group: Option<Ipv4Addr>,
    /// Interface address for the multicast join (default `0.0.0.0`: the kernel chooses).
    #[serde(default)]
    pub multicast_interface: Option<Ipv4Addr>,
    /// Kernel receive buffer size in bytes.
    #[serde(default)]
    pub recv_buffer: Option<usize>,
}

/// UDP send socket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpOutConfig {
    /// Destination (unicast address or multicast group and port).
    pub target: SocketAddr,
    /// Local address to bind (default `0.0.0.0:0`).
    #[serde(default)]
    pub bind: Option<SocketAddr>,
    /// Multicast TTL (default 1).
    #[serde(default)]
    pub multicast_ttl: Option<u32>,
    /// Interface address for multicast sends.
    #[serde(default)]
    pub multicast_interface: Option<Ipv4Addr>,
    /// Whether multicast sends loop back to this host (default true, useful on one machine).
    #[serde(default = "yes")]
    pub multicast_loop: bool,
}

fn yes() -> bool {
    true
}

/// MQTT endpoint (the national system's broker).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    #[serde(default = "mqtt_port")]
    pub port: u16,
    /// Client id (must be unique on the broker; ingress and egress need different ids).
    pub client_id: String,
    /// Topic: the subscription filter for ingress, the publish topic for egress.
    pub topic: String,
    /// User name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password.
    #[serde(default)]
    pub password: Option<String>,
    /// Keep-alive in seconds.
    #[serde(default = "keep_alive")]
    pub keep_alive_s: u64,
    /// Persistent session (QoS 1 messages queued by the broker while disconnected).
    #[serde(default = "yes")]
    pub persistent_session: bool,
    /// MQTT over TLS (`[ingress.tls]`, `[egress.outputs.tls]`): trust anchors, optional client
    /// certificate, optional server name. When present the connection is TLS-only.
    #[serde(default)]
    pub tls: Option<ClientTlsConfig>,
}

fn mqtt_port() -> u16 {
    1883
}
fn keep_alive() -> u64 {
    30
}

/// Where national input comes from (`[[ingress]]` entries, tagged by `type`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum IngressConfig {
    /// UDP datagrams, exactly one frame each (a datagram with anything after its frame is
    /// dead-lettered whole).
    Udp(UdpInConfig),
    /// A TCP listener the national system connects to.
    TcpServer {
        /// Address to listen on.
        bind: SocketAddr,
    },
    /// A TCP connection the adapter makes to the national system (reconnects with backoff).
    TcpClient {
        /// Address to connect to.
        connect: SocketAddr,
    },
    /// An MQTT subscription (QoS 1).
    Mqtt(MqttConfig),
}

/// Where national output goes (`[[egress.outputs]]` entries, tagged by `type`).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputConfig {
    /// UDP datagrams, one frame each.
    Udp(UdpOutConfig),
    /// A TCP listener; frames go to every connected national client.
    TcpServer {
        /// Address to listen on.
        bind: SocketAddr,
    },
    /// A TCP connection to the national system (connected on demand).
    TcpClient {
        /// Address to connect to.
        connect: SocketAddr,
    },
    /// MQTT publish at QoS 1; a send succeeds on PUBACK.
    Mqtt(MqttConfig),
}

fn check_mqtt(key: &str, m: &MqttConfig) -> Result<(), Invalid> {
    if m.host.is_empty() {
        return Err(Invalid::new(format!("{key}.host"), "must not be empty"));
    }
    if m.client_id.is_empty() || m.client_id.len() > 23 {
        return Err(Invalid::new(
            format!("{key}.client_id"),
            "must be 1-23 characters (MQTT 3.1.1)",
        ));
    }
    if m.topic.is_empty() {
        return Err(Invalid::new(format!("{key}.topic"), "must not be empty"));
    }
    if m.keep_alive_s < 5 {
        return Err(Invalid::new(
            format!("{key}.keep_alive_s"),
            "must be at least 5",
        ));
    }
    if let Some(tls) = &m.tls {
        tls.validate(key, &m.host)?;
    }
    Ok(())
}

impl IngressConfig {
    /// Check values; `key` is this entry's path (`ingress[0]`).
    pub fn validate(&self, key: &str) -> Result<(), Invalid> {
        match self {
            IngressConfig::Udp(u) => {
                if let Some(g) = u.multicast_group
                    && !g.is_multicast()
                {
                    return Err(Invalid::new(
                        format!("{key}.multicast_group"),
                        format!("{g} is not an IPv4 multicast address"),
                    ));
                }
                Ok(())
            }
            IngressConfig::Mqtt(m) => {
                check_mqtt(key, m)?;
                if m.topic.contains('+') && m.topic.contains('#') && !m.topic.ends_with('#') {
                    return Err(Invalid::new(format!("{key}.topic"), "`#` must be last"));
                }
                Ok(())
            }
            IngressConfig::TcpServer { .. } | IngressConfig::TcpClient { .. } => Ok(()),
        }
    }

    /// Label used in metrics and dead-letter headers.
    pub fn label(&self) -> String {
        match self {
            IngressConfig::Udp(u) => match u.multicast_group {
                Some(g) => format!("udp:{g}:{}", u.bind.port()),
                None => format!("udp:{}", u.bind),
            },
            IngressConfig::TcpServer { bind } => format!("tcp-server:{bind}"),
            IngressConfig::TcpClient { connect } => format!("tcp-client:{connect}"),
            IngressConfig::Mqtt(m) => format!("mqtt:{}", m.topic),
        }
    }
}

impl OutputConfig {
    /// Check values; `key` is this entry's path (`egress.outputs[0]`).
    pub fn validate(&self, key: &str) -> Result<(), Invalid> {
        match self {
            OutputConfig::Mqtt(m) => {
                check_mqtt(key, m)?;
                if m.topic.contains(['+', '#']) {
                    return Err(Invalid::new(
                        format!("{key}.topic"),
                        "a publish topic cannot contain wildcards",
                    ));
                }
                Ok(())
            }
            OutputConfig::Udp(u) => {
                if u.target.port() == 0 {
                    return Err(Invalid::new(format!("{key}.target"), "port must not be 0"));
                }
                Ok(())
            }
            OutputConfig::TcpServer { .. } | OutputConfig::TcpClient { .. } => Ok(()),
        }
    }

    /// Label used in metrics.
    pub fn label(&self) -> String {
        match self {
            OutputConfig::Udp(u) => format!("udp:{}", u.target),
            OutputConfig::TcpServer { bind } => format!("tcp-server:{bind}"),
            OutputConfig::TcpClient { connect } => format!("tcp-client:{connect}"),
            OutputConfig::Mqtt(m) => format!("mqtt:{}", m.topic),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Ingress
// ---------------------------------------------------------------------------------------

/// Channel sender for decoded input.
pub type InboundTx<F> = mpsc::Sender<Received<F>>;

async fn forward<F>(
    tx: &InboundTx<F>,
    label: &Arc<str>,
    received_at: DateTime<Utc>,
    items: impl IntoIterator<Item = StreamItem<F>>,
) -> bool {
    forward_settled(tx, label, received_at, items, &mut Vec::new()).await
}

/// Like `forward`, attaching a settle signal to each item when `settles` is to be filled.
async fn forward_settled<F>(
    tx: &InboundTx<F>,
    label: &Arc<str>,
    received_at: DateTime<Utc>,
    items: impl IntoIterator<Item = StreamItem<F>>,
    settles: &mut Vec<oneshot::Receiver<()>>,
) -> bool {
    let want = settles.capacity() > 0;
    for item in items {
        let settle = if want {
            let (s, r) = oneshot::channel();
            settles.push(r);
            Some(s)
        } else {
            None
        };
        let r = match item {
            Ok((frame, raw)) => Received {
                transport: label.clone(),
                received_at,
                raw,
                outcome: Ok(frame),
                settle,
            },
            Err((rej, raw)) => Received {
                transport: label.clone(),
                received_at,
                raw,
                outcome: Err(rej),
                settle,
            },
        };
        if tx.send(r).await.is_err() {
            return false;
        }
    }
    true
}

/// Bind a UDP receive socket (address reuse, optional multicast join, buffer size).
pub fn bind_udp_in(cfg: &UdpInConfig) -> Result<UdpSocket, TransportError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = cfg.bind;
    let e = |op| io_err(op, &addr);
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(e("socket"))?;
    if cfg.multicast_group.is_some() {
        sock.set_reuse_address(true).map_err(e("reuse_address"))?;
    }
    if let Some(n) = cfg.recv_buffer {
        sock.set_recv_buffer_size(n).map_err(e("recv_buffer"))?;
    }
    sock.set_nonblocking(true).map_err(e("nonblocking"))?;
    sock.bind(&addr.into()).map_err(e("bind"))?;
    if let Some(group) = cfg.multicast_group {
        let iface = cfg.multicast_interface.unwrap_or(Ipv4Addr::UNSPECIFIED);
        sock.join_multicast_v4(&group, &iface)
            .map_err(e("join_multicast"))?;
    }
    UdpSocket::from_std(sock.into()).map_err(e("register"))
}

/// Receive datagrams until `shutdown`; each is decoded with [`decode_message`] (one frame
/// per datagram).
pub async fn run_udp_in<C: NationalCodec>(
    sock: UdpSocket,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0_u8; 65_536];
    // Datagrams the kernel dropped because the socket buffer was full never reach recv: read
    // the socket's drop counter (/proc/net/udp{,6}) every second and count the difference.
    let inode = socket_inode(&sock);
    let mut drops_seen = inode.and_then(kernel_drops).unwrap_or(0);
    let mut drop_tick = tokio::time::interval(Duration::from_secs(1));
    drop_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let got = tokio::select! {
            () = shutdown.cancelled() => {
                count_kernel_drops(C::NATION, &label, inode, &mut drops_seen);
                return;
            }
            _ = drop_tick.tick() => {
                count_kernel_drops(C::NATION, &label, inode, &mut drops_seen);
                continue;
            }
            r = sock.recv_from(&mut buf) => r,
        };
        match got {
            Ok((n, _peer)) => {
                let received_at = Utc::now();
                events::received(C::NATION, &label, n);
                let msg = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                let item = decode_message(codec.as_ref(), &msg);
                if !forward(&tx, &label, received_at, [item]).await {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(transport = %label, error = %e, "udp receive failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

fn count_kernel_drops(site: Nation, label: &str, inode: Option<u64>, seen: &mut u64) {
    if let Some(now) = inode.and_then(kernel_drops)
        && now > *seen
    {
        events::udp_kernel_drops(site, label, now - *seen);
        *seen = now;
    }
}

/// The inode of a socket (what `/proc/net/udp` lists it by).
pub fn socket_inode(sock: &impl std::os::fd::AsRawFd) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(format!("/proc/self/fd/{}", sock.as_raw_fd()))
        .ok()
        .map(|m| m.ino())
}

/// The kernel's count of datagrams dropped on the UDP socket with `inode` (receive buffer
/// full), from `/proc/net/udp` and `/proc/net/udp6`; `None` when not found (not Linux).
pub fn kernel_drops(inode: u64) -> Option<u64> {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .find_map(|text| udp_drops_in(&text, inode))
}

/// The `drops` column of the line of `/proc/net/udp` text whose inode is `inode`.
pub fn udp_drops_in(proc_net_udp: &str, inode: u64) -> Option<u64> {
    proc_net_udp.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        if cols.get(9)?.parse::<u64>().ok()? == inode {
            cols.get(12)?.parse().ok()
        } else {
            None
        }
    })
}

async fn read_stream<C: NationalCodec>(
    mut stream: TcpStream,
    codec: Arc<C>,
    label: &Arc<str>,
    tx: &InboundTx<C::Frame>,
    shutdown: &CancellationToken,
) -> Result<(), std::io::Error> {
    let mut dec = StreamDecoder::new(codec);
    loop {
        let n = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            r = dec.read_buf(&mut stream) => r?,
        };
        let received_at = Utc::now();
        if n == 0 {
            if let Some(rest) = dec.finish() {
                forward(tx, label, received_at, [Err(rest)]).await;
            }
            return Ok(());
        }
        let mut items = Vec::new();
        while let Some(item) = dec.next_item() {
            items.push(item);
        }
        for _ in items.iter().filter(|i| i.is_ok()) {
            events::received(C::NATION, label, n);
        }
        if !forward(tx, label, received_at, items).await {
            return Ok(());
        }
    }
}

/// Accept national clients and read frames from each until `shutdown`.
pub async fn run_tcp_server_in<C: NationalCodec + Send + Sync + 'static>(
    listener: TcpListener,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    loop {
        let acc = tokio::select! {
            () = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        match acc {
            Ok((stream, peer)) => {
                tracing::info!(transport = %label, %peer, "national client connected");
                let (codec, label, tx, sd) =
                    (codec.clone(), label.clone(), tx.clone(), shutdown.clone());
                tokio::spawn(async move {
                    if let Err(e) = read_stream(stream, codec, &label, &tx, &sd).await {
                        tracing::warn!(transport = %label, %peer, error = %e, "national client read failed");
                    }
                    tracing::info!(transport = %label, %peer, "national client disconnected");
                });
            }
            Err(e) => {
                tracing::warn!(transport = %label, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Connect to the national system and read frames; reconnect with backoff until `shutdown`.
pub async fn run_tcp_client_in<C: NationalCodec>(
    addr: SocketAddr,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        let conn = tokio::select! {
            () = shutdown.cancelled() => return,
            c = TcpStream::connect(addr) => c,
        };
        let err = match conn {
            Ok(stream) => {
                backoff.reset();
                events::connected(C::NATION, &label);
                let _ = stream.set_nodelay(true);
                tracing::info!(transport = %label, "connected to national system");
                match read_stream(stream, codec.clone(), &label, &tx, &shutdown).await {
                    Ok(()) => String::from("connection closed"),
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        if shutdown.is_cancelled() || tx.is_closed() {
            return;
        }
        events::reconnect(C::NATION, &label, &err);
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
}

/// rumqttc options for `m`; with a `tls` table the transport is TLS (rustls), never TCP.
fn mqtt_options(m: &MqttConfig) -> Result<rumqttc::MqttOptions, TransportError> {
    let mut o = rumqttc::MqttOptions::new(m.client_id.clone(), m.host.clone(), m.port);
    o.set_keep_alive(Duration::from_secs(m.keep_alive_s));
    o.set_clean_session(!m.persistent_session);
    o.set_max_packet_size(MQTT_MAX_INCOMING_PACKET, 1 << 20);
    if let (Some(u), Some(p)) = (&m.username, &m.password) {
        o.set_credentials(u.clone(), p.clone());
    }
    if let Some(tls) = &m.tls {
        let config = tls
            .client_config(&m.host)
            .map_err(|source| TransportError::Tls {
                endpoint: format!("mqtt://{}:{}", m.host, m.port),
                source,
            })?;
        o.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Rustls(config),
        ));
    }
    Ok(o)
}

/// An MQTT subscription ready to run with [`run_mqtt_in`]: the client options are built and
/// the TLS files (if any) loaded, so a bad TLS setup stops the adapter at startup instead of
/// leaving an ingress that can never connect.
#[derive(Debug, Clone)]
pub struct MqttIn {
    options: rumqttc::MqttOptions,
    topic: String,
    tls: bool,
}

impl MqttIn {
    /// Build the client options for `cfg` (reads the TLS files).
    pub fn new(cfg: &MqttConfig) -> Result<Self, TransportError> {
        Ok(Self {
            options: mqtt_options(cfg)?,
            topic: cfg.topic.clone(),
            tls: cfg.tls.is_some(),
        })
    }
}

/// Subscribe at QoS 1 and decode every publish until `shutdown`. The rumqttc event loop
/// reconnects by itself; the subscription is renewed on every CONNACK. Acknowledgements are
/// manual: a publish is acknowledged to the broker only after every frame in it was stored by
/// JetStream or dead-lettered (see [`Settle`]).
pub async fn run_mqtt_in<C: NationalCodec>(
    cfg: MqttIn,
    codec: Arc<C>,
    label: Arc<str>,
    tx: InboundTx<C::Frame>,
    shutdown: CancellationToken,
) {
    use rumqttc::{Event, Packet, QoS};
    let mut opts = cfg.options;
    opts.set_manual_acks(true);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(opts, 64);
    let mut backoff = Backoff::default();
    loop {
        let ev = tokio::select! {
            () = shutdown.cancelled() => {
                let _ = client.try_disconnect();
                return;
            }
            ev = eventloop.poll() => ev,
        };
        match ev {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                events::connected(C::NATION, &label);
                tracing::info!(transport = %label, tls = cfg.tls, "mqtt connected; subscribing");
                if let Err(e) = client.try_subscribe(cfg.topic.clone(), QoS::AtLeastOnce) {
                    tracing::warn!(transport = %label, error = %e, "mqtt subscribe failed");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let received_at = Utc::now();
                events::received(C::NATION, &label, p.payload.len());
                let item = decode_message(codec.as_ref(), &p.payload);
                let mut settles = Vec::with_capacity(1);
                if !forward_settled(&tx, &label, received_at, [item], &mut settles).await {
                    return;
                }
                // PUBACK only once the publish (its one frame, or the whole publish as a
                // rejection) is stored or dead-lettered; if the adapter dies first, the broker
                // redelivers (persistent session) and JetStream removes the duplicate.
                let c = client.clone();
                tokio::spawn(async move {
                    for r in settles {
                        if r.await.is_err() {
                            return;
                        }
                    }
                    if let Err(e) = c.ack(&p).await {
                        tracing::debug!(error = %e, "mqtt ack not sent");
                    }
                });
            }
            Ok(_) => {}
            Err(e) => {
                events::reconnect(C::NATION, &label, &e.to_string());
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Egress
// ---------------------------------------------------------------------------------------

/// A national output.
#[derive(Debug)]
pub enum Sink {
    /// UDP, one frame per datagram.
    Udp {
        /// The socket.
        sock: UdpSocket,
        /// Destination.
        target: SocketAddr,
    },
    /// TCP connection made on demand; dropped and remade after a failure.
    TcpClient {
        /// The national system's address.
        addr: SocketAddr,
        /// The current connection.
        conn: Mutex<Option<TcpStream>>,
    },
    /// TCP listener; frames go to every connected client.
    TcpServer {
        /// Bound address.
        local: SocketAddr,
        /// Connected clients.
        clients: Arc<Mutex<Vec<(SocketAddr, OwnedWriteHalf)>>>,
    },
    /// MQTT publisher at QoS 1.
    Mqtt(MqttSink),
}

impl Sink {
    /// Open the output described by `cfg`. Spawns background tasks (TCP accept, MQTT event
    /// loop) that stop with `shutdown`.
    pub async fn open(
        cfg: &OutputConfig,
        site: Nation,
        shutdown: CancellationToken,
    ) -> Result<Self, TransportError> {
        match cfg {
            OutputConfig::Udp(u) => {
                use socket2::{Domain, Protocol, Socket, Type};
                let bind = u
                    .bind
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                let e = |op| io_err(op, &bind);
                let domain = if bind.is_ipv4() {
                    Domain::IPV4
                } else {
                    Domain::IPV6
                };
                let sock =
                    Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(e("socket"))?;
                if u.target.ip().is_multicast() {
                    sock.set_multicast_ttl_v4(u.multicast_ttl.unwrap_or(1))
                        .map_err(e("multicast_ttl"))?;
                    sock.set_multicast_loop_v4(u.multicast_loop)
                        .map_err(e("multicast_loop"))?;
                    if let Some(i) = u.multicast_interface {
                        sock.set_multicast_if_v4(&i).map_err(e("multicast_if"))?;
                    }
                }
                sock.set_nonblocking(true).map_err(e("nonblocking"))?;
                sock.bind(&bind.into()).map_err(e("bind"))?;
                let sock = UdpSocket::from_std(sock.into()).map_err(e("register"))?;
                Ok(Sink::Udp {
                    sock,
                    target: u.target,
                })
            }
            OutputConfig::TcpClient { connect } => Ok(Sink::TcpClient {
                addr: *connect,
                conn: Mutex::new(None),
            }),
            OutputConfig::TcpServer { bind } => {
                let listener = TcpListener::bind(bind)
                    .await
                    .map_err(io_err("bind", &bind))?;
                let local = listener.local_addr().map_err(io_err("bind", &bind))?;
                let clients: Arc<Mutex<Vec<(SocketAddr, OwnedWriteHalf)>>> = Arc::default();
                let c = clients.clone();
                tokio::spawn(async move {
                    loop {
                        let acc = tokio::select! {
                            () = shutdown.cancelled() => return,
                            a = listener.accept() => a,
                        };
                        match acc {
                            Ok((stream, peer)) => {
                                let _ = stream.set_nodelay(true);
                                let (_r, w) = stream.into_split();
                                tracing::info!(%site, %peer, "national client connected to egress listener");
                                c.lock().await.push((peer, w));
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "egress accept failed");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                });
                Ok(Sink::TcpServer { local, clients })
            }
            OutputConfig::Mqtt(m) => Ok(Sink::Mqtt(MqttSink::start(m, site, shutdown)?)),
        }
    }

    /// Bound local address of a TCP server sink (for tests using port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Sink::TcpServer { local, .. } => Some(*local),
            Sink::Udp { sock, .. } => sock.local_addr().ok(),
            _ => None,
        }
    }

    /// Send one national frame; `Ok` only when the transport accepted it.
    pub async fn send(&self, frame: &[u8]) -> Result<(), TransportError> {
        match self {
            Sink::Udp { sock, target } => {
                sock.send_to(frame, target)
                    .await
                    .map_err(io_err("send", &target))?;
                Ok(())
            }
            Sink::TcpClient { addr, conn } => {
                let mut guard = conn.lock().await;
                if guard.is_none() {
                    let s = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr))
                        .await
                        .map_err(|_| {
                            TransportError::Timeout(
                                format!("connect {addr}"),
                                Duration::from_secs(2),
                            )
                        })?
                        .map_err(io_err("connect", &addr))?;
                    let _ = s.set_nodelay(true);
                    *guard = Some(s);
                }
                let Some(stream) = guard.as_mut() else {
                    return Err(TransportError::NoPeer(addr.to_string()));
                };
                if let Err(e) = stream.write_all(frame).await {
                    *guard = None;
                    return Err(io_err("send", &addr)(e));
                }
                Ok(())
            }
            Sink::TcpServer { local, clients } => {
                let mut list = clients.lock().await;
                let mut ok = 0_usize;
                let mut i = 0;
                while i < list.len() {
                    let failed = match list.get_mut(i) {
                        Some((_, w)) => w.write_all(frame).await.is_err(),
                        None => break,
                    };
                    if failed {
                        let (peer, _) = list.swap_remove(i);
                        tracing::info!(%peer, "national client dropped from egress listener");
                    } else {
                        ok += 1;
                        i += 1;
                    }
                }
                if ok == 0 {
                    return Err(TransportError::NoPeer(local.to_string()));
                }
                Ok(())
            }
            Sink::Mqtt(m) => m.send(frame).await,
        }
    }
}

/// MQTT publisher whose [`send`](Self::send) completes on the broker's PUBACK.
#[derive(Debug)]
pub struct MqttSink {
    client: rumqttc::AsyncClient,
    topic: String,
    track: Arc<std::sync::Mutex<PubTrack>>,
    order: Mutex<()>,
    confirm_timeout: Duration,
}

#[derive(Debug, Default)]
struct PubTrack {
    queued: VecDeque<oneshot::Sender<()>>,
    by_pkid: HashMap<u16, oneshot::Sender<()>>,
}

impl MqttSink {
    fn start(
        cfg: &MqttConfig,
        site: Nation,
        shutdown: CancellationToken,
    ) -> Result<Self, TransportError> {
        use rumqttc::{Event, Outgoing, Packet};
        let (client, mut eventloop) = rumqttc::AsyncClient::new(mqtt_options(cfg)?, 64);
        let tls = cfg.tls.is_some();
        let track: Arc<std::sync::Mutex<PubTrack>> = Arc::default();
        let t = track.clone();
        let label = format!("mqtt:{}", cfg.topic);
        let c2 = client.clone();
        tokio::spawn(async move {
            let mut backoff = Backoff::default();
            loop {
                let ev = tokio::select! {
                    () = shutdown.cancelled() => {
                        let _ = c2.try_disconnect();
                        return;
                    }
                    ev = eventloop.poll() => ev,
                };
                match ev {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        backoff.reset();
                        events::connected(site, &label);
                        tracing::info!(transport = %label, tls, "mqtt output connected");
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Ok(mut tr) = t.lock()
                            && !tr.by_pkid.contains_key(&pkid)
                            && let Some(tx) = tr.queued.pop_front()
                        {
                            tr.by_pkid.insert(pkid, tx);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Ok(mut tr) = t.lock()
                            && let Some(tx) = tr.by_pkid.remove(&ack.pkid)
                        {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        events::reconnect(site, &label, &e.to_string());
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            () = tokio::time::sleep(backoff.next_delay()) => {}
                        }
                    }
                }
            }
        });
        Ok(Self {
            client,
            topic: cfg.topic.clone(),
            track,
            order: Mutex::new(()),
            confirm_timeout: Duration::from_secs(10),
        })
    }

    /// Publish at QoS 1 and wait for the PUBACK.
    pub async fn send(&self, frame: &[u8]) -> Result<(), TransportError> {
        let (tx, rx) = oneshot::channel();
        {
            // Queue order must equal publish order: the event loop pairs them FIFO.
            let _order = self.order.lock().await;
            if let Ok(mut tr) = self.track.lock() {
                tr.queued.push_back(tx);
            }
            self.client
                .publish(
                    self.topic.clone(),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    frame.to_vec(),
                )
                .await
                .map_err(|e| TransportError::Mqtt {
                    topic: self.topic.clone(),
                    message: e.to_string(),
                })?;
        }
        match tokio::time::timeout(self.confirm_timeout, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(TransportError::Mqtt {
                topic: self.topic.clone(),
                message: "publish tracking dropped".into(),
            }),
            Err(_) => Err(TransportError::Timeout(
                format!("mqtt publish {}", self.topic),
                self.confirm_timeout,
            )),
        }
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

#[cfg(test)]
mod udp_drop_tests {
    use super::udp_drops_in;

    #[test]
    fn reads_the_drops_column_of_the_socket_by_inode() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  123: 0100007F:4E21 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 555001 2 0000000000000000 0
  124: 0100007F:4E22 00000000:0000 07 00000000:00002100 00:00000000 00000000     0        0 555002 2 0000000000000000 29328
";
        assert_eq!(udp_drops_in(text, 555_002), Some(29_328));
        assert_eq!(udp_drops_in(text, 555_001), Some(0));
        assert_eq!(udp_drops_in(text, 1), None);
        assert_eq!(udp_drops_in("garbage\nonly", 1), None);
    }
}
