//! Truncated, corrupted and foreign captures give typed errors naming the file, the byte
//! offset and the reason; nothing panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a test failure

mod support;

use proptest::prelude::*;
use support::{addr, ts};
use trilink_capture::{
    CaptureDecoder, CaptureFormat, CapturedMessage, PcapngWriter, Transport, read_messages,
};

fn small_capture() -> Vec<u8> {
    let mut w = PcapngWriter::new().unwrap();
    w.udp(
        ts(1_790_000_000, 5),
        addr("10.0.0.1:1"),
        addr("10.0.0.2:5500"),
        b"hello",
    )
    .unwrap();
    w.tcp(
        ts(1_790_000_001, 5),
        addr("10.0.0.1:2"),
        addr("10.0.0.2:5601"),
        b"stream-bytes",
    )
    .unwrap();
    w.mqtt_publish(
        ts(1_790_000_002, 5),
        addr("10.0.0.3:3"),
        addr("10.0.0.2:1883"),
        "t/x",
        b"$KR*00",
    )
    .unwrap();
    w.into_bytes()
}

fn foreign(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every prefix of a valid capture is either a valid (shorter) capture whose messages are a
/// prefix of the full one's, or a `truncated` error at an offset inside the prefix.
fn check_prefixes(name: &str, full: &[u8], step: usize) {
    let (all, _) = read_messages(name, full).unwrap();
    let udp = |m: &Vec<CapturedMessage>| -> Vec<Vec<u8>> {
        m.iter()
            .filter(|m| m.transport == Transport::Udp)
            .map(|m| m.bytes.to_vec())
            .collect()
    };
    let all_udp = udp(&all);
    let mut ok = 0;
    let mut k = 0;
    while k < full.len() {
        match read_messages(name, &full[..k]) {
            Ok((msgs, _)) => {
                ok += 1;
                let u = udp(&msgs);
                assert_eq!(&all_udp[..u.len()], &u[..], "prefix {k}");
            }
            Err(e) => {
                let expected = if k == 0 {
                    "unknown_format"
                } else {
                    "truncated"
                };
                assert_eq!(e.code(), expected, "prefix {k}: {e}");
                assert!(e.offset <= k as u64, "prefix {k}: {e}");
                let s = e.to_string();
                assert!(
                    s.starts_with(&format!("{name}: at byte offset {}: ", e.offset)),
                    "{s}"
                );
            }
        }
        k += if k < 256 { 1 } else { step };
    }
    assert!(ok > 0, "some prefixes end on a record boundary");
}

#[test]
fn truncated_at_every_offset_pcapng() {
    let full = small_capture();
    check_prefixes("small.pcapng", &full, 1);
}

#[test]
fn truncated_foreign_captures() {
    for name in [
        "foreign-any-sll2.pcapng",
        "foreign-any-sll.pcap",
        "foreign-lo.pcap",
    ] {
        check_prefixes(name, &foreign(name), 5);
    }
}

#[test]
fn foreign_files_are_rejected_with_their_magic() {
    for (what, bytes) in [
        ("elf", b"\x7fELF\x02\x01\x01\0\0\0\0\0".to_vec()),
        ("png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
        ("text", b"hello, this is not a capture\n".to_vec()),
        ("empty", Vec::new()),
    ] {
        let e = read_messages(what, &bytes).unwrap_err();
        assert_eq!(e.code(), "unknown_format", "{what}: {e}");
        assert_eq!(e.offset, 0);
        assert!(
            e.to_string()
                .contains("not a pcap, pcapng or JSON Lines capture"),
            "{e}"
        );
        assert!(e.to_string().starts_with(what));
    }
    assert_eq!(
        CaptureFormat::sniff(b"{\"ts\":1}"),
        Some(CaptureFormat::Jsonl)
    );
}

/// Offset of the first EPB of a pcapng written by `PcapngWriter`: the first block after SHB
/// and IDB, found by walking their lengths.
fn first_epb(pcapng: &[u8]) -> usize {
    let shb = u32::from_le_bytes(pcapng[4..8].try_into().unwrap()) as usize;
    let idb = u32::from_le_bytes(pcapng[shb + 4..shb + 8].try_into().unwrap()) as usize;
    shb + idb
}

#[test]
fn corrupt_block_length_names_the_block_offset() {
    let mut full = small_capture();
    let epb = first_epb(&full);
    full[epb + 4] = 0x03; // length no longer a multiple of 4
    let e = read_messages("c.pcapng", &full).unwrap_err();
    assert_eq!(e.code(), "corrupt");
    assert_eq!(e.offset, epb as u64);
    assert!(e.to_string().contains("multiple of 4"), "{e}");
}

#[test]
fn corrupt_pcap_record_length_is_an_error_not_an_allocation() {
    let mut full = foreign("foreign-lo.pcap");
    full[24 + 8..24 + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let e = read_messages("lo.pcap", &full).unwrap_err();
    assert_eq!(e.code(), "corrupt", "{e}");
    assert_eq!(e.offset, 24);
}

#[test]
fn undeclared_interface_is_corrupt() {
    let mut full = small_capture();
    let epb = first_epb(&full);
    full[epb + 8] = 9; // interface id 9
    let e = read_messages("i.pcapng", &full).unwrap_err();
    assert_eq!(e.code(), "corrupt");
    assert!(e.to_string().contains("interface id 9"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn garbage_never_panics(prefix in prop::sample::select(vec![
            vec![], vec![0x0a, 0x0d, 0x0d, 0x0a], vec![0xd4, 0xc3, 0xb2, 0xa1],
            vec![0x4d, 0x3c, 0xb2, 0xa1], vec![0xa1, 0xb2, 0xc3, 0xd4]]),
        body in prop::collection::vec(any::<u8>(), 0..600)) {
        let data = [prefix, body].concat();
        let _ = read_messages("garbage", &data);
    }

    #[test]
    fn mutated_captures_never_panic(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut data = small_capture();
        for (i, b) in flips {
            let n = data.len();
            data[i.index(n)] = b;
        }
        if let Ok((msgs, _)) = read_messages("mutated", &data) {
            let mut dec = CaptureDecoder::new(support::national_map())
                .with_codec(trilink_jp::JpCodec)
                .with_codec(trilink_kr::KrCodec)
                .with_codec(trilink_us::UsCodec::new());
            for m in &msgs {
                let _ = dec.push(m);
            }
            let _ = dec.finish();
        }
    }

    #[test]
    fn random_stream_bytes_through_decoders_never_panic(chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..6)) {
        let mut dec = CaptureDecoder::new(support::national_map())
            .with_codec(trilink_jp::JpCodec)
            .with_codec(trilink_kr::KrCodec)
            .with_codec(trilink_us::UsCodec::new());
        for (i, c) in chunks.iter().enumerate() {
            for (port, transport) in [(1883, Transport::Tcp), (5601, Transport::Tcp), (5500, Transport::Udp)] {
                let m = CapturedMessage {
                    timestamp: ts(1_790_000_000, i as u32),
                    transport,
                    src: addr("10.0.0.1:4000"),
                    dst: addr(&format!("10.0.0.2:{port}")),
                    bytes: bytes::Bytes::copy_from_slice(c),
                    lost_before: u64::from(i == 3),
                    offset: 0,
                };
                let _ = dec.push(&m);
            }
        }
        let _ = dec.finish();
    }
}
