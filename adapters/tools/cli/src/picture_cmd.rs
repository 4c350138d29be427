//! `trilink picture`: the hub's common picture of a capture, offline and pure (time is the
//! capture's, no network). Loading is `trilink_replay::load_envelopes` (pcap/pcapng through the
//! national codecs, JSON Lines of envelopes); the picture, its timelines and the metrics are
//! `trilink_relay::picture::offline` (the relay's own `process()` and correlator); this module
//! reads files, prints and picks the exit code.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use trilink_relay::Policy;
use trilink_relay::picture::offline::{
    self, OfflineInput, OfflineOptions, OfflinePicture, Scope, Viewer,
};
use trilink_schema::{Envelope, Nation};

use crate::EXIT_USAGE;

/// `trilink picture` options.
#[derive(Debug, Args)]
pub struct PictureArgs {
    /// Capture: pcapng/pcap of national traffic (decoded with its capture map and the national
    /// codecs), or JSON Lines (`{"ts","subject","envelope"}` records or bare envelopes).
    #[arg(long)]
    pub capture: PathBuf,
    /// Capture map of a pcap/pcapng (default: `<capture>.map.toml` or `capture-map.toml`
    /// beside it, else the national default ports).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Routing policy (TOML): each destination's picture, built (like the live relay's) from
    /// the contributions the relay delivers to it (releasability and the policy's rules),
    /// showing only the views the relay would publish. Without it: the hub's whole picture.
    #[arg(long, short)]
    pub policy: Option<PathBuf>,
    /// Show only this destination's picture (needs --policy).
    #[arg(long, short, requires = "policy")]
    pub dest: Option<Nation>,
    /// Print JSON instead of a readable report.
    #[arg(long)]
    pub json: bool,
    /// Ground truth (`truth.jsonl` from `trilink scenario`): also print track-quality metrics
    /// (completeness, ambiguity, spuriousness, positional RMS fused vs each nation, track-id
    /// changes, time to association) and whether the issue-15 targets are met.
    #[arg(long, short)]
    pub truth: Option<PathBuf>,
}

/// Run `trilink picture`: exit 0 when the picture was built (rejected inputs and missed
/// targets are reported, not failures), 2 when a file cannot be read or is not what it should
/// be.
pub fn run(args: &PictureArgs) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    ExitCode::from(run_to(args, &mut out, &mut err))
}

fn usage(err: &mut dyn Write, what: &str) -> u8 {
    let _ = writeln!(err, "trilink picture: {what}");
    EXIT_USAGE
}

/// Run with explicit output streams; returns the exit code.
pub fn run_to(args: &PictureArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let data = match std::fs::read(&args.capture) {
        Ok(d) => d,
        Err(e) => {
            return usage(
                err,
                &format!("cannot read capture {}: {e}", args.capture.display()),
            );
        }
    };
    let capture = match trilink_replay::load_envelopes(&args.capture, args.map.as_deref(), &data) {
        Ok(c) => c,
        Err(e) => return usage(err, &e),
    };
    let policy = match &args.policy {
        None => None,
        Some(p) => match Policy::load(p) {
            Ok(p) => Some(p),
            Err(e) => return usage(err, &e.to_string()),
        },
    };
    let truth = match &args.truth {
        None => None,
        Some(path) => match read_truth(path) {
            Ok(t) => Some(t),
            Err(e) => return usage(err, &e),
        },
    };
    if capture.undecodable > 0 {
        let _ = writeln!(
            err,
            "trilink picture: {} national frame(s) did not decode (left out): {}",
            capture.undecodable,
            capture.first_problems.join("; ")
        );
    }
    if capture.unmapped > 0 {
        let _ = writeln!(
            err,
            "trilink picture: {} packet(s) on flows the capture map does not name (left out)",
            capture.unmapped
        );
    }
    let inputs: Vec<OfflineInput> = capture
        .messages
        .into_iter()
        .map(|m| OfflineInput {
            at: m.at,
            subject: m.subject,
            body: m.body,
        })
        .collect();
    let scope = policy.as_ref().map_or(Scope::Hub, Scope::Policy);
    let picture = offline::build(&inputs, &OfflineOptions::new(scope));
    let viewers: Vec<Viewer> = match (args.dest, policy.is_some()) {
        (Some(d), _) => vec![Viewer::Dest(d)],
        (None, true) => Nation::ALL.into_iter().map(Viewer::Dest).collect(),
        (None, false) => vec![Viewer::Hub],
    };
    let quality = match &truth {
        None => Vec::new(),
        Some(t) => match quality(&picture, t, &viewers) {
            Ok(q) => q,
            Err(e) => return usage(err, &e),
        },
    };
    let source = format!(
        "{} ({}{}, {} messages)",
        args.capture.display(),
        capture.format,
        capture
            .map
            .as_ref()
            .map(|m| format!(", map {m}"))
            .unwrap_or_default(),
        inputs.len()
    );
    if args.json {
        let mut doc = picture.to_json(&viewers);
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(
                "capture".into(),
                serde_json::json!({
                    "file": args.capture.display().to_string(),
                    "format": capture.format,
                    "map": capture.map,
                    "messages": inputs.len(),
                    "undecodable": capture.undecodable,
                    "unmapped": capture.unmapped,
                }),
            );
            if truth.is_some() {
                let q: serde_json::Map<String, serde_json::Value> = quality
                    .iter()
                    .map(|(v, q)| (v.to_string(), offline::quality_json(q)))
                    .collect();
                obj.insert("quality".into(), q.into());
            }
        }
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = writeln!(out, "capture {source}");
        let _ = write!(out, "{}", picture.render_text(&viewers));
        if let Some(path) = &args.truth {
            let _ = writeln!(
                out,
                "\ntrack quality against {} (issue-15 targets: ambiguity 1, no unretracted \
                 spurious event, completeness >= 0.99, 0 id changes, fused no worse than the \
                 best nation at its own report instants):",
                path.display()
            );
            let _ = write!(out, "{}", offline::render_quality(&quality));
        }
    }
    0
}

fn read_truth(path: &std::path::Path) -> Result<Vec<Envelope>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read truth {}: {e}", path.display()))?;
    offline::truth_from_jsonl(&text).map_err(|e| format!("truth {}: {e}", path.display()))
}

fn quality(
    picture: &OfflinePicture,
    truth: &[Envelope],
    viewers: &[Viewer],
) -> Result<Vec<(Viewer, offline::Quality)>, String> {
    viewers
        .iter()
        .map(|v| {
            picture
                .quality(truth, *v)
                .map(|q| (*v, q))
                .map_err(|e| format!("metrics: {e}"))
        })
        .collect()
}
