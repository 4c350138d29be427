//! One test per error variant (independent of the vector files), plus streaming edges.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)] // test helpers

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_kr::{
    CRC32, Decoded, KrCodec, KrError, MAX_SENTENCE_LEN, NationalCodec, NationalError, Sentence,
    SentenceBody,
};
use trilink_schema::{Envelope, Payload};

const GOOD: &str = "TLKR,LCH,1,EXERCISE,KR,JP+KR+US,kamd,green-pine-b,KAMD-20261121-0001,20261121T094512.123456+0900,,KR-T0001,20261121T094458.500000+0900,390147.1234N,1254512.5678E,35.50,1500.00,500.00,SRBM,0.8500";

fn frame(body: &str) -> Vec<u8> {
    format!("${body}*{:08X}\r\n", CRC32.checksum(body.as_bytes())).into_bytes()
}

fn err(input: &[u8]) -> KrError {
    KrCodec.decode_message(input).unwrap_err()
}

fn good() -> Sentence {
    KrCodec.decode_message(&frame(GOOD)).unwrap()
}

fn env() -> Envelope {
    let t: DateTime<Utc> = "2026-11-21T00:45:13Z".parse().unwrap();
    KrCodec.to_common(&good(), t).unwrap()
}

#[test]
fn crc_parameters() {
    assert_eq!(CRC32.checksum(b"123456789"), 0xCBF4_3926);
    assert_eq!(&frame(GOOD)[frame(GOOD).len() - 10..], b"4301A5B3\r\n");
}

#[test]
fn good_sentence_decodes() {
    assert!(matches!(good().body, SentenceBody::Launch(_)));
}

#[test]
fn bad_sync() {
    assert_eq!(err(b"$GPGGA,1*00\r\n"), KrError::BadSync);
    assert_eq!(err(b"x$TLKR,"), KrError::BadSync);
    assert_eq!(KrCodec.decode(b"$TX").unwrap_err(), KrError::BadSync);
}

#[test]
fn bad_framing() {
    let mut no_cr = frame(GOOD);
    no_cr.remove(no_cr.len() - 2);
    assert_eq!(err(&no_cr).code(), "bad_framing");
    let lower = format!("${GOOD}*{:08x}\r\n", CRC32.checksum(GOOD.as_bytes()));
    assert_eq!(err(lower.as_bytes()).code(), "bad_framing");
    assert_eq!(err(b"$TLKR,\r\n").code(), "bad_framing");
    assert_eq!(
        err(&frame(&GOOD.replace("kamd", "ka\x7fmd"))).code(),
        "bad_framing"
    );
}

#[test]
fn bad_checksum_reports_both_values() {
    let mut b = frame(GOOD);
    let n = b.len();
    b[n - 3] = if b[n - 3] == b'3' { b'4' } else { b'3' };
    match err(&b) {
        KrError::BadChecksum { expected, actual } => {
            assert_eq!(expected, 0x4301_A5B3);
            assert_ne!(actual, expected);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn truncated_and_need_more() {
    let b = frame(GOOD);
    for cut in [1, 3, 6, 7, 50, b.len() - 1] {
        assert!(matches!(
            KrCodec.decode(&b[..cut]),
            Ok(Decoded::NeedMore { needed }) if needed >= 1
        ));
        assert_eq!(err(&b[..cut]).code(), "truncated");
    }
    assert_eq!(err(b"").code(), "truncated");
}

#[test]
fn trailing_data() {
    let mut b = frame(GOOD);
    b.push(b'x');
    assert_eq!(err(&b), KrError::TrailingData { extra: 1 });
}

#[test]
fn oversize_is_reported_before_asking_for_more() {
    let mut b = b"$TLKR,".to_vec();
    b.resize(MAX_SENTENCE_LEN - 1, b'A');
    assert!(matches!(KrCodec.decode(&b), Ok(Decoded::NeedMore { .. })));
    b.push(b'A');
    assert_eq!(
        KrCodec.decode(&b).unwrap_err(),
        KrError::Oversize {
            len: MAX_SENTENCE_LEN,
            max: MAX_SENTENCE_LEN
        }
    );
    // A sentence of exactly the maximum length decodes; one byte more is oversize.
    let refs: Vec<String> = (0..36u8)
        .map(|i| {
            trilink_schema::MessageId::derive(trilink_schema::Nation::Kr, "s", &i.to_string())
                .to_string()
        })
        .collect();
    let head = format!(
        "TLKR,CAN,1,TEST,KR,KR,kamd,s,n1,20261121T094512.123456+0900,{},T1,",
        refs.join("+")
    );
    let fixed = 1 + head.len() + 11; // $, head, *HHHHHHHH\r\n
    let room = MAX_SENTENCE_LEN - fixed; // bytes left for the reason text
    let escaped = (room - 20) / 3; // about 20 plain bytes, the rest escaped commas
    let plain = room - 3 * escaped;
    assert!(escaped + plain <= 256);
    let reason = format!("{}{}", "^2C".repeat(escaped), "x".repeat(plain));
    let exact = frame(&format!("{head}{reason}"));
    assert_eq!(exact.len(), MAX_SENTENCE_LEN);
    let s = KrCodec.decode_message(&exact).unwrap();
    let mut out = BytesMut::new();
    KrCodec.encode(&s, &mut out).unwrap();
    assert_eq!(&out[..], &exact[..]);
    let over = frame(&format!("{head}{reason}x"));
    assert_eq!(err(&over).code(), "oversize");
    // Build a long sentence with an escaped reason instead.
    let mut e = env();
    e.payload = Payload::Cancel(trilink_schema::Cancel {
        track_id: trilink_schema::TrackId::new("T").unwrap(),
        reason: ",".repeat(256),
    });
    e.references = (0..50u8)
        .map(|i| trilink_schema::MessageId::derive(trilink_schema::Nation::Kr, "s", &i.to_string()))
        .collect();
    let mut out = BytesMut::from(&b"keep"[..]);
    assert_eq!(
        KrCodec.encode_envelope(&e, &mut out).unwrap_err().code(),
        "oversize"
    );
    assert_eq!(
        &out[..],
        b"keep",
        "a failed encode leaves the buffer as it was"
    );
}

#[test]
fn unsupported_version() {
    assert_eq!(
        err(&frame(&GOOD.replace("LCH,1,", "LCH,01,"))),
        KrError::UnsupportedVersion {
            version: "01".into()
        }
    );
}

#[test]
fn unknown_type() {
    assert_eq!(
        err(&frame(&GOOD.replace("LCH,", "lch,"))).code(),
        "unknown_type"
    );
}

#[test]
fn field_count() {
    assert_eq!(err(&frame("TLKR,LCH")).code(), "field_count");
    assert_eq!(err(&frame(&format!("{GOOD},,"))).code(), "field_count");
}

#[test]
fn missing_field() {
    assert_eq!(
        err(&frame(&GOOD.replace(",SRBM,", ",,"))),
        KrError::MissingField { field: "class" }
    );
}

#[test]
fn bad_field() {
    for (from, to) in [
        ("35.50", "35.5"),
        ("35.50", "035.50"),
        ("35.50", "+35.50"),
        ("35.50", "3e1.00"),
        ("0.8500", "-0.0000"),
        ("390147.1234N", "390147.1234E"),
        ("390147.1234N", "000000.0000S"),
        ("T094512.", "t094512."),
        ("JP+KR+US", "JP+JP"),
        (
            ",,KR-T0001",
            ",57498E50-75dc-5486-8a5b-65792e6a3d5c,KR-T0001",
        ),
        ("EXERCISE", "exercise"),
        (",KR,JP", ",kr,JP"),
    ] {
        let e = err(&frame(&GOOD.replacen(from, to, 1)));
        assert_eq!(e.code(), "bad_field", "{from} -> {to}: {e}");
    }
}

#[test]
fn bad_text() {
    for (from, to) in [
        ("green-pine-b", "green^2cpine"),
        ("green-pine-b", "green^2"),
        ("green-pine-b", "green\\pine"),
        ("green-pine-b", "^C3^28"),
        ("KR-T0001", "KR T0001"),
    ] {
        let e = err(&frame(&GOOD.replacen(from, to, 1)));
        assert_eq!(e.code(), "bad_text", "{from} -> {to}: {e}");
    }
}

#[test]
fn field_out_of_range() {
    for (from, to) in [
        ("35.50", "10000000.01"),
        ("35.50", "-1000.01"),
        ("35.50", "99999999999999999999.99"),
        ("1500.00", "1000000.01"),
        ("390147.1234N", "900000.0001S"),
        ("390147.1234N", "396047.1234N"),
        ("1254512.5678E", "1800000.0001E"),
        ("20261121T094458", "20261121T244458"),
        ("20261121T094458", "20261321T094458"),
        ("20261121T094458", "20251329T094458"),
        ("green-pine-b", &"g".repeat(65)),
        ("KR-T0001", &"T".repeat(33)),
    ] {
        let e = err(&frame(&GOOD.replacen(from, to, 1)));
        assert_eq!(e.code(), "field_out_of_range", "{from} -> {to}: {e}");
    }
}

#[test]
fn unrepresentable() {
    let cases: Vec<Box<dyn Fn(&mut Envelope)>> = vec![
        Box::new(|e| e.source.system.clear()),
        Box::new(|e| e.source.national_message_id = "n".repeat(129)),
        Box::new(|e| e.releasability.clear()),
        Box::new(|e| e.observed_at = "1969-12-31T23:59:59.999999999Z".parse().unwrap()),
        Box::new(|e| {
            if let Payload::LaunchDetection(p) = &mut e.payload {
                p.launch_point.lat_deg = f64::NAN;
            }
        }),
        Box::new(|e| {
            if let Payload::LaunchDetection(p) = &mut e.payload {
                p.launch_point.lon_deg = 180.000_000_1;
            }
        }),
        Box::new(|e| {
            if let Payload::LaunchDetection(p) = &mut e.payload {
                p.confidence = 1.5;
            }
        }),
        Box::new(|e| {
            e.payload = Payload::Status(trilink_schema::Status {
                component: "c".into(),
                state: trilink_schema::ComponentState::Ok,
                uptime_s: 1e15,
                detail: String::new(),
            });
        }),
    ];
    for (i, f) in cases.iter().enumerate() {
        let mut e = env();
        f(&mut e);
        let r = KrCodec.to_national(&e);
        assert_eq!(
            r.as_ref().map_err(NationalError::code).err(),
            Some("unrepresentable"),
            "case {i}: {r:?}"
        );
    }
}

#[test]
fn encode_refuses_frames_decode_would_reject() {
    let mut s = good();
    if let SentenceBody::Launch(b) = &mut s.body {
        b.confidence_e4 = 10_001;
    }
    let mut out = BytesMut::new();
    assert_eq!(
        KrCodec.encode(&s, &mut out).unwrap_err().code(),
        "field_out_of_range"
    );
    assert!(out.is_empty());
}

#[test]
fn skip_after_error_finds_next_dollar() {
    assert_eq!(KrCodec.skip_after_error(b"abc$TLKR"), 3);
    assert_eq!(KrCodec.skip_after_error(b"$abc$TLKR"), 4);
    assert_eq!(KrCodec.skip_after_error(b"$abc"), 4);
    assert_eq!(KrCodec.skip_after_error(b"x"), 1);
}

#[test]
fn every_code_is_distinct_and_snake_case() {
    let codes = KrError::CODES;
    let set: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(set.len(), codes.len());
    for c in codes {
        assert!(
            c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
            "{c}"
        );
    }
}

#[test]
fn decoded_envelope_validates() {
    let e = env();
    let mut ctx = trilink_schema::ValidationContext::at("2026-11-21T00:46:00Z".parse().unwrap());
    ctx.check_message_id = true;
    e.validate(&ctx).unwrap();
}
