//! One test per error variant, checking the variant and its fields, not just the code.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use chrono::Utc;
use trilink_schema::{Envelope, NationalCodec, NationalError};
use trilink_us::{
    MessageBody, UsCodec, UsError, decode_datagram, decode_to_common, simple_checksum,
};

fn vector(name: &str) -> Vec<u8> {
    common::read_hex(&common::vectors_dir().join(format!("{name}.hex")))
}

fn refix(b: &mut [u8]) {
    let n = b.len();
    let s = simple_checksum(&b[..n - 2]);
    b[n - 2..].copy_from_slice(&s.to_le_bytes());
}

#[test]
fn bad_sync() {
    assert_eq!(
        decode_datagram(&vector("bad_sync")).unwrap_err(),
        UsError::BadSync { found: 0x4a36 }
    );
    assert_eq!(
        decode_datagram(&vector("bad_sync_second_byte")).unwrap_err(),
        UsError::BadSync { found: 0x4937 }
    );
}

#[test]
fn oversize() {
    assert_eq!(
        decode_datagram(&vector("oversize")).unwrap_err(),
        UsError::Oversize {
            length: 512,
            max: 510
        }
    );
}

#[test]
fn bad_length() {
    let e = decode_datagram(&vector("bad_length")).unwrap_err();
    assert!(
        matches!(
            e,
            UsError::BadLength {
                field: "length",
                ..
            }
        ),
        "{e}"
    );
    let e = decode_datagram(&vector("bad_length_packet_size")).unwrap_err();
    assert!(
        matches!(
            e,
            UsError::BadLength {
                field: "packet_size",
                ..
            }
        ),
        "{e}"
    );
    let e = decode_datagram(&vector("bad_length_word_count")).unwrap_err();
    assert_eq!(
        e,
        UsError::BadLength {
            field: "word_count",
            value: 5
        }
    );
    // Below the minimum (one primary word and one container word).
    let e = UsCodec::default().decode(&[0x49, 0x36, 30, 0]).unwrap_err();
    assert_eq!(
        e,
        UsError::BadLength {
            field: "length",
            value: 30
        }
    );
}

#[test]
fn bad_checksum() {
    let good = vector("track_update");
    let bad = vector("bad_checksum");
    let n = good.len();
    let expected = u16::from_le_bytes([good[n - 2], good[n - 1]]);
    let actual = u16::from_le_bytes([bad[n - 2], bad[n - 1]]);
    assert_eq!(
        decode_datagram(&bad).unwrap_err(),
        UsError::BadChecksum { expected, actual }
    );
    // Check value of the algorithm over "123456789".
    assert_eq!(simple_checksum(b"123456789"), 0x01dd);
}

#[test]
fn truncated() {
    let e = decode_datagram(&vector("truncated")).unwrap_err();
    assert_eq!(e, UsError::Truncated { needed: 7 });
    // Inside the packet: a J28.2 message whose MLI announces more words than the packet has.
    let mut b = vector("event_end_lost");
    let n = (b.len() - 30) / 10;
    // Find the last container initial word and raise its MLI to 7.
    let mut last_initial = None;
    for i in 4..n {
        let o = 28 + 10 * i;
        if b[o].trailing_zeros() >= 2 {
            last_initial = Some(o);
        }
    }
    let o = last_initial.unwrap();
    let h = u16::from_le_bytes([b[o], b[o + 1]]) | (7 << 10);
    b[o..o + 2].copy_from_slice(&h.to_le_bytes());
    refix(&mut b);
    let e = decode_datagram(&b).unwrap_err();
    assert!(matches!(e, UsError::Truncated { .. }), "{e}");
}

#[test]
fn trailing_bytes() {
    assert_eq!(
        decode_datagram(&vector("trailing_bytes")).unwrap_err(),
        UsError::TrailingBytes { extra: 3 }
    );
}

#[test]
fn unknown_type() {
    let cases = [
        ("unknown_type_packet_type", "packet_type", 61),
        ("unknown_type_subtype", "link16_subtype", 0),
        ("unknown_type_label", "j_label", 31),
        ("unknown_type_word_format", "word_format", 3),
    ];
    for (name, field, value) in cases {
        assert_eq!(
            decode_datagram(&vector(name)).unwrap_err(),
            UsError::UnknownType { field, value },
            "{name}"
        );
    }
}

#[test]
fn field_out_of_range() {
    assert_eq!(
        decode_datagram(&vector("field_out_of_range_quality")).unwrap_err(),
        UsError::FieldOutOfRange {
            field: "quality",
            value: 16
        }
    );
    assert_eq!(
        decode_datagram(&vector("field_out_of_range_origin")).unwrap_err(),
        UsError::FieldOutOfRange {
            field: "origin",
            value: 3
        }
    );
    let e = decode_datagram(&vector("field_out_of_range_time")).unwrap_err();
    assert!(matches!(e, UsError::FieldOutOfRange { field: "time", value } if value >= 1 << 56));
    // Uncertainties and ellipse axes above 10 000 km (the common schema's limit) are rejected
    // with the body fields (spec §5.2, §9 step 16).
    assert_eq!(
        decode_datagram(&vector("field_out_of_range_uncertainty")).unwrap_err(),
        UsError::FieldOutOfRange {
            field: "uncertainty_horizontal",
            value: 1_000_000_001
        }
    );
    assert_eq!(
        decode_datagram(&vector("field_out_of_range_semi_major")).unwrap_err(),
        UsError::FieldOutOfRange {
            field: "semi_major",
            value: 1_000_000_001
        }
    );
    // An ECEF velocity that fits its i32 mm/s but rotates to an ENU component beyond
    // ±12 000 m/s: the packet decodes, translation rejects it (spec §6, §9 step 18).
    let b = vector("field_out_of_range_velocity");
    let f = decode_datagram(&b).unwrap();
    let MessageBody::TrackUpdate(t) = &f.message.body else {
        panic!("not a track update")
    };
    assert_eq!(t.velocity.x, 20_000_000);
    assert_eq!(
        decode_to_common(&b, Utc::now()).unwrap_err(),
        UsError::FieldOutOfRange {
            field: "velocity",
            value: -14_007
        }
    );
    // A track id longer than 32 is rejected while reading the text area (spec §8, §9 step 16),
    // before translation could call it bad_text.
    assert_eq!(
        decode_datagram(&vector("field_out_of_range_track_id_length")).unwrap_err(),
        UsError::FieldOutOfRange {
            field: "track_id",
            value: 33
        }
    );
}

#[test]
fn malformed() {
    for name in [
        "malformed_continuation_label",
        "malformed_padding",
        "malformed_no_container",
    ] {
        let e = decode_datagram(&vector(name)).unwrap_err();
        assert!(matches!(e, UsError::Malformed { .. }), "{name}: {e}");
    }
    // No J28.2 container: a structural error found before the envelope word is read, so
    // an invalid origin does not change the code (spec §9 step 14 before step 15).
    let mut b = vector("malformed_no_container");
    b[30] |= 3;
    refix(&mut b);
    let e = decode_datagram(&b).unwrap_err();
    assert!(matches!(e, UsError::Malformed { .. }), "{e}");
}

#[test]
fn bad_text() {
    assert_eq!(
        decode_datagram(&vector("bad_text_system")).unwrap_err(),
        UsError::BadText { field: "system" }
    );
    // Decodes (valid UTF-8) but is not a track id: rejected by translation.
    let b = vector("bad_text_track_id");
    assert!(decode_datagram(&b).is_ok());
    assert_eq!(
        decode_to_common(&b, Utc::now()).unwrap_err(),
        UsError::BadText { field: "track_id" }
    );
    // An empty track id is valid text too, and likewise not a track id.
    let b = vector("bad_text_track_id_empty");
    let MessageBody::TrackUpdate(t) = decode_datagram(&b).unwrap().message.body else {
        panic!("not a track update")
    };
    assert_eq!(t.track_id, "");
    assert_eq!(
        decode_to_common(&b, Utc::now()).unwrap_err(),
        UsError::BadText { field: "track_id" }
    );
}

#[test]
fn unrepresentable() {
    let codec = UsCodec::default();
    for name in [
        "unrepresentable_capacity",
        "unrepresentable_before_gps_epoch",
        "unrepresentable_national_id",
        "unrepresentable_altitude_rounding",
        "unrepresentable_velocity_rounding",
    ] {
        let text =
            std::fs::read_to_string(common::vectors_dir().join(format!("{name}.json"))).unwrap();
        let env: Envelope = serde_json::from_str(&text).unwrap();
        let e = codec.to_national(&env).unwrap_err();
        assert!(matches!(e, UsError::Unrepresentable { .. }), "{name}: {e}");
        assert_eq!(e.code(), "unrepresentable");
    }
}

#[test]
fn codes_are_distinct_snake_case() {
    let codes = UsError::CODES;
    let set: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(set.len(), codes.len());
    for c in codes {
        assert!(
            c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'),
            "{c}"
        );
    }
}

#[test]
fn range_edge_rounding_is_refused_by_to_national() {
    let codec = UsCodec::default();
    let load = |name: &str| -> Envelope {
        let text =
            std::fs::read_to_string(common::vectors_dir().join(format!("{name}.json"))).unwrap();
        serde_json::from_str(&text).unwrap()
    };
    // Both envelopes are valid common messages: only the US rounding makes them uncarriable.
    for (name, field) in [
        ("unrepresentable_altitude_rounding", "payload.position"),
        ("unrepresentable_velocity_rounding", "payload.velocity"),
    ] {
        let env = load(name);
        env.validate(&trilink_schema::ValidationContext::at(env.ingested_at))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        match codec.to_national(&env).unwrap_err() {
            UsError::Unrepresentable { field: f, .. } => assert_eq!(f, field, "{name}"),
            e => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn distances_above_10_000_km_do_not_encode() {
    let codec = UsCodec::default();
    let mut f = decode_datagram(&vector("track_update")).unwrap();
    let MessageBody::TrackUpdate(t) = &mut f.message.body else {
        panic!("not a track update")
    };
    t.uncertainty.vertical = trilink_us::wire::DISTANCE_CM_MAX;
    let mut out = bytes::BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    assert!(decode_to_common(&out, Utc::now()).is_ok());
    let MessageBody::TrackUpdate(t) = &mut f.message.body else {
        unreachable!()
    };
    t.uncertainty.vertical = trilink_us::wire::DISTANCE_CM_MAX + 1;
    let e = codec.encode(&f, &mut bytes::BytesMut::new()).unwrap_err();
    assert_eq!(e.code(), "unrepresentable", "{e}");

    // The limit is the common schema's: 10 000 km validates, 1 cm more does not, and
    // to_national refuses what rounds above it.
    let text =
        std::fs::read_to_string(common::vectors_dir().join("impact_prediction.json")).unwrap();
    let mut env: Envelope = serde_json::from_str(&text).unwrap();
    let ctx = trilink_schema::ValidationContext::at(env.ingested_at);
    let trilink_schema::Payload::ImpactPrediction(p) = &mut env.payload else {
        panic!("not an impact prediction")
    };
    p.error_ellipse.semi_major_m = 10_000_000.0;
    env.validate(&ctx).unwrap();
    let frame = codec.to_national(&env).unwrap();
    let mut out = bytes::BytesMut::new();
    codec.encode(&frame, &mut out).unwrap();
    assert!(decode_to_common(&out, Utc::now()).is_ok());
    let trilink_schema::Payload::ImpactPrediction(p) = &mut env.payload else {
        unreachable!()
    };
    p.error_ellipse.semi_major_m = 10_000_000.01;
    assert!(env.validate(&ctx).is_err());
    assert_eq!(
        codec.to_national(&env).unwrap_err().code(),
        "unrepresentable"
    );
}
