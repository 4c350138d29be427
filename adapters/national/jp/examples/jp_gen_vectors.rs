//! Generates the JP test vectors in `schemas/vectors/jp/` (and prints the annotated worked
//! examples used in `schemas/national/jp.md`).
//!
//! ```text
//! cargo run -p trilink-jp --example jp_gen_vectors -- schemas/vectors/jp
//! ```
//!
//! The vectors are committed; the golden tests read the files, not this program. The
//! annotation walks the bytes with its own reading of the spec, independent of the decoder.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::unreadable_literal,
    clippy::too_many_arguments,
    clippy::needless_pass_by_value
)]

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use trilink_jp::{JpCodec, crc16, encode_common};
use trilink_schema::{
    Cancel, ComponentState, Correction, EndReason, Envelope, ErrorEllipse, EventEnd, FlightPhase,
    GeoPoint, ImpactPrediction, LaunchDetection, MessageId, MissileClass, Mode, Nation,
    NationalCodec, NationalError, Payload, PositionUncertainty, Source, Status, TrackId,
    TrackUpdate, VelocityEnu,
};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn env(
    nmid: &str,
    sensor: &str,
    observed: &str,
    ingested: &str,
    mode: Mode,
    rel: &[Nation],
    refs: Vec<MessageId>,
    payload: Payload,
) -> Envelope {
    let mut e = Envelope::new(
        Nation::Jp,
        Source {
            system: "jadgex".into(),
            sensor: sensor.into(),
            national_message_id: nmid.into(),
        },
        t(observed),
        t(ingested),
        mode,
        rel.iter().copied().collect::<BTreeSet<_>>(),
        payload,
    );
    e.references = refs;
    e
}

/// Reads the spec's layout and labels every field (independent of the crate's decoder).
struct Annotator<'a> {
    b: &'a [u8],
    pos: usize,
    out: String,
}

impl Annotator<'_> {
    fn field(&mut self, n: usize, name: &str, meaning: String) -> &[u8] {
        let bytes = &self.b[self.pos..self.pos + n];
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let hex = hex.join(" ");
        if hex.len() > 47 {
            // Long fields: 16 bytes per line, comment on the first.
            let mut first = true;
            for chunk in bytes.chunks(16) {
                let h: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
                if first {
                    writeln!(
                        self.out,
                        "{:<48}# {:04x} {name}: {meaning}",
                        h.join(" "),
                        self.pos
                    )
                    .unwrap();
                    first = false;
                } else {
                    writeln!(self.out, "{}", h.join(" ")).unwrap();
                }
            }
        } else {
            writeln!(self.out, "{hex:<48}# {:04x} {name}: {meaning}", self.pos).unwrap();
        }
        self.pos += n;
        bytes
    }
    fn uint(&mut self, n: usize, name: &str, f: impl Fn(u64) -> String) -> u64 {
        let v = self.b[self.pos..self.pos + n]
            .iter()
            .fold(0u64, |a, b| a << 8 | u64::from(*b));
        self.field(n, name, f(v));
        v
    }
    fn int32(&mut self, name: &str, f: impl Fn(i32) -> String) {
        let v = i32::from_be_bytes(self.b[self.pos..self.pos + 4].try_into().unwrap());
        self.field(4, name, f(v));
    }
    fn text(&mut self, lenbytes: usize, name: &str) {
        let len = self.uint(lenbytes, &format!("{name} length"), |v| format!("{v}")) as usize;
        if len > 0 {
            let s = String::from_utf8_lossy(&self.b[self.pos..self.pos + len]).into_owned();
            self.field(len, name, format!("{s:?}"));
        }
    }
    fn tod(&mut self, name: &str) {
        self.uint(8, name, |v| {
            let s = v / 1_000_000;
            format!(
                "{v} µs = {:02}:{:02}:{:02}.{:06} JST",
                s / 3600,
                s / 60 % 60,
                s % 60,
                v % 1_000_000
            )
        });
    }
    fn point(&mut self, p: &str) {
        self.int32(&format!("{p}lat"), |v| {
            format!("{v} × 1e-7 = {} deg", f64::from(v) / 1e7)
        });
        self.int32(&format!("{p}lon"), |v| {
            format!("{v} × 1e-7 = {} deg", f64::from(v) / 1e7)
        });
        self.int32(&format!("{p}alt"), |v| {
            format!("{v} cm = {} m", f64::from(v) / 100.0)
        });
    }
    fn cm(&mut self, name: &str) {
        self.uint(4, name, |v| format!("{v} cm = {} m", v as f64 / 100.0));
    }
    fn class(&mut self, name: &str) {
        self.uint(1, name, |v| {
            ["?", "srbm", "mrbm", "irbm", "icbm", "slbm", "unknown"]
                .get(v as usize)
                .unwrap_or(&"?")
                .to_string()
        });
    }

    fn run(mut self) -> String {
        self.field(2, "sync", "\"JP\"".into());
        self.uint(1, "version", |v| format!("{v}"));
        let ty = self.uint(1, "msg_type", |v| {
            [
                "?",
                "launch_detection",
                "track_update",
                "impact_prediction",
                "event_end",
                "cancel",
                "correction",
                "status",
            ]
            .get(v as usize)
            .unwrap_or(&"?")
            .to_string()
        });
        self.uint(2, "length", |v| format!("{v} bytes"));
        self.uint(4, "sequence", |v| format!("{v}"));
        self.uint(1, "origin", |v| {
            ["?", "jp", "kr", "us"]
                .get(v as usize)
                .unwrap_or(&"?")
                .to_string()
        });
        self.uint(1, "mode", |v| {
            ["?", "real_world", "exercise", "test"]
                .get(v as usize)
                .unwrap_or(&"?")
                .to_string()
        });
        self.uint(1, "releasability", |v| {
            let mut s = Vec::new();
            for (bit, n) in [(1, "jp"), (2, "kr"), (4, "us")] {
                if v & bit != 0 {
                    s.push(n);
                }
            }
            format!("0b{v:03b} = {{{}}}", s.join(", "))
        });
        let refs = self.uint(1, "ref_count", |v| format!("{v}"));
        self.tod("observed_tod");
        self.text(1, "system");
        self.text(1, "sensor");
        self.text(1, "national_message_id");
        for i in 0..refs {
            let raw: [u8; 16] = self.b[self.pos..self.pos + 16].try_into().unwrap();
            let id = uuid::Uuid::from_bytes(raw);
            self.field(16, &format!("reference[{i}]"), format!("{id}"));
        }
        match ty {
            1 => {
                self.text(1, "track_id");
                self.tod("launch_tod");
                self.point("launch_");
                self.cm("unc_h");
                self.cm("unc_v");
                self.class("missile_class");
                self.uint(2, "confidence", |v| {
                    format!("{v} × 1e-4 = {}", v as f64 / 1e4)
                });
            }
            2 => {
                self.text(1, "track_id");
                self.tod("track_tod");
                self.point("");
                self.cm("unc_h");
                self.cm("unc_v");
                for n in ["vel_e", "vel_n", "vel_u"] {
                    self.int32(n, |v| format!("{v} mm/s = {} m/s", f64::from(v) / 1000.0));
                }
                self.uint(1, "quality", |v| format!("{v}"));
                self.uint(1, "flight_phase", |v| {
                    ["?", "boost", "midcourse", "terminal", "unknown"]
                        .get(v as usize)
                        .unwrap_or(&"?")
                        .to_string()
                });
            }
            3 => {
                self.text(1, "track_id");
                self.tod("impact_tod");
                self.point("impact_");
                self.cm("semi_major");
                self.cm("semi_minor");
                self.uint(2, "orientation", |v| {
                    format!("{v} × 0.01 = {} deg", v as f64 / 100.0)
                });
            }
            4 => {
                self.text(1, "track_id");
                self.tod("end_tod");
                self.uint(1, "end_reason", |v| {
                    ["?", "impact", "lost", "other"]
                        .get(v as usize)
                        .unwrap_or(&"?")
                        .to_string()
                });
                let f = self.uint(1, "end_flags", |v| {
                    format!("0b{v:08b} (bit 0: final point present)")
                });
                if f & 1 != 0 {
                    self.point("final_");
                }
            }
            5 => {
                self.text(1, "track_id");
                self.text(2, "reason");
            }
            6 => {
                self.text(1, "track_id");
                self.text(2, "reason");
                let f = self.uint(1, "correction_flags", |v| {
                    format!("0b{v:08b} (bit 0 time, bit 1 point, bit 2 class)")
                });
                if f & 1 != 0 {
                    self.tod("corrected_tod");
                }
                if f & 2 != 0 {
                    self.point("corrected_");
                }
                if f & 4 != 0 {
                    self.class("corrected_class");
                }
            }
            7 => {
                self.text(1, "component");
                self.uint(1, "state", |v| {
                    ["?", "ok", "degraded", "down"]
                        .get(v as usize)
                        .unwrap_or(&"?")
                        .to_string()
                });
                self.uint(8, "uptime", |v| format!("{v} µs = {} s", v as f64 / 1e6));
                self.text(2, "detail");
            }
            _ => {}
        }
        let covered = crc16(&self.b[..self.pos]);
        let end = self.pos;
        self.uint(2, "crc", |v| {
            format!("0x{v:04x} (CRC-16/IBM-3740 of bytes 0x0000..0x{end:04x} = 0x{covered:04x})")
        });
        assert_eq!(
            self.pos,
            self.b.len(),
            "annotator did not consume the frame"
        );
        self.out
    }
}

fn annotate(b: &[u8]) -> String {
    Annotator {
        b,
        pos: 0,
        out: String::new(),
    }
    .run()
}

fn plain_hex(b: &[u8]) -> String {
    b.chunks(16)
        .map(|c| {
            c.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

struct Out {
    dir: PathBuf,
}

impl Out {
    fn valid(&self, name: &str, title: &str, e: &Envelope, seq: u32) -> Vec<u8> {
        let mut buf = BytesMut::new();
        encode_common(e, seq, &mut buf).unwrap();
        let codec = JpCodec;
        let decoded = trilink_jp::decode_datagram(&buf).unwrap();
        let back = codec.to_common(&decoded, e.ingested_at).unwrap();
        let hex = format!(
            "# {title}\n# Decode with ingested_at = {} (see {name}.json).\n{}",
            e.ingested_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            annotate(&buf)
        );
        std::fs::write(self.dir.join(format!("{name}.hex")), &hex).unwrap();
        let json = serde_json::to_string_pretty(&back).unwrap() + "\n";
        std::fs::write(self.dir.join(format!("{name}.json")), json).unwrap();
        println!("==== {name}.hex\n{hex}");
        buf.to_vec()
    }

    fn invalid(&self, name: &str, title: &str, bytes: &[u8], code: &str) {
        let got = trilink_jp::decode_datagram(bytes).unwrap_err();
        assert_eq!(got.code(), code, "{name}: {got}");
        std::fs::write(
            self.dir.join(format!("{name}.hex")),
            format!(
                "# {title}\n# Expected error: {code} ({got})\n{}",
                plain_hex(bytes)
            ),
        )
        .unwrap();
        std::fs::write(self.dir.join(format!("{name}.error")), format!("{code}\n")).unwrap();
    }

    fn unencodable(&self, name: &str, e: &Envelope, code: &str) {
        let got = JpCodec.to_national(e).unwrap_err();
        assert_eq!(got.code(), code, "{name}: {got}");
        std::fs::write(
            self.dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(e).unwrap() + "\n",
        )
        .unwrap();
        std::fs::write(self.dir.join(format!("{name}.error")), format!("{code}\n")).unwrap();
    }
}

/// Recompute the CRC after editing a frame, so only the intended error remains.
fn fix_crc(b: &mut [u8]) {
    let n = b.len();
    let c = crc16(&b[..n - 2]);
    b[n - 2..].copy_from_slice(&c.to_be_bytes());
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "schemas/vectors/jp".into());
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("hex" | "json" | "error")
        ) {
            std::fs::remove_file(p).unwrap();
        }
    }
    let out = Out {
        dir: Path::new(&dir).to_path_buf(),
    };
    let all = [Nation::Jp, Nation::Kr, Nation::Us];
    let tid = |s: &str| TrackId::new(s).unwrap();

    // 01:02:03 UTC = 10:02:03 JST, 21 Nov 2026.
    let launch = env(
        "20261121-000101",
        "fps-5-sado",
        "2026-11-21T01:02:03.456789Z",
        "2026-11-21T01:02:03.500000Z",
        Mode::RealWorld,
        &all,
        vec![],
        Payload::LaunchDetection(LaunchDetection {
            track_id: tid("JP-T0042"),
            launch_time: t("2026-11-21T01:01:30.250Z"),
            launch_point: GeoPoint {
                lat_deg: 39.0392193,
                lon_deg: 125.7625241,
                alt_m: 35.5,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 1500.0,
                vertical_m: 250.25,
            },
            missile_class: MissileClass::Irbm,
            confidence: 0.87,
        }),
    );
    let launch_bytes = out.valid(
        "launch_detection",
        "Worked example 1: launch_detection (type 1)",
        &launch,
        101,
    );

    let track = env(
        "20261121-000102",
        "fps-5-sado",
        "2026-11-21T01:02:33.000001Z",
        "2026-11-21T01:02:33.010000Z",
        Mode::RealWorld,
        &all,
        vec![launch.message_id],
        Payload::TrackUpdate(TrackUpdate {
            track_id: tid("JP-T0042"),
            time: t("2026-11-21T01:02:33.000001Z"),
            position: GeoPoint {
                lat_deg: 39.5012345,
                lon_deg: 128.9876543,
                alt_m: 412_345.67,
            },
            position_uncertainty: PositionUncertainty {
                horizontal_m: 850.0,
                vertical_m: 1200.5,
            },
            velocity: VelocityEnu {
                east_mps: 2345.678,
                north_mps: -123.456,
                up_mps: 1500.001,
            },
            quality: 12,
            flight_phase: FlightPhase::Midcourse,
        }),
    );
    let track_bytes = out.valid(
        "track_update",
        "Worked example 2: track_update (type 2)",
        &track,
        102,
    );

    let impact = env(
        "20261121-000103",
        "jadgex-c2",
        "2026-11-21T01:03:00.000Z",
        "2026-11-21T01:03:00.002Z",
        Mode::RealWorld,
        &all,
        vec![launch.message_id],
        Payload::ImpactPrediction(ImpactPrediction {
            track_id: tid("JP-T0042"),
            impact_time: t("2026-11-21T01:12:45.500Z"),
            impact_point: GeoPoint {
                lat_deg: 40.25,
                lon_deg: 138.75,
                alt_m: 0.0,
            },
            error_ellipse: ErrorEllipse {
                semi_major_m: 25_000.0,
                semi_minor_m: 8_000.0,
                orientation_deg: 72.5,
            },
        }),
    );
    out.valid(
        "impact_prediction",
        "Worked example 3: impact_prediction (type 3)",
        &impact,
        103,
    );

    let end = env(
        "20261121-000104",
        "fps-5-sado",
        "2026-11-21T01:12:46.000Z",
        "2026-11-21T01:12:46.120Z",
        Mode::RealWorld,
        &all,
        vec![launch.message_id],
        Payload::EventEnd(EventEnd {
            track_id: tid("JP-T0042"),
            time: t("2026-11-21T01:12:45.750Z"),
            reason: EndReason::Impact,
            final_point: Some(GeoPoint {
                lat_deg: 40.2512345,
                lon_deg: 138.7654321,
                alt_m: -12.34,
            }),
        }),
    );
    out.valid(
        "event_end",
        "Worked example 4: event_end (type 4) with final point",
        &end,
        104,
    );

    let cancel = env(
        "20261121-000105",
        "jadgex-c2",
        "2026-11-21T01:05:00Z",
        "2026-11-21T01:05:00.001Z",
        Mode::Exercise,
        &[Nation::Jp, Nation::Us],
        vec![launch.message_id, track.message_id],
        Payload::Cancel(Cancel {
            track_id: tid("JP-T0042"),
            reason: "false alarm: sensor artefact 誤警報".into(),
        }),
    );
    out.valid(
        "cancel",
        "Worked example 5: cancel (type 5), exercise, released to jp+us, UTF-8 reason",
        &cancel,
        105,
    );

    let correction = env(
        "20261121-000106",
        "jadgex-c2",
        "2026-11-21T01:04:00Z",
        "2026-11-21T01:04:00.003Z",
        Mode::RealWorld,
        &all,
        vec![launch.message_id],
        Payload::Correction(Correction {
            track_id: tid("JP-T0042"),
            reason: "launch point refined".into(),
            corrected_time: Some(t("2026-11-21T01:01:29.125Z")),
            corrected_point: Some(GeoPoint {
                lat_deg: 39.0401,
                lon_deg: 125.7612,
                alt_m: 40.0,
            }),
            corrected_missile_class: Some(MissileClass::Mrbm),
        }),
    );
    out.valid(
        "correction",
        "Worked example 6: correction (type 6), every optional field present",
        &correction,
        106,
    );

    let status = env(
        "20261121-000107",
        "adapter-jp",
        "2026-11-21T01:00:00Z",
        "2026-11-21T01:00:00.000500Z",
        Mode::Test,
        &[Nation::Jp],
        vec![],
        Payload::Status(Status {
            component: "jadgex-gw".into(),
            state: ComponentState::Degraded,
            uptime_s: 86_400.25,
            detail: "link 2 down".into(),
        }),
    );
    out.valid(
        "status",
        "Worked example 7: status (type 7), test mode, jp only",
        &status,
        107,
    );

    // Extra valid vectors.
    let end_lost = env(
        "20261121-000108",
        "fps-5-sado",
        "2026-11-21T01:20:00Z",
        "2026-11-21T01:20:00.001Z",
        Mode::RealWorld,
        &[Nation::Jp, Nation::Kr],
        vec![],
        Payload::EventEnd(EventEnd {
            track_id: tid("JP-T0043"),
            time: t("2026-11-21T01:19:59Z"),
            reason: EndReason::Lost,
            final_point: None,
        }),
    );
    out.valid(
        "event_end_no_point",
        "event_end without final point (flags 0)",
        &end_lost,
        108,
    );

    let corr_min = env(
        "20261121-000109",
        "jadgex-c2",
        "2026-11-21T01:21:00Z",
        "2026-11-21T01:21:00.001Z",
        Mode::RealWorld,
        &all,
        vec![track.message_id],
        Payload::Correction(Correction {
            track_id: tid("JP-T0042"),
            reason: "class".into(),
            corrected_time: None,
            corrected_point: None,
            corrected_missile_class: Some(MissileClass::Unknown),
        }),
    );
    out.valid(
        "correction_class_only",
        "correction with only the class present (flags 0b100)",
        &corr_min,
        109,
    );

    // Across JST midnight (15:00 UTC): observed 23:59:59.9 JST on 21 Nov, ingested 00:00:00.1
    // JST on 22 Nov; the time of day must resolve to the previous JST day.
    let midnight = env(
        "20261121-009999",
        "fps-3-kasuga",
        "2026-11-21T14:59:59.900000Z",
        "2026-11-21T15:00:00.100000Z",
        Mode::RealWorld,
        &all,
        vec![],
        Payload::TrackUpdate(TrackUpdate {
            track_id: tid("JP-T0100"),
            time: t("2026-11-21T14:59:59.900000Z"),
            position: GeoPoint {
                lat_deg: -33.8688197,
                lon_deg: -151.2092955,
                alt_m: -999.99,
            },
            position_uncertainty: PositionUncertainty {
                horizontal_m: 0.0,
                vertical_m: 10_000_000.0,
            },
            velocity: VelocityEnu {
                east_mps: -12_000.0,
                north_mps: 12_000.0,
                up_mps: -0.001,
            },
            quality: 0,
            flight_phase: FlightPhase::Terminal,
        }),
    );
    out.valid("track_update_jst_midnight", "track_update across JST midnight: tod 23:59:59.9 JST, ingested 00:00:00.1 JST next day; extreme values", &midnight, u32::MAX);

    // Received before midnight, launch time just after (impact prediction in the next day).
    let next_day = env(
        "20261122-000001",
        "jadgex-c2",
        "2026-11-21T14:59:50Z",
        "2026-11-21T14:59:50.5Z",
        Mode::Exercise,
        &all,
        vec![],
        Payload::ImpactPrediction(ImpactPrediction {
            track_id: tid("X_1"),
            impact_time: t("2026-11-21T15:05:00Z"),
            impact_point: GeoPoint {
                lat_deg: 90.0,
                lon_deg: 180.0,
                alt_m: 10_000_000.0,
            },
            error_ellipse: ErrorEllipse {
                semi_major_m: 10_000_000.0,
                semi_minor_m: 0.0,
                orientation_deg: 180.0,
            },
        }),
    );
    out.valid(
        "impact_prediction_next_jst_day",
        "impact time after JST midnight while observed before it; extreme values",
        &next_day,
        0,
    );

    let foreign = {
        let mut e = env(
            "KR-2026-7781",
            "green-pine-b",
            "2026-11-21T02:00:00.000001Z",
            "2026-11-21T02:00:00.2Z",
            Mode::RealWorld,
            &all,
            vec![],
            Payload::LaunchDetection(LaunchDetection {
                track_id: tid("KR-77"),
                launch_time: t("2026-11-21T01:59:40Z"),
                launch_point: GeoPoint {
                    lat_deg: 38.0,
                    lon_deg: -0.0000001,
                    alt_m: 0.01,
                },
                launch_point_uncertainty: PositionUncertainty {
                    horizontal_m: 0.01,
                    vertical_m: 0.0,
                },
                missile_class: MissileClass::Slbm,
                confidence: 1.0,
            }),
        );
        e.origin = Nation::Kr;
        e.source.system = "kamd".into();
        e.message_id = MessageId::derive(Nation::Kr, "kamd", "KR-2026-7781");
        e
    };
    out.valid(
        "launch_detection_from_kr",
        "egress of a KR-origin launch (origin 2) to the JP system",
        &foreign,
        7,
    );

    // ---- invalid vectors (decode_datagram must fail with the named code)
    let mut b = launch_bytes.clone();
    b[0] = 0x4B;
    out.invalid(
        "bad_sync",
        "launch_detection with the first sync byte changed to 0x4B",
        &b,
        "bad_sync",
    );

    let mut b = track_bytes.clone();
    b[4..6].copy_from_slice(&1025u16.to_be_bytes());
    out.invalid(
        "oversize",
        "header declares length 1025 > MAX_FRAME_LEN 1024",
        &b[..10],
        "oversize",
    );

    let mut b = launch_bytes.clone();
    b[4..6].copy_from_slice(&11u16.to_be_bytes());
    out.invalid(
        "bad_length_short",
        "header declares length 11 < 12",
        &b,
        "bad_length",
    );

    // Declared length one more than the body: an extra zero byte before the CRC.
    let mut b = launch_bytes.clone();
    let n = b.len();
    b.insert(n - 2, 0);
    b[4..6].copy_from_slice(&((n + 1) as u16).to_be_bytes());
    fix_crc(&mut b);
    out.invalid(
        "bad_length_leftover",
        "launch_detection with one extra byte after the body (CRC recomputed)",
        &b,
        "bad_length",
    );

    // Declared length one less: the body runs past it.
    let mut b = launch_bytes.clone();
    let n = b.len();
    b.remove(n - 3);
    b[4..6].copy_from_slice(&((n - 1) as u16).to_be_bytes());
    fix_crc(&mut b);
    out.invalid(
        "bad_length_overrun",
        "launch_detection missing its last body byte (CRC recomputed)",
        &b,
        "bad_length",
    );

    out.invalid(
        "truncated",
        "track_update cut 5 bytes short of its declared length",
        &track_bytes[..track_bytes.len() - 5],
        "truncated",
    );
    out.invalid(
        "truncated_header",
        "only the first 6 header bytes",
        &track_bytes[..6],
        "truncated",
    );

    let mut b = launch_bytes.clone();
    b.push(0);
    out.invalid(
        "trailing_bytes",
        "launch_detection followed by one extra byte in the datagram",
        &b,
        "trailing_bytes",
    );

    // One datagram = exactly one frame (jp.md section 1): anything after a frame that passes
    // steps 1-9 rejects the whole datagram; the frame's own error wins (section 10).
    let mut b = launch_bytes.clone();
    b.extend((0..100_u32).map(|i| (i.wrapping_mul(37).wrapping_add(11) % 251) as u8));
    out.invalid(
        "trailing_bytes_garbage",
        "launch_detection followed by 100 bytes of garbage in the same datagram",
        &b,
        "trailing_bytes",
    );
    out.invalid(
        "trailing_bytes_two_frames",
        "two valid frames (launch_detection, track_update) in one datagram",
        &[launch_bytes.as_slice(), &track_bytes].concat(),
        "trailing_bytes",
    );

    let mut b = launch_bytes.clone();
    let n = b.len();
    b[n - 1] ^= 0x01;
    out.invalid(
        "bad_checksum",
        "launch_detection with the CRC's last bit flipped",
        &b,
        "bad_checksum",
    );
    let mut t = b.clone();
    t.push(0);
    out.invalid(
        "bad_checksum_trailing",
        "bad CRC, then one extra byte: the frame's error wins over trailing_bytes",
        &t,
        "bad_checksum",
    );
    out.invalid(
        "bad_checksum_trailing_frame",
        "bad CRC, then a valid track_update frame: bad_checksum, and the second frame is not decoded",
        &[b.as_slice(), &track_bytes].concat(),
        "bad_checksum",
    );

    let mut b = launch_bytes.clone();
    b[20] ^= 0x80;
    out.invalid(
        "bad_checksum_body",
        "launch_detection with one body bit flipped (CRC not recomputed)",
        &b,
        "bad_checksum",
    );

    let mut b = launch_bytes.clone();
    b[2] = 2;
    fix_crc(&mut b);
    out.invalid(
        "unsupported_version",
        "launch_detection with version 2 (CRC recomputed)",
        &b,
        "unsupported_version",
    );

    let mut b = launch_bytes.clone();
    b[3] = 8;
    fix_crc(&mut b);
    out.invalid(
        "unknown_type",
        "message type 8 (CRC recomputed)",
        &b,
        "unknown_type",
    );

    let mut b = launch_bytes.clone();
    b[3] = 0;
    fix_crc(&mut b);
    out.invalid(
        "unknown_type_zero",
        "message type 0 (CRC recomputed)",
        &b,
        "unknown_type",
    );

    let mut b = launch_bytes.clone();
    b[11] = 0;
    fix_crc(&mut b);
    out.invalid(
        "field_out_of_range_mode",
        "mode 0 (CRC recomputed)",
        &b,
        "field_out_of_range",
    );

    let mut b = launch_bytes.clone();
    b[12] = 0b1000_0111;
    fix_crc(&mut b);
    out.invalid(
        "field_out_of_range_releasability",
        "releasability with reserved bit 7 set (CRC recomputed)",
        &b,
        "field_out_of_range",
    );

    // launch_lat: offset = 22 + 1+6 + 1+10 + 1+15 + 1+8 + 8 = 73.
    let mut b = launch_bytes.clone();
    let off = 22 + 1 + 6 + 1 + 10 + 1 + 15 + 1 + 8 + 8;
    assert_eq!(&b[off..off + 4], &390_392_193i32.to_be_bytes());
    b[off..off + 4].copy_from_slice(&900_000_001i32.to_be_bytes());
    fix_crc(&mut b);
    out.invalid(
        "field_out_of_range_lat",
        "launch_lat = 900000001 (CRC recomputed)",
        &b,
        "field_out_of_range",
    );

    let mut b = launch_bytes.clone();
    b[14..22].copy_from_slice(&86_400_000_000u64.to_be_bytes());
    fix_crc(&mut b);
    out.invalid(
        "field_out_of_range_tod",
        "observed_tod = 86400000000 (one day; CRC recomputed)",
        &b,
        "field_out_of_range",
    );

    // system "jadgex" starts at 23: make its first byte 0xFF (invalid UTF-8).
    let mut b = launch_bytes.clone();
    b[23] = 0xFF;
    fix_crc(&mut b);
    out.invalid(
        "bad_text_utf8",
        "system with an invalid UTF-8 byte (CRC recomputed)",
        &b,
        "bad_text",
    );

    // track id "JP-T0042" starts at 22+7+11+16+1 = 57: put a space in it.
    let mut b = launch_bytes.clone();
    assert_eq!(&b[57..65], b"JP-T0042");
    b[59] = b' ';
    fix_crc(&mut b);
    out.invalid(
        "bad_text_track_id",
        "track_id \"JP T0042\" (space not allowed; CRC recomputed)",
        &b,
        "bad_text",
    );

    // ---- envelopes the JP format cannot carry (to_national must fail)
    let mut e = launch.clone();
    e.source.sensor = "s".repeat(65);
    out.unencodable("unrepresentable_sensor", &e, "unrepresentable");
    let mut e = track.clone();
    if let Payload::TrackUpdate(p) = &mut e.payload {
        p.velocity.east_mps = 12_000.001;
    }
    out.unencodable("unrepresentable_velocity", &e, "unrepresentable");
    let mut e = cancel.clone();
    e.references = (0..17u32)
        .map(|i| MessageId::derive(Nation::Jp, "jadgex", &i.to_string()))
        .collect();
    out.unencodable("unrepresentable_references", &e, "unrepresentable");
}
