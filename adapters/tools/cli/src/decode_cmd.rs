//! `trilink decode`: national bytes (hex, a raw file, or a pcap/pcapng capture) → the envelopes
//! an adapter would make of them, as JSON Lines on stdout, offline. Decoding is
//! `trilink_runtime::inspect` (bytes) and `trilink_capture` (captures); this module reads the
//! input and prints.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use trilink_capture::{CaptureDecoder, CaptureFormat, CaptureMap, CaptureReader};
use trilink_runtime::inspect::{self, Framing, Inspected};
use trilink_schema::Nation;

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink decode` options.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Input file: raw national bytes (`--nation`), or a pcap/pcapng capture (with its map).
    pub file: Option<PathBuf>,
    /// The bytes as hex instead of a file (spaces, colons and a 0x prefix allowed).
    #[arg(long, conflicts_with = "file")]
    pub hex: Option<String>,
    /// The national format of raw bytes: jp, kr or us.
    #[arg(long)]
    pub nation: Option<Nation>,
    /// Raw bytes are a stream of frames (TCP) rather than one message (UDP datagram, MQTT
    /// payload).
    #[arg(long)]
    pub stream: bool,
    /// Capture map of a pcap/pcapng (default: `<capture>.map.toml` or `capture-map.toml`
    /// beside it).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Translation time (`ingested_at`, and the date of JP times of day), RFC 3339; default now.
    /// Capture frames use their capture timestamps.
    #[arg(long)]
    pub at: Option<DateTime<Utc>>,
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let clean: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).map_err(|e| format!("--hex: {e}"))
}

fn line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
}

fn print_inspected(items: &[Inspected]) -> usize {
    let mut bad = 0;
    for it in items {
        let mut v = serde_json::Map::new();
        v.insert("offset".into(), it.offset.into());
        v.insert("length".into(), it.len.into());
        match &it.result {
            Ok(env) => {
                v.insert(
                    "envelope".into(),
                    serde_json::to_value(env).unwrap_or_default(),
                );
                if let Some(why) = &it.invalid {
                    v.insert("invalid".into(), why.clone().into());
                }
            }
            Err(r) => {
                bad += 1;
                v.insert(
                    "error".into(),
                    serde_json::json!({"stage": r.stage, "code": r.code, "detail": r.detail}),
                );
            }
        }
        line(&serde_json::Value::Object(v));
    }
    bad
}

fn capture_map(args: &DecodeArgs, file: &std::path::Path) -> Result<CaptureMap, String> {
    let candidates = match &args.map {
        Some(m) => vec![m.clone()],
        None => vec![
            file.with_extension("map.toml"),
            file.with_file_name("capture-map.toml"),
        ],
    };
    for c in &candidates {
        if let Ok(text) = std::fs::read_to_string(c) {
            return toml::from_str(&text).map_err(|e| format!("{}: {e}", c.display()));
        }
    }
    Err(format!(
        "{} is a capture: give its map with --map (looked for {})",
        file.display(),
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn decode_capture(args: &DecodeArgs, file: &std::path::Path, data: &[u8]) -> ExitCode {
    let map = match capture_map(args, file) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("trilink decode: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut dec = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_kr::KrCodec)
        .with_codec(trilink_us::UsCodec::default());
    let name = file.display().to_string();
    let mut results = Vec::new();
    let mut bad = 0usize;
    for m in CaptureReader::new(&name, data) {
        match m {
            Ok(m) => results.extend(dec.push(&m)),
            Err(e) => {
                bad += 1;
                line(
                    &serde_json::json!({"error": {"stage": "capture", "code": e.code(), "detail": e.to_string()}}),
                );
                break;
            }
        }
    }
    results.extend(dec.finish());
    for r in results {
        match r {
            Ok(d) => line(&serde_json::json!({
                "nation": d.nation, "file_offset": d.offset, "timestamp": d.timestamp,
                "src": d.src.to_string(), "dst": d.dst.to_string(), "topic": d.topic,
                "length": d.raw.len(), "envelope": d.envelope,
            })),
            Err(e) => {
                bad += 1;
                line(&serde_json::json!({
                    "nation": e.nation, "file_offset": e.offset, "timestamp": e.timestamp,
                    "src": e.src.to_string(), "dst": e.dst.to_string(),
                    "error": {"code": e.code, "detail": e.detail},
                }));
            }
        }
    }
    if dec.unmapped() > 0 {
        eprintln!(
            "trilink decode: {} packets on ports the map does not name",
            dec.unmapped()
        );
    }
    if bad > 0 {
        eprintln!("trilink decode: {bad} frame(s) did not decode");
        ExitCode::from(EXIT_PROBLEM)
    } else {
        ExitCode::SUCCESS
    }
}

/// Run `trilink decode`: exit 0 when every frame decoded, 1 when some did not, 2 on bad input.
pub fn run(args: &DecodeArgs) -> ExitCode {
    let (bytes, file) = match (&args.hex, &args.file) {
        (Some(h), _) => match parse_hex(h) {
            Ok(b) => (b, None),
            Err(e) => {
                eprintln!("trilink decode: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        (None, Some(f)) => match std::fs::read(f) {
            Ok(b) => (b, Some(f.clone())),
            Err(e) => {
                eprintln!("trilink decode: {}: cannot read: {e}", f.display());
                return ExitCode::from(EXIT_USAGE);
            }
        },
        (None, None) => {
            eprintln!("trilink decode: give a file or --hex");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(f) = &file
        && matches!(
            CaptureFormat::sniff(&bytes),
            Some(CaptureFormat::Pcap | CaptureFormat::Pcapng)
        )
    {
        return decode_capture(args, f, &bytes);
    }
    let Some(nation) = args.nation else {
        eprintln!("trilink decode: raw bytes need --nation jp|kr|us");
        return ExitCode::from(EXIT_USAGE);
    };
    let framing = if args.stream {
        Framing::Stream
    } else {
        Framing::Message
    };
    let at = args.at.unwrap_or_else(Utc::now);
    let items = match nation {
        Nation::Jp => inspect::decode(trilink_jp::JpCodec, &bytes, framing, at),
        Nation::Kr => inspect::decode(trilink_kr::KrCodec, &bytes, framing, at),
        Nation::Us => inspect::decode(trilink_us::UsCodec::default(), &bytes, framing, at),
    };
    let bad = print_inspected(&items);
    if bad > 0 {
        eprintln!("trilink decode: {bad} frame(s) did not decode");
        ExitCode::from(EXIT_PROBLEM)
    } else {
        ExitCode::SUCCESS
    }
}
