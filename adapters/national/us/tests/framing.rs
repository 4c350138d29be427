//! One packet per UDP datagram (us.md §1, §9 steps 1–3 and 17a): anything after a packet that
//! passes steps 2–17 rejects the whole datagram (`trailing_bytes`), before translation
//! (step 18); the packet's own error wins over trailing bytes; a datagram of 0–3 bytes is
//! `truncated` unless already a bad sync; a TCP stream still carries packets back to back.
//! Checked through the trait method the runtime uses ([`NationalCodec::decode_message`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{names_with, read_hex, vectors_dir};
use trilink_schema::{Decoded, NationalCodec, NationalError};
use trilink_us::{UsCodec, UsError, UsFrame, simple_checksum};

fn vector(name: &str) -> Vec<u8> {
    read_hex(&vectors_dir().join(format!("{name}.hex")))
}

fn message(bytes: &[u8]) -> Result<UsFrame, UsError> {
    NationalCodec::decode_message(&UsCodec::default(), bytes)
}

/// What the adapter does with one datagram: decode_message, then to_common.
fn ingest(bytes: &[u8]) -> Result<(), UsError> {
    let frame = message(bytes)?;
    UsCodec::default()
        .to_common(&frame, chrono::Utc::now())
        .map(|_| ())
}

const VALID: [&str; 4] = ["track_update", "status", "cancel", "cancel_two_containers"];

#[test]
fn every_invalid_vector_gives_its_code_through_decode_message() {
    let mut n = 0;
    for name in names_with("error") {
        let hex = vectors_dir().join(format!("{name}.hex"));
        if !hex.exists() {
            continue;
        }
        let code = std::fs::read_to_string(vectors_dir().join(format!("{name}.error")))
            .unwrap()
            .trim()
            .to_owned();
        let e = ingest(&read_hex(&hex)).expect_err(&name);
        assert_eq!(e.code(), code, "{name}: {e}");
        n += 1;
    }
    assert!(n > 30, "only {n} invalid vectors");
}

#[test]
fn two_packets_in_one_datagram_are_rejected_and_two_on_a_stream_are_not() {
    let codec = UsCodec::default();
    for a in VALID {
        for b in VALID {
            let (x, y) = (vector(a), vector(b));
            let d = [x.as_slice(), &y].concat();
            assert_eq!(
                message(&d).unwrap_err(),
                UsError::TrailingBytes { extra: y.len() },
                "{a}+{b}"
            );
            let Ok(Decoded::Frame { consumed, .. }) = codec.decode(&d) else {
                panic!("{a}+{b}: stream decode")
            };
            assert_eq!(consumed, x.len());
            let Ok(Decoded::Frame { consumed, .. }) = codec.decode(&d[x.len()..]) else {
                panic!("{a}+{b}: second packet on the stream")
            };
            assert_eq!(consumed, y.len());
        }
    }
}

#[test]
fn any_suffix_after_a_valid_packet_is_trailing_bytes() {
    for name in VALID {
        let good = vector(name);
        assert!(ingest(&good).is_ok(), "{name}");
        for extra in [
            vec![0],
            vec![0x49],
            vec![0x49, 0x36],
            vec![0xAA; 100],
            good[..4].to_vec(),
        ] {
            let d = [good.as_slice(), &extra].concat();
            assert_eq!(
                message(&d).unwrap_err(),
                UsError::TrailingBytes { extra: extra.len() },
                "{name} + {extra:02x?}"
            );
        }
    }
}

#[test]
fn the_packets_own_error_wins_and_translation_comes_after() {
    let good = vector("track_update");
    let next = vector("status");
    let mut bad_ck = good.clone();
    *bad_ck.last_mut().unwrap() ^= 1;
    let mut bad_type = good.clone();
    bad_type[11] = 61;
    let n = bad_type.len();
    let ck = simple_checksum(&bad_type[..n - 2]);
    bad_type[n - 2..].copy_from_slice(&ck.to_le_bytes());
    for tail in [vec![0], next.clone()] {
        let d = [bad_ck.as_slice(), &tail].concat();
        assert_eq!(message(&d).unwrap_err().code(), "bad_checksum");
        let d = [bad_type.as_slice(), &tail].concat();
        assert_eq!(message(&d).unwrap_err().code(), "unknown_type");
    }
    // A step-18 (translation) error alone, and followed by one byte (step 17a first).
    let far = vector("field_out_of_range_altitude");
    assert_eq!(ingest(&far).unwrap_err().code(), "field_out_of_range");
    let d = [far.as_slice(), &[0]].concat();
    assert_eq!(ingest(&d).unwrap_err().code(), "trailing_bytes");
    assert_eq!(
        ingest(&vector("trailing_bytes_before_translation"))
            .unwrap_err()
            .code(),
        "trailing_bytes"
    );
}

#[test]
fn datagrams_of_zero_to_three_bytes_are_truncated_unless_bad_sync() {
    assert_eq!(message(&[]).unwrap_err().code(), "truncated");
    let is_sync_prefix =
        |b: &[u8]| b.first().is_none_or(|&x| x == 0x49) && b.get(1).is_none_or(|&x| x == 0x36);
    for a in 0..=255_u8 {
        let one = [a];
        let want = if is_sync_prefix(&one) {
            "truncated"
        } else {
            "bad_sync"
        };
        assert_eq!(message(&one).unwrap_err().code(), want, "{one:02x?}");
        for b in 0..=255_u8 {
            let two = [a, b];
            let want = if is_sync_prefix(&two) {
                "truncated"
            } else {
                "bad_sync"
            };
            assert_eq!(message(&two).unwrap_err().code(), want, "{two:02x?}");
            for c in [0_u8, 0x32, 0xFF] {
                let three = [a, b, c];
                assert_eq!(message(&three).unwrap_err().code(), want, "{three:02x?}");
            }
        }
    }
}
