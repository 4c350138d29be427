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

mod cpu;
mod hops;
mod measure;
mod raw;

pub use measure::PathResult;

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

    // --- trilink path ---
    local.start_relay(DEFAULT_POLICY)?;
    let jp_in = free_udp_port()?;
    let jp_out = free_udp_port()?;
    local.start_adapter_jp(jp_in, jp_out)?;
    local.start_adapter_kr()?;
    let link = local.link();

    let inflight: Inflight = Arc::default();
    let tally: Arc<Mutex<Arrivals>> = Arc::default();
    let kr = trilink_kr::KrCodec;
    let (i2, t2) = (inflight.clone(), tally.clone());
    let hops = Hops::default();
    let hops_rx = args.hops.then(|| hops.clone());
    let _rx = mqtt_subscriber(
        mqtt_port,
        "bench-kr-national",
        trilink_kr::DELIVERY_TOPIC,
        move |payload| {
            // The relay's common picture (on, as in production) reaches KR too, as reports of
            // the hub's picture source: not the benchmark's messages.
            if let Ok(trilink_schema::Decoded::Frame { frame, .. }) = kr.decode(payload)
                && let Ok(env) = kr.to_common(&frame, Utc::now())
                && env.source.system != trilink_schema::picture::PICTURE_SYSTEM
            {
                let key = id_key(&env.message_id);
                note(&i2, &t2, key);
                if let Some(h) = &hops_rx {
                    h.received(key);
                }
            }
        },
        stop.clone(),
    );
    if args.hops {
        hops.start_probes(link, &stop).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], jp_in));
    let jp = trilink_jp::JpCodec;
    let run = format!("bench{}", Utc::now().format("%Y%m%d%H%M%S%f"));
    // Warm-up: a few messages through the whole path before measuring.
    for i in 0..20 {
        if let Ok(b) = standins::encode(&jp, &template(&format!("{run}w"), i)) {
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

    let procs = processes(link, mqtt_pid);
    let cpu_before = cpu_snapshot(&procs);
    let start = Instant::now();
    let (sent, send_s) = drive(args.rate, duration, &inflight, |i| {
        let env = template(&run, i);
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
    let trilink = collect(&tally, sent, drain, start, send_s).await;
    let trilink_cpu = cpu_report(&procs, &cpu_before, &cpu_snapshot(&procs), trilink.received);

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
    table.add_row(trilink.row("trilink"));
    for i in 1..9 {
        if let Some(c) = table.column_mut(i) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    say!(out, "{table}");
    if let Some(b) = &baseline {
        let ratio = if b.throughput() > 0.0 {
            trilink.throughput() / b.throughput()
        } else {
            f64::NAN
        };
        say!(
            out,
            "throughput ratio trilink / raw-nats: {ratio:.2}; p99 latency ratio: {:.2}",
            trilink.pct(99.0) / b.pct(99.0)
        );
    }
    if let Some(b) = &baseline {
        say!(out, "raw-nats {}", b.cpu);
    }
    say!(out, "trilink  {trilink_cpu}");
    if args.hops {
        say!(out, "{}", hops.report().trim_end_matches('\n'));
    }
    say!(
        out,
        "loss: trilink {} of {}; RSS after run: {}",
        trilink.sent.saturating_sub(trilink.received),
        trilink.sent,
        mem.join(", ")
    );

    stop.cancel();
    let _ = local.shutdown(Duration::from_secs(15)).await;
    Ok(())
}
