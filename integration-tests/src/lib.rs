//! Helpers for trilink's integration tests against real broker processes.
//!
//! The brokers themselves are started by [`trilink_brokers::Link`] (the same launcher
//! `trilink broker up` uses): real nats-server processes on free loopback ports, killed by PID
//! when the link is dropped. This crate adds what several test files need: clients that record
//! the server's permission errors, polling with a deadline, and reading a stream back.
//!
//! It must not mock a broker, and its helpers must never turn a failure into a pass: every
//! wait has a deadline and returns what it saw.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream;
pub use trilink_brokers;
use trilink_brokers::launcher::{Credentials, LaunchError, connect_with};

/// Start logging once for a test binary (`RUST_LOG` controls it; quiet by default).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_test_writer()
        .try_init();
}

/// The link of hub + JP and KR leaves with `hub_nodes` hub nodes (1, or 3 for the clustered
/// hub), logging started ([`init_tracing`]); panics when it does not start.
pub async fn start_link(hub_nodes: usize) -> trilink_brokers::Link {
    init_tracing();
    trilink_brokers::Link::start(trilink_brokers::LinkOptions {
        hub_nodes,
        ..trilink_brokers::LinkOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("the link did not start: {e}"))
}

/// A client whose server errors (`-ERR ...`, e.g. permission violations) are recorded.
#[derive(Debug, Clone)]
pub struct ProbeClient {
    /// The connection.
    pub client: async_nats::Client,
    errors: Arc<Mutex<Vec<String>>>,
}

impl ProbeClient {
    /// Connect with `creds`, recording every server error.
    pub async fn connect(creds: &Credentials) -> Result<Self, LaunchError> {
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&errors);
        let opts = async_nats::ConnectOptions::new().event_callback(move |event| {
            let sink = Arc::clone(&sink);
            async move {
                if let async_nats::Event::ServerError(e) = event
                    && let Ok(mut v) = sink.lock()
                {
                    v.push(e.to_string());
                }
            }
        });
        let client = connect_with(creds, opts).await?;
        Ok(ProbeClient { client, errors })
    }

    /// Every server error so far.
    pub fn errors(&self) -> Vec<String> {
        self.errors.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Whether the server reported a permissions violation for `op` ("publish" or
    /// "subscription") on exactly `subject`.
    pub fn violated(&self, op: &str, subject: &str) -> bool {
        let quoted = format!("\"{subject}\"");
        self.errors().iter().any(|e| {
            let l = e.to_ascii_lowercase();
            l.contains("permissions violation") && l.contains(op) && e.contains(&quoted)
        })
    }
}

/// Poll `f` every 100 ms until it returns `Some`, or give up after `timeout` with `None`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Number of messages in a stream now (`None` if the stream cannot be read).
pub async fn stream_len(js: &jetstream::Context, stream: &str) -> Option<u64> {
    let mut s = js.get_stream(stream).await.ok()?;
    s.info().await.ok().map(|i| i.state.messages)
}

/// Wait until `stream` holds exactly `want` messages; returns the last count seen.
pub async fn wait_stream_len(
    js: &jetstream::Context,
    stream: &str,
    want: u64,
    timeout: Duration,
) -> u64 {
    let mut last = 0;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        last = stream_len(js, stream).await.unwrap_or(last);
        if last == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    last
}

/// A stored message, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Subject.
    pub subject: String,
    /// `Nats-Msg-Id` header, if any.
    pub msg_id: Option<String>,
    /// Payload as text (lossy).
    pub payload: String,
}

/// Read every message of a stream, in sequence order.
pub async fn read_stream(js: &jetstream::Context, stream: &str) -> Result<Vec<Stored>, String> {
    let mut s = js.get_stream(stream).await.map_err(|e| e.to_string())?;
    let state = s.info().await.map_err(|e| e.to_string())?.state.clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return Ok(out);
    }
    for seq in state.first_sequence..=state.last_sequence {
        match s.get_raw_message(seq).await {
            Ok(m) => out.push(Stored {
                subject: m.subject.to_string(),
                msg_id: m.headers.get("Nats-Msg-Id").map(|v| v.as_str().to_owned()),
                payload: String::from_utf8_lossy(&m.payload).into_owned(),
            }),
            // Deleted (e.g. older track updates): skip.
            Err(e)
                if e.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound
                    || e.to_string().contains("not found") => {}
            Err(e) => return Err(format!("{stream} seq {seq}: {e}")),
        }
    }
    Ok(out)
}

/// Count how often each `Nats-Msg-Id` appears.
pub fn id_counts(msgs: &[Stored]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for s in msgs {
        *m.entry(s.msg_id.clone().unwrap_or_default()).or_insert(0) += 1;
    }
    m
}

/// Publish `payload` on `subject` through JetStream with `Nats-Msg-Id: id`, retrying (same id)
/// until the stream acknowledges or `timeout` passes. Returns whether the ack said duplicate.
pub async fn publish_with_id(
    js: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: bytes::Bytes,
    timeout: Duration,
) -> Result<bool, String> {
    let deadline = Instant::now() + timeout;
    let mut last_err = String::new();
    while Instant::now() < deadline {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        match js
            .publish_with_headers(subject.to_owned(), headers, payload.clone())
            .await
        {
            Ok(ack) => match ack.await {
                Ok(a) => return Ok(a.duplicate),
                Err(e) => last_err = e.to_string(),
            },
            Err(e) => last_err = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "{subject} id {id}: no ack in {timeout:?}: {last_err}"
    ))
}

/// Subscribe `client` to `subject` and return once the server has registered the
/// subscription, proven by receiving a marker the client publishes on `marker` (which must
/// match `subject` and be publishable by the client). async-nats' `flush` only flushes the
/// socket, so without this a message published right afterwards by another connection can
/// miss the subscription.
pub async fn subscribe_ready(
    client: &async_nats::Client,
    subject: &str,
    marker: &str,
) -> Result<async_nats::Subscriber, String> {
    use futures::StreamExt as _;
    let mut sub = client
        .subscribe(subject.to_owned())
        .await
        .map_err(|e| e.to_string())?;
    let token = format!("ready-marker-{}", std::process::id());
    client
        .publish(marker.to_owned(), token.clone().into())
        .await
        .map_err(|e| e.to_string())?;
    client.flush().await.map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(100), sub.next()).await
            && m.payload.as_ref() == token.as_bytes()
        {
            return Ok(sub);
        }
    }
    Err(format!("subscription {subject} not ready after 5 s"))
}
