//! `trilink scenario`: generate a launch scenario's national reports and ground truth.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Args;
use trilink_scenario::{Generated, ScenarioConfig};
use trilink_schema::{Envelope, Subject};

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
    /// List the shipped scenarios and exit.
    #[arg(long)]
    pub list: bool,
}

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
        Ok(g) => g,
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
        println!("wrote {0}/reports.jsonl and {0}/truth.jsonl", dir.display());
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
    truth.flush()
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
    println!("{:6} {:18} {:10} {:>6}", "origin", "kind", "mode", "count");
    for ((o, k, m), n) in counts {
        println!("{o:6} {k:18} {m:10} {n:>6}");
    }
}
