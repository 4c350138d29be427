//! The test kit (feature `testing`): what trilink's tests need from real brokers, in one place.
//!
//! Every broker here is a real process started by this crate ([`NatsServer`] through the
//! link's own [`crate::ServerProcess`], [`Mosquitto`]) on ports from [`crate::free_port_for`],
//! killed by PID on drop. On top of them: stream setup, counting and waiting with a deadline,
//! reading stored and dead-lettered messages back; GET on a component's telemetry port and
//! sums over its Prometheus text. Helpers panic with what they saw (they are for tests); a
//! wait never turns a timeout into a pass.
//!
//! Crates use it as a dev-dependency: `trilink-brokers = { workspace = true, features =
//! ["testing"] }`. Nothing outside tests, examples and benches may enable the feature.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read as _, Write as _};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull, message::StreamMessage, stream};
use futures::StreamExt as _;
use trilink_schema::{Envelope, headers};

pub use crate::mosquitto::{Mosquitto, anonymous_listener};
pub use crate::standalone::{JETSTREAM_CONF, NatsServer};

/// A free TCP port on 127.0.0.1 for a process started next.
pub fn free_port() -> u16 {
    crate::free_port().unwrap_or_else(|e| panic!("no free TCP port: {e}"))
}

/// A free UDP port on 127.0.0.1 for a socket bound next.
pub fn free_udp_port() -> u16 {
    crate::free_udp_port().unwrap_or_else(|e| panic!("no free UDP port: {e}"))
}

/// nats-server with JetStream on a free port, anonymous (`NATS_SERVER_BIN` honoured).
pub fn start_nats() -> NatsServer {
    NatsServer::start_jetstream().unwrap_or_else(|e| panic!("starting nats-server: {e}"))
}

/// nats-server from a config template (see [`NatsServer::start_with_config`]).
pub fn start_nats_with(template: &str) -> NatsServer {
    NatsServer::start_with_config(template).unwrap_or_else(|e| panic!("starting nats-server: {e}"))
}

/// mosquitto on a free port, anonymous, no persistence (`MOSQUITTO_BIN` honoured).
pub fn start_mosquitto() -> Mosquitto {
    let port = free_port();
    start_mosquitto_body(&anonymous_listener(port), &[port])
}

/// mosquitto with the config `body` (its `listener` lines and their settings), logging
/// everything to `<dir>/mosquitto.log` ([`Mosquitto::log_text`]); waits until every port in
/// `ports` accepts TCP. [`Mosquitto::port`] is the first one.
pub fn start_mosquitto_conf(ports: &[u16], body: &str) -> Mosquitto {
    let body = format!("log_dest file {{{{DIR}}}}/mosquitto.log\nlog_type all\n{body}");
    start_mosquitto_body(&body, ports)
}

fn start_mosquitto_body(body: &str, ports: &[u16]) -> Mosquitto {
    let mut m = Mosquitto::spawn_temp(body, ports).unwrap_or_else(|e| panic!("{e}"));
    m.wait_listening()
        .unwrap_or_else(|e| panic!("mosquitto: {e}"));
    m
}

/// A client and its JetStream context for `url`.
pub async fn connect_js(url: &str) -> (async_nats::Client, jetstream::Context) {
    let client = async_nats::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    let js = jetstream::new(client.clone());
    (client, js)
}

/// A client of `link` with every right in `account`'s account on `site`'s server (its
/// `Role::Admin`): what a test observes or sets up through.
pub async fn admin(
    link: &crate::Link,
    site: crate::Site,
    account: trilink_schema::Nation,
) -> async_nats::Client {
    link.connect(crate::Role::Admin(site, account))
        .await
        .unwrap_or_else(|e| panic!("connecting as admin of {account} on {site}: {e}"))
}

/// The streams a relay with `RelayConfig::default()` works on (single-connection shape, one
/// server, no leaves): its input, its output and its dead letters, over every nation.
pub const RELAY_STREAMS: [(&str, &str); 3] = [
    ("TL_IN", "tl.in.>"),
    ("TL_OUT", "tl.out.>"),
    ("TL_DLQ", "tl.dlq.>"),
];

/// Make sure [`RELAY_STREAMS`] exist on the server at `url` (file storage, a 2-minute
/// duplicate window; a stream that exists already is left as it is). The relay creates no
/// stream itself: a hub's come from `broker-config/streams.toml`.
pub async fn ensure_relay_streams(url: &str) {
    let client = async_nats::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    let js = jetstream::new(client);
    for (name, subject) in RELAY_STREAMS {
        js.get_or_create_stream(stream::Config {
            name: name.into(),
            subjects: vec![subject.into()],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("creating stream {name}: {e}"));
    }
}

/// Create one stream per `(name, subject)` with default settings.
pub async fn create_streams(js: &jetstream::Context, streams: &[(&str, &str)]) {
    create_streams_like(js, streams, &stream::Config::default()).await;
}

/// Create one stream per `(name, subject)`, every other setting from `like`.
pub async fn create_streams_like(
    js: &jetstream::Context,
    streams: &[(&str, &str)],
    like: &stream::Config,
) {
    for (name, subject) in streams {
        js.create_stream(stream::Config {
            name: (*name).into(),
            subjects: vec![(*subject).into()],
            ..like.clone()
        })
        .await
        .unwrap_or_else(|e| panic!("creating stream {name}: {e}"));
    }
}

/// nats-server with JetStream (stopped on drop), its URL, a client and its JetStream context.
#[derive(Debug)]
pub struct Hub {
    /// The server.
    pub nats: NatsServer,
    /// Its client URL.
    pub url: String,
    /// A client connected to it.
    pub client: async_nats::Client,
    /// The client's JetStream context.
    pub js: jetstream::Context,
}

impl Hub {
    /// A hub with `streams` (`(name, subject)`) in default settings.
    pub async fn start(streams: &[(&str, &str)]) -> Hub {
        Hub::start_like(streams, &stream::Config::default()).await
    }

    /// A hub with `streams`, every other setting from `like`.
    pub async fn start_like(streams: &[(&str, &str)], like: &stream::Config) -> Hub {
        let nats = start_nats();
        let url = nats.url();
        let (client, js) = connect_js(&url).await;
        create_streams_like(&js, streams, like).await;
        Hub {
            nats,
            url,
            client,
            js,
        }
    }
}

/// Publish `env` as JSON on `subject` through JetStream and wait for the stream's ack.
pub async fn publish_envelope(js: &jetstream::Context, subject: &str, env: &Envelope) {
    let body = env
        .to_json()
        .unwrap_or_else(|e| panic!("encoding {subject}: {e}"));
    js.publish(subject.to_owned(), body.into())
        .await
        .unwrap_or_else(|e| panic!("publishing on {subject}: {e}"))
        .await
        .unwrap_or_else(|e| panic!("ack for {subject}: {e}"));
}

/// Number of messages in stream `name` now.
pub async fn stream_count(js: &jetstream::Context, name: &str) -> u64 {
    js.get_stream(name)
        .await
        .unwrap_or_else(|e| panic!("stream {name}: {e}"))
        .info()
        .await
        .unwrap_or_else(|e| panic!("stream {name} info: {e}"))
        .state
        .messages
}

/// Wait until stream `name` holds `want` messages: panics when it holds more, or fewer once
/// `within` has passed.
pub async fn wait_count(js: &jetstream::Context, name: &str, want: u64, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = stream_count(js, name).await;
        if n >= want {
            assert_eq!(n, want, "{name}");
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: {n} of {want}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Message `seq` of stream `name`.
pub async fn raw_message(js: &jetstream::Context, name: &str, seq: u64) -> StreamMessage {
    js.get_stream(name)
        .await
        .unwrap_or_else(|e| panic!("stream {name}: {e}"))
        .get_raw_message(seq)
        .await
        .unwrap_or_else(|e| panic!("stream {name} seq {seq}: {e}"))
}

/// Header `name` of a stored message (empty when absent).
pub fn header<'a>(m: &'a StreamMessage, name: &str) -> &'a str {
    m.headers
        .get(name)
        .map_or("", async_nats::HeaderValue::as_str)
}

/// Dead letter `seq` of `TL_DLQ`: its subject, reason header and payload.
pub async fn dead_letter(js: &jetstream::Context, seq: u64) -> (String, String, Vec<u8>) {
    let m = raw_message(js, "TL_DLQ", seq).await;
    let reason = header(&m, headers::DLQ_REASON).to_owned();
    (m.subject.to_string(), reason, m.payload.to_vec())
}

/// One stored message, as read back from a stream.
#[derive(Debug, Clone)]
pub struct Stored {
    /// Subject.
    pub subject: String,
    /// `Nats-Msg-Id` header, if any.
    pub msg_id: Option<String>,
    /// Every header, in order.
    pub headers: Vec<(String, String)>,
    /// Payload.
    pub payload: bytes::Bytes,
}

impl Stored {
    /// First value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Every message currently in `stream` (ordered consumer; stops after 2 s of silence).
pub async fn read_stream(js: &jetstream::Context, stream: &str) -> Vec<Stored> {
    let s = js.get_stream(stream).await.unwrap();
    let expected = s.get_info().await.unwrap().state.messages;
    let mut out = Vec::new();
    if expected == 0 {
        return out;
    }
    let consumer = s
        .create_consumer(pull::OrderedConfig::default())
        .await
        .unwrap();
    let mut msgs = consumer.messages().await.unwrap();
    while (out.len() as u64) < expected {
        match tokio::time::timeout(Duration::from_secs(2), msgs.next()).await {
            Ok(Some(Ok(m))) => {
                let headers = m
                    .headers
                    .as_ref()
                    .map(|h| {
                        h.iter()
                            .flat_map(|(k, vs)| {
                                vs.iter()
                                    .map(|v| (k.to_string(), v.as_str().to_owned()))
                                    .collect::<Vec<_>>()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let msg_id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_owned());
                out.push(Stored {
                    subject: m.subject.to_string(),
                    msg_id,
                    headers,
                    payload: m.payload.clone(),
                });
            }
            _ => break,
        }
    }
    out
}

/// Wait until `cond` holds (polling every 20 ms) or panic after `secs`.
pub async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ----------------------------------------------------------------------------------------
// Telemetry over HTTP (an adapter's or the relay's `/metrics`, `/readyz`, …)
// ----------------------------------------------------------------------------------------

/// Plain HTTP GET of `path` at `addr`: (status code, body), or the I/O error (nothing
/// listening, no answer within 5 s).
pub fn request(addr: std::net::SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    Ok((code, body))
}

/// [`request`], panicking when nothing answers.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    request(addr, path).unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// [`request`] of an `http://host:port/path` URL, panicking when nothing answers.
pub fn http_get_url(url: &str) -> (u16, String) {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = host
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {host} is not IP:port: {e}"));
    http_get(addr, &format!("/{path}"))
}

/// [`http_get`] from async code (on the blocking pool).
pub async fn http_get_async(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || http_get(addr, &path))
        .await
        .unwrap()
}

/// [`request`] from async code, `None` while nothing answers at `addr`.
pub async fn try_http_get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || request(addr, &path).ok())
        .await
        .unwrap()
}

/// The sum of the samples of metric `name` whose line contains `label` (`""`: every sample) in
/// Prometheus text; 0 when there is none.
pub fn metric_sum(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .filter(|l| l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

// ----------------------------------------------------------------------------------------
// Insider leaves
// ----------------------------------------------------------------------------------------

/// A second leaf server for `nation` holding that nation's genuine leaf certificate and key
/// (an insider's stock nats-server with the nation's own leaf config), linking to the hub's
/// leafnode ports `hub_leaf_ports` only; its JetStream domain is `name` without dashes, so it
/// cannot disturb the real leaf's streams. It declares `server_name: <claimed_name>` (default
/// `name`; the real leaf's name makes the hub replace one link by the other, back and forth).
/// Returns once it has its leaf link (the hub accepts it: `broker-config/SECURITY.md`,
/// residual risks); panics after 15 s.
pub async fn spawn_second_leaf(
    link: &crate::Link,
    nation: trilink_schema::Nation,
    name: &str,
    claimed_name: Option<&str>,
    hub_leaf_ports: &[u16],
) -> crate::ServerProcess {
    let (text, client, monitor) = link
        .render_leaf(nation, name, &format!("leaf-{}", nation.as_str()), "ca")
        .unwrap();
    let urls: Vec<String> = hub_leaf_ports
        .iter()
        .map(|p| format!("\"tls://127.0.0.1:{p}\""))
        .collect();
    let domain = format!("domain: {}", nation.as_str());
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("urls:") {
                format!("      urls: [ {} ]", urls.join(", "))
            } else if l.starts_with("server_name:") {
                format!("server_name: {}", claimed_name.unwrap_or(name))
            } else if l.trim() == domain {
                format!("  domain: {}", name.replace('-', ""))
            } else {
                l.to_owned()
            }
        })
        .collect();
    let leaf = link
        .spawn_extra(name, &text.join("\n"), client, monitor)
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    // (Linked at least once: a leaf claiming another's name may be replaced again at once.)
    while leaf.leaf_count().await.ok() != Some(1)
        && !leaf.log_text().contains("Leafnode connection created")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never linked to the hub (ports {hub_leaf_ports:?}):\n{}",
            leaf.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    leaf
}

/// Every process whose command line mentions `needle` (e.g. a link's work directory, which
/// every process it starts names): `"<pid>: <command line>"` each. For "nothing left behind"
/// checks.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmd.contains(needle) {
            found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
        }
    }
    found
}
