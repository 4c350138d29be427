//! The benchmark's raw-JetStream path: the trilink path's stream topology and
//! acknowledgements with a minimal forwarder in place of the adapters and the relay — no
//! decoding, validation, translation, policy, provenance or per-track ordering. It separates
//! the cost of persistence from the cost of trilink's own code.
//!
//! The same JP bytes (an 8-byte key, then the JP frame) over UDP → a JetStream publish with
//! `Nats-Msg-Id` on `tl.in.jp.launch_detection` on the JP leaf, through the runtime's
//! [`Publisher`] with adapter-jp's window (`[nats] max_in_flight`) → the JP leaf's `IN_JP` →
//! the hub's `IN_JP` (sourced over the leaf link) → a pull consumer with the relay's settings
//! (`[[consumer]] relay` of `streams.toml`; at most the relay's `max_in_flight` inputs in
//! flight) → two acknowledged publishes, `OUT_KR` and `OUT_US` at the hub, as the relay stores a
//! JP message released to everyone, then the input's ack → the KR leaf's `OUT_KR` (sourced) →
//! a pull consumer with adapter-kr's settings (`[[consumer]] adapter-kr`, adapter-kr's pull
//! batch and egress window) → MQTT QoS 1 through the runtime's [`Sink`] (PUBACK, then ack) →
//! the same kind of subscriber as the other paths.
//!
//! The streams are the link's own (created from `broker-config/streams.toml` when the link
//! starts), so the topology cannot drift from the trilink path's. The two consumers are
//! copies of the real durables under another name (`bench-raw-js`), made from the same
//! `[[consumer]]` definitions, so the real relay and adapter-kr never share a durable (or a
//! left-over pull request) with the forwarder; at [`RawJs::finish`] they are deleted and the
//! five streams the path wrote are purged, so the trilink path starts on empty streams and its
//! durables never see the forwarder's messages. The forwarder connects as each account's
//! operations user (the reader users may only read their own durable). Not measured here:
//! adapter-kr's delivery journal (a file append per message) and the relay's per-track order
//! gate — both trilink code.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trilink_brokers::streams::{ConsumerDef, StreamPlan};
use trilink_brokers::{Link, Site};
use trilink_runtime::nats::{Publisher, egress_pull, jetstream as js_context};
use trilink_runtime::transport::{OutputConfig, Pending, Sink};
use trilink_schema::{Nation, headers};

use super::admin;
use super::measure::Probe;
use super::raw::RawPath;
use crate::configs;
use crate::error::{Result, failed};

/// The forwarder's durable consumers (copies of the real ones).
const DURABLE: &str = "bench-raw-js";
/// Where the KR forwarder publishes, and the national subscriber listens.
const TOPIC: &str = "bench/raw-js/out";
/// The input subject: what adapter-jp publishes a launch detection on.
const IN_SUBJECT: &str = "tl.in.jp.launch_detection";

/// The raw-JetStream path while it is set up; [`finish`](Self::finish) takes it down.
pub(crate) struct RawJs {
    /// The path as measured.
    pub(crate) path: RawPath,
    admin: Vec<(Site, Nation, jetstream::Context)>,
}

/// A copy of the `[[consumer]]` reading `stream` on `site`/`account`, named [`DURABLE`].
fn durable_like(
    plan: &StreamPlan,
    stream: &str,
    site: Site,
    account: Nation,
) -> Result<ConsumerDef> {
    let mut def = plan
        .consumers_for(site, account)
        .find(|c| c.stream == stream)
        .cloned()
        .ok_or_else(|| failed!("streams.toml has no consumer of {stream} on {site}/{account}"))?;
    DURABLE.clone_into(&mut def.name);
    Ok(def)
}

/// The key the path's frames start with, as a subject token and message id.
fn key_token(payload: &[u8]) -> Option<String> {
    let k = payload.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok())?;
    Some(format!("{:016x}", u64::from_be_bytes(k)))
}

/// Set up the raw-JetStream path on `link` (KR broker at `mqtt_port`).
pub(crate) async fn start(
    link: &Link,
    mqtt_port: u16,
    procs: &[(String, u32)],
    tracks: u32,
    stop: &CancellationToken,
) -> Result<RawJs> {
    let stop = stop.child_token();
    let plan = link.plan().clone();
    let jp_cfg = configs::adapter_jp(link, 1, 9)?;
    let kr_cfg = configs::adapter_kr(link, mqtt_port)?;
    let relay_cfg = configs::relay_config(link)?;
    let ack_timeout = Duration::from_millis(jp_cfg.nats.ack_timeout_ms);

    // Operations users: the forwarder's connections, and the durables and purges.
    let jp_leaf = admin(link, Site::Jp, Nation::Jp).await?;
    let hub_jp = admin(link, Site::Hub, Nation::Jp).await?;
    let hub_kr = admin(link, Site::Hub, Nation::Kr).await?;
    let hub_us = admin(link, Site::Hub, Nation::Us).await?;
    let kr_leaf = admin(link, Site::Kr, Nation::Kr).await?;
    let admin = vec![
        (Site::Jp, Nation::Jp, jetstream::new(jp_leaf.clone())),
        (Site::Hub, Nation::Jp, jetstream::new(hub_jp.clone())),
        (Site::Hub, Nation::Kr, jetstream::new(hub_kr.clone())),
        (Site::Hub, Nation::Us, jetstream::new(hub_us.clone())),
        (Site::Kr, Nation::Kr, jetstream::new(kr_leaf.clone())),
    ];

    // The durables, as the operations user makes the real ones.
    let relay_def = durable_like(&plan, "IN_JP", Site::Hub, Nation::Jp)?;
    let kr_def = durable_like(&plan, "OUT_KR", Site::Kr, Nation::Kr)?;
    let hub_in = js_context(&hub_jp, Some(Site::Hub.domain()), ack_timeout)
        .get_stream(&relay_def.stream)
        .await
        .map_err(|e| failed!("hub {}: {e}", relay_def.stream))?
        .get_or_create_consumer(DURABLE, StreamPlan::consumer_config(&relay_def))
        .await
        .map_err(|e| failed!("consumer {DURABLE} on hub {}: {e}", relay_def.stream))?;
    let kr_out: jetstream::consumer::PullConsumer =
        js_context(&kr_leaf, Some(Site::Kr.domain()), ack_timeout)
            .get_stream(&kr_def.stream)
            .await
            .map_err(|e| failed!("KR leaf {}: {e}", kr_def.stream))?
            .get_or_create_consumer(DURABLE, StreamPlan::consumer_config(&kr_def))
            .await
            .map_err(|e| failed!("consumer {DURABLE} on KR {}: {e}", kr_def.stream))?;

    // KR: OUT_KR on the leaf → MQTT QoS 1, adapter-kr's batch and window.
    let Some(OutputConfig::Mqtt(mut mqtt)) = kr_cfg
        .egress
        .as_ref()
        .and_then(|e| e.outputs.first().cloned())
    else {
        return Err(failed!("adapter-kr's configuration has no MQTT output"));
    };
    TOPIC.clone_into(&mut mqtt.topic);
    "bench-raw-js-kr-out".clone_into(&mut mqtt.client_id);
    let (batch, window) = kr_cfg
        .egress
        .as_ref()
        .map_or((64, 1), |e| (e.batch, e.max_in_flight.max(1)));
    let sink = Sink::open_with_window(&OutputConfig::Mqtt(mqtt), Nation::Kr, window, stop.clone())
        .await
        .map_err(|e| failed!("raw-js MQTT output: {e}"))?;
    tokio::spawn(egress(kr_out, sink, batch, window, stop.clone()));

    // Hub: IN_JP → OUT_KR and OUT_US, the relay's window.
    let messages = hub_in
        .messages()
        .await
        .map_err(|e| failed!("consumer {DURABLE} on hub IN_JP: {e}"))?;
    let out = [
        (
            Nation::Kr,
            js_context(&hub_kr, Some(Site::Hub.domain()), ack_timeout),
        ),
        (
            Nation::Us,
            js_context(&hub_us, Some(Site::Hub.domain()), ack_timeout),
        ),
    ];
    tokio::spawn(relay(
        messages,
        out,
        relay_cfg.max_in_flight.max(1),
        stop.clone(),
    ));

    // JP: UDP → JetStream on the leaf, adapter-jp's publish window.
    let publisher = Publisher::new(
        js_context(&jp_leaf, Some(Site::Jp.domain()), ack_timeout),
        Nation::Jp,
        jp_cfg.nats.max_in_flight,
        jp_cfg.nats.publish_retries,
    );
    let udp_in = UdpSocket::bind("127.0.0.1:0").await?;
    let target: SocketAddr = udp_in.local_addr()?;
    tokio::spawn(ingress(udp_in, publisher, stop.clone()));
    for c in [&jp_leaf, &hub_jp, &hub_kr, &hub_us, &kr_leaf] {
        c.flush().await.map_err(|e| failed!("{e}"))?;
    }

    let probe = Probe::keyed_mqtt(procs, mqtt_port, "bench-raw-js-national", TOPIC, &stop);
    tokio::time::sleep(Duration::from_secs(2)).await; // subscriptions settle
    let path = RawPath::new(probe, target, tracks, "rawjs", stop).await?;
    Ok(RawJs { path, admin })
}

/// UDP in → acknowledged JetStream publish on the JP leaf (the adapter's publisher).
async fn ingress(udp_in: UdpSocket, publisher: Publisher, stop: CancellationToken) {
    let mut buf = vec![0u8; 65_536];
    loop {
        let r = tokio::select! {
            () = stop.cancelled() => return,
            r = udp_in.recv_from(&mut buf) => r,
        };
        let Ok((n, _)) = r else { continue };
        let body = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
        let Some(id) = key_token(&body) else { continue };
        let published = tokio::select! {
            () = stop.cancelled() => return,
            r = publisher.publish_raw(IN_SUBJECT.to_owned(), id, body, "launch_detection", chrono::Utc::now(), None) => r,
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, "raw-js ingress publish failed");
        }
    }
}

/// The hub's forwarder: every input to `OUT_KR` and `OUT_US` (both acknowledged), then the
/// input's ack; at most `window` inputs in flight.
async fn relay(
    mut messages: pull::Stream,
    out: [(Nation, jetstream::Context); 2],
    window: usize,
    stop: CancellationToken,
) {
    let mut inflight = FuturesUnordered::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            Some(()) = inflight.next(), if !inflight.is_empty() => {}
            m = messages.next(), if inflight.len() < window => match m {
                Some(Ok(msg)) => inflight.push(forward(msg, &out)),
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "raw-js hub consumer");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => return,
            },
        }
    }
}

async fn forward(msg: jetstream::Message, out: &[(Nation, jetstream::Context); 2]) {
    let id = key_token(&msg.payload).unwrap_or_else(|| {
        msg.info()
            .map(|i| format!("s{}", i.stream_sequence))
            .unwrap_or_default()
    });
    let mut acks = Vec::with_capacity(out.len());
    for (dest, js) in out {
        let mut h = async_nats::HeaderMap::new();
        h.insert(headers::MSG_ID, format!("{id}.{dest}").as_str());
        let subject = format!("tl.out.{dest}.launch_detection.jp.{id}");
        match js
            .publish_with_headers(subject, h, msg.payload.clone())
            .await
        {
            Ok(ack) => acks.push(ack),
            Err(e) => {
                tracing::warn!(error = %e, "raw-js hub publish");
                let _ = msg.ack_with(AckKind::Nak(None)).await;
                return;
            }
        }
    }
    let stored =
        futures::future::join_all(acks.into_iter().map(std::future::IntoFuture::into_future)).await;
    if stored.iter().all(Result::is_ok) {
        if let Err(e) = msg.ack().await {
            tracing::warn!(error = %e, "raw-js hub ack");
        }
    } else {
        let _ = msg.ack_with(AckKind::Nak(None)).await;
    }
}

/// KR's forwarder: the leaf's `OUT_KR` → MQTT QoS 1, up to `window` publishes awaiting their
/// PUBACK, each message acknowledged once its PUBACK is in, in order.
async fn egress(
    consumer: jetstream::consumer::PullConsumer,
    sink: Sink,
    batch: usize,
    window: usize,
    stop: CancellationToken,
) {
    let mut line: VecDeque<(jetstream::Message, Pending)> = VecDeque::with_capacity(window);
    'outer: loop {
        // The adapter's own pull: the baseline differs from it only where it must.
        let mut messages = match egress_pull(&consumer, batch).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "raw-js KR pull");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(200)) => continue 'outer,
                }
            }
        };
        loop {
            enum Step {
                Front(bool),
                Next(Option<std::result::Result<Box<jetstream::Message>, pull::MessagesError>>),
            }
            let step = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                ok = async {
                    match line.front_mut() {
                        Some((_, p)) => p.confirm().await.is_ok(),
                        None => std::future::pending().await,
                    }
                }, if !line.is_empty() => Step::Front(ok),
                n = messages.next(), if line.len() < window => Step::Next(n.map(|r| r.map(Box::new))),
            };
            match step {
                Step::Front(ok) => {
                    let Some((msg, _)) = line.pop_front() else {
                        continue;
                    };
                    let kind = if ok { AckKind::Ack } else { AckKind::Nak(None) };
                    if !ok {
                        sink.resume();
                    }
                    let _ = msg.ack_with(kind).await;
                }
                Step::Next(Some(Ok(msg))) => match sink.start(&msg.payload).await {
                    Ok(p) => line.push_back((*msg, p)),
                    Err(e) => {
                        tracing::warn!(error = %e, "raw-js MQTT publish");
                        sink.resume();
                        let _ = msg.ack_with(AckKind::Nak(None)).await;
                    }
                },
                Step::Next(Some(Err(e))) => {
                    tracing::warn!(error = %e, "raw-js KR consumer");
                    continue 'outer;
                }
                Step::Next(None) => continue 'outer,
            }
        }
    }
}

impl RawJs {
    /// Stop the forwarder once its durables have nothing pending (at most `within`), delete
    /// them and purge every stream the path wrote. Returns notes on what did not go to plan.
    pub(crate) async fn finish(self, within: Duration) -> Vec<String> {
        let Self { path, admin } = self;
        // The operations user's JetStream on a site in an account.
        let js_of = |site: Site, account: Nation| {
            admin
                .iter()
                .find(|(s, a, _)| *s == site && *a == account)
                .map(|(_, _, js)| js)
        };
        let mut notes = Vec::new();
        let deadline = tokio::time::Instant::now() + within;
        let durables = [
            (Site::Hub, Nation::Jp, "IN_JP"),
            (Site::Kr, Nation::Kr, "OUT_KR"),
        ];
        for (site, stream, js) in durables.iter().filter_map(|(site, account, stream)| {
            js_of(*site, *account).map(|js| (site, stream, js))
        }) {
            loop {
                let busy = match js
                    .get_consumer_from_stream::<pull::Config, _, _>(DURABLE, stream)
                    .await
                {
                    Ok(mut c) => c.info().await.map_or(0, |i| {
                        i.num_pending + u64::try_from(i.num_ack_pending).unwrap_or(0)
                    }),
                    Err(_) => 0,
                };
                if busy == 0 {
                    break;
                }
                if tokio::time::Instant::now() >= deadline {
                    notes.push(format!(
                        "raw-jetstream: {busy} messages still pending on {site} {stream}"
                    ));
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        drop(path);
        for (site, account, stream) in durables {
            if let Some(js) = js_of(site, account)
                && let Err(e) = js.delete_consumer_from_stream(DURABLE, stream).await
            {
                notes.push(format!(
                    "raw-jetstream: deleting {DURABLE} on {site} {stream}: {e}"
                ));
            }
        }
        for (site, account, stream) in [
            (Site::Jp, Nation::Jp, "IN_JP"),
            (Site::Hub, Nation::Jp, "IN_JP"),
            (Site::Hub, Nation::Kr, "OUT_KR"),
            (Site::Hub, Nation::Us, "OUT_US"),
            (Site::Kr, Nation::Kr, "OUT_KR"),
        ] {
            let Some(js) = js_of(site, account) else {
                continue;
            };
            let purged = match js.get_stream(stream).await {
                Ok(s) => s.purge().await.map(drop).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = purged {
                notes.push(format!("raw-jetstream: purging {site} {stream}: {e}"));
            }
        }
        notes
    }
}
