//! The egress window (`[egress] max_in_flight`): several MQTT QoS 1 publishes awaiting their
//! PUBACKs at once, against real mosquitto and nats-server. Everything arrives in order and
//! once; a broker killed (SIGKILL) with a full window in flight loses nothing, and the
//! duplicates stay within what the journal documents (`trilink_runtime::journal`: at most
//! `max_in_flight`). Each test also runs with a window of 1 (one delivery at a time), the
//! control.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashSet;
use std::process::Command;
use std::time::Duration;

use common::*;
use trilink_runtime::CancellationToken;
use trilink_runtime::mqtt_client::{Incoming, MqttClient, MqttClientOptions};
use trilink_schema::{Decoded, Envelope, MessageId, Nation, NationalCodec};

const WAIT: Duration = Duration::from_secs(20);
const TOPIC: &str = "kr/sys/in";

/// An egress-only KR adapter publishing to mosquitto on `port` with `window` in flight.
fn egress_adapter(url: &str, port: u16, window: usize) -> RunningAdapter {
    let toml = adapter_toml("kr", url, "")
        + &egress_toml(
            "kr",
            &format!("max_in_flight = {window}\nbatch = 64\nnak_delay_ms = 100"),
        )
        + &mqtt_toml("egress.outputs", port, "trilink-kr-out", TOPIC, "");
    spawn_adapter(adapter_config(&toml, "kr.toml"), TestCodec::<Kr>::default())
}

/// The KR national system: a subscriber on `TOPIC` that keeps its session at the broker.
async fn national(port: u16, stop: &CancellationToken) -> (MqttClient, Incoming) {
    let opts = MqttClientOptions::new("kr-national", "127.0.0.1", port)
        .persistent_session()
        .capacity(4096)
        .retry_after(Duration::from_millis(50));
    let (c, rx) = MqttClient::connect(opts, stop, WAIT).await.unwrap();
    c.subscribe(TOPIC).await.unwrap();
    c.wait_subscribed(WAIT).await.unwrap();
    (c, rx)
}

/// `n` launch detections from JP released to KR, in the order they go into `TL_OUT_KR`.
fn batch(tag: &str, n: usize) -> Vec<Envelope> {
    (0..n)
        .map(|i| launch(Nation::Jp, &format!("{tag}-{i}"), &[Nation::Jp, Nation::Kr]))
        .collect()
}

async fn release(js: &async_nats::jetstream::Context, envs: &[Envelope]) {
    for e in envs {
        publish_envelope(js, "tl.out.kr.launch_detection", e).await;
    }
}

/// Read national frames until `want` distinct ids have arrived (every id, duplicates
/// included, in arrival order).
async fn receive(rx: &mut Incoming, want: usize, what: &str) -> Vec<MessageId> {
    let codec = TestCodec::<Kr>::default();
    let mut got = Vec::new();
    let mut distinct = HashSet::new();
    while distinct.len() < want {
        let m = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("{what}: only {} of {want} arrived", distinct.len()))
            .unwrap();
        let Decoded::Frame { frame, .. } = codec.decode(&m.payload).unwrap() else {
            panic!("{what}: an incomplete frame");
        };
        let frame: Envelope = frame;
        distinct.insert(frame.message_id);
        got.push(frame.message_id);
    }
    got
}

/// Nothing more arrives within `quiet`.
async fn assert_quiet(rx: &mut Incoming, quiet: Duration, what: &str) {
    if let Ok(Some(m)) = tokio::time::timeout(quiet, rx.recv()).await {
        panic!("{what}: an extra frame arrived ({} bytes)", m.payload.len());
    }
}

/// Bytes received and not yet read on the established IPv4 TCP connections whose local port
/// is `port` (the broker's side), from `/proc/net/tcp`.
fn unread_bytes(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let local = format!(":{port:04X}");
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // sl local rem st tx_queue:rx_queue ...
            (f[1].ends_with(&local) && f[3] == "01").then(|| {
                let rx = f[4].split(':').nth(1).unwrap();
                usize::from_str_radix(rx, 16).unwrap()
            })
        })
        .sum()
}

fn ids(envs: &[Envelope]) -> Vec<MessageId> {
    envs.iter().map(|e| e.message_id).collect()
}

/// `got` without repeats of an id already seen, and how many repeats there were.
fn first_arrivals(got: &[MessageId]) -> (Vec<MessageId>, usize) {
    let mut seen = HashSet::new();
    let firsts: Vec<MessageId> = got.iter().copied().filter(|id| seen.insert(*id)).collect();
    let repeats = got.len() - firsts.len();
    (firsts, repeats)
}

async fn delivers_in_order_exactly_once(window: usize) {
    let hub = Hub::start(&[TL_DLQ, TL_OUT_KR]).await;
    let mosq = start_mosquitto();
    let stop = CancellationToken::new();
    let (_national, mut rx) = national(mosq.port(), &stop).await;
    let adapter = egress_adapter(&hub.url, mosq.port(), window);

    let envs = batch(&format!("w{window}"), 400);
    release(&hub.js, &envs).await;
    let got = receive(&mut rx, envs.len(), "stream").await;
    assert_eq!(
        got,
        ids(&envs),
        "window {window}: not in order, or repeated"
    );
    wait_consumer(
        &hub.js,
        ("TL_OUT_KR", "adapter-kr"),
        WAIT,
        "egress never acknowledged everything",
        |i| i.ack_floor.stream_sequence == envs.len() as u64 && i.num_ack_pending == 0,
    )
    .await;
    assert_quiet(&mut rx, Duration::from_millis(500), "after the stream").await;
    let summary = adapter.stop(WAIT).await;
    assert_eq!(summary.delivered, envs.len() as u64, "{summary:?}");
    assert_eq!(summary.egress_rejected, 0);
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_delivers_in_order_exactly_once() {
    delivers_in_order_exactly_once(32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn window_of_one_delivers_in_order_exactly_once() {
    delivers_in_order_exactly_once(1).await;
}

/// mosquitto (persistent, like a national broker that must not lose warnings) is frozen
/// (SIGSTOP) while the adapter has `window` publishes written and unacknowledged, then killed
/// with SIGKILL and started again on the same data. Nothing the adapter had in flight may be
/// acknowledged to JetStream before its PUBACK; after the restart everything arrives, the
/// first arrivals in release order, with at most `window` repeats.
async fn broker_killed_with_window_in_flight(window: usize) {
    let hub = Hub::start(&[TL_DLQ, TL_OUT_KR]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut mosq = trilink_brokers::Mosquitto::start_persistent(dir.path())
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let (_national, mut rx) = national(mosq.port(), &stop).await;
    let adapter = egress_adapter(&hub.url, mosq.port(), window);

    // A first part flows normally.
    let first = batch(&format!("kill{window}-a"), 50);
    release(&hub.js, &first).await;
    let got = receive(&mut rx, first.len(), "first part").await;
    assert_eq!(got, ids(&first));
    wait_consumer(
        &hub.js,
        ("TL_OUT_KR", "adapter-kr"),
        WAIT,
        "first part never acknowledged",
        |i| i.ack_floor.stream_sequence == first.len() as u64,
    )
    .await;
    // Let the broker save the subscriber's session (autosave every second).
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Freeze the broker: the adapter writes up to `window` publishes that are never answered.
    let pid = mosq.pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let second = batch(&format!("kill{window}-b"), 100);
    release(&hub.js, &second).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let info = consumer_info(&hub.js, "TL_OUT_KR", "adapter-kr").await;
    assert_eq!(
        info.ack_floor.stream_sequence,
        first.len() as u64,
        "acknowledged to JetStream without a PUBACK: {info:?}"
    );
    assert!(info.num_ack_pending >= 1, "{info:?}");
    assert_quiet(
        &mut rx,
        Duration::from_millis(100),
        "while the broker is frozen",
    )
    .await;
    // The frozen broker reads nothing: what the adapter wrote waits in its socket's receive
    // queue. Exactly `window` PUBLISHes: the window is used, and not exceeded.
    let queued = unread_bytes(mosq.port());
    let publish_len = |e: &Envelope| frame_for(e).len() + 1 + 2 + 2 + TOPIC.len() + 2;
    let (shortest, longest) = (
        second.iter().map(publish_len).min().unwrap(),
        second.iter().map(publish_len).max().unwrap(),
    );
    assert!(
        queued >= window * shortest && queued <= window * longest,
        "{queued} bytes unread by the frozen broker: not {window} publishes of {shortest}..{longest} bytes"
    );

    // Kill it where it stands and start it again on the same data.
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .unwrap()
            .success()
    );
    mosq.restart().await.unwrap();

    let got = receive(&mut rx, second.len(), "after the broker restart").await;
    let (firsts, repeats) = first_arrivals(&got);
    assert_eq!(
        firsts,
        ids(&second),
        "lost or out of order across the restart"
    );
    assert!(
        repeats <= window,
        "{repeats} repeats with a window of {window} (the journal's bound)"
    );
    wait_consumer(
        &hub.js,
        ("TL_OUT_KR", "adapter-kr"),
        WAIT,
        "second part never acknowledged",
        |i| {
            i.ack_floor.stream_sequence == (first.len() + second.len()) as u64
                && i.num_ack_pending == 0
        },
    )
    .await;
    assert_quiet(&mut rx, Duration::from_millis(500), "after the restart").await;
    let summary = adapter.stop(WAIT).await;
    assert_eq!(
        summary.delivered,
        (first.len() + second.len()) as u64,
        "{summary:?}"
    );
    eprintln!("window {window}: broker killed with a full window; {repeats} repeats at KR");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_with_a_full_window_loses_nothing() {
    broker_killed_with_window_in_flight(16).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_with_one_in_flight_loses_nothing() {
    broker_killed_with_window_in_flight(1).await;
}
