//! Golden vectors in `schemas/vectors/us/`: every valid vector decodes to its JSON and the JSON
//! encodes back to the same bytes; every invalid vector fails with its named error code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use bytes::BytesMut;
use common::{json_close, names_with, read_hex, vectors_dir};
use trilink_schema::{Envelope, NationalCodec, NationalError, PayloadKind, ValidationContext};
use trilink_us::{UsCodec, decode_datagram, decode_to_common};

#[test]
fn valid_vectors_decode_to_their_json_and_encode_back() {
    let dir = vectors_dir();
    let codec = UsCodec::default();
    let mut kinds = std::collections::BTreeSet::new();
    let mut count = 0;
    for name in names_with("json") {
        let hex_path = dir.join(format!("{name}.hex"));
        if !hex_path.exists() {
            continue; // an invalid envelope (NAME.json + NAME.error), tested below
        }
        let bytes = read_hex(&hex_path);
        let json_text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let expected: Envelope = serde_json::from_str(&json_text).unwrap();

        // national -> common
        let env = decode_to_common(&bytes, expected.ingested_at)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = serde_json::to_value(&env).unwrap();
        let want: serde_json::Value = serde_json::from_str(&json_text).unwrap();
        if let Err(diff) = json_close(&got, &want, "") {
            panic!("{name}: decoded envelope differs from JSON: {diff}");
        }
        env.validate(&ValidationContext::at(expected.ingested_at))
            .unwrap_or_else(|e| panic!("{name}: decoded envelope invalid: {e}"));
        kinds.insert(env.payload.kind());

        // common -> national: the JSON encodes to exactly the vector bytes (the sequence number
        // is the transport's, so it is taken from the vector).
        let decoded = decode_datagram(&bytes).unwrap();
        let mut frame = codec.to_national(&expected).unwrap();
        frame.simple.sequence = decoded.simple.sequence;
        assert_eq!(frame, decoded, "{name}: to_national(json) != decode(hex)");
        let mut out = BytesMut::new();
        codec.encode(&frame, &mut out).unwrap();
        assert_eq!(
            out.as_ref(),
            bytes.as_slice(),
            "{name}: encode(to_national(json)) != hex"
        );
        count += 1;
    }
    assert!(count >= 7, "only {count} valid vectors");
    assert_eq!(
        kinds.len(),
        PayloadKind::NATIONAL.len(),
        "not every national payload kind has a vector: {kinds:?}"
    );
}

#[test]
fn invalid_vectors_fail_with_their_code() {
    let dir = vectors_dir();
    let codec = UsCodec::default();
    let mut codes = std::collections::BTreeSet::new();
    for name in names_with("error") {
        let code = std::fs::read_to_string(dir.join(format!("{name}.error")))
            .unwrap()
            .trim()
            .to_owned();
        let hex_path = dir.join(format!("{name}.hex"));
        let got = if hex_path.exists() {
            let bytes = read_hex(&hex_path);
            decode_to_common(&bytes, chrono::Utc::now()).map(|_| ())
        } else {
            let env: Envelope = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
            )
            .unwrap();
            codec.to_national(&env).map(|_| ())
        };
        match got {
            Ok(()) => panic!("{name}: expected {code}, decoded fine"),
            Err(e) => assert_eq!(e.code(), code, "{name}: {e}"),
        }
        codes.insert(code);
    }
    // Every error variant has at least one vector.
    for code in trilink_us::UsError::CODES {
        assert!(codes.contains(code), "no invalid vector for {code}");
    }
}

#[test]
fn streaming_a_truncated_vector_asks_for_exactly_the_missing_bytes() {
    let bytes = read_hex(&vectors_dir().join("truncated.hex"));
    let full = read_hex(&vectors_dir().join("track_update.hex"));
    let codec = UsCodec::default();
    assert_eq!(
        codec.decode(&bytes).unwrap(),
        trilink_schema::Decoded::NeedMore {
            needed: full.len() - bytes.len()
        }
    );
}

/// `NAME.hex` + `NAME.error` (`hub_only_kind`) + `NAME.association`: a J7.7 association (us.md
/// §13) decodes to exactly what the `.association` JSON names, encodes back to the same bytes,
/// and ingress refuses it. `TRILINK_WRITE_US_ASSOCIATION=1` rewrites the `.association` files.
#[test]
fn association_vectors_name_their_contributors() {
    use trilink_us::MessageBody;
    let dir = vectors_dir();
    let mut count = 0;
    for name in names_with("association") {
        let bytes = read_hex(&dir.join(format!("{name}.hex")));
        let frame = decode_datagram(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let m = &frame.message;
        let MessageBody::Association(a) = &m.body else {
            panic!("{name}: not a J7.7 association: {m:?}")
        };
        let observed_at = trilink_us::gps::gps_us_to_utc(m.observed_at_gps_us).unwrap();
        let releasability: Vec<&str> = [(1u8, "jp"), (2, "kr"), (4, "us")]
            .into_iter()
            .filter(|(bit, _)| m.releasability & bit != 0)
            .map(|(_, n)| n)
            .collect();
        let got = serde_json::json!({
            "origin": m.origin,
            "mode": m.mode,
            "releasability": releasability,
            "observed_at": observed_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "source": {
                "system": m.system,
                "sensor": m.sensor,
                "national_message_id": m.national_message_id,
            },
            "references": m.references.iter().map(|r| uuid::Uuid::from_bytes(*r).to_string()).collect::<Vec<_>>(),
            "association": {
                "track_id": a.track_id,
                "first": a.first,
                "total": a.total,
                "contributors": a.members.iter().map(|c| serde_json::json!({
                    "origin": c.origin,
                    "state": c.state,
                    "track_id": c.track_id,
                })).collect::<Vec<_>>(),
            },
        });
        let path = dir.join(format!("{name}.association"));
        if std::env::var_os("TRILINK_WRITE_US_ASSOCIATION").is_some() {
            std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        }
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(got, want, "{name}");
        let mut out = BytesMut::new();
        trilink_us::wire::encode(&frame, &mut out).unwrap();
        assert_eq!(
            out.as_ref(),
            bytes.as_slice(),
            "{name}: encode(decode(hex)) != hex"
        );
        let e = decode_to_common(&bytes, chrono::Utc::now()).unwrap_err();
        assert_eq!(e.code(), "hub_only_kind", "{name}");
        assert_eq!(
            std::fs::read_to_string(dir.join(format!("{name}.error")))
                .unwrap()
                .trim(),
            "hub_only_kind"
        );
        count += 1;
    }
    assert!(count >= 1, "no association vector");
}
