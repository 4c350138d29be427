//! `trilink dlq`: list or follow a site's dead letters with reason, detail, component, source
//! and the original bytes decoded where possible. The reading and decoding is
//! `trilink_replay::dlq`; this module parses the arguments and prints.

use std::fmt::Write as _;
use std::process::ExitCode;

use clap::Args;
use tokio_util::sync::CancellationToken;
use trilink_replay::NatsTarget;
use trilink_replay::dlq::DlqOptions;
use trilink_schema::Nation;

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink dlq` options.
#[derive(Debug, Args)]
pub struct DlqArgs {
    /// The site whose dead letters to read (stream `DLQ_<SITE>`; bodies decoded in its format).
    #[arg(long)]
    pub site: Nation,
    /// NATS URL (the server holding the stream: the site's leaf, or the hub for US).
    #[arg(long, env = "TRILINK_NATS_URL")]
    pub nats: String,
    /// NATS login.
    #[command(flatten)]
    pub login: crate::NatsLogin,
    /// JetStream domain of the stream (e.g. `jp`, `hub`).
    #[arg(long)]
    pub js_domain: Option<String>,
    /// Stream name (default `DLQ_<SITE>`).
    #[arg(long)]
    pub stream: Option<String>,
    /// Only the last N dead letters.
    #[arg(long)]
    pub last: Option<u64>,
    /// Keep waiting for new dead letters until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// One JSON object per dead letter instead of text.
    #[arg(long)]
    pub json: bool,
}

fn text(v: &serde_json::Value) -> String {
    let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("-").to_owned();
    let mut out = format!(
        "#{} {} {}: {}\n  component {}  source {}  {} bytes, {}",
        v.get("seq")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        s("time"),
        s("reason"),
        s("detail"),
        s("component"),
        s("source"),
        v.get("length")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0),
        s("body"),
    );
    if let Some(env) = v.get("envelope") {
        let _ = write!(out, "\n  envelope {env}");
    }
    if let Some(e) = v.get("national_error").and_then(|x| x.as_str()) {
        let _ = write!(out, "\n  {e}");
    }
    if let Some(h) = v.get("hex").and_then(|x| x.as_str()) {
        let _ = write!(out, "\n  hex {h}");
    }
    out
}

/// Run `trilink dlq`: exit 0 after listing (also when there are none), 1 when the stream
/// cannot be read, 2 on bad arguments.
pub fn run(args: &DlqArgs) -> ExitCode {
    let password = match args.login.password() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("trilink dlq: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let opts = DlqOptions {
        target: NatsTarget {
            url: args.nats.clone(),
            user: args.login.user.clone(),
            password,
            js_domain: args.js_domain.clone(),
            ca_file: args.login.ca_file.clone(),
        },
        stream: args
            .stream
            .clone()
            .unwrap_or_else(|| format!("DLQ_{}", args.site.as_str().to_ascii_uppercase())),
        site: args.site,
        last: args.last,
        follow: args.follow,
    };
    let rt = match crate::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let json = args.json;
    let res = rt.block_on(async {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        let mut each = |v: serde_json::Value| {
            if json {
                println!("{v}");
            } else {
                println!("{}", text(&v));
            }
        };
        trilink_replay::dlq::read(&opts, &stop, &mut each).await
    });
    match res {
        Ok(n) => {
            eprintln!("trilink dlq: {n} dead letter(s) in {}", opts.stream);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trilink dlq: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
