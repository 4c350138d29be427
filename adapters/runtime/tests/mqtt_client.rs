//! The tools' MQTT client (`trilink_runtime::mqtt_client`) against a real mosquitto:
//! CONNACK wait, QoS 1 publishes counted to their PUBACKs with the write instants kept,
//! subscriptions delivered in order and renewed after the broker restarts, and a broker that
//! is not there refused within the wait.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio_util::sync::CancellationToken;
use trilink_runtime::mqtt_client::{MqttClient, MqttClientError, MqttClientOptions};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_are_acked_written_and_received_in_order() {
    let mosq = start_mosquitto();
    let stop = CancellationToken::new();
    let (sub, mut incoming) = MqttClient::connect(
        MqttClientOptions::new("test-sub", "127.0.0.1", mosq.port()),
        &stop,
        WAIT,
    )
    .await
    .unwrap();
    sub.subscribe("t/in").await.unwrap();
    sub.wait_subscribed(WAIT).await.unwrap();
    let (publisher, _) = MqttClient::connect(
        MqttClientOptions::new("test-pub", "127.0.0.1", mosq.port()).record_writes(),
        &stop,
        WAIT,
    )
    .await
    .unwrap();
    let n = 200_u64;
    for i in 0..n {
        publisher
            .publish("t/in", format!("m{i}").into_bytes())
            .await
            .unwrap();
    }
    assert_eq!(publisher.published(), n);
    assert_eq!(publisher.wait_acked(WAIT).await, 0, "PUBACKs missing");
    assert_eq!(publisher.acked(), n);
    let writes = publisher.writes();
    assert_eq!(writes.len() as u64, n, "one write instant per PUBLISH");
    assert!(
        writes.windows(2).all(|w| w[0] <= w[1]),
        "write instants out of order"
    );
    for i in 0..n {
        let m = tokio::time::timeout(WAIT, incoming.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(m.topic, "t/in");
        assert_eq!(&m.payload[..], format!("m{i}").as_bytes());
    }
    publisher.disconnect().await;
    sub.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_is_renewed_after_the_broker_restarts() {
    let port = free_port();
    let conf = format!("listener {port} 127.0.0.1\nallow_anonymous true");
    let mosq = start_mosquitto_conf(&[port], &conf);
    let stop = CancellationToken::new();
    let opts = |id: &str| {
        MqttClientOptions::new(id, "127.0.0.1", port).retry_after(Duration::from_millis(100))
    };
    let (sub, mut incoming) = MqttClient::connect(opts("renew-sub"), &stop, WAIT)
        .await
        .unwrap();
    sub.subscribe("t/renew").await.unwrap();
    sub.wait_subscribed(WAIT).await.unwrap();
    let (publisher, _) = MqttClient::connect(opts("renew-pub"), &stop, WAIT)
        .await
        .unwrap();

    // A fresh broker knows no session: the client must subscribe again by itself.
    drop(mosq);
    let _mosq = start_mosquitto_conf(&[port], &conf);
    let deadline = Instant::now() + Duration::from_secs(20);
    let got = loop {
        assert!(
            Instant::now() < deadline,
            "nothing received after the restart: the subscription was not renewed"
        );
        publisher
            .publish("t/renew", b"after".to_vec())
            .await
            .unwrap();
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(300), incoming.recv()).await
        {
            break m;
        }
    };
    assert_eq!(&got.payload[..], b"after");
    stop.cancel();
}

#[tokio::test]
async fn no_broker_is_refused_within_the_wait() {
    let port = free_port();
    let t0 = Instant::now();
    let err = MqttClient::connect(
        MqttClientOptions::new("nobody", "127.0.0.1", port),
        &CancellationToken::new(),
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, MqttClientError::NotConnected { .. }), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(
        err.to_string().contains("did not accept a connection"),
        "{err}"
    );
}
