//! The live relay on JetStream.
//!
//! - A durable pull consumer (`consumer`, default `relay`) with one `filter_subject`
//!   (default `tl.in.>`; nats-server 2.9 ignores the plural `filter_subjects`) on the hub's
//!   input stream (`input_stream`).
//! - Every input goes through [`process`](crate::process()); each output is published with
//!   JetStream (`Nats-Msg-Id` = [`output_msg_id`](crate::output_msg_id)) and its
//!   acknowledgement awaited; the input is acknowledged only after every output (or its dead
//!   letter) is stored. A failed store is retried in place with backoff (the input is marked
//!   in progress, never handed back while the relay runs), so no later input overtakes it;
//!   the stable output ids let JetStream drop duplicates of a retry that did get stored.
//! - Rejects are published with JetStream to `dlq_subject` (default `tl.dlq.us`) with the
//!   original body and the headers `Tl-Reason`, `Tl-Detail`, `Tl-Component`, `Tl-Source`.
//! - SIGHUP (or [`RelayControl::request_reload`]) re-reads the policy file; an invalid file is
//!   logged and counted and the old policy stays in force.
//! - At most `max_in_flight` inputs are in flight (back-pressure: no unbounded buffering).
//!   Inputs about different tracks are stored concurrently; inputs about the same track of
//!   the same origin one at a time, in arrival order ([`OrderGate`]) — the output stream
//!   then holds them in causal order (a track's `launch_detection` before its updates).
//!
//! Metrics (`metrics` crate; install an exporter in the binary):
//! `trilink_relay_received_total`, `trilink_relay_published_total{dest,kind}`,
//! `trilink_relay_withheld_total{dest,reason}`, `trilink_relay_rejected_total{reason}`,
//! `trilink_relay_deduplicated_total`, `trilink_relay_publish_errors_total`,
//! `trilink_relay_policy_reloads_total`, `trilink_relay_policy_reload_failures_total`,
//! histogram `trilink_relay_hop_latency_seconds{hop="ingest_to_relay"|"observe_to_relay"}`,
//! gauge `trilink_relay_in_flight`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind, consumer::pull, stream};
use chrono::Utc;
use futures::stream::FuturesUnordered;
use std::future::IntoFuture;

use futures::{StreamExt, future::join_all};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use trilink_schema::{ComponentState, Envelope, Mode, Nation, Payload, Source, Status, headers};

use crate::order::OrderGate;
use crate::policy::{Policy, PolicyError};
use crate::process::{Outcome, RelayIdentity, process, process_in_account};
use crate::references::ReferenceBook;

/// Relay configuration (TOML, unknown keys rejected).
///
/// Two shapes:
///
/// - **Per-nation accounts** (the hub of `broker-config/`): one `[[account]]` per nation. The
///   relay opens one connection per account, consumes that account's input stream
///   (`IN_<N>`), requires every input there to have origin `<n>`, publishes a nation's outputs
///   only through that nation's account, and dead-letters an input in the account it came
///   from.
///
///   ```toml
///   nats_url = "nats://127.0.0.1:4222"
///   component = "relay-1"
///   [[account]]
///   nation = "jp"
///   user = "relay-jp"
///   password = "…"
///   [[account]]
///   nation = "kr"
///   user = "relay-kr"
///   password = "…"
///   ```
///
/// - **Single connection** (development, tests): no `[[account]]`; one connection with the
///   top-level credentials consumes `input_stream` (every origin) and publishes everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// NATS server URL(s), comma separated.
    pub nats_url: String,
    /// User name (with `password`), single-connection mode.
    pub user: Option<String>,
    /// Password for `user`.
    pub password: Option<String>,
    /// NATS credentials file (JWT + nkey), single-connection mode.
    pub creds_file: Option<PathBuf>,
    /// CA bundle for TLS to the server.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate (mTLS); needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// Client key (mTLS).
    pub tls_key: Option<PathBuf>,
    /// JetStream domain of the hub (e.g. `hub`) when the relay does not connect to the hub
    /// server itself; `None` for the local domain.
    pub js_domain: Option<String>,
    /// The input stream (single-connection mode).
    pub input_stream: String,
    /// Durable consumer name (on every input stream).
    pub consumer: String,
    /// Consumer filter subject (single-connection mode).
    pub filter_subject: String,
    /// Subject for dead letters.
    pub dlq_subject: String,
    /// Create the input, output and dead-letter streams when missing. For development and
    /// tests; the hub's streams come from `broker-config/streams.toml`.
    pub create_streams: bool,
    /// Output stream name used by `create_streams` (single-connection mode).
    pub output_stream: String,
    /// DLQ stream name used by `create_streams`.
    pub dlq_stream: String,
    /// Site stamped in provenance.
    pub site: Nation,
    /// Component name stamped in provenance and `Tl-Component`.
    pub component: String,
    /// Maximum inputs processed concurrently (and each consumer's `max_ack_pending`).
    pub max_in_flight: usize,
    /// Consumer ack wait, seconds: an unacknowledged input is redelivered after this.
    pub ack_wait_s: u64,
    /// Delay before a NAKed input (failed publish) is redelivered, milliseconds.
    pub nak_delay_ms: u64,
    /// On shutdown, how long to wait for in-flight inputs to finish, milliseconds.
    pub drain_timeout_ms: u64,
    /// Seconds between `tl.status.<site>.<component>` heartbeats (core NATS, a `status`
    /// envelope); 0 disables them.
    pub status_interval_s: u64,
    /// Per-nation accounts; empty for single-connection mode.
    #[serde(rename = "account")]
    pub accounts: Vec<AccountConfig>,
}

/// One nation account of the hub, as the relay uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The nation whose account this is.
    pub nation: Nation,
    /// Server URL, when different from the top-level `nats_url`.
    #[serde(default)]
    pub nats_url: Option<String>,
    /// User name in this account.
    #[serde(default)]
    pub user: Option<String>,
    /// Password for `user`.
    #[serde(default)]
    pub password: Option<String>,
    /// Credentials file for this account.
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// Input stream; default `IN_<NATION>`.
    #[serde(default)]
    pub input_stream: Option<String>,
}

impl AccountConfig {
    /// The input stream name.
    pub fn input_stream(&self) -> String {
        self.input_stream
            .clone()
            .unwrap_or_else(|| format!("IN_{}", self.nation.as_str().to_ascii_uppercase()))
    }
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            nats_url: "nats://127.0.0.1:4222".to_owned(),
            user: None,
            password: None,
            creds_file: None,
            tls_ca: None,
            tls_cert: None,
            tls_key: None,
            js_domain: None,
            input_stream: "TL_IN".to_owned(),
            consumer: "relay".to_owned(),
            filter_subject: "tl.in.>".to_owned(),
            dlq_subject: format!("tl.dlq.{}", Nation::Us),
            create_streams: false,
            output_stream: "TL_OUT".to_owned(),
            dlq_stream: "TL_DLQ".to_owned(),
            site: Nation::Us,
            component: "relay".to_owned(),
            max_in_flight: 256,
            ack_wait_s: 30,
            nak_delay_ms: 1_000,
            drain_timeout_ms: 5_000,
            status_interval_s: 10,
            accounts: Vec::new(),
        }
    }
}

impl trilink_runtime::config::Validate for RelayConfig {
    fn validate(&self) -> Result<(), trilink_runtime::config::Invalid> {
        self.check()
            .map_err(|(key, message)| trilink_runtime::config::Invalid::new(key, message))
    }
}

impl RelayConfig {
    /// Parse and check a TOML configuration; `origin` names the source in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, RelayError> {
        let err = |key: String, message: String| RelayError::Config {
            origin: origin.to_owned(),
            key,
            message,
        };
        let de = toml::Deserializer::parse(text)
            .map_err(|e| err(".".into(), e.to_string().trim_end().to_owned()))?;
        let cfg: Self = serde_path_to_error::deserialize(de).map_err(|e| {
            err(
                e.path().to_string(),
                e.inner().to_string().trim_end().to_owned(),
            )
        })?;
        cfg.check().map_err(|(k, m)| err(k, m))?;
        Ok(cfg)
    }

    /// Read a TOML configuration file and apply `TRILINK__*` overrides from the process
    /// environment (see [`Self::load_with_env`]).
    pub fn load(path: &Path) -> Result<Self, RelayError> {
        let text = std::fs::read_to_string(path).map_err(|e| RelayError::Config {
            origin: path.display().to_string(),
            key: ".".into(),
            message: e.to_string(),
        })?;
        Self::load_with_env(&text, path, std::env::vars())
    }

    /// Parse `text` (read from `path`, named in errors), apply environment overrides and
    /// check. Overrides work as for the adapters (`trilink_runtime::config`): the relay's keys
    /// are top level, so `TRILINK__NATS_URL=nats://hub:4222` sets `nats_url`, and
    /// `TRILINK__ACCOUNT__0__PASSWORD=…` sets `account[0].password`. An override naming a key
    /// the relay does not know fails like an unknown key in the file.
    pub fn load_with_env(
        text: &str,
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, RelayError> {
        use trilink_runtime::config::{self, ConfigError};
        config::load_str::<Self>(text, path, env).map_err(|e| {
            let origin = path.display().to_string();
            match e {
                ConfigError::Env { var, message } => RelayError::Config {
                    origin,
                    key: var,
                    message,
                },
                ConfigError::Field { key, message, .. }
                | ConfigError::Invalid { key, message, .. } => RelayError::Config {
                    origin,
                    key,
                    message,
                },
                other => RelayError::Config {
                    origin,
                    key: ".".into(),
                    message: other.to_string(),
                },
            }
        })
    }

    /// Semantic checks; on failure (dotted key, reason).
    pub fn check(&self) -> Result<(), (String, String)> {
        let e = |k: &str, m: String| Err((k.to_owned(), m));
        if self.max_in_flight == 0 {
            return e("max_in_flight", "must be at least 1".into());
        }
        if self.ack_wait_s == 0 {
            return e("ack_wait_s", "must be at least 1".into());
        }
        if !trilink_schema::Subject::is_valid_component(&self.component) {
            return e("component", "must be 1-64 of [a-z0-9_-]".into());
        }
        let mut names = vec![
            ("input_stream".to_owned(), self.input_stream.clone()),
            ("consumer".to_owned(), self.consumer.clone()),
            ("output_stream".to_owned(), self.output_stream.clone()),
            ("dlq_stream".to_owned(), self.dlq_stream.clone()),
        ];
        for (i, a) in self.accounts.iter().enumerate() {
            names.push((format!("account[{i}].input_stream"), a.input_stream()));
            if a.user.is_some() != a.password.is_some() {
                return Err((
                    format!("account[{i}].user"),
                    "user and password go together".into(),
                ));
            }
            if self.accounts.iter().take(i).any(|b| b.nation == a.nation) {
                return Err((
                    format!("account[{i}].nation"),
                    format!("nation {} listed twice", a.nation),
                ));
            }
        }
        for (key, v) in names {
            if v.is_empty() || v.contains(['.', ' ', '*', '>']) {
                return Err((key, format!("{v:?} is not a valid stream/consumer name")));
            }
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return e("tls_cert", "tls_cert and tls_key go together".into());
        }
        if self.user.is_some() != self.password.is_some() {
            return e("user", "user and password go together".into());
        }
        Ok(())
    }

    fn identity(&self) -> RelayIdentity {
        RelayIdentity {
            site: self.site,
            component: self.component.clone(),
        }
    }
}

/// Why the relay could not start or had to stop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The configuration is invalid.
    #[error("{origin}: invalid relay configuration at `{key}`: {message}")]
    Config {
        /// File or `<string>`.
        origin: String,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The policy file is invalid at start-up.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// Could not connect to NATS.
    #[error("cannot connect to NATS at {url}: {message}")]
    Connect {
        /// The URL.
        url: String,
        /// The error.
        message: String,
    },
    /// A JetStream set-up call failed (stream or consumer missing, permissions, …).
    #[error("JetStream: {0}")]
    JetStream(String),
    /// Could not install the SIGHUP handler.
    #[error("cannot install the SIGHUP handler: {0}")]
    Signal(std::io::Error),
}

/// Counters a caller (test, health endpoint) can read while the relay runs.
#[derive(Debug, Default)]
pub struct RelayStats {
    /// Inputs received.
    pub received: AtomicU64,
    /// Outputs stored (acknowledged by JetStream, including duplicates).
    pub published: AtomicU64,
    /// Outputs JetStream reported as duplicates.
    pub deduplicated: AtomicU64,
    /// Destination decisions that withheld.
    pub withheld: AtomicU64,
    /// Inputs dead-lettered.
    pub rejected: AtomicU64,
    /// Inputs acknowledged.
    pub acked: AtomicU64,
    /// Publish failures (input NAKed for redelivery).
    pub publish_errors: AtomicU64,
    /// Successful policy reloads.
    pub reloads: AtomicU64,
    /// Failed policy reloads (old policy kept).
    pub reload_failures: AtomicU64,
    /// Whether the consumer is up.
    pub ready: AtomicBool,
}

/// A handle to a running relay: reload trigger, counters, current policy name.
#[derive(Debug, Clone, Default)]
pub struct RelayControl {
    reload: Arc<Notify>,
    ready: Arc<Notify>,
    stats: Arc<RelayStats>,
    policy_name: Arc<Mutex<String>>,
}

impl RelayControl {
    /// A fresh handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the relay to re-read its policy file (what SIGHUP does).
    pub fn request_reload(&self) {
        self.reload.notify_one();
    }

    /// The live counters.
    pub fn stats(&self) -> &RelayStats {
        &self.stats
    }

    /// Read one counter.
    pub fn get(&self, f: impl Fn(&RelayStats) -> &AtomicU64) -> u64 {
        f(&self.stats).load(Ordering::Relaxed)
    }

    /// Name of the policy in force.
    pub fn policy_name(&self) -> String {
        self.policy_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Wait until the consumer is up.
    pub async fn ready(&self) {
        loop {
            let notified = self.ready.notified();
            if self.stats.ready.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// One connection: an account (or the single connection) with its JetStream context.
struct Link {
    /// The nation whose account this is; `None` in single-connection mode.
    nation: Option<Nation>,
    client: async_nats::Client,
    js: jetstream::Context,
}

struct Shared {
    /// Output context per destination; `fallback` when there is no per-nation account.
    outputs: Vec<(Nation, jetstream::Context)>,
    fallback: Option<jetstream::Context>,
    identity: RelayIdentity,
    dlq_subject: String,
    nak_delay: Duration,
    stats: Arc<RelayStats>,
    /// Message id → origin of what this relay accepted, for the `foreign_reference` check.
    refs: Mutex<ReferenceBook>,
}

impl Shared {
    fn output_js(&self, dest: Nation) -> Option<&jetstream::Context> {
        self.outputs
            .iter()
            .find(|(n, _)| *n == dest)
            .map(|(_, js)| js)
            .or(self.fallback.as_ref())
    }
}

/// Run the relay until `shutdown` completes; SIGHUP reloads the policy.
pub async fn run(
    config: RelayConfig,
    policy_path: PathBuf,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RelayError> {
    run_with_sighup(config, policy_path, shutdown, RelayControl::new()).await
}

/// [`run`] with a caller-supplied [`RelayControl`] (to read counters or wait for readiness);
/// SIGHUP reloads the policy.
pub async fn run_with_sighup(
    config: RelayConfig,
    policy_path: PathBuf,
    shutdown: impl Future<Output = ()>,
    control: RelayControl,
) -> Result<(), RelayError> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).map_err(RelayError::Signal)?;
    let trigger = control.clone();
    let hup_task = tokio::spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the routing policy");
            trigger.request_reload();
        }
    });
    let result = run_with_control(config, policy_path, shutdown, control).await;
    hup_task.abort();
    result
}

/// Run the relay until `shutdown` completes, with reloads requested through `control`
/// (no signal handler is installed: [`run`] adds SIGHUP).
pub async fn run_with_control(
    config: RelayConfig,
    policy_path: PathBuf,
    shutdown: impl Future<Output = ()>,
    control: RelayControl,
) -> Result<(), RelayError> {
    config.check().map_err(|(k, m)| RelayError::Config {
        origin: "<config>".into(),
        key: k,
        message: m,
    })?;
    let mut policy = Arc::new(Policy::load(&policy_path)?);
    set_name(&control, &policy.name);
    tracing::info!(policy = %policy.name, path = %policy_path.display(), "routing policy loaded");
    describe_metrics();

    let mut links = Vec::new();
    let mut inputs = Vec::new();
    if config.accounts.is_empty() {
        let client = connect(
            &config,
            &config.nats_url,
            config.user.as_ref(),
            config.password.as_ref(),
            config.creds_file.as_ref(),
        )
        .await?;
        let js = js_context(&config, &client);
        if config.create_streams {
            create_streams(
                &js,
                &[
                    (&config.input_stream, "tl.in.>"),
                    (&config.output_stream, "tl.out.>"),
                    (&config.dlq_stream, "tl.dlq.>"),
                ],
            )
            .await?;
        }
        inputs.push((
            0,
            config.input_stream.clone(),
            config.filter_subject.clone(),
        ));
        links.push(Link {
            nation: None,
            client,
            js,
        });
    } else {
        for (i, acc) in config.accounts.iter().enumerate() {
            let url = acc.nats_url.as_ref().unwrap_or(&config.nats_url);
            let client = connect(
                &config,
                url,
                acc.user.as_ref(),
                acc.password.as_ref(),
                acc.creds_file.as_ref(),
            )
            .await?;
            let js = js_context(&config, &client);
            let input = acc.input_stream();
            let n = acc.nation.as_str();
            if config.create_streams {
                let out_name = format!("OUT_{}", n.to_ascii_uppercase());
                create_streams(
                    &js,
                    &[
                        (&input, &format!("tl.in.{n}.>")),
                        (&out_name, &format!("tl.out.{n}.>")),
                        (&config.dlq_stream, config.dlq_subject.as_str()),
                    ],
                )
                .await?;
            }
            inputs.push((i, input, format!("tl.in.{n}.>")));
            links.push(Link {
                nation: Some(acc.nation),
                client,
                js,
            });
        }
    }

    let max_in_flight = config.max_in_flight;
    let mut streams = Vec::new();
    for (i, stream_name, filter) in inputs {
        let Some(link) = links.get(i) else { continue };
        let input = link
            .js
            .get_stream(&stream_name)
            .await
            .map_err(|e| RelayError::JetStream(format!("input stream {stream_name}: {e}")))?;
        let consumer = input
            .get_or_create_consumer(
                &config.consumer,
                pull::Config {
                    durable_name: Some(config.consumer.clone()),
                    filter_subject: filter.clone(),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(config.ack_wait_s),
                    max_ack_pending: i64::try_from(max_in_flight).unwrap_or(i64::MAX),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| {
                RelayError::JetStream(format!(
                    "consumer {} on {stream_name}: {e}",
                    config.consumer
                ))
            })?;
        let messages = consumer.messages().await.map_err(|e| {
            RelayError::JetStream(format!(
                "consumer {} on {stream_name}: {e}",
                config.consumer
            ))
        })?;
        tracing::info!(stream = %stream_name, consumer = %config.consumer, filter = %filter, account = ?link.nation, "relay consuming");
        let account = link.nation;
        let dlq_js = link.js.clone();
        streams.push(messages.map(move |m| (account, dlq_js.clone(), m)).boxed());
    }
    let mut messages = futures::stream::select_all(streams);

    let shared = Arc::new(Shared {
        outputs: links
            .iter()
            .filter_map(|l| l.nation.map(|n| (n, l.js.clone())))
            .collect(),
        fallback: links
            .iter()
            .find(|l| l.nation.is_none())
            .map(|l| l.js.clone()),
        identity: config.identity(),
        dlq_subject: config.dlq_subject.clone(),
        nak_delay: Duration::from_millis(config.nak_delay_ms),
        stats: control.stats.clone(),
        refs: Mutex::new(ReferenceBook::default()),
    });
    control.stats.ready.store(true, Ordering::Release);
    control.ready.notify_waiters();

    // Inputs in flight (publishing or retrying), and those waiting behind an earlier input
    // about the same track (per-track causal order, `order::OrderGate`). Both count against
    // `max_in_flight`.
    let mut inflight = FuturesUnordered::new();
    let mut gate: OrderGate<Prepared> = OrderGate::default();
    let stop = CancellationToken::new();
    let started = std::time::Instant::now();
    let status_client = links
        .iter()
        .find(|l| l.nation.is_none_or(|n| n == config.site))
        .map(|l| l.client.clone());
    let mut heartbeat = tokio::time::interval(Duration::from_secs(config.status_interval_s.max(1)));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Waiting inputs are not being worked on: tell the server they are, well within ack_wait,
    // so it does not redeliver them behind our back.
    let mut keepalive = tokio::time::interval(Duration::from_secs(10));
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        metrics::gauge!("trilink_relay_in_flight").set((inflight.len() + gate.waiting()) as f64);
        tokio::select! {
            biased;
            () = &mut shutdown => {
                tracing::info!(in_flight = inflight.len(), waiting = gate.waiting(), "relay shutting down");
                break;
            }
            () = control.reload.notified() => {
                policy = reload(&policy_path, policy, &control);
            }
            _ = heartbeat.tick(), if config.status_interval_s > 0 => {
                if let Some(client) = &status_client {
                    publish_status(client, &config, &control.stats, started.elapsed()).await;
                }
            }
            _ = keepalive.tick(), if gate.waiting() > 0 => {
                for p in gate.waiting_items() {
                    if let Err(e) = p.msg.ack_with(AckKind::Progress).await {
                        tracing::warn!(error = %e, "in-progress ack of a waiting input failed");
                    }
                }
            }
            Some(key) = inflight.next(), if !inflight.is_empty() => {
                let key: Option<trilink_schema::TrackKey> = key;
                if let Some(next) = gate.finish(key.as_ref()) {
                    inflight.push(execute(shared.clone(), next, stop.clone()));
                }
            }
            next = messages.next(), if inflight.len() + gate.waiting() < max_in_flight => match next {
                Some((account, dlq_js, Ok(msg))) => {
                    let p = prepare(&shared, &policy, account, dlq_js, msg);
                    let key = p.outcome.track.clone();
                    if let Some(p) = gate.admit(key.as_ref(), p) {
                        inflight.push(execute(shared.clone(), p, stop.clone()));
                    }
                }
                Some((_, _, Err(e))) => {
                    tracing::warn!(error = %e, "consumer error; continuing");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                None => {
                    tracing::warn!("consumer stream ended");
                    break;
                }
            },
        }
    }
    // Drain: finish what is in flight and what waits behind it, in order, within the drain
    // timeout; an input still retrying is handed back (nak) when the timeout stops it.
    let drain = async {
        while let Some(key) = inflight.next().await {
            if let Some(next) = gate.finish(key.as_ref()) {
                inflight.push(execute(shared.clone(), next, stop.clone()));
            }
        }
    };
    if tokio::time::timeout(Duration::from_millis(config.drain_timeout_ms), drain)
        .await
        .is_err()
    {
        stop.cancel();
        let handed_back = async { while inflight.next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), handed_back).await;
        tracing::warn!(
            waiting = gate.waiting(),
            "drain timeout: unfinished inputs will be redelivered"
        );
    }
    control.stats.ready.store(false, Ordering::Release);
    for link in &links {
        if let Err(e) = link.client.flush().await {
            tracing::warn!(error = %e, "flush on shutdown failed");
        }
    }
    Ok(())
}

/// Publish one `tl.status.<site>.<component>` heartbeat (best effort, core NATS).
async fn publish_status(
    client: &async_nats::Client,
    config: &RelayConfig,
    stats: &RelayStats,
    uptime: Duration,
) {
    let now = Utc::now();
    let component = config.component.clone();
    let detail = format!(
        "received={} acked={} rejected={} publish_errors={} reloads={} reload_failures={}",
        stats.received.load(Ordering::Relaxed),
        stats.acked.load(Ordering::Relaxed),
        stats.rejected.load(Ordering::Relaxed),
        stats.publish_errors.load(Ordering::Relaxed),
        stats.reloads.load(Ordering::Relaxed),
        stats.reload_failures.load(Ordering::Relaxed),
    );
    let state = if stats.publish_errors.load(Ordering::Relaxed) > 0 {
        ComponentState::Degraded
    } else {
        ComponentState::Ok
    };
    let env = Envelope::new(
        config.site,
        Source {
            system: "trilink".to_owned(),
            sensor: component.clone(),
            national_message_id: format!(
                "status-{component}-{}",
                now.timestamp_nanos_opt().unwrap_or_default()
            ),
        },
        now,
        now,
        Mode::RealWorld,
        [config.site].into_iter().collect(),
        Payload::Status(Status {
            component: component.clone(),
            state,
            uptime_s: uptime.as_secs_f64(),
            detail,
        }),
    );
    let subject = trilink_schema::Subject::Status {
        site: config.site,
        component,
    }
    .to_string();
    match env.to_json() {
        Ok(body) => {
            if let Err(e) = client.publish(subject, body.into()).await {
                tracing::debug!(error = %e, "status heartbeat not sent");
            }
        }
        Err(e) => tracing::debug!(error = %e, "status heartbeat not serialized"),
    }
}

fn set_name(control: &RelayControl, name: &str) {
    name.clone_into(
        &mut control
            .policy_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
}

fn reload(path: &Path, old: Arc<Policy>, control: &RelayControl) -> Arc<Policy> {
    match Policy::load(path) {
        Ok(p) => {
            tracing::info!(old = %old.name, new = %p.name, "routing policy reloaded");
            metrics::counter!("trilink_relay_policy_reloads_total").increment(1);
            control.stats.reloads.fetch_add(1, Ordering::Relaxed);
            set_name(control, &p.name);
            Arc::new(p)
        }
        Err(e) => {
            tracing::error!(error = %e, kept = %old.name, "policy reload failed; keeping the old policy");
            metrics::counter!("trilink_relay_policy_reload_failures_total").increment(1);
            control
                .stats
                .reload_failures
                .fetch_add(1, Ordering::Relaxed);
            old
        }
    }
}

fn js_context(config: &RelayConfig, client: &async_nats::Client) -> jetstream::Context {
    match &config.js_domain {
        Some(d) => jetstream::with_domain(client.clone(), d),
        None => jetstream::new(client.clone()),
    }
}

async fn connect(
    config: &RelayConfig,
    url: &str,
    user: Option<&String>,
    password: Option<&String>,
    creds_file: Option<&PathBuf>,
) -> Result<async_nats::Client, RelayError> {
    let err = |message: String| RelayError::Connect {
        url: url.to_owned(),
        message,
    };
    let mut opts = match creds_file {
        Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
            .await
            .map_err(|e| err(format!("credentials {}: {e}", path.display())))?,
        None => async_nats::ConnectOptions::new(),
    };
    opts = opts
        .name(format!("trilink-{}", config.component))
        .connection_timeout(Duration::from_secs(5));
    if let (Some(u), Some(p)) = (user, password) {
        opts = opts
            .user_and_password(u.clone(), p.clone())
            .custom_inbox_prefix(trilink_schema::inbox_prefix(u));
    }
    if let Some(ca) = &config.tls_ca {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let (Some(c), Some(k)) = (&config.tls_cert, &config.tls_key) {
        opts = opts.add_client_certificate(c.clone(), k.clone());
    }
    opts.connect(url).await.map_err(|e| err(e.to_string()))
}

async fn create_streams(
    js: &jetstream::Context,
    specs: &[(&String, &str)],
) -> Result<(), RelayError> {
    for (name, subject) in specs {
        js.get_or_create_stream(stream::Config {
            name: (*name).clone(),
            subjects: vec![(*subject).to_owned()],
            storage: stream::StorageType::File,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| RelayError::JetStream(format!("create stream {name}: {e}")))?;
    }
    Ok(())
}

fn describe_metrics() {
    metrics::describe_counter!(
        "trilink_relay_received_total",
        "Inputs received by the relay"
    );
    metrics::describe_counter!(
        "trilink_relay_published_total",
        "Outputs stored in JetStream, by destination and kind"
    );
    metrics::describe_counter!(
        "trilink_relay_withheld_total",
        "Destination decisions that withheld a message, by reason"
    );
    metrics::describe_counter!(
        "trilink_relay_rejected_total",
        "Inputs dead-lettered, by reason"
    );
    metrics::describe_counter!(
        "trilink_relay_deduplicated_total",
        "Outputs JetStream reported as duplicates"
    );
    metrics::describe_counter!(
        "trilink_relay_publish_errors_total",
        "Failed output publishes (input redelivered)"
    );
    metrics::describe_counter!("trilink_relay_policy_reloads_total", "Policy reloads");
    metrics::describe_counter!(
        "trilink_relay_policy_reload_failures_total",
        "Policy reloads refused (old policy kept)"
    );
    metrics::describe_histogram!(
        "trilink_relay_hop_latency_seconds",
        metrics::Unit::Seconds,
        "Latency from the envelope's timestamps to the relay"
    );
    // Export the unlabelled counters at 0 from the start: an alert on `increase()` sees
    // nothing for a series that first appears at 1 (the first failed reload would not fire).
    for name in [
        "trilink_relay_received_total",
        "trilink_relay_publish_errors_total",
        "trilink_relay_policy_reloads_total",
        "trilink_relay_policy_reload_failures_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
}

fn record(outcome: &Outcome, now: chrono::DateTime<Utc>, stats: &RelayStats) {
    metrics::counter!("trilink_relay_received_total").increment(1);
    stats.received.fetch_add(1, Ordering::Relaxed);
    if let Some(r) = &outcome.reject {
        metrics::counter!("trilink_relay_rejected_total", "reason" => r.code).increment(1);
        stats.rejected.fetch_add(1, Ordering::Relaxed);
        return;
    }
    for (dest, reason) in &outcome.withheld {
        metrics::counter!("trilink_relay_withheld_total", "dest" => dest.as_str(), "reason" => reason.code())
            .increment(1);
        stats.withheld.fetch_add(1, Ordering::Relaxed);
    }
    let secs = |d: chrono::TimeDelta| d.num_microseconds().map_or(f64::NAN, |us| us as f64 / 1e6);
    if let Some((ing, obs)) = outcome.times {
        metrics::histogram!("trilink_relay_hop_latency_seconds", "hop" => "ingest_to_relay")
            .record(secs(now - ing));
        metrics::histogram!("trilink_relay_hop_latency_seconds", "hop" => "observe_to_relay")
            .record(secs(now - obs));
    }
}

/// An input after the pure step: the decision is made, nothing is published yet.
struct Prepared {
    msg: jetstream::Message,
    subject: String,
    dlq_js: jetstream::Context,
    outcome: Outcome,
}

/// The pure step, in arrival order: decide, and record what was accepted (so a later
/// reference to it is recognised).
fn prepare(
    shared: &Shared,
    policy: &Policy,
    account: Option<Nation>,
    dlq_js: jetstream::Context,
    msg: jetstream::Message,
) -> Prepared {
    let now = Utc::now();
    let subject = msg.subject.as_str().to_owned();
    let outcome = {
        let refs = shared.refs.lock().unwrap_or_else(PoisonError::into_inner);
        match account {
            Some(n) => process_in_account(
                n,
                &subject,
                &msg.payload,
                now,
                policy,
                &shared.identity,
                &refs,
            ),
            None => process(&subject, &msg.payload, now, policy, &shared.identity, &refs),
        }
    };
    if let Some((id, origin)) = outcome.accepted_origin() {
        shared
            .refs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(id, origin, now);
    }
    record(&outcome, now, &shared.stats);
    if let Some(rej) = &outcome.reject {
        tracing::warn!(subject = %subject, reason = rej.code, detail = %rej.detail, "input rejected");
    }
    Prepared {
        msg,
        subject,
        dlq_js,
        outcome,
    }
}

/// Store the input's outputs (or its dead letter) and acknowledge it. A failed store is
/// retried here, in place, with backoff (the server told the input is in progress), never
/// handed back while running: an input handed back would be overtaken by the next input about
/// the same track. Returns the input's order key when done.
async fn execute(
    shared: Arc<Shared>,
    p: Prepared,
    stop: CancellationToken,
) -> Option<trilink_schema::TrackKey> {
    let Prepared {
        msg,
        subject,
        dlq_js,
        outcome,
    } = p;
    let mut backoff = Backoff::new(shared.nak_delay.max(Duration::from_millis(50)));
    loop {
        if store(&shared, &msg, &subject, &dlq_js, &outcome).await {
            match msg.ack().await {
                Ok(()) => {
                    shared.stats.acked.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::warn!(error = %e, subject = %subject, "ack failed; input will be redelivered");
                }
            }
            break;
        }
        metrics::counter!("trilink_relay_publish_errors_total").increment(1);
        shared.stats.publish_errors.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = msg.ack_with(AckKind::Progress).await {
            tracing::warn!(error = %e, "in-progress ack failed");
        }
        tokio::select! {
            () = stop.cancelled() => {
                if let Err(e) = msg.ack_with(AckKind::Nak(None)).await {
                    tracing::warn!(error = %e, "nak failed; input will be redelivered after ack_wait");
                }
                break;
            }
            () = tokio::time::sleep(backoff.next()) => {}
        }
    }
    outcome.track
}

/// Doubling delay, capped at 5 s.
struct Backoff(Duration);

impl Backoff {
    fn new(initial: Duration) -> Self {
        Self(initial)
    }
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
        d
    }
}

/// Publish the outputs (or the dead letter); true when every one is stored.
async fn store(
    shared: &Shared,
    msg: &jetstream::Message,
    subject: &str,
    dlq_js: &jetstream::Context,
    outcome: &Outcome,
) -> bool {
    if let Some(rej) = &outcome.reject {
        let mut h = HeaderMap::new();
        h.insert(headers::DLQ_REASON, rej.code);
        h.insert(headers::DLQ_DETAIL, header_safe(&rej.detail).as_str());
        h.insert(headers::DLQ_COMPONENT, shared.identity.component.as_str());
        h.insert(headers::DLQ_SOURCE, subject);
        if let Ok(info) = msg.info() {
            let id = format!(
                "dlq.{}.{}.{}.{}",
                shared.identity.component,
                info.stream,
                info.stream_sequence,
                info.published.unix_timestamp_nanos()
            );
            h.insert(headers::MSG_ID, id.as_str());
        }
        publish_all(
            shared,
            vec![(dlq_js, shared.dlq_subject.clone(), h, msg.payload.clone())],
            false,
        )
        .await
    } else {
        let batch: Option<Vec<_>> = outcome
            .outputs
            .iter()
            .map(|o| {
                let js = shared.output_js(o.dest)?;
                let mut h = HeaderMap::new();
                h.insert(headers::MSG_ID, o.msg_id.as_str());
                h.insert(
                    headers::SCHEMA_VERSION,
                    trilink_schema::SCHEMA_VERSION.to_string().as_str(),
                );
                Some((js, o.subject.clone(), h, o.body.clone()))
            })
            .collect();
        let ok = if let Some(batch) = batch {
            publish_all(shared, batch, true).await
        } else {
            tracing::error!(subject = %subject, "no account configured for a released destination");
            false
        };
        if ok {
            for o in &outcome.outputs {
                metrics::counter!("trilink_relay_published_total", "dest" => o.dest.as_str(), "kind" => kind_of(&o.subject))
                    .increment(1);
            }
        }
        ok
    }
}

fn kind_of(subject: &str) -> String {
    subject.split('.').nth(3).unwrap_or("unknown").to_owned()
}

/// Header values must not contain CR/LF; keep them short.
fn header_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(512)
        .collect()
}

/// Publish every message and await every JetStream acknowledgement; true when all stored.
async fn publish_all(
    shared: &Shared,
    batch: Vec<(&jetstream::Context, String, HeaderMap, bytes::Bytes)>,
    count_outputs: bool,
) -> bool {
    let mut acks = Vec::with_capacity(batch.len());
    for (js, subject, h, body) in batch {
        match js.publish_with_headers(subject.clone(), h, body).await {
            Ok(ack) => acks.push((subject, ack)),
            Err(e) => {
                tracing::warn!(error = %e, subject = %subject, "publish failed");
                return false;
            }
        }
    }
    let (subjects, futures): (Vec<String>, Vec<_>) =
        acks.into_iter().map(|(s, a)| (s, a.into_future())).unzip();
    let results = join_all(futures).await;
    let mut ok = true;
    for (subject, res) in subjects.iter().zip(results) {
        match res {
            Ok(ack) => {
                if count_outputs {
                    shared.stats.published.fetch_add(1, Ordering::Relaxed);
                }
                if ack.duplicate {
                    metrics::counter!("trilink_relay_deduplicated_total").increment(1);
                    shared.stats.deduplicated.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, subject = %subject, "publish not acknowledged");
                ok = false;
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses() {
        let text = include_str!("../relay.example.toml");
        let cfg = RelayConfig::from_toml_str(text, "relay.example.toml").unwrap();
        assert_eq!(cfg.accounts.len(), 3);
        assert_eq!(cfg.accounts[0].input_stream(), "IN_JP");
        assert_eq!(cfg.component, "relay-1");
    }

    #[test]
    fn config_errors_name_the_key() {
        let err = RelayConfig::from_toml_str("max_in_flight = 0\n", "t").unwrap_err();
        assert!(err.to_string().contains("`max_in_flight`"), "{err}");
        let err = RelayConfig::from_toml_str("nats_urll = \"x\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("nats_urll"), "{err}");
        let err = RelayConfig::from_toml_str(
            "[[account]]\nnation = \"jp\"\n[[account]]\nnation = \"jp\"\n",
            "t",
        )
        .unwrap_err();
        assert!(err.to_string().contains("account[1].nation"), "{err}");
        let err = RelayConfig::from_toml_str("[[account]]\nnation = \"cn\"\n", "t").unwrap_err();
        assert!(err.to_string().contains("account[0].nation"), "{err}");
    }

    #[test]
    fn environment_overrides_apply_and_unknown_keys_fail() {
        let text = "nats_url = \"nats://a:1\"\n[[account]]\nnation = \"jp\"\nuser = \"relay-jp\"\npassword = \"x\"\n";
        let path = Path::new("relay.toml");
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let cfg = RelayConfig::load_with_env(
            text,
            path,
            env(&[
                ("TRILINK__NATS_URL", "nats://hub:4222"),
                ("TRILINK__ACCOUNT__0__PASSWORD", "from-env"),
                ("TRILINK__MAX_IN_FLIGHT", "7"),
                ("UNRELATED", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(cfg.nats_url, "nats://hub:4222");
        assert_eq!(cfg.max_in_flight, 7);
        assert_eq!(cfg.accounts[0].password.as_deref(), Some("from-env"));
        // A typo in a variable fails and names the key.
        let err = RelayConfig::load_with_env(text, path, env(&[("TRILINK__NATS_URLL", "x")]))
            .unwrap_err();
        assert!(err.to_string().contains("nats_urll"), "{err}");
        // An override breaking a semantic rule names the key.
        let err = RelayConfig::load_with_env(text, path, env(&[("TRILINK__MAX_IN_FLIGHT", "0")]))
            .unwrap_err();
        assert!(err.to_string().contains("max_in_flight"), "{err}");
    }
}
