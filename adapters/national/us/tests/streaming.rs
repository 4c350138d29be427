//! Streaming decode (TCP byte stream), resynchronisation after errors, datagram rules, and
//! "no input makes the decoder panic".

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use chrono::Utc;
use proptest::prelude::*;
use trilink_schema::{Decoded, NationalCodec, NationalError};
use trilink_us::{UsCodec, UsError, UsFrame, decode_datagram, decode_to_common};

/// Every valid vector's bytes, in name order.
fn valid_packets() -> Vec<Vec<u8>> {
    common::names_with("json")
        .into_iter()
        .filter_map(|n| {
            let p = common::vectors_dir().join(format!("{n}.hex"));
            p.exists().then(|| common::read_hex(&p))
        })
        .collect()
}

/// Feed `chunks` into a buffer the way a TCP reader would; decode frames as they complete.
fn stream_decode(chunks: &[&[u8]]) -> (Vec<UsFrame>, Vec<&'static str>) {
    let codec = UsCodec::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut frames = Vec::new();
    let mut errors = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            if buf.is_empty() {
                break;
            }
            match codec.decode(&buf) {
                Ok(Decoded::Frame { frame, consumed }) => {
                    assert!(consumed > 0 && consumed <= buf.len());
                    frames.push(frame);
                    buf.drain(..consumed);
                }
                Ok(Decoded::NeedMore { needed }) => {
                    assert!(needed > 0);
                    assert!(buf.len() + needed <= UsCodec::MAX_FRAME_LEN.max(4));
                    break;
                }
                Err(e) => {
                    errors.push(e.code());
                    let skip = codec.skip_after_error(&buf);
                    assert!(skip >= 1 && skip <= buf.len());
                    buf.drain(..skip);
                }
            }
        }
    }
    (frames, errors)
}

fn expected_frames(packets: &[Vec<u8>]) -> Vec<UsFrame> {
    packets
        .iter()
        .map(|p| decode_datagram(p).unwrap())
        .collect()
}

#[test]
fn byte_by_byte_stream_yields_every_frame() {
    let packets = valid_packets();
    assert!(packets.len() >= 7);
    let stream: Vec<u8> = packets.concat();
    let chunks: Vec<&[u8]> = stream.chunks(1).collect();
    let (frames, errors) = stream_decode(&chunks);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(frames, expected_frames(&packets));
}

#[test]
fn need_more_is_exact_and_oversize_is_reported_before_buffering() {
    let codec = UsCodec::default();
    let p = &valid_packets()[0];
    assert_eq!(codec.decode(&[]).unwrap(), Decoded::NeedMore { needed: 4 });
    assert_eq!(
        codec.decode(&p[..1]).unwrap(),
        Decoded::NeedMore { needed: 3 }
    );
    assert_eq!(
        codec.decode(&p[..3]).unwrap(),
        Decoded::NeedMore { needed: 1 }
    );
    for k in 4..p.len() {
        assert_eq!(
            codec.decode(&p[..k]).unwrap(),
            Decoded::NeedMore {
                needed: p.len() - k
            }
        );
    }
    // A declared length over the maximum is refused from the first four bytes.
    let e = codec.decode(&[0x49, 0x36, 0xff, 0xff]).unwrap_err();
    assert_eq!(
        e,
        UsError::Oversize {
            length: 65_535,
            max: 510
        }
    );
    let e = codec.decode(&[0x49, 0x36, 0xff, 0x01]).unwrap_err();
    assert_eq!(e.code(), "oversize");
    // Bad sync is known from the first byte.
    assert_eq!(codec.decode(&[0x00]).unwrap_err().code(), "bad_sync");
}

#[test]
fn resynchronises_after_garbage_and_corrupt_packets() {
    let packets = valid_packets();
    let mut stream = Vec::new();
    let mut corrupt = packets[1].clone();
    let n = corrupt.len();
    corrupt[n - 1] ^= 0xff; // bad checksum
    stream.extend_from_slice(&[0x00, 0x11, 0x22]);
    stream.extend_from_slice(&packets[0]);
    stream.extend_from_slice(&corrupt);
    stream.extend_from_slice(&[0x49, 0x00, 0x49]); // false sync starts
    stream.extend_from_slice(&packets[2]);
    let (frames, errors) = stream_decode(&[&stream]);
    assert_eq!(
        frames,
        expected_frames(&[packets[0].clone(), packets[2].clone()])
    );
    assert!(errors.contains(&"bad_sync"));
    assert!(errors.contains(&"bad_checksum"));
}

#[test]
fn datagram_rules() {
    let p = &valid_packets()[0];
    assert!(decode_datagram(p).is_ok());
    assert_eq!(
        decode_datagram(&p[..p.len() - 1]).unwrap_err(),
        UsError::Truncated { needed: 1 }
    );
    let mut q = p.clone();
    q.push(0);
    assert_eq!(
        decode_datagram(&q).unwrap_err(),
        UsError::TrailingBytes { extra: 1 }
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn random_chunking_yields_every_frame(seed_cuts in proptest::collection::vec(1usize..64, 1..200)) {
        let packets = valid_packets();
        let stream: Vec<u8> = packets.concat();
        let mut chunks = Vec::new();
        let mut pos = 0;
        for c in seed_cuts.iter().cycle() {
            if pos >= stream.len() { break; }
            let end = (pos + c).min(stream.len());
            chunks.push(&stream[pos..end]);
            pos = end;
        }
        let (frames, errors) = stream_decode(&chunks);
        prop_assert!(errors.is_empty());
        prop_assert_eq!(frames, expected_frames(&packets));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let codec = UsCodec::default();
        if let Ok(Decoded::Frame { consumed, .. }) = codec.decode(&bytes) {
            prop_assert!(consumed <= bytes.len());
        }
        let _ = decode_to_common(&bytes, Utc::now());
        if !bytes.is_empty() {
            let s = codec.skip_after_error(&bytes);
            prop_assert!(s >= 1 && s <= bytes.len());
        }
    }

    #[test]
    fn arbitrary_bytes_behind_a_valid_header_never_panic(
        which in 0usize..10,
        body in proptest::collection::vec(any::<u8>(), 0..520),
    ) {
        // Valid sync/length/checksum with random content reaches the deep parser.
        let packets = valid_packets();
        let len = packets[which % packets.len()].len();
        let mut b = vec![0u8; len];
        b[..2].copy_from_slice(&[0x49, 0x36]);
        b[2..4].copy_from_slice(&(len as u16).to_le_bytes());
        for (d, s) in b[4..len - 2].iter_mut().zip(body.iter()) { *d = *s; }
        let sum = trilink_us::simple_checksum(&b[..len - 2]);
        b[len - 2..].copy_from_slice(&sum.to_le_bytes());
        let _ = decode_to_common(&b, Utc::now());
    }

    #[test]
    fn single_byte_mutations_of_valid_packets_never_panic(
        which in 0usize..10, pos in any::<usize>(), val in any::<u8>(), fix in any::<bool>()
    ) {
        let packets = valid_packets();
        let mut b = packets[which % packets.len()].clone();
        let n = b.len();
        b[pos % n] = val;
        if fix {
            let sum = trilink_us::simple_checksum(&b[..n - 2]);
            b[n - 2..].copy_from_slice(&sum.to_le_bytes());
        }
        if let Ok(env) = decode_to_common(&b, Utc::now()) {
            // Whatever decodes must re-encode without panicking.
            let _ = UsCodec::default().to_national(&env);
        }
    }
}
