//! `trilink replay <capture>`: send a capture into a live link at its recorded pace, scaled,
//! or flat out. The replay itself is `trilink_replay` (loading, pacing, the clock thread, the
//! sinks, the summary); this module parses the arguments, shows progress and prints.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio_util::sync::CancellationToken;
use trilink_capture::{CaptureFormat, Speed};
use trilink_replay::{
    DEFAULT_RT_PRIORITY, DEFAULT_SPIN_US, ModeArg, NatsTarget, Notice, Progress, ReplayOptions,
    Selection, TimeSpec, TimestampsArg, parse_kind, parse_target, parse_time, raise_to_realtime,
    real_world_refusal,
};
use trilink_schema::{Nation, PayloadKind};

use crate::{EXIT_PROBLEM, EXIT_USAGE};

/// `trilink replay` options.
#[derive(Debug, Clone, Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct ReplayArgs {
    /// Capture file: pcap/pcapng of national traffic, or JSON Lines of envelopes.
    pub capture: PathBuf,
    /// Capture map (TOML) for pcap/pcapng: which transport/port carries which nation.
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// JP target: udp://HOST:PORT (adapter-jp's national ingress).
    #[arg(long, value_name = "URL")]
    pub jp: Option<String>,
    /// KR target: mqtt://HOST:PORT[/TOPIC] (the KR national broker; topic defaults to the
    /// captured topic).
    #[arg(long, value_name = "URL")]
    pub kr: Option<String>,
    /// US target: tcp://HOST:PORT or udp://HOST:PORT (adapter-us's national ingress).
    #[arg(long, value_name = "URL")]
    pub us: Option<String>,
    /// NATS URL for JSON Lines captures (published with JetStream).
    #[arg(long, env = "TRILINK_NATS_URL")]
    pub nats: Option<String>,
    /// NATS user.
    #[arg(long, env = "TRILINK_NATS_USER")]
    pub user: Option<String>,
    /// NATS password.
    #[arg(long, env = "TRILINK_NATS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Read the NATS password from this file (first line): unlike --password, it does not
    /// show in `ps`.
    #[arg(long, conflicts_with = "password")]
    pub password_file: Option<PathBuf>,
    /// JetStream domain to publish into (e.g. `hub`, `jp`); default: the account's own.
    #[arg(long)]
    pub js_domain: Option<String>,
    /// Pace relative to the recording (1 = recorded pace, 10 = ten times faster).
    #[arg(long, default_value_t = 1.0, conflicts_with = "max")]
    pub speed: f64,
    /// Send as fast as possible.
    #[arg(long)]
    pub max: bool,
    /// Replay again and again: `--loop` until Ctrl-C, `--loop N` for N passes.
    #[arg(long = "loop", num_args = 0..=1, default_missing_value = "0", value_name = "N")]
    pub loops: Option<u64>,
    /// Only these nations (origin for envelopes, flow nation for national traffic): jp,kr,us.
    #[arg(long, value_delimiter = ',', value_parser = parse_nation)]
    pub nation: Vec<Nation>,
    /// Only these payload kinds (launch_detection, track_update, …).
    #[arg(long, value_delimiter = ',', value_parser = parse_kind)]
    pub kind: Vec<PayloadKind>,
    /// Start of the time window: RFC 3339, or seconds after the capture's first message.
    #[arg(long, value_parser = parse_time)]
    pub from: Option<TimeSpec>,
    /// End of the time window (exclusive): RFC 3339, or seconds after the first message.
    #[arg(long, value_parser = parse_time)]
    pub until: Option<TimeSpec>,
    /// Mode every replayed message is sent with: `exercise` (default) or `test` rewrite it
    /// (national frames are decoded, rewritten and re-encoded with their nation's codec, so
    /// their checksums are recomputed; envelopes get their `mode` field rewritten);
    /// `as-recorded` keeps the recorded mode — then a capture holding real-world messages is
    /// refused (exit 2, nothing sent) unless --real-world is given.
    #[arg(long, value_enum, default_value_t = ModeArg::Exercise, value_name = "MODE")]
    pub mode: ModeArg,
    /// Allow sending messages whose mode is real_world (only possible with --mode
    /// as-recorded). For private test links only: a replayed real-world warning on a live
    /// link can be taken for a real launch.
    #[arg(long)]
    pub real_world: bool,
    /// Times the replayed messages carry: `retimed` (default) keeps the recorded intervals
    /// (scaled with --speed) but moves the first message to the moment it is sent, so each
    /// message claims to be observed when it is sent (JP times of day re-encoded, the day
    /// rolling over with them; with --max the last message is moved to the start);
    /// `as-recorded` keeps the recorded times (an adapter then dead-letters a capture from
    /// another day as `future_timestamp` or misdates it).
    #[arg(long, value_enum, default_value_t = TimestampsArg::Retimed, value_name = "WHICH")]
    pub timestamps: TimestampsArg,
    /// Print the final summary as JSON (stdout) instead of text.
    #[arg(long)]
    pub json: bool,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
    /// Real-time priority (SCHED_FIFO, 1–99) for the thread that paces the sends, so that
    /// busy processes on the same machine do not delay them. Needs root, CAP_SYS_NICE or an
    /// RLIMIT_RTPRIO at least this high; when refused, the replay runs with normal scheduling
    /// and says so. 0 = normal scheduling. Not used with --max.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RT_PRIORITY,
          value_parser = clap::value_parser!(u8).range(0..=99))]
    pub rt_priority: u8,
    /// Microseconds before a due instant at which the clock thread stops sleeping and
    /// busy-waits; 0 = OS sleep only.
    #[arg(long, default_value_t = DEFAULT_SPIN_US, hide = true)]
    pub spin_us: u64,
    /// Write one CSV line per send (due instant, timing error, send call duration, time the
    /// clock thread waited for a CPU, involuntary context switches): a diagnostic.
    #[arg(long, value_name = "CSV", hide = true)]
    pub timing_trace: Option<PathBuf>,
}

fn parse_nation(s: &str) -> Result<Nation, String> {
    s.parse::<Nation>().map_err(|e| e.to_string())
}

impl ReplayArgs {
    /// The replay these arguments ask for; `Err` is a usage error.
    fn options(&self) -> Result<ReplayOptions, String> {
        let password = crate::password(self.password.as_ref(), self.password_file.as_ref())?;
        let speed = if self.max {
            Speed::Max
        } else {
            Speed::factor(self.speed).map_err(|e| format!("--speed: {e}"))?
        };
        let mut targets = BTreeMap::new();
        for (n, v) in [
            (Nation::Jp, &self.jp),
            (Nation::Kr, &self.kr),
            (Nation::Us, &self.us),
        ] {
            if let Some(v) = v {
                targets.insert(n, parse_target(v).map_err(|e| format!("--{n}: {e}"))?);
            }
        }
        Ok(ReplayOptions {
            capture: self.capture.clone(),
            map: self.map.clone(),
            selection: Selection {
                nations: self.nation.clone(),
                kinds: self.kind.clone(),
                from: self.from,
                until: self.until,
            },
            targets,
            nats: self.nats.clone().map(|url| NatsTarget {
                url,
                user: self.user.clone(),
                password: password.clone(),
                js_domain: self.js_domain.clone(),
            }),
            speed,
            loops: self.loops,
            mode: self.mode,
            real_world: self.real_world,
            timestamps: self.timestamps,
            rt_priority: self.rt_priority,
            spin: Duration::from_micros(self.spin_us),
            timing_trace: self.timing_trace.clone(),
        })
    }
}

/// A progress bar on stderr when it is a terminal (and not `--no-progress`).
fn progress_bar(args: &ReplayArgs, per_pass: u64) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() && !args.no_progress {
        ProgressBar::with_draw_target(Some(per_pass), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {pos}/{len} {per_sec} pass {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Run `trilink replay` (blocking; builds its own runtime).
pub fn run(args: &ReplayArgs) -> ExitCode {
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("trilink replay: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let file = args.capture.display().to_string();
    let data = match std::fs::read(&args.capture) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("trilink replay: cannot read {file}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let is_jsonl = CaptureFormat::sniff(&data) == Some(CaptureFormat::Jsonl);
    if is_jsonl && args.nats.is_none() {
        eprintln!(
            "trilink replay: {file} is JSON Lines of envelopes: give --nats URL (and --user/--password)"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    if !is_jsonl && CaptureFormat::sniff(&data).is_some() && opts.targets.is_empty() {
        eprintln!(
            "trilink replay: {file} is national traffic: give at least one of --jp udp://…, --kr mqtt://…, --us tcp://…"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let loaded = match trilink_replay::load(&opts, &file, &data) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("trilink replay: {e}\nnothing was sent.");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    drop(data);
    if loaded.real_world > 0 && !args.real_world {
        eprintln!("trilink replay: {}", real_world_refusal(loaded.real_world));
        return ExitCode::from(EXIT_USAGE);
    }
    for p in &loaded.first_problems {
        eprintln!("trilink replay: {p}");
    }
    if loaded.rejected > loaded.first_problems.len() as u64 {
        eprintln!(
            "trilink replay: … and {} more rejected",
            loaded.rejected - loaded.first_problems.len() as u64
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("trilink replay: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_PROBLEM);
        }
    };
    // The runtime's thread (this one) writes the MQTT/NATS messages the clock thread queues:
    // same real-time priority at a recorded pace, or the broker gets them late under load
    // (a refusal is reported once, by the clock thread).
    let _ = raise_to_realtime(opts.realtime_priority());
    let bar = progress_bar(args, loaded.messages.len() as u64);
    let notice: Notice = {
        let bar = bar.clone();
        Arc::new(move |text: &str| bar.suspend(|| eprintln!("trilink replay: {text}")))
    };
    let progress = Arc::new(Progress::default());
    let result = rt.block_on(async {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        let ticker = (!bar.is_hidden()).then(|| {
            let (bar, progress) = (bar.clone(), progress.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(100));
                loop {
                    every.tick().await;
                    bar.set_position(progress.done_in_pass.load(Ordering::Relaxed));
                    bar.set_message(progress.pass.load(Ordering::Relaxed).to_string());
                }
            })
        });
        let out = trilink_replay::replay(&opts, loaded, &stop, &notice, &progress).await;
        if let Some(t) = ticker {
            t.abort();
        }
        bar.finish_and_clear();
        out
    });
    let speed_text = opts.speed_text();
    match result {
        Ok(summary) => {
            if args.json {
                println!("{}", summary.to_json(&args.capture, &speed_text));
            } else {
                print!("{}", summary.to_text(&args.capture, &speed_text));
            }
            if summary.failed > 0 || summary.rejected > 0 || summary.sent_total() == 0 {
                if summary.sent_total() == 0 {
                    eprintln!("trilink replay: nothing was sent");
                }
                ExitCode::from(EXIT_PROBLEM)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            eprintln!("trilink replay: {e}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}
