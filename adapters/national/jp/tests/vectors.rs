//! Golden tests: every file in `schemas/vectors/jp/` (see its README).

// Test helpers outside #[test] fns may unwrap and index too (a panic is a test failure).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::unreadable_literal,
    clippy::too_many_arguments,
    clippy::needless_pass_by_value
)]

use bytes::BytesMut;
use trilink_jp::{JpCodec, decode_datagram};
use trilink_schema::testing::files::{vector_file, vector_hex, vector_names, vectors_dir};
use trilink_schema::{Envelope, NationalCodec, NationalError};

#[test]
fn valid_vectors_decode_to_their_json_and_encode_back() {
    let codec = JpCodec;
    let mut n = 0;
    for name in vector_names("jp", "hex") {
        let Some(json) = vector_file("jp", &name, "json") else {
            continue;
        };
        let bytes = vector_hex("jp", &name);
        let expected = Envelope::from_json(json.as_bytes()).unwrap();

        let frame = decode_datagram(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let env = codec.to_common(&frame, expected.ingested_at).unwrap();
        assert_eq!(env, expected, "{name}: decode → to_common");
        // The fast path gives the same envelope.
        assert_eq!(
            trilink_jp::decode_to_common(&bytes, expected.ingested_at).unwrap(),
            expected,
            "{name}: decode_to_common"
        );
        // Ids are the derived ones.
        assert_eq!(
            env.message_id,
            trilink_schema::MessageId::derive(
                env.origin,
                &env.source.system,
                &env.source.national_message_id
            ),
            "{name}"
        );

        let mut national = codec.to_national(&expected).unwrap();
        national.sequence = u32::from_be_bytes(bytes[6..10].try_into().unwrap());
        let mut out = BytesMut::new();
        codec.encode(&national, &mut out).unwrap();
        assert_eq!(
            hex::encode(&out),
            hex::encode(&bytes),
            "{name}: encode(to_national(json))"
        );
        n += 1;
    }
    // Seven worked examples plus the extra valid vectors.
    assert!(n >= 7, "only {n} valid vectors");
}

#[test]
fn every_message_type_has_a_valid_vector() {
    for kind in trilink_schema::PayloadKind::NATIONAL {
        let name = kind.as_str();
        assert!(
            vector_file("jp", name, "hex").is_some(),
            "missing {name}.hex"
        );
        assert!(
            vector_file("jp", name, "json").is_some(),
            "missing {name}.json"
        );
    }
}

#[test]
fn invalid_vectors_fail_with_their_code() {
    let mut seen = std::collections::BTreeSet::new();
    for name in vector_names("jp", "error") {
        let code = vector_file("jp", &name, "error").unwrap().trim().to_owned();
        if vector_file("jp", &name, "hex").is_some() {
            let bytes = vector_hex("jp", &name);
            let err = decode_datagram(&bytes).expect_err(&name);
            assert_eq!(err.code(), code, "{name}: got {err}");
            // The streaming decoder agrees, except where the datagram view differs.
            match JpCodec.decode(&bytes) {
                Err(e) => assert_eq!(e.code(), code, "{name} (streaming)"),
                Ok(trilink_schema::Decoded::NeedMore { .. }) => assert_eq!(code, "truncated"),
                Ok(trilink_schema::Decoded::Frame { consumed, .. }) => {
                    assert_eq!(code, "trailing_bytes");
                    assert!(consumed < bytes.len());
                }
            }
        } else {
            let json = vector_file("jp", &name, "json").expect("an .error needs a .hex or a .json");
            let env = Envelope::from_json(json.as_bytes()).unwrap();
            let err = JpCodec.to_national(&env).expect_err(&name);
            assert_eq!(err.code(), code, "{name}: got {err}");
        }
        seen.insert(code);
    }
    // At least one vector per error code.
    for code in trilink_jp::JpError::CODES {
        assert!(seen.contains(code), "no invalid vector for {code}");
    }
}

#[test]
fn spec_examples_match_the_vectors() {
    // The spec's worked examples are the vectors: every valid vector named after a payload
    // kind appears, as one hex block, in schemas/national/jp.md.
    let spec = std::fs::read_to_string(vectors_dir("jp").join("../../national/jp.md")).unwrap();
    let spec_hex: String = spec.chars().filter(char::is_ascii_hexdigit).collect();
    for kind in trilink_schema::PayloadKind::NATIONAL {
        let bytes = vector_hex("jp", kind.as_str());
        assert!(
            spec_hex.contains(&hex::encode(&bytes)),
            "worked example {} missing from the spec",
            kind.as_str()
        );
    }
}
