//! `trilink replay <capture>`: send a capture into a live link at its recorded pace, scaled,
//! or flat out. The replay itself is `trilink_replay` (loading, pacing, the clock thread, the
//! sinks, the summary); this module parses the arguments, shows progress and prints.

use std::collections::{BTreeMap, BTreeSet};
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
    DEFAULT_RT_PRIORITY, DEFAULT_SPIN_US, DeadLetterWatch, ModeArg, NatsTarget, Notice, Progress,
    ReplayOptions, Selection, TimeSpec, TimestampsArg, parse_kind, parse_target, parse_time,
    raise_to_realtime, real_world_refusal,
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
    /// NATS login.
    #[command(flatten)]
    pub login: crate::NatsLogin,
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
    /// Watch the site's dead letters for what this replay sends, and report them (exit 1 when
    /// any was dead-lettered): NATS URL of the site's server — its leaf for JP and KR, the
    /// hub for the US (with --dlq-ca-file). Subscribed before the first send.
    #[arg(long, value_name = "URL", help_heading = "What the link did with it")]
    pub dlq_nats: Option<String>,
    /// The site whose dead letters are watched (default: the one nation this replay sends to).
    #[arg(long, value_parser = parse_nation, help_heading = "What the link did with it")]
    pub dlq_site: Option<Nation>,
    /// User for the dead-letter watch (default with --dlq-password-file: the site's read-only
    /// viewer, viewer-<site>, which may subscribe to its own site's dead letters).
    #[arg(long, help_heading = "What the link did with it")]
    pub dlq_user: Option<String>,
    /// File holding that user's password (first line).
    #[arg(long, help_heading = "What the link did with it")]
    pub dlq_password_file: Option<PathBuf>,
    /// CA certificate to verify the site's server with (TLS required; the hub is TLS-only).
    #[arg(long, help_heading = "What the link did with it")]
    pub dlq_ca_file: Option<PathBuf>,
    /// Dead-letter subject (default tl.dlq.<site>).
    #[arg(long, help_heading = "What the link did with it")]
    pub dlq_subject: Option<String>,
    /// After the last send, keep watching until no dead letter has come for this many seconds
    /// (at most 15 times as long while they keep coming).
    #[arg(
        long,
        default_value_t = 2.0,
        help_heading = "What the link did with it"
    )]
    pub dlq_settle_s: f64,
    /// Serve the live view (`trilink view`) of the destination nation while replaying, on
    /// this address (port 0: a free one); its URL is printed.
    #[arg(long, value_name = "ADDR", help_heading = "Live view")]
    pub view_listen: Option<std::net::SocketAddr>,
    /// The nation whose read-only viewer the view connects as (default: from --view-user).
    #[arg(long, value_parser = parse_nation, help_heading = "Live view")]
    pub view_nation: Option<Nation>,
    /// NATS URL(s) of that nation's site: its leaf for JP/KR, the hub for the US.
    #[arg(long, value_name = "URL", help_heading = "Live view")]
    pub view_nats: Vec<String>,
    /// The viewer user, viewer-<nation> (default from --view-nation).
    #[arg(long, help_heading = "Live view")]
    pub view_user: Option<String>,
    /// File holding the viewer's password (first line).
    #[arg(long, help_heading = "Live view")]
    pub view_password_file: Option<PathBuf>,
    /// CA certificate to verify the viewer's server with (the hub is TLS-only).
    #[arg(long, help_heading = "Live view")]
    pub view_ca_file: Option<PathBuf>,
    /// Seconds to keep serving the view after the replay (Ctrl-C ends it sooner).
    #[arg(long, default_value_t = 60.0, help_heading = "Live view")]
    pub view_hold_s: f64,
}

/// Exit code of a replay stopped by Ctrl-C (SIGINT), as shells report a process ended by it.
pub const EXIT_INTERRUPTED: u8 = 130;

/// After Ctrl-C, how long the replay may take to wind down (outstanding acknowledgements,
/// dead letters heard so far) before it stops without waiting.
const WIND_DOWN: Duration = Duration::from_secs(3);

fn parse_nation(s: &str) -> Result<Nation, String> {
    s.parse::<Nation>().map_err(|e| e.to_string())
}

impl ReplayArgs {
    /// The replay these arguments ask for; `Err` is a usage error.
    fn options(&self) -> Result<ReplayOptions, String> {
        let password = self.login.password()?;
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
                user: self.login.user.clone(),
                password: password.clone(),
                js_domain: self.js_domain.clone(),
                ca_file: self.login.ca_file.clone(),
            }),
            speed,
            loops: self.loops,
            mode: self.mode,
            real_world: self.real_world,
            timestamps: self.timestamps,
            rt_priority: self.rt_priority,
            spin: Duration::from_micros(self.spin_us),
            timing_trace: self.timing_trace.clone(),
            dead_letters: None,
        })
    }

    /// The dead-letter watch asked for, once the nations sent to (`sent_to`) are known; `Err`
    /// is a usage error.
    fn dead_letter_watch(
        &self,
        sent_to: &BTreeSet<Nation>,
    ) -> Result<Option<DeadLetterWatch>, String> {
        let Some(url) = &self.dlq_nats else {
            return Ok(None);
        };
        let site = match (self.dlq_site, sent_to.len(), sent_to.first()) {
            (Some(s), ..) => s,
            (None, 1, Some(n)) => *n,
            _ => {
                return Err(format!(
                    "--dlq-nats: this replay sends to {}; say whose dead letters to watch with --dlq-site",
                    if sent_to.is_empty() {
                        "no nation".to_owned()
                    } else {
                        sent_to
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
        };
        let password = crate::password(None, self.dlq_password_file.as_ref())
            .map_err(|e| e.replace("--password-file", "--dlq-password-file"))?;
        let user = self
            .dlq_user
            .clone()
            .or_else(|| password.as_ref().map(|_| format!("viewer-{site}")));
        if !self.dlq_settle_s.is_finite() || !(0.0..=3_600.0).contains(&self.dlq_settle_s) {
            return Err("--dlq-settle-s: between 0 and 3600".into());
        }
        Ok(Some(DeadLetterWatch {
            target: NatsTarget {
                url: url.clone(),
                user,
                password,
                js_domain: None,
                ca_file: self.dlq_ca_file.clone(),
            },
            site,
            subject: self
                .dlq_subject
                .clone()
                .unwrap_or_else(|| format!("tl.dlq.{site}")),
            settle: Duration::from_secs_f64(self.dlq_settle_s),
        }))
    }

    /// The view asked for (`--view-listen`); `Err` is a usage error.
    fn view_config(&self) -> Result<Option<trilink_view::ViewConfig>, String> {
        let Some(listen) = self.view_listen else {
            return Ok(None);
        };
        let nation = match (self.view_nation, &self.view_user) {
            (Some(n), _) => n,
            (None, Some(u)) => trilink_view::nation_of_viewer(u).ok_or_else(|| {
                format!("--view-user must be viewer-jp, viewer-kr or viewer-us, not {u:?}")
            })?,
            (None, None) => return Err("--view-listen needs --view-nation or --view-user".into()),
        };
        let user = self
            .view_user
            .clone()
            .unwrap_or_else(|| format!("viewer-{nation}"));
        if trilink_view::nation_of_viewer(&user) != Some(nation) {
            return Err(format!(
                "--view-user {user:?} is not the viewer of {nation} (viewer-{nation})"
            ));
        }
        if self.view_nats.is_empty() {
            return Err(format!(
                "--view-listen needs --view-nats URL ({nation}'s site: its leaf, or the hub for the US)"
            ));
        }
        let Some(file) = &self.view_password_file else {
            return Err("--view-listen needs --view-password-file".into());
        };
        let password = crate::password(None, Some(file))
            .map_err(|e| e.replace("--password-file", "--view-password-file"))?
            .unwrap_or_default();
        Ok(Some(trilink_view::ViewConfig {
            nation,
            nats_urls: self.view_nats.clone(),
            user,
            password,
            ca_file: self.view_ca_file.clone(),
            listen,
            heartbeat_interval: Duration::from_secs(5),
        }))
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
        "{elapsed_precise} [{bar:40}] {pos}/{len} ETA {eta} pass {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Run `trilink replay` (blocking; builds its own runtime).
pub fn run(args: &ReplayArgs) -> ExitCode {
    let (mut opts, view) = match args.options().and_then(|o| Ok((o, args.view_config()?))) {
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
    let sent_to: BTreeSet<Nation> = loaded
        .messages
        .iter()
        .map(|m| m.nation)
        .filter(|n| is_jsonl || opts.targets.contains_key(n))
        .collect();
    opts.dead_letters = match args.dead_letter_watch(&sent_to) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("trilink replay: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
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
    let speed_text = opts.speed_text();
    let code = rt.block_on(async {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        // Ctrl-C: stop (the summary says interrupted); a second Ctrl-C: exit at once.
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("trilink replay: interrupted twice; exiting without a summary");
                    std::process::exit(i32::from(EXIT_INTERRUPTED));
                }
            }
        });
        // The view first, so that it shows the whole replay.
        let view_stop = stop.child_token();
        let running_view = match view {
            Some(config) => {
                let nation = config.nation;
                match trilink_view::start(config, view_stop.clone()).await {
                    Ok(v) => {
                        notice(&format!("view ({nation} viewer): {}", v.url()));
                        Some(v)
                    }
                    Err(e) => {
                        eprintln!("trilink replay: view: {e}");
                        return ExitCode::from(EXIT_PROBLEM);
                    }
                }
            }
            None => None,
        };
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
        // After Ctrl-C the replay winds down (its own waits all end at the stop request);
        // should anything still hold it, it is given up after WIND_DOWN.
        let result = tokio::select! {
            r = trilink_replay::replay(&opts, loaded, &stop, &notice, &progress) => Some(r),
            () = async { stop.cancelled().await; tokio::time::sleep(WIND_DOWN).await } => None,
        };
        if let Some(t) = ticker {
            t.abort();
        }
        bar.finish_and_clear();
        let code = match result {
            None => {
                println!(
                    "replay {file} ({speed_text}): interrupted; stopped without waiting for the link {:.0} s after Ctrl-C ({} message(s) of pass {} handed over; no summary)",
                    WIND_DOWN.as_secs_f64(),
                    progress.done_in_pass.load(Ordering::Relaxed),
                    progress.pass.load(Ordering::Relaxed),
                );
                return ExitCode::from(EXIT_INTERRUPTED);
            }
            Some(Ok(summary)) => {
                let watch_error = summary
                    .dead_letters
                    .as_ref()
                    .and_then(|d| d.server_error.clone());
                if args.json {
                    println!("{}", summary.to_json(&args.capture, &opts.speed_json()));
                } else {
                    print!("{}", summary.to_text(&args.capture, &speed_text));
                }
                if summary.interrupted {
                    eprintln!("trilink replay: interrupted (Ctrl-C)");
                    ExitCode::from(EXIT_INTERRUPTED)
                } else if summary.failed > 0
                    || summary.rejected > 0
                    || summary.sent_total() == 0
                    || summary.dead_lettered() > 0
                    || watch_error.is_some()
                {
                    if summary.sent_total() == 0 {
                        eprintln!("trilink replay: nothing was sent");
                    }
                    if let Some(e) = &watch_error {
                        eprintln!("trilink replay: the dead-letter watch was refused by the server: {e}");
                    }
                    if summary.dead_lettered() > 0 {
                        eprintln!(
                            "trilink replay: {} of what was sent was dead-lettered",
                            summary.dead_lettered()
                        );
                    }
                    ExitCode::from(EXIT_PROBLEM)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Some(Err(e)) => {
                eprintln!("trilink replay: {e}");
                ExitCode::from(EXIT_PROBLEM)
            }
        };
        if let Some(v) = running_view {
            if !stop.is_cancelled() && args.view_hold_s > 0.0 {
                let hold = Duration::from_secs_f64(args.view_hold_s.clamp(0.0, 86_400.0));
                eprintln!(
                    "trilink replay: view kept for {:.0} s at {} (Ctrl-C ends it)",
                    hold.as_secs_f64(),
                    v.url()
                );
                tokio::select! {
                    () = tokio::time::sleep(hold) => {}
                    () = stop.cancelled() => {}
                }
            }
            view_stop.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(5), v.wait()).await;
        }
        code
    });
    // An interrupted replay may leave the clock thread inside a send: do not wait for it.
    rt.shutdown_background();
    code
}
