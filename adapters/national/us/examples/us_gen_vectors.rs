//! Generates `schemas/vectors/us/` (valid and invalid vectors) and prints the annotated
//! worked examples used in `schemas/national/us.md`.
//!
//! Run from the workspace root: `cargo run -p trilink-us --example us_gen_vectors`.
//! The committed files are the authority; tests read them and never regenerate them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::too_many_arguments
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_schema::{
    Cancel, ComponentState, Correction, EndReason, Envelope, ErrorEllipse, EventEnd, FlightPhase,
    GeoPoint, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode, Nation,
    NationalCodec, Payload, PositionUncertainty, Source, Status, TrackId, TrackUpdate, VelocityEnu,
};
use trilink_us::{UsCodec, simple_checksum};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn env(
    origin: Nation,
    system: &str,
    sensor: &str,
    nid: &str,
    observed: &str,
    mode: Mode,
    rel: &[Nation],
    payload: Payload,
) -> Envelope {
    Envelope::new(
        origin,
        Source {
            system: system.into(),
            sensor: sensor.into(),
            national_message_id: nid.into(),
        },
        t(observed),
        t(observed),
        mode,
        rel.iter().copied().collect(),
        payload,
    )
}

fn tid(s: &str) -> TrackId {
    TrackId::new(s).unwrap()
}

const ALL: &[Nation] = &[Nation::Jp, Nation::Kr, Nation::Us];

fn valid_envelopes() -> Vec<(&'static str, Envelope, u16)> {
    let launch = env(
        Nation::Us,
        "c2bmc",
        "sbirs-geo-1",
        "C2-20261121-000001",
        "2026-11-21T03:12:45.123456Z",
        Mode::Exercise,
        ALL,
        Payload::LaunchDetection(LaunchDetection {
            track_id: tid("US-T0001"),
            launch_time: t("2026-11-21T03:12:30.500Z"),
            launch_point: GeoPoint {
                lat_deg: 39.0392,
                lon_deg: 125.7625,
                alt_m: 30.0,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 500.0,
                vertical_m: 100.0,
            },
            missile_class: MissileClass::Irbm,
            confidence: 0.85,
        }),
    );
    let launch_id = launch.message_id;
    let track = env(
        Nation::Us,
        "c2bmc",
        "an-tpy-2-shariki",
        "C2-20261121-000002",
        "2026-11-21T03:13:40Z",
        Mode::Exercise,
        ALL,
        Payload::TrackUpdate(TrackUpdate {
            track_id: tid("US-T0001"),
            time: t("2026-11-21T03:13:39.750Z"),
            position: GeoPoint {
                lat_deg: 40.2,
                lon_deg: 131.5,
                alt_m: 612_000.0,
            },
            position_uncertainty: PositionUncertainty {
                horizontal_m: 150.0,
                vertical_m: 250.0,
            },
            velocity: VelocityEnu {
                east_mps: 2_950.5,
                north_mps: 410.25,
                up_mps: 1_200.0,
            },
            quality: 12,
            flight_phase: FlightPhase::Midcourse,
        }),
    );
    let impact = env(
        Nation::Us,
        "c2bmc",
        "c2bmc-fusion",
        "C2-20261121-000003",
        "2026-11-21T03:14:00Z",
        Mode::Exercise,
        ALL,
        Payload::ImpactPrediction(ImpactPrediction {
            track_id: tid("US-T0001"),
            impact_time: t("2026-11-21T03:22:10Z"),
            impact_point: GeoPoint {
                lat_deg: 40.9,
                lon_deg: 138.2,
                alt_m: 0.0,
            },
            error_ellipse: ErrorEllipse {
                semi_major_m: 25_000.0,
                semi_minor_m: 8_000.0,
                orientation_deg: 72.5,
            },
        }),
    );
    let mut end = env(
        Nation::Us,
        "c2bmc",
        "c2bmc-fusion",
        "C2-20261121-000004",
        "2026-11-21T03:22:15Z",
        Mode::Exercise,
        ALL,
        Payload::EventEnd(EventEnd {
            track_id: tid("US-T0001"),
            time: t("2026-11-21T03:22:11.250Z"),
            reason: EndReason::Impact,
            final_point: Some(GeoPoint {
                lat_deg: 40.91,
                lon_deg: 138.19,
                alt_m: 0.0,
            }),
        }),
    );
    end.references = vec![launch_id];
    let lost = env(
        Nation::Us,
        "c2bmc",
        "an-tpy-2-kyogamisaki",
        "C2-20261121-000005",
        "2026-11-21T05:00:00Z",
        Mode::Test,
        &[Nation::Us],
        Payload::EventEnd(EventEnd {
            track_id: tid("US-T0002"),
            time: t("2026-11-21T04:59:58Z"),
            reason: EndReason::Lost,
            final_point: None,
        }),
    );
    let mut cancel = env(
        Nation::Us,
        "c2bmc",
        "c2bmc-fusion",
        "C2-20261121-000006",
        "2026-11-21T03:13:00Z",
        Mode::RealWorld,
        ALL,
        Payload::Cancel(Cancel {
            track_id: tid("US-T0001"),
            reason: "false alarm: sensor artefact".into(),
        }),
    );
    cancel.references = vec![launch_id];
    let mut correction = env(
        Nation::Us,
        "c2bmc",
        "c2bmc-fusion",
        "C2-20261121-000007",
        "2026-11-21T03:15:00Z",
        Mode::Exercise,
        ALL,
        Payload::Correction(Correction {
            track_id: tid("US-T0001"),
            reason: "launch point refined".into(),
            corrected_time: Some(t("2026-11-21T03:12:29Z")),
            corrected_point: Some(GeoPoint {
                lat_deg: 39.05,
                lon_deg: 125.75,
                alt_m: 25.0,
            }),
            corrected_missile_class: Some(MissileClass::Mrbm),
        }),
    );
    correction.references = vec![launch_id];
    let status = env(
        Nation::Us,
        "c2bmc",
        "c2bmc",
        "C2-STATUS-20261121-0600",
        "2026-11-21T06:00:00Z",
        Mode::RealWorld,
        ALL,
        Payload::Status(Status {
            component: "c2bmc-gateway".into(),
            state: ComponentState::Degraded,
            uptime_s: 86_400.25,
            detail: "one of two uplinks down".into(),
        }),
    );
    // A Japanese track relayed to the US system (egress direction), at the South Pole edge
    // of the representable domain is not needed; use a high, fast terminal-phase point.
    let jp_track = env(
        Nation::Jp,
        "jadgex",
        "fps-5-sado",
        "20261121-000042",
        "2026-11-21T03:20:00.000001Z",
        Mode::Exercise,
        &[Nation::Jp, Nation::Us],
        Payload::TrackUpdate(TrackUpdate {
            track_id: tid("JP-0042"),
            time: t("2026-11-21T03:19:59.999999Z"),
            position: GeoPoint {
                lat_deg: -33.5,
                lon_deg: -179.999,
                alt_m: 1_995_000.0,
            },
            position_uncertainty: PositionUncertainty {
                horizontal_m: 0.0,
                vertical_m: 0.01,
            },
            velocity: VelocityEnu {
                east_mps: -6_000.0,
                north_mps: 0.001,
                up_mps: -3_500.0,
            },
            quality: 15,
            flight_phase: FlightPhase::Terminal,
        }),
    );
    // Two references, long texts: spans four J28.2 container messages (8 + 8 + 8 + 4 words).
    let mut long_cancel = env(
        Nation::Kr,
        "kamd-ops-center",
        "green-pine-b-2",
        "KR-2026-11-21-000000000017",
        "2026-11-21T03:30:00Z",
        Mode::Exercise,
        ALL,
        Payload::Cancel(Cancel {
            track_id: tid("KR-T17_boost-phase"),
            reason: "retracted after cross-check with JP and US sensors: the detection was \
                     a re-entering rocket body, not a launch"
                .into(),
        }),
    );
    long_cancel.references = vec![
        launch_id,
        MessageId::derive(Nation::Kr, "kamd-ops-center", "KR-2026-11-21-000000000016"),
    ];
    // Observed inside the 2016-12-31 leap second: GPS time keeps counting, UTC reads 23:59:60.
    let mut leap_status = status.clone();
    leap_status.source.national_message_id = "C2-STATUS-20161231-2359".into();
    leap_status.message_id = MessageId::derive(Nation::Us, "c2bmc", "C2-STATUS-20161231-2359");
    leap_status.observed_at = t("2016-12-31T23:59:60.5Z");
    leap_status.ingested_at = leap_status.observed_at;
    vec![
        ("launch_detection", launch, 1),
        ("track_update", track, 2),
        ("impact_prediction", impact, 3),
        ("event_end", end, 4),
        ("event_end_lost", lost, 5),
        ("cancel", cancel, 6),
        ("correction", correction, 7),
        ("status", status, 8),
        ("status_leap_second", leap_status, 9),
        ("track_update_jp_origin", jp_track, 42),
        ("cancel_two_containers", long_cancel, 65535),
    ]
}

fn encode(env: &Envelope, seq: u16) -> Vec<u8> {
    let codec = UsCodec::default();
    let mut f = codec.to_national(env).unwrap();
    f.simple.sequence = seq;
    let mut out = BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    out.to_vec()
}

fn fix_checksum(b: &mut [u8]) {
    let n = b.len();
    let s = simple_checksum(&b[..n - 2]);
    b[n - 2..].copy_from_slice(&s.to_le_bytes());
}

fn hexs(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Body field layout per primary label: (offset, len, name).
fn body_fields(label: (u8, u8), point_type: u8) -> Vec<(usize, usize, &'static str)> {
    match (label, point_type) {
        ((3, 0), 1) => vec![
            (0, 1, "point_type = 1 (launch)"),
            (1, 1, "missile_class"),
            (2, 4, "confidence (u32, 1e-9)"),
            (6, 8, "launch_time (u64 GPS µs)"),
            (14, 4, "launch_point.x (i32 cm)"),
            (18, 4, "launch_point.y (i32 cm)"),
            (22, 4, "launch_point.z (i32 cm)"),
            (26, 4, "uncertainty.horizontal (u32 cm)"),
            (30, 4, "uncertainty.vertical (u32 cm)"),
        ],
        ((3, 0), _) => vec![
            (0, 1, "point_type = 2 (impact)"),
            (1, 1, "reserved = 0"),
            (2, 8, "impact_time (u64 GPS µs)"),
            (10, 4, "impact_point.x (i32 cm)"),
            (14, 4, "impact_point.y (i32 cm)"),
            (18, 4, "impact_point.z (i32 cm)"),
            (22, 4, "semi_major (u32 cm)"),
            (26, 4, "semi_minor (u32 cm)"),
            (30, 4, "orientation (u32 µdeg)"),
        ],
        ((3, 6), _) => vec![
            (0, 1, "quality"),
            (1, 1, "flight_phase"),
            (2, 8, "time (u64 GPS µs)"),
            (10, 4, "position.x (i32 cm)"),
            (14, 4, "position.y (i32 cm)"),
            (18, 4, "position.z (i32 cm)"),
            (22, 4, "velocity.x (i32 mm/s)"),
            (26, 4, "velocity.y (i32 mm/s)"),
            (30, 4, "velocity.z (i32 mm/s)"),
            (34, 4, "uncertainty.horizontal (u32 cm)"),
            (38, 4, "uncertainty.vertical (u32 cm)"),
        ],
        ((7, 0), _) => vec![
            (0, 1, "end_reason"),
            (1, 1, "flags (bit0 final_point present)"),
            (2, 8, "time (u64 GPS µs)"),
            (10, 4, "final_point.x (i32 cm)"),
            (14, 4, "final_point.y (i32 cm)"),
            (18, 4, "final_point.z (i32 cm)"),
        ],
        ((7, 2), _) => vec![
            (0, 1, "flags (bit0 time, bit1 point, bit2 class)"),
            (1, 1, "corrected_missile_class"),
            (2, 8, "corrected_time (u64 GPS µs)"),
            (10, 4, "corrected_point.x (i32 cm)"),
            (14, 4, "corrected_point.y (i32 cm)"),
            (18, 4, "corrected_point.z (i32 cm)"),
        ],
        ((13, 5), _) => vec![
            (0, 1, "state"),
            (1, 1, "reserved = 0"),
            (2, 8, "uptime (u64 µs)"),
        ],
        _ => vec![],
    }
}

fn le(b: &[u8]) -> u64 {
    b.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x))
}

/// A field-by-field annotated dump (the `.hex` file body and the spec's worked examples).
fn annotate(b: &[u8]) -> String {
    let mut s = String::new();
    let hdr: &[(usize, usize, &str)] = &[
        (0, 2, "SIMPLE sync 0x49 0x36"),
        (2, 2, "length (u16 LE)"),
        (4, 2, "sequence"),
        (6, 1, "source node"),
        (7, 1, "source subnode (206 Link 16)"),
        (8, 1, "destination node (129 broadcast)"),
        (9, 1, "destination subnode"),
        (10, 1, "packet size = (length-8)/2"),
        (11, 1, "packet type (1 Link 16)"),
        (12, 2, "transit time"),
        (14, 1, "L16 subtype (2 fixed format)"),
        (15, 1, "R/C flag"),
        (16, 1, "network"),
        (17, 1, "SSC2"),
        (18, 2, "NPG"),
        (20, 2, "SSC1"),
        (22, 2, "STN"),
        (24, 2, "word count = 5 x words"),
        (26, 2, "loopback id"),
    ];
    for &(o, l, name) in hdr {
        let v = le(&b[o..o + l]);
        writeln!(s, "{:<30}# {o:>3}: {name} = {v}", hexs(&b[o..o + l])).unwrap();
    }
    let n = (b.len() - 30) / 10;
    let mut body = Vec::new();
    let mut label = (0, 0);
    let mut primary_words = 0;
    for i in 0..n {
        let o = 28 + 10 * i;
        let h = u16::from_le_bytes([b[o], b[o + 1]]);
        let fmt = h & 3;
        let desc = if fmt == 0 {
            let l = ((h >> 2) & 31) as u8;
            let sl = ((h >> 7) & 7) as u8;
            let mli = (h >> 10) & 7;
            if i == 0 {
                label = (l, sl);
                primary_words = 1 + mli as usize;
            }
            format!("J{l}.{sl}I  word header: format 0, label {l}, sublabel {sl}, MLI {mli}")
        } else {
            let cl = (h >> 2) & 31;
            let (l, sl) = if i < primary_words { label } else { (28, 2) };
            format!("J{l}.{sl}C{cl} word header: format 1, continuation label {cl}")
        };
        writeln!(s, "{:<30}# {o:>3}: word {i}: {desc}", hexs(&b[o..o + 2])).unwrap();
        let d = &b[o + 2..o + 10];
        if i == 0 {
            let f = d[0];
            writeln!(
                s,
                "{:<30}#      origin {} mode {} releasability bits {:03b}",
                hexs(&d[..1]),
                f & 3,
                (f >> 2) & 3,
                (f >> 4) & 7
            )
            .unwrap();
            writeln!(
                s,
                "{:<30}#      observed_at (u56 GPS µs) = {}",
                hexs(&d[1..]),
                le(&d[1..])
            )
            .unwrap();
        } else if i < primary_words {
            body.extend_from_slice(d);
            let base = (i - 1) * 8;
            let fields = body_fields(label, body[0]);
            let mut pos = 0;
            while pos < 8 {
                let abs = base + pos;
                if let Some(&(fo, fl, name)) = fields
                    .iter()
                    .find(|(fo, fl, _)| abs >= *fo && abs < fo + fl)
                {
                    let end = (fo + fl).min(base + 8);
                    let part = &d[pos..end - base];
                    let whole = fo >= base && fo + fl <= base + 8;
                    let val = if whole {
                        let raw = le(part);
                        let signed = name.contains("i32");
                        if signed {
                            format!(" = {}", raw as u32 as i32)
                        } else {
                            format!(" = {raw}")
                        }
                    } else if abs == fo {
                        " (first bytes)".to_string()
                    } else {
                        let full = le(&body_full_slice(b, primary_words)[fo..fo + fl]);
                        if name.contains("i32") {
                            format!(" (last bytes) = {}", full as u32 as i32)
                        } else {
                            format!(" (last bytes) = {full}")
                        }
                    };
                    writeln!(s, "{:<30}#      {name}{val}", hexs(part)).unwrap();
                    pos = end - base;
                } else {
                    let end = 8;
                    writeln!(s, "{:<30}#      padding", hexs(&d[pos..end])).unwrap();
                    pos = end;
                }
            }
        } else {
            let txt: String = d
                .iter()
                .map(|&c| {
                    if (0x20..0x7f).contains(&c) {
                        c as char
                    } else {
                        '.'
                    }
                })
                .collect();
            writeln!(s, "{:<30}#      container data |{txt}|", hexs(d)).unwrap();
        }
    }
    let o = b.len() - 2;
    writeln!(
        s,
        "{:<30}# {o:>3}: checksum (sum of bytes 0..{o}) = 0x{:04x}",
        hexs(&b[o..]),
        le(&b[o..])
    )
    .unwrap();
    s
}

fn body_full_slice(b: &[u8], primary_words: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 1..primary_words {
        let o = 28 + 10 * i;
        v.extend_from_slice(&b[o + 2..o + 10]);
    }
    v
}

/// Two schema-valid track updates on the edge of a range that the US format cannot carry
/// (spec §8): one at altitude exactly 10 000 000 m whose centimetre ECEF point decodes more
/// than 2 mm above it, one with east velocity exactly 12 000 m/s whose mm/s ECEF value decodes
/// more than 0.2 mm/s above it (margins far beyond floating-point differences between
/// implementations). The first such latitude in a fixed scan is taken.
fn edge_envelopes(track: &Envelope) -> (Envelope, Envelope) {
    use trilink_us::geo::{ecef_to_enu_velocity, ecef_to_geodetic, geodetic_to_ecef};
    let cm_point = |p: &GeoPoint| {
        let (x, y, z) = geodetic_to_ecef(p);
        let r = |v: f64| (v * 100.0).round() / 100.0;
        ecef_to_geodetic(r(x), r(y), r(z))
    };
    let with = |position: GeoPoint, velocity: VelocityEnu| {
        let mut e = track.clone();
        if let Payload::TrackUpdate(t) = &mut e.payload {
            t.position = position;
            t.velocity = velocity;
        }
        e
    };
    let mut alt_edge = None;
    let mut vel_edge = None;
    for k in 0..10_000 {
        let lat = 40.0 + f64::from(k) * 1e-4;
        let high = GeoPoint {
            lat_deg: lat,
            lon_deg: 131.5,
            alt_m: 10_000_000.0,
        };
        if alt_edge.is_none() && cm_point(&high).alt_m > 10_000_000.002 {
            alt_edge = Some(with(
                high,
                VelocityEnu {
                    east_mps: 0.0,
                    north_mps: 0.0,
                    up_mps: 0.0,
                },
            ));
        }
        let p = GeoPoint {
            lat_deg: lat,
            lon_deg: 131.5,
            alt_m: 612_000.0,
        };
        let v = VelocityEnu {
            east_mps: 12_000.0,
            north_mps: 0.0,
            up_mps: 0.0,
        };
        let at = cm_point(&p);
        let (x, y, z) = trilink_us::geo::enu_to_ecef_velocity(&v, &at);
        let r = |c: f64| (c * 1000.0).round() / 1000.0;
        if vel_edge.is_none() && ecef_to_enu_velocity(r(x), r(y), r(z), &at).east_mps > 12_000.000_2
        {
            vel_edge = Some(with(p, v));
        }
        if alt_edge.is_some() && vel_edge.is_some() {
            break;
        }
    }
    (alt_edge.unwrap(), vel_edge.unwrap())
}

fn write(dir: &Path, name: &str, ext: &str, content: &str) {
    std::fs::write(dir.join(format!("{name}.{ext}")), content).unwrap();
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/vectors/us");
    std::fs::create_dir_all(&root).unwrap();
    let codec = UsCodec::default();
    let ingested = t("2026-11-21T06:30:00Z");
    let mut by_name = std::collections::BTreeMap::new();
    for (name, e, seq) in valid_envelopes() {
        let bytes = encode(&e, seq);
        let decoded = trilink_us::decode_to_common(&bytes, ingested).unwrap();
        let json = serde_json::to_string_pretty(&decoded).unwrap() + "\n";
        let hex = format!(
            "# {name}: valid US SIMPLE/Link 16 packet, {} bytes. Generated by\n# `cargo run -p trilink-us --example us_gen_vectors`; expected envelope in {name}.json\n{}",
            bytes.len(),
            annotate(&bytes)
        );
        write(&root, name, "hex", &hex);
        write(&root, name, "json", &json);
        println!("## {name}\n\n```\n{}```\n", annotate(&bytes));
        by_name.insert(name, (bytes, e));
    }

    // Invalid packets: each a mutation of a valid one, checksum fixed unless stated.
    let base = by_name["track_update"].0.clone();
    let status = by_name["status"].0.clone();
    let mut invalid: Vec<(&str, Vec<u8>, &str, &str)> = Vec::new();
    let mut b = base.clone();
    b[0] = 0x4a;
    invalid.push((
        "bad_sync",
        b,
        "bad_sync",
        "first sync byte 0x4a instead of 0x49",
    ));
    let mut b = base.clone();
    b[1] = 0x37;
    invalid.push((
        "bad_sync_second_byte",
        b,
        "bad_sync",
        "second sync byte 0x37",
    ));
    let mut b = base[..4].to_vec();
    b[2..4].copy_from_slice(&512u16.to_le_bytes());
    invalid.push((
        "oversize",
        b,
        "oversize",
        "declared length 512 > 510; rejected from the first 4 bytes, before waiting for more",
    ));
    let mut b = base.clone();
    b.truncate(base.len() - 5);
    let l = b.len() as u16;
    b[2..4].copy_from_slice(&l.to_le_bytes());
    fix_checksum(&mut b);
    invalid.push(("bad_length", b, "bad_length", "length not 30 + 10 x N"));
    // One J-word only (length 40): a packet needs the primary word and a container word.
    let mut b = base[..40].to_vec();
    b[2..4].copy_from_slice(&40u16.to_le_bytes());
    b[10] = 16;
    b[24] = 5;
    fix_checksum(&mut b);
    invalid.push((
        "bad_length_too_short",
        b,
        "bad_length",
        "length 40 (one word) < 50",
    ));
    let mut b = base.clone();
    b[10] += 1;
    fix_checksum(&mut b);
    invalid.push((
        "bad_length_packet_size",
        b,
        "bad_length",
        "packet size != (length-8)/2",
    ));
    let mut b = base.clone();
    b[24] = 5;
    fix_checksum(&mut b);
    invalid.push((
        "bad_length_word_count",
        b,
        "bad_length",
        "word count != 5 x words",
    ));
    let mut b = base.clone();
    let n = b.len();
    b[n - 1] ^= 0x01;
    invalid.push((
        "bad_checksum",
        b,
        "bad_checksum",
        "checksum high byte off by one bit",
    ));
    let mut b = base.clone();
    b[40] ^= 0x10;
    invalid.push((
        "bad_checksum_payload_bit",
        b,
        "bad_checksum",
        "one payload bit flipped",
    ));
    let b = base[..base.len() - 7].to_vec();
    invalid.push((
        "truncated",
        b,
        "truncated",
        "datagram 7 bytes shorter than its declared length",
    ));
    let mut b = base.clone();
    b.extend_from_slice(&[0, 0, 0]);
    invalid.push((
        "trailing_bytes",
        b,
        "trailing_bytes",
        "3 bytes after the packet in one datagram",
    ));
    // us.md §1 / §9 step 17a: one datagram = one packet; the packet's own errors win.
    invalid.push((
        "trailing_bytes_two_packets",
        [base.as_slice(), &status].concat(),
        "trailing_bytes",
        "two valid packets (track_update, status) in one datagram",
    ));
    let mut b = base.clone();
    let n = b.len();
    b[n - 1] ^= 0x01;
    b.extend_from_slice(&status);
    invalid.push((
        "bad_checksum_trailing_packet",
        b,
        "bad_checksum",
        "bad checksum, then a valid packet: the first packet's error wins over trailing_bytes",
    ));
    // §9 steps 1-3 for a datagram: 0-3 bytes are truncated unless already a bad sync.
    invalid.push((
        "truncated_empty",
        Vec::new(),
        "truncated",
        "an empty datagram",
    ));
    invalid.push((
        "truncated_three_bytes",
        base[..3].to_vec(),
        "truncated",
        "the first 3 bytes of a packet (sync and half the length)",
    ));
    invalid.push((
        "bad_sync_one_byte",
        vec![0x00],
        "bad_sync",
        "one byte 0x00: step 2 rejects it before step 3 could call it truncated",
    ));
    let mut b = base.clone();
    b[11] = 61;
    fix_checksum(&mut b);
    invalid.push((
        "unknown_type_packet_type",
        b,
        "unknown_type",
        "SIMPLE packet type 61 (status)",
    ));
    let mut b = base.clone();
    b[14] = 0;
    fix_checksum(&mut b);
    invalid.push((
        "unknown_type_subtype",
        b,
        "unknown_type",
        "Link 16 subtype 0 (uncoded free text)",
    ));
    let mut b = base.clone();
    // J3.6 -> J3.1 (sublabel bits 7-9).
    let h = u16::from_le_bytes([b[28], b[29]]);
    let h = (h & !(7 << 7)) | (1 << 7);
    b[28..30].copy_from_slice(&h.to_le_bytes());
    fix_checksum(&mut b);
    invalid.push((
        "unknown_type_label",
        b,
        "unknown_type",
        "primary J-message J3.1",
    ));
    let mut b = base.clone();
    b[38] |= 3;
    fix_checksum(&mut b);
    invalid.push((
        "unknown_type_word_format",
        b,
        "unknown_type",
        "word 1 has word format 3",
    ));
    let mut b = base.clone();
    b[40] = 16; // quality (first body byte)
    fix_checksum(&mut b);
    invalid.push((
        "field_out_of_range_quality",
        b,
        "field_out_of_range",
        "track quality 16",
    ));
    let mut b = base.clone();
    b[30] |= 3; // origin 3
    fix_checksum(&mut b);
    invalid.push((
        "field_out_of_range_origin",
        b,
        "field_out_of_range",
        "origin code 3",
    ));
    let mut b = base.clone();
    b[51] = 0xff; // time high byte (body offset 9) -> >= 2^56
    fix_checksum(&mut b);
    invalid.push((
        "field_out_of_range_time",
        b,
        "field_out_of_range",
        "time >= 2^56 µs",
    ));
    // A position 1 km from the Earth's centre: valid ECEF integers, geodetic altitude about
    // -6 356 km, outside the schema's range (to_common refuses it).
    let mut f = trilink_us::decode_datagram(&base).unwrap();
    if let trilink_us::MessageBody::TrackUpdate(t) = &mut f.message.body {
        t.position = trilink_us::EcefCm {
            x: 100_000,
            y: 0,
            z: 0,
        };
    }
    let mut out = BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    invalid.push((
        "field_out_of_range_altitude",
        out.to_vec(),
        "field_out_of_range",
        "position 1 km from the Earth's centre (altitude outside -1 km .. 10 000 km)",
    ));
    let mut b = out.to_vec();
    b.push(0);
    invalid.push((
        "trailing_bytes_before_translation",
        b,
        "trailing_bytes",
        "field_out_of_range_altitude's packet, then one byte: step 17a comes before step 18",
    ));
    // ECEF velocity x = 20 000 m/s (20 000 000 mm/s): fits the i32 mm/s field
    // but its ENU east component is about -14 007 m/s, outside the schema's ±12 000 m/s.
    let mut f = trilink_us::decode_datagram(&base).unwrap();
    if let trilink_us::MessageBody::TrackUpdate(t) = &mut f.message.body {
        t.velocity.x = 20_000_000;
    }
    let mut out = BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    invalid.push((
        "field_out_of_range_velocity",
        out.to_vec(),
        "field_out_of_range",
        "ECEF velocity x 20 000 000 mm/s: ENU east about -14 007 m/s, outside ±12 000 m/s",
    ));
    // Body byte `off` of the primary J-message (continuation word 1 + off / 8).
    let body_at = |off: usize| 28 + 10 * (1 + off / 8) + 2 + off % 8;
    let mut b = base.clone();
    // track_update position_uncertainty.horizontal (body offset 34) = 10 000 km + 1 cm
    for (i, x) in 1_000_000_001u32.to_le_bytes().into_iter().enumerate() {
        b[body_at(34 + i)] = x;
    }
    fix_checksum(&mut b);
    invalid.push((
        "field_out_of_range_uncertainty",
        b,
        "field_out_of_range",
        "horizontal uncertainty 1 000 000 001 cm > 10 000 km",
    ));
    let mut b = by_name["impact_prediction"].0.clone();
    // impact_prediction semi_major (body offset 22, split over words 3 and 4) = 10 000 km + 1 cm
    for (i, x) in 1_000_000_001u32.to_le_bytes().into_iter().enumerate() {
        b[body_at(22 + i)] = x;
    }
    fix_checksum(&mut b);
    invalid.push((
        "field_out_of_range_semi_major",
        b,
        "field_out_of_range",
        "error ellipse semi-major axis 1 000 000 001 cm > 10 000 km",
    ));
    let mut b = base.clone();
    // continuation label of word 2: 2 -> 3
    let h = u16::from_le_bytes([b[48], b[49]]);
    let h = (h & !(31 << 2)) | (3 << 2);
    b[48..50].copy_from_slice(&h.to_le_bytes());
    fix_checksum(&mut b);
    invalid.push((
        "malformed_continuation_label",
        b,
        "malformed",
        "continuation labels 1,3,..",
    ));
    let mut b = status.clone();
    // status body padding byte (body offset 10 = word 2 data byte 2) non-zero
    b[28 + 20 + 2 + 2] = 1;
    fix_checksum(&mut b);
    invalid.push((
        "malformed_padding",
        b,
        "malformed",
        "non-zero padding after the status body",
    ));
    let mut b = base.clone();
    // first container word data: [len(system)=5]['c'...]; make 'c' invalid UTF-8
    let first_container = 28 + 10 * 7;
    b[first_container + 3] = 0xff;
    fix_checksum(&mut b);
    invalid.push((
        "bad_text_system",
        b,
        "bad_text",
        "source system with byte 0xff",
    ));
    let mut b = base.clone();
    // track id starts after system(1+5), sensor(1+16), nid(1+18): area offset 42 -> word 5 of the area
    let area_off = 1 + 5 + 1 + 16 + 1 + 18 + 1; // first track id byte
    let w = area_off / 8;
    let o = first_container + 10 * w + 2 + area_off % 8;
    assert_eq!(b[o], b'U');
    b[o] = b' ';
    fix_checksum(&mut b);
    invalid.push((
        "bad_text_track_id",
        b,
        "bad_text",
        "track id with a space (not a subject token)",
    ));
    // Empty track id: valid text (length 0) in the area, rejected by translation (§8, §9 step 18).
    let mut f = trilink_us::decode_datagram(&base).unwrap();
    if let trilink_us::MessageBody::TrackUpdate(t) = &mut f.message.body {
        t.track_id = String::new();
    }
    let mut out = BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    invalid.push((
        "bad_text_track_id_empty",
        out.to_vec(),
        "bad_text",
        "track id of length 0 (not a subject token)",
    ));
    // Track id length prefix 33 > 32 followed by 33 valid characters that fit in the area:
    // field_out_of_range while reading the area (§9 step 16), whatever order a decoder checks
    // the limit and the remaining bytes in.
    let mut f = trilink_us::decode_datagram(&base).unwrap();
    let long_id = "US-TRACK-0123456789-abcdefghijkl";
    assert_eq!(long_id.len(), 32);
    if let trilink_us::MessageBody::TrackUpdate(t) = &mut f.message.body {
        t.track_id = long_id.into();
    }
    let mut out = BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    let mut b = out.to_vec();
    // Area: system(1+5), sensor(1+16), national id(1+18), then the track id prefix at 42, its
    // 32 bytes at 43..75, the reference count at 75 (then 4 bytes of padding).
    let at = |off: usize| first_container + 10 * (off / 8) + 2 + off % 8;
    assert_eq!(b[at(42)], 32);
    assert_eq!(b[at(75)], 0);
    b[at(42)] = 33;
    b[at(75)] = b'X';
    fix_checksum(&mut b);
    invalid.push((
        "field_out_of_range_track_id_length",
        b,
        "field_out_of_range",
        "track id length prefix 33 > 32, followed by 33 valid characters",
    ));
    // The primary J3.6 (MLI 6) and nothing else: 7 words, no J28.2 container (§9 step 14).
    let mut b = base[..28 + 7 * 10 + 2].to_vec();
    let len = b.len();
    b[2..4].copy_from_slice(&(len as u16).to_le_bytes());
    b[10] = ((len - 8) / 2) as u8;
    b[24] = 35;
    fix_checksum(&mut b);
    invalid.push((
        "malformed_no_container",
        b,
        "malformed",
        "J3.6 with its 6 continuation words and no J28.2 container (7 words)",
    ));
    for (name, bytes, code, why) in &invalid {
        let r = trilink_us::decode_to_common(bytes, ingested);
        let got = r
            .as_ref()
            .map(|_| "ok")
            .map_err(trilink_schema::NationalError::code);
        assert_eq!(got, Err(*code), "{name}: {r:?}");
        let hex = format!(
            "# {name}: INVALID ({why}); expected error in {name}.error\n{}\n",
            bytes.chunks(16).map(hexs).collect::<Vec<_>>().join("\n")
        );
        write(&root, name, "hex", &hex);
        write(&root, name, "error", &format!("{code}\n"));
    }

    // Envelopes the format cannot carry: NAME.json + NAME.error (to_national must fail).
    let mut too_long = by_name["cancel"].1.clone();
    if let Payload::Cancel(c) = &mut too_long.payload {
        c.reason = "x".repeat(256);
    }
    too_long.references = (0..8)
        .map(|i| MessageId::derive(Nation::Us, "c2bmc", &format!("old-{i}")))
        .collect();
    let mut before_epoch = by_name["status"].1.clone();
    before_epoch.observed_at = t("1979-12-31T23:59:59Z");
    before_epoch.ingested_at = before_epoch.observed_at;
    let mut nid_too_long = by_name["status"].1.clone();
    nid_too_long.source.national_message_id = "n".repeat(129);
    let (alt_edge, vel_edge) = edge_envelopes(&by_name["track_update"].1);
    for (name, e) in [
        ("unrepresentable_capacity", too_long),
        ("unrepresentable_before_gps_epoch", before_epoch),
        ("unrepresentable_national_id", nid_too_long),
        ("unrepresentable_altitude_rounding", alt_edge),
        ("unrepresentable_velocity_rounding", vel_edge),
    ] {
        let r = codec.to_national(&e);
        assert_eq!(
            r.as_ref()
                .map(|_| "ok")
                .map_err(trilink_schema::NationalError::code),
            Err("unrepresentable"),
            "{name}"
        );
        write(
            &root,
            name,
            "json",
            &(serde_json::to_string_pretty(&e).unwrap() + "\n"),
        );
        write(&root, name, "error", "unrepresentable\n");
    }
    eprintln!("wrote vectors to {}", root.display());
}
