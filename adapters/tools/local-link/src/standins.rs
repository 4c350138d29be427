//! National-system stand-ins: they send a scenario's reports in each nation's own format on
//! its own transport, and receive, decode and print what the link delivers to that nation
//! (onto the [`Board`]).

use std::net::SocketAddr;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;
use trilink_runtime::mqtt_client::{MqttClient, MqttClientOptions};
use trilink_schema::{Decoded, Envelope, NationalCodec, NationalError};

pub use crate::board::{
    Board, Fused, Out, Received, SharedBoard, mark_sent, same_within_precision, send_failed,
};
use crate::board::{deliver, hub_only, undecodable};

/// Encode an envelope in a nation's format.
pub fn encode<C: NationalCodec>(codec: &C, env: &Envelope) -> Result<BytesMut, String> {
    let frame = codec.to_national(env).map_err(|e| e.to_string())?;
    let mut out = BytesMut::new();
    codec.encode(&frame, &mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn decode_one<C: NationalCodec>(codec: &C, bytes: &[u8]) -> Option<Envelope> {
    match codec.decode(bytes) {
        Ok(Decoded::Frame { frame, .. }) => codec.to_common(&frame, Utc::now()).ok(),
        _ => None,
    }
}

/// JP national system receiving UDP datagrams from adapter-jp.
pub async fn jp_receiver<C: NationalCodec + Sync>(
    codec: C,
    socket: UdpSocket,
    board: SharedBoard,
    out: Out,
    stop: CancellationToken,
) {
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            r = socket.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                match buf.get(..n).and_then(|d| decode_one(&codec, d)) {
                    Some(env) => deliver(&board, &out, C::NATION, &env),
                    None => undecodable(&board, C::NATION),
                }
            }
        }
    }
}

/// US national system: a TCP listener adapter-us connects to; SIMPLE packets back to back.
pub async fn us_receiver<C: NationalCodec + Clone + Send + Sync + 'static>(
    codec: C,
    listener: TcpListener,
    board: SharedBoard,
    out: Out,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((mut stream, _)) = accepted else {
            continue;
        };
        let (codec, board, out, stop) = (codec.clone(), board.clone(), out.clone(), stop.clone());
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(8_192);
            loop {
                let n = tokio::select! {
                    () = stop.cancelled() => return,
                    r = stream.read_buf(&mut buf) => r,
                };
                match n {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                // Decode every whole packet in the buffer.
                loop {
                    match codec.decode(&buf) {
                        Ok(Decoded::Frame { frame, consumed }) => {
                            let _ = buf.split_to(consumed.min(buf.len()));
                            match codec.to_common(&frame, Utc::now()) {
                                Ok(env) => deliver(&board, &out, C::NATION, &env),
                                // A J7.7 association: read by the national system, never
                                // accepted back by an adapter.
                                Err(e) if e.code() == "hub_only_kind" => {
                                    hub_only(&board, C::NATION);
                                }
                                Err(_) => undecodable(&board, C::NATION),
                            }
                        }
                        Ok(Decoded::NeedMore { .. }) => break,
                        Err(_) => {
                            undecodable(&board, C::NATION);
                            let skip = codec.skip_after_error(&buf).clamp(1, buf.len().max(1));
                            let _ = buf.split_to(skip.min(buf.len()));
                        }
                    }
                }
            }
        });
    }
}

/// KR national system: an MQTT client on the KR broker subscribed to what adapter-kr delivers
/// (persistent session: the broker keeps what arrives while it reconnects).
pub async fn kr_receiver<C: NationalCodec + Sync>(
    codec: C,
    mqtt: (String, u16),
    topic: String,
    board: SharedBoard,
    out: Out,
    stop: CancellationToken,
) {
    let opts = MqttClientOptions::new("kr-national-system-rx", mqtt.0, mqtt.1)
        .capacity(256)
        .persistent_session();
    let (client, mut incoming) = MqttClient::start(opts, &stop);
    let _ = client.subscribe(&topic).await;
    loop {
        let p = tokio::select! {
            () = stop.cancelled() => return,
            p = incoming.recv() => match p { Some(p) => p, None => return },
        };
        match decode_one(&codec, &p.payload) {
            Some(env) => deliver(&board, &out, C::NATION, &env),
            None => undecodable(&board, C::NATION),
        }
    }
}

/// How a stand-in sends national traffic to its adapter.
#[derive(Debug)]
pub enum Sender {
    /// JP: UDP datagrams to the adapter's ingress port.
    Udp(UdpSocket, SocketAddr),
    /// KR: MQTT publishes on the KR broker.
    Mqtt(MqttClient, String),
    /// US: a TCP connection to the adapter's ingress listener.
    Tcp(TcpStream),
}

impl Sender {
    /// Send one national frame.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self {
            Sender::Udp(s, to) => s
                .send_to(bytes, *to)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Sender::Mqtt(c, topic) => c
                .publish(topic.clone(), bytes.to_vec())
                .await
                .map_err(|e| e.to_string()),
            Sender::Tcp(s) => s.write_all(bytes).await.map_err(|e| e.to_string()),
        }
    }
}

/// An MQTT publisher for the KR national system (persistent session: unacknowledged publishes
/// are sent again after a reconnect); its event loop runs until `stop`.
#[allow(clippy::needless_pass_by_value)] // the token is the caller's to give away
pub fn kr_sender(mqtt: (String, u16), topic: String, stop: CancellationToken) -> Sender {
    let opts = MqttClientOptions::new("kr-national-system-tx", mqtt.0, mqtt.1).persistent_session();
    let (client, _incoming) = MqttClient::start(opts, &stop);
    Sender::Mqtt(client, topic)
}

/// Shift every timestamp of a report so that it is observed `delta` later (the demo replays
/// a scenario "now", possibly faster than recorded).
pub fn shift_times(env: &mut Envelope, delta: chrono::Duration) {
    use trilink_schema::Payload;
    let s = |t: &mut DateTime<Utc>| *t += delta;
    s(&mut env.observed_at);
    s(&mut env.ingested_at);
    match &mut env.payload {
        Payload::LaunchDetection(p) => s(&mut p.launch_time),
        Payload::TrackUpdate(p) => s(&mut p.time),
        Payload::ImpactPrediction(p) => s(&mut p.impact_time),
        Payload::EventEnd(p) => s(&mut p.time),
        Payload::Correction(p) => {
            if let Some(t) = &mut p.corrected_time {
                s(t);
            }
        }
        // Scenario reports never hold the hub's common events.
        Payload::Cancel(_) | Payload::Status(_) | Payload::CommonEvent(_) => {}
    }
}
