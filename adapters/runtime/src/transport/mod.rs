//! National transports: how national bytes come in and go out.
//!
//! **Ingress** tasks ([`run_udp_in`], [`run_tcp_server_in`], [`run_tcp_client_in`],
//! [`run_mqtt_in`]) decode with the nation's codec and send each outcome as a [`Received`]
//! into a bounded channel (a full channel back-pressures the transport: UDP then drops in
//! the kernel, TCP and MQTT stop reading). Message-oriented transports (UDP datagrams, MQTT
//! publishes) decode each message with [`decode_message`]: exactly one frame per message, and
//! a message with anything after its frame is rejected whole (jp.md §1, kr.md §1, us.md §1).
//! TCP streams go through a [`StreamDecoder`], which decodes frames back to back, never
//! buffers more than the codec's `MAX_FRAME_LEN` and resyncs with `skip_after_error` (both are
//! the schema's one framer, [`trilink_schema::framing`]).
//!
//! One file per transport: [`udp`] (receive socket, kernel drop counter),
//! [`tcp`] (server and client ingress), [`mqtt`] (subscription ingress
//! and the QoS 1 publisher sink); [`config`] holds the `[[ingress]]` and
//! `[[egress.outputs]]` tables, [`stream`] the framing entry points and
//! [`sink`] the output enum over the transports.
//!
//! **Egress** sinks ([`Sink`]) send one encoded national frame and report success only when the
//! transport accepted it (UDP `send_to`, TCP `write_all`, MQTT PUBACK at QoS 1), so the
//! egress consumer acknowledges JetStream only after a successful national send. The send is
//! split in two ([`Sink::start`], then [`Pending::confirm`]) so that the egress can keep a
//! window of MQTT publishes awaiting their PUBACKs.

use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use trilink_schema::{Nation, NationalCodec, StreamFramer};

use crate::config::Invalid;
use crate::telemetry::events;
use crate::tls::{ClientTlsConfig, TlsError};

pub mod config;
pub mod mqtt;
pub mod sink;
pub mod stream;
pub mod tcp;
pub mod udp;

pub use config::{IngressConfig, MqttConfig, OutputConfig, UdpInConfig, UdpOutConfig};
pub use mqtt::{MqttIn, MqttSink, PubackWait, run_mqtt_in};
pub use sink::{Pending, Sink};
pub use stream::{StreamDecoder, StreamItem, decode_message, decode_stream_all};
pub use tcp::{run_tcp_client_in, run_tcp_server_in};
pub use udp::{bind_udp_in, kernel_drops, run_udp_in, socket_inode, udp_drops_in};

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
pub use trilink_schema::framing::OVERSIZE_KEEP;

/// Largest MQTT packet the national-side MQTT client accepts (16 MiB). Far above any national
/// frame, so an oversize publish arrives, is dead-lettered as `oversize` and acknowledged —
/// rather than refused by the client, which would drop the connection and have the broker
/// redeliver the same publish forever (a poison pill). Configure the national broker's
/// `message_size_limit` below it (deploy/etc/mosquitto/trilink-kr.conf).
pub const MQTT_MAX_INCOMING_PACKET: usize = 16 << 20;

/// Why national bytes could not be decoded (the schema's framer type).
pub use trilink_schema::framing::Rejected;

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
