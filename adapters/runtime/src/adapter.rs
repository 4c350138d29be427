//! The generic adapter process, over any [`NationalCodec`].
//!
//! Every per-message decision (decode outcome → envelope, envelope → national frame) is made by
//! the pure functions of [`crate::core`]; this module does the I/O around them.
//!
//! **Ingress**: national bytes from the configured transports → `decode` → `to_common` →
//! origin check → `validate` → JetStream publish on `tl.in.<origin>.<kind>` with
//! `Nats-Msg-Id` = message id. Any failure goes to `tl.dlq.<site>` with its reason code
//! (`Tl-Reason`), detail, component and transport headers and the original bytes as body;
//! the process keeps running. An envelope whose origin is not the adapter's nation is
//! rejected with reason `origin_mismatch` and never published.
//!
//! **Egress**: durable pull consumer on `tl.out.<dest>.>` → envelope JSON → releasability and
//! validation check → `to_national` → `encode` → every configured output. The JetStream message
//! is acknowledged only after every output confirmed the frame (UDP sent, TCP written, MQTT
//! PUBACK); a failed send is NAKed with a delay (redelivered later) and, on redelivery, sent
//! only to the outputs that had not yet accepted it; a message that can never be delivered
//! (bad JSON, not releasable, not representable in the national format) is dead-lettered and
//! terminated. A redelivery of a message already delivered (lost ack) is acknowledged without
//! sending it again: the last 16 384 delivered ids are remembered in memory and, with
//! `egress.state_dir`, appended to a journal file that a restarted process loads (see
//! [`crate::journal`]). Per message: send to every output → confirmation → append the id to
//! the journal → acknowledge.
//!
//! **The egress window** (`egress.max_in_flight`, default [`EGRESS_MAX_IN_FLIGHT`]): up to
//! that many messages are sent and awaiting confirmation at once — in practice MQTT QoS 1
//! publishes awaiting their PUBACKs on the one connection, which the broker delivers in the
//! order sent — instead of one message per PUBACK round trip. Messages are still settled
//! (journaled, acknowledged) strictly in stream order. A failure stops the intake: what was
//! sent behind the failed message is not overtaken by anything newer; the window is settled in
//! order, and a message no output took is retried in place (one at a time, then the messages
//! behind it that failed too) before the intake resumes. `max_in_flight = 1` is one message at
//! a time.
//!
//! Delivery to the national system across a crash (kill -9) of the adapter is therefore
//! exactly-once **with `state_dir`**, except for one window: a process killed after a national
//! output accepted a frame and before the journal write (for MQTT: the PUBACK round trip) sends
//! those messages again after the restart — at most `max_in_flight` of them. Without
//! `state_dir` it is at-least-once across crashes: every message delivered but not yet
//! acknowledged when the process died is sent once more. A power loss without `state_fsync`
//! may lose the journal's last appends, with the same effect for the messages in flight then.
//!
//! **Heartbeats**: an envelope with a `status` payload on `tl.status.<site>.<component>`
//! (core NATS) every `heartbeat_interval_ms`, and a final `down` status on shutdown.
//!
//! ## Config (TOML)
//!
//! ```toml
//! [adapter]
//! nation = "jp"                 # jp | kr | us: the codec and the only origin published
//! component = "adapter-jp"      # default adapter-<nation>; [a-z0-9_-]{1,64}
//! heartbeat_interval_ms = 5000
//! drain_timeout_ms = 5000
//! channel_capacity = 1024       # decoded frames queued between transports and publisher
//!
//! [telemetry]
//! listen = "127.0.0.1:9464"     # /metrics /healthz /readyz
//! log_format = "text"           # or "json"
//! log_filter = "info"
//!
//! [nats]
//! url = "nats://127.0.0.1:4222"
//! js_domain = "jp"              # JetStream domain of the leaf
//! max_in_flight = 1024
//!
//! [[ingress]]
//! type = "udp"
//! bind = "0.0.0.0:7000"
//!
//! # An MQTT endpoint (ingress or egress output) over TLS: TLS-only once `tls` is present
//! # (no plaintext fallback, no way to skip verification); see `crate::tls`.
//! # [[ingress]]
//! # type = "mqtt"
//! # host = "kr-broker.example"
//! # port = 8883
//! # client_id = "trilink-kr-in"
//! # topic = "kr/warning/out"
//! # [ingress.tls]
//! # ca_file = "/etc/trilink/certs/kr-broker-ca.pem"   # required: trust anchor(s) for the broker
//! # cert_file = "/etc/trilink/certs/adapter-kr.pem"   # optional client certificate (mutual TLS)
//! # key_file = "/etc/trilink/certs/adapter-kr-key.pem" # … with its key: both or neither
//! # server_name = "kr-broker"                         # optional; default: host
//!
//! [egress]
//! stream = "TL_OUT_JP"
//! durable = "adapter-jp"
//! js_domain = "hub"             # the output stream is the hub's (read through the leaf's link)
//! state_dir = "/var/lib/trilink/adapter-jp"  # journal of delivered ids (optional, recommended)
//! state_fsync = false           # true: fdatasync every append (survives power loss; slower)
//! max_in_flight = 1             # deliveries awaiting confirmation (MQTT PUBACK); >1 pipelines, repeats up to that many on a crash
//! [[egress.outputs]]
//! type = "udp"
//! target = "127.0.0.1:7001"
//! ```
//!
//! Full examples for each nation are in `adapters/runtime/examples/*.toml`.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use trilink_schema::{ComponentState, MessageId, Nation, NationalCodec, Subject};

use crate::config::{Invalid, Validate};
use crate::core::{CoreCtx, ingest_frame, prepare_egress};
use crate::journal::{Journal, JournalError};
use crate::nats::{self, DeadLetter, DurableSpec, NatsConfig, NatsError, Publisher};
use crate::telemetry::{self, Health, TelemetryConfig, events};
use crate::transport::{self, IngressConfig, OutputConfig, Pending, Received, Settle, Sink};

/// The `[adapter]` section.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterSection {
    /// The nation this adapter serves.
    pub nation: Nation,
    /// Component name (default `adapter-<nation>`).
    #[serde(default)]
    pub component: Option<String>,
    /// Heartbeat period, milliseconds (0 = no heartbeats).
    #[serde(default = "five_seconds_ms")]
    pub heartbeat_interval_ms: u64,
    /// Time allowed to drain in-flight work on shutdown, milliseconds.
    #[serde(default = "five_seconds_ms")]
    pub drain_timeout_ms: u64,
    /// Capacity of the queue between transports and the publisher.
    #[serde(default = "up_to_1024")]
    pub channel_capacity: usize,
    /// Clock-skew tolerance for timestamps in the future, milliseconds.
    #[serde(default = "five_seconds_ms_signed")]
    pub future_tolerance_ms: i64,
}

const fn five_seconds_ms() -> u64 {
    5_000
}
const fn five_seconds_ms_signed() -> i64 {
    5_000
}
const fn up_to_1024() -> usize {
    1_024
}
const fn thirty_seconds_ms() -> u64 {
    30_000
}
const fn one_second_ms() -> u64 {
    1_000
}
const fn up_to_64() -> usize {
    64
}
const fn egress_window() -> usize {
    EGRESS_MAX_IN_FLIGHT
}

/// Default `[egress] max_in_flight`: one delivery at a time, so a national broker restart or an
/// adapter crash repeats at most one message. A window (e.g. 64: MQTT egress 5 400 → 18 200
/// msg/s, BENCHMARKS.md "Egress window") repeats up to that many: opt in where the national
/// system drops repeats by message id. (With 64 as the default, a mosquitto restart on
/// nats-server 2.15.1 repeated 12 messages at KR in `link_kill`.)
pub const EGRESS_MAX_IN_FLIGHT: usize = 1;

/// The `[egress]` section: where released messages come from and where they go.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct EgressConfig {
    /// JetStream stream holding `tl.out.<nation>.>`.
    pub stream: String,
    /// Durable consumer name.
    pub durable: String,
    /// Filter subject (default `tl.out.<nation>.>`).
    #[serde(default)]
    pub filter_subject: Option<String>,
    /// JetStream domain of the stream (default: `nats.js_domain`).
    #[serde(default)]
    pub js_domain: Option<String>,
    /// Redelivery after this long without an ack, milliseconds.
    #[serde(default = "thirty_seconds_ms")]
    pub ack_wait_ms: u64,
    /// Maximum unacknowledged messages.
    #[serde(default = "up_to_1024")]
    pub max_ack_pending: usize,
    /// Messages per pull request.
    #[serde(default = "up_to_64")]
    pub batch: usize,
    /// National deliveries in flight (MQTT QoS 1 publishes awaiting their PUBACK): 1 sends
    /// one message and waits for its confirmation before the next. At most
    /// `max_ack_pending`; a crash can resend at most this many messages (see
    /// [`crate::journal`]).
    #[serde(default = "egress_window")]
    pub max_in_flight: usize,
    /// After a failed national send, milliseconds: the redelivery delay when some outputs took
    /// the message, and the first in-place retry delay (doubling to 5 s) when none did — the
    /// message is then held and retried so nothing behind it overtakes it.
    #[serde(default = "one_second_ms")]
    pub nak_delay_ms: u64,
    /// National outputs; a message is acknowledged when every output accepted it.
    pub outputs: Vec<OutputConfig>,
    /// Directory for the journal of delivered message ids ([`crate::journal`]): a restarted
    /// process does not deliver again what the process before it delivered. None: delivered
    /// ids are remembered in memory only (lost with the process).
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// `fdatasync` the journal after every append, so that it also survives a power loss (one
    /// disk flush per delivered message). Needs `state_dir`.
    #[serde(default)]
    pub state_fsync: bool,
}

impl EgressConfig {
    /// The durable this egress reads, as [`nats::durable_pull`] looks it up (`nation`'s output
    /// filter unless configured).
    pub fn durable_spec(&self, nation: Nation) -> DurableSpec {
        DurableSpec {
            stream: self.stream.clone(),
            durable: self.durable.clone(),
            filter_subject: self
                .filter_subject
                .clone()
                .unwrap_or_else(|| Subject::output_filter(nation)),
            ack_wait: Duration::from_millis(self.ack_wait_ms),
            max_ack_pending: i64::try_from(self.max_ack_pending).unwrap_or(i64::MAX),
        }
    }

    /// Its JetStream domain: `[egress] js_domain`, else the connection's `nats.js_domain`.
    pub fn domain<'a>(&'a self, nats: &'a NatsConfig) -> Option<&'a str> {
        self.js_domain.as_deref().or(nats.js_domain.as_deref())
    }
}

/// A whole adapter configuration file.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterConfig {
    /// Identity and tuning.
    pub adapter: AdapterSection,
    /// Logs, metrics, health.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// The NATS connection.
    pub nats: NatsConfig,
    /// National inputs.
    #[serde(default)]
    pub ingress: Vec<IngressConfig>,
    /// Released messages back to the national system.
    #[serde(default)]
    pub egress: Option<EgressConfig>,
}

impl AdapterConfig {
    /// The component name (`adapter-<nation>` unless configured).
    pub fn component(&self) -> String {
        self.adapter
            .component
            .clone()
            .unwrap_or_else(|| format!("adapter-{}", self.adapter.nation))
    }
}

impl AdapterConfig {
    /// Everything `--check` can verify beyond [`Validate`] without the network: the NATS TLS
    /// and creds files, the MQTT endpoints' certificates inside their validity period at `now`,
    /// the egress state directory. Every problem found (empty: all good).
    pub fn check_offline(&self, now: std::time::SystemTime) -> Vec<Invalid> {
        use crate::check;
        let mut out = self.nats.check_files("nats", now);
        let mqtt_tls = |key: String, m: &transport::MqttConfig, out: &mut Vec<Invalid>| {
            if let Some(t) = &m.tls {
                out.extend(
                    check::certificates(&format!("{key}.tls.ca_file"), &t.ca_file, now).err(),
                );
                if let Some(c) = &t.cert_file {
                    out.extend(check::certificates(&format!("{key}.tls.cert_file"), c, now).err());
                }
            }
        };
        for (i, ing) in self.ingress.iter().enumerate() {
            if let transport::IngressConfig::Mqtt(m) = ing {
                mqtt_tls(format!("ingress[{i}]"), m, &mut out);
            }
        }
        if let Some(e) = &self.egress {
            for (i, o) in e.outputs.iter().enumerate() {
                if let transport::OutputConfig::Mqtt(m) = o {
                    mqtt_tls(format!("egress.outputs[{i}]"), m, &mut out);
                }
            }
            if let Some(d) = &e.state_dir {
                out.extend(check::directory("egress.state_dir", d).err());
            }
        }
        out
    }
}

impl Validate for AdapterConfig {
    fn validate(&self) -> Result<(), Invalid> {
        let c = self.component();
        if !Subject::is_valid_component(&c) {
            return Err(Invalid::new(
                "adapter.component",
                format!("{c:?}: 1-64 of [a-z0-9_-]"),
            ));
        }
        if self.adapter.channel_capacity == 0 {
            return Err(Invalid::new("adapter.channel_capacity", "must be > 0"));
        }
        if self.adapter.future_tolerance_ms < 0 {
            return Err(Invalid::new("adapter.future_tolerance_ms", "must be >= 0"));
        }
        if self.adapter.heartbeat_interval_ms != 0 && self.adapter.heartbeat_interval_ms < 100 {
            return Err(Invalid::new(
                "adapter.heartbeat_interval_ms",
                "must be 0 (off) or at least 100",
            ));
        }
        self.telemetry.validate("telemetry")?;
        self.nats.validate("nats")?;
        if self.ingress.is_empty() && self.egress.is_none() {
            return Err(Invalid::new(
                "ingress",
                "an adapter needs at least one [[ingress]] entry or an [egress] section",
            ));
        }
        for (i, ing) in self.ingress.iter().enumerate() {
            ing.validate(&format!("ingress[{i}]"))?;
        }
        if let Some(e) = &self.egress {
            if e.stream.is_empty() {
                return Err(Invalid::new("egress.stream", "must not be empty"));
            }
            if e.durable.is_empty() || e.durable.contains(['.', '*', '>', ' ']) {
                return Err(Invalid::new(
                    "egress.durable",
                    "must be non-empty without . * > or spaces",
                ));
            }
            if let Some(f) = &e.filter_subject {
                let own = Subject::output_filter(self.adapter.nation);
                let prefix = own.trim_end_matches('>');
                if !f.starts_with(prefix) {
                    return Err(Invalid::new(
                        "egress.filter_subject",
                        format!("{f:?} must lie under {own}"),
                    ));
                }
            }
            if e.outputs.is_empty() || e.outputs.len() > 64 {
                return Err(Invalid::new("egress.outputs", "needs 1 to 64 outputs"));
            }
            if e.batch == 0 || e.max_ack_pending == 0 {
                return Err(Invalid::new(
                    "egress.batch",
                    "batch and max_ack_pending must be > 0",
                ));
            }
            if e.max_in_flight == 0
                || e.max_in_flight > usize::from(u16::MAX)
                || e.max_in_flight > e.max_ack_pending
            {
                return Err(Invalid::new(
                    "egress.max_in_flight",
                    format!(
                        "{}: must be 1 (one delivery at a time) to 65535 and at most \
                         egress.max_ack_pending ({})",
                        e.max_in_flight, e.max_ack_pending
                    ),
                ));
            }
            for (i, o) in e.outputs.iter().enumerate() {
                o.validate(&format!("egress.outputs[{i}]"))?;
            }
            if e.state_dir
                .as_ref()
                .is_some_and(|d| d.as_os_str().is_empty())
            {
                return Err(Invalid::new(
                    "egress.state_dir",
                    "must not be empty (leave the key out to keep delivered ids in memory only)",
                ));
            }
            if e.state_fsync && e.state_dir.is_none() {
                return Err(Invalid::new("egress.state_fsync", "needs egress.state_dir"));
            }
        }
        Ok(())
    }
}

/// Errors that stop an adapter.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdapterError {
    /// The config's nation is not the codec's.
    #[error("adapter.nation is {config} but the codec is for {codec}")]
    NationMismatch {
        /// From the config.
        config: Nation,
        /// From the codec.
        codec: Nation,
    },
    /// A transport could not be opened.
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// NATS failed in a way the adapter cannot ride out.
    #[error(transparent)]
    Nats(#[from] NatsError),
    /// Telemetry could not be set up.
    #[error(transparent)]
    Telemetry(#[from] telemetry::TelemetryError),
    /// The egress journal (`egress.state_dir`) could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What an adapter did, returned when it stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Envelopes handed to JetStream.
    pub published: u64,
    /// Inputs dead-lettered on ingress.
    pub ingress_rejected: u64,
    /// Frames delivered to the national system.
    pub delivered: u64,
    /// Egress messages dead-lettered.
    pub egress_rejected: u64,
    /// Publishes that failed for good.
    pub publish_failed: u64,
    /// Whether every in-flight publish was settled within the drain timeout.
    pub drained: bool,
}

impl std::fmt::Display for RunSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "published {}, ingress dead-lettered {}, delivered {}, egress dead-lettered {}, publish failures {}, {}",
            self.published,
            self.ingress_rejected,
            self.delivered,
            self.egress_rejected,
            self.publish_failed,
            if self.drained {
                "drained"
            } else {
                "NOT drained (publishes still in flight at the drain timeout)"
            }
        )
    }
}

/// Run an adapter until `shutdown` is cancelled, then drain and return a summary.
pub async fn run<C>(
    config: AdapterConfig,
    codec: C,
    shutdown: CancellationToken,
) -> Result<RunSummary, AdapterError>
where
    C: NationalCodec + Send + Sync + 'static,
{
    run_with_health(config, codec, shutdown, Health::new()).await
}

/// [`run`] with a caller-provided health state (for embedding and tests).
pub async fn run_with_health<C>(
    config: AdapterConfig,
    codec: C,
    shutdown: CancellationToken,
    health: Arc<Health>,
) -> Result<RunSummary, AdapterError>
where
    C: NationalCodec + Send + Sync + 'static,
{
    let nation = config.adapter.nation;
    if nation != C::NATION {
        return Err(AdapterError::NationMismatch {
            config: nation,
            codec: C::NATION,
        });
    }
    let component: Arc<str> = Arc::from(config.component());
    telemetry::init_logging(config.telemetry.log_format, &config.telemetry.log_filter)?;
    match (telemetry::install_metrics(), config.telemetry.listen) {
        (Ok(prom), Some(addr)) => {
            telemetry::serve(addr, prom, health.clone(), shutdown.clone()).await?;
        }
        (Ok(_), None) => {}
        (Err(e), Some(_)) => return Err(e.into()),
        // Embedded beside another recorder: metrics go to that recorder; nothing to serve.
        (Err(e), None) => tracing::warn!(error = %e, "Prometheus recorder not installed"),
    }
    let mut adapter = Adapter::connect(config, codec, component, shutdown).await?;
    // Egress first, so readiness means both directions are set up.
    adapter.start_egress().await?;
    adapter.start_ingress().await?;
    let heartbeats = adapter.start_heartbeat();
    adapter.start_readiness(&health);
    tracing::info!(%nation, component = %adapter.component, "adapter running");
    Ok(adapter.finish(heartbeats, &health).await)
}

/// One adapter process: what its tasks share, and how it stops.
///
/// Work stops in two stages: the transports, the egress loop and the heartbeat stop on
/// `shutdown`; then [`finish`](Self::finish) waits for the ingress and egress tasks, drains the
/// publisher and lets the final `down` heartbeat out. The national outputs outlive `shutdown`
/// (an MQTT sink must still read the PUBACK of an in-flight publish) until the adapter is
/// dropped (`_sinks_guard`).
struct Adapter<C> {
    config: AdapterConfig,
    codec: Arc<C>,
    component: Arc<str>,
    client: async_nats::Client,
    /// Publishes ingress envelopes to JetStream; drained last.
    publisher: Publisher,
    ack_timeout: Duration,
    /// Cancelled by the caller (signal): stops every task.
    shutdown: CancellationToken,
    /// Handed to the national outputs; cancelled when the adapter is dropped.
    sinks_token: CancellationToken,
    _sinks_guard: tokio_util::sync::DropGuard,
    /// The ingress and egress loops, whose counts make the [`RunSummary`].
    tasks: JoinSet<TaskTotals>,
    /// For the heartbeat's uptime.
    started: Instant,
}

impl<C> Adapter<C>
where
    C: NationalCodec + Send + Sync + 'static,
{
    const NATION: Nation = C::NATION;

    /// Connect to NATS; nothing runs yet.
    async fn connect(
        config: AdapterConfig,
        codec: C,
        component: Arc<str>,
        shutdown: CancellationToken,
    ) -> Result<Self, AdapterError> {
        let nation = Self::NATION;
        let started = Instant::now();
        let client = nats::connect(&config.nats, &component, &shutdown).await?;
        tracing::info!(%nation, component = %component, url = %config.nats.url, "connected to NATS");
        let ack_timeout = Duration::from_millis(config.nats.ack_timeout_ms);
        let js = nats::jetstream(&client, config.nats.js_domain.as_deref(), ack_timeout);
        let publisher = Publisher::new(
            js,
            nation,
            config.nats.max_in_flight,
            config.nats.publish_retries,
        );
        let sinks_token = CancellationToken::new();
        let sinks_guard = sinks_token.clone().drop_guard();
        Ok(Self {
            config,
            codec: Arc::new(codec),
            component,
            client,
            publisher,
            ack_timeout,
            shutdown,
            sinks_token,
            _sinks_guard: sinks_guard,
            tasks: JoinSet::new(),
            started,
        })
    }

    fn core_ctx(&self) -> CoreCtx {
        CoreCtx {
            future_tolerance: chrono::Duration::milliseconds(
                self.config.adapter.future_tolerance_ms,
            ),
        }
    }

    /// Open the journal, the national outputs and the durable consumer, and spawn the egress
    /// loop (nothing when the config has no `[egress]`).
    async fn start_egress(&mut self) -> Result<(), AdapterError> {
        let nation = Self::NATION;
        let Some(eg) = self.config.egress.clone() else {
            return Ok(());
        };
        let recent = match &eg.state_dir {
            Some(dir) => {
                let opened = Journal::open(dir, RecentIds::CAPACITY, eg.state_fsync)?;
                events::journal_opened(
                    nation,
                    opened.journal.path(),
                    opened.ids.len(),
                    opened.records,
                    opened.torn_tail,
                );
                RecentIds::restored(opened.ids, opened.journal)
            }
            None => RecentIds::default(),
        };
        let mut sinks = Vec::with_capacity(eg.outputs.len());
        for o in &eg.outputs {
            let sink =
                Sink::open_with_window(o, nation, eg.max_in_flight, self.sinks_token.clone())
                    .await?;
            sinks.push((Arc::<str>::from(o.label()), sink));
        }
        let ejs = nats::jetstream(&self.client, eg.domain(&self.config.nats), self.ack_timeout);
        let spec = eg.durable_spec(nation);
        let consumer = loop {
            match nats::durable_pull(&ejs, &spec).await {
                Ok(c) => break c,
                Err(e) => {
                    tracing::warn!(error = %e, "egress consumer not available yet; retrying");
                    tokio::select! {
                        () = self.shutdown.cancelled() => return Err(NatsError::ShutDown.into()),
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        };
        let ctx = EgressCtx {
            codec: self.codec.clone(),
            client: self.client.clone(),
            component: self.component.clone(),
            sinks,
            nak_delay: Duration::from_millis(eg.nak_delay_ms),
            core: self.core_ctx(),
            source: Arc::from(spec.filter_subject.as_str()),
            partial: HashMap::new(),
            recent,
        };
        let sd = self.shutdown.clone();
        let (batch, window) = (eg.batch, eg.max_in_flight);
        self.tasks.spawn(async move {
            TaskTotals::Egress(run_egress(consumer, ctx, batch, window, sd).await)
        });
        Ok(())
    }

    /// Open every configured national input, each feeding one bounded channel, and spawn the
    /// ingress loop that reads it.
    async fn start_ingress(&mut self) -> Result<(), AdapterError> {
        let (tx, rx) = mpsc::channel::<Received<C::Frame>>(self.config.adapter.channel_capacity);
        for ing in &self.config.ingress {
            let label: Arc<str> = Arc::from(ing.label());
            let (codec, tx, sd) = (self.codec.clone(), tx.clone(), self.shutdown.clone());
            match ing {
                IngressConfig::Udp(u) => {
                    let sock = transport::bind_udp_in(u)?;
                    tracing::info!(transport = %label, "listening for national datagrams");
                    tokio::spawn(transport::run_udp_in(sock, codec, label, tx, sd));
                }
                IngressConfig::TcpServer { bind } => {
                    let l = tokio::net::TcpListener::bind(bind)
                        .await
                        .map_err(|source| transport::TransportError::Io {
                            op: "bind",
                            addr: bind.to_string(),
                            source,
                        })?;
                    tracing::info!(transport = %label, "listening for national TCP clients");
                    tokio::spawn(transport::run_tcp_server_in(l, codec, label, tx, sd));
                }
                IngressConfig::TcpClient { connect } => {
                    tokio::spawn(transport::run_tcp_client_in(*connect, codec, label, tx, sd));
                }
                IngressConfig::Mqtt(m) => {
                    let mqtt = transport::MqttIn::new(m)?;
                    tokio::spawn(transport::run_mqtt_in(mqtt, codec, label, tx, sd));
                }
            }
        }
        drop(tx);
        let ictx = IngressCtx {
            codec: self.codec.clone(),
            client: self.client.clone(),
            publisher: self.publisher.clone(),
            component: self.component.clone(),
            core: self.core_ctx(),
        };
        self.tasks
            .spawn(async move { TaskTotals::Ingress(run_ingress(rx, ictx).await) });
        Ok(())
    }

    /// Heartbeats every `heartbeat_interval_ms` until shutdown, then a final `down` status
    /// (none when the interval is 0).
    fn start_heartbeat(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.config.adapter.heartbeat_interval_ms == 0 {
            return None;
        }
        let nation = Self::NATION;
        let (client, component, sd) = (
            self.client.clone(),
            self.component.clone(),
            self.shutdown.clone(),
        );
        let started = self.started;
        let period = Duration::from_millis(self.config.adapter.heartbeat_interval_ms);
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            let mut seq = 0_u64;
            let boot = Utc::now().timestamp_millis();
            loop {
                tokio::select! {
                    () = sd.cancelled() => break,
                    _ = tick.tick() => {}
                }
                seq += 1;
                heartbeat(
                    &client,
                    nation,
                    &component,
                    boot,
                    seq,
                    ComponentState::Ok,
                    started,
                )
                .await;
            }
            seq += 1;
            heartbeat(
                &client,
                nation,
                &component,
                boot,
                seq,
                ComponentState::Down,
                started,
            )
            .await;
            let _ = client.flush().await;
        }))
    }

    /// Ready while the NATS connection is up (and both directions are set up: called after
    /// [`start_egress`](Self::start_egress) and [`start_ingress`](Self::start_ingress)).
    fn start_readiness(&self, health: &Arc<Health>) {
        let connected = |c: &async_nats::Client| {
            c.connection_state() == async_nats::connection::State::Connected
        };
        health.set_ready(connected(&self.client));
        let (client, health, sd) = (self.client.clone(), health.clone(), self.shutdown.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tokio::select! {
                    () = sd.cancelled() => break,
                    _ = tick.tick() => {}
                }
                health.set_ready(connected(&client));
            }
            health.set_ready(false);
        });
    }

    /// Wait for the ingress and egress loops (they end on shutdown), drain the publisher, let
    /// the final heartbeat out and flush.
    async fn finish(
        mut self,
        heartbeats: Option<tokio::task::JoinHandle<()>>,
        health: &Health,
    ) -> RunSummary {
        let mut summary = RunSummary::default();
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(TaskTotals::Ingress(t)) => {
                    summary.published = t.published;
                    summary.ingress_rejected = t.rejected;
                }
                Ok(TaskTotals::Egress(t)) => {
                    summary.delivered = t.delivered;
                    summary.egress_rejected = t.rejected;
                }
                Err(e) => tracing::error!(error = %e, "adapter task failed"),
            }
        }
        health.set_ready(false);
        let drain = Duration::from_millis(self.config.adapter.drain_timeout_ms);
        summary.drained = self.publisher.drain(drain).await;
        summary.publish_failed = self.publisher.failed() as u64;
        if !summary.drained {
            tracing::error!(
                in_flight = self.publisher.in_flight(),
                "drain timed out with publishes in flight"
            );
        }
        if let Some(h) = heartbeats {
            // The final `down` status goes out before the connection is dropped.
            let _ = tokio::time::timeout(Duration::from_secs(1), h).await;
        }
        if !nats::close(&self.client, Duration::from_secs(1)).await {
            tracing::warn!("the NATS connection did not close within 1 s of the drain");
        }
        tracing::info!(
            published = summary.published,
            ingress_rejected = summary.ingress_rejected,
            delivered = summary.delivered,
            egress_rejected = summary.egress_rejected,
            publish_failed = summary.publish_failed,
            drained = summary.drained,
            "adapter stopped"
        );
        summary
    }
}

enum TaskTotals {
    Ingress(IngressCounts),
    Egress(EgressCounts),
}

#[derive(Debug, Default)]
struct IngressCounts {
    published: u64,
    rejected: u64,
}

#[derive(Debug, Default)]
struct EgressCounts {
    delivered: u64,
    rejected: u64,
}

struct IngressCtx<C> {
    codec: Arc<C>,
    client: async_nats::Client,
    publisher: Publisher,
    component: Arc<str>,
    core: CoreCtx,
}

impl<C: NationalCodec> IngressCtx<C> {
    async fn reject(
        &self,
        stage: &'static str,
        reason: &'static str,
        detail: &str,
        source: &str,
        raw: Bytes,
        settle: Option<Settle>,
    ) {
        events::rejected(C::NATION, stage, reason, detail);
        let dl = DeadLetter {
            site: C::NATION,
            component: &self.component,
            reason,
            detail,
            source,
            body: raw,
        };
        match nats::dead_letter(&self.client, dl).await {
            Ok(()) => {
                if let Some(s) = settle {
                    let _ = s.send(());
                }
            }
            Err(e) => tracing::error!(error = %e, reason, "dead letter could not be published"),
        }
    }
}

async fn run_ingress<C: NationalCodec>(
    mut rx: mpsc::Receiver<Received<C::Frame>>,
    ctx: IngressCtx<C>,
) -> IngressCounts {
    let mut counts = IngressCounts::default();
    while let Some(r) = rx.recv().await {
        let Received {
            transport,
            received_at,
            raw,
            outcome,
            settle,
        } = r;
        let env = match ingest_frame(&*ctx.codec, outcome, received_at, Utc::now(), &ctx.core) {
            Ok(env) => env,
            Err(r) => {
                ctx.reject(r.stage, r.code, &r.detail, &transport, raw, settle)
                    .await;
                counts.rejected += 1;
                continue;
            }
        };
        events::hop("observed_to_ingested", env.observed_at, env.ingested_at);
        match ctx.publisher.publish_settled(&env, settle).await {
            Ok(()) => counts.published += 1,
            Err(e) => {
                events::publish_failed(
                    C::NATION,
                    &Subject::input_for(&env).to_string(),
                    &e.to_string(),
                );
            }
        }
    }
    counts
}

struct EgressCtx<C> {
    codec: Arc<C>,
    client: async_nats::Client,
    component: Arc<str>,
    sinks: Vec<(Arc<str>, Sink)>,
    nak_delay: Duration,
    core: CoreCtx,
    source: Arc<str>,
    /// Outputs that already accepted a message that is being retried (by stream sequence),
    /// so a retry after a partial failure does not send it to them twice.
    partial: HashMap<u64, u64>,
    /// Message ids delivered recently (bounded), so a redelivery after a lost ack is not sent
    /// to the national system again: while this process lives, and with `egress.state_dir`
    /// also after a restart.
    recent: RecentIds,
}

/// Who delivered a message that is redelivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeliveredBy {
    /// This process.
    ThisProcess,
    /// The process before a restart (the id came from the journal).
    BeforeRestart,
}

/// A bounded set of recently delivered message ids (FIFO eviction), optionally persisted in a
/// [`Journal`].
#[derive(Debug, Default)]
struct RecentIds {
    order: VecDeque<MessageId>,
    /// Each id, and whether it was loaded from the journal at start-up.
    set: HashMap<MessageId, bool>,
    journal: Option<Journal>,
}

impl RecentIds {
    const CAPACITY: usize = 16_384;

    /// Start from the ids of a journal (oldest first) and keep appending to it.
    fn restored(ids: Vec<MessageId>, journal: Journal) -> Self {
        let mut r = Self {
            journal: Some(journal),
            ..Self::default()
        };
        for id in ids {
            r.remember(id, true);
        }
        r
    }

    fn seen(&self, id: &MessageId) -> Option<DeliveredBy> {
        self.set.get(id).map(|&restored| {
            if restored {
                DeliveredBy::BeforeRestart
            } else {
                DeliveredBy::ThisProcess
            }
        })
    }

    fn remember(&mut self, id: MessageId, restored: bool) -> bool {
        if self.set.contains_key(&id) {
            return false;
        }
        self.set.insert(id, restored);
        self.order.push_back(id);
        if self.order.len() > Self::CAPACITY
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }

    /// Remember a delivered id and append it to the journal. A journal that cannot be written
    /// is reported and delivery goes on: a warning is never held back for the journal's sake
    /// (the cost is a possible duplicate after a restart).
    fn insert(&mut self, id: MessageId, site: Nation) {
        if !self.remember(id, false) {
            return;
        }
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        if let Err(e) = j.append(&id) {
            events::journal_error(site, &e);
            return;
        }
        if j.needs_compaction() {
            match j.compact(self.order.iter()) {
                Ok(()) => events::journal_compacted(site, j.path(), j.records()),
                Err(e) => events::journal_error(site, &e),
            }
        }
    }
}

enum EgressOutcome {
    Delivered,
    Rejected,
    /// Some outputs took it, others failed: redeliver later (the partial record keeps the
    /// outputs that have it), and let the messages behind it flow to the working outputs.
    Retry,
    /// No output could take it (the national side is down): retry this message in place, so
    /// nothing behind it overtakes it (per-track causal order, issue 14).
    Stalled,
    Duplicate,
}

/// One message of the egress window: its frames handed to the outputs, confirmations open.
struct InFlight {
    msg: jetstream::Message,
    id: MessageId,
    /// Stream sequence (key of the partial-delivery record).
    seq: Option<u64>,
    ingested_at: DateTime<Utc>,
    relayed_at: Option<DateTime<Utc>>,
    /// The encoded national frames, kept for a resend.
    frames: Vec<Bytes>,
    /// Outputs that have the whole message (one bit per output).
    done: u64,
    /// Outputs sent to in the current attempt.
    attempt: u64,
    /// Outputs that failed in the current attempt.
    failed: u64,
    /// Confirmations still open, in sending order: (output index, confirmation).
    pending: VecDeque<(usize, Pending)>,
}

/// What the egress does with a message taken from the consumer.
enum Admit {
    /// Send it.
    Send(Box<InFlight>),
    /// Settled without sending (dead-lettered, or delivered before): acknowledge now.
    Settled(Box<jetstream::Message>, EgressOutcome),
}

/// The shutdown came while the egress window was being recovered; every message not
/// delivered was handed back (NAK).
struct ShutDown;

fn output_bit(i: usize) -> u64 {
    1_u64 << (i % 64)
}

impl<C: NationalCodec> EgressCtx<C> {
    async fn dead_letter(&self, reason: &'static str, detail: &str, subject: &str, body: Bytes) {
        events::rejected(C::NATION, "egress", reason, detail);
        let dl = DeadLetter {
            site: C::NATION,
            component: &self.component,
            reason,
            detail,
            source: subject,
            body,
        };
        if let Err(e) = nats::dead_letter(&self.client, dl).await {
            tracing::error!(error = %e, reason, "dead letter could not be published");
        }
    }

    /// Decode, check and encode one message of the consumer.
    async fn prepare(&mut self, msg: jetstream::Message, buf: &mut BytesMut) -> Admit {
        let body = msg.payload.clone();
        let (env, frames) = match prepare_egress(&*self.codec, &body, Utc::now(), &self.core, buf) {
            Ok(p) => (p.envelope, p.frames),
            Err(r) => {
                self.dead_letter(r.code, &r.detail, msg.subject.as_str(), body)
                    .await;
                return Admit::Settled(Box::new(msg), EgressOutcome::Rejected);
            }
        };
        if self.delivered_before(&env.message_id, msg.subject.as_str()) {
            return Admit::Settled(Box::new(msg), EgressOutcome::Duplicate);
        }
        let seq = msg.info().map(|i| i.stream_sequence).ok();
        let done = seq.and_then(|s| self.partial.get(&s).copied()).unwrap_or(0);
        Admit::Send(Box::new(InFlight {
            msg,
            id: env.message_id,
            seq,
            ingested_at: env.ingested_at,
            relayed_at: env.relayed_at,
            frames,
            done,
            attempt: 0,
            failed: 0,
            pending: VecDeque::new(),
        }))
    }

    /// Whether `id` was delivered already (a redelivery after a lost ack); counts it.
    fn delivered_before(&self, id: &MessageId, subject: &str) -> bool {
        match self.recent.seen(id) {
            Some(seen) => {
                events::egress_duplicate(C::NATION, subject, seen == DeliveredBy::BeforeRestart);
                true
            }
            None => false,
        }
    }

    /// Hand every frame of `e` (a common event may be several, or none), in order, to every
    /// output that does not have it yet. False when an output refused at once (UDP/TCP send
    /// error, MQTT output broken): nothing more may be started behind it.
    async fn attempt(&self, e: &mut InFlight) -> bool {
        e.attempt = 0;
        e.failed = 0;
        for (i, (label, sink)) in self.sinks.iter().enumerate() {
            let bit = output_bit(i);
            if e.done & bit != 0 {
                continue;
            }
            e.attempt |= bit;
            // A sink that fails part-way gets all the frames again on the retry.
            for frame in &e.frames {
                match sink.start(frame).await {
                    Ok(p) => e.pending.push_back((i, p)),
                    Err(err) => {
                        events::national_send_failed(C::NATION, label, &err.to_string());
                        e.failed |= bit;
                        break;
                    }
                }
            }
        }
        e.failed == 0
    }

    /// Wait for every open confirmation of `e`, then record which outputs have it.
    /// Cancel-safe: a confirmation is removed only once its result is recorded.
    async fn confirm(&self, e: &mut InFlight) {
        while let Some((i, p)) = e.pending.front_mut() {
            let i = *i;
            let r = p.confirm().await;
            e.pending.pop_front();
            if let Err(err) = r {
                let bit = output_bit(i);
                if e.failed & bit == 0
                    && let Some((label, _)) = self.sinks.get(i)
                {
                    events::national_send_failed(C::NATION, label, &err.to_string());
                }
                e.failed |= bit;
            }
        }
        let ok = e.attempt & !e.failed;
        for (i, (label, _)) in self.sinks.iter().enumerate() {
            if ok & output_bit(i) != 0 {
                events::delivered(C::NATION, label);
            }
        }
        e.done |= ok;
        e.attempt = 0;
    }

    /// Let every output take frames again after a failure.
    fn resume_sinks(&self) {
        for (_, sink) in &self.sinks {
            sink.resume();
        }
    }

    /// The outcome of a message whose confirmations are all in; a delivered message is
    /// journaled here, before the caller acknowledges it.
    fn settle(&mut self, e: &InFlight) -> EgressOutcome {
        if e.failed != 0 {
            if e.done == 0 {
                return EgressOutcome::Stalled;
            }
            if let Some(s) = e.seq {
                self.partial.insert(s, e.done);
            }
            return EgressOutcome::Retry;
        }
        if let Some(s) = e.seq {
            self.partial.remove(&s);
        }
        // Journal before the ack (see crate::journal): a crash after this line redelivers a
        // message the next process knows it delivered. A disk flush per message
        // (`state_fsync`) must not stall the other tasks of a worker thread.
        let flushes = self.recent.journal.as_ref().is_some_and(Journal::fsyncs);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if flushes && multi_thread {
            tokio::task::block_in_place(|| self.recent.insert(e.id, C::NATION));
        } else {
            self.recent.insert(e.id, C::NATION);
        }
        let now = Utc::now();
        if let Some(relayed) = e.relayed_at {
            events::hop("ingested_to_relayed", e.ingested_at, relayed);
            events::hop("relayed_to_delivered", relayed, now);
        }
        events::hop("ingested_to_delivered", e.ingested_at, now);
        EgressOutcome::Delivered
    }

    /// Acknowledge `msg` as `outcome` says, and count it.
    async fn ack(
        &self,
        msg: &jetstream::Message,
        outcome: &EgressOutcome,
        counts: &mut EgressCounts,
    ) {
        let ack = match outcome {
            EgressOutcome::Stalled => AckKind::Nak(None),
            EgressOutcome::Delivered => {
                counts.delivered += 1;
                AckKind::Ack
            }
            EgressOutcome::Rejected => {
                counts.rejected += 1;
                AckKind::Term
            }
            EgressOutcome::Retry => AckKind::Nak(Some(self.nak_delay)),
            EgressOutcome::Duplicate => AckKind::Ack,
        };
        if let Err(e) = msg.ack_with(ack).await {
            tracing::warn!(error = %e, "egress ack failed (message will be redelivered)");
        }
    }

    /// The front of the window found no output: every message of `window` (front first, its
    /// confirmations all in) is now delivered one at a time, in order. The front is retried
    /// in place with backoff (telling the server the messages are in progress, so they are
    /// not redelivered meanwhile); a message behind it that failed too is sent again at once
    /// after it; nothing new is taken meanwhile. Shutdown hands back (NAK) what is left.
    async fn recover(
        &mut self,
        mut window: VecDeque<Box<InFlight>>,
        shutdown: &CancellationToken,
        counts: &mut EgressCounts,
    ) -> Result<(), ShutDown> {
        let mut first = true;
        while let Some(mut e) = window.pop_front() {
            if !first && e.failed != 0 {
                self.resume_sinks();
                self.attempt(&mut e).await;
                self.confirm(&mut e).await;
            }
            first = false;
            let mut outcome = self.settle(&e);
            let mut retry = transport::Backoff::new(
                self.nak_delay.max(Duration::from_millis(50)),
                Duration::from_secs(5),
            );
            while matches!(outcome, EgressOutcome::Stalled) {
                for m in std::iter::once(&e.msg).chain(window.iter().map(|w| &w.msg)) {
                    if let Err(err) = m.ack_with(AckKind::Progress).await {
                        tracing::warn!(error = %err, "egress in-progress ack failed");
                    }
                }
                tokio::select! {
                    () = shutdown.cancelled() => {
                        for m in std::iter::once(&e.msg).chain(window.iter().map(|w| &w.msg)) {
                            if let Err(err) = m.ack_with(AckKind::Nak(None)).await {
                                tracing::warn!(error = %err, "egress nak at shutdown failed (message will be redelivered)");
                            }
                        }
                        return Err(ShutDown);
                    }
                    () = tokio::time::sleep(retry.next_delay()) => {}
                }
                self.resume_sinks();
                self.attempt(&mut e).await;
                self.confirm(&mut e).await;
                outcome = self.settle(&e);
            }
            self.ack(&e.msg, &outcome, counts).await;
        }
        Ok(())
    }
}

/// What the egress loop woke up for.
enum Step {
    /// The front of the window has all its confirmations.
    Front,
    /// The consumer's next message (or its end or error).
    Next(Option<Result<Box<jetstream::Message>, jetstream::consumer::pull::MessagesError>>),
}

/// The egress loop: up to `window` messages in flight to the national outputs (MQTT publishes
/// awaiting PUBACK), settled strictly in order — journaled and acknowledged once every output
/// confirmed. A message that failed stops the intake until the window is settled; see
/// [`EgressCtx::recover`] for a message no output took.
async fn run_egress<C: NationalCodec>(
    consumer: jetstream::consumer::PullConsumer,
    mut ctx: EgressCtx<C>,
    batch: usize,
    window: usize,
    shutdown: CancellationToken,
) -> EgressCounts {
    let window = window.max(1);
    let mut counts = EgressCounts::default();
    let mut buf = BytesMut::with_capacity(C::MAX_FRAME_LEN.min(64 * 1024));
    let mut backoff = transport::Backoff::default();
    let mut line: VecDeque<Box<InFlight>> = VecDeque::with_capacity(window);
    // A message whose id is in the window already waits until the window is empty.
    let mut held: Option<Box<InFlight>> = None;
    // A send failed: take nothing new until the window is settled, then resume the outputs.
    let mut blocked = false;
    'outer: loop {
        let mut messages = match nats::egress_pull(&consumer, batch).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, source = %ctx.source, "egress pull failed; retrying");
                tokio::select! {
                    () = shutdown.cancelled() => break 'outer,
                    () = tokio::time::sleep(backoff.next_delay()) => continue 'outer,
                }
            }
        };
        backoff.reset();
        loop {
            if line.is_empty() {
                if blocked {
                    ctx.resume_sinks();
                    blocked = false;
                }
                if let Some(mut e) = held.take() {
                    if ctx.delivered_before(&e.id, e.msg.subject.as_str()) {
                        ctx.ack(&e.msg, &EgressOutcome::Duplicate, &mut counts)
                            .await;
                    } else {
                        blocked = !ctx.attempt(&mut e).await;
                        line.push_back(e);
                    }
                    continue;
                }
            }
            let admit = line.len() < window && held.is_none() && !blocked;
            let step = tokio::select! {
                biased;
                () = shutdown.cancelled() => break 'outer,
                () = async {
                    if let Some(e) = line.front_mut() {
                        ctx.confirm(e).await;
                    }
                }, if !line.is_empty() => Step::Front,
                n = messages.next(), if admit => Step::Next(n.map(|r| r.map(Box::new))),
            };
            match step {
                Step::Front => {
                    let Some(e) = line.pop_front() else { continue };
                    let outcome = ctx.settle(&e);
                    match outcome {
                        EgressOutcome::Stalled => {
                            // Whatever is behind it was sent before the failure was known:
                            // let its confirmations come in, then deliver in order.
                            for w in &mut line {
                                ctx.confirm(w).await;
                            }
                            let mut rest = std::mem::take(&mut line);
                            rest.push_front(e);
                            if ctx.recover(rest, &shutdown, &mut counts).await.is_err() {
                                break 'outer;
                            }
                            blocked = true;
                        }
                        EgressOutcome::Retry => {
                            blocked = true;
                            ctx.ack(&e.msg, &outcome, &mut counts).await;
                        }
                        _ => ctx.ack(&e.msg, &outcome, &mut counts).await,
                    }
                }
                Step::Next(n) => {
                    let msg = match n {
                        Some(Ok(m)) => m,
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "egress consumer error");
                            // Heartbeat misses and similar are recoverable: re-create the stream.
                            continue 'outer;
                        }
                        None => continue 'outer,
                    };
                    match ctx.prepare(*msg, &mut buf).await {
                        Admit::Settled(msg, outcome) => ctx.ack(&msg, &outcome, &mut counts).await,
                        Admit::Send(mut e) => {
                            if line.iter().any(|w| w.id == e.id) {
                                held = Some(e);
                            } else {
                                blocked = !ctx.attempt(&mut e).await;
                                line.push_back(e);
                            }
                        }
                    }
                }
            }
        }
    }
    // Shutdown: the outputs outlive it; settle what is in flight, hand back what failed.
    while let Some(mut e) = line.pop_front() {
        ctx.confirm(&mut e).await;
        let outcome = ctx.settle(&e);
        ctx.ack(&e.msg, &outcome, &mut counts).await;
    }
    if let Some(e) = held {
        ctx.ack(&e.msg, &EgressOutcome::Stalled, &mut counts).await;
    }
    counts
}

/// One heartbeat of this adapter, in the runtime's one heartbeat format.
async fn heartbeat(
    client: &async_nats::Client,
    site: Nation,
    component: &str,
    boot: i64,
    seq: u64,
    state: ComponentState,
    started: Instant,
) {
    crate::status::publish(
        client,
        &crate::status::Heartbeat {
            site,
            component,
            boot,
            seq,
            state,
            uptime: started.elapsed(),
            detail: String::new(),
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: usize) -> MessageId {
        MessageId::derive(Nation::Kr, "recent-ids-test", &i.to_string())
    }

    #[test]
    fn restored_ids_count_as_delivered_before_the_restart() {
        let d = tempfile::tempdir().unwrap();
        let o = Journal::open(d.path(), RecentIds::CAPACITY, false).unwrap();
        let mut r = RecentIds::restored(o.ids, o.journal);
        r.insert(id(1), Nation::Kr);
        r.insert(id(2), Nation::Kr);
        r.insert(id(1), Nation::Kr); // already known: not appended twice
        drop(r);

        let o = Journal::open(d.path(), RecentIds::CAPACITY, false).unwrap();
        assert_eq!(o.records, 2);
        let mut r = RecentIds::restored(o.ids, o.journal);
        assert_eq!(r.seen(&id(1)), Some(DeliveredBy::BeforeRestart));
        assert_eq!(r.seen(&id(2)), Some(DeliveredBy::BeforeRestart));
        assert_eq!(r.seen(&id(3)), None);
        r.insert(id(3), Nation::Kr);
        assert_eq!(r.seen(&id(3)), Some(DeliveredBy::ThisProcess));

        // Without a journal nothing survives.
        let mut mem = RecentIds::default();
        mem.insert(id(1), Nation::Kr);
        assert_eq!(mem.seen(&id(1)), Some(DeliveredBy::ThisProcess));
    }

    #[test]
    fn journal_is_compacted_to_the_ids_in_memory() {
        let d = tempfile::tempdir().unwrap();
        let o = Journal::open(d.path(), RecentIds::CAPACITY, false).unwrap();
        let mut r = RecentIds::restored(o.ids, o.journal);
        let n = 2 * RecentIds::CAPACITY + 100;
        for i in 0..n {
            r.insert(id(i), Nation::Kr);
        }
        let records = r.journal.as_ref().unwrap().records();
        assert!(records < 2 * RecentIds::CAPACITY, "{records}");
        assert_eq!(r.order.len(), RecentIds::CAPACITY);
        drop(r);
        let o = Journal::open(d.path(), RecentIds::CAPACITY, false).unwrap();
        let want: Vec<MessageId> = (n - RecentIds::CAPACITY..n).map(id).collect();
        assert_eq!(o.ids, want);
        let r = RecentIds::restored(o.ids, o.journal);
        assert_eq!(r.seen(&id(n - 1)), Some(DeliveredBy::BeforeRestart));
        assert_eq!(r.seen(&id(n - RecentIds::CAPACITY - 1)), None);
    }
}
