//! Throughput of the generic adapter with the real JP codec against a real nats-server
//! (JetStream, file storage) on loopback:
//!
//! - ingress: JP frames over one TCP connection → decode → translate → validate → JetStream
//!   publish with acks; measured until the stream holds every message;
//! - egress: envelopes in a `tl.out.jp` stream → durable pull consumer → to_national → encode →
//!   TCP to a national receiver (or, with `mqtt`, QoS 1 publishes to a real mosquitto and a
//!   subscriber there); measured until every frame arrived.
//!
//! ```text
//! cargo run --release -p trilink-runtime --example adapter_throughput -- \
//!     [messages] [nats.max_in_flight] [tcp|mqtt] [egress.max_in_flight]
//! ```
//! Needs `nats-server` on PATH (or `NATS_SERVER_BIN`); `mqtt` needs `mosquitto`. Without the
//! fourth argument the egress window is the default.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::stream;
use bytes::BytesMut;
use chrono::Utc;
use tokio::io::AsyncWriteExt;
use trilink_brokers::testing::{Hub, Mosquitto, anonymous_listener, free_port, stream_count};
use trilink_jp::JpCodec;
use trilink_runtime::adapter::{self, AdapterConfig};
use trilink_runtime::mqtt_client::{MqttClient, MqttClientOptions};
use trilink_runtime::transport::StreamDecoder;
use trilink_schema::testing::sample::worked_launch;
use trilink_schema::{Envelope, Nation, NationalCodec};

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// JP's worked launch detection from `origin`, national message id `bench-<i>`, observed
/// 100 ms ago.
fn envelope(origin: Nation, i: usize) -> Envelope {
    let at = Utc::now() - chrono::Duration::milliseconds(100);
    worked_launch(origin, format!("bench-{i}"), at)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(50_000);
    let in_flight: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let mqtt = args.next().is_some_and(|a| a == "mqtt");
    let window: Option<usize> = args.next().and_then(|a| a.parse().ok());

    let hub = Hub::start_like(
        &[
            ("TL_IN", "tl.in.>"),
            ("TL_OUT_JP", "tl.out.jp.>"),
            ("TL_DLQ", "tl.dlq.>"),
        ],
        &stream::Config {
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        },
    )
    .await;
    let (url, js) = (hub.url.clone(), hub.js.clone());

    let in_port = free_port();
    let out_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let out_addr = out_listener.local_addr().unwrap();
    // No limit on the subscriber's queue (mosquitto drops beyond 1 000 queued messages by
    // default when the subscriber falls behind); warnings and errors logged.
    let mosquitto = mqtt.then(|| {
        let port = free_port();
        let body = format!(
            "{}max_queued_messages 0\nlog_dest file {{{{DIR}}}}/mosquitto.log\nlog_type error\nlog_type warning\n",
            anonymous_listener(port)
        );
        let mut m = Mosquitto::spawn_temp(&body, &[port]).unwrap();
        m.wait_listening().unwrap();
        m
    });
    let output = match &mosquitto {
        Some(m) => format!(
            "type = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {}\nclient_id = \"bench-jp-out\"\ntopic = \"jp/in\"",
            m.port()
        ),
        None => format!("type = \"tcp_client\"\nconnect = \"{out_addr}\""),
    };
    let window_line = window
        .map(|w| format!("max_in_flight = {w}"))
        .unwrap_or_default();
    let stop = trilink_runtime::CancellationToken::new();
    let mut national = match &mosquitto {
        Some(m) => {
            let opts = MqttClientOptions::new("bench-jp-national", "127.0.0.1", m.port())
                .capacity(n.max(1024));
            let (c, rx) = MqttClient::connect(opts, &stop, Duration::from_secs(10))
                .await
                .unwrap();
            c.subscribe("jp/in").await.unwrap();
            c.wait_subscribed(Duration::from_secs(10)).await.unwrap();
            Some((c, rx))
        }
        None => None,
    };
    let toml = format!(
        r#"
[adapter]
nation = "jp"
heartbeat_interval_ms = 0
[telemetry]
log_filter = "warn"
[nats]
url = "{url}"
max_in_flight = {in_flight}
[[ingress]]
type = "tcp_server"
bind = "127.0.0.1:{in_port}"
[egress]
stream = "TL_OUT_JP"
durable = "adapter-jp"
batch = 256
max_ack_pending = 4096
{window_line}
[[egress.outputs]]
{output}
"#
    );
    let cfg: AdapterConfig =
        trilink_runtime::config::load_str(&toml, Path::new("bench.toml"), Vec::new()).unwrap();
    let token = trilink_runtime::CancellationToken::new();
    let run = tokio::spawn(adapter::run(cfg, JpCodec::new(), token.clone()));

    // Ingress.
    let codec = JpCodec::new();
    let mut wire = BytesMut::new();
    for i in 0..n {
        let f = codec.to_national(&envelope(Nation::Jp, i)).unwrap();
        codec.encode(&f, &mut wire).unwrap();
    }
    let frame_len = wire.len() / n.max(1);
    let mut conn = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", in_port)).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let t0 = Instant::now();
    conn.write_all(&wire).await.unwrap();
    conn.flush().await.unwrap();
    while stream_count(&js, "TL_IN").await < n as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ingress = t0.elapsed();
    let rss_after_ingress = rss_kb();

    // Egress.
    let bodies: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut e = envelope(Nation::Us, n + i);
            e.relayed_at = Some(Utc::now());
            e.to_json().unwrap()
        })
        .collect();
    for b in &bodies {
        let _ = js
            .publish("tl.out.jp.launch_detection", b.clone().into())
            .await
            .unwrap();
    }
    let js2 = js.clone();
    while stream_count(&js2, "TL_OUT_JP").await < n as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let t1 = Instant::now();
    if let Some((_, rx)) = &mut national {
        let codec = JpCodec::new();
        for got in 0..n {
            let m = tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "egress stalled after {got} publishes; mosquitto log:\n{}",
                        mosquitto
                            .as_ref()
                            .map(Mosquitto::log_text)
                            .unwrap_or_default()
                    )
                })
                .unwrap();
            codec.decode_message(&m.payload).unwrap();
        }
    } else {
        let (mut sock, _) = out_listener.accept().await.unwrap();
        let mut dec = StreamDecoder::new(Arc::new(JpCodec::new()));
        let mut got = 0;
        while got < n {
            let r = dec.read_buf(&mut sock).await.unwrap();
            assert!(r > 0, "egress connection closed after {got}");
            while let Some(item) = dec.next_item() {
                item.unwrap();
                got += 1;
            }
        }
    }
    let egress = t1.elapsed();

    token.cancel();
    let summary = run.await.unwrap().unwrap();
    println!(
        "messages: {n}, JP frame {frame_len} bytes, max_in_flight {in_flight}, JetStream file storage, R1, loopback"
    );
    println!(
        "ingress  TCP -> decode/translate/validate -> JetStream acked: {:.3} s, {:.0} msg/s",
        ingress.as_secs_f64(),
        n as f64 / ingress.as_secs_f64()
    );
    println!(
        "egress   pull consumer -> to_national/encode -> {}, all frames received: {:.3} s, {:.0} msg/s (stream pre-filled; egress.max_in_flight {})",
        if mqtt {
            "MQTT QoS 1 (mosquitto)"
        } else {
            "TCP"
        },
        egress.as_secs_f64(),
        n as f64 / egress.as_secs_f64(),
        window.map_or_else(|| "default".to_owned(), |w| w.to_string())
    );
    stop.cancel();
    println!("process RSS after ingress (bench driver + adapter + client): {rss_after_ingress} kB");
    println!("summary: {summary:?}");
}
