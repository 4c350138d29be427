//! Framing exactly as the national specs say (issue 14, item 2), with the real codecs:
//! a message-oriented transport (a UDP datagram for JP and US, one MQTT publish for KR)
//! carries exactly one frame; a message with anything after its frame is dead-lettered
//! **whole** with the spec's reason (`trailing_bytes` / `trailing_data`) and the original
//! bytes, none of its frames is published, and the messages behind it still go through. A TCP
//! stream (US SIMPLE) still carries frames back to back.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use common::*;
use tokio::io::AsyncWriteExt;
use trilink_jp::JpCodec;
use trilink_kr::KrCodec;
use trilink_runtime::transport::{self, Received, UdpInConfig, decode_message};
use trilink_schema::{Envelope, Nation, NationalCodec};
use trilink_us::UsCodec;

const WAIT: Duration = Duration::from_secs(15);

/// A launch detection from `nation`'s vector, with current times and national id `nid`,
/// encoded by `codec`: a frame the adapter accepts and publishes.
fn fresh<C: NationalCodec>(codec: &C, nation: &str, vector: &str, nid: &str) -> Vec<u8> {
    let mut env = fresh_vector(nation, vector);
    nid.clone_into(&mut env.source.national_message_id);
    encode_national(codec, &env)
}

/// `N` frames as [`fresh`] with national ids `<prefix>1` … `<prefix>N`.
fn numbered<C: NationalCodec, const N: usize>(
    codec: &C,
    nation: &str,
    vector: &str,
    prefix: &str,
) -> [Vec<u8>; N] {
    std::array::from_fn(|i| fresh(codec, nation, vector, &format!("{prefix}{}", i + 1)))
}

fn code<F>(item: &transport::StreamItem<F>) -> &'static str {
    match item {
        Ok(_) => "ok",
        Err((r, _)) => r.code,
    }
}

fn raw<F>(item: &transport::StreamItem<F>) -> &[u8] {
    match item {
        Ok((_, r)) | Err((_, r)) => r,
    }
}

#[test]
fn one_frame_per_message_with_the_real_codecs() {
    let jp = JpCodec::new();
    let kr = KrCodec;
    let us = UsCodec::new();
    let (jl, jt) = (
        vector_hex("jp", "launch_detection"),
        vector_hex("jp", "track_update"),
    );
    let (kl, kt) = (
        vector_hex("kr", "lch_exercise"),
        vector_hex("kr", "trk_exercise"),
    );
    let (ul, us_) = (
        vector_hex("us", "launch_detection"),
        vector_hex("us", "status"),
    );
    let garbage: Vec<u8> = (0..100_u8).map(|i| i.wrapping_mul(37)).collect();
    // Decodes one message with the nation's real codec (the frame type erased).
    let decode = |nation: Nation, m: &Bytes| match nation {
        Nation::Jp => strip(decode_message(&jp, m)),
        Nation::Kr => strip(decode_message(&kr, m)),
        Nation::Us => strip(decode_message(&us, m)),
    };
    let cases: Vec<(Vec<u8>, &str, Nation)> = vec![
        (jl.clone(), "ok", Nation::Jp),
        (
            [jl.as_slice(), &garbage].concat(),
            "trailing_bytes",
            Nation::Jp,
        ),
        ([jl.as_slice(), &jt].concat(), "trailing_bytes", Nation::Jp),
        (kl.clone(), "ok", Nation::Kr),
        ([kl.as_slice(), &kt].concat(), "trailing_data", Nation::Kr),
        (
            [kl.as_slice(), &garbage].concat(),
            "trailing_data",
            Nation::Kr,
        ),
        (ul.clone(), "ok", Nation::Us),
        ([ul.as_slice(), &us_].concat(), "trailing_bytes", Nation::Us),
        (
            vector_hex("us", "truncated_three_bytes"),
            "truncated",
            Nation::Us,
        ),
        (Vec::new(), "truncated", Nation::Us),
    ];
    for (i, (bytes, want, nation)) in cases.iter().enumerate() {
        let msg = Bytes::from(bytes.clone());
        let item = decode(*nation, &msg);
        assert_eq!(code(&item), *want, "case {i}");
        // The item always carries the whole message: the dead letter holds what arrived.
        assert_eq!(raw(&item), bytes.as_slice(), "case {i}");
    }
    // The same two US packets on a TCP stream are two frames.
    let items =
        transport::decode_stream_all(Arc::new(UsCodec::new()), &[ul.as_slice(), &us_].concat());
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(Result::is_ok));
}

fn strip<F>(item: transport::StreamItem<F>) -> transport::StreamItem<()> {
    item.map(|(_, raw)| ((), raw))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_ingress_delivers_one_item_per_datagram_and_keeps_going() {
    let sock = transport::bind_udp_in(&UdpInConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        multicast_group: None,
        multicast_interface: None,
        recv_buffer: None,
    })
    .unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Received<trilink_jp::JpFrame>>(16);
    let token = trilink_runtime::CancellationToken::new();
    let task = tokio::spawn(transport::run_udp_in(
        sock,
        Arc::new(JpCodec::new()),
        Arc::from("udp:test"),
        tx,
        token.clone(),
    ));
    let (jl, jt) = (
        vector_hex("jp", "launch_detection"),
        vector_hex("jp", "track_update"),
    );
    let garbage = vec![0xA5_u8; 100];
    let sent = [
        ([jl.as_slice(), &garbage].concat(), "trailing_bytes"),
        ([jl.as_slice(), &jt].concat(), "trailing_bytes"),
        (
            vector_hex("jp", "bad_checksum_trailing_frame"),
            "bad_checksum",
        ),
        (jt.clone(), "ok"),
    ];
    let national = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (d, _) in &sent {
        national.send_to(d, addr).await.unwrap();
    }
    for (i, (d, want)) in sent.iter().enumerate() {
        let r = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        let got = match &r.outcome {
            Ok(_) => "ok",
            Err(rej) => rej.code,
        };
        assert_eq!(got, *want, "datagram {i}");
        assert_eq!(r.raw.as_ref(), d.as_slice(), "datagram {i}");
    }
    // Exactly one item per datagram: nothing else is queued.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), rx.recv())
            .await
            .is_err(),
        "a datagram produced more than one item"
    );
    token.cancel();
    task.await.unwrap();
}

/// Repeat `send` until the stream TL_IN holds `want` messages (the adapter's socket or
/// subscription may not be up yet; JetStream de-duplicates the repeats).
async fn probe<F, Fut>(js: &jetstream::Context, want: u64, send: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    send_until_stored(js, want, WAIT, Duration::from_millis(150), "probe", send).await;
}

/// [`probe`] with datagram `frame` from `national` to 127.0.0.1:`port`.
async fn udp_probe(
    js: &jetstream::Context,
    want: u64,
    national: &tokio::net::UdpSocket,
    frame: &[u8],
    port: u16,
) {
    probe(js, want, || async {
        national.send_to(frame, ("127.0.0.1", port)).await.unwrap();
    })
    .await;
}

/// Where the KR national system publishes its sentences.
const KR_TOPIC: &str = "kr/warning/launch_detection";

/// [`probe`] with `frame` published by `national` on [`KR_TOPIC`].
async fn mqtt_probe(
    js: &jetstream::Context,
    want: u64,
    national: &rumqttc::AsyncClient,
    frame: &[u8],
) {
    probe(js, want, || {
        mqtt_publish(national, KR_TOPIC, frame.to_vec())
    })
    .await;
}

async fn national_ids(js: &jetstream::Context) -> Vec<String> {
    let mut ids = Vec::new();
    for seq in 1..=stream_count(js, "TL_IN").await {
        let m = raw_message(js, "TL_IN", seq).await;
        ids.push(
            Envelope::from_json(&m.payload)
                .unwrap()
                .source
                .national_message_id,
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adapters_dead_letter_whole_messages_with_the_specs_reason() {
    let hub = Hub::start(&[TL_IN, TL_DLQ]).await;
    let (url, js) = (&hub.url, &hub.js);
    let mosq = start_mosquitto();
    let (jp_port, us_port, us_tcp) = (free_udp_port(), free_udp_port(), free_port());
    let udp_in =
        |port: u16| endpoint_toml("ingress", "udp", &format!("bind = \"127.0.0.1:{port}\""));
    let jp_cfg = adapter_with("jp", url, &udp_in(jp_port));
    let kr_cfg = adapter_with(
        "kr",
        url,
        &mqtt_toml("ingress", mosq.port(), "trilink-kr-in", "kr/warning/#", ""),
    );
    let us_cfg = adapter_with(
        "us",
        url,
        &(udp_in(us_port)
            + &endpoint_toml(
                "ingress",
                "tcp_server",
                &format!("bind = \"127.0.0.1:{us_tcp}\""),
            )),
    );
    let token = trilink_runtime::CancellationToken::new();
    let runs = [
        spawn_adapter_on(&token, jp_cfg, JpCodec::new()),
        spawn_adapter_on(&token, kr_cfg, KrCodec),
        spawn_adapter_on(&token, us_cfg, UsCodec::new()),
    ];
    let national = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let garbage: Vec<u8> = (0..100_u8)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();

    // ---- JP over UDP.
    let jp = JpCodec::new();
    let probe_jp = fresh(&jp, "jp", "launch_detection", "20261121-000900");
    udp_probe(js, 1, &national, &probe_jp, jp_port).await;
    let [a, b, c, mut bad, ok] = numbered(&jp, "jp", "launch_detection", "20261121-00090");
    *bad.last_mut().unwrap() ^= 1;
    let jp_bad = [
        ([a.as_slice(), &garbage].concat(), "trailing_bytes"),
        ([b.as_slice(), &c].concat(), "trailing_bytes"),
        ([bad.as_slice(), &c].concat(), "bad_checksum"),
    ];
    for (d, _) in &jp_bad {
        national.send_to(d, ("127.0.0.1", jp_port)).await.unwrap();
    }
    national.send_to(&ok, ("127.0.0.1", jp_port)).await.unwrap();
    wait_count(js, "TL_DLQ", 3, WAIT).await;
    wait_count(js, "TL_IN", 2, WAIT).await;

    // ---- KR over MQTT.
    let kr = KrCodec;
    let (kr_sys, _rx, driver) =
        national_mqtt("kr-national", mosq.port(), 1 << 20, None, None).await;
    let probe_kr = fresh(&kr, "kr", "lch_exercise", "KAMD-20261121-0900");
    mqtt_probe(js, 3, &kr_sys, &probe_kr).await;
    let [a, b, c, ok] = numbered(&kr, "kr", "lch_exercise", "KAMD-20261121-090");
    let kr_bad = [
        ([a.as_slice(), &b].concat(), "trailing_data"),
        ([c.as_slice(), &garbage].concat(), "trailing_data"),
    ];
    for p in kr_bad.iter().map(|(p, _)| p.clone()).chain([ok]) {
        mqtt_publish(&kr_sys, KR_TOPIC, p).await;
    }
    wait_count(js, "TL_DLQ", 5, WAIT).await;
    wait_count(js, "TL_IN", 4, WAIT).await;

    // ---- US over UDP (one packet per datagram) and TCP (a stream).
    let us = UsCodec::new();
    let probe_us = fresh(&us, "us", "launch_detection", "C2-20261121-000900");
    udp_probe(js, 5, &national, &probe_us, us_port).await;
    let [a, b, ok] = numbered(&us, "us", "launch_detection", "C2-20261121-00090");
    let us_bad = [([a.as_slice(), &b].concat(), "trailing_bytes")];
    national
        .send_to(&us_bad[0].0, ("127.0.0.1", us_port))
        .await
        .unwrap();
    national.send_to(&ok, ("127.0.0.1", us_port)).await.unwrap();
    wait_count(js, "TL_DLQ", 6, WAIT).await;
    wait_count(js, "TL_IN", 6, WAIT).await;
    let d = fresh(&us, "us", "launch_detection", "C2-20261121-000904");
    let e = fresh(&us, "us", "launch_detection", "C2-20261121-000905");
    let mut tcp = connect_retrying(us_tcp).await;
    tcp.write_all(&[d.as_slice(), &e].concat()).await.unwrap();
    wait_count(js, "TL_IN", 8, WAIT).await;

    // Every rejected message is dead-lettered whole, with the spec's reason, in order.
    let expected = jp_bad
        .iter()
        .map(|(m, r)| ("tl.dlq.jp", m, r))
        .chain(kr_bad.iter().map(|(m, r)| ("tl.dlq.kr", m, r)))
        .chain(us_bad.iter().map(|(m, r)| ("tl.dlq.us", m, r)));
    for (i, (subject, body, reason)) in expected.enumerate() {
        let (s, r, b) = dead_letter(js, i as u64 + 1).await;
        assert_eq!((s.as_str(), r.as_str()), (subject, *reason), "dlq #{i}");
        assert_eq!(b, *body, "dlq #{i}: the whole message");
    }
    // Nothing from a rejected message was published; what followed each one was.
    assert_eq!(
        national_ids(js).await,
        [
            "20261121-000900",
            "20261121-000905",
            "KAMD-20261121-0900",
            "KAMD-20261121-0904",
            "C2-20261121-000900",
            "C2-20261121-000903",
            "C2-20261121-000904",
            "C2-20261121-000905",
        ]
    );
    for summary in stop_all(&token, runs, WAIT).await {
        assert!(summary.drained, "{summary:?}");
    }
    driver.abort();
}

/// The poison pill of issue 14: one KR publish of 1 048 682 bytes (beyond any MQTT client's
/// 1 MiB default and any KR sentence) followed by four valid ones, on a persistent session.
/// The big one is dead-lettered as `oversize` (its first bytes kept, the length in the detail)
/// and acknowledged; the four behind it are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_kr_publish_is_dead_lettered_and_blocks_nothing() {
    let hub = Hub::start(&[TL_IN, TL_DLQ]).await;
    let (url, js) = (&hub.url, &hub.js);
    let mosq = start_mosquitto();
    let kr_cfg = adapter_with(
        "kr",
        url,
        &mqtt_toml(
            "ingress",
            mosq.port(),
            "trilink-kr-in",
            "kr/warning/#",
            "persistent_session = true",
        ),
    );
    let adapter = spawn_adapter(kr_cfg, KrCodec);
    let kr = KrCodec;
    let (kr_sys, _rx, driver) =
        national_mqtt("kr-national", mosq.port(), 4 << 20, None, None).await;
    let probe_kr = fresh(&kr, "kr", "lch_exercise", "KAMD-20261121-0800");
    mqtt_probe(js, 1, &kr_sys, &probe_kr).await;
    let huge: Vec<u8> = std::iter::once(b'$')
        .chain((0..1_048_681_u32).map(|i| b'A' + (i % 26) as u8))
        .collect();
    assert_eq!(huge.len(), 1_048_682);
    mqtt_publish(&kr_sys, KR_TOPIC, huge.clone()).await;
    for i in 1..=4 {
        let p = fresh(&kr, "kr", "lch_exercise", &format!("KAMD-20261121-080{i}"));
        mqtt_publish(&kr_sys, KR_TOPIC, p).await;
    }
    wait_count(js, "TL_IN", 5, WAIT).await;
    wait_count(js, "TL_DLQ", 1, WAIT).await;
    let (subject, reason, body) = dead_letter(js, 1).await;
    assert_eq!(
        (subject.as_str(), reason.as_str()),
        ("tl.dlq.kr", "oversize")
    );
    assert_eq!(body, huge[..trilink_runtime::transport::OVERSIZE_KEEP]);
    assert_eq!(
        national_ids(js).await,
        [
            "KAMD-20261121-0800",
            "KAMD-20261121-0801",
            "KAMD-20261121-0802",
            "KAMD-20261121-0803",
            "KAMD-20261121-0804",
        ]
    );
    let summary = adapter.stop(WAIT).await;
    assert!(summary.drained, "{summary:?}");
    driver.abort();
}

/// `/readyz` on the adapter's telemetry port: (status, body); (0, "") while it is not listening.
async fn readyz(addr: std::net::SocketAddr) -> (u16, String) {
    try_http_get(addr, "/readyz").await.unwrap_or_default()
}

/// An ingress that keeps failing (here: the KR broker is not there) turns `/readyz` red with
/// the transport named and `trilink_transport_stuck` raised; once the broker is up and the
/// connection has held, it is green again — red only while the ingress is actually stuck.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_ingress_turns_readyz_red_until_it_recovers() {
    let nats = start_nats();
    let url = nats.url();
    let (mqtt_port, http_port) = (free_port(), free_port());
    let kr_cfg = adapter_with(
        "kr",
        &url,
        &(telemetry_toml(http_port)
            + &mqtt_toml("ingress", mqtt_port, "trilink-kr-in", "kr/warning/#", "")),
    );
    let adapter = spawn_adapter(kr_cfg, KrCodec);
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], http_port).into();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let body = loop {
        if let Ok(r) = tokio::time::timeout(Duration::from_secs(2), readyz(addr)).await
            && r.0 == 503
            && r.1.contains("stuck")
        {
            break r.1;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz never turned red"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(body.contains("mqtt:kr/warning/#"), "{body}");
    let (_, metrics) = http_get_async(addr, "/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("trilink_transport_stuck{") && l.ends_with(" 1")),
        "{metrics}"
    );
    // The broker comes up on that port: once the connection holds, ready again.
    let _mosq = start_mosquitto_conf(
        &[mqtt_port],
        &format!("listener {mqtt_port} 127.0.0.1\nallow_anonymous true"),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        if readyz(addr).await.0 == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "readyz never turned green again"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    adapter.stop_unchecked(WAIT).await;
}

/// A UDP flood into a small receive buffer: what the kernel drops is counted, so every
/// datagram sent is either received (and then delivered or dead-lettered) or counted as a
/// kernel drop — none disappears silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_datagrams_dropped_by_the_kernel_are_counted() {
    let hub = Hub::start(&[TL_IN, TL_DLQ]).await;
    let url = &hub.url;
    let (udp_port, http_port) = (free_udp_port(), free_port());
    let jp_cfg = adapter_with(
        "jp",
        url,
        &(telemetry_toml(http_port)
            + &endpoint_toml(
                "ingress",
                "udp",
                &format!("bind = \"127.0.0.1:{udp_port}\"\nrecv_buffer = 4096"),
            )),
    );
    let adapter = spawn_adapter(jp_cfg, JpCodec::new());
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], http_port).into();
    let get_metrics =
        move || async move { try_http_get(addr, "/metrics").await.unwrap_or_default().1 };
    // Wait for the ingress (one probe datagram received).
    let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    // (Probes sent before the socket was bound are lost to ICMP, not to a full buffer: the
    // count starts from what was received once the ingress answered.)
    let received_before = loop {
        sender
            .send_to(&[0x55; 200], ("127.0.0.1", udp_port))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = metric_sum(&get_metrics().await, "trilink_received_total", "") as u64;
        if r >= 1 {
            break r;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "udp ingress never received"
        );
    };
    // The flood: 20 000 garbage datagrams as fast as one thread can send them.
    let flood_n: u64 = 20_000;
    let flood = std::thread::spawn(move || {
        for _ in 0..flood_n {
            let _ = sender.send_to(&[0xAA; 200], ("127.0.0.1", udp_port));
        }
    });
    flood.join().unwrap();
    let sent = flood_n + received_before;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (received, dropped) = loop {
        let m = get_metrics().await;
        let (r, d) = (
            metric_sum(&m, "trilink_received_total", "") as u64,
            metric_sum(&m, "trilink_udp_kernel_drops_total", "") as u64,
        );
        if r + d >= sent || tokio::time::Instant::now() >= deadline {
            break (r, d);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        dropped > 0,
        "no kernel drops with a 4 KiB buffer: received {received}"
    );
    assert_eq!(
        received + dropped,
        sent,
        "received {received} + dropped {dropped}"
    );
    adapter.stop_unchecked(WAIT).await;
}

/// The redundant adapter pair: two JP adapters on the same multicast group both publish every
/// frame; JetStream keeps one copy per message id. One of them is killed (its task aborted)
/// mid-stream: nothing is lost and nothing is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redundant_adapter_pair_loses_and_duplicates_nothing_when_one_dies() {
    use trilink_runtime::transport::{OutputConfig, Sink, UdpOutConfig};
    let hub = Hub::start_like(
        &[TL_IN, TL_DLQ],
        &stream::Config {
            duplicate_window: Duration::from_secs(600),
            ..Default::default()
        },
    )
    .await;
    let (url, js) = (&hub.url, &hub.js);
    let port = free_udp_port();
    let group = std::net::Ipv4Addr::new(239, 255, 42, 9);
    let adapter_cfg = |component: &str| {
        let ingress = format!(
            "bind = \"0.0.0.0:{port}\"\nmulticast_group = \"{group}\"\nmulticast_interface = \"127.0.0.1\""
        );
        adapter_config(
            &(adapter_toml("jp", url, &format!("component = \"{component}\""))
                + &endpoint_toml("ingress", "udp", &ingress)),
            "jp.toml",
        )
    };
    let token = trilink_runtime::CancellationToken::new();
    let a = spawn_adapter_on(&token, adapter_cfg("adapter-jp-a"), JpCodec::new());
    let b = spawn_adapter_on(&token, adapter_cfg("adapter-jp-b"), JpCodec::new());
    let sink = Sink::open(
        &OutputConfig::Udp(UdpOutConfig {
            target: std::net::SocketAddr::from((group, port)),
            bind: None,
            multicast_ttl: Some(0),
            multicast_interface: Some(std::net::Ipv4Addr::LOCALHOST),
            multicast_loop: true,
        }),
        trilink_schema::Nation::Jp,
        token.clone(),
    )
    .await
    .unwrap();
    let jp = JpCodec::new();
    let probe_frame = fresh(&jp, "jp", "launch_detection", "20261121-100000");
    probe(js, 1, || {
        let (s, f) = (&sink, probe_frame.clone());
        async move { s.send(&f).await.unwrap() }
    })
    .await;
    // Both members are up (each bound its socket at start); give the second a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = 200_u32;
    let mut a = Some(a);
    for i in 1..=n {
        if i == n / 2
            && let Some(a) = a.take()
        {
            a.task.abort(); // adapter-jp-a dies mid-stream
        }
        let f = fresh(&jp, "jp", "launch_detection", &format!("20261121-1{i:05}"));
        sink.send(&f).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    wait_count(js, "TL_IN", u64::from(n) + 1, WAIT).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids = national_ids(js).await;
    assert_eq!(ids.len(), n as usize + 1, "stored exactly once each");
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "a duplicate was stored");
    for i in 1..=n {
        assert!(
            distinct.contains(&format!("20261121-1{i:05}")),
            "frame {i} lost"
        );
    }
    b.stop_unchecked(WAIT).await;
}
