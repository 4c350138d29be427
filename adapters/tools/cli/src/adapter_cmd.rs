//! `trilink adapter`: a national adapter, as a thin wrapper over
//! `trilink_runtime::adapter::run` with the nation's codec.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use trilink_runtime::adapter::AdapterConfig;
use trilink_schema::Nation;

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink adapter --config <file>`.
#[derive(Debug, Args)]
pub struct AdapterArgs {
    /// Adapter configuration (TOML; `TRILINK__SECTION__KEY` environment variables override
    /// keys). `[adapter] nation` selects the national codec: jp, kr or us.
    #[arg(long, short)]
    pub config: PathBuf,
    /// Check the configuration and exit without connecting anywhere: syntax, URLs, ports,
    /// files present and readable, certificates parse and are not expired, creds files well
    /// formed. Exit 0 valid, 1 problems found (all listed), 2 file unreadable.
    #[arg(long)]
    pub check: bool,
    /// Print the effective configuration (file, `TRILINK__*` overrides, defaults) with secrets
    /// masked and where each value came from, then exit (with `--check`: check it too).
    #[arg(long)]
    pub print_config: bool,
}

/// Exit code for a configuration that could not be loaded: 2 (cannot run as asked), or 1 when
/// checking it was the job and the file was read.
fn config_failure(e: &trilink_runtime::config::ConfigError, checking: bool) -> ExitCode {
    use trilink_runtime::config::ConfigError;
    if checking && !matches!(e, ConfigError::Io { .. }) {
        ExitCode::from(EXIT_PROBLEM)
    } else {
        ExitCode::from(EXIT_USAGE)
    }
}

/// Run an adapter until SIGINT/SIGTERM; `log_json` (`--log-json` / `TRILINK_LOG_JSON`) wins
/// over `telemetry.log_format`.
pub fn run(args: &AdapterArgs, log_json: bool) -> ExitCode {
    let checking = args.check || args.print_config;
    let loaded = if args.print_config {
        trilink_runtime::config::explain::<AdapterConfig>(&args.config).map(|(c, settings)| {
            println!(
                "# effective configuration of {} (secrets masked; # where each value came from)",
                args.config.display()
            );
            print!("{}", trilink_runtime::config::settings_text(&settings));
            c
        })
    } else {
        trilink_runtime::config::load(&args.config)
    };
    let mut config: AdapterConfig = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trilink adapter: {e}");
            return config_failure(&e, checking);
        }
    };
    let problems = config.check_offline(std::time::SystemTime::now());
    for p in &problems {
        eprintln!("trilink adapter: {}: {p}", args.config.display());
    }
    if checking {
        if !problems.is_empty() {
            eprintln!(
                "trilink adapter: {}: {} problem(s) found",
                args.config.display(),
                problems.len()
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
        if args.check {
            println!(
                "{}: valid adapter configuration for {} (checked offline: syntax, URLs, ports, files, certificates; the network was not tried)",
                args.config.display(),
                config.adapter.nation
            );
        }
        return ExitCode::SUCCESS;
    }
    if !problems.is_empty() {
        return ExitCode::from(EXIT_USAGE);
    }
    if log_json {
        config.telemetry.log_format = trilink_runtime::telemetry::LogFormat::Json;
    }
    let json_logs = config.telemetry.log_format == trilink_runtime::telemetry::LogFormat::Json;
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let shutdown = trilink_runtime::shutdown::signal_token();
        trilink_runtime::shutdown::force_exit_on_second_signal(
            shutdown.clone(),
            Duration::from_millis(config.adapter.drain_timeout_ms.saturating_mul(2).max(5_000)),
        );
        let nation = config.adapter.nation;
        let result = match nation {
            Nation::Jp => {
                trilink_runtime::adapter::run(config, trilink_jp::JpCodec, shutdown).await
            }
            Nation::Kr => {
                trilink_runtime::adapter::run(config, trilink_kr::KrCodec, shutdown).await
            }
            Nation::Us => {
                trilink_runtime::adapter::run(config, trilink_us::UsCodec::default(), shutdown)
                    .await
            }
        };
        match result {
            Ok(summary) => {
                // JSON logs carry the summary in the "adapter stopped" event; a plain line
                // would break a JSON Lines consumer.
                if !json_logs {
                    eprintln!("trilink adapter {nation}: stopped: {summary}");
                }
                if summary.drained {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::from(EXIT_PROBLEM)
                }
            }
            Err(e) => {
                eprintln!("trilink adapter {nation}: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}
