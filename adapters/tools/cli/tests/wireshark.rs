//! The Lua dissectors in `deploy/wireshark/` against the shipped sample captures: `tshark -X
//! lua_script:…` must decode every national frame of every sample (as many frames as
//! `trilink decode` reports, no malformed packet, no expert error, checksums correct) and show
//! the same message type, track id, position and time as trilink's own decode of the same
//! frames, and reports every JP/KR test vector with the error code its spec gives.
//!
//! Without tshark on PATH the tests print a loud SKIP, unless `TRILINK_REQUIRE_TSHARK=1` (CI),
//! where they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure
#![allow(clippy::float_cmp)] // JP fixed point decodes by a correctly rounded division: equal exactly

mod common;
use common::repo;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const SAMPLES: [&str; 4] = ["single_launch", "salvo", "false_alarm", "exercise_mixed"];

fn capture(sample: &str) -> PathBuf {
    repo()
        .join("adapters/tools/scenario/samples")
        .join(sample)
        .join("national.pcapng")
}

fn script(name: &str) -> PathBuf {
    repo().join("deploy/wireshark").join(name)
}

/// False (after a loud message) when tshark is missing and not required.
fn tshark_available() -> bool {
    let found = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("TRILINK_REQUIRE_TSHARK").as_deref() != Ok("1"),
            "tshark is required (TRILINK_REQUIRE_TSHARK=1) but was not found on PATH"
        );
        eprintln!("\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!");
        eprintln!("!!! SKIPPED: tshark not found; the Wireshark dissector test did not run");
        eprintln!("!!! (set TRILINK_REQUIRE_TSHARK=1 to make this a failure)");
        eprintln!("!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n");
    }
    found
}

/// `trilink decode <capture>`: the decoded records of one nation, in capture order.
fn trilink_decode(sample: &str, nation: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("decode")
        .arg(capture(sample))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "trilink decode {sample}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for r in &records {
        assert!(
            r.get("envelope").is_some(),
            "{sample}: trilink could not decode a frame: {r}"
        );
    }
    records
        .into_iter()
        .filter(|r| r["nation"] == nation)
        .collect()
}

/// `tshark -X lua_script:<script> -r <capture> -Y <filter> -T fields -e …`: one row per
/// displayed packet, split on `|`.
fn tshark_fields(
    script_name: &str,
    sample: &str,
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-X")
        .arg(format!("lua_script:{}", script(script_name).display()))
        .arg("-r")
        .arg(capture(sample))
        .args([
            "-Y",
            filter,
            "-T",
            "fields",
            "-E",
            "separator=|",
            "-E",
            "occurrence=a",
        ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    assert!(
        !stderr.contains("Lua: Error") && !stderr.contains("lua_script"),
        "tshark reported a Lua problem: {stderr}"
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

/// Microseconds since JST midnight of an RFC 3339 UTC instant `YYYY-MM-DDTHH:MM:SS[.f]Z`.
fn jst_tod_us(rfc3339: &str) -> u64 {
    let t = rfc3339.strip_suffix('Z').expect("UTC instant");
    let time = &t[11..];
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut parts = hms.split(':').map(|p| p.parse::<u64>().unwrap());
    let (h, m, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut micros = format!("{frac:0<6}");
    micros.truncate(6);
    let us = ((h * 60 + m) * 60 + s) * 1_000_000 + micros.parse::<u64>().unwrap();
    (us + 9 * 3_600_000_000) % 86_400_000_000
}

fn payload_point(payload: &Value) -> Option<(&'static str, &Value)> {
    match payload["kind"].as_str().unwrap() {
        "launch_detection" => Some(("launch_", &payload["launch_point"])),
        "track_update" => Some(("", &payload["position"])),
        "impact_prediction" => Some(("impact_", &payload["impact_point"])),
        _ => None,
    }
}

fn payload_time(payload: &Value) -> Option<(&'static str, &str)> {
    let kind = payload["kind"].as_str().unwrap();
    let (field, key) = match kind {
        "launch_detection" => ("launch_tod", "launch_time"),
        "track_update" => ("track_tod", "time"),
        "impact_prediction" => ("impact_tod", "impact_time"),
        "event_end" => ("end_tod", "time"),
        _ => return None,
    };
    Some((field, payload[key].as_str().unwrap()))
}

#[test]
fn jp_dissector_decodes_every_sample_frame_like_trilink() {
    if !tshark_available() {
        return;
    }
    let fields = [
        "frame.time_epoch",
        "_ws.malformed",
        "_ws.expert.severity",
        "trilink_jp.error",
        "trilink_jp.crc.status",
        "trilink_jp.msg_type",
        "trilink_jp.track_id",
        "trilink_jp.national_message_id",
        "trilink_jp.observed_tod",
        "trilink_jp.origin",
        "trilink_jp.system",
    ];
    let mut total = 0;
    for sample in SAMPLES {
        let expected = trilink_decode(sample, "jp");
        assert!(!expected.is_empty(), "{sample}: no JP frames in the sample");
        let udp = tshark_fields(
            "trilink_jp.lua",
            sample,
            "udp.dstport == 5500",
            &["frame.number"],
        );
        assert_eq!(
            udp.len(),
            expected.len(),
            "{sample}: JP datagrams vs trilink decode"
        );
        let rows = tshark_fields("trilink_jp.lua", sample, "trilink_jp", &fields);
        assert_eq!(
            rows.len(),
            expected.len(),
            "{sample}: frames decoded by trilink_jp.lua vs trilink decode"
        );
        for (row, rec) in rows.iter().zip(&expected) {
            let env = &rec["envelope"];
            let payload = &env["payload"];
            let ctx = format!("{sample} {}", env["source"]["national_message_id"]);
            assert_eq!(row.len(), fields.len(), "{ctx}: {row:?}");
            assert_eq!(row[1], "", "{ctx}: malformed");
            assert_eq!(row[2], "", "{ctx}: expert info");
            assert_eq!(row[3], "", "{ctx}: decode error");
            assert_eq!(row[4], "1", "{ctx}: CRC not shown as correct");
            let kinds = [
                "launch_detection",
                "track_update",
                "impact_prediction",
                "event_end",
                "cancel",
                "correction",
                "status",
            ];
            let mt: usize = row[5].parse().unwrap();
            assert_eq!(kinds[mt - 1], payload["kind"], "{ctx}: message type");
            let tid = payload
                .get("track_id")
                .or(payload.get("component"))
                .and_then(Value::as_str)
                .unwrap();
            assert_eq!(row[6], tid, "{ctx}: track id");
            assert_eq!(
                row[7], env["source"]["national_message_id"],
                "{ctx}: national message id"
            );
            assert_eq!(
                row[8].parse::<u64>().unwrap(),
                jst_tod_us(env["observed_at"].as_str().unwrap()),
                "{ctx}: observed_tod"
            );
            assert_eq!(row[9], "1", "{ctx}: origin");
            assert_eq!(row[10], env["source"]["system"], "{ctx}: system");
            // the capture timestamp trilink used is the packet's
            let ts = rec["timestamp"].as_str().unwrap();
            let epoch: f64 = row[0].parse().unwrap();
            let frac_us = ((epoch.fract() * 1e6).round() as u64) % 1_000_000;
            assert_eq!(frac_us, jst_tod_us(ts) % 1_000_000, "{ctx}: capture time");
            total += 1;
        }
        // per-kind position and time, from the kind's own spec fields (one tshark run)
        let kind_fields: Vec<String> = ["launch_", "", "impact_"]
            .iter()
            .flat_map(|p| ["lat", "lon", "alt"].map(|a| format!("trilink_jp.{p}{a}")))
            .chain(
                ["launch_tod", "track_tod", "impact_tod", "end_tod"]
                    .map(|t| format!("trilink_jp.{t}")),
            )
            .collect();
        let refs: Vec<&str> = kind_fields.iter().map(String::as_str).collect();
        let all = tshark_fields("trilink_jp.lua", sample, "trilink_jp", &refs);
        assert_eq!(all.len(), expected.len());
        for (i, (row, rec)) in all.iter().zip(&expected).enumerate() {
            let payload = &rec["envelope"]["payload"];
            let col = |name: &str| {
                let k = kind_fields.iter().position(|f| f == name).unwrap();
                row[k].as_str()
            };
            if let Some((prefix, point)) = payload_point(payload) {
                let get = |axis: &str| {
                    col(&format!("trilink_jp.{prefix}{axis}"))
                        .parse::<i64>()
                        .unwrap() as f64
                };
                // the spec's decode is a correctly rounded division: exactly equal
                assert_eq!(
                    get("lat") / 1e7,
                    point["lat_deg"].as_f64().unwrap(),
                    "{sample} #{i}: lat"
                );
                assert_eq!(
                    get("lon") / 1e7,
                    point["lon_deg"].as_f64().unwrap(),
                    "{sample} #{i}: lon"
                );
                assert_eq!(
                    get("alt") / 100.0,
                    point["alt_m"].as_f64().unwrap(),
                    "{sample} #{i}: alt"
                );
            }
            if let Some((field, time)) = payload_time(payload) {
                assert_eq!(
                    col(&format!("trilink_jp.{field}")).parse::<u64>().unwrap(),
                    jst_tod_us(time),
                    "{sample} #{i}: {field}"
                );
            }
        }
    }
    eprintln!("trilink_jp.lua decoded {total} JP frames like trilink");
}

#[test]
fn jp_dissector_reports_a_bad_checksum() {
    if !tshark_available() {
        return;
    }
    // A copy of a sample with the last CRC byte of the first JP datagram flipped.
    let bytes = std::fs::read(capture("false_alarm")).unwrap();
    let expected = trilink_decode("false_alarm", "jp");
    let first = &expected[0];
    let rec_off = first["file_offset"].as_u64().unwrap() as usize;
    let len = first["length"].as_u64().unwrap() as usize;
    let mut bad = bytes.clone();
    // the frame inside the pcapng record: its sync word followed by its own length
    let len_be = (len as u16).to_be_bytes();
    let off = (rec_off..bytes.len() - 6)
        .find(|&p| &bytes[p..p + 2] == b"JP" && bytes[p + 4..p + 6] == len_be)
        .expect("the JP frame in the capture");
    bad[off + len - 1] ^= 0x40;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pcapng");
    std::fs::write(&path, &bad).unwrap();
    let out = Command::new("tshark")
        .arg("-X")
        .arg(format!("lua_script:{}", script("trilink_jp.lua").display()))
        .arg("-r")
        .arg(&path)
        .args(["-Y", "trilink_jp", "-T", "fields", "-E", "separator=|"])
        .args(["-e", "trilink_jp.crc.status", "-e", "trilink_jp.error"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first_line = stdout.lines().next().unwrap();
    assert_eq!(
        first_line, "0|bad_checksum",
        "tshark missed a bad CRC:\n{stdout}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("1|")).count(),
        expected.len() - 1
    );
}

/// An RFC 3339 UTC instant written as the KR format's TIME (`YYYYMMDDThhmmss.ffffff+0900`).
fn kst_time(rfc3339: &str) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    let kst = t.with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap());
    kst.format("%Y%m%dT%H%M%S%.6f+0900").to_string()
}

#[test]
fn kr_dissector_decodes_every_sample_sentence_like_trilink() {
    if !tshark_available() {
        return;
    }
    let fields = [
        "_ws.malformed",
        "_ws.expert.severity",
        "trilink_kr.error",
        "trilink_kr.checksum.status",
        "trilink_kr.kind",
        "trilink_kr.track_id",
        "trilink_kr.national_id",
        "trilink_kr.observed",
        "trilink_kr.system",
        "trilink_kr.lat_deg",
        "trilink_kr.lon_deg",
        "trilink_kr.alt",
        "trilink_kr.launch_time",
        "trilink_kr.time",
        "trilink_kr.impact_time",
        "mqtt.topic",
    ];
    let mut total = 0;
    for sample in SAMPLES {
        let expected = trilink_decode(sample, "kr");
        let publishes = tshark_fields(
            "trilink_kr.lua",
            sample,
            "mqtt.msgtype == 3",
            &["frame.number"],
        );
        assert_eq!(
            publishes.len(),
            expected.len(),
            "{sample}: KR publishes vs trilink decode"
        );
        let rows = tshark_fields("trilink_kr.lua", sample, "trilink_kr", &fields);
        assert_eq!(
            rows.len(),
            expected.len(),
            "{sample}: sentences decoded by trilink_kr.lua vs trilink decode"
        );
        for (row, rec) in rows.iter().zip(&expected) {
            let env = &rec["envelope"];
            let payload = &env["payload"];
            let ctx = format!("{sample} {}", env["source"]["national_message_id"]);
            assert_eq!(row.len(), fields.len(), "{ctx}: {row:?}");
            assert_eq!(row[0], "", "{ctx}: malformed");
            assert_eq!(row[1], "", "{ctx}: expert info");
            assert_eq!(row[2], "", "{ctx}: decode error");
            assert_eq!(row[3], "1", "{ctx}: checksum not shown as correct");
            assert_eq!(row[4], payload["kind"], "{ctx}: message type");
            if let Some(tid) = payload.get("track_id") {
                assert_eq!(row[5], *tid, "{ctx}: track id");
            }
            assert_eq!(
                row[6], env["source"]["national_message_id"],
                "{ctx}: national id"
            );
            assert_eq!(
                row[7],
                kst_time(env["observed_at"].as_str().unwrap()),
                "{ctx}: observed"
            );
            assert_eq!(row[8], env["source"]["system"], "{ctx}: system");
            assert_eq!(row[15], rec["topic"], "{ctx}: topic");
            if let Some((_, point)) = payload_point(payload) {
                // the format's resolution is 0.0001″ ≈ 2.8e-8°; tshark prints 15 digits
                for (col, key) in [(9, "lat_deg"), (10, "lon_deg")] {
                    let shown: f64 = row[col].parse().unwrap();
                    let want = point[key].as_f64().unwrap();
                    assert!(
                        (shown - want).abs() < 1e-9,
                        "{ctx}: {key} {shown} vs {want}"
                    );
                }
                let alt: f64 = row[11].parse().unwrap();
                assert!(
                    (alt - point["alt_m"].as_f64().unwrap()).abs() < 0.005,
                    "{ctx}: alt"
                );
            }
            if let Some((jp_field, time)) = payload_time(payload) {
                let col = match jp_field {
                    "launch_tod" => 12,
                    "impact_tod" => 14,
                    _ => 13,
                };
                assert_eq!(row[col], kst_time(time), "{ctx}: {jp_field} time");
            }
            total += 1;
        }
    }
    assert!(total > 0, "no KR sentences in the samples");
    eprintln!("trilink_kr.lua decoded {total} KR sentences like trilink");
}

#[test]
fn kr_dissector_reports_a_bad_checksum() {
    if !tshark_available() {
        return;
    }
    // Change one digit of the first sentence's written CRC (MQTT and TCP stay well-formed).
    let bytes = std::fs::read(capture("single_launch")).unwrap();
    let start = bytes
        .windows(6)
        .position(|w| w == b"$TLKR,")
        .expect("a KR sentence");
    let lf = start + bytes[start..].iter().position(|&b| b == b'\n').unwrap();
    let digit = lf - 2;
    let mut bad = bytes.clone();
    bad[digit] = if bad[digit] == b'0' { b'1' } else { b'0' };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.pcapng");
    std::fs::write(&path, &bad).unwrap();
    let out = Command::new("tshark")
        .arg("-X")
        .arg(format!("lua_script:{}", script("trilink_kr.lua").display()))
        .arg("-r")
        .arg(&path)
        .args(["-Y", "trilink_kr", "-T", "fields", "-E", "separator=|"])
        .args(["-e", "trilink_kr.checksum.status", "-e", "trilink_kr.error"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().next().unwrap(),
        "0|bad_checksum",
        "tshark missed a bad checksum:\n{stdout}"
    );
}

/// GPS microseconds (us.md §6) of an RFC 3339 instant after 2017-01-01 (GPS − UTC = 18 s).
fn gps_us(rfc3339: &str) -> i64 {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).unwrap();
    assert!(
        t.timestamp() >= 1_483_228_800,
        "leap-second table beyond this test"
    );
    (t.timestamp() - 315_964_800 + 18) * 1_000_000 + i64::from(t.timestamp_subsec_micros())
}

/// The (label, sublabel) of the initial J-word that carries a payload kind (us.md §5).
fn j_label(kind: &str) -> &'static str {
    match kind {
        "launch_detection" | "impact_prediction" => "3|0",
        "track_update" => "3|6",
        "event_end" => "7|0",
        "cancel" => "7|1",
        "correction" => "7|2",
        "status" => "13|5",
        other => panic!("unknown kind {other}"),
    }
}

#[test]
fn us_dissector_decodes_every_sample_packet_like_trilink() {
    if !tshark_available() {
        return;
    }
    let fields = [
        "_ws.malformed",
        "_ws.expert",
        "simple.checksum.status",
        "simple.packet_type",
        "link16.label",
        "link16.sublabel",
        "tcp.dstport",
        "trilink_us.kind",
        "trilink_us.track_id",
        "trilink_us.national_message_id",
        "trilink_us.observed",
        "trilink_us.time",
        "trilink_us.lat_deg",
        "trilink_us.lon_deg",
        "trilink_us.alt_m",
        "trilink_us.system",
    ];
    let mut total = 0;
    for sample in SAMPLES {
        let expected = trilink_decode(sample, "us");
        let rows = tshark_fields("trilink_us.lua", sample, "simple", &fields);
        assert_eq!(
            rows.len(),
            expected.len(),
            "{sample}: SIMPLE packets found by trilink_us.lua vs trilink decode"
        );
        for (row, rec) in rows.iter().zip(&expected) {
            let env = &rec["envelope"];
            let ctx = format!("{sample} {}", env["source"]["national_message_id"]);
            assert_eq!(row.len(), fields.len(), "{ctx}: {row:?}");
            assert_eq!(row[0], "", "{ctx}: malformed");
            assert_eq!(row[1], "", "{ctx}: expert info");
            assert_eq!(row[2], "1", "{ctx}: SIMPLE checksum not Good");
            assert_eq!(row[3], "1", "{ctx}: packet type not Link 16");
            // the first J-word is the message's initial word
            let label = row[4].split(',').next().unwrap();
            let sublabel = row[5].split(',').next().unwrap();
            assert_eq!(
                format!("{label}|{sublabel}"),
                j_label(env["payload"]["kind"].as_str().unwrap()),
                "{ctx}: message type"
            );
            assert_eq!(row[6], "5601", "{ctx}: port");
            let payload = &env["payload"];
            assert_eq!(row[7], payload["kind"], "{ctx}: kind");
            if let Some(tid) = payload.get("track_id") {
                assert_eq!(row[8], *tid, "{ctx}: track id");
            }
            assert_eq!(
                row[9], env["source"]["national_message_id"],
                "{ctx}: national id"
            );
            assert_eq!(row[15], env["source"]["system"], "{ctx}: system");
            assert_eq!(
                row[10].parse::<i64>().unwrap(),
                gps_us(env["observed_at"].as_str().unwrap()),
                "{ctx}: observed_at"
            );
            if let Some((_, time)) = payload_time(payload) {
                assert_eq!(
                    row[11].parse::<i64>().unwrap(),
                    gps_us(time),
                    "{ctx}: payload time"
                );
            }
            if let Some((_, point)) = payload_point(payload) {
                // centimetre ECEF: tshark prints 15 digits; 1e-9° is ~0.1 mm
                for (col, key, tol) in [
                    (12, "lat_deg", 1e-9),
                    (13, "lon_deg", 1e-9),
                    (14, "alt_m", 1e-3),
                ] {
                    let shown: f64 = row[col].parse().unwrap();
                    let want = point[key].as_f64().unwrap();
                    assert!((shown - want).abs() < tol, "{ctx}: {key} {shown} vs {want}");
                }
            }
            total += 1;
        }
    }
    assert!(total > 0, "no US packets in the samples");
    eprintln!("trilink_us.lua found {total} US SIMPLE packets like trilink");
}

/// Every `.hex` vector of a nation with its expected decode error (`None` for a valid vector).
fn vectors(nation: &str) -> Vec<(String, Vec<u8>, Option<String>)> {
    let dir = repo().join("schemas/vectors").join(nation);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".hex").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(format!("{name}.hex"))).unwrap();
            // hex digits outside `#` comments, spaced or not
            let digits: Vec<u8> = text
                .lines()
                .flat_map(|l| l.split('#').next().unwrap_or("").bytes())
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let bytes = digits
                .chunks(2)
                .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
                .collect();
            let error = std::fs::read_to_string(dir.join(format!("{name}.error")))
                .ok()
                .map(|e| e.trim().to_owned());
            (name, bytes, error)
        })
        .collect()
}

/// A pcap (LINKTYPE_RAW, IPv4) with each payload as one UDP datagram to `port`.
fn udp_pcap(path: &Path, port: u16, payloads: &[&[u8]]) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65_535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    for (i, p) in payloads.iter().enumerate() {
        let udp_len = 8 + p.len();
        let ip_len = 20 + udp_len;
        let mut pkt = vec![
            0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1,
        ];
        pkt[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        let sum: u32 = pkt
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        let sum = (sum & 0xffff) + (sum >> 16);
        let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
        pkt[10..12].copy_from_slice(&sum.to_be_bytes());
        pkt.extend_from_slice(&40_000u16.to_be_bytes());
        pkt.extend_from_slice(&port.to_be_bytes());
        pkt.extend_from_slice(&(udp_len as u16).to_be_bytes());
        pkt.extend_from_slice(&[0, 0]); // no UDP checksum
        pkt.extend_from_slice(p);
        out.extend_from_slice(&(i as u32 + 1).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
        out.extend_from_slice(&pkt);
    }
    std::fs::write(path, out).unwrap();
}

/// Runs the spec's test vectors through a dissector as UDP datagrams: a valid vector shows no
/// error and a Good checksum, an invalid one the spec's error code (the sync errors are not
/// claimed by the dissector at all).
fn check_vectors(nation: &str, script_name: &str, proto: &str, extra: &[&str]) -> usize {
    let vecs = vectors(nation);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vectors.pcap");
    let payloads: Vec<&[u8]> = vecs.iter().map(|(_, b, _)| b.as_slice()).collect();
    udp_pcap(&path, 5500, &payloads);
    let out = Command::new("tshark")
        .arg("-X")
        .arg(format!("lua_script:{}", script(script_name).display()))
        .arg("-r")
        .arg(&path)
        .args(extra)
        .args(["-T", "fields", "-E", "separator=|", "-E", "occurrence=f"])
        .args(["-e", "frame.protocols", "-e", &format!("{proto}.error")])
        .args([
            "-e",
            &format!(
                "{proto}.{}",
                if proto == "trilink_jp" {
                    "crc.status"
                } else {
                    "checksum.status"
                }
            ),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("Lua"),
        "tshark: {stderr}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), vecs.len(), "one line per vector:\n{stdout}");
    for (line, (name, _, error)) in lines.iter().zip(&vecs) {
        let f: Vec<&str> = line.split('|').collect();
        let claimed = f[0].split(':').any(|p| p == proto);
        match error.as_deref() {
            Some("bad_sync") => assert!(
                !claimed,
                "{nation} {name}: claimed a frame with a bad sync: {line}"
            ),
            Some(code) => {
                assert!(claimed, "{nation} {name}: not dissected: {line}");
                assert_eq!(f[1], code, "{nation} {name}: error code: {line}");
            }
            None => {
                assert!(claimed, "{nation} {name}: not dissected: {line}");
                assert_eq!(
                    f[1], "",
                    "{nation} {name}: a valid vector shows an error: {line}"
                );
                assert_eq!(f[2], "1", "{nation} {name}: checksum not Good: {line}");
            }
        }
    }
    vecs.len()
}

#[test]
fn jp_dissector_reports_every_vector_as_the_spec_says() {
    if !tshark_available() {
        return;
    }
    let n = check_vectors("jp", "trilink_jp.lua", "trilink_jp", &[]);
    eprintln!("trilink_jp.lua: {n} JP vectors as the spec says");
}

#[test]
fn kr_dissector_reports_every_vector_as_the_spec_says() {
    if !tshark_available() {
        return;
    }
    let n = check_vectors(
        "kr",
        "trilink_kr.lua",
        "trilink_kr",
        &["-d", "udp.port==5500,trilink_kr"],
    );
    eprintln!("trilink_kr.lua: {n} KR vectors as the spec says");
}

#[test]
fn us_dissector_decodes_every_valid_vector_like_its_json() {
    if !tshark_available() {
        return;
    }
    let valid: Vec<(String, Vec<u8>, Value)> = vectors("us")
        .into_iter()
        .filter(|(_, _, e)| e.is_none())
        .filter_map(|(name, bytes, _)| {
            let json = repo().join(format!("schemas/vectors/us/{name}.json"));
            let text = std::fs::read_to_string(json).ok()?;
            Some((name, bytes, serde_json::from_str(&text).unwrap()))
        })
        .collect();
    assert!(valid.len() >= 7, "every message kind has a vector");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("us.pcap");
    let payloads: Vec<&[u8]> = valid.iter().map(|(_, b, _)| b.as_slice()).collect();
    udp_pcap(&path, 5602, &payloads);
    let out = Command::new("tshark")
        .arg("-X")
        .arg(format!("lua_script:{}", script("trilink_us.lua").display()))
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields", "-E", "separator=|"])
        .args(["-e", "simple.checksum.status", "-e", "_ws.malformed"])
        .args([
            "-e",
            "trilink_us.kind",
            "-e",
            "trilink_us.national_message_id",
        ])
        .args(["-e", "trilink_us.observed"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), valid.len(), "{stdout}");
    for (line, (name, _, env)) in lines.iter().zip(&valid) {
        let f: Vec<&str> = line.split('|').collect();
        assert_eq!(f[0], "1", "{name}: checksum: {line}");
        assert_eq!(f[1], "", "{name}: malformed: {line}");
        assert_eq!(f[2], env["payload"]["kind"], "{name}: kind: {line}");
        assert_eq!(
            f[3], env["source"]["national_message_id"],
            "{name}: id: {line}"
        );
        let observed = env["observed_at"].as_str().unwrap();
        if chrono::DateTime::parse_from_rfc3339(observed)
            .unwrap()
            .timestamp()
            >= 1_483_228_800
        {
            assert_eq!(
                f[4].parse::<i64>().unwrap(),
                gps_us(observed),
                "{name}: observed"
            );
        }
    }
}
