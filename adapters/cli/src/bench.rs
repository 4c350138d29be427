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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use bytes::Bytes;
use chrono::Utc;
use clap::Args;
use futures::StreamExt;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, LinkOptions, Role, Site};
use trilink_schema::{
    Envelope, GeoPoint, LaunchDetection, MessageId, MissileClass, Mode, Nation, NationalCodec,
    Payload, PositionUncertainty, Source, TrackId,
};

use crate::demo;

/// `trilink bench` options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Messages per second to offer (0 = as fast as possible).
    #[arg(long, default_value_t = 1_000)]
    pub rate: u64,
    /// Seconds to offer traffic, per path.
    #[arg(long, default_value_t = 10.0)]
    pub duration_s: f64,
    /// Seconds to wait for stragglers after sending stops.
    #[arg(long, default_value_t = 10.0)]
    pub drain_s: f64,
    /// Skip the raw-NATS baseline.
    #[arg(long)]
    pub no_baseline: bool,
    /// Also break the trilink path's latency down per hop (store times read by extra
    /// consumers, which add load: use the plain run's figures as the benchmark).
    #[arg(long)]
    pub hops: bool,
}

/// Figures of one path.
#[derive(Debug, Clone, Default)]
pub struct PathResult {
    /// Messages sent.
    pub sent: u64,
    /// Messages received (first copy).
    pub received: u64,
    /// Duplicate copies received.
    pub duplicates: u64,
    /// Sending time, s.
    pub send_s: f64,
    /// First send to last receive, s.
    pub span_s: f64,
    /// Latencies, ms, sorted.
    pub latencies_ms: Vec<f64>,
    /// CPU time per delivered message of each process on the path.
    pub cpu: String,
}

impl PathResult {
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (self.latencies_ms.len() - 1) as f64).round() as usize;
        self.latencies_ms.get(i).copied().unwrap_or(f64::NAN)
    }
    fn throughput(&self) -> f64 {
        if self.span_s > 0.0 {
            self.received as f64 / self.span_s
        } else {
            0.0
        }
    }
    fn row(&self, name: &str) -> String {
        format!(
            "{name:<8} {:>8} {:>8} {:>5} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
            self.sent,
            self.received,
            self.duplicates,
            self.throughput(),
            self.pct(50.0),
            self.pct(90.0),
            self.pct(99.0),
            self.latencies_ms.last().copied().unwrap_or(f64::NAN)
        )
    }
}

type Inflight = Arc<Mutex<HashMap<u64, Instant>>>;

#[derive(Debug, Default)]
struct Tally {
    received: u64,
    duplicates: u64,
    last: Option<Instant>,
    latencies_ms: Vec<f64>,
}

fn note(inflight: &Inflight, tally: &Arc<Mutex<Tally>>, key: u64) {
    let now = Instant::now();
    let sent = inflight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .remove(&key);
    let mut t = tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match sent {
        Some(at) => {
            t.received += 1;
            t.latencies_ms
                .push(now.duration_since(at).as_secs_f64() * 1_000.0);
            t.last = Some(now);
        }
        // Not (or no longer) in flight: a second copy.
        None => t.duplicates += 1,
    }
}

pub(crate) fn id_key(id: &MessageId) -> u64 {
    id.as_uuid().as_u64_pair().0
}

fn template(run: &str, i: u64) -> Envelope {
    let now = Utc::now();
    Envelope::new(
        Nation::Jp,
        Source {
            system: "jadgex".into(),
            sensor: "bench".into(),
            national_message_id: format!("{run}-{i}"),
        },
        now,
        now,
        Mode::Test,
        Nation::ALL.into_iter().collect(),
        Payload::LaunchDetection(LaunchDetection {
            track_id: TrackId::new("BENCH").unwrap_or_else(|e| unreachable!("{e}")),
            launch_time: now,
            launch_point: GeoPoint {
                lat_deg: 39.66,
                lon_deg: 124.7,
                alt_m: 10.0,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 1000.0,
                vertical_m: 500.0,
            },
            missile_class: MissileClass::Unknown,
            confidence: 0.5,
        }),
    )
}

/// Offer traffic at `rate` for `duration`; `send(i)` sends message `i` and returns its key.
async fn drive<F, Fut>(
    rate: u64,
    duration: Duration,
    inflight: &Inflight,
    mut send: F,
) -> (u64, f64)
where
    F: FnMut(u64) -> (u64, Fut),
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let mut i = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        let due = if rate == 0 {
            i + 256
        } else {
            (elapsed.as_secs_f64() * rate as f64) as u64 + 1
        };
        while i < due {
            // Record the send instant before sending, so a fast reply is never missed.
            let (key, fut) = send(i);
            let lock = || {
                inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            lock().insert(key, Instant::now());
            if !fut.await {
                lock().remove(&key);
            }
            i += 1;
        }
        if rate == 0 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
    (i, start.elapsed().as_secs_f64())
}

async fn collect(
    tally: &Arc<Mutex<Tally>>,
    sent: u64,
    drain: Duration,
    start: Instant,
    send_s: f64,
) -> PathResult {
    let deadline = Instant::now() + drain;
    loop {
        let received = tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .received;
        if received >= sent || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = std::mem::take(
        &mut *tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let mut latencies_ms = t.latencies_ms;
    latencies_ms.sort_by(f64::total_cmp);
    PathResult {
        sent,
        received: t.received,
        duplicates: t.duplicates,
        send_s,
        span_s: t
            .last
            .map_or(0.0, |l| l.duration_since(start).as_secs_f64()),
        latencies_ms,
        cpu: String::new(),
    }
}

fn mqtt_subscriber<F>(
    port: u16,
    id: &str,
    topic: &str,
    on: F,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(&[u8]) + Send + 'static,
{
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut events) = AsyncClient::new(opts, 10_000);
    let topic = topic.to_owned();
    tokio::spawn(async move {
        let _ = client.subscribe(topic, QoS::AtLeastOnce).await;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                ev = events.poll() => match ev {
                    Ok(Event::Incoming(Packet::Publish(p))) => on(&p.payload),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                },
            }
        }
    })
}

fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// CPU time (user + system) a process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Every process on the path by name, for CPU accounting.
fn processes(link: &Link, mosquitto_pid: u32) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = link
        .server_ids()
        .into_iter()
        .filter_map(|id| {
            let s = link.server(id).ok()?;
            Some((s.name().to_owned(), s.pid()?))
        })
        .collect();
    out.push(("mosquitto".into(), mosquitto_pid));
    out.push(("trilink(relay+adapters+load)".into(), std::process::id()));
    out
}

fn cpu_snapshot(procs: &[(String, u32)]) -> Vec<Option<u64>> {
    procs.iter().map(|(_, pid)| cpu_ticks(*pid)).collect()
}

/// CPU time per delivered message of each process between two snapshots, µs.
fn cpu_report(
    procs: &[(String, u32)],
    before: &[Option<u64>],
    after: &[Option<u64>],
    messages: u64,
) -> String {
    // Linux reports /proc/<pid>/stat times in USER_HZ, 100 per second on every mainstream
    // architecture.
    const TICK_US: f64 = 10_000.0;
    let mut total = 0.0;
    let mut parts = Vec::new();
    for ((name, _), (b, a)) in procs.iter().zip(before.iter().zip(after)) {
        if let (Some(b), Some(a)) = (b, a) {
            let us = a.saturating_sub(*b) as f64 * TICK_US / messages.max(1) as f64;
            total += us;
            parts.push(format!("{name} {us:.0}"));
        }
    }
    format!(
        "CPU µs per message: {} (total {total:.0})",
        parts.join(", ")
    )
}

/// Run the benchmark; prints its report to stdout.
pub async fn run(args: BenchArgs) -> Result<()> {
    let duration = Duration::from_secs_f64(args.duration_s.max(0.5));
    let drain = Duration::from_secs_f64(args.drain_s.max(0.5));
    println!(
        "trilink bench: offering {} msg/s for {:.1} s per path (jp-kr: JP UDP in → KR MQTT out)",
        if args.rate == 0 {
            "max".to_owned()
        } else {
            args.rate.to_string()
        },
        duration.as_secs_f64()
    );
    let link = Link::start(LinkOptions::default())
        .await
        .map_err(|e| anyhow!("brokers: {e}"))?;
    let work = link.dir().to_path_buf();
    let mqtt = demo::mosquitto::Mosquitto::start(&work).await?;
    let stop = CancellationToken::new();
    let mut tasks: JoinSet<Result<()>> = JoinSet::new();

    // --- raw baseline first (servers fresh, streams empty) ---
    let baseline = if args.no_baseline {
        None
    } else {
        Some(
            raw_path(
                &link,
                mqtt.port(),
                &processes(&link, mqtt.pid()),
                &args,
                duration,
                drain,
                &stop,
            )
            .await?,
        )
    };

    // --- trilink path ---
    let policy_path = work.join("policy.toml");
    std::fs::write(
        &policy_path,
        include_str!("../../../broker-config/policies/default-trilateral.toml"),
    )?;
    let relay_cfg = demo::relay_config(&link)?;
    {
        let stop = stop.clone();
        tasks.spawn(async move {
            trilink_relay::live::run(
                relay_cfg,
                policy_path,
                async move { stop.cancelled().await },
            )
            .await
            .map_err(|e| anyhow!("relay: {e}"))
        });
    }
    let jp_in = demo::free_udp_port()?;
    let jp_out = demo::free_udp_port()?;
    demo::spawn_adapter(
        &mut tasks,
        demo::adapter_jp(&link, jp_in, jp_out)?,
        trilink_jp::JpCodec,
        &stop,
    );
    demo::spawn_adapter(
        &mut tasks,
        demo::adapter_kr(&link, mqtt.port())?,
        trilink_kr::KrCodec,
        &stop,
    );

    let inflight: Inflight = Arc::default();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let kr = trilink_kr::KrCodec;
    let (i2, t2) = (inflight.clone(), tally.clone());
    let hops = crate::bench_hops::Hops::default();
    let hops_rx = args.hops.then(|| hops.clone());
    let _rx = mqtt_subscriber(
        mqtt.port(),
        "bench-kr-national",
        "kr/warning/in",
        move |payload| {
            if let Ok(trilink_schema::Decoded::Frame { frame, .. }) = kr.decode(payload)
                && let Ok(env) = kr.to_common(&frame, Utc::now())
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
        hops.start_probes(&link, &stop).await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let target: std::net::SocketAddr = format!("127.0.0.1:{jp_in}").parse()?;
    let jp = trilink_jp::JpCodec;
    let run = format!("bench{}", Utc::now().format("%Y%m%d%H%M%S%f"));
    // Warm-up: a few messages through the whole path before measuring.
    for i in 0..20 {
        if let Ok(b) = demo::standins::encode(&jp, &template(&format!("{run}w"), i)) {
            let _ = socket.send_to(&b, target).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    *tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Tally::default();
    inflight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
    hops.clear();

    let procs = processes(&link, mqtt.pid());
    let cpu_before = cpu_snapshot(&procs);
    let start = Instant::now();
    let (sent, send_s) = drive(args.rate, duration, &inflight, |i| {
        let env = template(&run, i);
        let key = id_key(&env.message_id);
        if args.hops {
            hops.sent(key);
        }
        let bytes = demo::standins::encode(&jp, &env);
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

    println!(
        "{:<8} {:>8} {:>8} {:>5} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "path", "sent", "recv", "dup", "recv/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    if let Some(b) = &baseline {
        println!("{}", b.row("raw-nats"));
    }
    println!("{}", trilink.row("trilink"));
    if let Some(b) = &baseline {
        let ratio = if b.throughput() > 0.0 {
            trilink.throughput() / b.throughput()
        } else {
            f64::NAN
        };
        println!(
            "throughput ratio trilink / raw-nats: {ratio:.2}; p99 latency ratio: {:.2}",
            trilink.pct(99.0) / b.pct(99.0)
        );
    }
    if let Some(b) = &baseline {
        println!("raw-nats {}", b.cpu);
    }
    println!("trilink  {trilink_cpu}");
    if args.hops {
        print!("{}", hops.report());
    }
    println!(
        "loss: trilink {} of {}; RSS after run: {}",
        trilink.sent.saturating_sub(trilink.received),
        trilink.sent,
        mem.join(", ")
    );

    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    drop(mqtt);
    let _ = link.shutdown();
    Ok(())
}

async fn raw_path(
    link: &Link,
    mqtt_port: u16,
    procs: &[(String, u32)],
    args: &BenchArgs,
    duration: Duration,
    drain: Duration,
    stop: &CancellationToken,
) -> Result<PathResult> {
    let stop = stop.child_token();
    let jp_leaf = link
        .connect(Role::Admin(Site::Jp, Nation::Jp))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let hub_jp = link
        .connect(Role::Admin(Site::Hub, Nation::Jp))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let hub_kr = link
        .connect(Role::Admin(Site::Hub, Nation::Kr))
        .await
        .map_err(|e| anyhow!("{e}"))?;
    let kr_leaf = link
        .connect(Role::Admin(Site::Kr, Nation::Kr))
        .await
        .map_err(|e| anyhow!("{e}"))?;

    // Hub forwarder: JP account → KR account.
    let mut hub_sub = hub_jp.subscribe("bench.raw.in").await?;
    let fwd = hub_kr.clone();
    tokio::spawn(async move {
        while let Some(m) = hub_sub.next().await {
            let _ = fwd.publish("bench.raw.out", m.payload).await;
        }
    });
    // KR side: leaf subscriber → MQTT.
    let mut kr_sub = kr_leaf.subscribe("bench.raw.out").await?;
    let mut opts = MqttOptions::new("bench-raw-kr-out", "127.0.0.1", mqtt_port);
    opts.set_keep_alive(Duration::from_secs(10));
    let (mqtt_out, mut mqtt_events) = AsyncClient::new(opts, 10_000);
    let s2 = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = s2.cancelled() => return,
                ev = mqtt_events.poll() => if ev.is_err() { tokio::time::sleep(Duration::from_millis(100)).await },
            }
        }
    });
    tokio::spawn(async move {
        while let Some(m) = kr_sub.next().await {
            let _ = mqtt_out
                .publish("bench/raw/out", QoS::AtLeastOnce, false, m.payload.to_vec())
                .await;
        }
    });
    // JP side: UDP → leaf publish.
    let udp_in = UdpSocket::bind("127.0.0.1:0").await?;
    let udp_addr = udp_in.local_addr()?;
    let jp_pub = jp_leaf.clone();
    let s3 = stop.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            tokio::select! {
                () = s3.cancelled() => return,
                r = udp_in.recv_from(&mut buf) => if let Ok((n, _)) = r {
                    let _ = jp_pub.publish("bench.raw.in", Bytes::copy_from_slice(buf.get(..n).unwrap_or_default())).await;
                },
            }
        }
    });
    for c in [&jp_leaf, &hub_jp, &hub_kr, &kr_leaf] {
        c.flush().await?;
    }

    let inflight: Inflight = Arc::default();
    let tally: Arc<Mutex<Tally>> = Arc::default();
    let (i2, t2) = (inflight.clone(), tally.clone());
    let _rx = mqtt_subscriber(
        mqtt_port,
        "bench-raw-national",
        "bench/raw/out",
        move |payload| {
            // The raw payload is the same JP frame: its first 8 bytes after the header carry the key.
            if let Some(k) = payload.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                note(&i2, &t2, u64::from_be_bytes(k));
            }
        },
        stop.clone(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await; // interest propagates over the leaf links

    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let jp = trilink_jp::JpCodec;
    let run = format!("raw{}", Utc::now().format("%Y%m%d%H%M%S%f"));
    let cpu_before = cpu_snapshot(procs);
    let start = Instant::now();
    let (sent, send_s) = drive(args.rate, duration, &inflight, |i| {
        // Same frame size as the trilink path, prefixed by an 8-byte key.
        let env = template(&run, i);
        let bytes = demo::standins::encode(&jp, &env);
        let socket = &socket;
        (i, async move {
            let Ok(b) = bytes else { return false };
            let mut msg = Vec::with_capacity(b.len() + 8);
            msg.extend_from_slice(&i.to_be_bytes());
            msg.extend_from_slice(&b);
            socket.send_to(&msg, udp_addr).await.is_ok()
        })
    })
    .await;
    let mut r = collect(&tally, sent, drain, start, send_s).await;
    r.cpu = cpu_report(procs, &cpu_before, &cpu_snapshot(procs), r.received);
    stop.cancel();
    Ok(r)
}
