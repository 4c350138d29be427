//! A connected sender for one nation (national frames) or NATS (envelopes). Used from the
//! clock thread: UDP and TCP are blocking std sockets (the due instant is followed by one
//! system call, no runtime hop); MQTT and NATS hand the message to their client's queue on
//! the async runtime.

pub mod mqtt;
pub mod nats;
pub mod tcp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::Notice;
use crate::load::{Content, ReplayMessage};
use crate::target::Target;
pub use mqtt::MqttSink;
pub use nats::{NATS_WINDOW, NatsSink};
pub use tcp::TcpSink;

/// A send's error when a stop request (Ctrl-C) ended it.
pub const INTERRUPTED: &str = "interrupted";

/// How long [`Sink::finish`] waits for outstanding acknowledgements: after a normal end, and
/// after a stop request (Ctrl-C must end the replay within seconds).
pub const FINISH_PATIENCE: Duration = Duration::from_secs(10);
/// See [`FINISH_PATIENCE`].
pub const FINISH_PATIENCE_STOPPED: Duration = Duration::from_millis(500);

/// A connected sender.
#[derive(Debug)]
pub enum Sink {
    /// UDP datagrams from a bound socket to an address.
    Udp(std::net::UdpSocket, SocketAddr),
    /// A reconnecting TCP stream.
    Tcp(TcpSink),
    /// MQTT PUBLISH at QoS 1.
    Mqtt(MqttSink),
    /// JetStream publishes.
    Nats(Box<NatsSink>),
}

/// A message made ready for its sink before its due instant, so that only the hand-off is
/// left at the due instant.
#[derive(Debug)]
pub enum ReadyToSend {
    /// UDP datagram or TCP bytes.
    Raw(Bytes),
    /// An MQTT PUBLISH.
    Mqtt {
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// A JetStream publish.
    Nats {
        /// Its subject.
        subject: String,
        /// The message with its headers.
        msg: async_nats::jetstream::message::PublishMessage,
    },
    /// The message does not fit the sink (a bug: national frames go to national sinks).
    Mismatch,
}

/// Connect to a national target (10 s at most for TCP and MQTT).
pub async fn connect_target(t: &Target, notice: &Notice) -> Result<Sink, String> {
    match t {
        Target::Udp(a) => {
            let bind: SocketAddr = if a.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0_u16; 8], 0))
            };
            let s = std::net::UdpSocket::bind(bind).map_err(|e| e.to_string())?;
            Ok(Sink::Udp(s, *a))
        }
        Target::Tcp(a) => {
            let s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(a))
                .await
                .map_err(|_| format!("connecting to tcp://{a}: timed out after 10 s"))?
                .map_err(|e| format!("connecting to tcp://{a}: {e}"))?;
            let io = |e: std::io::Error| e.to_string();
            s.set_nodelay(true).map_err(io)?;
            let s = s.into_std().map_err(io)?;
            s.set_nonblocking(false).map_err(io)?;
            Ok(Sink::Tcp(TcpSink::new(*a, s, notice.clone())))
        }
        Target::Mqtt { host, port, topic } => MqttSink::connect(host, *port, topic.clone())
            .await
            .map(Sink::Mqtt)
            .map_err(|e| e.to_string()),
    }
}

impl Sink {
    /// Everything that can be done for `message` before its due instant.
    pub fn prepare(&self, message: &ReplayMessage) -> ReadyToSend {
        match (self, &message.content) {
            (Sink::Udp(..) | Sink::Tcp(_), Content::National { raw, .. }) => {
                ReadyToSend::Raw(raw.clone())
            }
            (Sink::Mqtt(m), Content::National { raw, topic }) => ReadyToSend::Mqtt {
                topic: m
                    .topic
                    .clone()
                    .or_else(|| topic.clone())
                    .unwrap_or_else(|| trilink_kr::REPORT_TOPIC.to_owned()),
                payload: raw.to_vec(),
            },
            (
                Sink::Nats(_),
                Content::Envelope {
                    subject,
                    msg_id,
                    body,
                    ..
                },
            ) => ReadyToSend::Nats {
                subject: subject.clone(),
                msg: async_nats::jetstream::message::PublishMessage::build()
                    .payload(body.clone())
                    .message_id(msg_id.as_str())
                    .header(
                        trilink_schema::headers::SCHEMA_VERSION,
                        trilink_schema::SCHEMA_VERSION.to_string().as_str(),
                    ),
            },
            _ => ReadyToSend::Mismatch,
        }
    }

    /// Hand a prepared message over (blocking; called on the clock thread, `rt` drives the
    /// MQTT/NATS client queues). `Err` is a send failure (counted, the replay goes on).
    pub fn send(
        &mut self,
        p: ReadyToSend,
        rt: &Handle,
        stop: &CancellationToken,
    ) -> Result<(), String> {
        match (self, p) {
            (Sink::Udp(s, to), ReadyToSend::Raw(raw)) => {
                s.send_to(&raw, *to).map(drop).map_err(|e| e.to_string())
            }
            (Sink::Tcp(s), ReadyToSend::Raw(raw)) => s.send(&raw, &|| stop.is_cancelled()),
            // The client's queue is full when the broker stopped answering: a publish then
            // waits, but never past a stop request (Ctrl-C).
            (Sink::Mqtt(m), ReadyToSend::Mqtt { topic, payload }) => rt.block_on(async {
                tokio::select! {
                    r = m.client.publish(topic, payload) => r.map_err(|e| e.to_string()),
                    () = stop.cancelled() => Err(INTERRUPTED.into()),
                }
            }),
            (Sink::Nats(n), ReadyToSend::Nats { subject, msg }) => {
                if n.pending.len() >= NATS_WINDOW
                    && let Some(ack) = n.pending.pop_front()
                {
                    let acked = rt.block_on(async {
                        tokio::select! {
                            r = ack => Some(r),
                            () = stop.cancelled() => None,
                        }
                    });
                    match acked {
                        Some(Ok(_)) => {}
                        Some(Err(e)) => n.fail(format!("JetStream did not store it: {e}")),
                        None => {
                            n.fail("no JetStream acknowledgement before the stop request".into());
                            return Err(INTERRUPTED.into());
                        }
                    }
                }
                let ack = rt.block_on(async {
                    tokio::select! {
                        r = n.js.send_publish(subject, msg) => r.map_err(|e| e.to_string()),
                        () = stop.cancelled() => Err(INTERRUPTED.to_owned()),
                    }
                })?;
                n.pending.push_back(ack);
                Ok(())
            }
            _ => Err("message kind does not match the target".into()),
        }
    }

    /// Wait (at most `patience`) for outstanding acknowledgements: how many failed, and why
    /// the first one did (NATS: the server's or the client's words).
    pub async fn finish_with_reason(self, patience: Duration) -> (u64, Option<String>) {
        match self {
            Sink::Nats(n) => (*n).finish_with_reason(patience).await,
            other => (other.finish(patience).await.0, None),
        }
    }

    /// Wait (at most `patience`) for outstanding acknowledgements: how many failed or never
    /// came, and for MQTT when each PUBLISH was written to the broker connection.
    pub async fn finish(self, patience: Duration) -> (u64, Vec<Instant>) {
        match self {
            Sink::Udp(..) => (0, Vec::new()),
            Sink::Tcp(s) => (u64::from(s.finish()), Vec::new()),
            Sink::Mqtt(m) => m.finish(patience).await,
            Sink::Nats(n) => ((*n).finish_with_reason(patience).await.0, Vec::new()),
        }
    }

    /// TCP: reconnections made.
    pub fn reconnects(&self) -> u64 {
        match self {
            Sink::Tcp(t) => t.reconnects(),
            _ => 0,
        }
    }
}
