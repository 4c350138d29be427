//! Test support: the workspace test kit (`trilink_brokers::testing`: real nats-server /
//! mosquitto on free ports, stream helpers), the adapter's hub streams and a running adapter,
//! national systems (MQTT clients, TCP peers), a tiny test codec implementing `NationalCodec`,
//! and small helpers.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::future::Future;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use trilink_runtime::CancellationToken;
use trilink_runtime::adapter::{self, AdapterConfig, AdapterError, RunSummary};
use trilink_runtime::config::{self, ConfigError};
use trilink_runtime::transport::StreamDecoder;
use trilink_schema::{
    Decoded, Envelope, GeoPoint, LaunchDetection, MissileClass, Mode, Nation, NationalCodec,
    NationalError, Payload, PositionUncertainty, Source, TrackId,
};

#[allow(unused_imports)] // not every test binary uses all of the kit
pub use trilink_brokers::testing::*;
#[allow(unused_imports)]
pub use trilink_schema::testing::encode_national;
#[allow(unused_imports)]
pub use trilink_schema::testing::files::{vector_envelope, vector_hex, vector_text};

// ----------------------------------------------------------------------------------------
// The hub: nats-server with the adapter's streams
// ----------------------------------------------------------------------------------------

/// Stream `TL_IN`: what the adapters publish.
pub const TL_IN: (&str, &str) = ("TL_IN", "tl.in.>");
/// Stream `TL_DLQ`: dead letters.
pub const TL_DLQ: (&str, &str) = ("TL_DLQ", "tl.dlq.>");
/// Stream `TL_OUT_JP`: what the relay released to JP.
pub const TL_OUT_JP: (&str, &str) = ("TL_OUT_JP", "tl.out.jp.>");
/// Stream `TL_OUT_KR`: what the relay released to KR.
pub const TL_OUT_KR: (&str, &str) = ("TL_OUT_KR", "tl.out.kr.>");
/// Stream `TL_OUT_US`: what the relay released to US.
pub const TL_OUT_US: (&str, &str) = ("TL_OUT_US", "tl.out.us.>");

// The hub itself (nats-server with streams, a client and its JetStream context) is
// `trilink_brokers::testing::Hub`.

/// Repeat `send`, pausing `pause` after each, until stream `TL_IN` holds `want` messages (the
/// adapter's socket or subscription may not be up yet): then it must hold exactly `want`
/// (JetStream de-duplicates the repeats). Panics naming `what` after `within`.
pub async fn send_until_stored<F, Fut>(
    js: &jetstream::Context,
    want: u64,
    within: Duration,
    pause: Duration,
    what: &str,
    mut send: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        send().await;
        tokio::time::sleep(pause).await;
        let n = stream_count(js, "TL_IN").await;
        if n >= want {
            assert_eq!(n, want, "{what}: the repeats must be de-duplicated");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: never stored"
        );
    }
}

/// Wait until stream `name` holds at least `want` messages; panics with `what` after `within`.
pub async fn wait_at_least(
    js: &jetstream::Context,
    name: &str,
    want: u64,
    within: Duration,
    what: &str,
) {
    let deadline = tokio::time::Instant::now() + within;
    while stream_count(js, name).await < want {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The state of the egress consumer `durable` on stream `name`.
pub async fn consumer_info(js: &jetstream::Context, name: &str, durable: &str) -> consumer::Info {
    let mut c: consumer::PullConsumer = js
        .get_stream(name)
        .await
        .unwrap()
        .get_consumer(durable)
        .await
        .unwrap();
    c.info().await.unwrap().clone()
}

/// Wait until the consumer `durable` on stream `name` satisfies `done`; panics with `what`
/// and the consumer's state after `within`.
pub async fn wait_consumer(
    js: &jetstream::Context,
    (name, durable): (&str, &str),
    within: Duration,
    what: &str,
    done: impl Fn(&consumer::Info) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let info = consumer_info(js, name, durable).await;
        if done(&info) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {info:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ----------------------------------------------------------------------------------------
// A running adapter
// ----------------------------------------------------------------------------------------

/// The head of a test adapter's configuration: `[adapter]` of `nation` without heartbeats and
/// with the `extra` lines, then `[nats]` at `url`. The text ends inside `[nats]` (`key = value`
/// lines appended directly are NATS settings); the `*_toml` helpers below append tables.
pub fn adapter_toml(nation: &str, url: &str, extra: &str) -> String {
    format!(
        "[adapter]\nnation = \"{nation}\"\nheartbeat_interval_ms = 0\n{extra}\n\n[nats]\nurl = \"{url}\"\n"
    )
}

/// `[telemetry]` listening on 127.0.0.1:`port`.
pub fn telemetry_toml(port: u16) -> String {
    format!("\n[telemetry]\nlisten = \"127.0.0.1:{port}\"\n")
}

/// `[egress]` consuming `TL_OUT_<NATION>` as durable `adapter-<nation>`, with the `extra` lines.
pub fn egress_toml(nation: &str, extra: &str) -> String {
    let stream = format!("TL_OUT_{}", nation.to_uppercase());
    format!("\n[egress]\nstream = \"{stream}\"\ndurable = \"adapter-{nation}\"\n{extra}\n")
}

/// One `[[<table>]]` (`ingress` or `egress.outputs`) of type `kind` with the `lines`.
pub fn endpoint_toml(table: &str, kind: &str, lines: &str) -> String {
    format!("\n[[{table}]]\ntype = \"{kind}\"\n{lines}\n")
}

/// An MQTT endpoint (`table` as in [`endpoint_toml`]) on the broker at 127.0.0.1:`port`, as
/// `client_id` on `topic`, with the `extra` lines.
pub fn mqtt_toml(table: &str, port: u16, client_id: &str, topic: &str, extra: &str) -> String {
    endpoint_toml(
        table,
        "mqtt",
        &format!(
            "host = \"127.0.0.1\"\nport = {port}\nclient_id = \"{client_id}\"\ntopic = \"{topic}\"\n{extra}"
        ),
    )
}

/// The adapter configuration `text` as file `name` (e.g. `kr.toml`) with the environment
/// overrides `env`.
pub fn load_config(
    text: &str,
    name: &str,
    env: &[(&str, &str)],
) -> Result<AdapterConfig, ConfigError> {
    config::load_str(
        text,
        Path::new(name),
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>(),
    )
}

/// The adapter configuration `text` as file `name`, no overrides; panics when it is invalid.
pub fn adapter_config(text: &str, name: &str) -> AdapterConfig {
    load_config(text, name, &[]).unwrap()
}

/// The configuration [`adapter_toml`] of `nation` at `url` (no extra `[adapter]` lines)
/// followed by `rest`, as file `<nation>.toml`.
pub fn adapter_with(nation: &str, url: &str, rest: &str) -> AdapterConfig {
    adapter_config(
        &(adapter_toml(nation, url, "") + rest),
        &format!("{nation}.toml"),
    )
}

/// `adapter::run` of `cfg` with `codec` in this task, never cancelled: what it returns when it
/// stops by itself (a start-up error), within `within`.
pub async fn run_to_end<C: NationalCodec + Send + Sync + 'static>(
    cfg: AdapterConfig,
    codec: C,
    within: Duration,
) -> Result<RunSummary, AdapterError> {
    let never = CancellationToken::new();
    tokio::time::timeout(within, adapter::run(cfg, codec, never))
        .await
        .unwrap()
}

/// `adapter::run` in its own task.
pub struct RunningAdapter {
    pub token: CancellationToken,
    pub task: tokio::task::JoinHandle<Result<RunSummary, AdapterError>>,
}

/// Start the adapter of `cfg` with `codec`, stopped by its own token.
pub fn spawn_adapter<C>(cfg: AdapterConfig, codec: C) -> RunningAdapter
where
    C: NationalCodec + Send + Sync + 'static,
{
    spawn_adapter_on(&CancellationToken::new(), cfg, codec)
}

/// Start the adapter of `cfg` with `codec`, stopped by `token` (shared by several adapters).
pub fn spawn_adapter_on<C>(
    token: &CancellationToken,
    cfg: AdapterConfig,
    codec: C,
) -> RunningAdapter
where
    C: NationalCodec + Send + Sync + 'static,
{
    RunningAdapter {
        token: token.clone(),
        task: tokio::spawn(adapter::run(cfg, codec, token.clone())),
    }
}

impl RunningAdapter {
    /// Cancel, then [`RunningAdapter::join`].
    pub async fn stop(self, within: Duration) -> RunSummary {
        self.token.cancel();
        self.join(within).await
    }

    /// Its summary once it has ended; panics if it runs on after `within`, panicked or failed.
    pub async fn join(self, within: Duration) -> RunSummary {
        tokio::time::timeout(within, self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    }

    /// Cancel and give it `within` to end, whatever it returns.
    pub async fn stop_unchecked(self, within: Duration) {
        self.token.cancel();
        let _ = tokio::time::timeout(within, self.task).await;
    }
}

/// Cancel `token` (shared by `runs`) and the summary of each, in order, as
/// [`RunningAdapter::join`].
pub async fn stop_all(
    token: &CancellationToken,
    runs: impl IntoIterator<Item = RunningAdapter>,
    within: Duration,
) -> Vec<RunSummary> {
    token.cancel();
    let mut summaries = Vec::new();
    for r in runs {
        summaries.push(r.join(within).await);
    }
    summaries
}

// ----------------------------------------------------------------------------------------
// National systems
// ----------------------------------------------------------------------------------------

/// Throwaway certificates from the project's `trilink_brokers::certs` (dev CA `ca.pem`, server
/// certificate `hub.pem` for localhost/127.0.0.1, client certificates `leaf-kr`, `leaf-jp`, a
/// rogue CA and a client certificate signed by it) in the returned folder, which lives as
/// long as the returned directory.
pub fn dev_certs() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    trilink_brokers::launcher::make_dev_certs(&certs).unwrap();
    (dir, certs)
}

/// `nation`'s vector `<vector>.json` with current times: observed 1.5 s and ingested 1 s ago,
/// a launch 30 s ago (a message the adapter accepts as fresh).
pub fn fresh_vector(nation: &str, vector: &str) -> Envelope {
    let mut env = vector_envelope(nation, vector);
    let now = Utc::now();
    env.observed_at = now - chrono::Duration::milliseconds(1500);
    env.ingested_at = now - chrono::Duration::milliseconds(1000);
    if let Payload::LaunchDetection(l) = &mut env.payload {
        l.launch_time = now - chrono::Duration::seconds(30);
    }
    env
}

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
    let mut opts = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    if let Some(k) = keep_alive {
        opts.set_keep_alive(k);
    }
    opts.set_max_packet_size(max_packet, max_packet);
    national_mqtt_with(opts, 16, subscribe).await
}

/// A national system's MQTT client with `opts` (request and receive queues of `capacity`),
/// subscribed to `subscribe` if given, as [`national_mqtt`].
pub async fn national_mqtt_with(
    opts: rumqttc::MqttOptions,
    capacity: usize,
    subscribe: Option<&str>,
) -> (
    rumqttc::AsyncClient,
    tokio::sync::mpsc::Receiver<bytes::Bytes>,
    tokio::task::JoinHandle<()>,
) {
    use rumqttc::{AsyncClient, Event, Packet, QoS};
    let (client, mut el) = AsyncClient::new(opts, capacity);
    if let Some(topic) = subscribe {
        client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    }
    let (tx, rx) = tokio::sync::mpsc::channel(capacity);
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

/// Publish `payload` on `topic` with QoS 1 (queued for the client's event loop).
pub async fn mqtt_publish(client: &rumqttc::AsyncClient, topic: &str, payload: impl Into<Vec<u8>>) {
    client
        .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
        .await
        .unwrap();
}

/// Connect to 127.0.0.1:`port`, retrying every 50 ms until something listens there.
pub async fn connect_retrying(port: u16) -> tokio::net::TcpStream {
    loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(c) => break c,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Listen on 127.0.0.1:`port` and accept the first connection within `within`.
pub async fn accept_on(port: u16, within: Duration) -> tokio::net::TcpStream {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    accept_within(&listener, within).await
}

/// The first connection to `listener` within `within`.
pub async fn accept_within(
    listener: &tokio::net::TcpListener,
    within: Duration,
) -> tokio::net::TcpStream {
    let (sock, _) = tokio::time::timeout(within, listener.accept())
        .await
        .unwrap()
        .unwrap();
    sock
}

/// The KR national system publishes `env`'s test frame on `kr/sys/out` (repeating it every
/// 200 ms until stored, as [`send_until_stored`] with `what`): it is `TL_IN`'s only message,
/// on `tl.in.kr.launch_detection`, with the envelope's id as `Nats-Msg-Id`.
pub async fn kr_publish_until_stored(
    js: &jetstream::Context,
    national: &rumqttc::AsyncClient,
    env: &Envelope,
    within: Duration,
    what: &str,
) {
    send_until_stored(js, 1, within, Duration::from_millis(200), what, || {
        mqtt_publish(national, "kr/sys/out", frame_for(env))
    })
    .await;
    let m = raw_message(js, "TL_IN", 1).await;
    assert_eq!(m.subject.as_str(), "tl.in.kr.launch_detection");
    assert_eq!(
        m.headers
            .get(trilink_schema::headers::MSG_ID)
            .unwrap()
            .as_str(),
        env.message_id.to_string()
    );
}

/// A stream decoder over `codec`.
pub fn stream_decoder<C: NationalCodec>(codec: C) -> StreamDecoder<C> {
    StreamDecoder::new(Arc::new(codec))
}

/// The next frame `dec` decodes from `sock`, reading as needed (each read within `within`);
/// panics on a rejected frame or when `sock` closes (`closed` says what closed).
pub async fn next_frame<C: NationalCodec>(
    dec: &mut StreamDecoder<C>,
    sock: &mut tokio::net::TcpStream,
    within: Duration,
    closed: &str,
) -> C::Frame {
    loop {
        let n = tokio::time::timeout(within, dec.read_buf(sock))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "{closed}");
        if let Some(item) = dec.next_item() {
            break item.unwrap().0;
        }
    }
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
