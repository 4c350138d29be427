//! Generates the KR test vectors in `schemas/vectors/kr/`.
//!
//! Run from the workspace root: `cargo run -p trilink-kr --example kr_gen_vectors`.
//! The files are committed; the golden tests read the files, not this program.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_kr::{
    CRC32, CancelBody, CorrectionBody, End, Header, Impact, KrCodec, KrError, KstTime, Launch,
    NationalCodec, NationalError, Point, Releasability, Sentence, SentenceBody, StatusBody, Track,
};
use trilink_schema::{
    ComponentState, EndReason, Envelope, FlightPhase, MessageId, MissileClass, Mode, Nation,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn t(s: &str) -> Res<KstTime> {
    let dt: DateTime<Utc> = s.parse()?;
    KstTime::from_utc(dt).ok_or_else(|| "time out of range".into())
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/vectors/kr")
}

fn hex_file(comment: &str, bytes: &[u8]) -> String {
    let mut s = String::new();
    for line in comment.lines() {
        let _ = writeln!(s, "# {line}");
    }
    for chunk in bytes.chunks(32) {
        let line: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let _ = writeln!(s, "{}", line.join(" "));
    }
    s
}

fn printable(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b'\r' => "\\r".to_owned(),
            b'\n' => "\\n".to_owned(),
            0x20..=0x7e => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn header(
    mode: Mode,
    origin: Nation,
    rel: &[Nation],
    system: &str,
    sensor: &str,
    nid: &str,
    observed: &str,
    refs: Vec<MessageId>,
) -> Res<Header> {
    Ok(Header {
        mode,
        origin,
        releasability: rel.iter().fold(Releasability::EMPTY, |r, n| r.with(*n)),
        system: system.into(),
        sensor: sensor.into(),
        national_message_id: nid.into(),
        observed_at: t(observed)?,
        references: refs,
    })
}

fn write_valid(name: &str, what: &str, s: &Sentence, ingested: &str) -> Res<()> {
    let codec = KrCodec;
    let mut out = BytesMut::new();
    codec.encode(s, &mut out)?;
    // Self-checks: decode gives the sentence back and the envelope re-encodes identically.
    let back = codec.decode_message(&out)?;
    assert_eq!(&back, s, "{name}: decode(encode(s)) != s");
    let ingested: DateTime<Utc> = ingested.parse()?;
    let env = codec.to_common(&back, ingested)?;
    let mut again = BytesMut::new();
    codec.encode_envelope(&env, &mut again)?;
    assert_eq!(
        again, out,
        "{name}: encode(to_national(to_common(s))) differs"
    );
    let comment = format!("{what}\n{}", printable(&out));
    std::fs::write(dir().join(format!("{name}.hex")), hex_file(&comment, &out))?;
    let mut json = serde_json::to_string_pretty(&env)?;
    json.push('\n');
    std::fs::write(dir().join(format!("{name}.json")), json)?;
    println!("valid   {name}: {} bytes", out.len());
    Ok(())
}

fn write_invalid(name: &str, what: &str, bytes: &[u8]) -> Res<()> {
    let codec = KrCodec;
    let err = codec
        .decode_message(bytes)
        .err()
        .ok_or_else(|| format!("{name}: decoded without error"))?;
    let comment = format!(
        "{what}\nexpected error: {} ({err})\n{}",
        err.code(),
        printable(bytes)
    );
    std::fs::write(dir().join(format!("{name}.hex")), hex_file(&comment, bytes))?;
    std::fs::write(
        dir().join(format!("{name}.error")),
        format!("{}\n", err.code()),
    )?;
    println!("invalid {name}: {} ({err})", err.code());
    Ok(())
}

/// [`write_invalid`], asserting the code the spec gives (for the vectors that pin an order).
fn write_invalid_as(name: &str, what: &str, bytes: &[u8], code: &str) -> Res<()> {
    let got = KrCodec
        .decode_message(bytes)
        .err()
        .map(|e| e.code())
        .ok_or_else(|| format!("{name}: decoded without error"))?;
    if got != code {
        return Err(format!("{name}: {got}, the spec says {code}").into());
    }
    write_invalid(name, what, bytes)
}

fn write_unrepresentable(name: &str, env: &Envelope) -> Res<()> {
    let codec = KrCodec;
    let err = codec
        .to_national(env)
        .err()
        .ok_or_else(|| format!("{name}: to_national succeeded"))?;
    let mut json = serde_json::to_string_pretty(env)?;
    json.push('\n');
    std::fs::write(dir().join(format!("{name}.json")), json)?;
    std::fs::write(
        dir().join(format!("{name}.error")),
        format!("{}\n", err.code()),
    )?;
    println!("invalid {name}: {} ({err})", err.code());
    Ok(())
}

/// Re-frame `body` (between `$` and `*`) with a correct CRC.
fn frame(body: &str) -> Vec<u8> {
    format!("${body}*{:08X}\r\n", CRC32.checksum(body.as_bytes())).into_bytes()
}

fn encode(s: &Sentence) -> Res<Vec<u8>> {
    let mut out = BytesMut::new();
    KrCodec.encode(s, &mut out)?;
    Ok(out.to_vec())
}

/// The body of an encoded sentence.
fn body_of(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.trim_start_matches('$')
        .split('*')
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[allow(clippy::too_many_lines, clippy::identity_op)]
fn main() -> Res<()> {
    std::fs::create_dir_all(dir())?;
    for e in std::fs::read_dir(dir())? {
        let p = e?.path();
        if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("hex" | "json" | "error")
        ) {
            std::fs::remove_file(p)?;
        }
    }
    let all = [Nation::Jp, Nation::Kr, Nation::Us];
    let lch_id = MessageId::derive(Nation::Kr, "kamd", "KAMD-20261121-0001");
    let trk_id = MessageId::derive(Nation::Kr, "kamd", "KAMD-20261121-0002");

    let lch = Sentence {
        header: header(
            Mode::Exercise,
            Nation::Kr,
            &all,
            "kamd",
            "green-pine-b",
            "KAMD-20261121-0001",
            "2026-11-21T00:45:12.123456Z",
            vec![],
        )?,
        body: SentenceBody::Launch(Launch {
            track_id: "KR-T0001".into(),
            launch_time: t("2026-11-21T00:44:58.500000Z")?,
            // 39°01'47.1234"N 125°45'12.5678"E, 35.50 m
            point: Point {
                lat: 39 * 36_000_000 + 1 * 600_000 + 47 * 10_000 + 1234,
                lon: 125 * 36_000_000 + 45 * 600_000 + 12 * 10_000 + 5678,
                alt_cm: 3550,
            },
            unc_h_cm: 150_000,
            unc_v_cm: 50_000,
            class: MissileClass::Srbm,
            confidence_e4: 8500,
        }),
    };
    write_valid(
        "lch_exercise",
        "LCH launch detection (spec worked example 1)",
        &lch,
        "2026-11-21T00:45:12.200000Z",
    )?;

    let trk = Sentence {
        header: header(
            Mode::Exercise,
            Nation::Kr,
            &[Nation::Kr, Nation::Us],
            "kamd",
            "green-pine-b",
            "KAMD-20261121-0002",
            "2026-11-21T00:46:00.000001Z",
            vec![lch_id],
        )?,
        body: SentenceBody::Track(Track {
            track_id: "KR-T0001".into(),
            time: t("2026-11-21T00:45:59.999999Z")?,
            point: Point {
                lat: 38 * 36_000_000 + 30 * 600_000 + 5 * 10_000 + 9,
                lon: 128 * 36_000_000 + 2 * 600_000 + 59 * 10_000 + 9999,
                alt_cm: 15_000_000,
            },
            unc_h_cm: 2_500,
            unc_v_cm: 4_000,
            vel_e_cms: 180_000,
            vel_n_cms: -90_050,
            vel_u_cms: 75,
            quality: 12,
            phase: FlightPhase::Midcourse,
        }),
    };
    write_valid(
        "trk_exercise",
        "TRK track update (spec worked example 2)",
        &trk,
        "2026-11-21T00:46:00.010000Z",
    )?;

    let imp = Sentence {
        header: header(
            Mode::Exercise,
            Nation::Kr,
            &all,
            "kamd",
            "kamd-fusion",
            "KAMD-20261121-0003",
            "2026-11-21T00:46:30.000000Z",
            vec![trk_id],
        )?,
        body: SentenceBody::Impact(Impact {
            track_id: "KR-T0001".into(),
            impact_time: t("2026-11-21T00:52:10.250000Z")?,
            point: Point {
                lat: 39 * 36_000_000 + 30 * 600_000,
                lon: 134 * 36_000_000 + 15 * 600_000 + 30 * 10_000,
                alt_cm: 0,
            },
            semi_major_cm: 1_200_000,
            semi_minor_cm: 450_000,
            orientation_mdeg: 72_500,
        }),
    };
    write_valid(
        "imp_exercise",
        "IMP impact prediction (spec worked example 3)",
        &imp,
        "2026-11-21T00:46:30.004000Z",
    )?;

    let end = Sentence {
        header: header(
            Mode::Exercise,
            Nation::Kr,
            &all,
            "kamd",
            "kamd-fusion",
            "KAMD-20261121-0004",
            "2026-11-21T00:52:11.000000Z",
            vec![],
        )?,
        body: SentenceBody::End(End {
            track_id: "KR-T0001".into(),
            time: t("2026-11-21T00:52:10.900000Z")?,
            reason: EndReason::Impact,
            final_point: Some(Point {
                lat: 39 * 36_000_000 + 29 * 600_000 + 58 * 10_000 + 4321,
                lon: 134 * 36_000_000 + 16 * 600_000 + 1 * 10_000 + 1,
                alt_cm: -150,
            }),
        }),
    };
    write_valid(
        "end_impact",
        "END event end with final point (spec worked example 4)",
        &end,
        "2026-11-21T00:52:11.002000Z",
    )?;

    let end_lost = Sentence {
        header: header(
            Mode::RealWorld,
            Nation::Kr,
            &[Nation::Kr],
            "kamd",
            "green-pine-c",
            "KAMD-20261121-0100",
            "2026-11-21T15:00:00.000000Z",
            vec![],
        )?,
        body: SentenceBody::End(End {
            track_id: "KR-T0100".into(),
            time: t("2026-11-21T14:59:59.000000Z")?,
            reason: EndReason::Lost,
            final_point: None,
        }),
    };
    write_valid(
        "end_lost_no_point",
        "END without final point; real world; KST date rolls over (00:00 KST on 11-22)",
        &end_lost,
        "2026-11-21T15:00:00.100000Z",
    )?;

    let can = Sentence {
        header: header(
            Mode::Exercise,
            Nation::Kr,
            &all,
            "kamd",
            "kamd-fusion",
            "KAMD-20261121-0005",
            "2026-11-21T00:47:00.000000Z",
            vec![lch_id, trk_id],
        )?,
        body: SentenceBody::Cancel(CancelBody {
            track_id: "KR-T0001".into(),
            reason: "false alarm, sensor artefact; 50% sure".into(),
        }),
    };
    write_valid(
        "can_exercise",
        "CAN cancel with two references and an escaped comma (spec worked example 5)",
        &can,
        "2026-11-21T00:47:00.001000Z",
    )?;

    let cor = Sentence {
        header: header(
            Mode::Exercise,
            Nation::Kr,
            &all,
            "kamd",
            "kamd-fusion",
            "KAMD-20261121-0006",
            "2026-11-21T00:47:30.000000Z",
            vec![lch_id],
        )?,
        body: SentenceBody::Correction(CorrectionBody {
            track_id: "KR-T0001".into(),
            reason: "launch point refined".into(),
            corrected_time: Some(t("2026-11-21T00:44:57.750000Z")?),
            corrected_point: Some(Point {
                lat: 39 * 36_000_000 + 2 * 600_000 + 3 * 10_000 + 5,
                lon: 125 * 36_000_000 + 44 * 600_000 + 59 * 10_000 + 9000,
                alt_cm: 4_000,
            }),
            corrected_class: Some(MissileClass::Mrbm),
        }),
    };
    write_valid(
        "cor_exercise",
        "COR correction with every optional field (spec worked example 6)",
        &cor,
        "2026-11-21T00:47:30.001000Z",
    )?;

    let cor_min = Sentence {
        header: header(
            Mode::Test,
            Nation::Kr,
            &[Nation::Kr, Nation::Us],
            "kamd",
            "kamd-fusion",
            "KAMD-20261121-0007",
            "2026-11-21T00:48:00.000000Z",
            vec![lch_id],
        )?,
        body: SentenceBody::Correction(CorrectionBody {
            track_id: "KR-T0001".into(),
            reason: "class only".into(),
            corrected_time: None,
            corrected_point: None,
            corrected_class: None,
        }),
    };
    write_valid(
        "cor_no_optionals",
        "COR correction with no optional field (test mode)",
        &cor_min,
        "2026-11-21T00:48:00.001000Z",
    )?;

    let sta = Sentence {
        header: header(
            Mode::Test,
            Nation::Kr,
            &all,
            "kamd",
            "adapter-kr",
            "STA-20261121-000042",
            "2026-11-21T00:50:00.000000Z",
            vec![],
        )?,
        body: SentenceBody::Status(StatusBody {
            component: "adapter-kr".into(),
            state: ComponentState::Degraded,
            uptime_ms: 86_400_123,
            detail: "MQTT 재연결 중, 2회".into(),
        }),
    };
    write_valid(
        "sta_degraded",
        "STA status with UTF-8 (Korean) detail text, escaped (spec worked example 7)",
        &sta,
        "2026-11-21T00:50:00.000500Z",
    )?;

    let jp_trk = Sentence {
        header: header(
            Mode::RealWorld,
            Nation::Jp,
            &all,
            "jadgex",
            "fps-5-sado",
            "20261121-42",
            "2026-11-20T23:59:59.999999Z",
            vec![],
        )?,
        body: SentenceBody::Track(Track {
            track_id: "JP_0042".into(),
            time: t("2026-11-20T23:59:59.999999Z")?,
            point: Point {
                lat: -(12 * 36_000_000 + 1),
                lon: -(179 * 36_000_000 + 59 * 600_000 + 59 * 10_000 + 9999),
                alt_cm: -100_000,
            },
            unc_h_cm: 0,
            unc_v_cm: 100_000_000,
            vel_e_cms: -1_200_000,
            vel_n_cms: 1_200_000,
            vel_u_cms: 0,
            quality: 0,
            phase: FlightPhase::Unknown,
        }),
    };
    write_valid(
        "trk_jp_origin_limits",
        "TRK of JP origin (egress to KR), southern/western hemispheres and range limits",
        &jp_trk,
        "2026-11-21T00:00:00.000001Z",
    )?;

    let us_sta = Sentence {
        header: header(
            Mode::RealWorld,
            Nation::Us,
            &[Nation::Jp, Nation::Us],
            "c2bmc",
            "relay-1",
            "us-42",
            "1970-01-01T00:00:00.000000Z",
            vec![],
        )?,
        body: SentenceBody::Status(StatusBody {
            component: "relay^1\\x$y*z".into(),
            state: ComponentState::Ok,
            uptime_ms: 0,
            detail: String::new(),
        }),
    };
    write_valid(
        "sta_us_epoch_escapes",
        "STA of US origin at the earliest KR time, escaped ^ \\ $ * and empty detail",
        &us_sta,
        "2026-11-21T00:00:00.000000Z",
    )?;

    // ---- invalid vectors ----------------------------------------------------------------
    let good = encode(&lch)?;
    let body = body_of(&good);

    write_invalid(
        "bad_sync_gps",
        "a foreign NMEA sentence",
        b"$GPGGA,092750.000,5321.6802,N,00630.3372,W,1,8,1.03,61.7,M,55.2,M,,*76\r\n",
    )?;
    write_invalid(
        "bad_sync_leading_garbage",
        "byte before the $",
        &[b"\x00".as_slice(), &good].concat(),
    )?;
    write_invalid(
        "bad_sync_talker_lowercase",
        "talker must be TLKR (upper case)",
        &frame(&body.replacen("TLKR", "tlkr", 1)),
    )?;
    let mut no_cr = good.clone();
    no_cr.remove(no_cr.len() - 2);
    write_invalid("bad_framing_no_cr", "sentence ends with \\n only", &no_cr)?;
    let lower = format!("${body}*{:08x}\r\n", CRC32.checksum(body.as_bytes()));
    write_invalid(
        "bad_framing_lowercase_crc",
        "checksum in lower-case hex",
        lower.as_bytes(),
    )?;
    write_invalid(
        "bad_framing_tab",
        "a TAB (non-printable) inside the body",
        &frame(&body.replacen("kamd", "ka\tmd", 1)),
    )?;
    let mut bad_crc = good.clone();
    if let Some(b) = bad_crc.get_mut(20) {
        *b ^= 0x01;
    }
    write_invalid(
        "bad_checksum_flipped_bit",
        "one bit flipped in the body",
        &bad_crc,
    )?;
    write_invalid(
        "truncated_half",
        "the first half of a sentence as a whole MQTT message",
        good.get(..good.len() / 2).unwrap_or_default(),
    )?;
    write_invalid(
        "truncated_no_lf",
        "sentence without its final \\n",
        good.get(..good.len() - 1).unwrap_or_default(),
    )?;
    write_invalid(
        "trailing_data_two_sentences",
        "two sentences in one MQTT message",
        &[good.as_slice(), &good].concat(),
    )?;
    // kr.md §7 step 7: only after the sentence passed steps 1-6; the whole payload is rejected.
    let garbage: Vec<u8> = (0..100_u32)
        .map(|i| (i.wrapping_mul(37).wrapping_add(11) % 251) as u8)
        .collect();
    write_invalid_as(
        "trailing_data_garbage",
        "a valid sentence, then 100 bytes of garbage in the same MQTT message",
        &[good.as_slice(), &garbage].concat(),
        "trailing_data",
    )?;
    write_invalid_as(
        "trailing_data_crlf",
        "a valid sentence, then an empty line (CR LF)",
        &[good.as_slice(), b"\r\n"].concat(),
        "trailing_data",
    )?;
    write_invalid_as(
        "bad_checksum_trailing_sentence",
        "a sentence with a bad checksum, then a valid sentence: the first sentence's error wins",
        &[bad_crc.as_slice(), &good].concat(),
        "bad_checksum",
    )?;
    let mut big = b"$TLKR,".to_vec();
    big.resize(2100, b'A');
    write_invalid(
        "oversize_no_terminator",
        "2100 bytes after the sync without a line feed",
        &big,
    )?;
    let long_reason = "x".repeat(2100);
    write_invalid(
        "oversize_long_sentence",
        "a CAN sentence of more than 2048 bytes, correctly checksummed",
        &frame(&format!(
            "TLKR,CAN,1,TEST,KR,KR,kamd,s,n1,20261121T094512.123456+0900,,T1,{long_reason}"
        )),
    )?;
    write_invalid(
        "unsupported_version_2",
        "format version 2",
        &frame(&body.replacen("LCH,1,", "LCH,2,", 1)),
    )?;
    write_invalid(
        "unknown_type_xyz",
        "sentence type XYZ",
        &frame(&body.replacen("LCH,", "XYZ,", 1)),
    )?;
    write_invalid(
        "field_count_missing_confidence",
        "LCH with its last field (and comma) removed",
        &frame(body.rsplit_once(',').map_or("", |(a, _)| a)),
    )?;
    write_invalid(
        "field_count_extra",
        "LCH with one extra empty field",
        &frame(&format!("{body},")),
    )?;
    write_invalid(
        "missing_field_system",
        "empty system field",
        &frame(&body.replacen(",kamd,", ",,", 1)),
    )?;
    write_invalid(
        "bad_field_mode",
        "mode REALWORLD is not a mode code",
        &frame(&body.replacen("EXERCISE", "REALWORLD", 1)),
    )?;
    write_invalid(
        "bad_field_lat_syntax",
        "latitude with 3 decimal places",
        &frame(&body.replacen("390147.1234N", "390147.123N", 1)),
    )?;
    write_invalid(
        "bad_field_negative_zero",
        "altitude -0.00 (negative zero is not canonical)",
        &frame(&body.replacen(",35.50,", ",-0.00,", 1)),
    )?;
    write_invalid(
        "bad_field_time_zone",
        "observed time with +0000 instead of +0900",
        &frame(&body.replacen("094512.123456+0900", "094512.123456+0000", 1)),
    )?;
    write_invalid(
        "bad_field_releasability_order",
        "releasability not in JP, KR, US order",
        &frame(&body.replacen("JP+KR+US", "KR+JP+US", 1)),
    )?;
    write_invalid(
        "bad_text_escape",
        "^ followed by non-hex",
        &frame(&body.replacen("green-pine-b", "green^2Xpine", 1)),
    )?;
    write_invalid(
        "bad_text_needless_escape",
        "^41 escapes a plain byte (A)",
        &frame(&body.replacen("green-pine-b", "green^41pine", 1)),
    )?;
    write_invalid(
        "bad_text_not_utf8",
        "^FF is not UTF-8",
        &frame(&body.replacen("green-pine-b", "green^FFpine", 1)),
    )?;
    write_invalid(
        "bad_text_track_id",
        "track id with a dot",
        &frame(&body.replacen("KR-T0001", "KR.T0001", 1)),
    )?;
    write_invalid(
        "field_out_of_range_lat",
        "latitude 91 degrees",
        &frame(&body.replacen("390147.1234N", "910000.0000N", 1)),
    )?;
    write_invalid(
        "field_out_of_range_minutes",
        "longitude minutes 60",
        &frame(&body.replacen("1254512.5678E", "1256012.5678E", 1)),
    )?;
    write_invalid(
        "field_out_of_range_feb30",
        "launch time on 30 February",
        &frame(&body.replacen("20261121T094458.500000", "20260230T094458.500000", 1)),
    )?;
    write_invalid(
        "field_out_of_range_before_epoch",
        "observed time before 1970-01-01T00:00:00Z",
        &frame(&body.replacen("20261121T094512.123456", "19700101T085959.999999", 1)),
    )?;
    write_invalid(
        "field_out_of_range_confidence",
        "confidence 1.0001",
        &frame(&body.replacen(",0.8500", ",1.0001", 1)),
    )?;

    // Common envelopes the KR format cannot carry.
    let ingested: DateTime<Utc> = "2026-11-21T00:45:12.200000Z".parse()?;
    let mut env = KrCodec.to_common(&lch, ingested)?;
    if let trilink_schema::Payload::LaunchDetection(p) = &mut env.payload {
        p.launch_point_uncertainty.horizontal_m = 2_000_000.0;
    }
    write_unrepresentable("unrepresentable_uncertainty", &env)?;
    let mut env = KrCodec.to_common(&lch, ingested)?;
    env.observed_at = "1969-12-31T23:59:59Z".parse()?;
    write_unrepresentable("unrepresentable_before_epoch", &env)?;
    let _ = KrError::CODES;
    Ok(())
}
