//! The generic adapter driven by the real national codecs (`trilink-jp`, `trilink-kr`,
//! `trilink-us`) against real nats-server and mosquitto: a JP UDP frame is published on
//! `tl.in.jp`, handed (as the relay would) to `tl.out.kr` and `tl.out.us`, and arrives at the
//! KR system over MQTT and the US system over TCP in their formats with equal fields. JP's
//! invalid test vectors are dead-lettered with the vector's error code.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use chrono::{Duration as ChronoDuration, Utc};
use common::*;
use trilink_jp::JpCodec;
use trilink_kr::KrCodec;
use trilink_runtime::adapter::{self, AdapterConfig};
use trilink_runtime::config;
use trilink_runtime::transport::StreamDecoder;
use trilink_schema::{Decoded, Envelope, GeoPoint, NationalCodec, Payload, headers};
use trilink_us::UsCodec;

const WAIT: Duration = Duration::from_secs(15);

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/vectors/jp")
}

fn parse_hex(text: &str) -> Vec<u8> {
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<String>()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

fn cfg(text: &str, name: &str) -> AdapterConfig {
    config::load_str(text, Path::new(name), Vec::<(String, String)>::new()).unwrap()
}

fn launch_point(e: &Envelope) -> GeoPoint {
    match &e.payload {
        Payload::LaunchDetection(l) => l.launch_point,
        other => panic!("not a launch detection: {other:?}"),
    }
}

fn assert_same(what: &str, got: &Envelope, want: &Envelope) {
    assert_eq!(got.message_id, want.message_id, "{what}");
    assert_eq!(got.origin, want.origin, "{what}");
    assert_eq!(got.mode, want.mode, "{what}");
    assert_eq!(got.releasability, want.releasability, "{what}");
    assert_eq!(got.source, want.source, "{what}");
    let (g, w) = (launch_point(got), launch_point(want));
    assert!(
        (g.lat_deg - w.lat_deg).abs() < 1e-5,
        "{what}: lat {} vs {}",
        g.lat_deg,
        w.lat_deg
    );
    assert!(
        (g.lon_deg - w.lon_deg).abs() < 1e-5,
        "{what}: lon {} vs {}",
        g.lon_deg,
        w.lon_deg
    );
    assert!(
        (g.alt_m - w.alt_m).abs() < 1.0,
        "{what}: alt {} vs {}",
        g.alt_m,
        w.alt_m
    );
    let dt = (got.observed_at - want.observed_at)
        .num_microseconds()
        .unwrap()
        .abs();
    assert!(dt <= 1_000, "{what}: observed_at differs by {dt} us");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_frame_reaches_kr_over_mqtt_and_us_over_tcp() {
    let nats = start_nats();
    let mosq = start_mosquitto();
    let url = nats.url();
    let (_client, js) = connect_js(&url).await;
    create_streams(
        &js,
        &[
            ("TL_IN", "tl.in.>"),
            ("TL_DLQ", "tl.dlq.>"),
            ("TL_OUT_KR", "tl.out.kr.>"),
            ("TL_OUT_US", "tl.out.us.>"),
        ],
    )
    .await;

    let jp_port = free_udp_port();
    let us_out = free_port();
    let token = trilink_runtime::CancellationToken::new();
    let jp = cfg(
        &format!(
            "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 0\n[nats]\nurl = \"{url}\"\n\
             [[ingress]]\ntype = \"udp\"\nbind = \"127.0.0.1:{jp_port}\"\n"
        ),
        "jp.toml",
    );
    let kr = cfg(
        &format!(
            "[adapter]\nnation = \"kr\"\nheartbeat_interval_ms = 0\n[nats]\nurl = \"{url}\"\n\
             [egress]\nstream = \"TL_OUT_KR\"\ndurable = \"adapter-kr\"\n\
             [[egress.outputs]]\ntype = \"mqtt\"\nhost = \"127.0.0.1\"\nport = {}\n\
             client_id = \"trilink-kr-out\"\ntopic = \"kr/c2/in\"\n",
            mosq.port()
        ),
        "kr.toml",
    );
    let us = cfg(
        &format!(
            "[adapter]\nnation = \"us\"\nheartbeat_interval_ms = 0\n[nats]\nurl = \"{url}\"\n\
             [egress]\nstream = \"TL_OUT_US\"\ndurable = \"adapter-us\"\nnak_delay_ms = 200\n\
             [[egress.outputs]]\ntype = \"tcp_server\"\nbind = \"127.0.0.1:{us_out}\"\n"
        ),
        "us.toml",
    );
    let runs = [
        tokio::spawn(adapter::run(jp, JpCodec::new(), token.clone())),
        tokio::spawn(adapter::run(kr, KrCodec, token.clone())),
        tokio::spawn(adapter::run(us, UsCodec::new(), token.clone())),
    ];

    // The KR national system listens on its broker.
    let (_kr_sys, mut kr_rx, driver) =
        national_mqtt("kr-c2", mosq.port(), 1 << 20, None, Some("kr/c2/in")).await;
    // The US national system connects to the adapter's SIMPLE output.
    let mut us_sys = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", us_out)).await {
            Ok(s) => break s,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };

    // A JP frame built by the JP codec from the spec's worked example, with current times.
    let text = std::fs::read_to_string(vectors().join("launch_detection.json")).unwrap();
    let mut env: Envelope = serde_json::from_str(&text).unwrap();
    let now = Utc::now();
    env.observed_at = now - ChronoDuration::milliseconds(1500);
    env.ingested_at = now - ChronoDuration::milliseconds(1000);
    if let Payload::LaunchDetection(l) = &mut env.payload {
        l.launch_time = now - ChronoDuration::seconds(30);
    }
    let jp = JpCodec::new();
    let frame = jp.to_national(&env).unwrap();
    let mut bytes = BytesMut::new();
    jp.encode(&frame, &mut bytes).unwrap();
    let national = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Retry until the adapter's socket is bound; JetStream de-duplicates the retransmissions.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        national
            .send_to(&bytes, ("127.0.0.1", jp_port))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        let n = stream_count(&js, "TL_IN").await;
        if n > 0 {
            assert_eq!(n, 1);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "JP frame never published"
        );
    }
    let m = raw_message(&js, "TL_IN", 1).await;
    assert_eq!(m.subject.as_str(), "tl.in.jp.launch_detection");
    let published = Envelope::from_json(&m.payload).unwrap();
    assert_same("tl.in.jp vs JP input", &published, &env);

    // Invalid JP vectors: each is dead-lettered with the vector's code.
    let mut codes = Vec::new();
    for name in ["bad_checksum", "truncated", "oversize", "unknown_type"] {
        let hex = std::fs::read_to_string(vectors().join(format!("{name}.hex"))).unwrap();
        let code = std::fs::read_to_string(vectors().join(format!("{name}.error"))).unwrap();
        national
            .send_to(&parse_hex(&hex), ("127.0.0.1", jp_port))
            .await
            .unwrap();
        codes.push(code.trim().to_owned());
    }
    wait_count(&js, "TL_DLQ", 4, WAIT).await;
    for (i, code) in codes.iter().enumerate() {
        let d = raw_message(&js, "TL_DLQ", i as u64 + 1).await;
        assert_eq!(
            d.headers.get(headers::DLQ_REASON).unwrap().as_str(),
            code,
            "vector #{i}"
        );
    }

    // What the relay would do: release to KR and US with relayed_at stamped.
    let mut relayed = published.clone();
    relayed.relayed_at = Some(Utc::now());
    for dest in ["kr", "us"] {
        js.publish(
            format!("tl.out.{dest}.launch_detection"),
            relayed.to_json().unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }

    // KR receives a KR sentence.
    let payload = tokio::time::timeout(WAIT, kr_rx.recv())
        .await
        .unwrap()
        .unwrap();
    let krc = KrCodec;
    let Decoded::Frame { frame, .. } = krc.decode(&payload).unwrap() else {
        panic!("partial KR sentence");
    };
    let kr_env = krc.to_common(&frame, Utc::now()).unwrap();
    assert_same("KR national output", &kr_env, &published);

    // US receives a SIMPLE packet.
    let mut dec = StreamDecoder::new(Arc::new(UsCodec::new()));
    let us_frame = loop {
        let n = tokio::time::timeout(WAIT, dec.read_buf(&mut us_sys))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "US output closed");
        if let Some(item) = dec.next_item() {
            break item.unwrap().0;
        }
    };
    let us_env = UsCodec::new().to_common(&us_frame, Utc::now()).unwrap();
    assert_same("US national output", &us_env, &published);

    token.cancel();
    let mut summaries = Vec::new();
    for r in runs {
        let s = tokio::time::timeout(WAIT, r)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert!(s.drained, "{s:?}");
        summaries.push(s);
    }
    assert!(summaries[0].published >= 1, "{:?}", summaries[0]);
    assert_eq!(summaries[0].ingress_rejected, 4, "{:?}", summaries[0]);
    // Delivered and acknowledged, even though shutdown came right after the delivery.
    assert_eq!(summaries[1].delivered, 1, "KR: {:?}", summaries[1]);
    assert_eq!(summaries[2].delivered, 1, "US: {:?}", summaries[2]);
    driver.abort();
}
