//! Golden tests: every file in `schemas/vectors/kr/` (see its README).

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)] // test helpers

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_kr::{KrCodec, NationalCodec, NationalError};
use trilink_schema::Envelope;
use trilink_schema::testing::files::{hex_file, vector_names, vectors_dir};

#[test]
fn valid_vectors_decode_translate_and_reencode() {
    let codec = KrCodec;
    let mut count = 0;
    for name in vector_names("kr", "json") {
        let hex_path = vectors_dir("kr").join(format!("{name}.hex"));
        if !hex_path.exists() {
            continue; // unrepresentable vector, tested below
        }
        let bytes = hex_file(&hex_path);
        let json_text =
            std::fs::read_to_string(vectors_dir("kr").join(format!("{name}.json"))).unwrap();
        let expected_value: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        let expected = Envelope::from_json(json_text.as_bytes()).unwrap();
        let ingested: DateTime<Utc> = expected.ingested_at;

        let frame = codec
            .decode_message(&bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let env = codec.to_common(&frame, ingested).unwrap();
        assert_eq!(env, expected, "{name}: to_common differs from the JSON");
        assert_eq!(
            serde_json::to_value(&env).unwrap(),
            expected_value,
            "{name}: JSON form differs"
        );

        let mut out = BytesMut::new();
        codec.encode_envelope(&expected, &mut out).unwrap();
        assert_eq!(
            out.as_ref(),
            bytes.as_slice(),
            "{name}: encode(to_national(json)) differs from the hex"
        );
        count += 1;
    }
    assert!(count >= 10, "only {count} valid vectors found");
}

#[test]
fn every_sentence_type_has_a_valid_vector() {
    let codec = KrCodec;
    let mut kinds = std::collections::BTreeSet::new();
    for name in vector_names("kr", "json") {
        let hex_path = vectors_dir("kr").join(format!("{name}.hex"));
        if hex_path.exists() {
            let f = codec.decode_message(&hex_file(&hex_path)).unwrap();
            kinds.insert(f.body.type_code());
        }
    }
    assert_eq!(kinds.len(), 7, "{kinds:?}");
}

#[test]
fn invalid_vectors_fail_with_their_code() {
    let codec = KrCodec;
    let mut codes = std::collections::BTreeSet::new();
    for name in vector_names("kr", "error") {
        let expected = std::fs::read_to_string(vectors_dir("kr").join(format!("{name}.error")))
            .unwrap()
            .trim()
            .to_owned();
        let hex_path = vectors_dir("kr").join(format!("{name}.hex"));
        let got = if hex_path.exists() {
            codec.decode_message(&hex_file(&hex_path)).unwrap_err()
        } else {
            let env = Envelope::from_json(
                &std::fs::read(vectors_dir("kr").join(format!("{name}.json"))).unwrap(),
            )
            .unwrap();
            codec.to_national(&env).unwrap_err()
        };
        assert_eq!(got.code(), expected, "{name}: {got}");
        codes.insert(expected);
    }
    // At least one invalid vector per error variant.
    for code in trilink_kr::KrError::CODES {
        assert!(codes.contains(code), "no invalid vector for {code}");
    }
}

#[test]
fn streaming_decoder_reads_all_vectors_back_to_back() {
    // Every valid and invalid vector concatenated: the streaming decoder must find every
    // valid sentence, never panic, and always make progress.
    let codec = KrCodec;
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for name in vector_names("kr", "hex") {
        let bytes = hex_file(&vectors_dir("kr").join(format!("{name}.hex")));
        if vectors_dir("kr").join(format!("{name}.json")).exists() {
            expected.push(codec.decode_message(&bytes).unwrap());
        }
        stream.extend_from_slice(&bytes);
    }
    let mut found = Vec::new();
    let mut buf = stream.as_slice();
    while !buf.is_empty() {
        match codec.decode(buf) {
            Ok(trilink_kr::Decoded::Frame { frame, consumed }) => {
                found.push(frame);
                buf = &buf[consumed..];
            }
            Ok(trilink_kr::Decoded::NeedMore { .. }) => break,
            Err(_) => buf = &buf[codec.skip_after_error(buf)..],
        }
    }
    // Valid sentences embedded in invalid vectors (e.g. trailing_data holds two) are found
    // too, so `found` holds at least every expected sentence, in order.
    let mut it = found.iter();
    for e in &expected {
        assert!(it.any(|f| f == e), "sentence not found in stream: {e:?}");
    }
}

#[test]
fn streaming_decoder_fed_byte_by_byte() {
    // Each valid vector, fed one byte at a time into a growing buffer: "need more" until the
    // final LF arrives, then exactly that sentence, consuming the whole buffer.
    let codec = KrCodec;
    for name in vector_names("kr", "json") {
        let hex_path = vectors_dir("kr").join(format!("{name}.hex"));
        if !hex_path.exists() {
            continue;
        }
        let bytes = hex_file(&hex_path);
        let expected = codec.decode_message(&bytes).unwrap();
        for end in 1..bytes.len() {
            match codec.decode(&bytes[..end]) {
                Ok(trilink_kr::Decoded::NeedMore { needed }) => assert!(needed >= 1),
                other => panic!("{name}: at {end} bytes expected NeedMore, got {other:?}"),
            }
        }
        match codec.decode(&bytes) {
            Ok(trilink_kr::Decoded::Frame { frame, consumed }) => {
                assert_eq!(consumed, bytes.len());
                assert_eq!(frame, expected);
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}
