//! The MQTT client of trilink's tools and stand-ins (`trilink replay`, `trilink record`, the
//! demo's KR national system, `trilink bench`): one rumqttc event loop per client, run on the
//! tokio runtime until stopped.
//!
//! - [`MqttClient::start`] starts the event loop at once (the connection is made in the
//!   background, queued requests go out when it is up); [`MqttClient::connect`] also waits for
//!   the broker's CONNACK.
//! - [`MqttClient::publish`] publishes at QoS 1 and counts PUBACKs
//!   ([`MqttClient::wait_acked`]); with [`MqttClientOptions::record_writes`] the instant the
//!   event loop wrote each PUBLISH to the connection is kept ([`MqttClient::writes`]).
//! - [`MqttClient::subscribe`] subscribes at QoS 1 (renewed when a reconnect finds no
//!   session); incoming PUBLISHes arrive on the [`Incoming`] channel `start` returns.
//!
//! Connection errors are logged at debug level and retried after
//! [`MqttClientOptions::retry_after`]. The adapter's own MQTT ingress and egress (manual
//! acknowledgements, TLS, one PUBACK per frame) are in [`crate::transport`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How to reach the broker and how the client behaves.
#[derive(Debug, Clone)]
pub struct MqttClientOptions {
    client_id: String,
    host: String,
    port: u16,
    keep_alive: Duration,
    max_packet: usize,
    capacity: usize,
    retry_after: Duration,
    record_writes: bool,
    persistent_session: bool,
}

impl MqttClientOptions {
    /// A client `client_id` of the broker at `host:port`: keep-alive 10 s, packets up to
    /// 1 MiB, a request queue of 1 024, reconnect 200 ms after an error, no write log.
    pub fn new(client_id: impl Into<String>, host: impl Into<String>, port: u16) -> Self {
        Self {
            client_id: client_id.into(),
            host: host.into(),
            port,
            keep_alive: Duration::from_secs(10),
            max_packet: 1 << 20,
            capacity: 1_024,
            retry_after: Duration::from_millis(200),
            record_writes: false,
            persistent_session: false,
        }
    }

    /// Keep the session at the broker across disconnects (MQTT `clean_session = 0`): QoS 1
    /// messages for this client are queued while it is away, and its unacknowledged publishes
    /// are sent again after a reconnect — what a national system that must not lose warnings
    /// does.
    #[must_use]
    pub fn persistent_session(mut self) -> Self {
        self.persistent_session = true;
        self
    }

    /// Requests (publishes, subscriptions) that can wait for the event loop, and incoming
    /// PUBLISHes that can wait for the reader of [`Incoming`].
    #[must_use]
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }

    /// Wait this long after a connection error before the next attempt.
    #[must_use]
    pub fn retry_after(mut self, d: Duration) -> Self {
        self.retry_after = d;
        self
    }

    /// Keep the instant each PUBLISH was written to the connection ([`MqttClient::writes`]).
    #[must_use]
    pub fn record_writes(mut self) -> Self {
        self.record_writes = true;
        self
    }

    /// `host:port`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A PUBLISH received on a subscription.
#[derive(Debug, Clone)]
pub struct MqttMessage {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Bytes,
}

/// Incoming PUBLISHes of a client's subscriptions.
pub type Incoming = mpsc::Receiver<MqttMessage>;

/// What can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum MqttClientError {
    /// No CONNACK in time.
    #[error("MQTT broker {endpoint} did not accept a connection within {} s", within.as_secs_f64())]
    NotConnected {
        /// `host:port`.
        endpoint: String,
        /// How long it was given.
        within: Duration,
    },
    /// No SUBACK in time.
    #[error("MQTT broker {endpoint}: no SUBACK within {} s", within.as_secs_f64())]
    NotSubscribed {
        /// `host:port`.
        endpoint: String,
        /// How long it was given.
        within: Duration,
    },
    /// The request could not be queued (the event loop has stopped).
    #[error("MQTT {what} on {endpoint}: {message}")]
    Request {
        /// `publish to <topic>`, `subscribe to <topic>`.
        what: String,
        /// `host:port`.
        endpoint: String,
        /// rumqttc's reason.
        message: String,
    },
}

#[derive(Debug, Default)]
struct Shared {
    connacks: AtomicU64,
    subscribed: AtomicU64,
    subacks: AtomicU64,
    published: AtomicU64,
    acked: AtomicU64,
    writes: Mutex<Vec<Instant>>,
    topics: Mutex<Vec<String>>,
}

/// A running MQTT client (its event loop stops with the token given to
/// [`start`](Self::start), or at [`disconnect`](Self::disconnect)).
pub struct MqttClient {
    client: AsyncClient,
    shared: Arc<Shared>,
    stop: CancellationToken,
    endpoint: String,
}

impl std::fmt::Debug for MqttClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttClient")
            .field("endpoint", &self.endpoint)
            .field("published", &self.published())
            .field("acked", &self.acked())
            .finish_non_exhaustive()
    }
}

const POLL: Duration = Duration::from_millis(10);

impl MqttClient {
    /// Start the event loop (on the current tokio runtime) until `stop` or
    /// [`disconnect`](Self::disconnect); does not wait for the connection.
    pub fn start(opts: MqttClientOptions, stop: &CancellationToken) -> (Self, Incoming) {
        let endpoint = opts.endpoint();
        let mut o = MqttOptions::new(opts.client_id, opts.host, opts.port);
        o.set_keep_alive(opts.keep_alive);
        o.set_max_packet_size(opts.max_packet, opts.max_packet);
        o.set_clean_session(!opts.persistent_session);
        let (client, mut events) = AsyncClient::new(o, opts.capacity);
        let (tx, rx) = mpsc::channel(opts.capacity);
        let shared = Arc::new(Shared::default());
        let stop = stop.child_token();
        {
            let (client, shared, stop, endpoint) = (
                client.clone(),
                shared.clone(),
                stop.clone(),
                endpoint.clone(),
            );
            let (record_writes, retry_after) = (opts.record_writes, opts.retry_after);
            tokio::spawn(async move {
                let mut tx = Some(tx);
                loop {
                    let ev = tokio::select! {
                        () = stop.cancelled() => return,
                        ev = events.poll() => ev,
                    };
                    match ev {
                        Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                            if record_writes {
                                let at = Instant::now();
                                if let Ok(mut w) = shared.writes.lock() {
                                    w.push(at);
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                            let renew = shared.connacks.fetch_add(1, Ordering::SeqCst) > 0
                                && !ack.session_present;
                            if renew {
                                let topics =
                                    shared.topics.lock().map(|t| t.clone()).unwrap_or_default();
                                for t in topics {
                                    let _ = client.try_subscribe(t, QoS::AtLeastOnce);
                                }
                            }
                        }
                        Ok(Event::Incoming(Packet::SubAck(_))) => {
                            shared.subacks.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Event::Incoming(Packet::PubAck(_))) => {
                            shared.acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(Event::Incoming(Packet::Publish(p))) => {
                            if let Some(sender) = &tx {
                                let m = MqttMessage {
                                    topic: p.topic.clone(),
                                    payload: p.payload.clone(),
                                };
                                let gone = tokio::select! {
                                    () = stop.cancelled() => return,
                                    r = sender.send(m) => r.is_err(),
                                };
                                if gone {
                                    tx = None;
                                }
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!(broker = %endpoint, error = %e, "MQTT connection");
                            tokio::select! {
                                () = stop.cancelled() => return,
                                () = tokio::time::sleep(retry_after) => {}
                            }
                        }
                    }
                }
            });
        }
        (
            Self {
                client,
                shared,
                stop,
                endpoint,
            },
            rx,
        )
    }

    /// [`start`](Self::start), then wait up to `within` for the broker's CONNACK.
    pub async fn connect(
        opts: MqttClientOptions,
        stop: &CancellationToken,
        within: Duration,
    ) -> Result<(Self, Incoming), MqttClientError> {
        let (c, rx) = Self::start(opts, stop);
        c.wait_connected(within).await?;
        Ok((c, rx))
    }

    /// `host:port` of the broker.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Wait up to `within` until the broker has accepted the connection once; on a timeout
    /// the event loop is stopped.
    pub async fn wait_connected(&self, within: Duration) -> Result<(), MqttClientError> {
        let deadline = Instant::now() + within;
        while self.shared.connacks.load(Ordering::SeqCst) == 0 {
            if Instant::now() > deadline {
                self.stop.cancel();
                return Err(MqttClientError::NotConnected {
                    endpoint: self.endpoint.clone(),
                    within,
                });
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Subscribe to `topic` at QoS 1 (queued until connected; renewed after a reconnect that
    /// found no session). [`wait_subscribed`](Self::wait_subscribed) waits for the SUBACK.
    pub async fn subscribe(&self, topic: &str) -> Result<(), MqttClientError> {
        if let Ok(mut t) = self.shared.topics.lock() {
            t.push(topic.to_owned());
        }
        self.client
            .subscribe(topic.to_owned(), QoS::AtLeastOnce)
            .await
            .map_err(|e| MqttClientError::Request {
                what: format!("subscribe to {topic}"),
                endpoint: self.endpoint.clone(),
                message: e.to_string(),
            })?;
        self.shared.subscribed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Wait up to `within` until every subscription requested so far has its SUBACK.
    pub async fn wait_subscribed(&self, within: Duration) -> Result<(), MqttClientError> {
        let deadline = Instant::now() + within;
        while self.shared.subacks.load(Ordering::SeqCst)
            < self.shared.subscribed.load(Ordering::SeqCst)
        {
            if Instant::now() > deadline {
                return Err(MqttClientError::NotSubscribed {
                    endpoint: self.endpoint.clone(),
                    within,
                });
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    /// Publish at QoS 1: returns once the PUBLISH is queued for the event loop (its PUBACK is
    /// counted by [`acked`](Self::acked)).
    pub async fn publish(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
    ) -> Result<(), MqttClientError> {
        let topic = topic.into();
        match self
            .client
            .publish(topic.clone(), QoS::AtLeastOnce, false, payload.into())
            .await
        {
            Ok(()) => {
                self.shared.published.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }
            Err(e) => Err(MqttClientError::Request {
                what: format!("publish to {topic}"),
                endpoint: self.endpoint.clone(),
                message: e.to_string(),
            }),
        }
    }

    /// PUBLISHes queued so far.
    pub fn published(&self) -> u64 {
        self.shared.published.load(Ordering::SeqCst)
    }

    /// PUBACKs received so far.
    pub fn acked(&self) -> u64 {
        self.shared.acked.load(Ordering::SeqCst)
    }

    /// Wait up to `within` for the PUBACK of every PUBLISH; returns how many are missing.
    pub async fn wait_acked(&self, within: Duration) -> u64 {
        let deadline = Instant::now() + within;
        while self.acked() < self.published() && Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
        }
        self.published().saturating_sub(self.acked())
    }

    /// With [`MqttClientOptions::record_writes`]: when the event loop wrote each PUBLISH to
    /// the connection (its `Outgoing::Publish` event follows the socket flush), in order.
    pub fn writes(&self) -> Vec<Instant> {
        self.shared
            .writes
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    /// Send DISCONNECT, give the event loop a moment to write it, and stop the loop.
    pub async fn disconnect(self) {
        if !self.stop.is_cancelled() {
            let _ = self.client.disconnect().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stop.cancel();
    }
}
