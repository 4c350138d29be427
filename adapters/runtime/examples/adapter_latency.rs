//! National-frame-in → national-frame-out latency through two adapters and JetStream, with a
//! minimal forwarder in place of the hub relay (no policy, no leaf nodes): a JP frame over UDP
//! → JP adapter → `tl.in.jp.*` (JetStream) → forwarder → `tl.out.us.*` (JetStream) → US
//! adapter (durable pull consumer) → SIMPLE frame over TCP. Prints latency percentiles at a
//! fixed send rate.
//!
//! ```text
//! cargo run --release -p trilink-runtime --example adapter_latency -- [rate_per_s] [seconds]
//! ```
//! Needs `nats-server` on PATH (or `NATS_SERVER_BIN`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use bytes::BytesMut;
use chrono::Utc;
use futures::StreamExt;
use trilink_brokers::testing::{Hub, free_port};
use trilink_jp::JpCodec;
use trilink_runtime::adapter::{self, AdapterConfig};
use trilink_runtime::transport::StreamDecoder;
use trilink_schema::testing::sample::worked_launch;
use trilink_schema::{Envelope, Nation, NationalCodec, Subject};
use trilink_us::UsCodec;

/// JP's worked launch detection, national message id `lat-<i>`, observed 1 ms ago.
fn envelope(i: usize) -> Envelope {
    let at = Utc::now() - chrono::Duration::milliseconds(1);
    worked_launch(Nation::Jp, format!("lat-{i}"), at)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rate: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let n = (rate * secs) as usize;

    let hub = Hub::start_like(
        &[
            ("TL_IN", "tl.in.>"),
            ("TL_OUT_US", "tl.out.us.>"),
            ("TL_DLQ", "tl.dlq.>"),
        ],
        &stream::Config {
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        },
    )
    .await;
    let (url, js) = (hub.url.clone(), hub.js.clone());

    // Forwarder standing in for the relay: durable consumer on TL_IN, publish to tl.out.us.
    let fwd_js = js.clone();
    let forwarder = tokio::spawn(async move {
        let consumer = fwd_js
            .get_stream("TL_IN")
            .await
            .unwrap()
            .get_or_create_consumer(
                "fwd",
                jetstream::consumer::pull::Config {
                    durable_name: Some("fwd".into()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut msgs = consumer.messages().await.unwrap();
        while let Some(Ok(m)) = msgs.next().await {
            let mut env = Envelope::from_json(&m.payload).unwrap();
            env.relayed_at = Some(Utc::now());
            let subj = Subject::output_for(&env, Nation::Us).to_string();
            let ack = fwd_js
                .send_publish(
                    subj,
                    jetstream::message::PublishMessage::build()
                        .payload(env.to_json().unwrap().into())
                        .message_id(env.message_id.to_string()),
                )
                .await
                .unwrap();
            tokio::spawn(async move {
                if ack.await.is_ok() {
                    let _ = m.ack().await;
                }
            });
        }
    });

    let jp_port = free_port();
    let us_port = free_port();
    let jp: AdapterConfig = trilink_runtime::config::load_str(
        &format!(
            "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 0\n[telemetry]\nlog_filter = \"warn\"\n\
             [nats]\nurl = \"{url}\"\n[[ingress]]\ntype = \"udp\"\nbind = \"127.0.0.1:{jp_port}\"\nrecv_buffer = 4194304\n"
        ),
        Path::new("jp.toml"),
        Vec::new(),
    )
    .unwrap();
    let us: AdapterConfig = trilink_runtime::config::load_str(
        &format!(
            "[adapter]\nnation = \"us\"\nheartbeat_interval_ms = 0\n[telemetry]\nlog_filter = \"warn\"\n\
             [nats]\nurl = \"{url}\"\n[egress]\nstream = \"TL_OUT_US\"\ndurable = \"adapter-us\"\n\
             [[egress.outputs]]\ntype = \"tcp_server\"\nbind = \"127.0.0.1:{us_port}\"\n"
        ),
        Path::new("us.toml"),
        Vec::new(),
    )
    .unwrap();
    let token = trilink_runtime::CancellationToken::new();
    let runs = [
        tokio::spawn(adapter::run(jp, JpCodec::new(), token.clone())),
        tokio::spawn(adapter::run(us, UsCodec::new(), token.clone())),
    ];
    let mut us_sys = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", us_port)).await {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Pre-encode JP frames.
    let codec = JpCodec::new();
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut b = BytesMut::new();
            codec
                .encode(&codec.to_national(&envelope(i)).unwrap(), &mut b)
                .unwrap();
            b.to_vec()
        })
        .collect();
    let sent_at: Arc<Vec<std::sync::OnceLock<Instant>>> =
        Arc::new((0..n).map(|_| std::sync::OnceLock::new()).collect());

    let receiver = {
        let sent_at = sent_at.clone();
        tokio::spawn(async move {
            let mut dec = StreamDecoder::new(Arc::new(UsCodec::new()));
            let us = UsCodec::new();
            let mut lat = Vec::with_capacity(n);
            while lat.len() < n {
                let r =
                    tokio::time::timeout(Duration::from_secs(10), dec.read_buf(&mut us_sys)).await;
                let Ok(Ok(r)) = r else { break };
                if r == 0 {
                    break;
                }
                let now = Instant::now();
                while let Some(item) = dec.next_item() {
                    let (frame, _) = item.unwrap();
                    let env = us.to_common(&frame, Utc::now()).unwrap();
                    let idx: usize = env.source.national_message_id["lat-".len()..]
                        .parse()
                        .unwrap();
                    if let Some(t) = sent_at[idx].get() {
                        lat.push(now - *t);
                    }
                }
            }
            lat
        })
    };

    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let period = Duration::from_nanos(1_000_000_000 / rate.max(1));
    let start = Instant::now();
    for (i, f) in frames.iter().enumerate() {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let _ = sent_at[i].set(Instant::now());
        sock.send_to(f, ("127.0.0.1", jp_port)).await.unwrap();
    }
    let mut lat = receiver.await.unwrap();
    token.cancel();
    for r in runs {
        let _ = r.await;
    }
    forwarder.abort();
    lat.sort();
    println!(
        "rate {rate}/s for {secs} s: sent {n}, received {} national frames",
        lat.len()
    );
    println!(
        "JP UDP in -> JP adapter -> JetStream -> forwarder -> JetStream -> US adapter -> TCP out"
    );
    println!(
        "latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  max {:.3}",
        pct(&lat, 0.50),
        pct(&lat, 0.90),
        pct(&lat, 0.99),
        pct(&lat, 1.0)
    );
}
