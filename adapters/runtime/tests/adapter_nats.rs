//! The generic adapter against a real nats-server with JetStream, driven through UDP and TCP
//! with a test codec: ingress publishes with Nats-Msg-Id, rejects go to the DLQ with a reason,
//! a foreign origin is never published, egress acks only after the national send.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use common::*;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trilink_runtime::adapter;
use trilink_schema::{Envelope, Nation, headers};

const WAIT: Duration = Duration::from_secs(10);

/// A `tcp_client` output to `addr`.
fn tcp_client_toml(addr: &str) -> String {
    endpoint_toml(
        "egress.outputs",
        "tcp_client",
        &format!("connect = \"{addr}\""),
    )
}

/// The hub with the streams of the JP and US adapters (two-minute de-duplication window).
async fn hub() -> Hub {
    Hub::start_like(
        &[TL_IN, TL_DLQ, TL_OUT_JP, TL_OUT_US],
        &stream::Config {
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        },
    )
    .await
}

async fn wait_ready(addr: SocketAddr) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some((200, _)) = try_http_get(addr, "/readyz").await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "adapter never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_udp_adapter_end_to_end() {
    let hub = hub().await;
    let (url, js) = (&hub.url, &hub.js);

    let in_port = free_udp_port();
    let national_out = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let out_addr = national_out.local_addr().unwrap();
    let http_port = free_port();
    // Heartbeats every 200 ms; a NATS URL that the environment overrides.
    let toml = "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 200\n\n[nats]\nurl = \"nats://127.0.0.1:1\"\n"
        .to_owned()
        + &telemetry_toml(http_port)
        + &endpoint_toml("ingress", "udp", &format!("bind = \"127.0.0.1:{in_port}\""))
        + &egress_toml("jp", "nak_delay_ms = 200")
        + &endpoint_toml("egress.outputs", "udp", &format!("target = \"{out_addr}\""));
    // The NATS URL comes from the environment override, exercising the scheme.
    let cfg = load_config(&toml, "jp.toml", &[("TRILINK__NATS__URL", url)]).unwrap();
    assert_eq!(&cfg.nats.url, url);

    let mut status = hub.client.subscribe("tl.status.jp.>").await.unwrap();
    let adapter = spawn_adapter(cfg, TestCodec::<Jp>::default());
    let http: SocketAddr = format!("127.0.0.1:{http_port}").parse().unwrap();
    wait_ready(http).await;

    let national = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = format!("127.0.0.1:{in_port}");

    // 1. A valid frame is published on tl.in.jp.launch_detection with Nats-Msg-Id.
    let env1 = launch(Nation::Jp, "jp-1", &[Nation::Jp, Nation::Us]);
    national.send_to(&frame_for(&env1), &target).await.unwrap();
    wait_count(js, "TL_IN", 1, WAIT).await;
    let m = raw_message(js, "TL_IN", 1).await;
    assert_eq!(m.subject.as_str(), "tl.in.jp.launch_detection");
    assert_eq!(header(&m, headers::MSG_ID), env1.message_id.to_string());
    let got = Envelope::from_json(&m.payload).unwrap();
    assert_eq!(got.message_id, env1.message_id);
    assert!(
        got.ingested_at >= env1.ingested_at,
        "ingested_at is the receive time"
    );

    // 2. A retransmission is de-duplicated by JetStream.
    national.send_to(&frame_for(&env1), &target).await.unwrap();

    // 3. Malformed inputs land in the DLQ with the right reason and the original bytes.
    let garbage = b"hello, this is not a frame".to_vec();
    national.send_to(&garbage, &target).await.unwrap();
    let mut bad_ck = frame_for(&launch(Nation::Jp, "jp-2", &[Nation::Jp]));
    *bad_ck.last_mut().unwrap() ^= 0xff;
    national.send_to(&bad_ck, &target).await.unwrap();
    let full = frame_for(&launch(Nation::Jp, "jp-3", &[Nation::Jp]));
    let truncated = full[..full.len() - 5].to_vec();
    national.send_to(&truncated, &target).await.unwrap();
    // 4. A frame claiming another origin is rejected, never published.
    let spoof = frame_for(&launch(Nation::Kr, "kr-1", &[Nation::Kr, Nation::Jp]));
    national.send_to(&spoof, &target).await.unwrap();
    // 5. A frame that fails validation.
    let mut invalid = launch(Nation::Jp, "jp-4", &[Nation::Jp]);
    if let trilink_schema::Payload::LaunchDetection(ld) = &mut invalid.payload {
        ld.launch_point.lat_deg = 123.0;
    }
    national
        .send_to(&frame_for(&invalid), &target)
        .await
        .unwrap();

    wait_count(js, "TL_DLQ", 5, WAIT).await;
    let expect = [
        ("bad_sync", garbage.clone()),
        ("bad_checksum", bad_ck.clone()),
        ("truncated", truncated.clone()),
        ("origin_mismatch", spoof.clone()),
        ("out_of_range", frame_for(&invalid)),
    ];
    for (i, (reason, body)) in expect.iter().enumerate() {
        let m = raw_message(js, "TL_DLQ", i as u64 + 1).await;
        assert_eq!(m.subject.as_str(), "tl.dlq.jp");
        assert_eq!(header(&m, headers::DLQ_REASON), *reason, "dlq #{i}");
        assert_eq!(header(&m, headers::DLQ_COMPONENT), "adapter-jp");
        assert_eq!(
            header(&m, headers::DLQ_SOURCE),
            format!("udp:127.0.0.1:{in_port}")
        );
        assert!(!header(&m, headers::DLQ_DETAIL).is_empty());
        assert_eq!(m.payload.as_ref(), body.as_slice(), "dlq #{i} body");
    }
    // Still exactly one input message: the duplicate and every reject were kept out.
    assert_eq!(stream_count(js, "TL_IN").await, 1);

    // 6. The adapter kept running: another valid frame still goes through.
    let env5 = launch(Nation::Jp, "jp-5", &[Nation::Jp]);
    national.send_to(&frame_for(&env5), &target).await.unwrap();
    wait_count(js, "TL_IN", 2, WAIT).await;

    // 7. Egress: a KR message released to JP arrives as a national frame on UDP.
    let mut from_kr = launch(Nation::Kr, "kr-7", &[Nation::Kr, Nation::Jp]);
    from_kr.relayed_at = Some(chrono::Utc::now());
    publish_envelope(js, "tl.out.jp.launch_detection", &from_kr).await;
    let mut buf = vec![0_u8; 8192];
    let (n, _) = tokio::time::timeout(WAIT, national_out.recv_from(&mut buf))
        .await
        .expect("no national frame delivered")
        .unwrap();
    let codec = TestCodec::<Jp>::default();
    let decoded = match trilink_schema::NationalCodec::decode(&codec, &buf[..n]).unwrap() {
        trilink_schema::Decoded::Frame { frame, consumed } => {
            assert_eq!(consumed, n);
            frame
        }
        other @ trilink_schema::Decoded::NeedMore { .. } => panic!("{other:?}"),
    };
    assert_eq!(decoded.message_id, from_kr.message_id);
    assert_eq!(decoded.payload, from_kr.payload);

    // 8. Egress of a message not releasable to JP is dead-lettered, not delivered.
    let us_only = launch(Nation::Us, "us-8", &[Nation::Us]);
    publish_envelope(js, "tl.out.jp.launch_detection", &us_only).await;
    wait_count(js, "TL_DLQ", 6, WAIT).await;
    let m = raw_message(js, "TL_DLQ", 6).await;
    assert_eq!(header(&m, headers::DLQ_REASON), "not_releasable");
    assert!(
        tokio::time::timeout(Duration::from_millis(300), national_out.recv_from(&mut buf))
            .await
            .is_err(),
        "a message not releasable to JP reached the JP national system"
    );

    // 9. Heartbeats on tl.status.jp.adapter-jp carry a status envelope.
    let hb = tokio::time::timeout(WAIT, status.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hb.subject.as_str(), "tl.status.jp.adapter-jp");
    let hb = Envelope::from_json(&hb.payload).unwrap();
    assert!(matches!(hb.payload, trilink_schema::Payload::Status(_)));

    // 10. Metrics are exposed and count what happened.
    let (code, body) = http_get_async(http, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("trilink_rejected_total"), "{body}");
    assert!(body.contains(r#"reason="origin_mismatch""#), "{body}");
    assert!(body.contains("trilink_delivered_total"), "{body}");
    let (code, _) = http_get_async(http, "/healthz").await;
    assert_eq!(code, 200);

    // 11. Graceful shutdown drains and reports.
    let summary = adapter.stop(WAIT).await;
    assert!(summary.drained);
    assert_eq!(summary.published, 3, "{summary:?}"); // env1 twice (one deduplicated) + env5
    assert_eq!(summary.ingress_rejected, 5, "{summary:?}");
    assert_eq!(summary.delivered, 1, "{summary:?}");
    assert_eq!(summary.egress_rejected, 1, "{summary:?}");
    assert_eq!(summary.publish_failed, 0);
    // The last heartbeat says the adapter is down.
    let down = tokio::time::timeout(WAIT, async {
        while let Some(m) = status.next().await {
            let e = Envelope::from_json(&m.payload).unwrap();
            if let trilink_schema::Payload::Status(st) = e.payload
                && st.state == trilink_schema::ComponentState::Down
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(down, Ok(true), "no final `down` heartbeat");
    // The consumer acknowledged both egress messages.
    let info = consumer_info(js, "TL_OUT_JP", "adapter-jp").await;
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn us_tcp_adapter_streams_and_acks_only_after_send() {
    let hub = hub().await;
    let (url, js) = (&hub.url, &hub.js);

    let in_port = free_port();
    let out_port = free_port();
    let toml = adapter_toml("us", url, "")
        + &endpoint_toml(
            "ingress",
            "tcp_server",
            &format!("bind = \"127.0.0.1:{in_port}\""),
        )
        + &egress_toml("us", "nak_delay_ms = 100")
        + &tcp_client_toml(&format!("127.0.0.1:{out_port}"));
    let adapter = spawn_adapter(adapter_config(&toml, "us.toml"), TestCodec::<Us>::default());

    // Ingress over one TCP stream: frames split across writes, garbage in between, and an
    // oversize header; the decoder resyncs and the connection stays up.
    let mut conn = connect_retrying(in_port).await;
    let a = frame_for(&launch(Nation::Us, "us-a", &[Nation::Us]));
    let b = frame_for(&launch(Nation::Us, "us-b", &[Nation::Us, Nation::Jp]));
    let mut stream_bytes = Vec::new();
    stream_bytes.extend_from_slice(&a);
    stream_bytes.extend_from_slice(b"junk!");
    let mut oversize = MAGIC.to_vec();
    oversize.extend_from_slice(&u16::MAX.to_be_bytes());
    stream_bytes.extend_from_slice(&oversize);
    stream_bytes.extend_from_slice(&b);
    for chunk in stream_bytes.chunks(7) {
        conn.write_all(chunk).await.unwrap();
        conn.flush().await.unwrap();
    }
    wait_count(js, "TL_IN", 2, WAIT).await;
    wait_count(js, "TL_DLQ", 2, WAIT).await;
    let r1 = raw_message(js, "TL_DLQ", 1).await;
    let r2 = raw_message(js, "TL_DLQ", 2).await;
    assert_eq!(header(&r1, headers::DLQ_REASON), "bad_sync");
    assert_eq!(r1.payload.as_ref(), b"junk!");
    assert_eq!(header(&r2, headers::DLQ_REASON), "oversize");

    // Egress with the national receiver down: the message must stay unacknowledged.
    let env = launch(Nation::Jp, "jp-9", &[Nation::Jp, Nation::Us]);
    publish_envelope(js, "tl.out.us.launch_detection", &env).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let info = consumer_info(js, "TL_OUT_US", "adapter-us").await;
    assert_eq!(
        info.ack_floor.stream_sequence, 0,
        "acknowledged although the national send failed"
    );
    assert!(info.num_redelivered >= 1 || info.num_ack_pending + info.num_pending as usize >= 1);

    // Bring the national receiver up: the frame arrives, then the ack.
    let mut sock = accept_on(out_port, WAIT).await;
    let mut dec = stream_decoder(TestCodec::<Us>::default());
    let frame = next_frame(&mut dec, &mut sock, WAIT, "egress connection closed").await;
    assert_eq!(frame.message_id, env.message_id);
    wait_consumer(
        js,
        ("TL_OUT_US", "adapter-us"),
        WAIT,
        "never acknowledged",
        |info| info.ack_floor.stream_sequence == 1 && info.num_ack_pending == 0,
    )
    .await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_millis(200), sock.read_buf(&mut rest)).await;
    assert!(
        rest.is_empty() || dec.buffered() == 0,
        "no duplicate after the ack"
    );

    let summary = adapter.stop(WAIT).await;
    assert_eq!(summary.published, 2);
    assert_eq!(summary.ingress_rejected, 2);
    assert_eq!(summary.delivered, 1);
    assert!(summary.drained);
}

/// With two national outputs and one of them down, the message is retried only towards the
/// failed one: the output that accepted it does not get it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_egress_failure_retries_only_the_failed_output() {
    let hub = hub().await;
    let (url, js) = (&hub.url, &hub.js);

    let up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = up.local_addr().unwrap();
    let down_port = free_port();
    let toml = adapter_toml("us", url, "")
        + &egress_toml("us", "nak_delay_ms = 100")
        + &tcp_client_toml(&up_addr.to_string())
        + &tcp_client_toml(&format!("127.0.0.1:{down_port}"));
    let adapter = spawn_adapter(adapter_config(&toml, "us.toml"), TestCodec::<Us>::default());

    let env = launch(Nation::Jp, "jp-partial", &[Nation::Jp, Nation::Us]);
    publish_envelope(js, "tl.out.us.launch_detection", &env).await;
    let mut a = accept_within(&up, WAIT).await;
    let mut dec_a = stream_decoder(TestCodec::<Us>::default());
    let first = next_frame(&mut dec_a, &mut a, WAIT, "the healthy output closed").await;
    assert_eq!(first.message_id, env.message_id);
    // Let a few retries towards the dead output happen, then bring it up.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut b = accept_on(down_port, WAIT).await;
    let mut dec_b = stream_decoder(TestCodec::<Us>::default());
    let second = next_frame(&mut dec_b, &mut b, WAIT, "the recovered output closed").await;
    assert_eq!(second.message_id, env.message_id);
    // The first output received it exactly once.
    let extra = tokio::time::timeout(Duration::from_millis(500), dec_a.read_buf(&mut a)).await;
    assert!(
        extra.is_err() && dec_a.buffered() == 0,
        "the healthy output received the message again"
    );
    let summary = adapter.stop(WAIT).await;
    assert_eq!(summary.delivered, 1, "{summary:?}");
}

/// With `egress.state_dir`, a restarted adapter knows what the process before it delivered: a
/// redelivery of such a message (here: the same envelope stored again, as JetStream redelivers
/// a message whose ack was lost) is acknowledged without being sent, while new messages are
/// sent. A foreign file in the state directory stops the adapter with a typed error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_journal_suppresses_redelivery_after_a_restart() {
    let hub = hub().await;
    let (url, js) = (&hub.url, &hub.js);
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("adapter-us");
    let national = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = national.local_addr().unwrap();
    let toml = adapter_toml("us", url, "")
        + &egress_toml("us", &format!("state_dir = \"{}\"", state_dir.display()))
        + &endpoint_toml("egress.outputs", "udp", &format!("target = \"{target}\""));
    // The second process also flushes every append (`state_fsync`).
    let start = |fsync: bool| {
        let fsync = fsync.to_string();
        let env = [("TRILINK__EGRESS__STATE_FSYNC", fsync.as_str())];
        let cfg = load_config(&toml, "us.toml", &env).unwrap();
        spawn_adapter(cfg, TestCodec::<Us>::default())
    };
    let publish = |env: Envelope| async move {
        publish_envelope(js, "tl.out.us.launch_detection", &env).await;
    };
    let mut buf = vec![0_u8; 8192];
    let mut recv = async |within: Duration| -> Option<Envelope> {
        let (n, _) = tokio::time::timeout(within, national.recv_from(&mut buf))
            .await
            .ok()?
            .unwrap();
        let body = buf.get(6..n - 1).unwrap();
        Some(Envelope::from_json(body).unwrap())
    };
    let acked = async |floor: u64| {
        wait_consumer(
            js,
            ("TL_OUT_US", "adapter-us"),
            WAIT,
            &format!("not acknowledged up to {floor}"),
            |info| info.ack_floor.stream_sequence == floor && info.num_ack_pending == 0,
        )
        .await;
    };

    // First process: delivers A and journals it.
    let a = launch(Nation::Jp, "jp-journal-a", &[Nation::Jp, Nation::Us]);
    let adapter = start(false);
    publish(a.clone()).await;
    assert_eq!(recv(WAIT).await.unwrap().message_id, a.message_id);
    acked(1).await;
    let s = adapter.stop(WAIT).await;
    assert_eq!(s.delivered, 1, "{s:?}");
    let journaled =
        trilink_runtime::journal::read_ids(&state_dir.join(trilink_runtime::journal::FILE_NAME))
            .unwrap();
    assert_eq!(journaled, vec![a.message_id]);

    // A comes again (as after a lost ack), then B. The second process sends only B.
    let b = launch(Nation::Jp, "jp-journal-b", &[Nation::Jp, Nation::Us]);
    publish(a.clone()).await;
    publish(b.clone()).await;
    let adapter = start(true);
    let got = recv(WAIT).await.unwrap();
    assert_eq!(got.message_id, b.message_id, "A was delivered again");
    acked(3).await;
    assert!(
        recv(Duration::from_millis(300)).await.is_none(),
        "a second frame arrived"
    );
    let s = adapter.stop(WAIT).await;
    assert_eq!(s.delivered, 1, "{s:?}");
    let journaled =
        trilink_runtime::journal::read_ids(&state_dir.join(trilink_runtime::journal::FILE_NAME))
            .unwrap();
    assert_eq!(journaled, vec![a.message_id, b.message_id]);

    // Someone else's file where the journal goes: the adapter refuses to start and leaves it.
    let foreign = state.path().join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(
        foreign.join(trilink_runtime::journal::FILE_NAME),
        b"not a journal at all",
    )
    .unwrap();
    let foreign_dir = foreign.display().to_string();
    let cfg = load_config(
        &toml,
        "us.toml",
        &[("TRILINK__EGRESS__STATE_DIR", &foreign_dir)],
    )
    .unwrap();
    let err = run_to_end(cfg, TestCodec::<Us>::default(), WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, adapter::AdapterError::Journal(_)), "{err:?}");
    assert!(
        err.to_string().contains("not a trilink egress journal"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(foreign.join(trilink_runtime::journal::FILE_NAME)).unwrap(),
        b"not a journal at all"
    );
}

/// Per-track causal order at the egress (issue 14): while the national receiver is down, the
/// adapter holds the first undelivered message and retries it in place; nothing behind it
/// overtakes it. (Nak-and-move-on, the earlier behaviour, let later messages through first
/// as soon as the receiver came back.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_keeps_stream_order_while_the_national_side_is_down() {
    let hub = hub().await;
    let (url, js) = (&hub.url, &hub.js);
    let out_port = free_port();
    let toml = adapter_toml("us", url, "")
        + &egress_toml("us", "nak_delay_ms = 50")
        + &tcp_client_toml(&format!("127.0.0.1:{out_port}"));
    let adapter = spawn_adapter(adapter_config(&toml, "us.toml"), TestCodec::<Us>::default());

    let n_msgs = 30;
    let mut want = Vec::new();
    for i in 0..n_msgs {
        let env = launch(Nation::Jp, &format!("order-{i}"), &[Nation::Jp, Nation::Us]);
        want.push(env.message_id);
        publish_envelope(js, "tl.out.us.launch_detection", &env).await;
    }
    // Several retry rounds with the receiver down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut sock = accept_on(out_port, WAIT).await;
    let mut dec = stream_decoder(TestCodec::<Us>::default());
    let mut got = Vec::new();
    while got.len() < n_msgs {
        while let Some(item) = dec.next_item() {
            got.push(item.unwrap().0.message_id);
        }
        if got.len() >= n_msgs {
            break;
        }
        let n = tokio::time::timeout(WAIT, dec.read_buf(&mut sock))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "egress connection closed after {} frames", got.len());
    }
    assert_eq!(got, want, "delivered out of stream order");
    adapter.stop(WAIT).await;
}

/// A process that ends closes its NATS connection with [`trilink_runtime::nats::close`]: the
/// pull request it left open at the server goes with it, so the next message reaches the
/// next process at once. (Without the close — the connection still up when the process's work
/// is done, as it was until its handles dropped — the server hands the message to the dead
/// request and the next process waits `ack_wait`, here 30 s, for its redelivery.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_process_leaves_no_pull_request_behind() {
    use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
    let hub = hub().await;
    let js = &hub.js;
    let cfg = pull::Config {
        durable_name: Some("adapter-us".into()),
        filter_subject: "tl.out.us.>".into(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: Duration::from_secs(30),
        deliver_policy: DeliverPolicy::All,
        ..Default::default()
    };
    js.get_stream("TL_OUT_US")
        .await
        .unwrap()
        .create_consumer(cfg)
        .await
        .unwrap();
    // The process before: its egress's pull request is open at the server, then it ends.
    let before = async_nats::connect(&hub.url).await.unwrap();
    let consumer: jetstream::consumer::PullConsumer = async_nats::jetstream::new(before.clone())
        .get_consumer_from_stream("adapter-us", "TL_OUT_US")
        .await
        .unwrap();
    let mut pulling = trilink_runtime::nats::egress_pull(&consumer, 64)
        .await
        .unwrap();
    // The stream sends its request when polled; whatever it takes is left unacked.
    let pulling = tokio::spawn(async move { while pulling.next().await.is_some() {} });
    wait_consumer(
        js,
        ("TL_OUT_US", "adapter-us"),
        WAIT,
        "its pull request",
        |i| i.num_waiting == 1,
    )
    .await;
    assert!(trilink_runtime::nats::close(&before, Duration::from_secs(1)).await);
    // A message for the next process, which pulls after it arrives.
    let env = launch(Nation::Jp, "jp-after-close", &[Nation::Jp, Nation::Us]);
    publish_envelope(js, "tl.out.us.launch_detection", &env).await;
    let next = async_nats::connect(&hub.url).await.unwrap();
    let consumer: jetstream::consumer::PullConsumer = async_nats::jetstream::new(next)
        .get_consumer_from_stream("adapter-us", "TL_OUT_US")
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let got = batch.next().await;
    assert!(
        got.as_ref().is_some_and(Result::is_ok),
        "the next process got nothing within 5 s (the closed one's pull request took it): {got:?}"
    );
    pulling.abort();
}
