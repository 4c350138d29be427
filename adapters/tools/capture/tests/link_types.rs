//! Legacy pcap variants and link types other than Ethernet, built byte by byte, read by our
//! reader and cross-checked with tshark; IPv6 through the writer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod support;

use std::net::SocketAddr;

use etherparse::PacketBuilder;
use support::{addr, ts};
use trilink_capture::{PcapngWriter, Transport, read_messages};

fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match (src, dst) {
        (SocketAddr::V4(s), SocketAddr::V4(d)) => {
            PacketBuilder::ipv4(s.ip().octets(), d.ip().octets(), 64)
                .udp(s.port(), d.port())
                .write(&mut out, payload)
                .unwrap();
        }
        (SocketAddr::V6(s), SocketAddr::V6(d)) => {
            PacketBuilder::ipv6(s.ip().octets(), d.ip().octets(), 64)
                .udp(s.port(), d.port())
                .write(&mut out, payload)
                .unwrap();
        }
        _ => unreachable!(),
    }
    out
}

fn ip_tcp(src: SocketAddr, dst: SocketAddr, seq: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let (SocketAddr::V6(s), SocketAddr::V6(d)) = (src, dst) else {
        unreachable!()
    };
    PacketBuilder::ipv6(s.ip().octets(), d.ip().octets(), 64)
        .tcp(s.port(), d.port(), seq, 1000)
        .ack(1)
        .write(&mut out, payload)
        .unwrap();
    out
}

/// A legacy pcap file: (big endian?, nanosecond?, linktype, [(sec, frac, frame)]).
fn pcap(be: bool, nanos: bool, linktype: u32, recs: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let w32 = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let w16 = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut out = Vec::new();
    out.extend(w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend(w16(2));
    out.extend(w16(4));
    out.extend(w32(0));
    out.extend(w32(0));
    out.extend(w32(65_535));
    out.extend(w32(linktype));
    for (sec, frac, frame) in recs {
        out.extend(w32(*sec));
        out.extend(w32(*frac));
        out.extend(w32(frame.len() as u32));
        out.extend(w32(frame.len() as u32));
        out.extend(frame);
    }
    out
}

#[test]
fn raw_null_loop_and_byte_orders() {
    let (a4, b4) = (addr("192.0.2.1:4000"), addr("192.0.2.2:5500"));
    let (a6, b6) = (addr("[2001:db8::1]:4000"), addr("[2001:db8::2]:5500"));
    let v4 = ip_udp(a4, b4, b"over v4");
    let v6 = ip_udp(a6, b6, b"over v6");
    let null = |af: u32, be: bool, p: &[u8]| {
        let mut f = if be {
            af.to_be_bytes().to_vec()
        } else {
            af.to_le_bytes().to_vec()
        };
        f.extend_from_slice(p);
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "raw-le-us.pcap",
            pcap(
                false,
                false,
                101,
                &[
                    (1_790_000_000, 250_000, v4.clone()),
                    (1_790_000_001, 1, v6.clone()),
                ],
            ),
        ),
        (
            "raw-be-ns.pcap",
            pcap(
                true,
                true,
                101,
                &[
                    (1_790_000_000, 250_000_001, v4.clone()),
                    (1_790_000_001, 999_999_999, v6.clone()),
                ],
            ),
        ),
        (
            "ipv4-ipv6.pcap",
            pcap(false, true, 228, &[(1_790_000_000, 7, v4.clone())]),
        ),
        (
            "null.pcap",
            pcap(
                false,
                false,
                0,
                &[
                    (1_790_000_000, 3, null(2, false, &v4)),
                    (1_790_000_000, 4, null(30, false, &v6)),
                ],
            ),
        ),
        (
            "loop.pcap",
            pcap(
                true,
                false,
                108,
                &[
                    (1_790_000_000, 5, null(2, true, &v4)),
                    (1_790_000_000, 6, null(24, true, &v6)),
                ],
            ),
        ),
    ];
    for (name, bytes) in &cases {
        let (msgs, stats) = read_messages(name, bytes).unwrap();
        assert!(stats.skipped.is_empty(), "{name}: {stats:?}");
        assert_eq!(&msgs[0].bytes[..], b"over v4", "{name}");
        assert_eq!((msgs[0].src, msgs[0].dst), (a4, b4), "{name}");
        if msgs.len() > 1 {
            assert_eq!(&msgs[1].bytes[..], b"over v6", "{name}");
            assert_eq!((msgs[1].src, msgs[1].dst), (a6, b6), "{name}");
        }
        if support::tshark().is_some() {
            let dir = tempfile::tempdir().unwrap();
            let f = dir.path().join(name);
            std::fs::write(&f, bytes).unwrap();
            let theirs =
                support::run_tshark(&f, &["-Y", "udp", "-T", "fields", "-e", "frame.time_epoch"]);
            let ours: Vec<String> = msgs
                .iter()
                .map(|m| {
                    format!(
                        "{}.{:09}",
                        m.timestamp.timestamp(),
                        m.timestamp.timestamp_subsec_nanos()
                    )
                })
                .collect();
            assert_eq!(theirs.lines().collect::<Vec<_>>(), ours, "{name}");
        }
    }
    assert_eq!(
        read_messages("x", &cases[0].1).unwrap().0[1].timestamp,
        ts(1_790_000_001, 1000)
    );
    assert_eq!(
        read_messages("x", &cases[1].1).unwrap().0[1].timestamp,
        ts(1_790_000_001, 999_999_999)
    );
}

#[test]
fn ipv6_tcp_out_of_order_in_a_foreign_built_pcap() {
    let (a, b) = (addr("[2001:db8::1]:4000"), addr("[2001:db8::2]:5601"));
    let recs = vec![
        (1_790_000_000, 1, ip_tcp(a, b, 1000, b"abc")),
        (1_790_000_000, 2, ip_tcp(a, b, 1006, b"ghi")), // ahead of a hole
        (1_790_000_000, 3, ip_tcp(a, b, 1000, b"abc")), // retransmission
        (1_790_000_000, 4, ip_tcp(a, b, 1003, b"def")), // fills the hole
    ];
    let bytes = pcap(false, false, 101, &recs);
    let (msgs, _) = read_messages("v6tcp.pcap", &bytes).unwrap();
    let got: Vec<(&[u8], u32)> = msgs
        .iter()
        .map(|m| (&m.bytes[..], m.timestamp.timestamp_subsec_micros()))
        .collect();
    assert_eq!(got, vec![(&b"abc"[..], 1), (&b"defghi"[..], 4)]);
    assert!(
        msgs.iter()
            .all(|m| m.transport == Transport::Tcp && m.src == a)
    );
}

#[test]
fn writer_handles_ipv6() {
    let (a, b) = (addr("[2001:db8::1]:4000"), addr("[2001:db8::2]:1883"));
    let mut w = PcapngWriter::new().unwrap();
    w.udp(ts(1_790_000_000, 1), a, addr("[2001:db8::2]:5500"), b"u6")
        .unwrap();
    w.mqtt_publish(ts(1_790_000_000, 2), a, b, "kr/x", b"payload")
        .unwrap();
    assert!(
        w.udp(ts(1_790_000_000, 3), addr("10.0.0.1:1"), b, b"mixed")
            .is_err()
    );
    let (msgs, _) = read_messages("v6.pcapng", &w.into_bytes()).unwrap();
    assert_eq!(&msgs[0].bytes[..], b"u6");
    assert!(
        msgs.iter()
            .any(|m| m.dst == b && m.bytes.windows(7).any(|x| x == b"payload"))
    );
}
