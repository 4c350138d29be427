//! `trilink relay`: the hub relay, as a thin wrapper over `trilink_relay::live::run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink relay --config <file> --policy <file>`.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// Relay configuration (TOML).
    #[arg(long, short)]
    pub config: PathBuf,
    /// Routing policy (TOML); re-read on SIGHUP, an invalid new policy keeps the old one.
    #[arg(long, short)]
    pub policy: PathBuf,
    /// Check both files and exit without connecting anywhere: syntax, URLs, ports, TLS and
    /// creds files, the policy. Exit 0 valid, 1 problems found (all listed), 2 file unreadable.
    #[arg(long)]
    pub check: bool,
    /// Print the effective configuration (file, `TRILINK__*` overrides, defaults) with secrets
    /// masked and where each value came from, then exit (with `--check`: check it too).
    #[arg(long)]
    pub print_config: bool,
    /// Serve Prometheus `/metrics`, `/healthz` and `/readyz` on this address (e.g. 127.0.0.1:9470).
    #[arg(long, env = "TRILINK_RELAY_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Log filter (tracing env-filter syntax; `RUST_LOG` wins when set).
    #[arg(long, default_value = "info")]
    pub log_filter: String,
}

/// Run the relay until SIGINT/SIGTERM; SIGHUP reloads the policy. `log_json`: the global
/// `--log-json` / `TRILINK_LOG_JSON`.
pub fn run(args: &RelayArgs, log_json: bool) -> ExitCode {
    let checking = args.check || args.print_config;
    // Unreadable files are usage errors; a file read and found invalid is a problem found
    // when checking was the job, a configuration error when running.
    let invalid = if checking { EXIT_PROBLEM } else { EXIT_USAGE };
    let readable = |p: &std::path::Path| std::fs::metadata(p).is_ok_and(|m| m.is_file());
    for p in [&args.config, &args.policy] {
        if !readable(p) {
            eprintln!("trilink relay: {}: cannot read (no such file)", p.display());
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let loaded = if args.print_config {
        trilink_relay::RelayConfig::explain(&args.config).map(|(c, settings)| {
            println!(
                "# effective configuration of {} (secrets masked; # where each value came from)",
                args.config.display()
            );
            print!("{}", trilink_runtime::config::settings_text(&settings));
            c
        })
    } else {
        trilink_relay::RelayConfig::load(&args.config)
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trilink relay: {e}");
            return ExitCode::from(invalid);
        }
    };
    let mut problems: Vec<String> = config
        .check_offline(std::time::SystemTime::now())
        .iter()
        .map(|p| format!("{}: {p}", args.config.display()))
        .collect();
    if let Err(e) = trilink_relay::Policy::load(&args.policy) {
        problems.push(e.to_string());
    }
    for p in &problems {
        eprintln!("trilink relay: {p}");
    }
    if !problems.is_empty() {
        return ExitCode::from(invalid);
    }
    if checking {
        if args.check {
            println!(
                "{} and {}: valid relay configuration and policy (checked offline: syntax, URLs, ports, files, certificates; the network was not tried)",
                args.config.display(),
                args.policy.display()
            );
        }
        return ExitCode::SUCCESS;
    }
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        use trilink_runtime::telemetry;
        let format = if log_json { telemetry::LogFormat::Json } else { telemetry::LogFormat::Text };
        if let Err(e) = telemetry::init_logging(format, &args.log_filter) {
            eprintln!("trilink relay: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        let shutdown = trilink_runtime::shutdown::signal_token();
        let prom = match telemetry::install_metrics() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("trilink relay: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        if let Some(addr) = args.metrics_listen {
            let health = telemetry::Health::new();
            health.set_ready(true);
            if let Err(e) = telemetry::serve(addr, prom, health, shutdown.clone()).await {
                eprintln!("trilink relay: metrics endpoint {addr}: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        }
        tracing::info!(config = %args.config.display(), policy = %args.policy.display(), "relay starting");
        let drain = Duration::from_millis(config.drain_timeout_ms.saturating_mul(2).max(5_000));
        trilink_runtime::shutdown::force_exit_on_second_signal(shutdown.clone(), drain);
        match trilink_relay::live::run(config, args.policy.clone(), async move {
            shutdown.cancelled().await;
        })
        .await
        {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("trilink relay: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}
