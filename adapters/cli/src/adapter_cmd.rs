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
    /// Check the configuration and exit (0 valid, 2 invalid) without connecting anywhere.
    #[arg(long)]
    pub check: bool,
}

/// Run an adapter until SIGINT/SIGTERM.
pub fn run(args: &AdapterArgs) -> ExitCode {
    let config: AdapterConfig = match trilink_runtime::config::load(&args.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trilink adapter: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if args.check {
        println!(
            "{}: valid adapter configuration for {}",
            args.config.display(),
            config.adapter.nation
        );
        return ExitCode::SUCCESS;
    }
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
                eprintln!("trilink adapter {nation}: stopped: {summary:?}");
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
