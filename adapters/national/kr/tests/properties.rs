//! Property tests: round trips both ways, canonical encoding, streaming, garbage, DMS.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::type_complexity)] // test helpers

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use trilink_kr::frame::limits;
use trilink_kr::{
    CancelBody, CorrectionBody, Decoded, End, Header, Impact, KrCodec, KrError, KstTime, Launch,
    NationalCodec, NationalError, Point, Releasability, Sentence, SentenceBody, StatusBody, Track,
};
use trilink_schema::{ComponentState, EndReason, Envelope, FlightPhase, Mode, Nation};

fn cfg() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

// ---- strategies over the national domain ---------------------------------------------

fn kst() -> impl Strategy<Value = KstTime> {
    (0..=KstTime::MAX_MICROS).prop_map(|m| KstTime::from_unix_micros(m).unwrap())
}

fn text(max_chars: usize) -> impl Strategy<Value = String> {
    // Mostly ASCII (including the characters that must be escaped), some Hangul / emoji.
    proptest::collection::vec(
        prop_oneof![
            8 => proptest::char::range(' ', '~'),
            1 => proptest::char::range('가', '힣'),
            1 => Just('😀'),
        ],
        1..=max_chars,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn track_id() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_-]{1,32}"
}

fn point() -> impl Strategy<Value = Point> {
    (
        -limits::LAT_MAX..=limits::LAT_MAX,
        -limits::LON_MAX..=limits::LON_MAX,
        limits::ALT_CM.0..=limits::ALT_CM.1,
    )
        .prop_map(|(lat, lon, alt_cm)| Point { lat, lon, alt_cm })
}

fn range((a, b): (i64, i64)) -> std::ops::RangeInclusive<i64> {
    a..=b
}

use trilink_schema::testing::strategy::{message_id, missile_class as class, nation};

fn header() -> impl Strategy<Value = Header> {
    (
        prop::sample::select(Mode::ALL.to_vec()),
        nation(),
        1u8..8,
        text(16),
        text(16),
        text(24),
        kst(),
        proptest::collection::vec(message_id(), 0..4),
    )
        .prop_map(
            |(mode, origin, rel, system, sensor, nid, observed_at, references)| Header {
                mode,
                origin,
                releasability: Nation::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| rel & (1 << i) != 0)
                    .fold(Releasability::EMPTY, |r, (_, n)| r.with(*n)),
                system,
                sensor,
                national_message_id: nid,
                observed_at,
                references,
            },
        )
}

fn body() -> impl Strategy<Value = SentenceBody> {
    prop_oneof![
        (
            track_id(),
            kst(),
            point(),
            range(limits::UNC_CM),
            range(limits::UNC_CM),
            class(),
            range(limits::CONF_E4)
        )
            .prop_map(|(track_id, launch_time, point, h, v, class, c)| {
                SentenceBody::Launch(Launch {
                    track_id,
                    launch_time,
                    point,
                    unc_h_cm: h,
                    unc_v_cm: v,
                    class,
                    confidence_e4: c,
                })
            }),
        (
            track_id(),
            kst(),
            point(),
            (range(limits::UNC_CM), range(limits::UNC_CM)),
            (
                range(limits::VEL_CMS),
                range(limits::VEL_CMS),
                range(limits::VEL_CMS)
            ),
            0u8..=15,
            prop::sample::select(vec![
                FlightPhase::Boost,
                FlightPhase::Midcourse,
                FlightPhase::Terminal,
                FlightPhase::Unknown
            ])
        )
            .prop_map(
                |(track_id, time, point, (h, v), (e, n, u), quality, phase)| {
                    SentenceBody::Track(Track {
                        track_id,
                        time,
                        point,
                        unc_h_cm: h,
                        unc_v_cm: v,
                        vel_e_cms: e,
                        vel_n_cms: n,
                        vel_u_cms: u,
                        quality,
                        phase,
                    })
                }
            ),
        (
            track_id(),
            kst(),
            point(),
            range(limits::AXIS_CM),
            range(limits::AXIS_CM),
            range(limits::ORIENT_MDEG)
        )
            .prop_map(|(track_id, impact_time, point, a, b, o)| {
                SentenceBody::Impact(Impact {
                    track_id,
                    impact_time,
                    point,
                    semi_major_cm: a,
                    semi_minor_cm: b,
                    orientation_mdeg: o,
                })
            }),
        (
            track_id(),
            kst(),
            prop::sample::select(vec![EndReason::Impact, EndReason::Lost, EndReason::Other]),
            proptest::option::of(point())
        )
            .prop_map(|(track_id, time, reason, final_point)| {
                SentenceBody::End(End {
                    track_id,
                    time,
                    reason,
                    final_point,
                })
            }),
        (track_id(), text(40))
            .prop_map(|(track_id, reason)| SentenceBody::Cancel(CancelBody { track_id, reason })),
        (
            track_id(),
            text(40),
            proptest::option::of(kst()),
            proptest::option::of(point()),
            proptest::option::of(class())
        )
            .prop_map(|(track_id, reason, t, p, c)| {
                SentenceBody::Correction(CorrectionBody {
                    track_id,
                    reason,
                    corrected_time: t,
                    corrected_point: p,
                    corrected_class: c,
                })
            }),
        (
            text(16),
            prop::sample::select(vec![
                ComponentState::Ok,
                ComponentState::Degraded,
                ComponentState::Down
            ]),
            range(limits::UPTIME_MS),
            prop_oneof![Just(String::new()), text(40)]
        )
            .prop_map(|(component, state, uptime_ms, detail)| {
                SentenceBody::Status(StatusBody {
                    component,
                    state,
                    uptime_ms,
                    detail,
                })
            }),
    ]
}

fn sentence() -> impl Strategy<Value = Sentence> {
    (header(), body()).prop_map(|(header, body)| Sentence { header, body })
}

fn encode(s: &Sentence) -> Vec<u8> {
    let mut out = BytesMut::new();
    KrCodec.encode(s, &mut out).unwrap();
    out.to_vec()
}

fn ingested() -> DateTime<Utc> {
    "2026-11-21T00:00:00Z".parse().unwrap()
}

// ---- common-side comparison within the stated precision -------------------------------

fn tolerance(key: &str) -> f64 {
    let slack = 1e-9;
    match key {
        "lat_deg" | "lon_deg" => 0.5 / 36_000_000.0 + 1e-12,
        "alt_m" | "horizontal_m" | "vertical_m" | "semi_major_m" | "semi_minor_m" | "east_mps"
        | "north_mps" | "up_mps" => 0.005 + slack,
        "confidence" => 0.000_05 + slack,
        "orientation_deg" | "uptime_s" => 0.000_5 + slack,
        _ => 0.0,
    }
}

fn close(key: &str, a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let kx: Vec<_> = x.keys().collect();
            let ky: Vec<_> = y.keys().collect();
            assert_eq!(kx, ky, "keys differ at {path}");
            for (k, v) in x {
                close(k, v, &y[k], &format!("{path}.{k}"));
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "lengths differ at {path}");
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                close(key, v, w, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            let tol = tolerance(key);
            assert!(
                (x - y).abs() <= tol,
                "{path}: {x} vs {y} differ by more than {tol}"
            );
        }
        (Value::String(x), Value::String(y)) => {
            match (x.parse::<DateTime<Utc>>(), y.parse::<DateTime<Utc>>()) {
                (Ok(tx), Ok(ty)) => {
                    // Original minus round-tripped: truncated to the µs, so 0 ≤ d < 1 µs.
                    let d = (tx - ty).num_nanoseconds().unwrap();
                    assert!((0..1000).contains(&d), "{path}: {x} vs {y}");
                }
                _ => assert_eq!(x, y, "{path}"),
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

// ---- strategies over the common domain -------------------------------------------------

fn utc() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970 … 2200 with nanoseconds.
    (0i64..7_258_118_400, 0u32..1_000_000_000)
        .prop_map(|(s, n)| DateTime::from_timestamp(s, n).unwrap())
}

fn geo() -> impl Strategy<Value = trilink_schema::GeoPoint> {
    (
        -90.0f64..=90.0,
        -180.0f64..=180.0,
        -1000.0f64..=10_000_000.0,
    )
        .prop_map(|(lat_deg, lon_deg, alt_m)| trilink_schema::GeoPoint {
            lat_deg,
            lon_deg,
            alt_m,
        })
}

fn envelope() -> impl Strategy<Value = Envelope> {
    use trilink_schema as s;
    let payload = prop_oneof![
        (
            track_id(),
            utc(),
            geo(),
            0.0f64..1e6,
            0.0f64..1e6,
            class(),
            0.0f64..=1.0
        )
            .prop_map(|(t, lt, p, h, v, c, conf)| s::Payload::LaunchDetection(
                s::LaunchDetection {
                    track_id: s::TrackId::new(t).unwrap(),
                    launch_time: lt,
                    launch_point: p,
                    launch_point_uncertainty: s::PositionUncertainty {
                        horizontal_m: h,
                        vertical_m: v
                    },
                    missile_class: c,
                    confidence: conf,
                }
            )),
        (
            track_id(),
            utc(),
            geo(),
            (
                -12_000.0f64..=12_000.0,
                -12_000.0f64..=12_000.0,
                -12_000.0f64..=12_000.0
            ),
            0u8..=15
        )
            .prop_map(|(t, time, p, (e, n, u), q)| s::Payload::TrackUpdate(
                s::TrackUpdate {
                    track_id: s::TrackId::new(t).unwrap(),
                    time,
                    position: p,
                    position_uncertainty: s::PositionUncertainty {
                        horizontal_m: 12.3456,
                        vertical_m: 0.0
                    },
                    velocity: s::VelocityEnu {
                        east_mps: e,
                        north_mps: n,
                        up_mps: u
                    },
                    quality: q,
                    flight_phase: FlightPhase::Boost,
                }
            )),
        (track_id(), utc(), geo(), 0.0f64..1e6, 0.0f64..=180.0).prop_map(|(t, it, p, a, o)| {
            s::Payload::ImpactPrediction(s::ImpactPrediction {
                track_id: s::TrackId::new(t).unwrap(),
                impact_time: it,
                impact_point: p,
                error_ellipse: s::ErrorEllipse {
                    semi_major_m: a,
                    semi_minor_m: a / 2.0,
                    orientation_deg: o,
                },
            })
        }),
        (track_id(), utc(), proptest::option::of(geo())).prop_map(|(t, time, fp)| {
            s::Payload::EventEnd(s::EventEnd {
                track_id: s::TrackId::new(t).unwrap(),
                time,
                reason: EndReason::Other,
                final_point: fp,
            })
        }),
        (track_id(), text(40)).prop_map(|(t, r)| s::Payload::Cancel(s::Cancel {
            track_id: s::TrackId::new(t).unwrap(),
            reason: r
        })),
        (
            track_id(),
            text(40),
            proptest::option::of(utc()),
            proptest::option::of(geo()),
            proptest::option::of(class())
        )
            .prop_map(|(t, r, ct, cp, cc)| s::Payload::Correction(s::Correction {
                track_id: s::TrackId::new(t).unwrap(),
                reason: r,
                corrected_time: ct,
                corrected_point: cp,
                corrected_missile_class: cc,
            })),
        (
            text(16),
            0.0f64..1e9,
            prop_oneof![Just(String::new()), text(40)]
        )
            .prop_map(|(c, up, d)| s::Payload::Status(s::Status {
                component: c,
                state: ComponentState::Down,
                uptime_s: up,
                detail: d,
            })),
    ];
    (
        nation(),
        text(16),
        text(16),
        text(24),
        utc(),
        prop::sample::select(Mode::ALL.to_vec()),
        proptest::collection::btree_set(nation(), 1..=3),
        proptest::collection::vec(message_id(), 0..4),
        payload,
    )
        .prop_map(
            |(origin, system, sensor, nid, observed, mode, rel, refs, payload)| {
                let mut e = Envelope::new(
                    origin,
                    trilink_schema::Source {
                        system,
                        sensor,
                        national_message_id: nid,
                    },
                    observed,
                    ingested(),
                    mode,
                    rel,
                    payload,
                );
                e.references = refs;
                e
            },
        )
}

proptest! {
    #![proptest_config(cfg())]

    /// national → common → national is exact, and the bytes are canonical.
    #[test]
    fn national_common_national(s in sentence()) {
        let bytes = encode(&s);
        prop_assert!(bytes.len() <= trilink_kr::MAX_SENTENCE_LEN);
        let back = KrCodec.decode_message(&bytes).unwrap();
        prop_assert_eq!(&back, &s);
        let env = KrCodec.to_common(&back, ingested()).unwrap();
        let again = KrCodec.to_national(&env).unwrap();
        prop_assert_eq!(&again, &s);
        prop_assert_eq!(encode(&again), bytes);
    }

    /// common → national → common within the stated precision.
    #[test]
    fn common_national_common(e in envelope()) {
        let s = KrCodec.to_national(&e).unwrap();
        let mut out = BytesMut::new();
        KrCodec.encode(&s, &mut out).unwrap();
        let back = KrCodec.decode_to_common(&out, e.ingested_at).unwrap();
        prop_assert_eq!(back.message_id, e.message_id);
        close("", &serde_json::to_value(&e).unwrap(), &serde_json::to_value(&back).unwrap(), "");
    }

    /// A sentence whose body was mutated and re-checksummed either fails with a typed error
    /// or decodes to something that re-encodes to exactly the same bytes (canonical form).
    #[test]
    fn mutated_sentences_are_rejected_or_canonical(
        s in sentence(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0x20u8..0x7f), 1..4),
    ) {
        let bytes = encode(&s);
        let star = bytes.len() - 11;
        let mut body = bytes[1..star].to_vec();
        for (i, b) in edits {
            let at = i.index(body.len());
            body[at] = b;
        }
        let mut input = vec![b'$'];
        input.extend_from_slice(&body);
        input.extend_from_slice(format!("*{:08X}\r\n", trilink_kr::CRC32.checksum(&body)).as_bytes());
        match KrCodec.decode_message(&input) {
            Ok(frame) => prop_assert_eq!(encode(&frame), input),
            Err(e) => prop_assert!(KrError::CODES.contains(&e.code())),
        }
    }

    /// Arbitrary bytes never panic, and errors always let a stream make progress.
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let mut buf = bytes.as_slice();
        let mut steps = 0;
        while !buf.is_empty() {
            steps += 1;
            prop_assert!(steps <= 3001);
            match KrCodec.decode(buf) {
                Ok(Decoded::Frame { consumed, .. }) => { prop_assert!(consumed > 0); buf = &buf[consumed..]; }
                Ok(Decoded::NeedMore { needed }) => { prop_assert!(needed > 0); break; }
                Err(e) => {
                    prop_assert!(KrError::CODES.contains(&e.code()));
                    let skip = KrCodec.skip_after_error(buf);
                    prop_assert!(skip >= 1 && skip <= buf.len());
                    buf = &buf[skip..];
                }
            }
        }
    }

    /// Garbage that starts like a sentence ("$TLKR,…") exercises the field parsers.
    #[test]
    fn garbage_after_sync_never_panics(tail in "[ -~]{0,300}") {
        let body = format!("TLKR,{tail}");
        let input = format!("${body}*{:08X}\r\n", trilink_kr::CRC32.checksum(body.as_bytes()));
        if let Err(e) = KrCodec.decode_message(input.as_bytes()) {
            prop_assert!(KrError::CODES.contains(&e.code()));
        }
    }

    /// Streaming: sentences with junk between them, delivered in random chunks, come out
    /// complete and in order.
    #[test]
    fn streaming_random_chunks(
        sentences in proptest::collection::vec(sentence(), 1..5),
        junk in proptest::collection::vec("[a-z#\r\n ]{0,8}", 5),
        cuts in proptest::collection::vec(1usize..64, 1..200),
    ) {
        let mut stream = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            stream.extend_from_slice(junk[i].as_bytes());
            stream.extend_from_slice(&encode(s));
        }
        let mut cuts = cuts.into_iter().cycle();
        let mut fed = 0;
        let mut buf: Vec<u8> = Vec::new();
        let mut found = Vec::new();
        while fed < stream.len() || !buf.is_empty() {
            if fed < stream.len() {
                let n = cuts.next().unwrap().min(stream.len() - fed);
                buf.extend_from_slice(&stream[fed..fed + n]);
                fed += n;
            }
            loop {
                match KrCodec.decode(&buf) {
                    Ok(Decoded::Frame { frame, consumed }) => { found.push(frame); buf.drain(..consumed); }
                    Ok(Decoded::NeedMore { .. }) => break,
                    Err(_) => { let k = KrCodec.skip_after_error(&buf); buf.drain(..k); }
                }
                if buf.is_empty() { break; }
            }
            if fed == stream.len() && !buf.is_empty() {
                // Whatever is left can only be an incomplete tail: there is none here.
                let need_more = matches!(KrCodec.decode(&buf), Ok(Decoded::NeedMore { .. }));
                prop_assert!(need_more);
                break;
            }
            prop_assert!(buf.len() <= trilink_kr::MAX_SENTENCE_LEN + 64);
        }
        prop_assert_eq!(found, sentences);
    }

    /// DMS text written by the encoder, read back with independent floating-point
    /// arithmetic (deg + min/60 + sec/3600), is within 0.5 × 0.0001″ of the input.
    #[test]
    fn dms_against_independent_conversion(lat in -90.0f64..=90.0, lon in -180.0f64..=180.0) {
        let p = trilink_schema::GeoPoint { lat_deg: lat, lon_deg: lon, alt_m: 0.0 };
        let mut e = sample_launch();
        if let trilink_schema::Payload::LaunchDetection(ld) = &mut e.payload { ld.launch_point = p; }
        let mut out = BytesMut::new();
        KrCodec.encode_envelope(&e, &mut out).unwrap();
        let text = std::str::from_utf8(&out).unwrap();
        let fields: Vec<&str> = text.split(',').collect();
        let (lat_t, lon_t) = (fields[13], fields[14]);
        let tol = 0.5 / 36_000_000.0 + 1e-12;
        prop_assert!((independent_dms(lat_t, 2) - lat).abs() <= tol, "{} vs {}", lat_t, lat);
        prop_assert!((independent_dms(lon_t, 3) - lon).abs() <= tol, "{} vs {}", lon_t, lon);
    }
}

/// Independent DMS reader: plain string slicing and f64 arithmetic.
fn independent_dms(s: &str, dw: usize) -> f64 {
    let d: f64 = s[..dw].parse().unwrap();
    let m: f64 = s[dw..dw + 2].parse().unwrap();
    let sec: f64 = s[dw + 2..s.len() - 1].parse().unwrap();
    assert!(m < 60.0 && sec < 60.0, "{s}");
    let v = d + m / 60.0 + sec / 3600.0;
    match s.as_bytes()[s.len() - 1] {
        b'S' | b'W' => -v,
        _ => v,
    }
}

fn sample_launch() -> Envelope {
    let bytes = b"$TLKR,LCH,1,EXERCISE,KR,JP+KR+US,kamd,green-pine-b,KAMD-20261121-0001,20261121T094512.123456+0900,,KR-T0001,20261121T094458.500000+0900,390147.1234N,1254512.5678E,35.50,1500.00,500.00,SRBM,0.8500*4301A5B3\r\n";
    KrCodec.decode_to_common(bytes, ingested()).unwrap()
}

#[test]
fn dms_known_values() {
    // Hand-computed: 37°33′58.1230″N = 37 + 33/60 + 58.123/3600 = 37.566145277…°
    let cases = [
        (37.566_145_277_777_78, "373358.1230N", true),
        (-33.856_784, "335124.4224S", true),
        (126.978_388_888_888_9, "1265842.2000E", false),
        (-0.000_001, "0000000.0036W", false),
        (0.0, "000000.0000N", true),
        (90.0, "900000.0000N", true),
        (-180.0, "1800000.0000W", false),
        // 59.99996″ rounds up into the next minute and degree.
        (
            10.0 + 59.0 / 60.0 + 59.999_96 / 3600.0,
            "110000.0000N",
            true,
        ),
    ];
    for (deg, text, is_lat) in cases {
        let mut e = sample_launch();
        if let trilink_schema::Payload::LaunchDetection(ld) = &mut e.payload {
            if is_lat {
                ld.launch_point.lat_deg = deg;
            } else {
                ld.launch_point.lon_deg = deg;
            }
        }
        let mut out = BytesMut::new();
        KrCodec.encode_envelope(&e, &mut out).unwrap();
        let s = std::str::from_utf8(&out).unwrap();
        let field = s.split(',').nth(if is_lat { 13 } else { 14 }).unwrap();
        assert_eq!(field, text, "{deg}");
        let back = KrCodec.decode_to_common(&out, ingested()).unwrap();
        let trilink_schema::Payload::LaunchDetection(ld) = back.payload else {
            panic!()
        };
        let got = if is_lat {
            ld.launch_point.lat_deg
        } else {
            ld.launch_point.lon_deg
        };
        assert!(
            (got - deg).abs() <= 0.5 / 36_000_000.0 + 1e-12,
            "{deg} -> {got}"
        );
    }
}

#[test]
fn kst_time_conversion_against_chrono_fixed_offset() {
    // Independent: chrono's FixedOffset formatting of the same instant.
    use chrono::FixedOffset;
    let kst = FixedOffset::east_opt(9 * 3600).unwrap();
    for micros in [
        0i64,
        1,
        54_000_000_000 - 1,
        1_795_221_912_123_456,
        951_782_400_000_000, // 2000-02-29T00:00:00Z
        KstTime::MAX_MICROS,
    ] {
        let t = KstTime::from_unix_micros(micros).unwrap();
        let mut e = sample_launch();
        e.observed_at = t.to_utc();
        let mut out = BytesMut::new();
        KrCodec.encode_envelope(&e, &mut out).unwrap();
        let s = std::str::from_utf8(&out).unwrap();
        let field = s.split(',').nth(9).unwrap();
        let expected = t
            .to_utc()
            .with_timezone(&kst)
            .format("%Y%m%dT%H%M%S%.6f%z")
            .to_string();
        assert_eq!(field, expected);
        let back = KrCodec.decode_to_common(&out, ingested()).unwrap();
        assert_eq!(back.observed_at, t.to_utc());
    }
}
