//! NATS and JetStream: connecting, publishing with acknowledgements and bounded in-flight,
//! dead letters, durable pull consumers and status heartbeats.
//!
//! - [`connect`] builds [`async_nats::ConnectOptions`] from [`NatsConfig`] (user/password,
//!   creds file, nkey seed, TLS CA and client certificate, name, reconnect backoff) and retries
//!   the initial connection with backoff until it succeeds or shutdown is requested.
//! - [`Publisher`] publishes envelopes to JetStream with `Nats-Msg-Id` = the message id. At
//!   most `max_in_flight` publishes wait for their ack at any time; [`Publisher::publish`]
//!   waits for a free slot (back-pressure: memory stays bounded whatever the input rate). A
//!   failed or timed-out ack is retried with the same `Nats-Msg-Id` (so a retry that did reach
//!   the stream is de-duplicated) up to `publish_retries` times.
//! - [`dead_letter`] publishes rejected input to `tl.dlq.<site>` with the headers of
//!   [`trilink_schema::headers`] and the original bytes as the body.
//! - [`durable_pull`] gets or creates a durable pull consumer with explicit acks;
//!   [`egress_pull`] pulls from it as the egress does.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, context::PublishAckFuture};
use async_nats::{HeaderMap, HeaderValue};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use trilink_schema::{Envelope, Nation, Subject, headers};

use crate::config::Invalid;
use crate::telemetry::events;
use crate::transport::Backoff;

/// The `[nats]` section.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL(s), comma-separated (`nats://127.0.0.1:4222`, `tls://leaf:7422`).
    pub url: String,
    /// Connection name shown by the server (default: the component name).
    #[serde(default)]
    pub name: Option<String>,
    /// User name (with `password`).
    #[serde(default)]
    pub user: Option<String>,
    /// Password (with `user`).
    #[serde(default)]
    pub password: Option<String>,
    /// `.creds` file (JWT + nkey seed).
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// Nkey seed (`SU…`).
    #[serde(default)]
    pub nkey_seed: Option<String>,
    /// CA certificate (PEM) to verify the server.
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS (with `tls_key`).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// Client key (PEM) for mutual TLS (with `tls_cert`).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// Refuse to talk to the server without TLS.
    #[serde(default)]
    pub require_tls: bool,
    /// JetStream domain to publish into (e.g. `jp` on the JP leaf); none = the account's.
    #[serde(default)]
    pub js_domain: Option<String>,
    /// Reply-subject prefix. Default: `_INBOX_<user>` with a user name (the broker permissions
    /// let each user subscribe to its own inbox only), `_INBOX` otherwise; set it with nkeys or
    /// a creds file to the prefix the account's permissions allow for this identity.
    #[serde(default)]
    pub inbox_prefix: Option<String>,
    /// Initial connection timeout, milliseconds.
    #[serde(default = "five_seconds_ms")]
    pub connect_timeout_ms: u64,
    /// Ceiling of the reconnect backoff, milliseconds.
    #[serde(default = "five_seconds_ms")]
    pub reconnect_max_delay_ms: u64,
    /// Maximum publishes awaiting a JetStream ack (back-pressure beyond it).
    #[serde(default = "up_to_1024")]
    pub max_in_flight: usize,
    /// How long to wait for one JetStream ack, milliseconds.
    #[serde(default = "five_seconds_ms")]
    pub ack_timeout_ms: u64,
    /// Retries of a publish whose ack failed or timed out (same `Nats-Msg-Id`).
    #[serde(default = "five_retries")]
    pub publish_retries: u32,
}

const fn five_seconds_ms() -> u64 {
    5_000
}
const fn up_to_1024() -> usize {
    1_024
}
const fn five_retries() -> u32 {
    5
}

impl NatsConfig {
    /// Check values; `key` is the section's path (`nats`).
    pub fn validate(&self, key: &str) -> Result<(), Invalid> {
        crate::check::nats_urls(&format!("{key}.url"), &self.url)?;
        if self.user.is_some() != self.password.is_some() {
            return Err(Invalid::new(
                format!("{key}.password"),
                "user and password go together",
            ));
        }
        let methods = [
            self.user.is_some(),
            self.creds_file.is_some(),
            self.nkey_seed.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if methods > 1 {
            return Err(Invalid::new(
                format!("{key}.creds_file"),
                "choose one of user/password, creds_file, nkey_seed",
            ));
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(Invalid::new(
                format!("{key}.tls_key"),
                "tls_cert and tls_key go together",
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1_000_000 {
            return Err(Invalid::new(
                format!("{key}.max_in_flight"),
                "must be 1 ..= 1000000",
            ));
        }
        if self.ack_timeout_ms == 0 {
            return Err(Invalid::new(format!("{key}.ack_timeout_ms"), "must be > 0"));
        }
        if let Some(seed) = &self.nkey_seed {
            crate::check::nkey_seed(&format!("{key}.nkey_seed"), seed)?;
        }
        Ok(())
    }
}

impl NatsConfig {
    /// The checks that read files (`--check`): CA and client certificates parse and are valid
    /// at `now`, the key parses, the creds file is well formed. Every problem found, with its
    /// key (`key` is the section's path).
    pub fn check_files(&self, key: &str, now: std::time::SystemTime) -> Vec<Invalid> {
        use crate::check;
        let mut out = Vec::new();
        if let Some(p) = &self.tls_ca {
            out.extend(check::certificates(&format!("{key}.tls_ca"), p, now).err());
        }
        if let Some(p) = &self.tls_cert {
            out.extend(check::certificates(&format!("{key}.tls_cert"), p, now).err());
        }
        if let Some(p) = &self.tls_key {
            out.extend(check::private_key(&format!("{key}.tls_key"), p).err());
        }
        if let Some(p) = &self.creds_file {
            out.extend(check::creds_file(&format!("{key}.creds_file"), p).err());
        }
        out
    }
}

/// Errors from the NATS side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// Connecting failed.
    #[error("connect {url}: {message}")]
    Connect {
        /// The URL(s).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// A credentials file could not be read.
    #[error("credentials {path}: {source}")]
    Credentials {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A publish failed.
    #[error("publish {subject}: {message}")]
    Publish {
        /// The subject.
        subject: String,
        /// What went wrong.
        message: String,
    },
    /// A JetStream management call failed.
    #[error("jetstream {what}: {message}")]
    JetStream {
        /// What was attempted.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// Shutdown was requested before the operation could complete.
    #[error("shut down")]
    ShutDown,
}

/// Connect with the options from `cfg`; retries with backoff until connected or `shutdown`.
pub async fn connect(
    cfg: &NatsConfig,
    default_name: &str,
    shutdown: &CancellationToken,
) -> Result<async_nats::Client, NatsError> {
    let mut backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_millis(cfg.reconnect_max_delay_ms.max(100)),
    );
    loop {
        match connect_once(cfg, default_name).await {
            Ok(c) => return Ok(c),
            Err(e @ NatsError::Credentials { .. }) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "NATS connection failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => return Err(NatsError::ShutDown),
                    () = tokio::time::sleep(backoff.next_delay()) => {}
                }
            }
        }
    }
}

/// One connection attempt.
pub async fn connect_once(
    cfg: &NatsConfig,
    default_name: &str,
) -> Result<async_nats::Client, NatsError> {
    let max_delay = Duration::from_millis(cfg.reconnect_max_delay_ms.max(100));
    let mut opts = async_nats::ConnectOptions::new()
        .name(cfg.name.clone().unwrap_or_else(|| default_name.to_owned()))
        .connection_timeout(Duration::from_millis(cfg.connect_timeout_ms.max(100)))
        .reconnect_delay_callback(move |attempts| {
            let exp = u32::try_from(attempts.min(16)).unwrap_or(16);
            (Duration::from_millis(50) * 2_u32.saturating_pow(exp)).min(max_delay)
        })
        .event_callback(|ev| async move {
            tracing::info!(event = %ev, "NATS connection event");
        });
    if let (Some(u), Some(p)) = (&cfg.user, &cfg.password) {
        opts = opts.user_and_password(u.clone(), p.clone());
    }
    if let Some(prefix) = cfg
        .inbox_prefix
        .clone()
        .or_else(|| cfg.user.as_deref().map(trilink_schema::inbox_prefix))
    {
        opts = opts.custom_inbox_prefix(prefix);
    }
    if let Some(path) = &cfg.creds_file {
        opts = opts
            .credentials_file(path)
            .await
            .map_err(|source| NatsError::Credentials {
                path: path.clone(),
                source,
            })?;
    }
    if let Some(seed) = &cfg.nkey_seed {
        opts = opts.nkey(seed.clone());
    }
    if let Some(ca) = &cfg.tls_ca {
        opts = opts.add_root_certificates(ca.clone());
    }
    if let (Some(c), Some(k)) = (&cfg.tls_cert, &cfg.tls_key) {
        opts = opts.add_client_certificate(c.clone(), k.clone());
    }
    if cfg.require_tls {
        opts = opts.require_tls(true);
    }
    let urls: Vec<async_nats::ServerAddr> = cfg
        .url
        .split(',')
        .map(|u| {
            u.trim()
                .parse()
                .map_err(|e: std::io::Error| NatsError::Connect {
                    url: u.trim().to_owned(),
                    message: e.to_string(),
                })
        })
        .collect::<Result<_, _>>()?;
    opts.connect(urls).await.map_err(|e| NatsError::Connect {
        url: cfg.url.clone(),
        message: e.to_string(),
    })
}

/// A JetStream context for `domain` (none = the account's own JetStream).
pub fn jetstream(
    client: &async_nats::Client,
    domain: Option<&str>,
    ack_timeout: Duration,
) -> jetstream::Context {
    let b = jetstream::context::ContextBuilder::new().timeout(ack_timeout);
    match domain {
        Some(d) => b.domain(d).build(client.clone()),
        None => b.build(client.clone()),
    }
}

/// Close `client` for good at a component's end: drain it (its subscriptions end, what it
/// published is flushed) and wait, at most `within`, until the connection is gone. A pull
/// request the process left open at the server is then dropped with its interest, instead of
/// taking a message the next process would otherwise wait `ack_wait` for (a restarted
/// adapter's first delivery 30 s late). Returns whether it closed within the time.
pub async fn close(client: &async_nats::Client, within: Duration) -> bool {
    if client.drain().await.is_err() {
        return true; // already closed
    }
    let deadline = tokio::time::Instant::now() + within;
    // Once drained, the connection's handler is gone and commands fail.
    while client.flush().await.is_ok() {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// Publishes envelopes to JetStream with bounded in-flight acks. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    inner: Arc<PublisherInner>,
}

#[derive(Debug)]
struct PublisherInner {
    js: jetstream::Context,
    site: Nation,
    slots: Arc<Semaphore>,
    max: usize,
    retries: u32,
    in_flight: AtomicUsize,
    failed: AtomicUsize,
}

impl Publisher {
    /// A publisher on `js` for `site` with at most `max_in_flight` unacknowledged publishes.
    pub fn new(js: jetstream::Context, site: Nation, max_in_flight: usize, retries: u32) -> Self {
        let max = max_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            inner: Arc::new(PublisherInner {
                js,
                site,
                slots: Arc::new(Semaphore::new(max)),
                max,
                retries,
                in_flight: AtomicUsize::new(0),
                failed: AtomicUsize::new(0),
            }),
        }
    }

    /// Publishes awaiting their ack now.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    /// Publishes that failed for good since start.
    pub fn failed(&self) -> usize {
        self.inner.failed.load(Ordering::Relaxed)
    }

    /// Publish `env` to `tl.in.<origin>.<kind>` with `Nats-Msg-Id` = its message id. Waits
    /// for an in-flight slot, sends, and returns; the ack is awaited (and the publish retried
    /// on failure) in the background, and the slot freed when it is settled.
    pub async fn publish(&self, env: &Envelope) -> Result<(), NatsError> {
        self.publish_settled(env, None).await
    }

    /// [`publish`](Self::publish), sending `()` on `settle` once JetStream acknowledged it
    /// (dropping `settle` unsent if the publish failed for good).
    pub async fn publish_settled(
        &self,
        env: &Envelope,
        settle: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(), NatsError> {
        let subject = Subject::input_for(env).to_string();
        let body = env.to_json().map_err(|e| NatsError::Publish {
            subject: subject.clone(),
            message: e.to_string(),
        })?;
        self.publish_raw(
            subject,
            env.message_id.to_string(),
            Bytes::from(body),
            env.payload.kind().as_str(),
            env.ingested_at,
            settle,
        )
        .await
    }

    /// Publish pre-serialized bytes (used by [`publish`](Self::publish) and by the relay);
    /// `settle` as in [`publish_settled`](Self::publish_settled).
    pub async fn publish_raw(
        &self,
        subject: String,
        msg_id: String,
        body: Bytes,
        kind: &'static str,
        ingested_at: chrono::DateTime<chrono::Utc>,
        settle: Option<tokio::sync::oneshot::Sender<()>>,
    ) -> Result<(), NatsError> {
        let permit = self
            .inner
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| NatsError::ShutDown)?;
        let n = self.inner.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        events::in_flight(self.inner.site, n);
        let first = self.send(&subject, &msg_id, body.clone()).await;
        let inner = self.inner.clone();
        tokio::spawn(async move {
            let mut attempt = 0_u32;
            let mut pending = first;
            let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));
            loop {
                let result = match pending {
                    Ok(fut) => fut.await.map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                match result {
                    Ok(ack) => {
                        events::published(
                            inner.site,
                            kind,
                            ack.duplicate,
                            ingested_at,
                            chrono::Utc::now(),
                        );
                        if let Some(s) = settle {
                            let _ = s.send(());
                        }
                        break;
                    }
                    Err(e) if attempt < inner.retries => {
                        attempt += 1;
                        tracing::warn!(subject, attempt, error = %e, "publish not acknowledged; retrying");
                        tokio::time::sleep(backoff.next_delay()).await;
                        pending = send_with(&inner.js, &subject, &msg_id, body.clone()).await;
                    }
                    Err(e) => {
                        inner.failed.fetch_add(1, Ordering::Relaxed);
                        events::publish_failed(inner.site, &subject, &e);
                        break;
                    }
                }
            }
            let n = inner
                .in_flight
                .fetch_sub(1, Ordering::Relaxed)
                .saturating_sub(1);
            events::in_flight(inner.site, n);
            drop(permit);
        });
        Ok(())
    }

    async fn send(
        &self,
        subject: &str,
        msg_id: &str,
        body: Bytes,
    ) -> Result<PublishAckFuture, NatsError> {
        send_with(&self.inner.js, subject, msg_id, body).await
    }

    /// Wait until every in-flight publish is settled, or `timeout`. Returns whether all were.
    pub async fn drain(&self, timeout: Duration) -> bool {
        let max = u32::try_from(self.inner.max).unwrap_or(u32::MAX);
        match tokio::time::timeout(timeout, self.inner.slots.acquire_many(max)).await {
            Ok(Ok(permits)) => {
                drop(permits);
                true
            }
            _ => false,
        }
    }
}

async fn send_with(
    js: &jetstream::Context,
    subject: &str,
    msg_id: &str,
    body: Bytes,
) -> Result<PublishAckFuture, NatsError> {
    let msg = jetstream::message::PublishMessage::build()
        .payload(body)
        .message_id(msg_id)
        .header(
            headers::SCHEMA_VERSION,
            trilink_schema::SCHEMA_VERSION.to_string().as_str(),
        );
    js.send_publish(subject.to_owned(), msg)
        .await
        .map_err(|e| NatsError::Publish {
            subject: subject.to_owned(),
            message: e.to_string(),
        })
}

/// Header values may not contain CR or LF; keep them short too.
fn header_value(s: &str) -> HeaderValue {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(512)
        .collect();
    HeaderValue::from(clean.as_str())
}

/// A rejected input, for [`dead_letter`].
#[derive(Debug, Clone)]
pub struct DeadLetter<'a> {
    /// Site whose component rejected it (`tl.dlq.<site>`).
    pub site: Nation,
    /// The component (`adapter-jp`).
    pub component: &'a str,
    /// Stable reason code.
    pub reason: &'static str,
    /// Human-readable detail.
    pub detail: &'a str,
    /// Transport label or subject it arrived on.
    pub source: &'a str,
    /// The original bytes.
    pub body: Bytes,
}

/// Publish a dead letter on `tl.dlq.<site>` (core NATS; a stream capturing `tl.dlq.>` stores
/// it) and count it.
pub async fn dead_letter(client: &async_nats::Client, dl: DeadLetter<'_>) -> Result<(), NatsError> {
    let subject = Subject::Dlq { site: dl.site }.to_string();
    let h = dead_letter_headers(&dl);
    client
        .publish_with_headers(subject.clone(), h, dl.body)
        .await
        .map_err(|e| NatsError::Publish {
            subject,
            message: e.to_string(),
        })?;
    events::dead_lettered(dl.site, dl.reason);
    Ok(())
}

/// The one dead-letter format: `Tl-Reason`, `Tl-Detail`, `Tl-Component`, `Tl-Source`, each
/// value made header-safe (no control characters, at most 512 characters). Used by
/// [`dead_letter`] and by the relay, which stores its dead letters with JetStream.
pub fn dead_letter_headers(dl: &DeadLetter<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(headers::DLQ_REASON, header_value(dl.reason));
    h.insert(headers::DLQ_DETAIL, header_value(dl.detail));
    h.insert(headers::DLQ_COMPONENT, header_value(dl.component));
    h.insert(headers::DLQ_SOURCE, header_value(dl.source));
    h
}

/// A durable pull consumer's settings (`[egress]` in the adapter config).
#[derive(Debug, Clone)]
pub struct DurableSpec {
    /// Stream name.
    pub stream: String,
    /// Durable name.
    pub durable: String,
    /// Filter subject (one; nats-server 2.9 ignores `filter_subjects`).
    pub filter_subject: String,
    /// Redelivery after this long without an ack.
    pub ack_wait: Duration,
    /// Maximum unacknowledged messages.
    pub max_ack_pending: i64,
}

/// Get the durable pull consumer, or create it with explicit acks when it does not exist.
///
/// On a trilink link the operations user creates every durable beforehand (`streams.toml`
/// `[[consumer]]`, `trilink broker streams`) and the adapter's permissions allow only looking
/// it up, fetching and acknowledging; then `spec`'s settings are not applied, and a difference
/// from the existing consumer's is logged. Creating is for a standalone development server.
/// The existing durable is looked up first with a consumer-info request only (no stream info:
/// the JP and KR adapters read the hub's `OUT_<N>` across their leaf's link, whose
/// permissions carry the consumer's info, next and ack subjects and nothing else).
pub async fn durable_pull(
    js: &jetstream::Context,
    spec: &DurableSpec,
) -> Result<PullConsumer, NatsError> {
    if let Ok(consumer) = js
        .get_consumer_from_stream::<jetstream::consumer::pull::Config, _, _>(
            &spec.durable,
            &spec.stream,
        )
        .await
    {
        warn_if_settings_differ(&consumer, spec);
        return Ok(consumer);
    }
    let stream = js
        .get_stream(&spec.stream)
        .await
        .map_err(|e| NatsError::JetStream {
            what: format!("get stream {}", spec.stream),
            message: e.to_string(),
        })?;
    let cfg = jetstream::consumer::pull::Config {
        durable_name: Some(spec.durable.clone()),
        filter_subject: spec.filter_subject.clone(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: spec.ack_wait,
        max_ack_pending: spec.max_ack_pending,
        deliver_policy: jetstream::consumer::DeliverPolicy::All,
        ..Default::default()
    };
    let consumer: PullConsumer = stream
        .get_or_create_consumer(&spec.durable, cfg)
        .await
        .map_err(|e| NatsError::JetStream {
            what: format!("consumer {} on {}", spec.durable, spec.stream),
            message: e.to_string(),
        })?;
    warn_if_settings_differ(&consumer, spec);
    Ok(consumer)
}

/// Log when the existing consumer's settings differ from `spec`'s (the existing ones apply).
fn warn_if_settings_differ(consumer: &PullConsumer, spec: &DurableSpec) {
    let have = &consumer.cached_info().config;
    if have.ack_wait != spec.ack_wait
        || have.max_ack_pending != spec.max_ack_pending
        || have.filter_subject != spec.filter_subject
    {
        tracing::warn!(
            consumer = %spec.durable,
            stream = %spec.stream,
            ack_wait_ms = have.ack_wait.as_millis(),
            max_ack_pending = have.max_ack_pending,
            filter_subject = %have.filter_subject,
            "the existing consumer's settings differ from this configuration; the existing ones apply \
             (the operations user creates consumers: streams.toml [[consumer]])"
        );
    }
}

/// The egress's pull from `consumer`: requests of up to `batch` messages, each open for 30 s,
/// with a heartbeat every 5 s (a dead connection shows within seconds, not at the request's
/// end).
pub async fn egress_pull(
    consumer: &PullConsumer,
    batch: usize,
) -> Result<jetstream::consumer::pull::Stream, jetstream::consumer::StreamError> {
    consumer
        .stream()
        .max_messages_per_batch(batch)
        .heartbeat(Duration::from_secs(5))
        .expires(Duration::from_secs(30))
        .messages()
        .await
}
