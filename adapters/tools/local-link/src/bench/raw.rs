//! The benchmark's raw-NATS baseline path: no decoding, translation, validation or
//! persistence.
//!
//! The leaf connections at the hub only carry the subjects a nation's leaf permissions allow
//! (`broker-config/conf/hub-accounts.conf`), so the baseline travels on subjects inside them
//! that no stream captures: `tl.status.jp.bench` from the JP leaf to the hub (status is never
//! stored) and `tl.out.kr.bench` from the hub to the KR leaf (four tokens: the hub's `OUT_KR`
//! captures six-token subjects only, and the KR leaf's `OUT_KR` only sources the hub's).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, Role, Site};
use trilink_runtime::mqtt_client::{MqttClient, MqttClientOptions};
use trilink_schema::Nation;

use super::BenchOptions;
use super::cpu::{cpu_report, cpu_snapshot};
use super::measure::{
    Arrivals, Inflight, PathResult, collect, drive, mqtt_subscriber, note, template,
};
use crate::error::{Result, failed};
use crate::standins;

/// JP leaf → hub (JP account): allowed by `LEAF_JP`, stored by no stream.
const RAW_IN: &str = "tl.status.jp.bench";
/// Hub (KR account) → KR leaf: allowed by `LEAF_KR`, stored by no stream.
const RAW_OUT: &str = "tl.out.kr.bench";

/// The raw baseline: the same JP bytes over UDP → core NATS on the JP leaf → a forwarder at
/// the hub into the KR account → a subscriber on the KR leaf → MQTT QoS 1 via mosquitto.
pub(crate) async fn raw_path(
    link: &Link,
    mqtt_port: u16,
    procs: &[(String, u32)],
    args: &BenchOptions,
    duration: Duration,
    drain: Duration,
    stop: &CancellationToken,
) -> Result<PathResult> {
    let stop = stop.child_token();
    let jp_leaf = link
        .connect(Role::Admin(Site::Jp, Nation::Jp))
        .await
        .map_err(|e| failed!("{e}"))?;
    let hub_jp = link
        .connect(Role::Admin(Site::Hub, Nation::Jp))
        .await
        .map_err(|e| failed!("{e}"))?;
    let hub_kr = link
        .connect(Role::Admin(Site::Hub, Nation::Kr))
        .await
        .map_err(|e| failed!("{e}"))?;
    let kr_leaf = link
        .connect(Role::Admin(Site::Kr, Nation::Kr))
        .await
        .map_err(|e| failed!("{e}"))?;

    // Hub forwarder: JP account → KR account.
    let mut hub_sub = hub_jp.subscribe(RAW_IN).await.map_err(|e| failed!("{e}"))?;
    let fwd = hub_kr.clone();
    tokio::spawn(async move {
        while let Some(m) = hub_sub.next().await {
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
    tokio::spawn(async move {
        while let Some(m) = kr_sub.next().await {
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

    let inflight: Inflight = Arc::default();
    let tally: Arc<Mutex<Arrivals>> = Arc::default();
    let (i2, t2) = (inflight.clone(), tally.clone());
    let _rx = mqtt_subscriber(
        mqtt_port,
        "bench-raw-national",
        "bench/raw/out",
        move |payload| {
            // The raw payload is the same JP frame: its first 8 bytes after the header carry the key.
            if let Some(k) = payload.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                note(&i2, &t2, u64::from_be_bytes(k));
            }
        },
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await; // interest propagates over the leaf links

    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let jp = trilink_jp::JpCodec;
    let run = format!("raw{}", Utc::now().format("%Y%m%d%H%M%S%f"));
    let cpu_before = cpu_snapshot(procs);
    let start = Instant::now();
    let (sent, send_s) = drive(args.rate, duration, &inflight, |i| {
        // Same frame size as the trilink path, prefixed by an 8-byte key.
        let env = template(&run, i, args.tracks);
        let bytes = standins::encode(&jp, &env);
        let socket = &socket;
        (i, async move {
            let Ok(b) = bytes else { return false };
            let mut msg = Vec::with_capacity(b.len() + 8);
            msg.extend_from_slice(&i.to_be_bytes());
            msg.extend_from_slice(&b);
            socket.send_to(&msg, udp_addr).await.is_ok()
        })
    })
    .await;
    let mut r = collect(&tally, sent, drain, start, send_s).await;
    r.cpu = cpu_report(procs, &cpu_before, &cpu_snapshot(procs), r.received);
    stop.cancel();
    Ok(r)
}
