//! `trilink bench`: the live link on loopback against a raw-NATS and a raw-JetStream path in
//! the same run (or `--find-max`: each path's highest sustained rate), as a thin wrapper over
//! `trilink_local_link::bench::run`.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use trilink_local_link::bench::{
    BenchOptions, FindMaxBounds, PictureSwitch, RawJsIds, RawJsStores, Servers,
};
use trilink_local_link::standins::Out;

use crate::EXIT_PROBLEM;

/// `trilink bench` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Messages per second to offer (0 = as fast as possible); with `--find-max`, the first
    /// rate tried (0: 1 000).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds to offer traffic, per path (per run with `--find-max`).
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// Seconds to wait for stragglers after sending stops.
    #[arg(long, default_value_t = 10.0)]
    pub drain_s: f64,
    /// Skip the raw-NATS baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// `shared` (default): one set of nats-servers through the run; `fresh`: every
    /// nats-server is restarted (same data, fresh memory) before each path after the first,
    /// so no path meets the Go heap the paths before it grew — the servers' garbage
    /// collection sets the tail near saturation, and the trilink path, measured last, meets
    /// the largest heap. Each restart adds ~40 s (the hub's sources re-link with a backoff).
    #[arg(long, default_value = "shared")]
    pub servers: Servers,
    /// Skip the raw-JetStream path (the link's streams and consumers with a minimal forwarder
    /// in place of the adapters and the relay).
    #[arg(long)]
    pub no_raw_jetstream: bool,
    /// Measure the raw-JetStream path with these stores (comma-separated, one row each, one
    /// after another in this run; `--find-max` searches each): `3` — JP leaf IN_JP, hub IN_JP,
    /// hub OUT_KR, as the trilink path (row `raw-jetstream`, the default; the KR leaf keeps no
    /// copy of OUT_KR since issue 17); `2` (also `no-hub-in`) — without the hub's IN_JP (the
    /// hub forwarder consumes the JP leaf's). A dropped store's sourcing is off during its
    /// variant and restored exactly after it (broker-config/README.md, "Stores per message").
    #[arg(long, value_delimiter = ',', conflicts_with = "no_raw_jetstream")]
    pub raw_jetstream_stores: Vec<RawJsStores>,
    /// Measure the raw-JetStream path also with its stored messages this many bytes larger
    /// (comma-separated, one row per size and store variant; default 0): the forwarder's
    /// ingress appends the bytes to each message, its KR egress strips them before MQTT, so
    /// every store and hop of the link carries them and the national ends do not. The
    /// trilink path stores a JSON envelope of ~740 bytes where the raw path stores the
    /// 8-byte key and the JP frame (~180): `--raw-jetstream-pad 0,600` shows what the
    /// difference in size costs the servers (issue 17, "a smaller stored form").
    #[arg(long, value_delimiter = ',', conflicts_with = "no_raw_jetstream", value_parser = clap::value_parser!(u32).range(0..=65_536))]
    pub raw_jetstream_pad: Vec<u32>,
    /// How the raw-JetStream path names its messages (comma-separated, one row each; default
    /// `hex`): `hex` — the frame's 8-byte key in 16 hex digits, so consecutive messages share
    /// long prefixes in the output subjects and message ids; `uuid` — a version-5 UUID from
    /// the key, the shape of trilink's message ids (36 characters, no shared prefix): what the
    /// subject contract and the ids cost the servers' subject trees and duplicate windows
    /// (issue 17).
    #[arg(long, value_delimiter = ',', conflicts_with = "no_raw_jetstream")]
    pub raw_jetstream_ids: Vec<RawJsIds>,
    /// `--find-max` and its bounds.
    #[command(flatten)]
    pub find_max: FindMaxArgs,
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

/// `trilink bench --find-max` and its bounds.
#[derive(Debug, Clone, Args)]
pub struct FindMaxArgs {
    /// Per path, search the highest offered rate with every message delivered once and p99
    /// at most `--p99-bound-ms`: doubling from `--rate`, then bisecting, each run
    /// `--duration-s` long, at most `--max-runs` runs and `--budget-s` seconds per path.
    #[arg(long)]
    pub find_max: bool,
    /// `--find-max`: a run holds only with p99 at or under this, ms.
    #[arg(long, default_value_t = 10.0, requires = "find_max")]
    pub p99_bound_ms: f64,
    /// `--find-max`: most runs per path.
    #[arg(long, default_value_t = 10, requires = "find_max", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_runs: u32,
    /// `--find-max`: run each rate up to this many times; it holds when more than half of its
    /// runs held (the runs stop once that is certain). One run of a few seconds decides a rate
    /// by default, and near the maximum one pause of a server can decide it either way; 3 makes
    /// a search steadier (and up to 3 times longer: `--max-runs` and `--budget-s` count every
    /// run).
    #[arg(long, default_value_t = 1, requires = "find_max", value_parser = clap::value_parser!(u32).range(1..=9))]
    pub find_max_repeat: u32,
    /// `--find-max`: most seconds per path (a run that could end later is not started).
    #[arg(long, default_value_t = 300.0, requires = "find_max")]
    pub budget_s: f64,
}

/// Run `trilink bench` (blocking; builds its own runtime); the report goes to stdout.
pub fn run(args: &BenchArgs) -> ExitCode {
    let opts = BenchOptions {
        rate: args.rate,
        duration_s: args.duration_s,
        drain_s: args.drain_s,
        no_baseline: args.no_baseline,
        servers: args.servers,
        no_raw_jetstream: args.no_raw_jetstream,
        raw_jetstream_stores: args.raw_jetstream_stores.clone(),
        raw_jetstream_pad: args.raw_jetstream_pad.clone(),
        raw_jetstream_ids: args.raw_jetstream_ids.clone(),
        hops: args.hops,
        picture: args.picture,
        tracks: args.tracks,
        find_max: args.find_max.find_max.then_some(FindMaxBounds {
            p99_bound_ms: args.find_max.p99_bound_ms,
            max_steps: args.find_max.max_runs,
            repeat: args.find_max.find_max_repeat,
            budget_s: args.find_max.budget_s,
        }),
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
