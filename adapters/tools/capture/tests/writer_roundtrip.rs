//! A pcapng written by trilink reads back identically and opens cleanly in tshark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a test failure

mod support;

use bytes::Bytes;
use support::{addr, run_tshark, ts, tshark};
use trilink_capture::{CapturedMessage, PcapngWriter, Transport, read_messages};

fn sample() -> (Vec<u8>, Vec<CapturedMessage>) {
    let mut w = PcapngWriter::new().unwrap();
    let jp_src = addr("10.1.0.5:40000");
    let jp_dst = addr("10.1.0.9:5500");
    let us_c = addr("10.3.0.7:51000");
    let us_s = addr("10.3.0.9:5601");
    let kr_c = addr("10.2.0.4:50123");
    let kr_b = addr("10.2.0.1:1883");
    let mut expect = Vec::new();
    let big: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    for i in 0..5u32 {
        let t = ts(1_790_000_000 + i64::from(i), 123_456_789 + i);
        let d = format!("JP-datagram-{i}").into_bytes();
        w.udp(t, jp_src, jp_dst, &d).unwrap();
        expect.push(CapturedMessage {
            timestamp: t,
            transport: Transport::Udp,
            src: jp_src,
            dst: jp_dst,
            bytes: Bytes::from(d),
            lost_before: 0,
            offset: 0,
        });
        let t2 = ts(1_790_000_000 + i64::from(i), 500_000_001 + i);
        let payload = if i == 2 {
            big.clone()
        } else {
            format!("US-stream-{i};").into_bytes()
        };
        w.tcp(t2, us_c, us_s, &payload).unwrap();
        // a payload larger than the MSS arrives as several segments, hence several chunks
        for (k, c) in payload.chunks(trilink_capture::writer::TCP_MSS).enumerate() {
            let _ = k;
            expect.push(CapturedMessage {
                timestamp: t2,
                transport: Transport::Tcp,
                src: us_c,
                dst: us_s,
                bytes: Bytes::copy_from_slice(c),
                lost_before: 0,
                offset: 0,
            });
        }
        let t3 = ts(1_790_000_000 + i64::from(i), 900_000_000);
        w.mqtt_publish(
            t3,
            kr_c,
            kr_b,
            "kr/warning/out",
            format!("$KRW,{i}*00").as_bytes(),
        )
        .unwrap();
    }
    w.tcp_close(ts(1_790_000_010, 0), us_c, us_s).unwrap();
    (w.into_bytes(), expect)
}

#[test]
fn written_capture_reads_back_identically() {
    let (bytes, expect) = sample();
    let (msgs, stats) = read_messages("sample.pcapng", &bytes).unwrap();
    let non_mqtt: Vec<CapturedMessage> = msgs
        .iter()
        .filter(|m| m.src.port() != 1883 && m.dst.port() != 1883)
        .map(|m| CapturedMessage {
            offset: 0,
            ..m.clone()
        })
        .collect();
    assert_eq!(non_mqtt, expect);
    assert_eq!(stats.tcp_bytes_lost, 0);
    assert!(stats.skipped.is_empty(), "{stats:?}");
    // MQTT flow client -> broker: CONNECT then 5 PUBLISH, each in order.
    let kr: Vec<&CapturedMessage> = msgs.iter().filter(|m| m.dst.port() == 1883).collect();
    assert_eq!(kr.len(), 6);
    assert_eq!(kr[0].bytes[0] >> 4, 1, "CONNECT first");
    for m in &kr[1..] {
        assert_eq!(m.bytes[0] >> 4, 3, "PUBLISH");
    }
}

#[test]
fn written_capture_opens_in_tshark_without_errors() {
    if tshark().is_none() {
        return;
    }
    let (bytes, _) = sample();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sample.pcapng");
    std::fs::write(&f, &bytes).unwrap();
    let expert = run_tshark(&f, &["-q", "-z", "expert,warn"]);
    assert!(!expert.contains("Malformed"), "{expert}");
    assert!(!expert.contains("Errors ("), "{expert}");
    assert!(!expert.contains("Warns ("), "{expert}");
    // timestamps at nanosecond resolution and the MQTT topic/payload are visible to tshark
    let fields = run_tshark(
        &f,
        &[
            "-Y",
            "mqtt.msgtype == 3",
            "-T",
            "fields",
            "-e",
            "frame.time_epoch",
            "-e",
            "mqtt.topic",
            "-e",
            "mqtt.msg",
        ],
    );
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines.len(), 5, "{fields}");
    assert!(
        lines[0].starts_with("1790000000.900000000\tkr/warning/out\t"),
        "{fields}"
    );
    assert!(
        lines[4].contains("$KRW,4*00") || lines[4].contains(&hex::encode("$KRW,4*00")),
        "{fields}"
    );
    let udp = run_tshark(&f, &["-Y", "udp", "-T", "fields", "-e", "frame.time_epoch"]);
    assert_eq!(udp.lines().next(), Some("1790000000.123456789"), "{udp}");
    // the 5000-byte write is reassembled by tshark from 4 segments
    let reass = run_tshark(
        &f,
        &[
            "-Y",
            "tcp.reassembled.length == 5000 || tcp.len == 1460",
            "-T",
            "fields",
            "-e",
            "tcp.len",
        ],
    );
    assert!(reass.lines().count() >= 3, "{reass}");
}

#[test]
#[ignore = "debug helper: writes /tmp/trilink-sample.pcapng"]
fn dump_sample() {
    std::fs::write("/tmp/trilink-sample.pcapng", sample().0).unwrap();
}

#[test]
fn drained_chunks_concatenate_to_the_same_file() {
    let (whole, _) = sample();
    let mut w = PcapngWriter::new().unwrap();
    let mut parts = w.drain();
    let (a, b) = (addr("10.0.0.1:1000"), addr("10.0.0.2:5500"));
    w.udp(ts(1_790_000_000, 1), a, b, b"one").unwrap();
    parts.extend(w.drain());
    w.udp(ts(1_790_000_000, 2), a, b, b"two").unwrap();
    parts.extend(w.into_bytes());
    let (msgs, _) = read_messages("drained.pcapng", &parts).unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(&msgs[1].bytes[..], b"two");
    assert!(!whole.is_empty());
}
