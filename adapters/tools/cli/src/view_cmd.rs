//! `trilink view`: the live common-picture view, a thin wrapper over `trilink_view::run`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink view --nats URL --user viewer-<n> --password-file F [--ca-file F] --listen ADDR`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// NATS URL(s) of the nation's site: its leaf for JP/KR, the hub for the US (repeatable).
    #[arg(long, required = true, env = "TRILINK_VIEW_NATS")]
    pub nats: Vec<String>,
    /// The nation's read-only viewer user, `viewer-<nation>`; the view shows what is released
    /// to that nation.
    #[arg(long, env = "TRILINK_VIEW_USER")]
    pub user: String,
    /// File holding the viewer's password (first line).
    #[arg(long, env = "TRILINK_VIEW_PASSWORD_FILE")]
    pub password_file: PathBuf,
    /// CA certificate to verify the server with (TLS is then required; the hub's client port
    /// is TLS-only).
    #[arg(long, env = "TRILINK_VIEW_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Address to serve the page on (keep it on loopback or behind the site's access control).
    #[arg(long, default_value = "127.0.0.1:8480", env = "TRILINK_VIEW_LISTEN")]
    pub listen: SocketAddr,
    /// Heartbeat interval of the link's components (ms): a component is shown stale after it.
    #[arg(long, default_value_t = 5000)]
    pub heartbeat_interval_ms: u64,
    /// Log filter (tracing env-filter syntax; `RUST_LOG` wins when set).
    #[arg(long, default_value = "info")]
    pub log_filter: String,
}

/// Serve the view until SIGINT/SIGTERM.
pub fn run(args: &ViewArgs) -> ExitCode {
    let Some(nation) = trilink_view::nation_of_viewer(&args.user) else {
        eprintln!(
            "trilink view: --user must be viewer-jp, viewer-kr or viewer-us, not {:?}",
            args.user
        );
        return ExitCode::from(EXIT_USAGE);
    };
    let password = match std::fs::read_to_string(&args.password_file) {
        Ok(p) => p.lines().next().unwrap_or_default().to_owned(),
        Err(e) => {
            eprintln!("trilink view: {}: {e}", args.password_file.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let config = trilink_view::ViewConfig {
        nation,
        nats_urls: args.nats.clone(),
        user: args.user.clone(),
        password,
        ca_file: args.ca_file.clone(),
        listen: args.listen,
        heartbeat_interval: Duration::from_millis(args.heartbeat_interval_ms.max(1)),
    };
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        use trilink_runtime::telemetry;
        if let Err(e) = telemetry::init_logging(telemetry::LogFormat::Text, &args.log_filter) {
            eprintln!("trilink view: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        let shutdown = trilink_runtime::shutdown::signal_token();
        match trilink_view::start(config, shutdown).await {
            Ok(view) => {
                println!("trilink view ({nation}): {}", view.url());
                match view.wait().await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("trilink view: {e}");
                        ExitCode::from(EXIT_PROBLEM)
                    }
                }
            }
            Err(e) => {
                eprintln!("trilink view: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}
