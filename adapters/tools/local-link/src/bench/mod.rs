//! `trilink bench`: drive the live link on loopback at a given rate and measure throughput and
//! end-to-end latency (national frame in → national frame out), and in the same run two raw
//! paths (raw NATS; raw JetStream on the link's own streams), so the ratios stand beside the
//! figures. Every run prints the nats-server version, CPU time per message per process and
//! the memory of every process; `--find-max` searches each path's highest sustained rate
//! ([`findmax`]).
//!
//! trilink path (`jp-kr`): JP frame over UDP → adapter-jp (decode, translate, validate,
//! JetStream publish on the JP leaf) → hub stream sources it → relay (validate, policy,
//! provenance, JetStream publish) → KR leaf stream sources it → adapter-kr (consume, translate,
//! encode) → MQTT QoS 1 via mosquitto → KR national subscriber.
//!
//! Raw baseline, same run, same servers: the same JP bytes over UDP → a forwarder publishes
//! them with core NATS on the JP leaf → a forwarder at the hub republishes them into the KR
//! account → a subscriber on the KR leaf → MQTT QoS 1 via mosquitto → the same kind of
//! subscriber. No decoding, translation, validation or persistence. Benchmark subjects
//! (`bench.*`) are captured by no stream.
//!
//! Raw JetStream, same run, same servers (`rawjs`): the trilink path's streams, sources and
//! durable consumers with their settings, acknowledged publishes and the same windows, with a
//! minimal forwarder (bytes in, bytes out) in place of the adapters and the relay: the cost of
//! persistence without trilink's own code. Its streams are purged before the trilink path.
//!
//! The hub's common picture ([`PictureSwitch`], `trilink bench --picture both|on|off`, default
//! `both`): the trilink path is measured with the relay's correlator off, then on, in the same
//! run — same servers, same adapters; the relay is restarted between the phases with
//! `[picture] enabled` switched and no start-up rebuild (`rebuild_window_s = 0`, so the second
//! relay does not first read the first phase's inputs back). Off runs first, so no picture
//! report of the on phase can reach KR during the off phase. The common-picture reports that
//! reach KR are counted per phase (not benchmark messages): 0 with the picture off.

/// Write one line to an [`Out`].
macro_rules! say {
    ($out:expr, $($t:tt)*) => {{
        let mut o = $out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(o, $($t)*);
        let _ = o.flush();
    }};
}

mod cpu;
pub mod findmax;
mod hops;
mod measure;
mod raw;
mod rawjs;

pub use measure::PathResult;
pub use rawjs::{RawJsIds, RawJsStores};

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trilink_schema::NationalCodec;

use crate::LocalLink;
use crate::configs::DEFAULT_POLICY;
use crate::error::{Result, failed};
use crate::harness::free_udp_port;
use crate::mosquitto::Mosquitto;
use crate::standins::{self, Out};

use cpu::processes;
use findmax::{FindMaxOptions, FoundMax, find_max};
use hops::Hops;
use measure::{Measured, Probe, id_key, mqtt_subscriber, note, template};

/// A client of `link` as the operations user of `account` on `site`: what the raw baselines
/// forward and set up with.
async fn admin(
    link: &trilink_brokers::Link,
    site: trilink_brokers::Site,
    account: trilink_schema::Nation,
) -> Result<async_nats::Client> {
    link.connect(trilink_brokers::Role::Admin(site, account))
        .await
        .map_err(|e| failed!("{e}"))
}

/// Which relay configurations the trilink path is measured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PictureSwitch {
    /// The correlator off, then on, in the same run (the default).
    #[default]
    Both,
    /// The correlator on only (as in production).
    On,
    /// The correlator off only.
    Off,
}

impl PictureSwitch {
    /// The phases, in the order they run: `false` = picture off.
    pub fn phases(self) -> Vec<bool> {
        match self {
            Self::Both => vec![false, true],
            Self::On => vec![true],
            Self::Off => vec![false],
        }
    }
}

impl std::str::FromStr for PictureSwitch {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "both" => Ok(Self::Both),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(format!("{other:?}: expected both, on or off")),
        }
    }
}

impl std::fmt::Display for PictureSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Both => "both",
            Self::On => "on",
            Self::Off => "off",
        })
    }
}

/// The benchmark relay's configuration for one phase: the correlator on or off, and no
/// start-up rebuild of the picture (a relay restarted between phases must not first read the
/// previous phase's inputs back).
pub fn relay_for_phase(cfg: &mut trilink_relay::RelayConfig, picture: bool) {
    cfg.picture.enabled = picture;
    cfg.picture.rebuild_window_s = 0;
}

/// The name of a phase's row in the report.
pub fn phase_name(picture: bool) -> &'static str {
    if picture {
        "trilink/pic-on"
    } else {
        "trilink/pic-off"
    }
}

/// What to offer and measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Messages per second to offer (0 = as fast as possible); with `find_max`, the first
    /// rate tried (0: 1 000).
    pub rate: u64,
    /// Seconds to offer traffic, per path (per run with `find_max`).
    pub duration_s: f64,
    /// Seconds to wait for stragglers after sending stops.
    pub drain_s: f64,
    /// Skip the raw-NATS baseline.
    pub no_baseline: bool,
    /// Whether each path gets the nats-servers afresh.
    pub servers: Servers,
    /// Skip the raw-JetStream path.
    pub no_raw_jetstream: bool,
    /// The raw-JetStream path's variants, measured one after another (empty: the four-store
    /// path only).
    pub raw_jetstream_stores: Vec<RawJsStores>,
    /// Bytes added to each of the raw-JetStream path's stored messages, one row per entry and
    /// store variant (empty: 0 only).
    pub raw_jetstream_pad: Vec<u32>,
    /// How the raw-JetStream path names its messages, one row per entry and store and size
    /// variant (empty: hex only).
    pub raw_jetstream_ids: Vec<RawJsIds>,
    /// Also break the trilink path's latency down per hop (store times read by extra
    /// consumers, which add load: use the plain run's figures as the benchmark).
    pub hops: bool,
    /// The relay's common picture off, on, or both in turn.
    pub picture: PictureSwitch,
    /// National tracks the messages are spread over (round robin; 1: every message about
    /// one track).
    pub tracks: u32,
    /// Search each path's highest sustained rate instead of one run at `rate`.
    pub find_max: Option<FindMaxBounds>,
}

/// Whether the paths of a run share the nats-servers' memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Servers {
    /// One set of servers through the whole run: a later path meets the Go heap the earlier
    /// ones grew (the default).
    #[default]
    Shared,
    /// Restart every nats-server (same data, fresh memory) before each path after the first
    /// (the trilink path's picture phases share theirs: the adapters run through both); each
    /// restart takes ~40 s until the hub's sources are linked again.
    FreshPerPath,
}

impl std::str::FromStr for Servers {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "fresh" => Ok(Self::FreshPerPath),
            "shared" => Ok(Self::Shared),
            other => Err(format!("{other:?}: expected fresh or shared")),
        }
    }
}

/// How `--find-max` judges and bounds its search.
#[derive(Debug, Clone, Copy)]
pub struct FindMaxBounds {
    /// A run holds only with p99 at or under this, ms.
    pub p99_bound_ms: f64,
    /// Most runs per path.
    pub max_steps: u32,
    /// Runs per rate at most; a rate holds when more than half of its runs held.
    pub repeat: u32,
    /// Most seconds per path.
    pub budget_s: f64,
}

/// What was measured on one path: one run, or a search.
enum Measurement {
    One(PathResult),
    Max(FoundMax),
}

impl Measurement {
    /// The run to report figures from: the one run, or the run at the maximum.
    fn result(&self) -> Option<&PathResult> {
        match self {
            Self::One(r) => Some(r),
            Self::Max(f) => f.at_max.as_ref(),
        }
    }
}

/// One run at `args.rate`, or the search for the maximum.
async fn measure<P: Measured>(
    path: &mut P,
    name: &str,
    args: &BenchOptions,
    duration: Duration,
    drain: Duration,
    out: &Out,
) -> Measurement {
    // Warm-up: a few messages through the whole path (streams' first blocks, connections).
    let _ = path
        .step(100, Duration::from_millis(200), Duration::from_secs(3))
        .await;
    let _ = path.quiesce(Duration::from_secs(3)).await;
    match args.find_max {
        None => Measurement::One(path.step(args.rate, duration, drain).await),
        Some(b) => Measurement::Max(
            find_max(
                path,
                name,
                FindMaxOptions {
                    start: if args.rate == 0 { 1_000 } else { args.rate },
                    max_steps: b.max_steps,
                    repeat: b.repeat,
                    budget: Duration::from_secs_f64(b.budget_s.max(1.0)),
                    p99_bound_ms: b.p99_bound_ms,
                    duration,
                    drain,
                },
                out,
            )
            .await,
        ),
    }
}

/// One phase of the trilink path (the relay's picture on or off), as a [`Measured`] path.
struct TrilinkPhase<'a> {
    probe: Probe,
    socket: &'a UdpSocket,
    target: SocketAddr,
    tracks: u32,
    picture: bool,
    hops: Option<&'a Hops>,
}

impl Measured for TrilinkPhase<'_> {
    fn probe(&self) -> &Probe {
        &self.probe
    }

    async fn step(&mut self, rate: u64, duration: Duration, drain: Duration) -> PathResult {
        if let Some(h) = self.hops {
            h.clear();
        }
        let run = format!(
            "bench{}{}",
            Utc::now().format("%Y%m%d%H%M%S%f"),
            if self.picture { "p" } else { "n" }
        );
        let jp = trilink_jp::JpCodec;
        let (socket, target, tracks, hops) = (self.socket, self.target, self.tracks, self.hops);
        self.probe
            .run(rate, duration, drain, |i| {
                let env = template(&run, i, tracks);
                let key = id_key(&env.message_id);
                if let Some(h) = hops {
                    h.sent(key);
                }
                let bytes = standins::encode(&jp, &env);
                (key, async move {
                    let Ok(b) = bytes else { return false };
                    socket.send_to(&b, target).await.is_ok()
                })
            })
            .await
    }
}

/// Run the benchmark; its report goes to `out` as it is measured.
pub async fn run(args: BenchOptions, out: Out) -> Result<()> {
    let duration = Duration::from_secs_f64(args.duration_s.max(0.5));
    let drain = Duration::from_secs_f64(args.drain_s.max(0.5));
    match args.find_max {
        None => say!(
            out,
            "trilink bench: offering {} msg/s for {:.1} s per path (jp-kr: JP UDP in → KR MQTT out)",
            if args.rate == 0 {
                "max".to_owned()
            } else {
                args.rate.to_string()
            },
            duration.as_secs_f64()
        ),
        Some(b) => say!(
            out,
            "trilink bench --find-max: per path, the highest offered rate with every message delivered once and p99 ≤ {} ms (from {} msg/s, doubling then bisecting{}; at most {} runs of {:.1} s and {:.0} s per path; jp-kr: JP UDP in → KR MQTT out)",
            b.p99_bound_ms,
            if args.rate == 0 { 1_000 } else { args.rate },
            if b.repeat > 1 {
                format!(
                    "; a rate holds when more than half of its runs, at most {}, held",
                    b.repeat
                )
            } else {
                String::new()
            },
            b.max_steps,
            duration.as_secs_f64(),
            b.budget_s
        ),
    }
    let stop = CancellationToken::new();
    let mut local = LocalLink::start(&stop).await?;
    let mqtt_port = local.start_mosquitto().await?;
    let mqtt_pid = local.mosquitto().map_or(0, Mosquitto::pid);
    let bin = local.link().server_bin().to_path_buf();
    // `nats-server: v2.15.1 (/path/to/nats-server)`
    say!(
        out,
        "{} ({})",
        trilink_brokers::launcher::server_version(&bin).map_or_else(
            |e| format!("nats-server: version unknown: {e}"),
            |v| v.trim().to_owned()
        ),
        bin.display()
    );
    say!(
        out,
        "{}",
        match args.servers {
            Servers::FreshPerPath =>
                "nats-servers: restarted before each path after the first (--servers fresh: same data, fresh memory)",
            Servers::Shared => "nats-servers: one set through the run",
        }
    );
    // What sets the tail near saturation (deploy/README.md, "Tail latency near saturation").
    say!(
        out,
        "nats-servers' Go GC: hub {}; leaves {}",
        trilink_brokers::launcher::server_gc_settings("hub-0"),
        trilink_brokers::launcher::server_gc_settings("leaf-jp")
    );
    let mut procs = processes(local.link(), mqtt_pid);
    let mut measured: Vec<(String, Measurement)> = Vec::new();
    let mut notes = Vec::new();
    // Before each path after the first: every server afresh, unless asked not to.
    let mut paths_run = 0_u32;
    let mut next_path = async |local: &mut LocalLink, procs: &mut Vec<(String, u32)>| {
        paths_run += 1;
        if paths_run > 1 && args.servers == Servers::FreshPerPath {
            let took = local.restart_servers().await?;
            *procs = processes(local.link(), mqtt_pid);
            say!(
                out,
                "nats-servers restarted, sources linked again in {:.1} s",
                took.as_secs_f64()
            );
        }
        Ok::<_, crate::error::LinkError>(())
    };

    // --- raw paths first (streams empty) ---
    if !args.no_baseline {
        next_path(&mut local, &mut procs).await?;
        let mut p = raw::start(local.link(), mqtt_port, &procs, args.tracks, &stop).await?;
        let m = measure(&mut p, "raw-nats", &args, duration, drain, &out).await;
        measured.push(("raw-nats".to_owned(), m));
    }
    if !args.no_raw_jetstream {
        let variants = if args.raw_jetstream_stores.is_empty() {
            vec![RawJsStores::Three]
        } else {
            args.raw_jetstream_stores.clone()
        };
        let pads = if args.raw_jetstream_pad.is_empty() {
            vec![0]
        } else {
            args.raw_jetstream_pad.clone()
        };
        let ids = if args.raw_jetstream_ids.is_empty() {
            vec![RawJsIds::Hex]
        } else {
            args.raw_jetstream_ids.clone()
        };
        let mut rows = Vec::new();
        for stores in variants {
            for &pad in &pads {
                for &id in &ids {
                    rows.push((stores, pad, id));
                }
            }
        }
        for (i, (stores, pad, ids)) in (0u64..).zip(rows) {
            let variant = rawjs::Variant {
                stores,
                pad,
                ids,
                // Each variant's keys (message ids) apart from the others'.
                first_key: i << 40,
            };
            let name = variant.name();
            let name = name.as_str();
            next_path(&mut local, &mut procs).await?;
            let mut p = Box::pin(rawjs::start(
                local.link(),
                mqtt_port,
                &procs,
                args.tracks,
                variant,
                &stop,
            ))
            .await?;
            for s in &p.setup {
                say!(out, "{name}: {s}");
            }
            let m = measure(&mut p.path, name, &args, duration, drain, &out).await;
            measured.push((name.to_owned(), m));
            notes.extend(p.finish(drain).await);
        }
    }

    // --- trilink path, once per picture phase ---
    next_path(&mut local, &mut procs).await?;
    let jp_in = free_udp_port()?;
    let jp_out = free_udp_port()?;
    local.start_adapter_jp(jp_in, jp_out)?;
    local.start_adapter_kr()?;

    let probe = Probe::new(procs.clone());
    let picture_reports = std::sync::Arc::new(AtomicU64::new(0));
    let kr = trilink_kr::KrCodec;
    let (i2, t2, p2) = (
        probe.inflight.clone(),
        probe.tally.clone(),
        picture_reports.clone(),
    );
    let hops = Hops::default();
    let hops_rx = args.hops.then(|| hops.clone());
    let _rx = mqtt_subscriber(
        mqtt_port,
        "bench-kr-national",
        trilink_kr::DELIVERY_TOPIC,
        move |payload| {
            let Ok(trilink_schema::Decoded::Frame { frame, .. }) = kr.decode(payload) else {
                return;
            };
            let Ok(env) = kr.to_common(&frame, Utc::now()) else {
                return;
            };
            // The relay's common picture reaches KR too, as reports of the hub's picture
            // source: counted apart, not the benchmark's messages.
            if env.source.system == trilink_schema::picture::PICTURE_SYSTEM {
                p2.fetch_add(1, Ordering::Relaxed);
                return;
            }
            let key = id_key(&env.message_id);
            note(&i2, &t2, key);
            if let Some(h) = &hops_rx {
                h.received(key);
            }
        },
        stop.clone(),
    );
    if args.hops {
        hops.start_probes(local.link(), &stop).await?;
    }

    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let target = SocketAddr::from(([127, 0, 0, 1], jp_in));
    // Per phase: picture reports at KR, the per-hop report.
    let mut phase_extras: Vec<(bool, u64, Option<String>)> = Vec::new();
    for picture in args.picture.phases() {
        let relay = local.start_relay_run(DEFAULT_POLICY, |c| relay_for_phase(c, picture))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let reports_before = picture_reports.load(Ordering::Relaxed);
        let mut phase = TrilinkPhase {
            probe: probe.clone(),
            socket: &socket,
            target,
            tracks: args.tracks,
            picture,
            hops: args.hops.then_some(&hops),
        };
        let name = phase_name(picture);
        let m = measure(&mut phase, name, &args, duration, drain, &out).await;
        measured.push((name.to_owned(), m));
        phase_extras.push((
            picture,
            picture_reports.load(Ordering::Relaxed) - reports_before,
            args.hops
                .then(|| hops.report().trim_end_matches('\n').to_owned()),
        ));
        if !relay.stop(Duration::from_secs(15)).await {
            say!(out, "note: the {name} relay did not stop within 15 s");
        }
    }

    // Memory of every server and of this process (relay + both adapters run in it).
    let link = local.link();
    let mut mem = Vec::new();
    for id in link.server_ids() {
        if let Ok(s) = link.server(id)
            && let Some(pid) = s.pid()
            && let Some(kb) = cpu::rss_kb(pid)
        {
            mem.push(format!("{}={} MB", s.name(), kb / 1024));
        }
    }
    if let Some(kb) = cpu::rss_kb(std::process::id()) {
        mem.push(format!(
            "trilink(relay+adapter-jp+adapter-kr)={} MB",
            kb / 1024
        ));
    }

    if args.find_max.is_some() {
        report_max(&measured, &out);
    } else {
        report_runs(&measured, &out);
    }
    for (name, m) in &measured {
        if let Some(r) = m.result() {
            say!(out, "{name} {}", r.cpu);
            say!(out, "{name} {}", r.rss);
        }
    }
    let reports: Vec<String> = phase_extras
        .iter()
        .map(|(p, n, _)| format!("{} {n}", phase_name(*p)))
        .collect();
    say!(
        out,
        "common-picture reports at KR (not benchmark messages): {}",
        reports.join(", ")
    );
    for (p, _, h) in &phase_extras {
        if let Some(h) = h {
            say!(out, "{}:\n{h}", phase_name(*p));
        }
    }
    let losses: Vec<String> = measured
        .iter()
        .filter_map(|(name, m)| {
            let r = m.result()?;
            Some(format!(
                "{name} {} of {}",
                r.sent.saturating_sub(r.received),
                r.sent
            ))
        })
        .collect();
    say!(
        out,
        "loss: {}; RSS after run: {}",
        losses.join(", "),
        mem.join(", ")
    );
    for n in notes {
        say!(out, "note: {n}");
    }

    stop.cancel();
    let _ = local.shutdown(Duration::from_secs(15)).await;
    Ok(())
}

/// The figures of one run per path, side by side, and their ratios.
fn report_runs(measured: &[(String, Measurement)], out: &Out) {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header([
            "path",
            "sent",
            "recv",
            "dup",
            "recv/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "CPU µs/msg",
        ]);
    for (name, m) in measured {
        if let Some(r) = m.result() {
            table.add_row(r.row(name));
        }
    }
    for i in 1..10 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    say!(out, "{table}");
    let get = |n: &str| {
        measured
            .iter()
            .find(|(name, _)| name == n)
            .and_then(|(_, m)| m.result())
    };
    let raws = ["raw-nats", "raw-jetstream"];
    for (name, m) in measured {
        let Some(r) = m.result() else { continue };
        for raw in raws {
            if name == raw || (name == "raw-nats" && raw == "raw-jetstream") {
                continue;
            }
            if let Some(b) = get(raw) {
                let ratio = if b.throughput() > 0.0 {
                    r.throughput() / b.throughput()
                } else {
                    f64::NAN
                };
                say!(
                    out,
                    "throughput ratio {name} / {raw}: {ratio:.2}; p99 latency ratio: {:.2}; CPU per message ratio: {:.2}",
                    r.pct(99.0) / b.pct(99.0),
                    r.cpu_total_us / b.cpu_total_us
                );
            }
        }
    }
    if let (Some(off), Some(on)) = (get(phase_name(false)), get(phase_name(true))) {
        say!(
            out,
            "picture on / off: p50 latency ratio {:.2}, p99 latency ratio {:.2}, throughput ratio {:.2}",
            on.pct(50.0) / off.pct(50.0),
            on.pct(99.0) / off.pct(99.0),
            on.throughput() / off.throughput()
        );
    }
}

/// The maximum found per path, side by side, and their ratios.
fn report_max(measured: &[(String, Measurement)], out: &Out) {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header([
            "path",
            "max msg/s",
            "lowest over",
            "runs",
            "recv/s at max",
            "p50 ms",
            "p99 ms",
            "CPU µs/msg",
            "note",
        ]);
    let found: Vec<&FoundMax> = measured
        .iter()
        .filter_map(|(_, m)| match m {
            Measurement::Max(f) => Some(f),
            Measurement::One(_) => None,
        })
        .collect();
    for f in &found {
        let r = f.at_max.as_ref();
        let fig = |g: &dyn Fn(&PathResult) -> String| r.map_or_else(|| "-".to_owned(), g);
        table.add_row(vec![
            f.name.clone(),
            f.max().map_or_else(|| "none".to_owned(), |m| m.to_string()),
            f.search
                .failed
                .map_or_else(|| "-".to_owned(), |m| m.to_string()),
            f.steps.to_string(),
            fig(&|r| format!("{:.0}", r.throughput())),
            fig(&|r| format!("{:.2}", r.pct(50.0))),
            fig(&|r| format!("{:.2}", r.pct(99.0))),
            fig(&|r| format!("{:.0}", r.cpu_total_us)),
            f.note.clone().unwrap_or_default(),
        ]);
    }
    for i in 1..8 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    say!(out, "{table}");
    let get = |n: &str| found.iter().find(|f| f.name == n);
    for f in &found {
        for raw in ["raw-nats", "raw-jetstream"] {
            if f.name == raw || (f.name == "raw-nats" && raw == "raw-jetstream") {
                continue;
            }
            let Some(b) = get(raw) else { continue };
            let (Some(m), Some(bm)) = (f.max(), b.max()) else {
                say!(out, "max ratio {} / {raw}: not found", f.name);
                continue;
            };
            let cpu = match (&f.at_max, &b.at_max) {
                (Some(r), Some(br)) => r.cpu_total_us / br.cpu_total_us,
                _ => f64::NAN,
            };
            say!(
                out,
                "max ratio {} / {raw}: {:.2} ({m} / {bm} msg/s); CPU per message at max: {cpu:.2} ×",
                f.name,
                m as f64 / bm as f64
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_picture_switch_reaches_the_relay_config() {
        let base = trilink_relay::RelayConfig::default();
        assert!(base.picture.enabled, "the relay's picture is on by default");
        assert!(base.picture.rebuild_window_s > 0);
        for (switch, phases) in [
            (PictureSwitch::Both, vec![false, true]),
            (PictureSwitch::On, vec![true]),
            (PictureSwitch::Off, vec![false]),
        ] {
            assert_eq!(switch.phases(), phases);
            assert_eq!(switch.to_string().parse::<PictureSwitch>(), Ok(switch));
            for picture in phases {
                let mut cfg = base.clone();
                relay_for_phase(&mut cfg, picture);
                assert_eq!(cfg.picture.enabled, picture, "{switch}");
                assert_eq!(cfg.picture.rebuild_window_s, 0, "no rebuild between phases");
            }
        }
        assert_eq!(PictureSwitch::default(), PictureSwitch::Both);
        assert!("maybe".parse::<PictureSwitch>().is_err());
    }
}
