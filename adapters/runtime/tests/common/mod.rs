//! Test support: the workspace test kit (`trilink_brokers::testing`: real nats-server /
//! mosquitto on free ports, stream helpers), a tiny test codec implementing `NationalCodec`,
//! and small helpers.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::marker::PhantomData;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use trilink_schema::{
    Decoded, Envelope, GeoPoint, LaunchDetection, MissileClass, Mode, Nation, NationalCodec,
    NationalError, Payload, PositionUncertainty, Source, TrackId,
};

#[allow(unused_imports)] // not every test binary uses all of the kit
pub use trilink_brokers::testing::*;

/// A national system's MQTT client on the broker at 127.0.0.1:`port` (packets up to
/// `max_packet` bytes, keep-alive `keep_alive` if given), subscribed to `subscribe` if given.
/// Its event loop runs in the returned task; every publish it receives arrives on the channel.
pub async fn national_mqtt(
    id: &str,
    port: u16,
    max_packet: usize,
    keep_alive: Option<Duration>,
    subscribe: Option<&str>,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::Receiver<bytes::Bytes>,
    tokio::task::JoinHandle<()>,
) {
    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    if let Some(k) = keep_alive {
        opts.set_keep_alive(k);
    }
    opts.set_max_packet_size(max_packet, max_packet);
    let (client, mut el) = AsyncClient::new(opts, 16);
    if let Some(topic) = subscribe {
        client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    }
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let driver = tokio::spawn(async move {
        loop {
            match el.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload).await;
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    (client, rx, driver)
}

/// Plain HTTP GET returning (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (code, body)
}

// ----------------------------------------------------------------------------------------
// Test codec: "TST1" magic, u16 BE length, JSON envelope, 1-byte additive checksum.
// ----------------------------------------------------------------------------------------

pub trait Which: Send + Sync + 'static {
    const N: Nation;
}
#[derive(Debug)]
pub struct Jp;
impl Which for Jp {
    const N: Nation = Nation::Jp;
}
#[derive(Debug)]
pub struct Kr;
impl Which for Kr {
    const N: Nation = Nation::Kr;
}
#[derive(Debug)]
pub struct Us;
impl Which for Us {
    const N: Nation = Nation::Us;
}

#[derive(Debug)]
pub struct TestCodec<W>(PhantomData<W>);

impl<W> Default for TestCodec<W> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("bad sync")]
    BadSync,
    #[error("bad checksum")]
    BadChecksum,
    #[error("frame of {0} bytes is too long")]
    Oversize(usize),
    #[error("bad json: {0}")]
    BadJson(String),
    #[error("cannot encode: {0}")]
    Encode(String),
    #[error("message ends inside a frame ({0} more bytes needed)")]
    Truncated(usize),
    #[error("{0} bytes after the frame in the message")]
    TrailingBytes(usize),
}

impl NationalError for TestError {
    fn code(&self) -> &'static str {
        match self {
            TestError::BadSync => "bad_sync",
            TestError::BadChecksum => "bad_checksum",
            TestError::Oversize(_) => "oversize",
            TestError::BadJson(_) => "bad_json",
            TestError::Encode(_) => "encode",
            TestError::Truncated(_) => "truncated",
            TestError::TrailingBytes(_) => "trailing_bytes",
        }
    }
}

pub const MAGIC: &[u8; 4] = b"TST1";
pub const TEST_MAX: usize = 4096;

fn checksum(b: &[u8]) -> u8 {
    b.iter().fold(0_u8, |a, x| a.wrapping_add(*x))
}

/// Encode a raw body (any bytes) as a test frame.
pub fn frame_bytes(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(MAGIC);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v.push(checksum(body));
    v
}

pub fn frame_for(env: &Envelope) -> Vec<u8> {
    frame_bytes(&env.to_json().unwrap())
}

impl<W: Which> NationalCodec for TestCodec<W> {
    type Frame = Envelope;
    type Error = TestError;
    const NATION: Nation = W::N;
    const MAX_FRAME_LEN: usize = TEST_MAX;

    fn decode(&self, buf: &[u8]) -> Result<Decoded<Envelope>, TestError> {
        let have = buf.len().min(4);
        if buf[..have] != MAGIC[..have] {
            return Err(TestError::BadSync);
        }
        if buf.len() < 6 {
            return Ok(Decoded::NeedMore {
                needed: 6 - buf.len(),
            });
        }
        let len = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
        let total = 6 + len + 1;
        if total > TEST_MAX {
            return Err(TestError::Oversize(total));
        }
        if buf.len() < total {
            return Ok(Decoded::NeedMore {
                needed: total - buf.len(),
            });
        }
        let body = &buf[6..6 + len];
        if checksum(body) != buf[6 + len] {
            return Err(TestError::BadChecksum);
        }
        let env = Envelope::from_json(body).map_err(|e| TestError::BadJson(e.to_string()))?;
        Ok(Decoded::Frame {
            frame: env,
            consumed: total,
        })
    }

    fn decode_message(&self, msg: &[u8]) -> Result<Envelope, TestError> {
        match self.decode(msg)? {
            Decoded::Frame { frame, consumed } if consumed == msg.len() => Ok(frame),
            Decoded::Frame { consumed, .. } => Err(TestError::TrailingBytes(msg.len() - consumed)),
            Decoded::NeedMore { needed } => Err(TestError::Truncated(needed)),
        }
    }

    fn skip_after_error(&self, buf: &[u8]) -> usize {
        // Skip to the next magic after position 0.
        (1..buf.len())
            .find(|&i| buf[i..].starts_with(&MAGIC[..(buf.len() - i).min(4)]))
            .unwrap_or(buf.len())
            .max(1)
    }

    fn encode(&self, frame: &Envelope, out: &mut BytesMut) -> Result<(), TestError> {
        let body = frame
            .to_json()
            .map_err(|e| TestError::Encode(e.to_string()))?;
        if body.len() + 7 > TEST_MAX {
            return Err(TestError::Encode("too long".into()));
        }
        out.put_slice(MAGIC);
        out.put_u16(body.len() as u16);
        out.put_slice(&body);
        out.put_u8(checksum(&body));
        Ok(())
    }

    fn to_common(
        &self,
        frame: &Envelope,
        ingested_at: DateTime<Utc>,
    ) -> Result<Envelope, TestError> {
        let mut e = frame.clone();
        e.ingested_at = ingested_at;
        Ok(e)
    }

    fn to_national(&self, env: &Envelope) -> Result<Envelope, TestError> {
        if env.source.sensor == "unencodable" {
            return Err(TestError::Encode("sensor cannot be represented".into()));
        }
        let mut e = env.clone();
        e.relayed_at = None;
        e.provenance.clear();
        Ok(e)
    }
}

/// A valid launch detection from `origin`, released to `rel`.
pub fn launch(origin: Nation, national_id: &str, rel: &[Nation]) -> Envelope {
    let now = Utc::now() - chrono::Duration::milliseconds(50);
    Envelope::new(
        origin,
        Source {
            system: "sys".into(),
            sensor: "radar-1".into(),
            national_message_id: national_id.into(),
        },
        now,
        now,
        Mode::Exercise,
        rel.iter().copied().collect::<BTreeSet<_>>(),
        Payload::LaunchDetection(LaunchDetection {
            track_id: TrackId::new("T-1").unwrap(),
            launch_time: now,
            launch_point: GeoPoint {
                lat_deg: 39.0,
                lon_deg: 125.7,
                alt_m: 10.0,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 500.0,
                vertical_m: 100.0,
            },
            missile_class: MissileClass::Srbm,
            confidence: 0.9,
        }),
    )
}
