//! The `trilink` command: one binary for every trilink job (adapter, relay, replay, record,
//! policy testing, scenarios, the demo, benchmarks, schema tools).
//!
//! This crate is the edge: it parses arguments, sets up logging, and calls the library
//! `run` functions of the other crates. It must not contain protocol or routing logic.
//!
//! Exit codes that scripts can trust: `0` success, `1` the job ran and found a problem
//! (invalid input, differences from expectations), `2` usage error (bad arguments or configuration).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod bench;
mod bench_hops;
mod broker_cmd;
pub mod demo;
mod policy_cmd;
mod policy_live;
pub mod record_cmd;
pub mod replay_cmd;
pub mod replay_rewrite;
mod replay_tcp;
mod scenario_cmd;
mod schema_cmd;
mod serve_cmd;

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
    Adapter(serve_cmd::AdapterArgs),
    /// Run the hub relay: validate, check origin, apply routing policy, fan out.
    Relay(serve_cmd::RelayArgs),
    /// Replay a capture (pcapng of national traffic, or JSON Lines of envelopes) into a link.
    Replay(replay_cmd::ReplayArgs),
    /// Record subjects or national outputs to pcapng / JSON Lines.
    Record(record_cmd::RecordArgs),
    /// Test a routing policy against a capture, offline or through the live link.
    Policy(policy_cmd::PolicyArgs),
    /// Generate a launch scenario: national-format reports plus ground truth.
    Scenario(scenario_cmd::ScenarioArgs),
    /// Run the live three-nation demo: brokers, relay, adapters and national stand-ins.
    Demo(demo::DemoArgs),
    /// Benchmark the live link against a raw-NATS baseline in the same run.
    Bench(bench::BenchArgs),
    /// Run the development brokers (hub + JP and KR leaves) in the foreground, or stop them.
    Broker(broker_cmd::BrokerArgs),
    /// Print the common schema's JSON Schema, write it, or check files against it.
    Schema(schema_cmd::SchemaArgs),
}

/// Run the parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Schema(args) => schema_cmd::run(&args),
        Command::Adapter(args) => serve_cmd::adapter(&args),
        Command::Relay(args) => serve_cmd::relay(&args),
        Command::Replay(args) => replay_cmd::run(&args),
        Command::Record(args) => record_cmd::run(&args),
        Command::Policy(args) => policy_cmd::run(&args),
        Command::Scenario(args) => scenario_cmd::run(&args),
        Command::Demo(args) => run_demo(args),
        Command::Bench(args) => match tokio::runtime::Runtime::new()
            .map_err(anyhow::Error::from)
            .and_then(|rt| rt.block_on(bench::run(args)))
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trilink bench: {e:#}");
                ExitCode::from(EXIT_PROBLEM)
            }
        },
        Command::Broker(args) => broker_cmd::run(&args),
    }
}

fn run_demo(args: demo::DemoArgs) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trilink demo: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    rt.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("trilink demo: Ctrl-C, stopping every process ...");
                on_signal.cancel();
            }
        });
        let out: demo::standins::Out =
            std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
        match demo::run(args, shutdown, out).await {
            Ok(s) if s.complete => ExitCode::SUCCESS,
            Ok(_) => ExitCode::from(EXIT_PROBLEM),
            Err(e) => {
                eprintln!("trilink demo: {e:#}");
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}
