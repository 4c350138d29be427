//! The `trilink` command: one binary for every trilink job (adapter, relay, replay, record,
//! policy testing, scenarios, the demo, benchmarks, schema tools).
//!
//! This crate is the edge: one module per command (`<name>_cmd`), each parsing its arguments
//! and calling a library — `trilink-runtime` (adapter), `trilink-relay` (relay, policy),
//! `trilink-replay` (replay, record, capture loading for picture), `trilink-local-link` (demo, bench, `policy test --live`),
//! `trilink-view` (view), `trilink-scenario`, `trilink-brokers`, `trilink-schema` — then
//! printing and choosing the exit code. It must not contain protocol, routing or transport
//! logic, and no command module imports another.
//!
//! Exit codes that scripts can trust: `0` success, `1` the job ran and found a problem in what
//! it examined (a checked file is invalid, differences from expectations, failed sends), `2`
//! usage or configuration error (bad arguments, a file that cannot be read, a process started
//! with an invalid configuration); `130` a replay stopped by Ctrl-C.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod adapter_cmd;
mod bench_cmd;
mod broker_cmd;
mod decode_cmd;
mod demo_cmd;
mod dlq_cmd;
mod picture_cmd;
mod policy_cmd;
mod record_cmd;
mod relay_cmd;
mod replay_cmd;
mod scenario_cmd;
mod schema_cmd;
mod shell_cmd;
mod view_cmd;

/// Exit code: the job ran and found a problem.
pub const EXIT_PROBLEM: u8 = 1;
/// Exit code: usage error (bad arguments or configuration).
pub const EXIT_USAGE: u8 = 2;

/// trilink — trilateral missile-warning data link (JP · US · KR through a NATS hub).
#[derive(Debug, Parser)]
#[command(name = "trilink", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "TRILINK_LOG_JSON")]
    pub log_json: bool,

    /// The job to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The jobs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a national adapter (jp, kr or us) beside a national warning system.
    Adapter(adapter_cmd::AdapterArgs),
    /// Run the hub relay: validate, check origin, apply routing policy, fan out.
    Relay(relay_cmd::RelayArgs),
    /// Replay a capture (pcapng of national traffic, or JSON Lines of envelopes) into a link.
    Replay(Box<replay_cmd::ReplayArgs>),
    /// Record subjects or national outputs to pcapng / JSON Lines.
    Record(record_cmd::RecordArgs),
    /// Test a routing policy against a capture, offline or through the live link.
    Policy(policy_cmd::PolicyArgs),
    /// The hub's common picture of a capture, offline: event timeline per destination under a
    /// policy (or the hub's whole picture), track-quality metrics against scenario truth.
    Picture(picture_cmd::PictureArgs),
    /// Generate a launch scenario: national-format reports plus ground truth.
    Scenario(scenario_cmd::ScenarioArgs),
    /// Run the live three-nation demo: brokers, relay, adapters and national stand-ins.
    Demo(demo_cmd::DemoArgs),
    /// Benchmark the live link against a raw-NATS baseline in the same run.
    Bench(bench_cmd::BenchArgs),
    /// Run the development brokers (hub + JP and KR leaves) in the foreground, or stop them;
    /// create a site's streams; watch the hub for a second leaf with one nation's identity.
    Broker(broker_cmd::BrokerArgs),
    /// Print the common schema's JSON Schema, write it, or check files against it.
    Schema(schema_cmd::SchemaArgs),
    /// List or follow a site's dead letters: reason, detail, original bytes decoded.
    Dlq(dlq_cmd::DlqArgs),
    /// Decode national frames (hex, file or capture) into envelopes, offline.
    Decode(decode_cmd::DecodeArgs),
    /// Serve the live common-picture view of one nation in the browser (read-only viewer).
    View(view_cmd::ViewArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(shell_cmd::CompletionsArgs),
    /// Print the manual page (roff), or write one page per command into a directory.
    Man(shell_cmd::ManArgs),
}

/// Run the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Schema(args) => schema_cmd::run(&args),
        Command::Adapter(args) => adapter_cmd::run(&args, cli.log_json),
        Command::Relay(args) => relay_cmd::run(&args, cli.log_json),
        Command::Replay(args) => replay_cmd::run(&args),
        Command::Record(args) => record_cmd::run(&args),
        Command::Policy(args) => policy_cmd::run(&args),
        Command::Picture(args) => picture_cmd::run(&args),
        Command::Scenario(args) => scenario_cmd::run(&args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Bench(args) => bench_cmd::run(&args),
        Command::Broker(args) => broker_cmd::run(&args, cli.log_json),
        Command::View(args) => view_cmd::run(&args),
        Command::Decode(args) => decode_cmd::run(&args),
        Command::Dlq(args) => dlq_cmd::run(&args),
        Command::Completions(args) => shell_cmd::completions(&args, Cli::command()),
        Command::Man(args) => shell_cmd::man(&args, Cli::command()),
    }
}

/// A multi-threaded tokio runtime, or the exit code after saying why there is none.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Runtime::new().map_err(|e| {
        eprintln!("trilink: cannot start the async runtime: {e}");
        ExitCode::from(EXIT_PROBLEM)
    })
}

/// The NATS login of every command that connects as a user (`record`, `replay`, `dlq`): one
/// definition, so the flags, their environment variables and their help agree everywhere.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsLogin {
    /// NATS user.
    #[arg(long, env = "TRILINK_NATS_USER")]
    pub user: Option<String>,
    /// NATS password (prefer --password-file or the environment: a command line is visible
    /// to every user of the machine in `ps`).
    #[arg(long, env = "TRILINK_NATS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Read the NATS password from this file (first line).
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<std::path::PathBuf>,
    /// CA certificate to verify the NATS server with (TLS is then required; the hub's client
    /// port is TLS-only).
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
}

impl NatsLogin {
    /// The password: `--password-file`'s first line, else `--password` / the environment.
    pub fn password(&self) -> Result<Option<String>, String> {
        password(self.password.as_ref(), self.password_file.as_ref())
    }
}

/// The password from `--password` / the environment or the first line of `--password-file`.
fn password(
    inline: Option<&String>,
    file: Option<&std::path::PathBuf>,
) -> Result<Option<String>, String> {
    match file {
        Some(f) => std::fs::read_to_string(f)
            .map(|t| Some(t.lines().next().unwrap_or_default().to_owned()))
            .map_err(|e| format!("--password-file {}: {e}", f.display())),
        None => Ok(inline.cloned()),
    }
}
