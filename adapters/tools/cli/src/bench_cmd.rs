//! `trilink bench`: the live link on loopback against a raw-NATS baseline in the same run, as
//! a thin wrapper over `trilink_local_link::bench::run`.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use trilink_local_link::bench::{BenchOptions, PictureSwitch};
use trilink_local_link::standins::Out;

use crate::EXIT_PROBLEM;

/// `trilink bench` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Messages per second to offer (0 = as fast as possible).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds to offer traffic, per path.
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// Seconds to wait for stragglers after sending stops.
    #[arg(long, default_value_t = 10.0)]
    pub drain_s: f64,
    /// Skip the raw-NATS baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// Also break the trilink path's latency down per hop (store times read by extra
    /// consumers, which add load: use the plain run's figures as the benchmark).
    #[arg(long)]
    pub hops: bool,
    /// The hub's common picture: `both` measures the trilink path with the relay's correlator
    /// off, then on, in the same run (to show the relay's latency with and without it); `on`
    /// (as in production) or `off` measures one phase.
    #[arg(long, default_value = "both")]
    pub picture: PictureSwitch,
    /// Spread the messages over this many national tracks (round robin). The relay keeps each
    /// track's order by storing its inputs one after another, so with 1 (every message about
    /// one track) the trilink path is bound by one JetStream round trip per message.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub tracks: u32,
}

/// Run `trilink bench` (blocking; builds its own runtime); the report goes to stdout.
pub fn run(args: &BenchArgs) -> ExitCode {
    let opts = BenchOptions {
        rate: args.rate,
        duration_s: args.duration_s,
        drain_s: args.drain_s,
        no_baseline: args.no_baseline,
        hops: args.hops,
        picture: args.picture,
        tracks: args.tracks,
    };
    let out: Out = Arc::new(Mutex::new(std::io::stdout()));
    match tokio::runtime::Runtime::new()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
        .and_then(|rt| {
            rt.block_on(trilink_local_link::bench::run(opts, out))
                .map_err(|e| e.to_string())
        }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trilink bench: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
