//! decode → to_common → to_national → encode → decode must agree: whatever the decoder
//! accepts and translates, the encoder reproduces (same frame, same bytes).
#![no_main]

use bytes::BytesMut;
use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use trilink_schema::{Decoded, NationalCodec};
use trilink_us::{UsCodec, simple_checksum};

fuzz_target!(|data: &[u8]| {
    // Give the fuzzer a valid sync/length/checksum so it explores the J-word parser: the input
    // is read as a whole packet (so the committed vectors are good seeds) whose bytes 0-3 and
    // checksum are then overwritten with a consistent sync, length and checksum.
    let n_words = (data.len().saturating_sub(30) / 10).clamp(2, 48);
    let len = 30 + 10 * n_words;
    let mut b = vec![0u8; len];
    b[0] = 0x49;
    b[1] = 0x36;
    b[2..4].copy_from_slice(&(len as u16).to_le_bytes());
    for (d, s) in b[4..len - 2].iter_mut().zip(data.get(4..).unwrap_or_default()) {
        *d = *s;
    }
    let sum = simple_checksum(&b[..len - 2]);
    b[len - 2..].copy_from_slice(&sum.to_le_bytes());

    let codec = UsCodec::default();
    let Ok(Decoded::Frame { frame, consumed }) = codec.decode(&b) else {
        return;
    };
    assert_eq!(consumed, len);
    // Wire round trip is exact.
    let mut out = BytesMut::new();
    codec.encode(&frame, &mut out).expect("a decoded frame must encode");
    assert_eq!(out.as_ref(), &b[..], "encode(decode(b)) != b");
    // Translation round trip is exact (same headers).
    let Ok(env) = codec.to_common(&frame, Utc.timestamp_opt(1_763_700_000, 0).unwrap()) else {
        return;
    };
    let codec2 = UsCodec { simple: frame.simple, link16: frame.link16 };
    let again = codec2.to_national(&env).expect("a translated frame must translate back");
    let mut out2 = BytesMut::new();
    codec2.encode(&again, &mut out2).expect("encode");
    let Ok(Decoded::Frame { frame: f2, .. }) = codec2.decode(&out2) else {
        panic!("re-encoded frame does not decode");
    };
    assert_eq!(f2, again);
    assert_eq!(f2, frame, "decode -> to_common -> to_national changed the frame");
});
