//! Fuzz decode → to_common → to_national → encode → decode: the two decodes must agree,
//! the bytes must be identical, and the envelope must survive a second translation.
//!
//! Plain random bytes rarely pass the CRC, so the input's CRC is repaired first: the fuzzer
//! writes `$TLKR,<anything>` and this target appends `*<CRC-32>\r\n`.

#![no_main]

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use trilink_kr::{CRC32, KrCodec, NationalCodec, NationalError};

fuzz_target!(|data: &[u8]| {
    // Body: drop a leading `$` and anything from the first `*`/CR/LF on.
    let body: Vec<u8> = data
        .iter()
        .copied()
        .skip_while(|&b| b == b'$')
        .take_while(|&b| b != b'*' && b != b'\r' && b != b'\n')
        .collect();
    let mut input = b"$".to_vec();
    if !body.starts_with(b"TLKR,") {
        input.extend_from_slice(b"TLKR,");
    }
    input.extend_from_slice(&body);
    let crc = CRC32.checksum(&input[1..]);
    input.extend_from_slice(format!("*{crc:08X}\r\n").as_bytes());

    let codec = KrCodec;
    let ingested = DateTime::<Utc>::from_timestamp(1_795_222_000, 123_456_789).unwrap();
    let frame = match codec.decode_message(&input) {
        Ok(f) => f,
        Err(e) => {
            assert!(trilink_kr::KrError::CODES.contains(&e.code()));
            return;
        }
    };
    let env = codec.to_common(&frame, ingested).expect("to_common of a decoded sentence");
    let back = codec.to_national(&env).expect("to_national of a translated sentence");
    assert_eq!(back, frame, "national -> common -> national changed the sentence");
    let mut out = BytesMut::new();
    codec.encode(&back, &mut out).expect("encode");
    assert_eq!(&out[..], &input[..], "re-encoded bytes differ");
    let again = codec.decode_message(&out).expect("decode of re-encoded bytes");
    assert_eq!(again, frame);
    let env2 = codec.to_common(&again, ingested).expect("to_common again");
    assert_eq!(env2, env);
    // JSON round trip of the envelope keeps it equal (f64 values survive serde_json).
    let json = env.to_json().expect("json");
    let parsed = trilink_schema::Envelope::from_json(&json).expect("parse json");
    assert_eq!(parsed, env);
});
