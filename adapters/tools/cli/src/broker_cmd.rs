//! `trilink broker up|down`: run the development broker topology (hub + JP and KR leaves) in
//! the foreground with `trilink_brokers::Link`, the same launcher the tests use.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use trilink_brokers::{Link, LinkOptions};

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// File in the broker directory listing the server PIDs, one per line (`name pid`).
const PID_FILE: &str = "servers.pid";

/// `trilink broker ...`
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: BrokerAction,
}

/// Broker actions.
#[derive(Debug, Subcommand)]
pub enum BrokerAction {
    /// Start the hub and the JP and KR leaves on free loopback ports, create the streams, print
    /// URLs and development credentials (also written to <dir>/link.json), and run until Ctrl-C.
    Up {
        /// Directory for configs, certificates, data and logs (kept). Default: a temporary
        /// directory removed on exit.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Hub nodes: 1, or 3 for the clustered hub with R3 streams.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
        hub_nodes: u8,
    },
    /// Create or update (idempotently) the JetStream streams of one site and account from
    /// `broker-config/streams.toml` (built in) on a running server: what a production start-up
    /// runs once per site and account, with that account's operations user.
    Streams {
        /// NATS URL of the server (e.g. nats://hub.example:4222).
        // `--url` was this flag's name; kept as a hidden alias (the URL flag is `--nats` in
        // every command).
        #[arg(long, alias = "url", env = "TRILINK_NATS_URL")]
        nats: String,
        /// Site the server is: hub, jp or kr.
        #[arg(long)]
        site: String,
        /// Account (nation) whose streams to create: jp, kr or us.
        #[arg(long)]
        account: String,
        /// User (the account's operations user).
        #[arg(long, env = "TRILINK_BROKER_USER")]
        user: String,
        /// Password (prefer --password-file or the environment: a command line is visible
        /// to every user of the machine in `ps`).
        #[arg(
            long,
            env = "TRILINK_BROKER_PASSWORD",
            hide_env_values = true,
            required_unless_present = "password_file"
        )]
        password: Option<String>,
        /// Read the password from this file (first line).
        #[arg(long, conflicts_with = "password")]
        password_file: Option<PathBuf>,
        /// Stream replicas (3 on the clustered hub).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// CA certificate to verify the server with (the hub's client port is TLS-only).
        #[arg(long, env = "TRILINK_BROKER_TLS_CA")]
        tls_ca: Option<PathBuf>,
    },
    /// Stop the servers of a `trilink broker up --dir <dir>` running elsewhere (SIGTERM by PID).
    Down {
        /// The directory given to `broker up`.
        #[arg(long)]
        dir: PathBuf,
    },
}

/// Run a broker action.
pub fn run(args: &BrokerArgs) -> ExitCode {
    match &args.action {
        BrokerAction::Streams {
            nats,
            site,
            account,
            user,
            password,
            password_file,
            replicas,
            tls_ca,
        } => {
            let password = match crate::password(password.as_ref(), password_file.as_ref()) {
                Ok(Some(p)) => p,
                Ok(None) => {
                    eprintln!("trilink broker streams: give --password-file or --password");
                    return ExitCode::from(EXIT_USAGE);
                }
                Err(e) => {
                    eprintln!("trilink broker streams: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            streams(
                nats,
                site,
                account,
                user,
                &password,
                *replicas,
                tls_ca.as_deref(),
            )
        }
        BrokerAction::Up { dir, hub_nodes } => {
            if *hub_nodes == 2 {
                eprintln!("trilink broker up: --hub-nodes must be 1 or 3");
                return ExitCode::from(EXIT_USAGE);
            }
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("trilink broker up: cannot start the async runtime: {e}");
                    return ExitCode::from(EXIT_PROBLEM);
                }
            };
            rt.block_on(up(dir.clone(), usize::from(*hub_nodes)))
        }
        BrokerAction::Down { dir } => down(dir),
    }
}

async fn up(dir: Option<PathBuf>, hub_nodes: usize) -> ExitCode {
    let opts = LinkOptions {
        dir,
        hub_nodes,
        ready_timeout: Duration::from_secs(30),
        ..LinkOptions::default()
    };
    let mut link = match Link::start(opts).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("trilink broker up: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let mut pids = String::new();
    for id in link.server_ids() {
        if let Ok(s) = link.server(id)
            && let Some(pid) = s.pid()
        {
            let _ = writeln!(pids, "{} {pid}", s.name());
        }
    }
    if let Err(e) = std::fs::write(link.dir().join(PID_FILE), pids) {
        eprintln!("trilink broker up: writing {PID_FILE}: {e}");
    }
    print!("{}", link.summary());
    match link.write_link_file() {
        Ok(p) => println!("  credentials and URLs: {}", p.display()),
        Err(e) => eprintln!("trilink broker up: {e}"),
    }
    println!("ready; Ctrl-C (or `trilink broker down --dir <dir>`) stops the servers");

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let code = loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break ExitCode::SUCCESS,
            _ = tick.tick() => {
                let ids = link.server_ids();
                let mut dead = Vec::new();
                for id in ids {
                    if let Ok(s) = link.server_mut(id)
                        && !s.is_running()
                    {
                        dead.push(id.name());
                    }
                }
                if !dead.is_empty() && !link.dir().join(PID_FILE).exists() {
                    println!("servers stopped by `trilink broker down`");
                    break ExitCode::SUCCESS;
                }
                if !dead.is_empty() {
                    eprintln!("trilink broker up: server(s) stopped: {}", dead.join(", "));
                    break ExitCode::from(EXIT_PROBLEM);
                }
            }
        }
    };
    let _ = std::fs::remove_file(link.dir().join(PID_FILE));
    if let Err(e) = link.shutdown() {
        eprintln!("trilink broker up: stopping: {e}");
        return ExitCode::from(EXIT_PROBLEM);
    }
    println!("brokers stopped");
    code
}

/// Whether `pid` is a running nats-server (guards against a recycled PID).
fn is_nats_server(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("nats-server"))
}

fn down(dir: &Path) -> ExitCode {
    let path = dir.join(PID_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "trilink broker down: {}: {e} (is `trilink broker up --dir {}` running?)",
                path.display(),
                dir.display()
            );
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    // Removing the PID file first tells `broker up` that the stop is intended.
    let _ = std::fs::remove_file(&path);
    let mut failed = false;
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(name), Some(pid)) = (parts.next(), parts.next().and_then(|p| p.parse().ok()))
        else {
            continue;
        };
        if !is_nats_server(pid) {
            println!("{name} (pid {pid}) is not running");
            continue;
        }
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            println!("{name} (pid {pid}) stopped");
        } else {
            eprintln!("trilink broker down: could not signal {name} (pid {pid})");
            failed = true;
        }
    }
    if failed {
        ExitCode::from(EXIT_PROBLEM)
    } else {
        ExitCode::SUCCESS
    }
}

fn streams(
    url: &str,
    site: &str,
    account: &str,
    user: &str,
    password: &str,
    replicas: usize,
    tls_ca: Option<&std::path::Path>,
) -> ExitCode {
    let site = match site {
        "hub" => trilink_brokers::Site::Hub,
        "jp" => trilink_brokers::Site::Jp,
        "kr" => trilink_brokers::Site::Kr,
        other => {
            eprintln!("trilink broker streams: --site {other:?}: expected hub, jp or kr");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let account: trilink_schema::Nation = match account.parse() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("trilink broker streams: --account: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trilink broker streams: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    rt.block_on(async move {
        let mut opts = async_nats::ConnectOptions::new();
        if let Some(ca) = tls_ca {
            opts = opts.add_root_certificates(ca.to_owned()).require_tls(true);
        }
        let client = match opts
            .user_and_password(user.to_owned(), password.to_owned())
            .custom_inbox_prefix(trilink_schema::inbox_prefix(user))
            .connection_timeout(Duration::from_secs(10))
            .connect(url)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("trilink broker streams: connecting to {url}: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        let js = async_nats::jetstream::new(client);
        let plan = match trilink_brokers::streams::StreamPlan::builtin() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("trilink broker streams: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        match plan.ensure(&js, site, account, replicas).await {
            Ok(names) => {
                println!(
                    "streams ready on {site} for account {account}: {}",
                    names.join(", ")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("trilink broker streams: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        }
    })
}
