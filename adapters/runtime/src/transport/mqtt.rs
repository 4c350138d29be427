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
    pub(super) fn start(
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
                        // The connection is gone: whatever was not PUBACKed fails now and the
                        // egress sends it again. rumqttc would also resend it after the
                        // reconnect — but only if the broker kept the session, and otherwise
                        // drop it silently, leaving a waiter that never hears back and
                        // pairing every later publish with the wrong waiter (found by
                        // `link_kill::mosquitto_restart_mid_stream_delivers_exactly_once`).
                        eventloop.pending.clear();
                        if let Ok(mut tr) = t.lock() {
                            tr.queued.clear();
                            tr.by_pkid.clear();
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
            track,
            order: Mutex::new(()),
            confirm_timeout: Duration::from_secs(10),
        })
    }

    /// Publish at QoS 1 and wait for the PUBACK.
    ///
    /// One publish is in flight at a time: the event loop pairs a waiter with the next
    /// outgoing PUBLISH, and with at most one waiter a publish that a lost connection left
    /// behind can never shift that pairing for good.
    pub async fn send(&self, frame: &[u8]) -> Result<(), TransportError> {
        let (tx, rx) = oneshot::channel();
        let _one_at_a_time = self.order.lock().await;
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
        match tokio::time::timeout(self.confirm_timeout, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(TransportError::Mqtt {
                topic: self.topic.clone(),
                message: "connection lost before the broker's PUBACK".into(),
            }),
            Err(_) => {
                // Forget the waiter, so that the next send starts with none.
                if let Ok(mut tr) = self.track.lock() {
                    tr.queued.clear();
                    tr.by_pkid.clear();
                }
                Err(TransportError::Timeout(
                    format!("mqtt publish {}", self.topic),
                    self.confirm_timeout,
                ))
            }
        }
    }
}
