//! One test per error variant (with its fields), plus the JST day-rollover rule.

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
use chrono::{DateTime, TimeZone, Utc};
use trilink_jp::{
    JpBody, JpCodec, JpError, JpFrame, JpLaunch, JpPoint, crc16, decode_datagram, resolve_tod,
    to_tod,
};
use trilink_schema::{
    Decoded, Envelope, MissileClass, Mode, Nation, NationalCodec, NationalError, Payload,
};

fn launch_frame() -> JpFrame {
    JpFrame {
        sequence: 7,
        origin: Nation::Jp,
        mode: Mode::RealWorld,
        releasability: 0b111,
        observed_tod_us: 36_000_000_000,
        system: "jadgex".into(),
        sensor: "fps-5".into(),
        national_message_id: "20261121-000001".into(),
        references: vec![],
        body: JpBody::LaunchDetection(JpLaunch {
            track_id: "T1".into(),
            launch_tod_us: 35_990_000_000,
            point: JpPoint {
                lat_e7: 390_000_000,
                lon_e7: 1_250_000_000,
                alt_cm: 0,
            },
            unc_h_cm: 100,
            unc_v_cm: 100,
            class: MissileClass::Srbm,
            confidence_e4: 5000,
        }),
    }
}

fn bytes() -> Vec<u8> {
    let mut out = BytesMut::new();
    JpCodec.encode(&launch_frame(), &mut out).unwrap();
    out.to_vec()
}

fn fix_crc(b: &mut [u8]) {
    let n = b.len();
    let c = crc16(&b[..n - 2]);
    b[n - 2..].copy_from_slice(&c.to_be_bytes());
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn crc_parameters() {
    assert_eq!(crc16(b"123456789"), 0x29B1);
    assert_eq!(crc16(b""), 0xFFFF);
}

#[test]
fn bad_sync() {
    assert_eq!(
        JpCodec.decode(&[0x4B]),
        Err(JpError::BadSync { found: 0x4B00 })
    );
    assert_eq!(
        JpCodec.decode(&[0x4A, 0x51, 0, 0]),
        Err(JpError::BadSync { found: 0x4A51 })
    );
    // A correct first byte alone is "need more".
    assert_eq!(JpCodec.decode(&[0x4A]), Ok(Decoded::NeedMore { needed: 9 }));
}

#[test]
fn oversize_is_reported_before_asking_for_more() {
    let mut b = bytes();
    b[4..6].copy_from_slice(&1025u16.to_be_bytes());
    // Only 6 bytes present: the length alone decides.
    assert_eq!(
        JpCodec.decode(&b[..6]),
        Err(JpError::Oversize {
            declared: 1025,
            max: 1024
        })
    );
    b[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
    assert_eq!(decode_datagram(&b).unwrap_err().code(), "oversize");
    // 1024 itself is allowed: need more.
    b[4..6].copy_from_slice(&1024u16.to_be_bytes());
    assert!(matches!(
        JpCodec.decode(&b),
        Ok(Decoded::NeedMore { needed }) if needed == 1024 - b.len()
    ));
}

#[test]
fn bad_length() {
    let mut b = bytes();
    b[4..6].copy_from_slice(&11u16.to_be_bytes());
    assert_eq!(
        JpCodec.decode(&b[..6]),
        Err(JpError::BadLength { declared: 11 })
    );
    // Extra body byte covered by the CRC.
    let mut b = bytes();
    let n = b.len();
    b.insert(n - 2, 0);
    b[4..6].copy_from_slice(&((n + 1) as u16).to_be_bytes());
    fix_crc(&mut b);
    assert_eq!(
        decode_datagram(&b),
        Err(JpError::BadLength { declared: n + 1 })
    );
    // Minimal length 12: a header and a CRC, no body.
    let mut b = vec![0x4A, 0x50, 1, 7, 0, 12, 0, 0, 0, 0];
    let c = crc16(&b);
    b.extend_from_slice(&c.to_be_bytes());
    assert_eq!(
        decode_datagram(&b),
        Err(JpError::BadLength { declared: 12 })
    );
}

#[test]
fn truncated_and_trailing() {
    let b = bytes();
    assert_eq!(
        decode_datagram(&b[..b.len() - 3]),
        Err(JpError::Truncated { needed: 3 })
    );
    assert_eq!(
        decode_datagram(&b[..4]),
        Err(JpError::Truncated { needed: 6 })
    );
    assert_eq!(decode_datagram(&[]), Err(JpError::Truncated { needed: 10 }));
    let mut long = b.clone();
    long.extend_from_slice(&[1, 2]);
    assert_eq!(
        decode_datagram(&long),
        Err(JpError::TrailingBytes { extra: 2 })
    );
}

#[test]
fn bad_checksum_reports_both_values() {
    let mut b = bytes();
    let n = b.len();
    let good = u16::from_be_bytes([b[n - 2], b[n - 1]]);
    b[n - 1] ^= 0xFF;
    let bad = u16::from_be_bytes([b[n - 2], b[n - 1]]);
    assert_eq!(
        decode_datagram(&b),
        Err(JpError::BadChecksum {
            expected: good,
            actual: bad
        })
    );
    // Every single-bit flip anywhere in the frame is caught (by the CRC, or by sync/length
    // checks that come first).
    let b = bytes();
    for i in 0..b.len() {
        for bit in 0..8 {
            let mut c = b.clone();
            c[i] ^= 1 << bit;
            assert!(decode_datagram(&c).is_err(), "flip {i}:{bit} undetected");
        }
    }
}

#[test]
fn unsupported_version_and_unknown_type() {
    let mut b = bytes();
    b[2] = 0;
    fix_crc(&mut b);
    assert_eq!(
        decode_datagram(&b),
        Err(JpError::UnsupportedVersion { version: 0 })
    );
    for t in [0u8, 8, 255] {
        let mut b = bytes();
        b[3] = t;
        fix_crc(&mut b);
        assert_eq!(
            decode_datagram(&b),
            Err(JpError::UnknownType { msg_type: t })
        );
    }
}

#[test]
fn field_out_of_range_names_field_and_value() {
    let cases: [(usize, u8, &str, i64); 4] = [
        (10, 4, "origin", 4),
        (11, 0, "mode", 0),
        (12, 0x08, "releasability", 8),
        (13, 17, "ref_count", 17),
    ];
    for (off, v, field, value) in cases {
        let mut b = bytes();
        b[off] = v;
        fix_crc(&mut b);
        assert_eq!(
            decode_datagram(&b),
            Err(JpError::FieldOutOfRange { field, value }),
            "{field}"
        );
    }
    // Encoding refuses the same values.
    let mut f = launch_frame();
    if let JpBody::LaunchDetection(l) = &mut f.body {
        l.point.lon_e7 = -1_800_000_001;
    }
    assert_eq!(
        JpCodec.encode(&f, &mut BytesMut::new()),
        Err(JpError::FieldOutOfRange {
            field: "launch_lon",
            value: -1_800_000_001
        })
    );
    let mut f = launch_frame();
    f.system = "x".repeat(65);
    let mut out = BytesMut::from(&b"keep"[..]);
    assert_eq!(
        JpCodec.encode(&f, &mut out),
        Err(JpError::FieldOutOfRange {
            field: "system",
            value: 65
        })
    );
    assert_eq!(
        &out[..],
        b"keep",
        "a failed encode leaves the buffer as it was"
    );
}

#[test]
fn bad_text() {
    let mut f = launch_frame();
    if let JpBody::LaunchDetection(l) = &mut f.body {
        l.track_id = "T 1".into();
    }
    assert_eq!(
        JpCodec.encode(&f, &mut BytesMut::new()),
        Err(JpError::BadText { field: "track_id" })
    );
    // Sensor "fps-5" starts at offset 30 (22 + 1 + 6 + 1): an overlong UTF-8 encoding.
    let mut b = bytes();
    assert_eq!(&b[30..35], b"fps-5");
    b[30] = 0xC0;
    b[31] = 0x80;
    fix_crc(&mut b);
    assert_eq!(
        decode_datagram(&b),
        Err(JpError::BadText { field: "sensor" })
    );
}

#[test]
fn unrepresentable_envelopes() {
    let env = JpCodec
        .to_common(&launch_frame(), utc("2026-11-21T01:00:00Z"))
        .unwrap();
    let check = |mutate: &dyn Fn(&mut Envelope), field: &str| {
        let mut e = env.clone();
        mutate(&mut e);
        assert_eq!(
            JpCodec.to_national(&e),
            Err(JpError::Unrepresentable {
                field: Box::leak(field.to_owned().into_boxed_str())
            })
        );
    };
    check(&|e| e.source.system = "x".repeat(65), "source.system");
    check(
        &|e| e.source.national_message_id = "x".repeat(129),
        "source.national_message_id",
    );
    check(
        &|e| {
            if let Payload::LaunchDetection(p) = &mut e.payload {
                p.launch_point.lat_deg = 90.00000005;
            }
        },
        "payload.launch_point.lat_deg",
    );
    check(
        &|e| {
            if let Payload::LaunchDetection(p) = &mut e.payload {
                p.confidence = f64::NAN;
            }
        },
        "payload.confidence",
    );
    check(
        &|e| {
            if let Payload::LaunchDetection(p) = &mut e.payload {
                p.launch_point.alt_m = -1000.006;
            }
        },
        "payload.launch_point.alt_m",
    );
    check(
        &|e| e.observed_at = Utc.timestamp_opt(1_700_000_039, 1_500_000_000).unwrap(),
        "observed_at",
    );
    // Just inside the ranges still works (rounding to the limit).
    let mut e = env.clone();
    if let Payload::LaunchDetection(p) = &mut e.payload {
        p.launch_point.lat_deg = 90.00000004;
        p.launch_point.alt_m = -1000.004;
    }
    assert!(JpCodec.to_national(&e).is_ok());
}

#[test]
fn every_code_is_listed_and_distinct() {
    let errs = [
        JpError::BadSync { found: 0 },
        JpError::Oversize {
            declared: 0,
            max: 0,
        },
        JpError::BadLength { declared: 0 },
        JpError::Truncated { needed: 0 },
        JpError::TrailingBytes { extra: 0 },
        JpError::BadChecksum {
            expected: 0,
            actual: 0,
        },
        JpError::UnsupportedVersion { version: 0 },
        JpError::UnknownType { msg_type: 0 },
        JpError::FieldOutOfRange {
            field: "f",
            value: 0,
        },
        JpError::BadText { field: "f" },
        JpError::Unrepresentable { field: "f" },
    ];
    let codes: Vec<&str> = errs.iter().map(NationalError::code).collect();
    assert_eq!(codes, JpError::CODES);
    let set: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(set.len(), codes.len());
}

// ---- JST day rollover

#[test]
fn tod_is_jst() {
    // 00:00 UTC = 09:00 JST.
    assert_eq!(to_tod(utc("2026-11-21T00:00:00Z")), Some(9 * 3_600_000_000));
    // 15:00 UTC = midnight JST.
    assert_eq!(to_tod(utc("2026-11-21T15:00:00Z")), Some(0));
    assert_eq!(
        to_tod(utc("2026-11-21T14:59:59.999999999Z")),
        Some(86_399_999_999)
    );
    // Before 1970 the truncation still goes toward the past.
    assert_eq!(
        to_tod(utc("1969-12-31T14:59:59.9999995Z")),
        Some(86_399_999_999)
    );
}

#[test]
fn rollover_across_jst_midnight() {
    // Observed 23:59:59.9 JST, received 00:00:00.1 JST the next day → previous JST day.
    let got = resolve_tod(86_399_900_000, utc("2026-11-21T15:00:00.1Z")).unwrap();
    assert_eq!(got, utc("2026-11-21T14:59:59.9Z"));
    // Observed 00:00:00.1 JST, received 23:59:59.9 JST the day before (clock skew) → next day.
    let got = resolve_tod(100_000, utc("2026-11-21T14:59:59.9Z")).unwrap();
    assert_eq!(got, utc("2026-11-21T15:00:00.1Z"));
    // Same JST day, far apart: 11 h 59 min earlier.
    let got = resolve_tod(60_000_000, utc("2026-11-21T02:58:00Z")).unwrap(); // 00:01 JST vs 11:58 JST
    assert_eq!(got, utc("2026-11-20T15:01:00Z"));
    // Exactly 12 h: the earlier instant.
    let got = resolve_tod(0, utc("2026-11-21T03:00:00Z")).unwrap(); // 12:00 JST
    assert_eq!(got, utc("2026-11-20T15:00:00Z"));
    // One microsecond less than 12 h ahead: the later one.
    let got = resolve_tod(86_399_999_999, utc("2026-11-21T03:00:00Z")).unwrap();
    assert_eq!(got, utc("2026-11-21T14:59:59.999999Z"));
}

#[test]
fn every_offset_within_12h_round_trips() {
    let reference = utc("2026-11-21T14:59:59.9Z");
    for minutes in (-719..=719).step_by(7) {
        let t = reference + chrono::Duration::minutes(minutes) + chrono::Duration::microseconds(3);
        let back = resolve_tod(to_tod(t).unwrap(), reference).unwrap();
        assert_eq!(back, t, "offset {minutes} min");
    }
}

#[test]
fn payload_times_resolve_against_observed_at() {
    // Observed 23:59:00 JST; launch 23:58:30 JST; received 00:00:30 JST the next day;
    // an impact predicted at 00:10 JST (the next day).
    let mut f = launch_frame();
    f.observed_tod_us = 86_340_000_000;
    if let JpBody::LaunchDetection(l) = &mut f.body {
        l.launch_tod_us = 86_310_000_000;
    }
    let e = JpCodec.to_common(&f, utc("2026-11-21T15:00:30Z")).unwrap();
    assert_eq!(e.observed_at, utc("2026-11-21T14:59:00Z"));
    let Payload::LaunchDetection(p) = &e.payload else {
        panic!()
    };
    assert_eq!(p.launch_time, utc("2026-11-21T14:58:30Z"));

    let mut f = launch_frame();
    f.observed_tod_us = 86_340_000_000;
    f.body = JpBody::ImpactPrediction(trilink_jp::JpImpact {
        track_id: "T1".into(),
        impact_tod_us: 600_000_000,
        point: JpPoint::default(),
        semi_major_cm: 1,
        semi_minor_cm: 1,
        orientation_e2: 0,
    });
    let e = JpCodec.to_common(&f, utc("2026-11-21T14:59:10Z")).unwrap();
    let Payload::ImpactPrediction(p) = &e.payload else {
        panic!()
    };
    assert_eq!(p.impact_time, utc("2026-11-21T15:10:00Z"));
}
