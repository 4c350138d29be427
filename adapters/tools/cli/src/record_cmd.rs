//! `trilink record`: write what a link delivers to a capture file — NATS subjects to JSON
//! Lines of envelopes, or national outputs to pcapng with a capture map beside it. The
//! recording is `trilink_replay::record`; this module parses the arguments and prints.
//!
//! Stops on Ctrl-C, `--count N` or `--duration S`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;
use trilink_replay::record::RecordOptions;
use trilink_replay::{NatsTarget, Notice};

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink record` options.
#[derive(Debug, Clone, Args)]
pub struct RecordArgs {
    /// Output file: JSON Lines for `--subject`, pcapng for national outputs.
    #[arg(long, short)]
    pub out: PathBuf,
    /// NATS subject to subscribe to (repeatable; wildcards allowed, e.g. `tl.out.kr.>`).
    #[arg(long)]
    pub subject: Vec<String>,
    /// NATS URL.
    #[arg(long, env = "TRILINK_NATS_URL")]
    pub nats: Option<String>,
    /// NATS login.
    #[command(flatten)]
    pub login: crate::NatsLogin,
    /// Listen for JP national output on UDP: PORT or HOST:PORT (default host 127.0.0.1).
    #[arg(long, value_name = "ADDR")]
    pub jp_udp: Option<String>,
    /// Accept US national output on TCP: PORT or HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub us_tcp: Option<String>,
    /// Listen for US national output on UDP: PORT or HOST:PORT.
    #[arg(long, value_name = "ADDR")]
    pub us_udp: Option<String>,
    /// Subscribe to KR national output: mqtt://HOST:PORT/TOPIC.
    #[arg(long, value_name = "URL")]
    pub kr_mqtt: Option<String>,
    /// Where to write the capture map of a pcapng (default: `<out stem>.map.toml`).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Stop after N messages (envelopes, or decoded national frames).
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop after S seconds.
    #[arg(long)]
    pub duration: Option<f64>,
}

impl RecordArgs {
    fn options(&self, password: Option<String>) -> RecordOptions {
        RecordOptions {
            out: self.out.clone(),
            subjects: self.subject.clone(),
            nats: self.nats.clone().map(|url| NatsTarget {
                url,
                user: self.login.user.clone(),
                password,
                js_domain: None,
                ca_file: self.login.ca_file.clone(),
            }),
            jp_udp: self.jp_udp.clone(),
            us_tcp: self.us_tcp.clone(),
            us_udp: self.us_udp.clone(),
            kr_mqtt: self.kr_mqtt.clone(),
            map: self.map.clone(),
            count: self.count,
        }
    }
}

/// Run `trilink record` (blocking; builds its own runtime).
pub fn run(args: &RecordArgs) -> ExitCode {
    let national = args.jp_udp.is_some()
        || args.us_tcp.is_some()
        || args.us_udp.is_some()
        || args.kr_mqtt.is_some();
    if args.subject.is_empty() != national {
        eprintln!(
            "trilink record: give either --subject … (JSON Lines from NATS) or national outputs (--jp-udp, --us-tcp, --us-udp, --kr-mqtt), not both or neither"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if !args.subject.is_empty() && args.nats.is_none() {
        eprintln!("trilink record: --subject needs --nats URL (and --user/--password)");
        return ExitCode::from(EXIT_USAGE);
    }
    if let Some(d) = args.duration
        && !(d.is_finite() && d > 0.0)
    {
        eprintln!("trilink record: --duration must be a positive number of seconds");
        return ExitCode::from(EXIT_USAGE);
    }
    let password = match args.login.password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("trilink record: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trilink record: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    let res = rt.block_on(async {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        if let Some(d) = args.duration {
            let on_timer = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(d)).await;
                on_timer.cancel();
            });
        }
        let notice: Notice = Arc::new(|text: &str| eprintln!("trilink record: {text}"));
        trilink_replay::record::record(&args.options(password), &stop, &notice).await
    });
    match res {
        Ok(s) => {
            println!("{}", s.text(&args.out));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trilink record: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
