//! `trilink demo`: the live three-nation demo on this machine, as a thin wrapper over
//! `trilink_local_link::demo::run` (stdout for its lines, Ctrl-C to stop).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use trilink_local_link::demo::DemoOptions;
use trilink_local_link::standins::Out;

use crate::EXIT_PROBLEM;

/// `trilink demo` options.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Shipped scenario to play: single_launch, salvo, false_alarm, exercise_mixed.
    #[arg(long, default_value = "single_launch")]
    pub scenario: String,
    /// Playback speed relative to the scenario's own pace (1 = real time).
    #[arg(long, default_value_t = 20.0)]
    pub speed: f64,
    /// Seed for sensor noise (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Routing policy file (default: broker-config/policies/default-trilateral.toml, built in).
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Keep the link running after the scenario until Ctrl-C.
    #[arg(long)]
    pub keep_running: bool,
    /// Do not print a RECV line per delivered message (the table and summary still print).
    #[arg(long)]
    pub quiet: bool,
    /// Seconds between table refreshes.
    #[arg(long, default_value_t = 2.0)]
    pub refresh_s: f64,
    /// Seconds to wait after the last report for deliveries to complete.
    #[arg(long, default_value_t = 20.0)]
    pub settle_s: f64,
    /// Serve the browser view on this address (e.g. 127.0.0.1:8480) and print its URL; add
    /// `--keep-running` to look at it after the scenario.
    #[arg(long)]
    pub view_listen: Option<std::net::SocketAddr>,
    /// The nation whose read-only viewer the view connects as: jp, kr or us.
    #[arg(long, default_value = "kr")]
    pub view_nation: trilink_schema::Nation,
    /// Serve Prometheus `/metrics`, `/healthz` and `/readyz` of the relay and the adapters on
    /// this address (port 0: a free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub metrics_listen: std::net::SocketAddr,
    /// Do not serve metrics.
    #[arg(long, conflicts_with = "metrics_listen")]
    pub no_metrics: bool,
}

impl DemoArgs {
    fn options(self) -> DemoOptions {
        DemoOptions {
            scenario: self.scenario,
            speed: self.speed,
            seed: self.seed,
            policy: self.policy,
            keep_running: self.keep_running,
            quiet: self.quiet,
            refresh_s: self.refresh_s,
            settle_s: self.settle_s,
            view_listen: self.view_listen,
            view_nation: self.view_nation,
            metrics_listen: (!self.no_metrics).then_some(self.metrics_listen),
        }
    }
}

/// Run `trilink demo` (blocking; builds its own runtime): exit 0 when every nation received
/// what the policy releases to it.
pub fn run(args: DemoArgs) -> ExitCode {
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
        let out: Out = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
        match trilink_local_link::demo::run(args.options(), shutdown, out).await {
            Ok(s) if s.complete => ExitCode::SUCCESS,
            Ok(_) => ExitCode::from(EXIT_PROBLEM),
            Err(e) => {
                eprintln!("trilink demo: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}
