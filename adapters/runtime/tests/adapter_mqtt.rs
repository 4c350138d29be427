//! The KR-style adapter over MQTT (QoS 1) against real mosquitto and nats-server.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::Duration;

use common::*;
use futures::StreamExt;
use trilink_schema::{Decoded, Envelope, Nation, NationalCodec, headers};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_mqtt_adapter_both_directions() {
    let hub = Hub::start(&[TL_IN, TL_DLQ, TL_OUT_KR]).await;
    let (url, js) = (&hub.url, &hub.js);
    let mosq = start_mosquitto();

    let toml = adapter_toml("kr", url, "")
        + &mqtt_toml("ingress", mosq.port(), "trilink-kr-in", "kr/sys/out", "")
        + &egress_toml("kr", "")
        + &mqtt_toml(
            "egress.outputs",
            mosq.port(),
            "trilink-kr-out",
            "kr/sys/in",
            "",
        );
    let adapter = spawn_adapter(adapter_config(&toml, "kr.toml"), TestCodec::<Kr>::default());

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
    kr_publish_until_stored(js, &national, &env, WAIT, "MQTT input").await;

    // Garbage over MQTT is dead-lettered.
    mqtt_publish(&national, "kr/sys/out", b"$GARBAGE*00".to_vec()).await;
    wait_at_least(js, "TL_DLQ", 1, WAIT, "no dead letter").await;
    let d = raw_message(js, "TL_DLQ", 1).await;
    assert_eq!(d.subject.as_str(), "tl.dlq.kr");
    assert_eq!(
        d.headers.get(headers::DLQ_REASON).unwrap().as_str(),
        "bad_sync"
    );
    assert_eq!(d.payload.as_ref(), b"$GARBAGE*00");

    // Egress: a JP message released to KR comes out on kr/sys/in in the national format.
    let from_jp = launch(Nation::Jp, "jp-1", &[Nation::Jp, Nation::Kr]);
    publish_envelope(js, "tl.out.kr.launch_detection", &from_jp).await;
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
    wait_consumer(
        js,
        ("TL_OUT_KR", "adapter-kr"),
        WAIT,
        "egress never acked",
        |info| info.ack_floor.stream_sequence == 1,
    )
    .await;

    let summary = adapter.stop(WAIT).await;
    assert!(summary.published >= 1);
    assert_eq!(summary.delivered, 1);
    driver.abort();
}

/// An MQTT input is acknowledged to the broker only after JetStream stored it: when the
/// publish fails, the adapter's restart gets the message again from the broker's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_mqtt_input_unacked_until_stored_is_redelivered_after_restart() {
    let hub = Hub::start(&[]).await;
    let (url, js) = (&hub.url, &hub.js);
    let mosq = start_mosquitto();
    // Lines right after the head are [nats] settings.
    let toml = adapter_toml("kr", url, "drain_timeout_ms = 3000")
        + "publish_retries = 1\nack_timeout_ms = 500\n"
        + &mqtt_toml(
            "ingress",
            mosq.port(),
            "trilink-kr-in",
            "kr/sys/out",
            "persistent_session = true",
        );
    let cfg = adapter_config(&toml, "kr.toml");

    let (national, _rx, driver) =
        national_mqtt("kr-national-2", mosq.port(), 1 << 20, None, None).await;

    // First run: no stream captures tl.in.kr.*, so the publish cannot be stored.
    let mut dlq = hub.client.subscribe("tl.dlq.kr").await.unwrap();
    let adapter = spawn_adapter(cfg.clone(), TestCodec::<Kr>::default());
    // Wait for the adapter's subscription: garbage comes back as a dead letter once it is in place.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        mqtt_publish(&national, "kr/sys/out", b"garbage".to_vec()).await;
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
    mqtt_publish(&national, "kr/sys/out", frame_for(&env)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let s1 = adapter.stop(WAIT).await;
    assert_eq!(s1.publish_failed, 1, "{s1:?}");

    // Second run with the stream in place: the broker redelivers the unacknowledged publish.
    create_streams(js, &[TL_IN]).await;
    let adapter = spawn_adapter(cfg, TestCodec::<Kr>::default());
    wait_at_least(
        js,
        "TL_IN",
        1,
        WAIT,
        "the unacknowledged MQTT message was not redelivered",
    )
    .await;
    let m = raw_message(js, "TL_IN", 1).await;
    assert_eq!(
        m.headers.get(headers::MSG_ID).unwrap().as_str(),
        env.message_id.to_string()
    );
    let s2 = adapter.stop(WAIT).await;
    assert_eq!(s2.publish_failed, 0);
    driver.abort();
}
