//! Captures written by tshark (a foreign writer) of real loopback traffic, committed under
//! tests/data/ (regenerate with tests/data/make_foreign_captures.sh): Linux cooked v2 pcapng
//! (`-i any`), Linux cooked v1 legacy pcap, Ethernet legacy pcap with microsecond timestamps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a test failure

mod support;

use std::path::PathBuf;

use bytes::BytesMut;
use trilink_capture::{CaptureDecoder, CaptureMap, Framing, Transport, read_file, read_messages};
use trilink_jp::JpCodec;
use trilink_kr::KrCodec;
use trilink_schema::{Envelope, Nation, NationalCodec};
use trilink_us::UsCodec;

fn data(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).join(name)
}

fn frames(nation: &str) -> Vec<Vec<u8>> {
    std::fs::read_to_string(data(&format!("frames-{nation}.hex")))
        .unwrap()
        .split_whitespace()
        .map(|l| hex::decode(l).unwrap())
        .collect()
}

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

fn encode<C: NationalCodec>(c: &C, e: &Envelope) -> String {
    let mut out = BytesMut::new();
    c.encode(&c.to_national(e).unwrap(), &mut out).unwrap();
    hex::encode(out)
}

/// Writes frames-{jp,kr,us}.hex for the capture script.
#[test]
#[ignore = "generator for tests/data/make_foreign_captures.sh"]
fn dump_frames() {
    let dir = PathBuf::from(std::env::var("TRILINK_DUMP_DIR").unwrap());
    let envs = examples();
    let lines =
        |f: &dyn Fn(&Envelope) -> String| envs.iter().map(f).collect::<Vec<_>>().join("\n") + "\n";
    std::fs::write(dir.join("frames-jp.hex"), lines(&|e| encode(&JpCodec, e))).unwrap();
    std::fs::write(dir.join("frames-kr.hex"), lines(&|e| encode(&KrCodec, e))).unwrap();
    std::fs::write(
        dir.join("frames-us.hex"),
        lines(&|e| encode(&UsCodec::new(), e)),
    )
    .unwrap();
}

const FILES: [&str; 3] = [
    "foreign-any-sll2.pcapng",
    "foreign-any-sll.pcap",
    "foreign-lo.pcap",
];

fn map() -> CaptureMap {
    CaptureMap::new()
        .with(Nation::Jp, Transport::Udp, 15500, Framing::Datagram)
        .with(Nation::Us, Transport::Tcp, 15601, Framing::Stream)
        .with(Nation::Kr, Transport::Tcp, 18830, Framing::Mqtt)
}

#[test]
fn foreign_captures_yield_exact_bytes_in_order() {
    let (jp, us) = (frames("jp"), frames("us"));
    for name in FILES {
        let path = data(name);
        let bytes = read_file(&path).unwrap();
        let (msgs, stats) = read_messages(name, &bytes).unwrap();
        let udp: Vec<Vec<u8>> = msgs
            .iter()
            .filter(|m| m.transport == Transport::Udp && m.dst.port() == 15500)
            .map(|m| m.bytes.to_vec())
            .collect();
        assert_eq!(udp, jp, "{name}");
        let stream: Vec<u8> = msgs
            .iter()
            .filter(|m| m.transport == Transport::Tcp && m.dst.port() == 15601)
            .flat_map(|m| m.bytes.to_vec())
            .collect();
        assert_eq!(stream, us.concat(), "{name}");
        assert_eq!(stats.tcp_bytes_lost, 0, "{name}");
        assert!(
            msgs.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
            "{name}"
        );
    }
}

#[test]
fn foreign_captures_decode_with_the_national_codecs() {
    let envs = examples();
    let (jp, kr, us) = (frames("jp"), frames("kr"), frames("us"));
    for name in FILES {
        let bytes = read_file(&data(name)).unwrap();
        let (msgs, _) = read_messages(name, &bytes).unwrap();
        let mut dec = CaptureDecoder::new(map())
            .with_codec(JpCodec)
            .with_codec(KrCodec)
            .with_codec(UsCodec::new());
        let mut by_nation = std::collections::BTreeMap::<Nation, Vec<_>>::new();
        for m in &msgs {
            for r in dec.push(m) {
                let r = r.unwrap();
                by_nation.entry(r.nation).or_default().push(r);
            }
        }
        assert!(dec.finish().is_empty(), "{name}");
        for (nation, sent) in [(Nation::Jp, &jp), (Nation::Kr, &kr), (Nation::Us, &us)] {
            let got = &by_nation[&nation];
            let raw: Vec<Vec<u8>> = got.iter().map(|r| r.raw.to_vec()).collect();
            assert_eq!(&raw, sent, "{name} {nation}");
            let ids: Vec<_> = got.iter().map(|r| r.envelope.message_id).collect();
            let want: Vec<_> = envs.iter().map(|e| e.message_id).collect();
            assert_eq!(ids, want, "{name} {nation}");
        }
        assert!(
            by_nation[&Nation::Kr]
                .iter()
                .all(|r| r.topic.as_deref() == Some("kr/kamd/warning"))
        );
    }
}

/// Our timestamps agree with tshark's own reading of the same files to the nanosecond.
#[test]
fn foreign_capture_timestamps_match_tshark() {
    if support::tshark().is_none() {
        return;
    }
    for name in FILES {
        let path = data(name);
        let bytes = read_file(&path).unwrap();
        let (msgs, _) = read_messages(name, &bytes).unwrap();
        let ours: Vec<String> = msgs
            .iter()
            .filter(|m| m.transport == Transport::Udp)
            .map(|m| {
                let t = m.timestamp;
                format!("{}.{:09}", t.timestamp(), t.timestamp_subsec_nanos())
            })
            .collect();
        let theirs = support::run_tshark(
            &path,
            &["-Y", "udp", "-T", "fields", "-e", "frame.time_epoch"],
        );
        let theirs: Vec<String> = theirs.lines().map(str::to_owned).collect();
        assert_eq!(ours, theirs, "{name}");
    }
}

/// record -> replay -> record: frames decoded from a foreign capture, written back with
/// `PcapngWriter::record`, read and decoded again, are the same frames and envelopes.
#[test]
fn decoded_frames_written_back_decode_identically() {
    let decode_all = |name: &str, bytes: &[u8]| {
        let (msgs, _) = read_messages(name, bytes).unwrap();
        let mut dec = CaptureDecoder::new(map())
            .with_codec(JpCodec)
            .with_codec(KrCodec)
            .with_codec(UsCodec::new());
        let mut out: Vec<_> = msgs
            .iter()
            .flat_map(|m| dec.push(m))
            .map(Result::unwrap)
            .collect();
        assert!(dec.finish().is_empty());
        out.sort_by_key(|r| (r.timestamp, r.nation));
        // file offsets differ between the two files by construction
        for r in &mut out {
            r.offset = 0;
        }
        out
    };
    let first = decode_all("sll2", &read_file(&data(FILES[0])).unwrap());
    assert_eq!(first.len(), 3 * examples().len());
    let mut w = trilink_capture::PcapngWriter::new().unwrap();
    for r in &first {
        w.record(r).unwrap();
    }
    let second = decode_all("rewritten", &w.into_bytes());
    assert_eq!(second.len(), first.len());
    for (a, b) in second.iter().zip(&first) {
        assert!(a == b, "differs: {:?} vs {:?}", a.raw, b.raw);
    }
}
