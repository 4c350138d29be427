//! `trilink record`: write what a link delivers to a capture file.
//!
//! - `--subject S …` (with `--nats URL --user U --password P`): core NATS subscriptions; each
//!   message's envelope is written as one JSON Lines record
//!   `{"ts": <receive time>, "subject", "envelope"}` (the format `trilink replay` and
//!   `trilink policy test` read). Payloads that are not envelopes are counted as undecodable
//!   and not written.
//! - `--jp-udp ADDR`, `--us-tcp ADDR`, `--us-udp ADDR` (listen), `--kr-mqtt mqtt://H:P/TOPIC`
//!   (subscribe on the KR national broker): the bytes as received are written to pcapng with
//!   receive timestamps (UDP datagrams from the sender to the listening address, TCP chunks as
//!   read on each accepted connection, MQTT PUBLISH from a placeholder publisher
//!   `127.0.0.1:49152` to the broker). A [`CaptureMap`] of the listening ports is written beside
//!   the output as `<stem>.map.toml`, which `trilink replay` picks up. Frames are decoded only
//!   to count them (`--count` counts decoded national frames) and to report undecodable ones.
//!
//! Stops on Ctrl-C, `--count N` or `--duration S`. The file is written as messages arrive.
//! This module must not contain protocol logic beyond calling the national codecs to count.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use chrono::Utc;
use clap::Args;
use futures::StreamExt;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use trilink_capture::{
    CaptureDecoder, CaptureMap, CapturedMessage, Framing, JsonlRecord, PcapngWriter, Transport,
};
use trilink_schema::{Decoded, Envelope, Nation, NationalCodec};

use crate::replay_cmd::{Target, parse_target};
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
    /// NATS user.
    #[arg(long, env = "TRILINK_NATS_USER")]
    pub user: Option<String>,
    /// NATS password.
    #[arg(long, env = "TRILINK_NATS_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
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

fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.to_socket_addrs()
        .map_err(|e| format!("{s:?} is not PORT or HOST:PORT ({e})"))?
        .next()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
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
        if national {
            record_national(args, &stop).await
        } else {
            record_nats(args, &stop).await
        }
    });
    match res {
        Ok(s) => {
            println!("{}", s.text(&args.out));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("trilink record: {e:#}");
            ExitCode::from(EXIT_PROBLEM)
        }
    }
}

/// What a recording saw.
#[derive(Debug, Default, Clone)]
pub struct Recorded {
    /// Messages written, by nation (national) or subject prefix `tl.out.kr.track_update` (NATS).
    pub messages: BTreeMap<String, u64>,
    /// Frames or payloads that did not decode (national: still written; NATS: not written).
    pub undecodable: u64,
    /// How long the recording ran.
    pub elapsed: Duration,
}

/// Record in-process on the caller's tokio runtime until `stop`, `--count` or `--duration`
/// (the caller enforces `--duration` by cancelling `stop`; this ignores it): what
/// `trilink record` does, without printing the summary.
pub async fn record_in_process(args: &RecordArgs, stop: &CancellationToken) -> Result<Recorded> {
    let national = args.jp_udp.is_some()
        || args.us_tcp.is_some()
        || args.us_udp.is_some()
        || args.kr_mqtt.is_some();
    if national {
        record_national(args, stop).await
    } else if args.subject.is_empty() || args.nats.is_none() {
        Err(anyhow!("give --subject and --nats, or national outputs"))
    } else {
        record_nats(args, stop).await
    }
}

impl Recorded {
    /// Messages written.
    pub fn total(&self) -> u64 {
        self.messages.values().sum()
    }

    fn text(&self, out: &Path) -> String {
        let by: Vec<String> = self
            .messages
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "recorded {} messages ({}) to {} in {:.1} s; {} undecodable",
            self.total(),
            if by.is_empty() {
                "none".into()
            } else {
                by.join(", ")
            },
            out.display(),
            self.elapsed.as_secs_f64(),
            self.undecodable
        )
    }

    fn reached(&self, count: Option<u64>) -> bool {
        count.is_some_and(|c| self.total() >= c)
    }
}

fn create(path: &Path) -> Result<std::io::BufWriter<std::fs::File>> {
    Ok(std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

async fn record_nats(args: &RecordArgs, stop: &CancellationToken) -> Result<Recorded> {
    let url = args.nats.as_deref().unwrap_or_default();
    let opts = match (&args.user, &args.password) {
        (Some(u), Some(p)) => {
            async_nats::ConnectOptions::with_user_and_password(u.clone(), p.clone())
        }
        _ => async_nats::ConnectOptions::new(),
    }
    .name("trilink-record");
    let client = tokio::time::timeout(Duration::from_secs(10), opts.connect(url))
        .await
        .map_err(|_| anyhow!("connecting to NATS {url}: timed out after 10 s"))?
        .with_context(|| format!("connecting to NATS {url}"))?;
    let mut subs = Vec::new();
    for s in &args.subject {
        subs.push(
            client
                .subscribe(s.clone())
                .await
                .with_context(|| format!("subscribing to {s}"))?,
        );
    }
    client.flush().await.context("flushing subscriptions")?;
    let mut all = futures::stream::select_all(subs);
    let mut file = create(&args.out)?;
    eprintln!(
        "trilink record: recording {} from {url} to {} (Ctrl-C to stop)",
        args.subject.join(" "),
        args.out.display()
    );
    let mut rec = Recorded::default();
    let started = Instant::now();
    while !rec.reached(args.count) {
        let msg = tokio::select! {
            () = stop.cancelled() => break,
            m = all.next() => match m { Some(m) => m, None => break },
        };
        let ts = Utc::now();
        match serde_json::from_slice::<Envelope>(&msg.payload) {
            Ok(envelope) => {
                let r = JsonlRecord {
                    ts,
                    subject: msg.subject.to_string(),
                    envelope,
                };
                let line = r.to_line().map_err(|e| anyhow!("{e}"))?;
                file.write_all(line.as_bytes())?;
                file.flush()?;
                *rec.messages.entry(r.subject_prefix()).or_default() += 1;
            }
            Err(e) => {
                rec.undecodable += 1;
                tracing::warn!(subject = %msg.subject, "not an envelope: {e}");
            }
        }
    }
    rec.elapsed = started.elapsed();
    file.flush()?;
    Ok(rec)
}

trait SubjectPrefix {
    fn subject_prefix(&self) -> String;
}

impl SubjectPrefix for JsonlRecord {
    /// The subject without its track token, for the summary (`tl.out.kr.track_update`).
    fn subject_prefix(&self) -> String {
        self.subject
            .split('.')
            .take(4)
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// One thing heard on a national output.
#[derive(Debug)]
enum Heard {
    Msg(CapturedMessage),
    Mqtt {
        ts: chrono::DateTime<Utc>,
        broker: SocketAddr,
        topic: String,
        payload: Bytes,
    },
    Failed(String),
}

/// Placeholder publisher address of recorded MQTT PUBLISHes.
const MQTT_PUBLISHER: ([u8; 4], u16) = ([127, 0, 0, 1], 49_152);

async fn record_national(args: &RecordArgs, stop: &CancellationToken) -> Result<Recorded> {
    // Cancelled at the end to stop the listeners; a child so the caller's token is untouched.
    let own_stop = stop.child_token();
    let stop = &own_stop;
    let (tx, mut rx) = mpsc::channel::<Heard>(4_096);
    let mut map = CaptureMap::new();
    let mut listening = Vec::new();
    for (nation, spec) in [(Nation::Jp, &args.jp_udp), (Nation::Us, &args.us_udp)] {
        let Some(spec) = spec else { continue };
        let addr = listen_addr(spec).map_err(|e| anyhow!("--{nation}-udp: {e}"))?;
        let sock = UdpSocket::bind(addr)
            .await
            .with_context(|| format!("binding UDP {addr}"))?;
        let local = sock.local_addr()?;
        map = map.with(nation, Transport::Udp, local.port(), Framing::Datagram);
        listening.push(format!("{nation} udp {local}"));
        tokio::spawn(udp_listener(sock, local, tx.clone(), stop.clone()));
    }
    if let Some(spec) = &args.us_tcp {
        let addr = listen_addr(spec).map_err(|e| anyhow!("--us-tcp: {e}"))?;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding TCP {addr}"))?;
        let local = l.local_addr()?;
        map = map.with(Nation::Us, Transport::Tcp, local.port(), Framing::Stream);
        listening.push(format!("us tcp {local}"));
        tokio::spawn(tcp_listener(l, local, tx.clone(), stop.clone()));
    }
    let mut mqtt_client = None;
    if let Some(spec) = &args.kr_mqtt {
        let Ok(Target::Mqtt { host, port, topic }) = parse_target(spec) else {
            return Err(anyhow!(
                "--kr-mqtt: expected mqtt://HOST:PORT/TOPIC, got {spec:?}"
            ));
        };
        let topic = topic.ok_or_else(|| anyhow!("--kr-mqtt: a topic is required"))?;
        let broker = format!("{host}:{port}")
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| anyhow!("--kr-mqtt: cannot resolve {host}:{port}"))?;
        map = map.with(Nation::Kr, Transport::Tcp, broker.port(), Framing::Mqtt);
        listening.push(format!("kr mqtt {broker} topic {topic}"));
        mqtt_client =
            Some(mqtt_listener(host, port, broker, topic, tx.clone(), stop.clone()).await?);
    }
    drop(tx);
    let map_path = args.map.clone().unwrap_or_else(|| {
        let stem = args
            .out
            .file_stem()
            .map_or_else(|| "capture".into(), |s| s.to_string_lossy().into_owned());
        args.out.with_file_name(format!("{stem}.map.toml"))
    });
    let map_text = toml::to_string(&map).map_err(|e| anyhow!("{e}"))?;
    std::fs::write(
        &map_path,
        format!(
            "# Capture map of {} (written by trilink record)\n{map_text}",
            args.out.display()
        ),
    )
    .with_context(|| format!("writing {}", map_path.display()))?;

    let mut file = create(&args.out)?;
    let mut w = PcapngWriter::new().map_err(|e| anyhow!("{e}"))?;
    file.write_all(&w.drain())?;
    file.flush()?;
    let mut decoder = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_us::UsCodec::default());
    let kr = trilink_kr::KrCodec;
    eprintln!(
        "trilink record: recording {} to {} (map {}; Ctrl-C to stop)",
        listening.join(", "),
        args.out.display(),
        map_path.display()
    );
    let mut rec = Recorded::default();
    let started = Instant::now();
    while !rec.reached(args.count) {
        let heard = tokio::select! {
            () = stop.cancelled() => break,
            h = rx.recv() => match h { Some(h) => h, None => break },
        };
        match heard {
            Heard::Msg(m) => {
                w.message(&m).map_err(|e| anyhow!("{e}"))?;
                for r in decoder.push(&m) {
                    match r {
                        Ok(r) => *rec.messages.entry(r.nation.to_string()).or_default() += 1,
                        Err(e) => {
                            rec.undecodable += 1;
                            tracing::warn!("undecodable: {e}");
                        }
                    }
                }
            }
            Heard::Mqtt {
                ts,
                broker,
                topic,
                payload,
            } => {
                w.mqtt_publish(
                    ts,
                    SocketAddr::from(MQTT_PUBLISHER),
                    broker,
                    &topic,
                    &payload,
                )
                .map_err(|e| anyhow!("{e}"))?;
                let (ok, bad) = count_frames(&kr, &payload);
                *rec.messages.entry(Nation::Kr.to_string()).or_default() += ok;
                rec.undecodable += bad;
            }
            Heard::Failed(e) => return Err(anyhow!(e)),
        }
        file.write_all(&w.drain())?;
        file.flush()?;
    }
    for r in decoder.finish() {
        if r.is_err() {
            rec.undecodable += 1;
        }
    }
    rec.elapsed = started.elapsed();
    stop.cancel();
    if let Some(c) = mqtt_client {
        let _ = c.disconnect().await;
    }
    file.write_all(&w.drain())?;
    file.flush()?;
    Ok(rec)
}

/// Whole frames in one datagram/payload: (decoded, undecodable).
fn count_frames<C: NationalCodec>(codec: &C, data: &[u8]) -> (u64, u64) {
    let (mut ok, mut bad, mut at) = (0, 0, 0);
    while let Some(rest) = data.get(at..).filter(|r| !r.is_empty()) {
        match codec.decode(rest) {
            Ok(Decoded::Frame { consumed, .. }) => {
                ok += 1;
                at += consumed.clamp(1, rest.len());
            }
            Ok(Decoded::NeedMore { .. }) => return (ok, bad + 1),
            Err(_) => {
                bad += 1;
                at += codec.skip_after_error(rest).clamp(1, rest.len());
            }
        }
    }
    (ok, bad)
}

fn heard(transport: Transport, src: SocketAddr, dst: SocketAddr, bytes: Bytes) -> Heard {
    Heard::Msg(CapturedMessage {
        timestamp: Utc::now(),
        transport,
        src,
        dst,
        bytes,
        lost_before: 0,
        offset: 0,
    })
}

async fn udp_listener(
    sock: UdpSocket,
    local: SocketAddr,
    tx: mpsc::Sender<Heard>,
    stop: CancellationToken,
) {
    let mut buf = vec![0_u8; 65_536];
    loop {
        let r = tokio::select! {
            () = stop.cancelled() => return,
            r = sock.recv_from(&mut buf) => r,
        };
        let msg = match r {
            Ok((n, peer)) => heard(
                Transport::Udp,
                peer,
                local,
                Bytes::copy_from_slice(buf.get(..n).unwrap_or_default()),
            ),
            Err(e) => Heard::Failed(format!("UDP {local}: {e}")),
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

async fn tcp_listener(
    l: TcpListener,
    local: SocketAddr,
    tx: mpsc::Sender<Heard>,
    stop: CancellationToken,
) {
    loop {
        let (mut s, peer) = tokio::select! {
            () = stop.cancelled() => return,
            r = l.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("accept on {local}: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let (tx, stop) = (tx.clone(), stop.clone());
        tokio::spawn(async move {
            let mut buf = vec![0_u8; 65_536];
            loop {
                let n = tokio::select! {
                    () = stop.cancelled() => return,
                    r = s.read(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    },
                };
                let bytes = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                if tx
                    .send(heard(Transport::Tcp, peer, local, bytes))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}

async fn mqtt_listener(
    host: String,
    port: u16,
    broker: SocketAddr,
    topic: String,
    tx: mpsc::Sender<Heard>,
    stop: CancellationToken,
) -> Result<AsyncClient> {
    let mut opts = MqttOptions::new(
        format!("trilink-record-{}", std::process::id()),
        host.clone(),
        port,
    );
    opts.set_keep_alive(Duration::from_secs(10));
    opts.set_max_packet_size(1024 * 1024, 1024 * 1024);
    let (client, mut events) = AsyncClient::new(opts, 1_024);
    client
        .subscribe(topic.clone(), QoS::AtLeastOnce)
        .await
        .map_err(|e| anyhow!("subscribing to {topic}: {e}"))?;
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            let ev = tokio::select! {
                () = stop.cancelled() => return,
                ev = events.poll() => ev,
            };
            match ev {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let h = Heard::Mqtt {
                        ts: Utc::now(),
                        broker,
                        topic: p.topic.clone(),
                        payload: p.payload.clone(),
                    };
                    if tx.send(h).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("record MQTT {host}:{port}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .map_err(|_| anyhow!("MQTT broker {broker}: no SUBACK within 10 s"))?
        .map_err(|_| anyhow!("MQTT broker {broker}: connection task ended"))?;
    Ok(client)
}
