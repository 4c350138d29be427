//! The KR-style adapter over MQTT (QoS 1) against real mosquitto and nats-server.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use async_nats::jetstream;
use common::*;
use futures::StreamExt;
use rumqttc::QoS;
use trilink_runtime::adapter::{self, AdapterConfig};
use trilink_runtime::config;
use trilink_schema::{Decoded, Envelope, Nation, NationalCodec, headers};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_mqtt_adapter_both_directions() {
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
        ],
    )
    .await;

    let toml = format!(
        r#"
[adapter]
nation = "kr"
heartbeat_interval_ms = 0

[nats]
url = "{url}"

[[ingress]]
type = "mqtt"
host = "127.0.0.1"
port = {port}
client_id = "trilink-kr-in"
topic = "kr/sys/out"

[egress]
stream = "TL_OUT_KR"
durable = "adapter-kr"

[[egress.outputs]]
type = "mqtt"
host = "127.0.0.1"
port = {port}
client_id = "trilink-kr-out"
topic = "kr/sys/in"
"#,
        port = mosq.port()
    );
    let cfg: AdapterConfig =
        config::load_str(&toml, Path::new("kr.toml"), Vec::<(String, String)>::new()).unwrap();
    let token = trilink_runtime::CancellationToken::new();
    let run = tokio::spawn(adapter::run(cfg, TestCodec::<Kr>::default(), token.clone()));

    // The "KR national system": an MQTT client on the same broker.
    let (national, mut rx, driver) = national_mqtt(
        "kr-national",
        mosq.port(),
        1 << 20,
        Some(Duration::from_secs(10)),
        Some("kr/sys/in"),
    )
    .await;

    // Ingress: publish until the adapter's subscription is in place and the message lands.
    let env = launch(Nation::Kr, "kr-1", &[Nation::Kr, Nation::Jp]);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        national
            .publish("kr/sys/out", QoS::AtLeastOnce, false, frame_for(&env))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let n = stream_count(&js, "TL_IN").await;
        if n >= 1 {
            assert_eq!(n, 1, "retransmissions must be de-duplicated");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "MQTT input never published"
        );
    }
    let m = raw_message(&js, "TL_IN", 1).await;
    assert_eq!(m.subject.as_str(), "tl.in.kr.launch_detection");
    assert_eq!(
        m.headers.get(headers::MSG_ID).unwrap().as_str(),
        env.message_id.to_string()
    );

    // Garbage over MQTT is dead-lettered.
    national
        .publish(
            "kr/sys/out",
            QoS::AtLeastOnce,
            false,
            b"$GARBAGE*00".to_vec(),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while stream_count(&js, "TL_DLQ").await < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let d = raw_message(&js, "TL_DLQ", 1).await;
    assert_eq!(d.subject.as_str(), "tl.dlq.kr");
    assert_eq!(
        d.headers.get(headers::DLQ_REASON).unwrap().as_str(),
        "bad_sync"
    );
    assert_eq!(d.payload.as_ref(), b"$GARBAGE*00");

    // Egress: a JP message released to KR comes out on kr/sys/in in the national format.
    let from_jp = launch(Nation::Jp, "jp-1", &[Nation::Jp, Nation::Kr]);
    publish_envelope(&js, "tl.out.kr.launch_detection", &from_jp).await;
    let payload = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    let codec = TestCodec::<Kr>::default();
    let Decoded::Frame { frame, .. } = codec.decode(&payload).unwrap() else {
        panic!("incomplete frame over MQTT");
    };
    let frame: Envelope = frame;
    assert_eq!(frame.message_id, from_jp.message_id);
    assert_eq!(frame.origin, Nation::Jp);

    // Acked after the PUBACK.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut c: jetstream::consumer::PullConsumer = js
            .get_stream("TL_OUT_KR")
            .await
            .unwrap()
            .get_consumer("adapter-kr")
            .await
            .unwrap();
        let info = c.info().await.unwrap();
        if info.ack_floor.stream_sequence == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "egress never acked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    token.cancel();
    let summary = tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(summary.published >= 1);
    assert_eq!(summary.delivered, 1);
    driver.abort();
}

/// An MQTT input is acknowledged to the broker only after JetStream stored it: when the
/// publish fails, the adapter's restart gets the message again from the broker's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_mqtt_input_unacked_until_stored_is_redelivered_after_restart() {
    let nats = start_nats();
    let mosq = start_mosquitto();
    let url = nats.url();
    let (client, js) = connect_js(&url).await;
    let toml = format!(
        r#"
[adapter]
nation = "kr"
heartbeat_interval_ms = 0
drain_timeout_ms = 3000

[nats]
url = "{url}"
publish_retries = 1
ack_timeout_ms = 500

[[ingress]]
type = "mqtt"
host = "127.0.0.1"
port = {port}
client_id = "trilink-kr-in"
topic = "kr/sys/out"
persistent_session = true
"#,
        port = mosq.port()
    );
    let cfg: AdapterConfig =
        config::load_str(&toml, Path::new("kr.toml"), Vec::<(String, String)>::new()).unwrap();

    let (national, _rx, driver) =
        national_mqtt("kr-national-2", mosq.port(), 1 << 20, None, None).await;

    // First run: no stream captures tl.in.kr.*, so the publish cannot be stored.
    let mut dlq = client.subscribe("tl.dlq.kr").await.unwrap();
    let token = trilink_runtime::CancellationToken::new();
    let run = tokio::spawn(adapter::run(
        cfg.clone(),
        TestCodec::<Kr>::default(),
        token.clone(),
    ));
    // Wait for the adapter's subscription: garbage comes back as a dead letter once it is in place.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        national
            .publish("kr/sys/out", QoS::AtLeastOnce, false, b"garbage".to_vec())
            .await
            .unwrap();
        if tokio::time::timeout(Duration::from_millis(200), dlq.next())
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "adapter never subscribed"
        );
    }
    let env = launch(Nation::Kr, "kr-redeliver", &[Nation::Kr]);
    national
        .publish("kr/sys/out", QoS::AtLeastOnce, false, frame_for(&env))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    token.cancel();
    let s1 = tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(s1.publish_failed, 1, "{s1:?}");

    // Second run with the stream in place: the broker redelivers the unacknowledged publish.
    create_streams(&js, &[("TL_IN", "tl.in.>")]).await;
    let token = trilink_runtime::CancellationToken::new();
    let run = tokio::spawn(adapter::run(cfg, TestCodec::<Kr>::default(), token.clone()));
    let deadline = tokio::time::Instant::now() + WAIT;
    while stream_count(&js, "TL_IN").await < 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the unacknowledged MQTT message was not redelivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let m = raw_message(&js, "TL_IN", 1).await;
    assert_eq!(
        m.headers.get(headers::MSG_ID).unwrap().as_str(),
        env.message_id.to_string()
    );
    token.cancel();
    let s2 = tokio::time::timeout(WAIT, run)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(s2.publish_failed, 0);
    driver.abort();
}
