//! The generic adapter driven by the real national codecs (`trilink-jp`, `trilink-kr`,
//! `trilink-us`) against real nats-server and mosquitto: a JP UDP frame is published on
//! `tl.in.jp`, handed (as the relay would) to `tl.out.kr` and `tl.out.us`, and arrives at the
//! KR system over MQTT and the US system over TCP in their formats with equal fields. JP's
//! invalid test vectors are dead-lettered with the vector's error code.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use chrono::Utc;
use common::*;
use trilink_jp::JpCodec;
use trilink_kr::KrCodec;
use trilink_schema::{Decoded, Envelope, GeoPoint, NationalCodec, Payload};
use trilink_us::UsCodec;

const WAIT: Duration = Duration::from_secs(15);

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
    let hub = Hub::start(&[TL_IN, TL_DLQ, TL_OUT_KR, TL_OUT_US]).await;
    let (url, js) = (&hub.url, &hub.js);
    let mosq = start_mosquitto();

    let jp_port = free_udp_port();
    let us_out = free_port();
    let token = trilink_runtime::CancellationToken::new();
    let jp = adapter_with(
        "jp",
        url,
        &endpoint_toml("ingress", "udp", &format!("bind = \"127.0.0.1:{jp_port}\"")),
    );
    let kr = adapter_with(
        "kr",
        url,
        &(egress_toml("kr", "")
            + &mqtt_toml(
                "egress.outputs",
                mosq.port(),
                "trilink-kr-out",
                "kr/c2/in",
                "",
            )),
    );
    let us = adapter_with(
        "us",
        url,
        &(egress_toml("us", "nak_delay_ms = 200")
            + &endpoint_toml(
                "egress.outputs",
                "tcp_server",
                &format!("bind = \"127.0.0.1:{us_out}\""),
            )),
    );
    let runs = [
        spawn_adapter_on(&token, jp, JpCodec::new()),
        spawn_adapter_on(&token, kr, KrCodec),
        spawn_adapter_on(&token, us, UsCodec::new()),
    ];

    // The KR national system listens on its broker.
    let (_kr_sys, mut kr_rx, driver) =
        national_mqtt("kr-c2", mosq.port(), 1 << 20, None, Some("kr/c2/in")).await;
    // The US national system connects to the adapter's SIMPLE output.
    let mut us_sys = connect_retrying(us_out).await;

    // A JP frame built by the JP codec from the spec's worked example, with current times.
    let env = fresh_vector("jp", "launch_detection");
    let bytes = encode_national(&JpCodec::new(), &env);
    let national = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Retry until the adapter's socket is bound; JetStream de-duplicates the retransmissions.
    send_until_stored(
        js,
        1,
        WAIT,
        Duration::from_millis(150),
        "JP frame",
        || async {
            national
                .send_to(&bytes, ("127.0.0.1", jp_port))
                .await
                .unwrap();
        },
    )
    .await;
    let m = raw_message(js, "TL_IN", 1).await;
    assert_eq!(m.subject.as_str(), "tl.in.jp.launch_detection");
    let published = Envelope::from_json(&m.payload).unwrap();
    assert_same("tl.in.jp vs JP input", &published, &env);

    // Invalid JP vectors: each is dead-lettered with the vector's code.
    let mut codes = Vec::new();
    for name in ["bad_checksum", "truncated", "oversize", "unknown_type"] {
        let code = vector_text("jp", &format!("{name}.error"));
        national
            .send_to(&vector_hex("jp", name), ("127.0.0.1", jp_port))
            .await
            .unwrap();
        codes.push(code.trim().to_owned());
    }
    wait_count(js, "TL_DLQ", 4, WAIT).await;
    for (i, code) in codes.iter().enumerate() {
        let (_, reason, _) = dead_letter(js, i as u64 + 1).await;
        assert_eq!(&reason, code, "vector #{i}");
    }

    // What the relay would do: release to KR and US with relayed_at stamped.
    let mut relayed = published.clone();
    relayed.relayed_at = Some(Utc::now());
    for dest in ["kr", "us"] {
        publish_envelope(js, &format!("tl.out.{dest}.launch_detection"), &relayed).await;
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
    let mut dec = stream_decoder(UsCodec::new());
    let us_frame = next_frame(&mut dec, &mut us_sys, WAIT, "US output closed").await;
    let us_env = UsCodec::new().to_common(&us_frame, Utc::now()).unwrap();
    assert_same("US national output", &us_env, &published);

    let summaries = stop_all(&token, runs, WAIT).await;
    for s in &summaries {
        assert!(s.drained, "{s:?}");
    }
    assert!(summaries[0].published >= 1, "{:?}", summaries[0]);
    assert_eq!(summaries[0].ingress_rejected, 4, "{:?}", summaries[0]);
    // Delivered and acknowledged, even though shutdown came right after the delivery.
    assert_eq!(summaries[1].delivered, 1, "KR: {:?}", summaries[1]);
    assert_eq!(summaries[2].delivered, 1, "US: {:?}", summaries[2]);
    driver.abort();
}
