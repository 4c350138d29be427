//! `trilink replay <capture>`: send a capture into a live link at its recorded pace, scaled,
//! or flat out.
//!
//! - pcap / pcapng of national traffic: decoded with a [`CaptureMap`] (`--map`, else
//!   `<capture stem>.map.toml` or `capture-map.toml` beside the capture, else the map
//!   `trilink scenario` writes) and the real national codecs; each national frame's exact bytes
//!   are sent to the adapter's national port: `--jp udp://HOST:PORT`,
//!   `--kr mqtt://HOST:PORT[/TOPIC]` (PUBLISH QoS 1 on the KR national broker; topic defaults to
//!   the captured one), `--us tcp://HOST:PORT` or `--us udp://HOST:PORT`.
//! - JSON Lines of envelopes: each envelope is published with JetStream on its recorded subject
//!   (`--nats URL --user U --password P [--js-domain D]`), with `Nats-Msg-Id` = its message id
//!   like the adapters do. Records whose subject is not a trilink subject (e.g. `truth`) are
//!   rejected and counted.
//!
//! The capture is read and decoded completely before the first send (a bad capture sends
//! nothing). Timing: the sends happen on a dedicated OS thread (the "clock"), which prepares
//! each message ahead, sleeps (OS timer) to 100 µs before its due instant, busy-waits the rest
//! ([`Pacer`]) and hands the message over: UDP/TCP with one blocking system call on std
//! sockets, MQTT/NATS onto their client's queue (the async runtime on the calling thread runs
//! the connections, the progress bar and Ctrl-C). The timing error recorded is (instant the
//! send call returned − due instant); for MQTT that is the hand-off to the client's queue, and
//! the summary adds when the event loop wrote each PUBLISH to the broker connection.
//! At a recorded or scaled pace the clock thread asks for real-time scheduling (SCHED_FIFO,
//! `--rt-priority`, default 10): under normal scheduling a CPU-bound neighbour delays its
//! wake-ups by up to the scheduler's time slice (p99 3–4 ms measured with two busy processes
//! on 2 cores; 0.03–0.12 ms with SCHED_FIFO). Refused → normal scheduling, said on stderr
//! and in the summary. `trilink replay` gives its async runtime's thread, which writes the
//! MQTT and NATS messages, the same priority.
//!
//! This module must not contain national-format or routing knowledge: decoding is
//! `trilink-capture` + the national codecs; scheduling is `trilink_capture::Scheduler`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use trilink_capture::{
    CaptureDecoder, CaptureFormat, CaptureMap, CaptureReader, JsonlReader, ReplayFilter, Scheduler,
    Speed, TimingErrors, TimingSummary,
};
use trilink_schema::{Envelope, Mode, Nation, PayloadKind};

use crate::replay_rewrite::{ItemRewriter, ModeArg, TimestampsArg, real_world_refusal};
use crate::replay_tcp::TcpSink;
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

/// Default `--rt-priority`: low among real-time priorities (kernel threads that must preempt
/// us, such as the per-CPU ones handling interrupts, run at 50 and above).
const DEFAULT_RT_PRIORITY: u8 = 10;

/// How the clock thread was scheduled (`--rt-priority`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClockScheduling {
    /// The OS's normal time-sharing scheduling: `--rt-priority 0`, or `--max`.
    #[default]
    Normal,
    /// SCHED_FIFO at this priority.
    Realtime(u8),
    /// SCHED_FIFO at `priority` was refused (why); the clock thread kept normal scheduling.
    Refused {
        /// The priority asked for.
        priority: u8,
        /// The operating system's answer.
        reason: String,
    },
}

impl std::fmt::Display for ClockScheduling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Normal => f.write_str("normal"),
            Self::Realtime(p) => write!(f, "SCHED_FIFO {p}"),
            Self::Refused { priority, reason } => {
                write!(f, "normal (SCHED_FIFO {priority} refused: {reason})")
            }
        }
    }
}

/// Puts the calling thread under SCHED_FIFO at `priority`; 0 leaves it alone. The clock
/// thread sleeps between sends and busy-waits at most [`Pacer::DEFAULT_SPIN`] per send, so a
/// real-time clock thread takes the CPU only briefly, just when it must be on time (and the
/// kernel's real-time throttling keeps 5 % of every CPU for the rest regardless).
fn raise_to_realtime(priority: u8) -> ClockScheduling {
    if priority == 0 {
        return ClockScheduling::Normal;
    }
    let refused = |reason: String| ClockScheduling::Refused { priority, reason };
    #[cfg(unix)]
    {
        use thread_priority::unix::{
            RealtimeThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let value = match thread_priority::ThreadPriorityValue::try_from(priority) {
            Ok(v) => v,
            Err(e) => return refused(e),
        };
        match set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Crossplatform(value),
            ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
        ) {
            Ok(()) => ClockScheduling::Realtime(priority),
            Err(thread_priority::Error::OS(code)) => {
                refused(std::io::Error::from_raw_os_error(code).to_string())
            }
            Err(e) => refused(e.to_string()),
        }
    }
    #[cfg(not(unix))]
    {
        refused("not supported on this operating system".to_owned())
    }
}

/// The real-time priority to ask for: `--rt-priority` where timing matters (a recorded or
/// scaled pace), none flat out (`--max`: the clock thread never sleeps, it would hold a core).
fn realtime_priority(args: &ReplayArgs, speed: Speed) -> u8 {
    match speed {
        Speed::Factor(_) => args.rt_priority,
        Speed::Max => 0,
    }
}

/// [`Pacer::DEFAULT_SPIN`] in microseconds.
const DEFAULT_SPIN_US: u64 = Pacer::DEFAULT_SPIN.as_micros() as u64;

/// A time-window bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeSpec {
    /// An absolute instant.
    At(DateTime<Utc>),
    /// Seconds after the capture's first message.
    After(f64),
}

fn parse_time(s: &str) -> Result<TimeSpec, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(TimeSpec::At(t.with_timezone(&Utc)));
    }
    match s.trim_end_matches('s').parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(TimeSpec::After(v)),
        _ => Err(format!(
            "{s:?} is neither RFC 3339 nor a number of seconds ≥ 0"
        )),
    }
}

fn parse_nation(s: &str) -> Result<Nation, String> {
    s.parse::<Nation>().map_err(|e| e.to_string())
}

fn parse_kind(s: &str) -> Result<PayloadKind, String> {
    PayloadKind::ALL
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!(
                "unknown kind {s:?} (one of {})",
                PayloadKind::ALL.map(PayloadKind::as_str).join(", ")
            )
        })
}

/// Where a nation's national frames go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// UDP datagrams to an address.
    Udp(SocketAddr),
    /// A TCP stream to an address.
    Tcp(SocketAddr),
    /// MQTT PUBLISH on a broker; `None` topic = the captured one.
    Mqtt {
        /// Broker host.
        host: String,
        /// Broker port.
        port: u16,
        /// Topic override.
        topic: Option<String>,
    },
}

/// Parse `udp://H:P`, `tcp://H:P`, `mqtt://H:P[/topic]`.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let (scheme, rest) = s
        .split_once("://")
        .ok_or_else(|| format!("{s:?}: expected SCHEME://HOST:PORT (udp, tcp or mqtt)"))?;
    let resolve = |hp: &str| -> Result<SocketAddr, String> {
        hp.to_socket_addrs()
            .map_err(|e| format!("{s:?}: {hp:?} is not HOST:PORT ({e})"))?
            .next()
            .ok_or_else(|| format!("{s:?}: {hp:?} resolves to no address"))
    };
    match scheme {
        "udp" => resolve(rest).map(Target::Udp),
        "tcp" => resolve(rest).map(Target::Tcp),
        "mqtt" => {
            let (hp, topic) = match rest.split_once('/') {
                Some((hp, t)) if !t.is_empty() => (hp, Some(t.to_owned())),
                Some((hp, _)) => (hp, None),
                None => (rest, None),
            };
            let (host, port) = hp
                .rsplit_once(':')
                .ok_or_else(|| format!("{s:?}: expected mqtt://HOST:PORT[/TOPIC]"))?;
            let port = port
                .parse::<u16>()
                .map_err(|e| format!("{s:?}: bad port {port:?}: {e}"))?;
            if let Some(t) = &topic
                && t.contains(['+', '#'])
            {
                return Err(format!("{s:?}: a publish topic cannot contain + or #"));
            }
            Ok(Target::Mqtt {
                host: host.to_owned(),
                port,
                topic,
            })
        }
        other => Err(format!(
            "{s:?}: unknown scheme {other:?} (udp, tcp or mqtt)"
        )),
    }
}

/// One message to send.
#[derive(Debug, Clone)]
struct Item {
    ts: DateTime<Utc>,
    nation: Nation,
    body: Body,
}

#[derive(Debug, Clone)]
enum Body {
    /// A national frame: its recorded bytes (rewritten per pass when `--mode`/`--timestamps`
    /// ask for it).
    National { raw: Bytes, topic: Option<String> },
    /// An envelope: `body` is the recorded serialization, `envelope` what a rewrite starts
    /// from.
    Nats {
        subject: String,
        msg_id: String,
        body: Bytes,
        envelope: Box<Envelope>,
    },
}

/// What was loaded from the capture.
#[derive(Debug, Default)]
struct Loaded {
    format: &'static str,
    items: Vec<Item>,
    total: u64,
    filtered_out: u64,
    rejected: u64,
    unmapped: u64,
    first_problems: Vec<String>,
    /// Selected messages that would be sent as real_world (only with `--mode as-recorded`).
    real_world: u64,
    /// Selected messages recorded as real_world.
    recorded_real_world: u64,
}

impl Loaded {
    fn reject(&mut self, why: String) {
        self.rejected += 1;
        if self.first_problems.len() < 5 {
            self.first_problems.push(why);
        }
    }
}

fn resolve_window(args: &ReplayArgs, first: Option<DateTime<Utc>>) -> ReplayFilter {
    let at = |t: TimeSpec| match t {
        TimeSpec::At(t) => Some(t),
        TimeSpec::After(s) => {
            first.map(|f| f + chrono::Duration::nanoseconds((s * 1e9).min(i64::MAX as f64) as i64))
        }
    };
    ReplayFilter {
        nations: args.nation.iter().copied().collect(),
        kinds: args.kind.iter().copied().collect(),
        from: args.from.and_then(at),
        until: args.until.and_then(at),
    }
}

/// The capture map for a pcap/pcapng: `--map`, `<stem>.map.toml`, `capture-map.toml` beside
/// the capture, or the scenario map.
fn load_map(args: &ReplayArgs) -> Result<(CaptureMap, String)> {
    let beside = |name: String| args.capture.with_file_name(name);
    let candidates: Vec<PathBuf> = if let Some(p) = &args.map {
        vec![p.clone()]
    } else {
        let stem = args
            .capture
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        vec![
            beside(format!("{stem}.map.toml")),
            beside("capture-map.toml".into()),
        ]
    };
    for p in candidates {
        if args.map.is_none() && !p.is_file() {
            continue;
        }
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading map {}", p.display()))?;
        let map: CaptureMap =
            toml::from_str(&text).map_err(|e| anyhow!("map {}: {e}", p.display()))?;
        return Ok((map, p.display().to_string()));
    }
    Ok((
        crate::scenario_cmd::national_map(),
        "built-in (jp udp 5500, kr mqtt 1883, us tcp 5601)".into(),
    ))
}

fn load(args: &ReplayArgs, file: &str, data: &[u8], speed: Speed) -> Result<Loaded, String> {
    let format = CaptureFormat::detect(file, data).map_err(|e| e.to_string())?;
    let mut loaded = match format {
        CaptureFormat::Jsonl => load_jsonl(args, file, data),
        _ => load_national(args, file, data, format),
    }?;
    check_rewrites(args, &mut loaded, speed);
    Ok(loaded)
}

/// The rewriter for `--mode`/`--timestamps` over these items.
fn item_rewriter(args: &ReplayArgs, items: &[Item], speed: Speed) -> Option<ItemRewriter> {
    let first = items.first()?.ts;
    let last = items.iter().map(|i| i.ts).max().unwrap_or(first);
    Some(ItemRewriter {
        frames: ItemRewriter::national_codecs(),
        mode: args.mode.forced(),
        retime: args.timestamps == TimestampsArg::Retimed,
        speed,
        first,
        last,
    })
}

/// Before anything is sent: rewrite every selected message once (as if the replay started
/// now) to learn the mode it goes out with and to reject, up front, a message that cannot be
/// rewritten (e.g. a time the format cannot carry after retiming).
fn check_rewrites(args: &ReplayArgs, loaded: &mut Loaded, speed: Speed) {
    let Some(rewriter) = item_rewriter(args, &loaded.items, speed) else {
        return;
    };
    let rw = rewriter.for_pass(Utc::now());
    let items = std::mem::take(&mut loaded.items);
    for item in items {
        let (recorded, sent) = match &item.body {
            Body::National { raw, .. } => {
                let recorded = rewriter.national(
                    item.nation,
                    raw,
                    item.ts,
                    &trilink_capture::Rewrite::default(),
                );
                let sent = rewriter.national(item.nation, raw, item.ts, &rw);
                match (recorded, sent) {
                    (Ok((_, r)), Ok((_, s))) => (r, s),
                    (Err(e), _) | (_, Err(e)) => {
                        loaded.reject(format!("{}: cannot rewrite for replay: {e}", item.nation));
                        continue;
                    }
                }
            }
            Body::Nats { envelope, .. } => match ItemRewriter::envelope(envelope, &rw) {
                Ok((_, s)) => (envelope.mode, s),
                Err(e) => {
                    loaded.reject(format!(
                        "{}: cannot rewrite for replay: {e}",
                        envelope.message_id
                    ));
                    continue;
                }
            },
        };
        loaded.recorded_real_world += u64::from(recorded == Mode::RealWorld);
        loaded.real_world += u64::from(sent == Mode::RealWorld);
        loaded.items.push(item);
    }
}

fn load_jsonl(args: &ReplayArgs, file: &str, data: &[u8]) -> Result<Loaded, String> {
    let records = JsonlReader::new(file, data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let filter = resolve_window(args, records.first().map(|r| r.ts));
    let mut out = Loaded {
        format: "jsonl",
        ..Loaded::default()
    };
    for (i, r) in records.into_iter().enumerate() {
        out.total += 1;
        if !filter.matches_jsonl(&r) {
            out.filtered_out += 1;
            continue;
        }
        if let Err(e) = r.parsed_subject() {
            out.reject(format!(
                "{file}: line {}: subject {:?} is not a trilink subject: {e}",
                i + 1,
                r.subject
            ));
            continue;
        }
        let body = match serde_json::to_vec(&r.envelope) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                out.reject(format!("{file}: line {}: {e}", i + 1));
                continue;
            }
        };
        out.items.push(Item {
            ts: r.ts,
            nation: r.envelope.origin,
            body: Body::Nats {
                subject: r.subject,
                msg_id: r.envelope.message_id.to_string(),
                body,
                envelope: Box::new(r.envelope),
            },
        });
    }
    Ok(out)
}

fn load_national(
    args: &ReplayArgs,
    file: &str,
    data: &[u8],
    format: CaptureFormat,
) -> Result<Loaded, String> {
    let (map, _) = load_map(args).map_err(|e| format!("{e:#}"))?;
    let mut decoder = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_kr::KrCodec)
        .with_codec(trilink_us::UsCodec::default());
    let mut decoded = Vec::new();
    for m in CaptureReader::new(file, data) {
        let m = m.map_err(|e| e.to_string())?;
        decoded.extend(decoder.push(&m));
    }
    decoded.extend(decoder.finish());
    let first = decoded
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.timestamp)
        .min();
    let filter = resolve_window(args, first);
    let mut out = Loaded {
        format: if format == CaptureFormat::Pcap {
            "pcap"
        } else {
            "pcapng"
        },
        unmapped: decoder.unmapped(),
        ..Loaded::default()
    };
    for r in decoded {
        out.total += 1;
        match r {
            Ok(r) if filter.matches_record(&r) => out.items.push(Item {
                ts: r.timestamp,
                nation: r.nation,
                body: Body::National {
                    raw: r.raw,
                    topic: r.topic,
                },
            }),
            Ok(_) => out.filtered_out += 1,
            Err(e) => out.reject(format!("{file}: undecodable frame: {e}")),
        }
    }
    Ok(out)
}

/// A connected sender for one nation (national) or NATS. Used from the clock thread: UDP and
/// TCP are blocking std sockets (the due instant is followed by one system call, no runtime
/// hop); MQTT and NATS hand the message to their client's queue on the async runtime.
enum Sink {
    Udp(std::net::UdpSocket, SocketAddr),
    Tcp(TcpSink),
    Mqtt(MqttSink),
    Nats(NatsSink),
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Sink::Udp(..) => "Sink::Udp",
            Sink::Tcp(_) => "Sink::Tcp",
            Sink::Mqtt(_) => "Sink::Mqtt",
            Sink::Nats(_) => "Sink::Nats",
        })
    }
}

struct MqttSink {
    client: AsyncClient,
    topic: Option<String>,
    published: u64,
    acked: Arc<AtomicU64>,
    /// When the event loop wrote each PUBLISH to the broker connection (its
    /// `Outgoing::Publish` event follows the socket flush), in order.
    wire: Arc<Mutex<Vec<Instant>>>,
    stop: CancellationToken,
}

struct NatsSink {
    js: async_nats::jetstream::Context,
    pending: VecDeque<async_nats::jetstream::context::PublishAckFuture>,
    failed: u64,
}

/// A message made ready for its sink before its due instant, so that only the hand-off is
/// left at the due instant.
enum Prepared {
    /// UDP datagram or TCP bytes.
    Raw(Bytes),
    Mqtt {
        topic: String,
        payload: Vec<u8>,
    },
    Nats {
        subject: String,
        msg: async_nats::jetstream::message::PublishMessage,
    },
    /// The item does not fit the sink (a bug: national frames go to national sinks).
    Mismatch,
}

const NATS_WINDOW: usize = 256;
const DEFAULT_KR_TOPIC: &str = crate::scenario_cmd::KR_TOPIC;

async fn connect_mqtt(host: &str, port: u16, topic: Option<String>) -> Result<MqttSink> {
    let mut opts = MqttOptions::new(
        format!("trilink-replay-{}", std::process::id()),
        host.to_owned(),
        port,
    );
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut events) = AsyncClient::new(opts, 4_096);
    let acked = Arc::new(AtomicU64::new(0));
    let connected = Arc::new(AtomicBool::new(false));
    let wire = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    {
        let (acked, connected, wire, stop) =
            (acked.clone(), connected.clone(), wire.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    ev = events.poll() => match ev {
                        Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                            let at = Instant::now();
                            if let Ok(mut w) = wire.lock() {
                                w.push(at);
                            }
                        }
                        Ok(Event::Incoming(Packet::ConnAck(_))) => connected.store(true, Ordering::SeqCst),
                        Ok(Event::Incoming(Packet::PubAck(_))) => { acked.fetch_add(1, Ordering::SeqCst); }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!("replay MQTT connection: {e}");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !connected.load(Ordering::SeqCst) {
        if Instant::now() > deadline {
            stop.cancel();
            return Err(anyhow!(
                "MQTT broker {host}:{port} did not accept a connection within 10 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(MqttSink {
        client,
        topic,
        published: 0,
        acked,
        wire,
        stop,
    })
}

async fn connect_target(t: &Target) -> Result<Sink> {
    match t {
        Target::Udp(a) => {
            let bind: SocketAddr = if a.is_ipv4() {
                SocketAddr::from(([0, 0, 0, 0], 0))
            } else {
                SocketAddr::from(([0_u16; 8], 0))
            };
            Ok(Sink::Udp(std::net::UdpSocket::bind(bind)?, *a))
        }
        Target::Tcp(a) => {
            let s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(a))
                .await
                .map_err(|_| anyhow!("connecting to tcp://{a}: timed out after 10 s"))?
                .with_context(|| format!("connecting to tcp://{a}"))?;
            s.set_nodelay(true)?;
            let s = s.into_std()?;
            s.set_nonblocking(false)?;
            Ok(Sink::Tcp(TcpSink::new(*a, s)))
        }
        Target::Mqtt { host, port, topic } => {
            Ok(Sink::Mqtt(connect_mqtt(host, *port, topic.clone()).await?))
        }
    }
}

async fn connect_nats(args: &ReplayArgs) -> Result<Sink> {
    let url = args
        .nats
        .as_deref()
        .ok_or_else(|| anyhow!("a JSON Lines capture needs --nats URL"))?;
    let mut opts = async_nats::ConnectOptions::new().name("trilink-replay");
    if let (Some(u), Some(p)) = (&args.user, &args.password) {
        opts = async_nats::ConnectOptions::with_user_and_password(u.clone(), p.clone())
            .name("trilink-replay");
    }
    let client = tokio::time::timeout(Duration::from_secs(10), opts.connect(url))
        .await
        .map_err(|_| anyhow!("connecting to NATS {url}: timed out after 10 s"))?
        .with_context(|| format!("connecting to NATS {url}"))?;
    let js = match &args.js_domain {
        Some(d) => async_nats::jetstream::with_domain(client, d),
        None => async_nats::jetstream::new(client),
    };
    Ok(Sink::Nats(NatsSink {
        js,
        pending: VecDeque::new(),
        failed: 0,
    }))
}

impl Sink {
    /// Everything that can be done for `item` before its due instant.
    fn prepare(&self, item: &Item) -> Prepared {
        match (self, &item.body) {
            (Sink::Udp(..) | Sink::Tcp(_), Body::National { raw, .. }) => {
                Prepared::Raw(raw.clone())
            }
            (Sink::Mqtt(m), Body::National { raw, topic }) => Prepared::Mqtt {
                topic: m
                    .topic
                    .clone()
                    .or_else(|| topic.clone())
                    .unwrap_or_else(|| DEFAULT_KR_TOPIC.to_owned()),
                payload: raw.to_vec(),
            },
            (
                Sink::Nats(_),
                Body::Nats {
                    subject,
                    msg_id,
                    body,
                    ..
                },
            ) => Prepared::Nats {
                subject: subject.clone(),
                msg: async_nats::jetstream::message::PublishMessage::build()
                    .payload(body.clone())
                    .message_id(msg_id.as_str())
                    .header(
                        trilink_schema::headers::SCHEMA_VERSION,
                        trilink_schema::SCHEMA_VERSION.to_string().as_str(),
                    ),
            },
            _ => Prepared::Mismatch,
        }
    }

    /// Hand a prepared message over (blocking; called on the clock thread, `rt` drives the
    /// MQTT/NATS client queues). `Err` is a send failure (counted, the replay goes on).
    fn send(&mut self, p: Prepared, rt: &Handle, stop: &CancellationToken) -> Result<(), String> {
        match (self, p) {
            (Sink::Udp(s, to), Prepared::Raw(raw)) => {
                s.send_to(&raw, *to).map(drop).map_err(|e| e.to_string())
            }
            (Sink::Tcp(s), Prepared::Raw(raw)) => s.send(&raw, &|| stop.is_cancelled()),
            (Sink::Mqtt(m), Prepared::Mqtt { topic, payload }) => {
                rt.block_on(m.client.publish(topic, QoS::AtLeastOnce, false, payload))
                    .map_err(|e| e.to_string())?;
                m.published += 1;
                Ok(())
            }
            (Sink::Nats(n), Prepared::Nats { subject, msg }) => {
                if n.pending.len() >= NATS_WINDOW
                    && let Some(ack) = n.pending.pop_front()
                    && rt.block_on(async { ack.await }).is_err()
                {
                    n.failed += 1;
                }
                let ack = rt
                    .block_on(n.js.send_publish(subject, msg))
                    .map_err(|e| e.to_string())?;
                n.pending.push_back(ack);
                Ok(())
            }
            _ => Err("message kind does not match the target".into()),
        }
    }

    /// Wait for outstanding acknowledgements; returns how many failed or never came.
    async fn finish(self) -> u64 {
        match self {
            Sink::Udp(..) => 0,
            Sink::Tcp(s) => u64::from(s.finish()),
            Sink::Mqtt(m) => {
                let deadline = Instant::now() + Duration::from_secs(10);
                while m.acked.load(Ordering::SeqCst) < m.published && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                let missing = m.published.saturating_sub(m.acked.load(Ordering::SeqCst));
                let _ = m.client.disconnect().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                m.stop.cancel();
                missing
            }
            Sink::Nats(mut n) => {
                for ack in n.pending.drain(..) {
                    match tokio::time::timeout(Duration::from_secs(10), ack).await {
                        Ok(Ok(_)) => {}
                        _ => n.failed += 1,
                    }
                }
                n.failed
            }
        }
    }

    /// TCP: reconnections made.
    fn reconnects(&self) -> u64 {
        match self {
            Sink::Tcp(t) => t.reconnects(),
            _ => 0,
        }
    }

    /// For MQTT: when the event loop wrote each PUBLISH to the broker connection.
    fn mqtt_wire(&self) -> Option<Arc<Mutex<Vec<Instant>>>> {
        match self {
            Sink::Mqtt(m) => Some(m.wire.clone()),
            _ => None,
        }
    }
}

/// Per-thread scheduler counters (Linux `/proc/thread-self`), for `--timing-trace`: time spent
/// runnable but waiting for a CPU, and involuntary context switches. Zeros elsewhere.
#[derive(Debug, Clone, Copy, Default)]
struct SchedSnap {
    runqueue_wait_ns: u64,
    involuntary_switches: u64,
}

impl SchedSnap {
    fn now() -> Self {
        let runqueue_wait_ns = std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|t| t.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        let involuntary_switches = std::fs::read_to_string("/proc/thread-self/status")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0);
        Self {
            runqueue_wait_ns,
            involuntary_switches,
        }
    }
}

/// `--timing-trace` columns: pass, index in the pass, nation, due instant (ms after the
/// start), timing error, duration of the send call, how long before the due instant the last
/// OS sleep returned (negative: the wake-up itself was late; empty: no sleep), time the clock
/// thread spent runnable but waiting for a CPU between the start of the wait and the end of
/// the send, and involuntary context switches in that interval.
const TRACE_HEADER: &str = "pass,index,nation,due_ms,error_us,send_call_us,woke_before_due_us,runqueue_wait_us,involuntary_switches";

/// Blocks the calling thread until a due instant: an OS sleep (on Linux a high-resolution
/// timer, woken ~50–80 µs late by the default 50 µs timer slack, later when the CPUs are busy)
/// to `spin` before the instant, then a busy-wait ([`std::hint::spin_loop`]) for the rest. The
/// busy part is bounded by `spin` per wait, so long gaps cost no CPU. For the clock thread
/// (it blocks). Never returns before the due instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pacer {
    spin: Duration,
}

impl Pacer {
    /// Default busy-wait window: covers the timer slack on an idle core. Kept short on
    /// purpose: on a contended CPU every microsecond spun makes the thread less likely to win
    /// the CPU at its next wake-up (measured on the loaded 2-core box, salvo at ×20 and a
    /// 1 000 frames/s capture: p99 with 100 µs ≈ ⅓ of that with 300 µs; 1–2.5 ms was worse still).
    const DEFAULT_SPIN: Duration = Duration::from_micros(100);
    /// Longest single sleep: a stop request is noticed within it.
    const MAX_NAP: Duration = Duration::from_millis(20);

    /// Busy-wait the last `spin` before each due instant (zero: sleep only).
    fn new(spin: Duration) -> Self {
        Self { spin }
    }

    /// Block until `due` (at once if it has passed): `Ok` with the instant the last OS sleep
    /// returned (`None` without a sleep; for `--timing-trace`), or `Err(Stopped)` as soon as
    /// `stopped()` is true (checked before every sleep, so within [`Self::MAX_NAP`]).
    fn wait_until(
        self,
        due: Instant,
        stopped: impl Fn() -> bool,
    ) -> Result<Option<Instant>, Stopped> {
        let mut woke = None;
        loop {
            if stopped() {
                return Err(Stopped);
            }
            let now = Instant::now();
            let Some(left) = due.checked_duration_since(now).filter(|d| !d.is_zero()) else {
                return Ok(woke);
            };
            if let Some(nap) = left.checked_sub(self.spin).filter(|d| !d.is_zero()) {
                std::thread::sleep(nap.min(Self::MAX_NAP));
                woke = Some(Instant::now());
            } else {
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
                return Ok(woke);
            }
        }
    }
}

/// A [`Pacer`] wait ended by a stop request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stopped;

/// What the clock thread is given.
struct ClockJob {
    items: Vec<Item>,
    sinks: BTreeMap<Nation, Sink>,
    nats: Option<Sink>,
    speed: Speed,
    pacer: Pacer,
    loops: Option<u64>,
    trace: bool,
    /// `--mode`/`--timestamps` rewriting, applied pass by pass (`None`: send as loaded).
    rewriter: Option<ItemRewriter>,
}

/// The wall-clock time of a (near) monotonic instant.
fn utc_at(at: Instant) -> DateTime<Utc> {
    let now = Instant::now();
    let utc = Utc::now();
    let delta = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    if at >= now {
        utc.checked_add_signed(delta(at - now)).unwrap_or(utc)
    } else {
        utc.checked_sub_signed(delta(now - at)).unwrap_or(utc)
    }
}

/// `item` as this pass sends it: mode and times rewritten.
fn rewrite_item(
    r: &ItemRewriter,
    item: &Item,
    rw: &trilink_capture::Rewrite,
) -> Result<Item, String> {
    let body = match &item.body {
        Body::National { raw, topic } => Body::National {
            raw: r.national(item.nation, raw, item.ts, rw)?.0,
            topic: topic.clone(),
        },
        Body::Nats {
            subject,
            msg_id,
            envelope,
            ..
        } => Body::Nats {
            subject: subject.clone(),
            msg_id: msg_id.clone(),
            body: ItemRewriter::envelope(envelope, rw)?.0,
            envelope: envelope.clone(),
        },
    };
    Ok(Item {
        ts: item.ts,
        nation: item.nation,
        body,
    })
}

/// What the clock thread hands back.
struct ClockOutcome {
    sinks: BTreeMap<Nation, Sink>,
    nats: Option<Sink>,
    sent: BTreeMap<Nation, u64>,
    failed: u64,
    no_target: u64,
    passes: u64,
    interrupted: bool,
    elapsed: Duration,
    timing: TimingErrors,
    /// Due instants of the MQTT publishes, in order (paced replays only).
    mqtt_due: Vec<Instant>,
    trace: Vec<String>,
}

/// Sending position, read by the progress bar ticker.
#[derive(Debug, Default)]
struct Progress {
    done_in_pass: AtomicU64,
    pass: AtomicU64,
}

/// The replay loop, on its own OS thread: for each item, prepare it, wait for its due instant
/// with the [`Pacer`] (sleep, then a bounded spin), hand it to its sink, and record the timing
/// error = the instant the send call returned − the due instant.
fn run_clock(
    job: ClockJob,
    rt: &Handle,
    stop: &CancellationToken,
    progress: &Progress,
    bar: &ProgressBar,
) -> ClockOutcome {
    let ClockJob {
        items,
        mut sinks,
        mut nats,
        speed,
        pacer,
        loops,
        trace,
        rewriter,
    } = job;
    let mut out = ClockOutcome {
        sinks: BTreeMap::new(),
        nats: None,
        sent: BTreeMap::new(),
        failed: 0,
        no_target: 0,
        passes: 0,
        interrupted: false,
        elapsed: Duration::ZERO,
        timing: TimingErrors::new(),
        mqtt_due: Vec::new(),
        trace: Vec::new(),
    };
    if trace {
        out.trace.push(TRACE_HEADER.to_owned());
    }
    let paced = matches!(speed, Speed::Factor(_));
    let started = Instant::now();
    let lead = Duration::from_millis(20);
    let mut sched = Scheduler::new(speed, started + lead);
    let mut failures_shown = 0;
    'passes: loop {
        let pass_start = if out.passes > 0 {
            let at = Instant::now() + lead;
            sched.restart(at);
            at
        } else {
            started + lead
        };
        let rw = rewriter
            .as_ref()
            .filter(|r| !r.is_identity())
            .map(|r| (r, r.for_pass(utc_at(pass_start))));
        out.passes += 1;
        progress.pass.store(out.passes, Ordering::Relaxed);
        progress.done_in_pass.store(0, Ordering::Relaxed);
        for (index, item) in items.iter().enumerate() {
            let due = sched.due(item.ts);
            let sink = match &mut nats {
                Some(s) => Some(s),
                None => sinks.get_mut(&item.nation),
            };
            let Some(sink) = sink else {
                out.no_target += 1;
                progress.done_in_pass.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let rewritten;
            let item = match &rw {
                Some((r, rw)) => match rewrite_item(r, item, rw) {
                    Ok(i) => {
                        rewritten = i;
                        &rewritten
                    }
                    Err(e) => {
                        out.failed += 1;
                        if failures_shown < 5 {
                            failures_shown += 1;
                            bar.suspend(|| {
                                eprintln!(
                                    "trilink replay: rewriting a {} message: {e}",
                                    item.nation
                                );
                            });
                        }
                        progress.done_in_pass.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                None => item,
            };
            let prepared = sink.prepare(item);
            let before = trace.then(SchedSnap::now);
            let Ok(woke) = pacer.wait_until(due, || stop.is_cancelled()) else {
                out.interrupted = true;
                break 'passes;
            };
            let call = Instant::now();
            let res = sink.send(prepared, rt, stop);
            let sent_at = Instant::now();
            if paced {
                out.timing.record(due, sent_at);
                if matches!(sink, Sink::Mqtt(_)) && res.is_ok() {
                    out.mqtt_due.push(due);
                }
            }
            if let Some(before) = before {
                let after = SchedSnap::now();
                out.trace.push(format!(
                    "{},{index},{},{:.3},{:.1},{:.1},{},{:.1},{}",
                    out.passes,
                    item.nation,
                    signed_us(due, started) / 1e3,
                    signed_us(sent_at, due),
                    signed_us(sent_at, call),
                    woke.map(|w| format!("{:.1}", signed_us(due, w)))
                        .unwrap_or_default(),
                    after
                        .runqueue_wait_ns
                        .saturating_sub(before.runqueue_wait_ns) as f64
                        / 1e3,
                    after
                        .involuntary_switches
                        .saturating_sub(before.involuntary_switches),
                ));
            }
            match res {
                Ok(()) => *out.sent.entry(item.nation).or_default() += 1,
                Err(e) => {
                    out.failed += 1;
                    if failures_shown < 5 {
                        failures_shown += 1;
                        bar.suspend(|| {
                            eprintln!("trilink replay: sending a {} message: {e}", item.nation);
                        });
                    }
                }
            }
            progress.done_in_pass.fetch_add(1, Ordering::Relaxed);
        }
        match loops {
            None => break,
            Some(0) => {}
            Some(n) if out.passes >= n => break,
            Some(_) => {}
        }
        if items.is_empty() {
            break;
        }
    }
    out.elapsed = started.elapsed();
    out.sinks = sinks;
    out.nats = nats;
    out
}

/// `a − b` in microseconds, signed.
fn signed_us(a: Instant, b: Instant) -> f64 {
    if a >= b {
        a.duration_since(b).as_secs_f64() * 1e6
    } else {
        -(b.duration_since(a).as_secs_f64() * 1e6)
    }
}

/// Result of a replay.
#[derive(Debug, Clone, Default)]
pub struct ReplaySummary {
    /// Capture format (`pcapng`, `pcap`, `jsonl`).
    pub format: &'static str,
    /// Messages (national frames or JSONL records) in the capture, decodable or not.
    pub in_capture: u64,
    /// Left out by `--nation/--kind/--from/--until`.
    pub filtered_out: u64,
    /// Undecodable frames or unusable records (not sent).
    pub rejected: u64,
    /// Packets of the capture on no mapped flow.
    pub unmapped: u64,
    /// Selected messages whose nation had no target (not sent).
    pub no_target: u64,
    /// Sent, per nation.
    pub sent: BTreeMap<Nation, u64>,
    /// Send failures (incl. missing acknowledgements).
    pub failed: u64,
    /// Passes completed (or started, when stopped).
    pub passes: u64,
    /// Wall time of the sending.
    pub elapsed: Duration,
    /// Timing error at a recorded (scaled) pace; `None` with `--max`.
    pub timing: Option<TimingSummary>,
    /// MQTT at a recorded pace: when the client's event loop wrote each PUBLISH to the broker
    /// connection − the due instant (`timing` has the hand-off to the client's queue).
    pub mqtt_wire: Option<TimingSummary>,
    /// Stopped by Ctrl-C.
    pub interrupted: bool,
    /// How the thread pacing the sends was scheduled.
    pub clock_scheduling: ClockScheduling,
    /// `--mode` (`exercise`, `test`, `as-recorded`).
    pub mode: &'static str,
    /// `--timestamps` (`retimed`, `as-recorded`).
    pub timestamps: &'static str,
    /// Selected messages recorded as real_world.
    pub recorded_real_world: u64,
    /// Selected messages sent as real_world (only with `--mode as-recorded --real-world`).
    pub real_world: u64,
    /// TCP reconnections (a target's connection broke and was made again).
    pub reconnects: u64,
}

impl ReplaySummary {
    /// Total sent.
    pub fn sent_total(&self) -> u64 {
        self.sent.values().sum()
    }

    fn to_json(&self, capture: &Path, speed: &str) -> serde_json::Value {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        serde_json::json!({
            "capture": capture.display().to_string(),
            "format": self.format,
            "speed": speed,
            "in_capture": self.in_capture,
            "filtered_out": self.filtered_out,
            "rejected": self.rejected,
            "unmapped_packets": self.unmapped,
            "no_target": self.no_target,
            "sent": self.sent_total(),
            "sent_by_nation": self.sent.iter().map(|(n, c)| (n.to_string(), *c)).collect::<BTreeMap<_, _>>(),
            "failed": self.failed,
            "passes": self.passes,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "rate_per_s": self.rate(),
            "interrupted": self.interrupted,
            "clock_scheduling": self.clock_scheduling.to_string(),
            "mode": self.mode,
            "timestamps": self.timestamps,
            "recorded_real_world": self.recorded_real_world,
            "real_world": self.real_world,
            "reconnects": self.reconnects,
            "timing_error_ms": self.timing.map(|t| serde_json::json!({
                "count": t.count, "p50": ms(t.p50), "p90": ms(t.p90), "p99": ms(t.p99),
                "max": ms(t.max), "early": t.early,
            })),
            "mqtt_wire_error_ms": self.mqtt_wire.map(|t| serde_json::json!({
                "count": t.count, "p50": ms(t.p50), "p90": ms(t.p90), "p99": ms(t.p99),
                "max": ms(t.max), "early": t.early,
            })),
        })
    }

    fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.sent_total() as f64 / s
        } else {
            0.0
        }
    }

    fn to_text(&self, capture: &Path, speed: &str) -> String {
        let by: Vec<String> = self.sent.iter().map(|(n, c)| format!("{n} {c}")).collect();
        let mut s = format!(
            "replay {} ({}, {speed}): {} messages in capture, {} filtered out, {} rejected (undecodable/unusable), {} unmapped packets, {} without a target\n",
            capture.display(),
            self.format,
            self.in_capture,
            self.filtered_out,
            self.rejected,
            self.unmapped,
            self.no_target,
        );
        let _ = writeln!(
            s,
            "sent {} ({}), failed {}, {} TCP reconnect(s), {} pass(es) in {:.3} s, {:.1} msg/s{}",
            self.sent_total(),
            if by.is_empty() {
                "none".into()
            } else {
                by.join(", ")
            },
            self.failed,
            self.reconnects,
            self.passes,
            self.elapsed.as_secs_f64(),
            self.rate(),
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "mode {} ({} recorded as real_world, {} sent as real_world), timestamps {}",
            self.mode, self.recorded_real_world, self.real_world, self.timestamps
        );
        match self.timing {
            Some(t) => {
                let _ = writeln!(
                    s,
                    "timing error (send returned − due): p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} sends ({} early); clock thread {}",
                    t.p50.as_secs_f64() * 1e3,
                    t.p90.as_secs_f64() * 1e3,
                    t.p99.as_secs_f64() * 1e3,
                    t.max.as_secs_f64() * 1e3,
                    t.count,
                    t.early,
                    self.clock_scheduling,
                );
            }
            None => s.push_str("timing error: n/a (--max)\n"),
        }
        if let Some(t) = self.mqtt_wire {
            let _ = writeln!(
                s,
                "MQTT PUBLISH written to the broker connection − due: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms over {} publishes",
                t.p50.as_secs_f64() * 1e3,
                t.p90.as_secs_f64() * 1e3,
                t.p99.as_secs_f64() * 1e3,
                t.max.as_secs_f64() * 1e3,
                t.count,
            );
        }
        s
    }
}

fn parse_targets(args: &ReplayArgs) -> Result<BTreeMap<Nation, Target>, String> {
    let mut targets = BTreeMap::new();
    for (n, v) in [
        (Nation::Jp, &args.jp),
        (Nation::Kr, &args.kr),
        (Nation::Us, &args.us),
    ] {
        if let Some(v) = v {
            targets.insert(n, parse_target(v).map_err(|e| format!("--{n}: {e}"))?);
        }
    }
    Ok(targets)
}

/// Replay in-process on the caller's tokio runtime (for `policy test --live`, benchmarks):
/// what `trilink replay` does, without printing. Timing is best on a current-thread runtime
/// (the command uses one).
pub async fn replay_in_process(
    args: &ReplayArgs,
    stop: &CancellationToken,
) -> Result<ReplaySummary> {
    let speed = if args.max {
        Speed::Max
    } else {
        Speed::factor(args.speed).map_err(|e| anyhow!("--speed: {e}"))?
    };
    let targets = parse_targets(args).map_err(|e| anyhow!(e))?;
    let file = args.capture.display().to_string();
    let data = std::fs::read(&args.capture).with_context(|| format!("reading {file}"))?;
    let loaded = load(args, &file, &data, speed).map_err(|e| anyhow!(e))?;
    drop(data);
    replay(args, loaded, &targets, speed, stop).await
}

/// Run `trilink replay` (blocking; builds its own runtime).
pub fn run(args: &ReplayArgs) -> ExitCode {
    let speed = if args.max {
        Speed::Max
    } else {
        match Speed::factor(args.speed) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("trilink replay: --speed: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    };
    let targets = match parse_targets(args) {
        Ok(t) => t,
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
    if !is_jsonl && CaptureFormat::sniff(&data).is_some() && targets.is_empty() {
        eprintln!(
            "trilink replay: {file} is national traffic: give at least one of --jp udp://…, --kr mqtt://…, --us tcp://…"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let loaded = match load(args, &file, &data, speed) {
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
    let speed_text = match speed {
        Speed::Max => "--max".to_owned(),
        Speed::Factor(f) => format!("speed ×{f}"),
    };
    // The runtime's thread (this one) writes the MQTT/NATS messages the clock thread queues:
    // same real-time priority at a recorded pace, or the broker gets them late under load
    // (a refusal is reported once, by the clock thread).
    let _ = raise_to_realtime(realtime_priority(args, speed));
    let result = rt.block_on(async {
        let stop = CancellationToken::new();
        let on_signal = stop.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                on_signal.cancel();
            }
        });
        replay(args, loaded, &targets, speed, &stop).await
    });
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
            eprintln!("trilink replay: {e:#}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

async fn replay(
    args: &ReplayArgs,
    loaded: Loaded,
    targets: &BTreeMap<Nation, Target>,
    speed: Speed,
    stop: &CancellationToken,
) -> Result<ReplaySummary> {
    // Never a real-world warning by accident: refused before any connection is made.
    if loaded.real_world > 0 && !args.real_world {
        return Err(anyhow!(real_world_refusal(loaded.real_world)));
    }
    let mut summary = ReplaySummary {
        format: loaded.format,
        in_capture: loaded.total,
        filtered_out: loaded.filtered_out,
        rejected: loaded.rejected,
        unmapped: loaded.unmapped,
        mode: args.mode.as_str(),
        timestamps: args.timestamps.as_str(),
        recorded_real_world: loaded.recorded_real_world,
        real_world: loaded.real_world,
        ..ReplaySummary::default()
    };
    let rewriter = item_rewriter(args, &loaded.items, speed);
    // Connect the sinks needed.
    let mut sinks: BTreeMap<Nation, Sink> = BTreeMap::new();
    let mut nats: Option<Sink> = None;
    let nations: std::collections::BTreeSet<Nation> =
        loaded.items.iter().map(|i| i.nation).collect();
    if loaded.format == "jsonl" {
        if !loaded.items.is_empty() {
            nats = Some(connect_nats(args).await?);
        }
    } else {
        for n in &nations {
            if let Some(t) = targets.get(n) {
                sinks.insert(
                    *n,
                    connect_target(t)
                        .await
                        .with_context(|| format!("{n} target"))?,
                );
            }
        }
        let missing: Vec<String> = nations
            .iter()
            .filter(|n| !targets.contains_key(n))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            eprintln!(
                "trilink replay: no target for {} (their messages are not sent; use --nation to select, or give a target)",
                missing.join(", ")
            );
        }
    }
    let per_pass = loaded.items.len() as u64;
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
    let wire: Vec<Arc<Mutex<Vec<Instant>>>> = sinks.values().filter_map(Sink::mqtt_wire).collect();
    let job = ClockJob {
        items: loaded.items,
        sinks,
        nats,
        speed,
        pacer: Pacer::new(Duration::from_micros(args.spin_us)),
        loops: args.loops,
        trace: args.timing_trace.is_some(),
        rewriter,
    };
    // The sending runs on its own OS thread, paced by sleeping and spinning there; this
    // runtime keeps the MQTT/NATS connections, the progress bar and Ctrl-C.
    // If this future is dropped mid-replay, the guard stops the clock thread too.
    let clock_stop = stop.child_token();
    let _stop_clock_on_drop = clock_stop.clone().drop_guard();
    let progress = Arc::new(Progress::default());
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let rt_priority = realtime_priority(args, speed);
    {
        let (rt, stop, progress, bar) =
            (Handle::current(), clock_stop, progress.clone(), bar.clone());
        std::thread::Builder::new()
            .name("replay-clock".into())
            .spawn(move || {
                let scheduling = raise_to_realtime(rt_priority);
                if let ClockScheduling::Refused { priority, reason } = &scheduling {
                    bar.suspend(|| {
                        eprintln!(
                            "trilink replay: real-time priority {priority} for the clock thread refused ({reason}); \
                             it runs with normal scheduling, so other busy processes can delay sends by milliseconds \
                             (allow it with CAP_SYS_NICE or RLIMIT_RTPRIO, e.g. `ulimit -r {priority}` or systemd LimitRTPRIO=; \
                             --rt-priority 0 asks for normal scheduling)"
                        );
                    });
                }
                let out = run_clock(job, &rt, &stop, &progress, &bar);
                let _ = done_tx.send((scheduling, out));
            })
            .context("starting the replay clock thread")?;
    }
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
    let out = done_rx.await;
    if let Some(t) = ticker {
        t.abort();
    }
    bar.finish_and_clear();
    let (scheduling, out) =
        out.map_err(|_| anyhow!("the replay clock thread stopped without a result"))?;
    summary.clock_scheduling = scheduling;
    summary.sent = out.sent;
    summary.failed = out.failed;
    summary.no_target = out.no_target;
    summary.passes = out.passes;
    summary.interrupted = out.interrupted;
    summary.elapsed = out.elapsed;
    if let Some(s) = out.nats {
        summary.failed += s.finish().await;
    }
    for (_, s) in out.sinks {
        summary.reconnects += s.reconnects();
        summary.failed += s.finish().await;
    }
    summary.timing = out.timing.summary();
    // MQTT: the timing error above is the hand-off to the client's queue; also report when
    // the event loop wrote each PUBLISH to the broker connection (same order as published).
    let written: Vec<Instant> = wire
        .iter()
        .flat_map(|w| w.lock().map(|w| w.clone()).unwrap_or_default())
        .collect();
    if !out.mqtt_due.is_empty() && written.len() == out.mqtt_due.len() {
        let mut e = TimingErrors::new();
        for (due, at) in out.mqtt_due.iter().zip(&written) {
            e.record(*due, *at);
        }
        summary.mqtt_wire = e.summary();
    }
    if let Some(p) = &args.timing_trace {
        std::fs::write(p, out.trace.join("\n") + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            parse_target("udp://127.0.0.1:5500").unwrap(),
            Target::Udp("127.0.0.1:5500".parse().unwrap())
        );
        assert_eq!(
            parse_target("tcp://127.0.0.1:5601").unwrap(),
            Target::Tcp("127.0.0.1:5601".parse().unwrap())
        );
        assert_eq!(
            parse_target("mqtt://127.0.0.1:1883/kr/warning/out").unwrap(),
            Target::Mqtt {
                host: "127.0.0.1".into(),
                port: 1883,
                topic: Some("kr/warning/out".into())
            }
        );
        assert_eq!(
            parse_target("mqtt://localhost:1883").unwrap(),
            Target::Mqtt {
                host: "localhost".into(),
                port: 1883,
                topic: None
            }
        );
        for bad in [
            "127.0.0.1:5500",
            "http://x:1",
            "udp://nope",
            "mqtt://h:99999",
            "mqtt://h:1/a/#",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("12.5").unwrap(), TimeSpec::After(12.5));
        assert_eq!(parse_time("3s").unwrap(), TimeSpec::After(3.0));
        assert!(matches!(
            parse_time("2026-11-21T00:00:00Z").unwrap(),
            TimeSpec::At(_)
        ));
        assert!(parse_time("-1").is_err());
        assert!(parse_time("yesterday").is_err());
        assert_eq!(
            parse_kind("track_update").unwrap(),
            PayloadKind::TrackUpdate
        );
        assert!(parse_kind("tracks").is_err());
    }

    /// Whether this process holds CAP_SYS_NICE (then SCHED_FIFO must be granted).
    fn has_cap_sys_nice() -> bool {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("CapEff:"))
                    .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
            })
            .is_some_and(|caps| caps & (1 << 23) != 0)
    }

    #[test]
    fn clock_thread_gets_sched_fifo_or_a_reason_why_not() {
        use thread_priority::unix::{
            RealtimeThreadSchedulePolicy, ThreadSchedulePolicy, thread_schedule_policy,
        };
        // On threads of their own: the test harness's threads keep their scheduling.
        let off = std::thread::spawn(|| (raise_to_realtime(0), thread_schedule_policy().ok()))
            .join()
            .unwrap();
        assert_eq!(off.0, ClockScheduling::Normal);
        assert!(
            matches!(off.1, Some(ThreadSchedulePolicy::Normal(_))),
            "{off:?}"
        );

        let (got, policy) = std::thread::spawn(|| {
            (
                raise_to_realtime(DEFAULT_RT_PRIORITY),
                thread_schedule_policy().ok(),
            )
        })
        .join()
        .unwrap();
        match &got {
            ClockScheduling::Realtime(p) => {
                assert_eq!(*p, DEFAULT_RT_PRIORITY);
                assert_eq!(
                    policy,
                    Some(ThreadSchedulePolicy::Realtime(
                        RealtimeThreadSchedulePolicy::Fifo
                    ))
                );
                assert_eq!(got.to_string(), "SCHED_FIFO 10");
            }
            ClockScheduling::Refused { priority, reason } => {
                assert!(
                    !has_cap_sys_nice(),
                    "refused although CAP_SYS_NICE is held: {reason}"
                );
                assert_eq!(*priority, DEFAULT_RT_PRIORITY);
                assert!(!reason.is_empty());
                assert!(matches!(policy, Some(ThreadSchedulePolicy::Normal(_))));
                assert!(
                    got.to_string()
                        .starts_with("normal (SCHED_FIFO 10 refused: ")
                );
            }
            ClockScheduling::Normal => panic!("asked for SCHED_FIFO, got nothing said"),
        }
    }

    #[test]
    fn pacer_never_returns_before_the_due_instant_and_honours_stop() {
        let pacer = Pacer::new(Pacer::DEFAULT_SPIN);
        // already due: at once, even when due long ago
        let past = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(pacer.wait_until(past, || false), Ok(None));
        // spin only, sleep + spin, and sleep only (no spin window)
        for (p, offset_us) in [
            (pacer, 60),
            (pacer, 2_500),
            (Pacer::new(Duration::ZERO), 1_500),
        ] {
            for _ in 0..5 {
                let due = Instant::now() + Duration::from_micros(offset_us);
                assert!(p.wait_until(due, || false).is_ok());
                let now = Instant::now();
                assert!(now >= due, "returned {:?} early", due - now);
            }
        }
        // stopped: false, without waiting for a due instant an hour away
        assert_eq!(
            pacer.wait_until(Instant::now() + Duration::from_secs(3_600), || true),
            Err(Stopped)
        );
        // a stop request during a long sleep is noticed (within MAX_NAP; loose bound here)
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let flag = flag.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                flag.store(true, Ordering::SeqCst);
            })
        };
        let t0 = Instant::now();
        assert_eq!(
            pacer.wait_until(t0 + Duration::from_secs(3_600), || flag
                .load(Ordering::SeqCst)),
            Err(Stopped)
        );
        assert!(t0.elapsed() < Duration::from_secs(30));
        setter.join().unwrap();
    }

    fn udp_items(offsets_ms: &[i64]) -> Vec<Item> {
        let base = Utc::now();
        offsets_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| Item {
                ts: base + chrono::Duration::milliseconds(*ms),
                nation: if i % 4 == 3 { Nation::Us } else { Nation::Jp },
                body: Body::National {
                    raw: Bytes::from(format!("frame {i}")),
                    topic: None,
                },
            })
            .collect()
    }

    /// The clock thread's loop over a capture with bursts (equal timestamps), gaps and a
    /// timestamp earlier than its predecessor, two passes: every frame goes out exactly once
    /// per pass, in capture order, none before its due instant, each with a timing sample.
    #[test]
    fn clock_sends_every_frame_once_in_capture_order_never_early() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let jp_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let us_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let offsets_ms = [0, 0, 0, 5, 6, 6, 20, 15, 30, 30, 30, 30, 31, 50];
        let items = udp_items(&offsets_ms);
        let n = items.len();
        let sinks = BTreeMap::from([
            (
                Nation::Jp,
                Sink::Udp(
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    jp_rx.local_addr().unwrap(),
                ),
            ),
            (
                Nation::Us,
                Sink::Udp(
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    us_rx.local_addr().unwrap(),
                ),
            ),
        ]);
        let job = ClockJob {
            items,
            sinks,
            nats: None,
            speed: Speed::factor(2.0).unwrap(),
            pacer: Pacer::new(Pacer::DEFAULT_SPIN),
            loops: Some(2),
            trace: true,
            rewriter: None,
        };
        let progress = Progress::default();
        let out = run_clock(
            job,
            rt.handle(),
            &CancellationToken::new(),
            &progress,
            &ProgressBar::hidden(),
        );
        assert!(!out.interrupted);
        assert_eq!(out.passes, 2);
        assert_eq!(out.failed + out.no_target, 0);
        let us_frames = (0..n).filter(|i| i % 4 == 3).count() as u64;
        assert_eq!(out.sent.get(&Nation::Us), Some(&(2 * us_frames)));
        assert_eq!(
            out.sent.get(&Nation::Jp),
            Some(&(2 * (n as u64 - us_frames)))
        );
        let timing = out.timing.summary().unwrap();
        assert_eq!(timing.count, 2 * n);
        assert_eq!(timing.early, 0, "a frame went out before its due instant");
        assert_eq!(out.trace.len(), 1 + 2 * n);
        assert_eq!(progress.done_in_pass.load(Ordering::Relaxed), n as u64);
        // what arrived, per receiver, in order
        let mut buf = [0_u8; 64];
        for (rx, keep) in [(&jp_rx, 0..3_usize), (&us_rx, 3..4)] {
            rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let expected: Vec<String> = (0..2)
                .flat_map(|_| (0..n).filter(|i| keep.contains(&(i % 4))))
                .map(|i| format!("frame {i}"))
                .collect();
            let got: Vec<String> = expected
                .iter()
                .map(|_| {
                    let len = rx.recv(&mut buf).unwrap();
                    String::from_utf8(buf[..len].to_vec()).unwrap()
                })
                .collect();
            assert_eq!(got, expected);
            rx.set_nonblocking(true).unwrap();
            assert!(rx.recv(&mut buf).is_err(), "a frame was sent twice");
        }
    }

    #[test]
    fn clock_stopped_before_the_first_due_instant_sends_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let job = ClockJob {
            items: udp_items(&[0, 1_000]),
            sinks: BTreeMap::from([(
                Nation::Jp,
                Sink::Udp(
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    rx.local_addr().unwrap(),
                ),
            )]),
            nats: None,
            speed: Speed::factor(1.0).unwrap(),
            pacer: Pacer::new(Pacer::DEFAULT_SPIN),
            loops: None,
            trace: false,
            rewriter: None,
        };
        let out = run_clock(
            job,
            rt.handle(),
            &stop,
            &Progress::default(),
            &ProgressBar::hidden(),
        );
        assert!(out.interrupted);
        assert!(out.sent.is_empty());
        assert!(out.timing.is_empty());
        assert!(out.trace.is_empty());
    }
}
