//! National traffic written to pcapng with the real JP/KR/US codecs decodes back through
//! CaptureMap + CaptureDecoder to the same messages, with capture timestamps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a test failure

mod support;

use bytes::BytesMut;
use support::{addr, ts};
use trilink_capture::{
    CaptureDecoder, CaptureMap, Framing, PcapngWriter, Transport, read_messages,
};
use trilink_jp::JpCodec;
use trilink_kr::KrCodec;
use trilink_schema::{Envelope, Nation, NationalCodec};
use trilink_us::UsCodec;

fn examples() -> Vec<Envelope> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../schemas/examples/valid"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .map(|p| Envelope::from_json(&std::fs::read(p).unwrap()).unwrap())
        // The hub's common events are not carried by the national formats.
        .filter(|e| e.payload.kind() != trilink_schema::PayloadKind::CommonEvent)
        .collect()
}

fn encode<C: NationalCodec>(c: &C, e: &Envelope) -> Vec<u8> {
    let frame = c.to_national(e).unwrap();
    let mut out = BytesMut::new();
    c.encode(&frame, &mut out).unwrap();
    out.to_vec()
}

fn map() -> CaptureMap {
    CaptureMap::new()
        .with(Nation::Jp, Transport::Udp, 5500, Framing::Datagram)
        .with(Nation::Kr, Transport::Tcp, 1883, Framing::Mqtt)
        .with(Nation::Us, Transport::Tcp, 5601, Framing::Stream)
        .with(Nation::Us, Transport::Udp, 5602, Framing::Datagram)
}

#[test]
fn real_codecs_decode_from_a_written_capture() {
    let envs = examples();
    assert!(envs.len() >= 7);
    let mut w = PcapngWriter::new().unwrap();
    let (jp_s, jp_d) = (addr("10.1.0.5:40000"), addr("10.1.0.9:5500"));
    let (kr_c, kr_b) = (addr("10.2.0.4:50123"), addr("10.2.0.1:1883"));
    let (us_c, us_s) = (addr("10.3.0.7:51000"), addr("10.3.0.9:5601"));
    let (us_u, us_ud) = (addr("10.3.0.7:51001"), addr("10.3.0.9:5602"));
    // expected (nation, message id, raw, timestamp) in capture order
    let mut expect = Vec::new();
    let mut us_stream = Vec::new();
    for (i, e) in envs.iter().enumerate() {
        let base = 1_790_000_000 + i as i64;
        let jp = encode(&JpCodec, e);
        w.udp(ts(base, 1), jp_s, jp_d, &jp).unwrap();
        expect.push((Nation::Jp, e.message_id, jp, ts(base, 1)));
        let kr = encode(&KrCodec, e);
        w.mqtt_publish(ts(base, 2), kr_c, kr_b, "kr/kamd/out", &kr)
            .unwrap();
        expect.push((Nation::Kr, e.message_id, kr, ts(base, 2)));
        let us = encode(&UsCodec::new(), e);
        w.udp(ts(base, 3), us_u, us_ud, &us).unwrap();
        expect.push((Nation::Us, e.message_id, us.clone(), ts(base, 3)));
        us_stream.push(us);
    }
    // The US TCP stream: all frames back to back, written in odd-sized pieces so frames
    // straddle segments; each frame completes in the piece holding its last byte.
    let all: Vec<u8> = us_stream.concat();
    let mut ends = Vec::new();
    let mut acc = 0;
    for f in &us_stream {
        acc += f.len();
        ends.push(acc);
    }
    let mut pos = 0;
    let mut k = 0;
    let mut piece_ts = Vec::new();
    let sizes = [7usize, 13, 1, 29, 3, 61];
    while pos < all.len() {
        let n = sizes[k % sizes.len()].min(all.len() - pos);
        let t = ts(1_790_001_000, k as u32 * 1000);
        w.tcp(t, us_c, us_s, &all[pos..pos + n]).unwrap();
        pos += n;
        piece_ts.push((pos, t));
        k += 1;
    }
    for (f, end) in us_stream.iter().zip(&ends) {
        let t = piece_ts.iter().find(|(p, _)| p >= end).unwrap().1;
        let idx = us_stream.iter().position(|x| std::ptr::eq(x, f)).unwrap();
        expect.push((Nation::Us, envs[idx].message_id, f.clone(), t));
    }

    let bytes = w.into_bytes();
    let (msgs, _) = read_messages("national.pcapng", &bytes).unwrap();
    let mut dec = CaptureDecoder::new(map())
        .with_codec(JpCodec)
        .with_codec(KrCodec)
        .with_codec(UsCodec::new());
    let mut got = Vec::new();
    for m in &msgs {
        for r in dec.push(m) {
            got.push(r.unwrap());
        }
    }
    assert!(dec.finish().is_empty());
    assert_eq!(got.len(), expect.len());
    for (g, (nation, id, raw, t)) in got.iter().zip(&expect) {
        assert_eq!(g.nation, *nation);
        assert_eq!(g.envelope.message_id, *id, "{nation}");
        assert_eq!(&g.raw[..], &raw[..]);
        assert_eq!(g.timestamp, *t);
        assert_eq!(g.envelope.ingested_at, *t);
        if *nation == Nation::Kr {
            assert_eq!(g.topic.as_deref(), Some("kr/kamd/out"));
        } else {
            assert_eq!(g.topic, None);
        }
    }
    // CONNECT/CONNACK/PUBACK are MQTT control traffic on the KR flow, not national frames and
    // not "unmapped"; nothing in this capture is unmapped.
    assert_eq!(dec.unmapped(), 0);
}

#[test]
fn corrupted_frames_are_reported_and_decoding_continues() {
    let envs = examples();
    let mut w = PcapngWriter::new().unwrap();
    let (us_c, us_s) = (addr("10.3.0.7:51000"), addr("10.3.0.9:5601"));
    let good0 = encode(&UsCodec::new(), &envs[0]);
    let mut bad = encode(&UsCodec::new(), &envs[1]);
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // break the checksum
    let good2 = encode(&UsCodec::new(), &envs[2]);
    w.tcp(
        ts(1_790_000_000, 0),
        us_c,
        us_s,
        &[good0, bad, good2.clone()].concat(),
    )
    .unwrap();
    // an incomplete frame at the end of the capture
    w.tcp(ts(1_790_000_001, 0), us_c, us_s, &good2[..good2.len() / 2])
        .unwrap();
    let jp_bad = b"definitely not a JP frame".to_vec();
    w.udp(
        ts(1_790_000_002, 0),
        addr("10.1.0.5:40000"),
        addr("10.1.0.9:5500"),
        &jp_bad,
    )
    .unwrap();
    let bytes = w.into_bytes();
    let (msgs, _) = read_messages("bad.pcapng", &bytes).unwrap();
    let mut dec = CaptureDecoder::new(map())
        .with_codec(JpCodec)
        .with_codec(UsCodec::new());
    let mut ok = Vec::new();
    let mut errs = Vec::new();
    for m in &msgs {
        for r in dec.push(m) {
            match r {
                Ok(r) => ok.push(r.envelope.message_id),
                Err(e) => errs.push(e),
            }
        }
    }
    for r in dec.finish() {
        errs.push(r.unwrap_err());
    }
    assert_eq!(ok.first(), Some(&envs[0].message_id));
    assert_eq!(
        ok.last(),
        Some(&envs[2].message_id),
        "decoder resynchronised after the bad frame"
    );
    assert!(
        errs.iter()
            .any(|e| e.nation == Nation::Us && e.code != "truncated_at_end"),
        "{errs:?}"
    );
    assert!(errs.iter().any(|e| e.nation == Nation::Jp), "{errs:?}");
    let tail = errs.iter().find(|e| e.code == "truncated_at_end").unwrap();
    assert_eq!(tail.nation, Nation::Us);
    assert!(tail.to_string().contains("incomplete frame"), "{tail}");
}

/// US SIMPLE over UDP, like every national message transport, carries exactly one frame per
/// datagram (us.md's framing rules; the runtime's `decode_message`): a datagram holding two
/// SIMPLE packets is rejected whole with `trailing_bytes` and neither frame is delivered,
/// while the same two frames in two datagrams both decode.
#[test]
fn a_us_datagram_with_two_frames_is_rejected_whole() {
    let envs = examples();
    let us = UsCodec::new();
    let (a, b) = (encode(&us, &envs[0]), encode(&us, &envs[1]));
    let (src, dst) = (addr("10.3.0.7:51001"), addr("10.3.0.9:5602"));
    let mut w = PcapngWriter::new().unwrap();
    w.udp(
        ts(1_790_000_000, 0),
        src,
        dst,
        &[a.clone(), b.clone()].concat(),
    )
    .unwrap();
    w.udp(ts(1_790_000_001, 0), src, dst, &a).unwrap();
    w.udp(ts(1_790_000_002, 0), src, dst, &b).unwrap();
    let bytes = w.into_bytes();
    let (msgs, _) = read_messages("two.pcapng", &bytes).unwrap();
    let mut dec = CaptureDecoder::new(map()).with_codec(UsCodec::new());
    let per_message: Vec<Vec<_>> = msgs.iter().map(|m| dec.push(m)).collect();
    assert_eq!(per_message.len(), 3);
    let first = &per_message[0];
    assert_eq!(first.len(), 1, "{first:?}");
    let err = first[0].as_ref().unwrap_err();
    assert_eq!(err.code, "trailing_bytes", "{err}");
    assert_eq!(err.nation, Nation::Us);
    let ids: Vec<_> = per_message[1..]
        .iter()
        .flatten()
        .map(|r| r.as_ref().unwrap().envelope.message_id)
        .collect();
    assert_eq!(ids, vec![envs[0].message_id, envs[1].message_id]);
    assert!(dec.finish().is_empty());
}
