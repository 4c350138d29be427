//! Wireshark interoperability: every message type, encoded by trilink, written to a pcap as
//! UDP datagrams and dissected by `tshark` with `-d udp.port==5602,simple`. Checks a good
//! SIMPLE checksum, no expert info / malformed packet, and the Link 16 word formats, labels
//! and sublabels that were encoded.
//!
//! Without tshark on PATH the test prints a loud SKIP, unless `TRILINK_REQUIRE_TSHARK=1`
//! (CI), where it fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::process::Command;
use std::time::Duration;

use bytes::BytesMut;
use etherparse::PacketBuilder;
use pcap_parser::{LegacyPcapBlock, Linktype, PcapHeader, ToVec};
use trilink_schema::{Envelope, NationalCodec};
use trilink_us::{UsCodec, UsFrame};

const PORT: u16 = 5602;

fn tshark_available() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// (frame, bytes) for every valid vector's JSON, encoded by trilink.
fn encoded() -> Vec<(String, UsFrame, Vec<u8>)> {
    let codec = UsCodec::default();
    common::names_with("json")
        .into_iter()
        .filter(|n| common::vectors_dir().join(format!("{n}.hex")).exists())
        .enumerate()
        .map(|(i, name)| {
            let text = std::fs::read_to_string(common::vectors_dir().join(format!("{name}.json")))
                .unwrap();
            let env: Envelope = serde_json::from_str(&text).unwrap();
            let mut frame = codec.to_national(&env).unwrap();
            frame.simple.sequence = 100 + i as u16;
            let mut out = BytesMut::new();
            codec.encode(&frame, &mut out).unwrap();
            (name, frame, out.to_vec())
        })
        .collect()
}

/// Expected (word formats, initial-word labels, initial-word sublabels) for a packet.
fn expected_words(frame: &UsFrame, len: usize) -> (Vec<u16>, Vec<u16>, Vec<u16>) {
    let n_words = (len - 30) / 10;
    let mli = usize::from(frame.message.body.mli());
    let (label, sublabel) = frame.message.body.j_label();
    let mut formats = vec![0u16];
    formats.extend(std::iter::repeat_n(1u16, mli));
    let mut labels = vec![u16::from(label)];
    let mut sublabels = vec![u16::from(sublabel)];
    let container_words = n_words - 1 - mli;
    for k in 0..container_words {
        if k % 8 == 0 {
            formats.push(0);
            labels.push(28);
            sublabels.push(2);
        } else {
            formats.push(1);
        }
    }
    (formats, labels, sublabels)
}

fn list(s: &str) -> Vec<u16> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(|x| x.trim().parse().unwrap())
        .collect()
}

#[test]
fn tshark_dissects_every_message_type() {
    if !tshark_available() {
        assert!(
            std::env::var("TRILINK_REQUIRE_TSHARK").as_deref() != Ok("1"),
            "tshark is required (TRILINK_REQUIRE_TSHARK=1) but was not found on PATH"
        );
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPED: tshark not found; the Wireshark interoperability test did not run");
        eprintln!("!!! (set TRILINK_REQUIRE_TSHARK=1 to make this a failure)");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
        return;
    }
    let packets = encoded();
    let kinds: std::collections::BTreeSet<_> = packets
        .iter()
        .map(|(_, f, _)| f.message.body.j_label())
        .collect();
    assert_eq!(
        kinds.len(),
        6,
        "J3.0, J3.6, J7.0, J7.1, J7.2, J13.5 all present"
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("us.pcap");
    {
        let mut w = pcap_file_start();
        for (i, (_, _, bytes)) in packets.iter().enumerate() {
            let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
                .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
                .udp(40_000, PORT);
            let mut frame = Vec::with_capacity(builder.size(bytes.len()));
            builder.write(&mut frame, bytes).unwrap();
            pcap_record(&mut w, Duration::from_millis(i as u64), &frame);
        }
        std::fs::write(&path, w).unwrap();
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-d",
            &format!("udp.port=={PORT},simple"),
            "-T",
            "fields",
            "-E",
            "separator=|",
        ])
        .args([
            "-e",
            "simple.checksum.status",
            "-e",
            "_ws.expert",
            "-e",
            "_ws.malformed",
        ])
        .args([
            "-e",
            "link16.wordformat",
            "-e",
            "link16.label",
            "-e",
            "link16.sublabel",
        ])
        .args(["-e", "simple.sequence_number", "-e", "simple.packet_type"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), packets.len(), "one line per packet:\n{stdout}");
    for (line, (name, frame, bytes)) in lines.iter().zip(&packets) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f.len(), 8, "{name}: {line}");
        assert_eq!(f[0], "1", "{name}: SIMPLE checksum status not Good: {line}");
        assert_eq!(f[1], "", "{name}: expert info: {line}");
        assert_eq!(f[2], "", "{name}: malformed: {line}");
        let (formats, labels, sublabels) = expected_words(frame, bytes.len());
        // Wireshark reports label/sublabel for initial words only.
        assert_eq!(list(f[3]), formats, "{name}: word formats");
        assert_eq!(list(f[4]), labels, "{name}: labels");
        assert_eq!(list(f[5]), sublabels, "{name}: sublabels");
        assert_eq!(f[6], frame.simple.sequence.to_string(), "{name}: sequence");
        assert_eq!(f[7], "1", "{name}: packet type");
    }
    eprintln!("tshark dissected {} packets cleanly", packets.len());

    // The test can fail: a corrupted checksum must be reported by tshark.
    let mut bad = packets[0].2.clone();
    let n = bad.len();
    bad[n - 1] ^= 0x40;
    let path = dir.path().join("bad.pcap");
    {
        let mut w = pcap_file_start();
        let builder = PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
            .ipv4([127, 0, 0, 1], [127, 0, 0, 1], 64)
            .udp(40_000, PORT);
        let mut frame = Vec::new();
        builder.write(&mut frame, &bad).unwrap();
        pcap_record(&mut w, Duration::ZERO, &frame);
        std::fs::write(&path, w).unwrap();
    }
    let out = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-d", &format!("udp.port=={PORT},simple"), "-T", "fields"])
        .args(["-e", "simple.checksum.status"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "tshark missed a bad checksum"
    );
}

/// A classic pcap file's header (Ethernet, microseconds).
fn pcap_file_start() -> Vec<u8> {
    let mut h = PcapHeader::new();
    h.network = Linktype::ETHERNET;
    h.snaplen = 65_535;
    h.to_vec().unwrap()
}

/// Append one record to a classic pcap file.
fn pcap_record(file: &mut Vec<u8>, ts: Duration, frame: &[u8]) {
    let len = u32::try_from(frame.len()).unwrap();
    let mut r = LegacyPcapBlock {
        ts_sec: u32::try_from(ts.as_secs()).unwrap(),
        ts_usec: ts.subsec_micros(),
        caplen: len,
        origlen: len,
        data: frame,
    };
    file.extend(r.to_vec().unwrap());
}
