//! `trilink policy test`: run a capture through the routing policy offline, print the delivery
//! matrix and, next to it, each destination's common picture (the hub's `common_event` views
//! under the policy), compare the matrix with an expectations file. The routing logic lives in
//! `trilink-relay` (the same `process` and correlator the live relay runs); this module only
//! reads files and prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use trilink_relay::picture::offline::{self, OfflineInput, OfflineOptions, Scope};
use trilink_relay::{ExpectScope, Expectations, Matrix, Policy, RelayIdentity};

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink policy <action>`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: PolicyAction,
}

/// Policy actions.
#[derive(Debug, Subcommand)]
pub enum PolicyAction {
    /// Run a JSON Lines capture of envelopes through a policy offline and print who would
    /// receive what. Exit 0 when it matches `--expect` (or without `--expect`), 1 when it
    /// differs, 2 on usage errors (unreadable or invalid policy, capture or expectations).
    Test(TestArgs),
    /// Validate a policy file; exit 0 when valid, 1 when not (the error names the bad key).
    Check {
        /// Routing policy (TOML).
        policy: PathBuf,
    },
}

/// `trilink policy test` arguments.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Routing policy (TOML).
    #[arg(long, short)]
    pub policy: PathBuf,
    /// Capture: JSON Lines, one envelope per line.
    // `-c` was this flag's short form; kept as a hidden alias (`-c` is `--config` in every
    // other command).
    #[arg(long, short_alias = 'c')]
    pub capture: PathBuf,
    /// Expectations file (TOML): exit 1 with a diff when a cell it names differs. A cell is
    /// `"jp -> kr  track_update  real_world" = { delivered = 1 }`; cells it does not name are
    /// not asserted (see `--strict`).
    #[arg(long, short)]
    pub expect: Option<PathBuf>,
    /// With `--expect`: assert the whole matrix — cells the file does not name must be empty
    /// and reject codes it does not name must be 0.
    #[arg(long, requires = "expect")]
    pub strict: bool,
    /// Print the matrix as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Validate timestamps as of this instant (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<DateTime<Utc>>,
    /// Write the matrix as an expectations file (to review and commit): one line per cell
    /// that received or withheld something, then the reject codes.
    #[arg(long)]
    pub write_expect: Option<PathBuf>,
    /// Also run the capture through real brokers and the real relay (started on free loopback
    /// ports), record what each nation received, and exit 1 if it differs from the offline
    /// prediction.
    #[arg(long)]
    pub live: bool,
    /// With `--live`: seconds to wait for the relay to deliver everything.
    #[arg(long, default_value_t = 60.0)]
    pub settle_s: f64,
    /// With `--live`: serve the browser view of the live link on this address and print its
    /// URL; the link stays up `--view-hold-s` after the run (Ctrl-C ends it).
    #[arg(long, requires = "live")]
    pub view_listen: Option<std::net::SocketAddr>,
    /// With `--view-listen`: the nation whose read-only viewer the view connects as.
    #[arg(long, default_value = "kr")]
    pub view_nation: trilink_schema::Nation,
    /// With `--view-listen`: seconds to keep the link and the view up after the run.
    #[arg(long, default_value_t = 300.0)]
    pub view_hold_s: f64,
}

/// Run `trilink policy …`.
pub fn run(args: &PolicyArgs) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    ExitCode::from(run_to(args, &mut out, &mut err))
}

/// Run with explicit output streams; returns the exit code.
pub fn run_to(args: &PolicyArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match &args.action {
        PolicyAction::Check { policy } => match Policy::load(policy) {
            Ok(p) => {
                let _ = writeln!(
                    out,
                    "{}: valid (policy {:?}, {} destinations, {} rules)",
                    policy.display(),
                    p.name,
                    p.destinations.len(),
                    p.rules.len()
                );
                0
            }
            // A file that cannot be read is a usage error; one read and found invalid is the
            // problem this command looks for.
            Err(e @ trilink_relay::PolicyError::Io { .. }) => {
                let _ = writeln!(err, "{e}");
                EXIT_USAGE
            }
            Err(e) => {
                let _ = writeln!(err, "{e}");
                EXIT_PROBLEM
            }
        },
        PolicyAction::Test(t) => test(t, out, err),
    }
}

fn test(args: &TestArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let policy = match Policy::load(&args.policy) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(err, "trilink policy test: {e}");
            return EXIT_USAGE;
        }
    };
    let capture = match std::fs::read_to_string(&args.capture) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(
                err,
                "trilink policy test: cannot read capture {}: {e}",
                args.capture.display()
            );
            return EXIT_USAGE;
        }
    };
    let expectations = match &args.expect {
        None => None,
        Some(path) => match Expectations::load(path) {
            Ok(e) => Some(e),
            Err(e) => {
                let _ = writeln!(err, "trilink policy test: {e}");
                return EXIT_USAGE;
            }
        },
    };
    let now = args.now.unwrap_or_else(Utc::now);
    let matrix = Matrix::from_capture(&capture, &policy, now, &RelayIdentity::default());
    // The picture per destination, taken in as the matrix takes the capture: validated as of
    // the same instant, each envelope on its own input subject.
    let inputs: Vec<OfflineInput> = OfflineInput::from_jsonl(&capture)
        .into_iter()
        .map(|i| OfflineInput { subject: None, ..i })
        .collect();
    let picture = offline::build(
        &inputs,
        &OfflineOptions {
            validate_at: Some(now),
            ..OfflineOptions::new(Scope::Policy(&policy))
        },
    );
    let scope = if args.strict {
        ExpectScope::Whole
    } else {
        ExpectScope::Named
    };

    if args.json {
        let mut doc = matrix.to_json(&policy.name);
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("picture".into(), offline::compact_json(&picture));
        }
        if let (Some(exp), Some(obj)) = (&expectations, doc.as_object_mut()) {
            let diff = matrix.diff(exp, scope);
            obj.insert("matches_expectations".into(), diff.is_none().into());
            obj.insert(
                "diff".into(),
                diff.map_or(serde_json::Value::Null, Into::into),
            );
        }
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    } else {
        let _ = write!(out, "{}", render_table(&matrix, &policy.name));
        let _ = write!(out, "\n{}", offline::render_compact(&picture));
    }

    if let Some(path) = &args.write_expect {
        let text = format!(
            "# Expectations for `trilink policy test --expect` (written by --write-expect):\n\
             # policy {:?}, capture {}: {} messages, {} rejected.\n\
             # A named cell is asserted whole; cells not named are asserted only with --strict.\n\n{}",
            policy.name,
            args.capture.file_name().map_or_else(
                || args.capture.display().to_string(),
                |f| f.to_string_lossy().into_owned()
            ),
            matrix.messages,
            matrix.rejects.len(),
            matrix.to_expectations().to_toml_string()
        );
        if let Err(e) = std::fs::write(path, text) {
            let _ = writeln!(
                err,
                "trilink policy test: cannot write {}: {e}",
                path.display()
            );
            return EXIT_USAGE;
        }
        let _ = writeln!(err, "wrote {}", path.display());
    }

    let live_code = if args.live {
        live(args, &capture, &matrix, out, err)
    } else {
        0
    };
    if live_code != 0 {
        return live_code;
    }
    let Some(expectations) = expectations else {
        return 0;
    };
    match matrix.diff(&expectations, scope) {
        None => {
            let asserted = match scope {
                ExpectScope::Whole => format!(
                    "the whole matrix: {} non-empty cells (--strict)",
                    matrix.non_empty_cells()
                ),
                ExpectScope::Named => format!(
                    "{} named cell(s) and {} reject code(s) of {} non-empty cells; --strict asserts all",
                    expectations.cells.len(),
                    expectations.rejected.len(),
                    matrix.non_empty_cells()
                ),
            };
            let _ = writeln!(err, "delivery matrix matches the expectations ({asserted})");
            0
        }
        Some(diff) => {
            let _ = write!(err, "{diff}");
            EXIT_PROBLEM
        }
    }
}

/// The matrix for terminals: a heading line, one table row per non-empty cell, then one line
/// per rejected capture line.
fn render_table(matrix: &Matrix, policy_name: &str) -> String {
    use std::fmt::Write as _;

    use comfy_table::{CellAlignment, Table, presets};
    let mut s = format!(
        "policy {policy_name:?}: {} messages, {} rejected\n",
        matrix.messages,
        matrix.rejects.len()
    );
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED).set_header([
        "origin",
        "dest",
        "kind",
        "mode",
        "delivered",
        "withheld",
    ]);
    for row in matrix.rows() {
        let withheld = if row.withheld.is_empty() {
            "-".to_owned()
        } else {
            row.withheld
                .iter()
                .map(|(r, n)| format!("{r} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        table.add_row([
            row.origin.as_str().to_owned(),
            row.destination.as_str().to_owned(),
            row.kind.as_str().to_owned(),
            row.mode.as_str().to_owned(),
            row.delivered.to_string(),
            withheld,
        ]);
    }
    if let Some(c) = table.column_mut(4) {
        c.set_cell_alignment(CellAlignment::Right);
    }
    s.push_str(&table.to_string());
    s.push('\n');
    for r in &matrix.rejects {
        let _ = writeln!(s, "rejected line {}: {} ({})", r.line, r.code, r.detail);
    }
    s
}

fn live(
    args: &TestArgs,
    capture: &str,
    matrix: &Matrix,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> u8 {
    let offline = trilink_local_link::policy_live::predicted(matrix);
    let expected_total: u64 =
        offline.delivered.values().sum::<u64>() + offline.rejected.values().sum::<u64>();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "trilink policy test --live: {e}");
            return EXIT_PROBLEM;
        }
    };
    let settle = std::time::Duration::from_secs_f64(args.settle_s.max(1.0));
    let announce = |url: &str| {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{url}");
    };
    let view = args.view_listen.map(|listen| {
        (
            trilink_local_link::policy_live::LiveView {
                listen,
                nation: args.view_nation,
                hold: std::time::Duration::from_secs_f64(args.view_hold_s.clamp(0.0, 86_400.0)),
            },
            &announce as &trilink_local_link::policy_live::Announce,
        )
    });
    let live = match rt.block_on(trilink_local_link::policy_live::run_live(
        &args.policy,
        capture,
        expected_total,
        settle,
        view,
    )) {
        Ok(l) => l,
        Err(e) => {
            let _ = writeln!(err, "trilink policy test --live: {e}");
            return EXIT_PROBLEM;
        }
    };
    let diffs = trilink_local_link::policy_live::differences(&offline, &live);
    let delivered: u64 = live.delivered.values().sum();
    let rejected: u64 = live.rejected.values().sum();
    if diffs.is_empty() {
        let _ = writeln!(
            out,
            "live: {delivered} deliveries and {rejected} dead letters, identical to the offline prediction"
        );
        0
    } else {
        let _ = writeln!(err, "live result differs from the offline prediction:");
        for d in diffs {
            let _ = writeln!(err, "  {d}");
        }
        EXIT_PROBLEM
    }
}

#[cfg(test)]
mod tests;
