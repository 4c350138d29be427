//! The benchmark's raw-NATS baseline path: no decoding, translation, validation or
//! persistence; and [`RawPath`], how both raw paths (this one and [`super::rawjs`]) are fed.
//!
//! The leaf connections at the hub only carry the subjects a nation's leaf permissions allow
//! (`broker-config/conf/hub-accounts.conf`), so the baseline travels on subjects inside them
//! that no stream captures: `tl.status.jp.bench` from the JP leaf to the hub (status is never
//! stored) and `tl.out.kr.bench` from the hub to the KR leaf (four tokens: the hub's `OUT_KR`
//! captures six-token subjects only; the KR leaf keeps no stream of outputs).

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, Site};
use trilink_runtime::mqtt_client::{MqttClient, MqttClientOptions};
use trilink_schema::Nation;

use super::admin;
use super::measure::{Measured, PathResult, Probe, template};
use crate::error::{Result, failed};
use crate::standins;

/// JP leaf → hub (JP account): allowed by `LEAF_JP`, stored by no stream.
const RAW_IN: &str = "tl.status.jp.bench";
/// Hub (KR account) → KR leaf: allowed by `LEAF_KR`, stored by no stream.
const RAW_OUT: &str = "tl.out.kr.bench";

/// A raw path as the load generator sees it: UDP datagrams of an 8-byte key followed by a JP
/// frame of the trilink path's size, to `target`; what arrives is matched by the key. Keys
/// go on increasing from run to run, so a late arrival of an earlier run is never taken for
/// one of the current run. Dropping it stops the path's forwarders.
pub(crate) struct RawPath {
    probe: Probe,
    socket: UdpSocket,
    target: SocketAddr,
    tracks: u32,
    prefix: &'static str,
    next_key: u64,
    stop: CancellationToken,
}

impl RawPath {
    pub(crate) async fn new(
        probe: Probe,
        target: SocketAddr,
        tracks: u32,
        prefix: &'static str,
        stop: CancellationToken,
    ) -> Result<Self> {
        Ok(Self {
            probe,
            socket: UdpSocket::bind("127.0.0.1:0").await?,
            target,
            tracks,
            prefix,
            next_key: 0,
            stop,
        })
    }

    /// Start the keys at `first` (paths measured one after another on the same streams keep
    /// apart from each other's message ids and de-duplication windows).
    pub(crate) fn first_key(mut self, first: u64) -> Self {
        self.next_key = first;
        self
    }
}

impl Drop for RawPath {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Measured for RawPath {
    fn probe(&self) -> &Probe {
        &self.probe
    }

    async fn step(&mut self, rate: u64, duration: Duration, drain: Duration) -> PathResult {
        let jp = trilink_jp::JpCodec;
        let run = format!("{}{}", self.prefix, Utc::now().format("%Y%m%d%H%M%S%f"));
        let (base, tracks, socket, target) =
            (self.next_key, self.tracks, &self.socket, self.target);
        let r = self
            .probe
            .run(rate, duration, drain, |i| {
                let key = base + i;
                // Same frame size as the trilink path, prefixed by the 8-byte key.
                let bytes = standins::encode(&jp, &template(&run, i, tracks));
                (key, async move {
                    let Ok(b) = bytes else { return false };
                    let mut msg = Vec::with_capacity(b.len() + 8);
                    msg.extend_from_slice(&key.to_be_bytes());
                    msg.extend_from_slice(&b);
                    socket.send_to(&msg, target).await.is_ok()
                })
            })
            .await;
        self.next_key = base + r.sent;
        r
    }
}

/// The raw baseline: the same JP bytes over UDP → core NATS on the JP leaf → a forwarder at
/// the hub into the KR account → a subscriber on the KR leaf → MQTT QoS 1 via mosquitto.
pub(crate) async fn start(
    link: &Link,
    mqtt_port: u16,
    procs: &[(String, u32)],
    tracks: u32,
    stop: &CancellationToken,
) -> Result<RawPath> {
    let stop = stop.child_token();
    let jp_leaf = admin(link, Site::Jp, Nation::Jp).await?;
    let hub_jp = admin(link, Site::Hub, Nation::Jp).await?;
    let hub_kr = admin(link, Site::Hub, Nation::Kr).await?;
    let kr_leaf = admin(link, Site::Kr, Nation::Kr).await?;

    // Hub forwarder: JP account → KR account.
    let mut hub_sub = hub_jp.subscribe(RAW_IN).await.map_err(|e| failed!("{e}"))?;
    let (fwd, s1) = (hub_kr.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                () = s1.cancelled() => return,
                m = hub_sub.next() => m,
            };
            let Some(m) = m else { return };
            let _ = fwd.publish(RAW_OUT, m.payload).await;
        }
    });
    // KR side: leaf subscriber → MQTT.
    let mut kr_sub = kr_leaf
        .subscribe(RAW_OUT)
        .await
        .map_err(|e| failed!("{e}"))?;
    let opts = MqttClientOptions::new("bench-raw-kr-out", "127.0.0.1", mqtt_port)
        .capacity(10_000)
        .retry_after(Duration::from_millis(100));
    let (mqtt_out, _incoming) = MqttClient::start(opts, &stop);
    let s2 = stop.clone();
    tokio::spawn(async move {
        loop {
            let m = tokio::select! {
                () = s2.cancelled() => return,
                m = kr_sub.next() => m,
            };
            let Some(m) = m else { return };
            let _ = mqtt_out.publish("bench/raw/out", m.payload.to_vec()).await;
        }
    });
    // JP side: UDP → leaf publish.
    let udp_in = UdpSocket::bind("127.0.0.1:0").await?;
    let udp_addr = udp_in.local_addr()?;
    let jp_pub = jp_leaf.clone();
    let s3 = stop.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            tokio::select! {
                () = s3.cancelled() => return,
                r = udp_in.recv_from(&mut buf) => if let Ok((n, _)) = r {
                    let _ = jp_pub.publish(RAW_IN, Bytes::copy_from_slice(buf.get(..n).unwrap_or_default())).await;
                },
            }
        }
    });
    for c in [&jp_leaf, &hub_jp, &hub_kr, &kr_leaf] {
        c.flush().await.map_err(|e| failed!("{e}"))?;
    }

    // The raw payload is the key, then the JP frame.
    let probe = Probe::keyed_mqtt(
        procs,
        mqtt_port,
        "bench-raw-national",
        "bench/raw/out",
        &stop,
    );
    tokio::time::sleep(Duration::from_secs(2)).await; // interest propagates over the leaf links
    RawPath::new(probe, udp_addr, tracks, "raw", stop).await
}
