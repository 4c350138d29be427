//! `trilink scenario`: generate a launch scenario's national reports and ground truth.
//!
//! With `--out DIR` it writes `reports.jsonl` (the reports as envelopes on their input
//! subjects, with emission times), `truth.jsonl` (ground truth), `national.pcapng` (every
//! report encoded in its nation's format on its transport, timestamped at its emission time)
//! and `capture-map.toml` (the capture map that decodes `national.pcapng`).
//!
//! National capture layout (addresses are documentation-style, the ports are the defaults of
//! [`trilink_capture::national_map`]): JP system `10.0.1.10:50001` → adapter-jp `10.0.1.1:5500` (UDP, one
//! frame per datagram); KR system `10.0.2.10:50002` → KR broker `10.0.2.1:1883` (MQTT 3.1.1
//! PUBLISH QoS 1 on `kr/warning/out`, one sentence per PUBLISH); US system `10.0.3.10:50003`
//! → adapter-us `10.0.3.1:5601` (one TCP stream of SIMPLE packets).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use std::net::SocketAddr;

use trilink_capture::PcapngWriter;
use trilink_scenario::{Generated, ScenarioConfig};
use trilink_schema::{Envelope, Nation, NationalCodec, Subject};

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// A shipped scenario: single_launch, salvo, false_alarm, exercise_mixed.
    #[arg(long, short, default_value = "single_launch", conflicts_with = "file")]
    pub name: String,
    /// A scenario definition file (TOML) instead of a shipped one.
    #[arg(long, short)]
    pub file: Option<PathBuf>,
    /// Seed for sensor noise (default: the scenario's own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Scenario start (RFC 3339, UTC). Default: 2026-11-21T00:00:00Z, so files are reproducible.
    #[arg(long, default_value = "2026-11-21T00:00:00Z")]
    pub start: DateTime<Utc>,
    /// Write `reports.jsonl` (national reports as envelopes, with emission times) and
    /// `truth.jsonl` (ground truth) into this directory. Without it, print a summary only.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Keep only the first N reports (by emission time) — to make small sample captures.
    #[arg(long)]
    pub max_reports: Option<usize>,
    /// List the shipped scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

/// Run `trilink scenario`.
pub fn run(args: &ScenarioArgs) -> ExitCode {
    if args.list {
        for (name, text) in trilink_scenario::NAMED {
            let desc = ScenarioConfig::from_toml(text, name)
                .map(|c| c.description)
                .unwrap_or_default();
            println!("{name:16} {desc}");
        }
        return ExitCode::SUCCESS;
    }
    let cfg = match load(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trilink scenario: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let seed = args.seed.unwrap_or(cfg.seed);
    let generated = match trilink_scenario::generate(&cfg, seed, args.start) {
        Ok(mut g) => {
            if let Some(n) = args.max_reports {
                g.reports.truncate(n);
            }
            g
        }
        Err(e) => {
            eprintln!("trilink scenario {}: {e}", cfg.name);
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    print_summary(&generated);
    if let Some(dir) = &args.out {
        if let Err(e) = write(dir, &generated) {
            eprintln!("trilink scenario: writing {}: {e}", dir.display());
            return ExitCode::from(EXIT_PROBLEM);
        }
        println!(
            "wrote {0}/reports.jsonl, {0}/truth.jsonl, {0}/national.pcapng and {0}/capture-map.toml",
            dir.display()
        );
    }
    ExitCode::SUCCESS
}

fn load(args: &ScenarioArgs) -> Result<ScenarioConfig, String> {
    match &args.file {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            ScenarioConfig::from_toml(&text, &path.display().to_string()).map_err(|e| e.to_string())
        }
        None => trilink_scenario::named(&args.name).map_err(|e| e.to_string()),
    }
}

/// One JSON Lines record: emission/observation time, the input subject, the envelope.
fn line(ts: DateTime<Utc>, subject: &str, env: &Envelope) -> serde_json::Value {
    serde_json::json!({ "ts": ts.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), "subject": subject, "envelope": env })
}

fn write(dir: &Path, g: &Generated) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut reports = std::io::BufWriter::new(std::fs::File::create(dir.join("reports.jsonl"))?);
    for r in &g.reports {
        let subject = Subject::input_for(&r.envelope).to_string();
        writeln!(reports, "{}", line(r.emit_at, &subject, &r.envelope))?;
    }
    reports.flush()?;
    let mut truth = std::io::BufWriter::new(std::fs::File::create(dir.join("truth.jsonl"))?);
    for e in &g.truth {
        writeln!(truth, "{}", line(e.observed_at, "truth", e))?;
    }
    truth.flush()?;
    let pcapng = national_pcapng(g).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("national.pcapng"), pcapng)?;
    let map = toml::to_string(&trilink_capture::national_map()).map_err(std::io::Error::other)?;
    std::fs::write(
        dir.join("capture-map.toml"),
        format!(
            "# Capture map of national.pcapng (written by trilink scenario): which transport and\n# port carries which nation's traffic, and how it is framed.\n{map}"
        ),
    )
}

fn addr(s: &str) -> SocketAddr {
    s.parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

fn encode<C: NationalCodec>(codec: &C, env: &Envelope) -> Result<Vec<u8>, String> {
    let frame = codec.to_national(env).map_err(|e| e.to_string())?;
    let mut out = bytes::BytesMut::new();
    codec.encode(&frame, &mut out).map_err(|e| e.to_string())?;
    Ok(out.to_vec())
}

/// Every report in its nation's format on its transport, at its emission time.
pub fn national_pcapng(g: &Generated) -> Result<Vec<u8>, String> {
    let jp = trilink_jp::JpCodec;
    let kr = trilink_kr::KrCodec;
    let us = trilink_us::UsCodec::default();
    let (jp_sys, jp_ad) = (addr("10.0.1.10:50001"), addr("10.0.1.1:5500"));
    let (kr_sys, kr_broker) = (addr("10.0.2.10:50002"), addr("10.0.2.1:1883"));
    let (us_sys, us_ad) = (addr("10.0.3.10:50003"), addr("10.0.3.1:5601"));
    let mut w = PcapngWriter::new().map_err(|e| e.to_string())?;
    for r in &g.reports {
        let env = &r.envelope;
        let what = || {
            format!(
                "{} {} report {}",
                env.origin,
                env.payload.kind(),
                env.message_id
            )
        };
        let res = match env.origin {
            Nation::Jp => encode(&jp, env).and_then(|b| {
                w.udp(r.emit_at, jp_sys, jp_ad, &b)
                    .map_err(|e| e.to_string())
            }),
            Nation::Kr => encode(&kr, env).and_then(|b| {
                w.mqtt_publish(r.emit_at, kr_sys, kr_broker, trilink_kr::REPORT_TOPIC, &b)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }),
            Nation::Us => encode(&us, env).and_then(|b| {
                w.tcp(r.emit_at, us_sys, us_ad, &b)
                    .map_err(|e| e.to_string())
            }),
        };
        res.map_err(|e| format!("{}: {e}", what()))?;
    }
    Ok(w.into_bytes())
}

fn print_summary(g: &Generated) {
    let mut counts: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for r in &g.reports {
        let e = &r.envelope;
        *counts
            .entry((
                e.origin.to_string(),
                e.payload.kind().to_string(),
                e.mode.to_string(),
            ))
            .or_default() += 1;
    }
    let span = match (g.reports.first(), g.reports.last()) {
        (Some(a), Some(b)) => (b.emit_at - a.emit_at).num_milliseconds() as f64 / 1000.0,
        _ => 0.0,
    };
    println!(
        "scenario {} seed {} start {}: {} reports over {span:.1} s, {} truth records",
        g.name,
        g.seed,
        g.start,
        g.reports.len(),
        g.truth.len()
    );
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(["origin", "kind", "mode", "count"]);
    for ((o, k, m), n) in counts {
        table.add_row([o, k, m, n.to_string()]);
    }
    if let Some(c) = table.column_mut(3) {
        c.set_cell_alignment(comfy_table::CellAlignment::Right);
    }
    println!("{table}");
}
