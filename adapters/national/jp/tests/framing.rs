//! One frame per UDP datagram (jp.md §1, §10): anything after a frame that passes steps 1–9
//! rejects the whole datagram (`trailing_bytes`); the frame's own error wins over trailing
//! bytes; a datagram never yields more than one frame. Checked through the trait method the
//! runtime uses ([`NationalCodec::decode_message`]) and through [`decode_datagram`].

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use trilink_jp::{JpCodec, JpError, decode_datagram};
use trilink_schema::testing::files::{vector_hex, vectors_dir};
use trilink_schema::{Decoded, NationalCodec, NationalError};

fn message(bytes: &[u8]) -> Result<trilink_jp::JpFrame, JpError> {
    NationalCodec::decode_message(&JpCodec, bytes)
}

const VALID: [&str; 7] = [
    "launch_detection",
    "track_update",
    "impact_prediction",
    "event_end",
    "cancel",
    "correction",
    "status",
];

#[test]
fn every_vector_gives_the_same_answer_through_decode_message() {
    let mut n = 0;
    for entry in std::fs::read_dir(vectors_dir("jp")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("hex") {
            continue;
        }
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let bytes = vector_hex("jp", &name);
        let error = vectors_dir("jp").join(format!("{name}.error"));
        if error.exists() {
            let code = std::fs::read_to_string(error).unwrap().trim().to_owned();
            let e = message(&bytes).expect_err(&name);
            assert_eq!(e.code(), code, "{name}: {e}");
        } else {
            assert_eq!(message(&bytes).unwrap(), decode_datagram(&bytes).unwrap());
        }
        n += 1;
    }
    assert!(n > 30, "only {n} vectors");
}

#[test]
fn a_frame_plus_garbage_is_rejected_whole() {
    // The reproduction of issue 14: one valid frame plus 100 bytes of garbage.
    let good = vector_hex("jp", "launch_detection");
    let mut d = good.clone();
    d.extend(std::iter::repeat_n(0xA5_u8, 100));
    assert_eq!(message(&d), Err(JpError::TrailingBytes { extra: 100 }));
    // The committed vector is that case.
    let v = vector_hex("jp", "trailing_bytes_garbage");
    assert_eq!(&v[..good.len()], good.as_slice());
    assert_eq!(v.len(), good.len() + 100);
    assert_eq!(message(&v), Err(JpError::TrailingBytes { extra: 100 }));
}

#[test]
fn any_suffix_after_any_valid_frame_is_trailing_bytes() {
    for name in VALID {
        let good = vector_hex("jp", name);
        assert!(message(&good).is_ok(), "{name}");
        for extra in [
            vec![0],
            vec![0x4A],
            vec![0x4A, 0x50],
            vec![0xFF; 3],
            good.clone(),
            good[..10].to_vec(),
        ] {
            let d = [good.as_slice(), &extra].concat();
            assert_eq!(
                message(&d),
                Err(JpError::TrailingBytes { extra: extra.len() }),
                "{name} + {extra:02x?}"
            );
            // The stream view still finds the frame at the front: only a datagram is strict.
            let Ok(Decoded::Frame { consumed, .. }) = JpCodec.decode(&d) else {
                panic!("{name}: stream decode")
            };
            assert_eq!(consumed, good.len());
        }
    }
}

#[test]
fn two_frames_in_one_datagram_are_rejected() {
    for a in VALID {
        for b in VALID {
            let d = [vector_hex("jp", a), vector_hex("jp", b)].concat();
            assert_eq!(message(&d).unwrap_err().code(), "trailing_bytes", "{a}+{b}");
        }
    }
}

#[test]
fn the_frames_own_error_wins_over_trailing_bytes() {
    let good = vector_hex("jp", "launch_detection");
    let next = vector_hex("jp", "track_update");
    let mut bad_crc = good.clone();
    *bad_crc.last_mut().unwrap() ^= 1;
    let mut bad_version = good.clone();
    bad_version[2] = 2;
    let mut bad_type = good.clone();
    bad_type[3] = 9;
    for (bad, code) in [
        (&bad_crc, "bad_checksum"),
        (&bad_version, "bad_checksum"), // CRC (step 5) before version (step 6)
        (&bad_type, "bad_checksum"),
    ] {
        for tail in [vec![0], next.clone()] {
            let d = [bad.as_slice(), &tail].concat();
            assert_eq!(message(&d).unwrap_err().code(), code);
        }
    }
    // With the CRC fixed, the version and type errors win over the trailing bytes too.
    for (offset, value, code) in [(2, 2, "unsupported_version"), (3, 9, "unknown_type")] {
        let mut b = good.clone();
        b[offset] = value;
        let n = b.len();
        let crc = trilink_jp::crc16(&b[..n - 2]);
        b[n - 2..].copy_from_slice(&crc.to_be_bytes());
        let d = [b.as_slice(), &next].concat();
        assert_eq!(message(&d).unwrap_err().code(), code);
    }
}

#[test]
fn short_datagrams_are_truncated_or_bad_sync() {
    let good = vector_hex("jp", "launch_detection");
    assert_eq!(message(&[]), Err(JpError::Truncated { needed: 10 }));
    for n in 1..good.len() {
        let e = message(&good[..n]).unwrap_err();
        assert_eq!(e.code(), "truncated", "{n} bytes");
    }
    assert_eq!(message(&[0x00]).unwrap_err().code(), "bad_sync");
}
