//! `trilink record`'s listeners on national outputs: UDP sockets, a TCP listener, and an MQTT
//! subscription on the KR national broker; each sends what it hears to the recorder.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use trilink_capture::{CapturedMessage, Transport};
use trilink_runtime::mqtt_client::{MqttClient, MqttClientOptions};

use super::RecordError;

/// One thing heard on a national output.
#[derive(Debug)]
pub enum CapturedOutput {
    /// A UDP datagram or a TCP chunk, as received.
    Msg(CapturedMessage),
    /// An MQTT PUBLISH on the subscribed topic.
    Mqtt {
        /// When it was received.
        ts: chrono::DateTime<Utc>,
        /// The broker's address (the capture's destination).
        broker: SocketAddr,
        /// Its topic.
        topic: String,
        /// Its payload.
        payload: Bytes,
    },
    /// A listener failed; the recording stops with this reason.
    Failed(String),
}

/// Placeholder publisher address of recorded MQTT PUBLISHes.
pub const MQTT_PUBLISHER: ([u8; 4], u16) = ([127, 0, 0, 1], 49_152);

/// A [`CapturedOutput::Msg`] received now.
pub fn heard(
    transport: Transport,
    src: SocketAddr,
    dst: SocketAddr,
    bytes: Bytes,
) -> CapturedOutput {
    CapturedOutput::Msg(CapturedMessage {
        timestamp: Utc::now(),
        transport,
        src,
        dst,
        bytes,
        lost_before: 0,
        offset: 0,
    })
}

/// Every datagram received on `sock` (bound to `local`) until `stop`.
pub async fn udp_listener(
    sock: UdpSocket,
    local: SocketAddr,
    tx: mpsc::Sender<CapturedOutput>,
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
            Err(e) => CapturedOutput::Failed(format!("UDP {local}: {e}")),
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}

/// Every chunk read on each connection accepted by `l` (bound to `local`) until `stop`.
pub async fn tcp_listener(
    l: TcpListener,
    local: SocketAddr,
    tx: mpsc::Sender<CapturedOutput>,
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

/// Subscribe to `topic` on the broker at `host:port` (`broker` is its resolved address, for
/// the capture) and wait up to 10 s for the SUBACK; every PUBLISH goes to `tx` until `stop`.
pub async fn mqtt_listener(
    host: String,
    port: u16,
    broker: SocketAddr,
    topic: String,
    tx: mpsc::Sender<CapturedOutput>,
    stop: CancellationToken,
) -> Result<MqttClient, RecordError> {
    let opts = MqttClientOptions::new(
        format!("trilink-record-{}", std::process::id()),
        host.clone(),
        port,
    );
    let (client, mut incoming) = MqttClient::start(opts, &stop);
    client
        .subscribe(&topic)
        .await
        .map_err(|e| RecordError::Failed(format!("subscribing to {topic}: {e}")))?;
    client
        .wait_subscribed(Duration::from_secs(10))
        .await
        .map_err(|_| RecordError::Failed(format!("MQTT broker {broker}: no SUBACK within 10 s")))?;
    tokio::spawn(async move {
        loop {
            let p = tokio::select! {
                () = stop.cancelled() => return,
                p = incoming.recv() => match p { Some(p) => p, None => return },
            };
            let h = CapturedOutput::Mqtt {
                ts: Utc::now(),
                broker,
                topic: p.topic,
                payload: p.payload,
            };
            if tx.send(h).await.is_err() {
                return;
            }
        }
    });
    Ok(client)
}
