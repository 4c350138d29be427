//! `trilink broker up|down`: run the development broker topology (hub + JP and KR leaves) in
//! the foreground with `trilink_brokers::Link`, the same launcher the tests use;
//! `trilink broker streams`: create a site's streams; `trilink broker watch-leaves`: count the
//! leaf connections of every hub node per nation and alert on a second leaf with one nation's
//! identity (`trilink_brokers::leafwatch`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use trilink_brokers::leafwatch::{self, LeafTally, LeafWatch, MonitorTarget, WatchConfig};
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
    /// Watch every hub node's monitoring `/leafz`: count leaf connections per nation account
    /// (summed over the nodes) and raise `trilink_hub_leaf_identity_duplicated{account}` (and
    /// log a warning) when one nation has more than one leaf, e.g. a second server holding its
    /// leaf certificate. Serves the metrics on --metrics-listen; --once checks once and exits
    /// (0 one leaf at most per nation, 1 a duplicate or an unreadable node).
    WatchLeaves(WatchLeavesArgs),
}

/// `trilink broker watch-leaves`.
#[derive(Debug, Args)]
pub struct WatchLeavesArgs {
    /// Monitoring endpoint of a hub node, `http://host:8222` or `name=http://host:8222` (the
    /// name labels its metrics); give every node of a clustered hub.
    #[arg(long = "monitor", required = true, value_parser = parse_monitor)]
    pub monitors: Vec<MonitorTarget>,
    /// Serve Prometheus `/metrics`, `/healthz` and `/readyz` on this address.
    #[arg(long, env = "TRILINK_LEAFWATCH_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Milliseconds between polls.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(100..))]
    pub interval_ms: u64,
    /// Accounts that have a leaf (reported at 0 when they have none).
    #[arg(long = "account", default_values_t = ["JP".to_owned(), "KR".to_owned()])]
    pub accounts: Vec<String>,
    /// Leaf connections one account may have over all hub nodes.
    #[arg(long, default_value_t = 1)]
    pub max_per_account: u64,
    /// Poll once, print the counts, exit 0 (within allowance) or 1 (a duplicate, or a node
    /// whose /leafz cannot be read).
    #[arg(long, conflicts_with = "metrics_listen")]
    pub once: bool,
    /// Log filter (tracing env-filter syntax; `RUST_LOG` wins when set).
    #[arg(long, default_value = "info")]
    pub log_filter: String,
}

fn parse_monitor(s: &str) -> Result<MonitorTarget, String> {
    MonitorTarget::parse(s).map_err(|e| e.to_string())
}

/// Run a broker action. `log_json`: the global `--log-json` / `TRILINK_LOG_JSON`.
pub fn run(args: &BrokerArgs, log_json: bool) -> ExitCode {
    match &args.action {
        BrokerAction::WatchLeaves(w) => watch_leaves(w, log_json),
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

fn watch_leaves(args: &WatchLeavesArgs, log_json: bool) -> ExitCode {
    let config = WatchConfig {
        max_per_account: args.max_per_account,
        accounts: args.accounts.clone(),
    };
    let interval = Duration::from_millis(args.interval_ms);
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async move {
        use trilink_runtime::telemetry;
        if args.once {
            return watch_once(&args.monitors, config, interval).await;
        }
        let format = if log_json {
            telemetry::LogFormat::Json
        } else {
            telemetry::LogFormat::Text
        };
        if let Err(e) = telemetry::init_logging(format, &args.log_filter) {
            eprintln!("trilink broker watch-leaves: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        let shutdown = trilink_runtime::shutdown::signal_token();
        let prom = match telemetry::install_metrics() {
            Ok(h) => h,
            Err(e) => {
                eprintln!("trilink broker watch-leaves: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        };
        if let Some(addr) = args.metrics_listen {
            let health = telemetry::Health::new();
            health.set_ready(true);
            if let Err(e) = telemetry::serve(addr, prom, health, shutdown.clone()).await {
                eprintln!("trilink broker watch-leaves: metrics endpoint {addr}: {e}");
                return ExitCode::from(EXIT_PROBLEM);
            }
        }
        let nodes: Vec<String> = args.monitors.iter().map(MonitorTarget::url).collect();
        tracing::info!(nodes = %nodes.join(" "), interval_ms = args.interval_ms, "watching the hub's leaf connections");
        leafwatch::run(&args.monitors, config, interval, shutdown.cancelled_owned()).await;
        ExitCode::SUCCESS
    })
}

/// One poll, printed: `account server count` lines, then the verdict.
async fn watch_once(
    targets: &[MonitorTarget],
    config: WatchConfig,
    interval: Duration,
) -> ExitCode {
    let timeout = interval.clamp(Duration::from_millis(200), Duration::from_secs(5));
    let reports = leafwatch::poll(targets, timeout).await;
    let tally = LeafTally::count(&reports, &config.accounts);
    let watch = LeafWatch::new(config);
    for ((account, server), n) in &tally.per_server {
        println!("{account} {server} {n}");
    }
    let mut problem = false;
    for (server, e) in &tally.unreachable {
        println!("unreadable {server}: {e}");
        problem = true;
    }
    for (account, n) in &tally.per_account {
        if watch.is_duplicate(*n) {
            let at: Vec<String> = tally
                .leaves
                .get(account)
                .map(|v| {
                    v.iter()
                        .map(|l| format!("{} from {}", l.server, l.remote))
                        .collect()
                })
                .unwrap_or_default();
            println!(
                "DUPLICATE {account}: {n} leaf connections ({})",
                at.join("; ")
            );
            problem = true;
        }
    }
    if problem {
        ExitCode::from(EXIT_PROBLEM)
    } else {
        println!(
            "ok: at most {} leaf connection per nation",
            watch.config().max_per_account
        );
        ExitCode::SUCCESS
    }
}
