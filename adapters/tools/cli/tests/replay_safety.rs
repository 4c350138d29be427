//! `trilink replay` never replays a real-world warning by accident (issue 14 items 5–7): the
//! shipped samples are `real_world`; by default they arrive as `exercise` (national frames
//! re-encoded by their codec, envelopes rewritten), `--mode as-recorded` without
//! `--real-world` is refused before anything is sent, and with it they go out as recorded.
//! Receivers are sockets and subscribers this test controls; what arrives is decoded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
use common::{decode_sample, exits_with, json_ok, json_with, receivers, replay, sample, succeeds};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trilink_brokers::testing::{create_streams, free_udp_port, start_nats, stream_count};
use trilink_capture::read_jsonl;
use trilink_schema::{Decoded, Mode, Nation, NationalCodec};

/// The national capture of the shipped sample `single_launch`.
fn single_launch() -> PathBuf {
    sample("single_launch").join("national.pcapng")
}

/// Recorded modes of a sample's national frames, per nation.
fn recorded_modes(name: &str, nation: Nation) -> Vec<Mode> {
    decode_sample(name)
        .0
        .into_iter()
        .filter(|r| r.nation == nation)
        .map(|r| r.envelope.mode)
        .collect()
}

/// JP datagrams received until `n` arrived (or 10 s passed), decoded with the JP codec.
fn jp_modes(sock: &std::net::UdpSocket, n: usize) -> Vec<Mode> {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = vec![0_u8; 65_536];
    let mut got = Vec::new();
    while got.len() < n {
        let len = sock.recv(&mut buf).expect("a JP datagram");
        let frame = trilink_jp::JpCodec.decode_message(&buf[..len]).unwrap();
        got.push(frame.mode);
    }
    got
}

/// A US TCP stream decoded frame by frame with the US codec.
fn us_modes(stream: &[u8]) -> Vec<Mode> {
    let codec = trilink_us::UsCodec::default();
    let mut rest = stream;
    let mut got = Vec::new();
    while !rest.is_empty() {
        match codec.decode(rest).unwrap() {
            Decoded::Frame { frame, consumed } => {
                got.push(frame.message.mode);
                rest = &rest[consumed..];
            }
            Decoded::NeedMore { .. } => panic!("US stream ends inside a frame"),
        }
    }
    got
}

#[test]
fn real_world_capture_replayed_by_default_arrives_as_exercise() {
    let want_jp = recorded_modes("single_launch", Nation::Jp);
    let want_us = recorded_modes("single_launch", Nation::Us);
    assert!(!want_jp.is_empty() && !want_us.is_empty());
    assert!(
        want_jp
            .iter()
            .chain(&want_us)
            .all(|m| *m == Mode::RealWorld),
        "the sample is real_world"
    );
    let rx = receivers(Duration::from_secs(20));
    let o = replay(
        &single_launch(),
        &[
            "--nation",
            "jp,us",
            "--jp",
            &format!("udp://127.0.0.1:{}", rx.jp_port),
            "--us",
            &format!("tcp://127.0.0.1:{}", rx.us_port),
            "--max",
            "--json",
        ],
    );
    let summary = json_ok(&o);
    assert_eq!(summary["mode"], "exercise", "{summary}");
    assert_eq!(summary["real_world"], 0, "{summary}");
    assert_eq!(
        summary["recorded_real_world"],
        (want_jp.len() + want_us.len()) as u64,
        "{summary}"
    );
    // Every frame decodes (checksums recomputed) and says exercise.
    assert_eq!(
        jp_modes(&rx.jp, want_jp.len()),
        vec![Mode::Exercise; want_jp.len()]
    );
    assert_eq!(
        us_modes(&rx.us.join().unwrap()),
        vec![Mode::Exercise; want_us.len()]
    );
}

#[test]
fn as_recorded_real_world_is_refused_and_sends_nothing() {
    let n = recorded_modes("single_launch", Nation::Jp).len();
    let jp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let us = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    us.set_nonblocking(true).unwrap();
    let (jp_port, us_port) = (
        jp.local_addr().unwrap().port(),
        us.local_addr().unwrap().port(),
    );
    let o = replay(
        &single_launch(),
        &[
            "--nation",
            "jp",
            "--jp",
            &format!("udp://127.0.0.1:{jp_port}"),
            "--us",
            &format!("tcp://127.0.0.1:{us_port}"),
            "--max",
            "--mode",
            "as-recorded",
        ],
    );
    let err = exits_with(&o, 2);
    assert!(err.contains(&format!("{n} message(s)")), "{err}");
    assert!(err.contains("real_world"), "{err}");
    assert!(err.contains("--real-world"), "{err}");
    assert!(err.contains("Nothing was sent"), "{err}");
    assert!(o.stdout.is_empty());
    // Nothing arrived, no connection was even made.
    jp.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0_u8; 2048];
    assert!(jp.recv(&mut buf).is_err(), "a datagram was sent");
    assert!(us.accept().is_err(), "a TCP connection was made");
}

#[test]
fn as_recorded_with_real_world_flag_sends_real_world() {
    let n = recorded_modes("single_launch", Nation::Jp).len();
    let jp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = jp.local_addr().unwrap().port();
    let o = replay(
        &single_launch(),
        &[
            "--nation",
            "jp",
            "--jp",
            &format!("udp://127.0.0.1:{port}"),
            "--max",
            "--mode",
            "as-recorded",
            "--real-world",
            "--json",
        ],
    );
    let summary = json_ok(&o);
    assert_eq!(summary["real_world"], n as u64, "{summary}");
    assert_eq!(jp_modes(&jp, n), vec![Mode::RealWorld; n]);
}

/// JSON Lines of real-world envelopes published by default arrive as exercise, everything
/// else about them unchanged but their times (moved to now, intervals kept).
#[test]
fn jsonl_real_world_envelopes_arrive_as_exercise() {
    use futures::StreamExt;
    let nats = start_nats();
    let url = nats.url();
    let src = sample("single_launch").join("reports.jsonl");
    let original = read_jsonl("reports", &std::fs::read(&src).unwrap()).unwrap();
    assert!(original.iter().all(|r| r.envelope.mode == Mode::RealWorld));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut sub = rt.block_on(async {
        let c = async_nats::connect(&url).await.unwrap();
        create_streams(&async_nats::jetstream::new(c.clone()), &[("TL", "tl.>")]).await;
        let sub = c.subscribe("tl.>").await.unwrap();
        c.flush().await.unwrap();
        sub
    });
    let started = chrono::Utc::now();
    succeeds(&replay(&src, &["--nats", &url, "--max"]));
    let got: Vec<trilink_schema::Envelope> = rt.block_on(async {
        let mut got = Vec::new();
        while got.len() < original.len() {
            let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
                .await
                .unwrap()
                .unwrap();
            got.push(trilink_schema::Envelope::from_json(&m.payload).unwrap());
        }
        got
    });
    let span = original.last().unwrap().ts - original[0].ts;
    for (g, o) in got.iter().zip(&original) {
        assert_eq!(g.mode, Mode::Exercise);
        assert_eq!(g.message_id, o.envelope.message_id);
        assert_eq!(g.payload.kind(), o.envelope.payload.kind());
        // Retimed: within the replay's reach of now (the recording is from another day).
        assert!(
            g.observed_at >= started - span - chrono::Duration::seconds(5)
                && g.observed_at <= chrono::Utc::now(),
            "{} vs {started}",
            g.observed_at
        );
        assert_eq!(
            g.ingested_at - g.observed_at,
            o.envelope.ingested_at - o.envelope.observed_at
        );
    }
}

/// Issue 14 item 5: a shipped sample recorded on an earlier day, replayed (default options)
/// into a real JP adapter (`trilink_runtime::adapter::run` with the real JP codec) against a
/// real nats-server, is accepted — every JP frame published on `tl.in.jp`, none dead-lettered
/// (before retiming, every JP frame was dead-lettered as `future_timestamp` or misdated) —
/// as exercise, observed when it was sent.
#[test]
fn sample_from_another_day_is_accepted_by_a_real_jp_adapter() {
    use async_nats::jetstream;
    let nats = start_nats();
    let url = nats.url();
    let n = recorded_modes("single_launch", Nation::Jp).len() as u64;
    let jp_port = free_udp_port();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let token = trilink_runtime::CancellationToken::new();
    let js = rt.block_on(async {
        let js = jetstream::new(async_nats::connect(&url).await.unwrap());
        create_streams(&js, &[("TL_IN", "tl.in.>"), ("TL_DLQ", "tl.dlq.>")]).await;
        js
    });
    let config = trilink_runtime::config::load_str(
        &format!(
            "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 0\n[nats]\nurl = \"{url}\"\n\
             [[ingress]]\ntype = \"udp\"\nbind = \"127.0.0.1:{jp_port}\"\n"
        ),
        Path::new("jp.toml"),
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    let adapter = rt.spawn(trilink_runtime::adapter::run(
        config,
        trilink_jp::JpCodec::new(),
        token.clone(),
    ));
    let count = |name: &'static str| {
        let js = js.clone();
        rt.block_on(async move { stream_count(&js, name).await })
    };
    // Probe until the adapter listens: a current JP frame (the spec's worked example).
    let mut env: trilink_schema::Envelope = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../schemas/vectors/jp/launch_detection.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let now = chrono::Utc::now();
    env.observed_at = now - chrono::Duration::seconds(1);
    env.ingested_at = now;
    if let trilink_schema::Payload::LaunchDetection(l) = &mut env.payload {
        l.launch_time = now - chrono::Duration::seconds(30);
    }
    let codec = trilink_jp::JpCodec::new();
    let mut probe = bytes::BytesMut::new();
    codec
        .encode(&codec.to_national(&env).unwrap(), &mut probe)
        .unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while count("TL_IN") == 0 {
        assert!(Instant::now() < deadline, "the JP adapter never published");
        sock.send_to(&probe, ("127.0.0.1", jp_port)).unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
    assert_eq!(count("TL_DLQ"), 0);

    let started = chrono::Utc::now();
    succeeds(&replay(
        &single_launch(),
        &[
            "--nation",
            "jp",
            "--jp",
            &format!("udp://127.0.0.1:{jp_port}"),
            "--speed",
            "10",
            "--rt-priority",
            "0",
        ],
    ));
    let deadline = Instant::now() + Duration::from_secs(15);
    while count("TL_IN") + count("TL_DLQ") < 1 + n {
        assert!(
            Instant::now() < deadline,
            "published {} dead-lettered {} of {n}",
            count("TL_IN") - 1,
            count("TL_DLQ")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let dlq = count("TL_DLQ");
    let reasons: Vec<String> = rt.block_on(async {
        let s = js.get_stream("TL_DLQ").await.unwrap();
        let mut out = Vec::new();
        for seq in 1..=dlq {
            let m = s.get_raw_message(seq).await.unwrap();
            out.push(format!(
                "{:?}",
                m.headers.get(trilink_schema::headers::DLQ_REASON)
            ));
        }
        out
    });
    assert_eq!(dlq, 0, "dead-lettered: {reasons:?}");
    assert_eq!(count("TL_IN"), 1 + n);
    let finished = chrono::Utc::now();
    let published: Vec<trilink_schema::Envelope> = rt.block_on(async {
        let s = js.get_stream("TL_IN").await.unwrap();
        let mut out = Vec::new();
        for seq in 2..=1 + n {
            let m = s.get_raw_message(seq).await.unwrap();
            out.push(trilink_schema::Envelope::from_json(&m.payload).unwrap());
        }
        out
    });
    for e in &published {
        assert_eq!(e.origin, Nation::Jp);
        assert_eq!(e.mode, Mode::Exercise);
        assert!(
            e.observed_at >= started - chrono::Duration::seconds(1) && e.observed_at <= finished,
            "observed_at {} outside the replay {started} .. {finished}",
            e.observed_at
        );
    }
    token.cancel();
    let _ = rt.block_on(adapter);
}

/// Complete US frames at the front of `buf` (removed from it): their national message ids.
fn us_ids(buf: &mut Vec<u8>) -> Vec<String> {
    let codec = trilink_us::UsCodec::default();
    let mut ids = Vec::new();
    while let Ok(Decoded::Frame { frame, consumed }) = codec.decode(buf) {
        ids.push(frame.message.national_message_id);
        buf.drain(..consumed);
    }
    ids
}

/// Issue 14 item 7: the US target's connection breaks mid-replay (the listener closes, as when
/// adapter-us restarts) and comes back on the same port: the replay reconnects with backoff,
/// resends, reports one reconnect, and every frame arrives exactly once, in order.
#[test]
fn tcp_target_reconnects_and_loses_no_frame() {
    let want: Vec<String> = decode_sample("single_launch")
        .0
        .into_iter()
        .filter(|r| r.nation == Nation::Us)
        .map(|r| r.envelope.source.national_message_id)
        .collect();
    assert!(want.len() > 10);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = std::thread::spawn(move || {
        let mut got = Vec::new();
        // First connection: four frames, then the "adapter" goes away.
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0_u8; 4096];
        while got.len() < 4 {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "closed early");
            buf.extend_from_slice(&chunk[..n]);
            got.extend(us_ids(&mut buf));
        }
        assert!(buf.is_empty(), "a partial frame was pending");
        drop(s);
        drop(listener);
        std::thread::sleep(Duration::from_millis(700));
        // Back on the same port: the rest, until the replay closes.
        let listener = std::net::TcpListener::bind(addr).unwrap();
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        got.extend(us_ids(&mut rest));
        assert!(rest.is_empty(), "the stream ends inside a frame");
        got
    });
    let o = replay(
        &single_launch(),
        &[
            "--nation",
            "us",
            "--us",
            &format!("tcp://{addr}"),
            "--speed",
            "15",
            "--rt-priority",
            "0",
            "--json",
        ],
    );
    let (summary, _, err) = json_with(&o, 0);
    assert_eq!(summary["reconnects"], 1, "{summary}\n{err}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert_eq!(summary["sent"], want.len() as u64, "{summary}");
    assert_eq!(receiver.join().unwrap(), want);
}
