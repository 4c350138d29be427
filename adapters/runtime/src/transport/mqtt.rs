//! MQTT: the subscription ingress (QoS 1, manual acks after settle) and the QoS 1 publisher
//! sink whose send completes on the broker's PUBACK.

#[allow(clippy::wildcard_imports)]
use super::*;

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

/// MQTT publisher at QoS 1: [`start`](Self::start_publish) queues a PUBLISH and returns a
/// [`PubackWait`] that completes on the broker's PUBACK, so that up to `window` publishes are
/// in flight on the one connection (delivered by the broker in the order sent).
///
/// **Pairing publishes with PUBACKs.** The event loop pairs each waiter with the next outgoing
/// PUBLISH (FIFO), then with its packet id. That holds only while every request in rumqttc's
/// queue has a waiter and vice versa, so both change together under one lock: a publish is
/// queued with `try_publish` while its waiter is pushed, and a lost connection clears, under
/// the same lock, rumqttc's pending publishes, the request queue and every waiter.
///
/// **After a failure the sink stays broken** (every new publish fails at once) until
/// [`resume`](Self::resume): the egress resends what failed, in order, before anything newer —
/// a publish queued behind the failure must not reach the broker ahead of the message that
/// failed.
#[derive(Debug)]
pub struct MqttSink {
    client: rumqttc::AsyncClient,
    topic: String,
    shared: Arc<MqttShared>,
    confirm_timeout: Duration,
}

#[derive(Debug, Default)]
struct MqttShared {
    track: std::sync::Mutex<PubTrack>,
    /// Asks the event loop to drop the connection and every request (a PUBACK timed out).
    reset: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct PubTrack {
    queued: VecDeque<oneshot::Sender<()>>,
    by_pkid: HashMap<u16, oneshot::Sender<()>>,
    /// Set when the connection was lost or a PUBACK timed out; cleared by `resume`.
    broken: bool,
}

impl PubTrack {
    /// Fail every waiter (their receivers see the sender dropped) and refuse new publishes.
    fn fail_all(&mut self) {
        self.queued.clear();
        self.by_pkid.clear();
        self.broken = true;
    }
}

/// A PUBLISH in flight: [`confirm`](Self::confirm) completes on its PUBACK.
#[derive(Debug)]
pub struct PubackWait {
    rx: oneshot::Receiver<()>,
    deadline: tokio::time::Instant,
    shared: Arc<MqttShared>,
    topic: String,
    timeout: Duration,
}

impl PubackWait {
    /// Wait for the PUBACK, until the deadline set when the publish was queued. Cancel-safe
    /// (the waiter stays in `self`). A timeout drops the connection (the event loop
    /// reconnects) and fails every other publish in flight with it.
    pub async fn confirm(&mut self) -> Result<(), TransportError> {
        match tokio::time::timeout_at(self.deadline, &mut self.rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(TransportError::Mqtt {
                topic: self.topic.clone(),
                message: "connection lost before the broker's PUBACK".into(),
            }),
            Err(_) => {
                if let Ok(mut tr) = self.shared.track.lock() {
                    tr.fail_all();
                }
                self.shared.reset.notify_one();
                Err(TransportError::Timeout(
                    format!("mqtt publish {}", self.topic),
                    self.timeout,
                ))
            }
        }
    }
}

impl MqttSink {
    pub(super) fn start(
        cfg: &MqttConfig,
        site: Nation,
        window: usize,
        shutdown: CancellationToken,
    ) -> Result<Self, TransportError> {
        use rumqttc::{Event, Outgoing, Packet};
        let window = window.clamp(1, usize::from(u16::MAX));
        let mut options = mqtt_options(cfg)?;
        // rumqttc's own in-flight bound (packet ids 1..=n); the egress window bounds messages,
        // a message may be several frames: those wait in the request queue.
        options.set_inflight(u16::try_from(window).unwrap_or(u16::MAX));
        let (client, mut eventloop) = rumqttc::AsyncClient::new(options, window.max(64));
        let tls = cfg.tls.is_some();
        let shared: Arc<MqttShared> = Arc::default();
        let t = shared.clone();
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
                    () = t.reset.notified() => {
                        // A PUBACK timed out: start over on a new connection, with nothing
                        // of the old one left to go out unpaired.
                        if let Ok(mut tr) = t.track.lock() {
                            eventloop.clean();
                            eventloop.pending.clear();
                            tr.fail_all();
                        }
                        continue;
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
                        if let Ok(mut tr) = t.track.lock()
                            && !tr.by_pkid.contains_key(&pkid)
                            && let Some(tx) = tr.queued.pop_front()
                        {
                            tr.by_pkid.insert(pkid, tx);
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Ok(mut tr) = t.track.lock()
                            && let Some(tx) = tr.by_pkid.remove(&ack.pkid)
                        {
                            let _ = tx.send(());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // The connection is gone: whatever was not PUBACKed fails now and the
                        // egress sends it again, in order. rumqttc would also resend it after
                        // the reconnect — but only if the broker kept the session, and
                        // otherwise drop it silently, leaving a waiter that never hears back
                        // and pairing every later publish with the wrong waiter (found by
                        // `link_kill::mosquitto_restart_mid_stream_delivers_exactly_once`).
                        // `clean` also takes the requests still queued, so none of them goes
                        // out on the next connection without its waiter.
                        if let Ok(mut tr) = t.track.lock() {
                            eventloop.clean();
                            eventloop.pending.clear();
                            tr.fail_all();
                        }
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
            shared,
            confirm_timeout: Duration::from_secs(10),
        })
    }

    /// Queue a PUBLISH at QoS 1; its [`PubackWait`] completes on the PUBACK. Fails at once
    /// while the sink is broken (see the type's docs) or when rumqttc's queue stays full for
    /// the confirmation timeout.
    pub async fn start_publish(&self, frame: &[u8]) -> Result<PubackWait, TransportError> {
        let deadline = tokio::time::Instant::now() + self.confirm_timeout;
        loop {
            {
                let Ok(mut tr) = self.shared.track.lock() else {
                    return Err(self.err("publish state poisoned"));
                };
                if tr.broken {
                    return Err(self.err("connection lost; not resumed yet"));
                }
                let (tx, rx) = oneshot::channel();
                tr.queued.push_back(tx);
                match self.client.try_publish(
                    self.topic.clone(),
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    frame.to_vec(),
                ) {
                    Ok(()) => {
                        return Ok(PubackWait {
                            rx,
                            deadline,
                            shared: self.shared.clone(),
                            topic: self.topic.clone(),
                            timeout: self.confirm_timeout,
                        });
                    }
                    Err(rumqttc::ClientError::TryRequest(_)) => {
                        // Queue full: take the waiter back and wait for room.
                        tr.queued.pop_back();
                    }
                    Err(e) => {
                        tr.queued.pop_back();
                        return Err(self.err(&e.to_string()));
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TransportError::Timeout(
                    format!("mqtt publish {}", self.topic),
                    self.confirm_timeout,
                ));
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Publish at QoS 1 and wait for the PUBACK.
    pub async fn send(&self, frame: &[u8]) -> Result<(), TransportError> {
        self.start_publish(frame).await?.confirm().await
    }

    /// Accept publishes again after a failure (the caller resends what failed first).
    pub fn resume(&self) {
        if let Ok(mut tr) = self.shared.track.lock() {
            tr.broken = false;
        }
    }

    fn err(&self, message: &str) -> TransportError {
        TransportError::Mqtt {
            topic: self.topic.clone(),
            message: message.to_owned(),
        }
    }
}
