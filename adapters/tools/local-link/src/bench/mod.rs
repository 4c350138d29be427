//! `trilink bench`: drive the live link on loopback at a given rate and measure throughput and
//! end-to-end latency (national frame in → national frame out), and in the same run the same
//! path with raw NATS forwarding and no translation, so the ratio stands beside the figures.
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
//! The hub's common picture ([`PictureSwitch`], `trilink bench --picture both|on|off`, default
//! `both`): the trilink path is measured with the relay's correlator off, then on, in the same
//! run — same servers, same adapters; the relay is restarted between the phases with
//! `[picture] enabled` switched and no start-up rebuild (`rebuild_window_s = 0`, so the second
//! relay does not first read the first phase's inputs back). Off runs first, so no picture
//! report of the on phase can reach KR during the off phase. The common-picture reports that
//! reach KR are counted per phase (not benchmark messages): 0 with the picture off.

mod cpu;
mod hops;
mod measure;
mod raw;

pub use measure::PathResult;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;
use trilink_schema::NationalCodec;

use crate::LocalLink;
use crate::configs::DEFAULT_POLICY;
use crate::error::Result;
use crate::harness::free_udp_port;
use crate::mosquitto::Mosquitto;
use crate::standins::{self, Out};
/// Write one line to an [`Out`].
macro_rules! say {
    ($out:expr, $($t:tt)*) => {{
        let mut o = $out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = writeln!(o, $($t)*);
        let _ = o.flush();
    }};
}

use cpu::{cpu_report, cpu_snapshot, processes, rss_kb};
use hops::Hops;
use measure::{Arrivals, Inflight, collect, drive, id_key, mqtt_subscriber, note, template};
use raw::raw_path;

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
    /// Messages per second to offer (0 = as fast as possible).
    pub rate: u64,
    /// Seconds to offer traffic, per path.
    pub duration_s: f64,
    /// Seconds to wait for stragglers after sending stops.
    pub drain_s: f64,
    /// Skip the raw-NATS baseline.
    pub no_baseline: bool,
    /// Also break the trilink path's latency down per hop (store times read by extra
    /// consumers, which add load: use the plain run's figures as the benchmark).
    pub hops: bool,
    /// The relay's common picture off, on, or both in turn.
    pub picture: PictureSwitch,
    /// National tracks the messages are spread over (round robin; 1: every message about
    /// one track).
    pub tracks: u32,
}

/// One measured phase of the trilink path.
struct Phase {
    picture: bool,
    result: PathResult,
    cpu: String,
    picture_reports: u64,
    hops: Option<String>,
}

/// Run the benchmark; its report goes to `out` as it is measured.
pub async fn run(args: BenchOptions, out: Out) -> Result<()> {
    let duration = Duration::from_secs_f64(args.duration_s.max(0.5));
    let drain = Duration::from_secs_f64(args.drain_s.max(0.5));
    say!(
        out,
        "trilink bench: offering {} msg/s for {:.1} s per path (jp-kr: JP UDP in → KR MQTT out)",
        if args.rate == 0 {
            "max".to_owned()
        } else {
            args.rate.to_string()
        },
        duration.as_secs_f64()
    );
    let stop = CancellationToken::new();
    let mut local = LocalLink::start(&stop).await?;
    let mqtt_port = local.start_mosquitto().await?;
    let mqtt_pid = local.mosquitto().map_or(0, Mosquitto::pid);
    let link = local.link();

    // --- raw baseline first (servers fresh, streams empty) ---
    let baseline = if args.no_baseline {
        None
    } else {
        Some(
            raw_path(
                link,
                mqtt_port,
                &processes(link, mqtt_pid),
                &args,
                duration,
                drain,
                &stop,
            )
            .await?,
        )
    };

    // --- trilink path, once per picture phase ---
    let jp_in = free_udp_port()?;
    let jp_out = free_udp_port()?;
    local.start_adapter_jp(jp_in, jp_out)?;
    local.start_adapter_kr()?;

    let inflight: Inflight = Arc::default();
    let tally: Arc<Mutex<Arrivals>> = Arc::default();
    let picture_reports = Arc::new(AtomicU64::new(0));
    let kr = trilink_kr::KrCodec;
    let (i2, t2, p2) = (inflight.clone(), tally.clone(), picture_reports.clone());
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
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], jp_in));
    let jp = trilink_jp::JpCodec;
    let mut phases = Vec::new();
    for picture in args.picture.phases() {
        let relay = local.start_relay_run(DEFAULT_POLICY, |c| relay_for_phase(c, picture))?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let run = format!(
            "bench{}{}",
            Utc::now().format("%Y%m%d%H%M%S%f"),
            if picture { "p" } else { "n" }
        );
        // Warm-up: a few messages through the whole path before measuring.
        for i in 0..20 {
            if let Ok(b) = standins::encode(&jp, &template(&format!("{run}w"), i, args.tracks)) {
                let _ = socket.send_to(&b, target).await;
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        *tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arrivals::default();
        inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
        hops.clear();
        let reports_before = picture_reports.load(Ordering::Relaxed);

        let procs = processes(local.link(), mqtt_pid);
        let cpu_before = cpu_snapshot(&procs);
        let start = Instant::now();
        let (sent, send_s) = drive(args.rate, duration, &inflight, |i| {
            let env = template(&run, i, args.tracks);
            let key = id_key(&env.message_id);
            if args.hops {
                hops.sent(key);
            }
            let bytes = standins::encode(&jp, &env);
            let socket = &socket;
            (key, async move {
                let Ok(b) = bytes else { return false };
                socket.send_to(&b, target).await.is_ok()
            })
        })
        .await;
        let result = collect(&tally, sent, drain, start, send_s).await;
        let cpu = cpu_report(&procs, &cpu_before, &cpu_snapshot(&procs), result.received);
        phases.push(Phase {
            picture,
            result,
            cpu,
            picture_reports: picture_reports.load(Ordering::Relaxed) - reports_before,
            hops: args
                .hops
                .then(|| hops.report().trim_end_matches('\n').to_owned()),
        });
        if !relay.stop(Duration::from_secs(15)).await {
            say!(
                out,
                "note: the {} relay did not stop within 15 s",
                phase_name(picture)
            );
        }
    }
    let link = local.link();

    // Memory of every server and of this process (relay + both adapters run in it).
    let mut mem = Vec::new();
    for id in link.server_ids() {
        if let Ok(s) = link.server(id)
            && let Some(pid) = s.pid()
            && let Some(kb) = rss_kb(pid)
        {
            mem.push(format!("{}={} MB", s.name(), kb / 1024));
        }
    }
    if let Some(kb) = rss_kb(std::process::id()) {
        mem.push(format!(
            "trilink(relay+adapter-jp+adapter-kr)={} MB",
            kb / 1024
        ));
    }

    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header([
            "path", "sent", "recv", "dup", "recv/s", "p50 ms", "p90 ms", "p99 ms", "max ms",
        ]);
    if let Some(b) = &baseline {
        table.add_row(b.row("raw-nats"));
    }
    for p in &phases {
        table.add_row(p.result.row(phase_name(p.picture)));
    }
    for i in 1..9 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    say!(out, "{table}");
    if let Some(b) = &baseline {
        for p in &phases {
            let ratio = if b.throughput() > 0.0 {
                p.result.throughput() / b.throughput()
            } else {
                f64::NAN
            };
            say!(
                out,
                "throughput ratio {} / raw-nats: {ratio:.2}; p99 latency ratio: {:.2}",
                phase_name(p.picture),
                p.result.pct(99.0) / b.pct(99.0)
            );
        }
    }
    if let [off, on] = phases.as_slice() {
        say!(
            out,
            "picture on / off: p50 latency ratio {:.2}, p99 latency ratio {:.2}, throughput ratio {:.2}",
            on.result.pct(50.0) / off.result.pct(50.0),
            on.result.pct(99.0) / off.result.pct(99.0),
            on.result.throughput() / off.result.throughput()
        );
    }
    if let Some(b) = &baseline {
        say!(out, "raw-nats {}", b.cpu);
    }
    for p in &phases {
        say!(out, "{} {}", phase_name(p.picture), p.cpu);
    }
    let reports: Vec<String> = phases
        .iter()
        .map(|p| format!("{} {}", phase_name(p.picture), p.picture_reports))
        .collect();
    say!(
        out,
        "common-picture reports at KR (not benchmark messages): {}",
        reports.join(", ")
    );
    for p in &phases {
        if let Some(h) = &p.hops {
            say!(out, "{}:\n{h}", phase_name(p.picture));
        }
    }
    let losses: Vec<String> = phases
        .iter()
        .map(|p| {
            format!(
                "{} {} of {}",
                phase_name(p.picture),
                p.result.sent.saturating_sub(p.result.received),
                p.result.sent
            )
        })
        .collect();
    say!(
        out,
        "loss: {}; RSS after run: {}",
        losses.join(", "),
        mem.join(", ")
    );

    stop.cancel();
    let _ = local.shutdown(Duration::from_secs(15)).await;
    Ok(())
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
