//! Recording national outputs (UDP, TCP, MQTT) to pcapng, with a capture map beside it.

use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Instant;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use trilink_capture::{CaptureDecoder, CaptureMap, Framing, PcapngWriter, Transport};
use trilink_schema::{Decoded, Nation, NationalCodec};

use super::listen::{CapturedOutput, MQTT_PUBLISHER, mqtt_listener, tcp_listener, udp_listener};
use super::{RecordError, RecordOptions, Recorded, create};
use crate::Notice;
use crate::target::{Target, parse_target};

/// `PORT` (on 127.0.0.1) or `HOST:PORT`.
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.to_socket_addrs()
        .map_err(|e| format!("{s:?} is not PORT or HOST:PORT ({e})"))?
        .next()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
}

pub(crate) async fn record_national(
    args: &RecordOptions,
    stop: &CancellationToken,
    notice: &Notice,
) -> Result<Recorded, RecordError> {
    // Cancelled at the end to stop the listeners; a child so the caller's token is untouched.
    let own_stop = stop.child_token();
    let stop = &own_stop;
    let (tx, mut rx) = mpsc::channel::<CapturedOutput>(4_096);
    let mut map = CaptureMap::new();
    let mut listening = Vec::new();
    for (nation, spec) in [(Nation::Jp, &args.jp_udp), (Nation::Us, &args.us_udp)] {
        let Some(spec) = spec else { continue };
        let addr =
            listen_addr(spec).map_err(|e| RecordError::Usage(format!("--{nation}-udp: {e}")))?;
        let sock = UdpSocket::bind(addr)
            .await
            .map_err(|source| RecordError::Io {
                what: format!("binding UDP {addr}"),
                source,
            })?;
        let local = sock.local_addr()?;
        map = map.with(nation, Transport::Udp, local.port(), Framing::Datagram);
        listening.push(format!("{nation} udp {local}"));
        tokio::spawn(udp_listener(sock, local, tx.clone(), stop.clone()));
    }
    if let Some(spec) = &args.us_tcp {
        let addr = listen_addr(spec).map_err(|e| RecordError::Usage(format!("--us-tcp: {e}")))?;
        let l = TcpListener::bind(addr)
            .await
            .map_err(|source| RecordError::Io {
                what: format!("binding TCP {addr}"),
                source,
            })?;
        let local = l.local_addr()?;
        map = map.with(Nation::Us, Transport::Tcp, local.port(), Framing::Stream);
        listening.push(format!("us tcp {local}"));
        tokio::spawn(tcp_listener(l, local, tx.clone(), stop.clone()));
    }
    let mut mqtt_client = None;
    if let Some(spec) = &args.kr_mqtt {
        let Ok(Target::Mqtt { host, port, topic }) = parse_target(spec) else {
            return Err(RecordError::Usage(format!(
                "--kr-mqtt: expected mqtt://HOST:PORT/TOPIC, got {spec:?}"
            )));
        };
        let topic =
            topic.ok_or_else(|| RecordError::Usage("--kr-mqtt: a topic is required".into()))?;
        let broker = format!("{host}:{port}")
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                RecordError::Usage(format!("--kr-mqtt: cannot resolve {host}:{port}"))
            })?;
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
    let map_text = toml::to_string(&map).map_err(|e| RecordError::Failed(e.to_string()))?;
    std::fs::write(
        &map_path,
        format!(
            "# Capture map of {} (written by trilink record)\n{map_text}",
            args.out.display()
        ),
    )
    .map_err(|source| RecordError::Io {
        what: format!("writing {}", map_path.display()),
        source,
    })?;

    let mut file = create(&args.out)?;
    let mut w = PcapngWriter::new().map_err(|e| RecordError::Failed(e.to_string()))?;
    file.write_all(&w.drain())?;
    file.flush()?;
    let mut decoder = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_us::UsCodec::default());
    let kr = trilink_kr::KrCodec;
    notice(&format!(
        "recording {} to {} (map {}; Ctrl-C to stop)",
        listening.join(", "),
        args.out.display(),
        map_path.display()
    ));
    let mut rec = Recorded::default();
    let started = Instant::now();
    while !rec.reached(args.count) {
        let heard = tokio::select! {
            () = stop.cancelled() => break,
            h = rx.recv() => match h { Some(h) => h, None => break },
        };
        match heard {
            CapturedOutput::Msg(m) => {
                w.message(&m)
                    .map_err(|e| RecordError::Failed(e.to_string()))?;
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
            CapturedOutput::Mqtt {
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
                .map_err(|e| RecordError::Failed(e.to_string()))?;
                let (ok, bad) = count_frames(&kr, &payload);
                *rec.messages.entry(Nation::Kr.to_string()).or_default() += ok;
                rec.undecodable += bad;
            }
            CapturedOutput::Failed(e) => return Err(RecordError::Failed(e)),
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
        c.disconnect().await;
    }
    file.write_all(&w.drain())?;
    file.flush()?;
    Ok(rec)
}

/// Whole frames in one datagram/payload: (decoded, undecodable).
pub fn count_frames<C: NationalCodec>(codec: &C, data: &[u8]) -> (u64, u64) {
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
