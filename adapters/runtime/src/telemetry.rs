//! Logging, metrics and the health endpoint.
//!
//! - [`init_logging`]: `tracing` subscriber, human text or JSON lines, `RUST_LOG`-style filter.
//! - [`install_metrics`]: installs the process-wide Prometheus recorder once and returns its
//!   handle (later calls return the same handle).
//! - [`serve`]: an axum HTTP/1.1 server answering `GET /metrics` (Prometheus text),
//!   `GET /healthz` (200 while the process runs) and `GET /readyz` (200 once
//!   [`Health::set_ready`] was called with `true` and no transport is stuck, 503 otherwise);
//!   404 for any other path, 405 for another method (`HEAD` is answered like `GET`). Requests
//!   are parsed by hyper: a malformed request line gets 400, an oversized head 431, a client
//!   that does not finish its request head within [`HEADER_READ_TIMEOUT`] is disconnected.
//! - [`events`]: the one place where things that happen are both counted and logged.
//!
//! ## Metric names
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `trilink_received_total` | counter | `site`, `transport` |
//! | `trilink_rejected_total` | counter | `site`, `stage` (`decode`, `translate`, `validate`, `origin`, `egress`), `reason` |
//! | `trilink_published_total` | counter | `site`, `kind` |
//! | `trilink_deduplicated_total` | counter | `site` |
//! | `trilink_publish_failed_total` | counter | `site` |
//! | `trilink_dead_lettered_total` | counter | `site`, `reason` |
//! | `trilink_delivered_total` | counter | `site`, `transport` |
//! | `trilink_egress_duplicates_total` | counter | `site` |
//! | `trilink_egress_journal_duplicates_total` | counter | `site` |
//! | `trilink_egress_journal_errors_total` | counter | `site` |
//! | `trilink_national_send_failed_total` | counter | `site`, `transport` |
//! | `trilink_reconnects_total` | counter | `site`, `transport` |
//! | `trilink_heartbeats_total` | counter | `site`, `component` |
//! | `trilink_in_flight` | gauge | `site` |
//! | `trilink_hop_latency_seconds` | histogram | `hop` (`observed_to_ingested`, `ingested_to_published`, `ingested_to_relayed`, `relayed_to_delivered`, `ingested_to_delivered`) |

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::config::Invalid;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The `[telemetry]` section of every process's config.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Address of the metrics/health listener (`127.0.0.1:9464`); none = no listener.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// Log format.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Filter directives (`info`, `trilink_runtime=debug,info`); `RUST_LOG` wins when set.
    #[serde(default = "default_filter")]
    pub log_filter: String,
}

fn default_filter() -> String {
    String::from("info")
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            listen: None,
            log_format: LogFormat::Text,
            log_filter: default_filter(),
        }
    }
}

impl TelemetryConfig {
    /// Check the filter directives parse.
    pub fn validate(&self, prefix: &str) -> Result<(), Invalid> {
        EnvFilter::try_new(&self.log_filter)
            .map(|_| ())
            .map_err(|e| Invalid::new(format!("{prefix}.log_filter"), e.to_string()))
    }
}

/// Errors from telemetry setup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TelemetryError {
    /// The log filter does not parse.
    #[error("bad log filter {filter:?}: {message}")]
    Filter {
        /// The filter.
        filter: String,
        /// The parser's message.
        message: String,
    },
    /// The metrics recorder could not be installed (another recorder is global).
    #[error("cannot install the Prometheus recorder: {0}")]
    Recorder(String),
    /// The HTTP listener could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Install the global `tracing` subscriber. `RUST_LOG` overrides `filter` when set. Calling it
/// again (e.g. several adapters in one test process) is harmless: the first one stays.
pub fn init_logging(format: LogFormat, filter: &str) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => v,
        _ => filter.to_owned(),
    };
    let env_filter = EnvFilter::try_new(&filter).map_err(|e| TelemetryError::Filter {
        filter: filter.clone(),
        message: e.to_string(),
    })?;
    // Colours only for a person at a terminal: a file, the journal or a pipe gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    // An already-installed subscriber is not an error worth failing a process for.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Ok(())
}

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Set once [`install_metrics`] has installed the global recorder (it never changes after).
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Metric handles (`metrics::Counter`, `Gauge`, `Histogram`) of one metric, built once per label
/// set and reused, so that a per-message event does not look its metric up in the registry
/// (hash the key, allocate its labels) every time.
///
/// A handle taken before the global recorder is installed would stay a no-op forever, so the
/// cache is used only after [`install_metrics`] installed it; before that every call builds a
/// fresh handle (through the macro, as without the cache). After the install, a
/// `metrics::with_local_recorder` scope does not see the cached metrics (nothing does that).
#[derive(Debug)]
pub struct MetricCache<K, H> {
    slots: Mutex<Vec<(K, H)>>,
}

impl<K, H> Default for MetricCache<K, H> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, H> MetricCache<K, H> {
    /// An empty cache.
    pub const fn new() -> Self {
        Self {
            slots: Mutex::new(Vec::new()),
        }
    }

    /// Apply `f` to the handle for the label set `is` matches: the cached one, or one made by
    /// `make` (and cached under `key()` once the recorder is installed). Label sets are few
    /// (nations × kinds, transports), so a linear scan.
    pub fn with(
        &self,
        is: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        make: impl FnOnce() -> H,
        f: impl FnOnce(&H),
    ) {
        if !INSTALLED.load(std::sync::atomic::Ordering::Acquire) {
            return f(&make());
        }
        // A poisoned lock only means a panic elsewhere mid-push; the list is still whole.
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, h)) = slots.iter().find(|(k, _)| is(k)) {
            return f(h);
        }
        let h = make();
        f(&h);
        slots.push((key(), h));
    }
}

/// Histogram buckets for hop latencies, seconds (50 µs … 10 s).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// Install the process-wide Prometheus recorder (once) and return its handle. A periodic
/// upkeep task is spawned on the current tokio runtime the first time, if there is one.
pub fn install_metrics() -> Result<PrometheusHandle, TelemetryError> {
    // Serialized: concurrent first callers (several adapters in one process) must all get
    // the one installed handle, never a spurious "already installed" error.
    let mut slot = HANDLE
        .lock()
        .map_err(|_| TelemetryError::Recorder("metrics handle lock poisoned".into()))?;
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let builder = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .map_err(|e| TelemetryError::Recorder(e.to_string()))?;
    let recorder = builder.build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| {
        TelemetryError::Recorder("another metrics recorder is installed in this process".into())
    })?;
    *slot = Some(handle.clone());
    drop(slot);
    INSTALLED.store(true, std::sync::atomic::Ordering::Release);
    events::describe();
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let h = handle.clone();
        rt.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                h.run_upkeep();
            }
        });
    }
    Ok(handle)
}

/// Whether transports make progress, so that one that keeps failing (a reconnect loop with
/// nothing delivered in between) turns `/readyz` red and raises
/// `trilink_transport_stuck{transport}` for an alert. Pure: time is passed in.
///
/// A transport is **stuck** after [`TransportWatch::STUCK_AFTER_FAILURES`] failures in a row with
/// neither a message received nor a connection that stayed up for
/// [`TransportWatch::STABLE_AFTER`] between them. A national system that is simply quiet is not
/// stuck; a broker that is down, or one that keeps handing the client something it cannot take,
/// is.
#[derive(Debug, Default)]
pub struct TransportWatch {
    states: std::collections::BTreeMap<String, WatchState>,
}

#[derive(Debug, Default, Clone, Copy)]
struct WatchState {
    failures: u32,
    connected_at: Option<std::time::Instant>,
}

impl TransportWatch {
    /// Consecutive failures without progress that make a transport stuck.
    pub const STUCK_AFTER_FAILURES: u32 = 3;
    /// A connection up this long counts as progress.
    pub const STABLE_AFTER: Duration = Duration::from_secs(10);

    /// The transport connected at `now`.
    pub fn connected(&mut self, transport: &str, now: std::time::Instant) {
        self.states
            .entry(transport.to_owned())
            .or_default()
            .connected_at = Some(now);
    }

    /// The transport delivered a message: progress.
    pub fn progress(&mut self, transport: &str) {
        if let Some(s) = self.states.get_mut(transport) {
            s.failures = 0;
        }
    }

    /// The transport failed (and will reconnect) at `now`.
    pub fn failed(&mut self, transport: &str, now: std::time::Instant) {
        let s = self.states.entry(transport.to_owned()).or_default();
        if s.connected_at
            .is_some_and(|t| now.saturating_duration_since(t) >= Self::STABLE_AFTER)
        {
            s.failures = 0;
        }
        s.connected_at = None;
        s.failures = s.failures.saturating_add(1);
    }

    /// Whether `transport` is stuck at `now`.
    pub fn is_stuck(&self, transport: &str, now: std::time::Instant) -> bool {
        self.states.get(transport).is_some_and(|s| {
            s.failures >= Self::STUCK_AFTER_FAILURES
                && s.connected_at
                    .is_none_or(|t| now.saturating_duration_since(t) < Self::STABLE_AFTER)
        })
    }

    /// Every stuck transport at `now`.
    pub fn stuck(&self, now: std::time::Instant) -> Vec<String> {
        self.states
            .keys()
            .filter(|t| self.is_stuck(t, now))
            .cloned()
            .collect()
    }
}

/// The process-wide [`TransportWatch`] the transport events feed.
pub fn transport_watch() -> std::sync::MutexGuard<'static, TransportWatch> {
    static WATCH: std::sync::OnceLock<Mutex<TransportWatch>> = std::sync::OnceLock::new();
    WATCH
        .get_or_init(|| Mutex::new(TransportWatch::default()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Liveness and readiness shared between a process and its health endpoint.
#[derive(Debug, Default)]
pub struct Health {
    ready: AtomicBool,
}

impl Health {
    /// A new, not-yet-ready health state.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Mark the process ready (connected, consumers created) or not.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }
    /// Whether the process is ready: marked ready, and no transport stuck
    /// ([`TransportWatch`]).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire) && self.not_ready_because().is_none()
    }
    /// Why the process is not ready, when it was marked ready but a transport is stuck.
    pub fn not_ready_because(&self) -> Option<String> {
        let stuck = transport_watch().stuck(std::time::Instant::now());
        (!stuck.is_empty()).then(|| {
            format!(
                "transport stuck (failing without progress): {}",
                stuck.join(", ")
            )
        })
    }
}

/// Content type of the Prometheus text exposition format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

/// The `/metrics`, `/healthz` and `/readyz` routes; any other path is 404, another method on
/// these paths 405 (`HEAD` is answered like `GET`, without the body).
fn router(handle: PrometheusHandle, health: Arc<Health>) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || async move { ([(CONTENT_TYPE, PROMETHEUS_TEXT)], handle.render()) }),
        )
        .route("/healthz", get(|| async { text(StatusCode::OK, "ok\n") }))
        .route(
            "/readyz",
            get(move || async move {
                if health.is_ready() {
                    text(StatusCode::OK, "ready\n")
                } else {
                    let body = health.not_ready_because().map_or_else(
                        || String::from("not ready\n"),
                        |why| format!("not ready: {why}\n"),
                    );
                    text(StatusCode::SERVICE_UNAVAILABLE, body)
                }
            }),
        )
        .fallback(|| async { text(StatusCode::NOT_FOUND, "not found\n") })
        .method_not_allowed_fallback(|| async {
            text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n")
        })
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(CONTENT_TYPE, "text/plain")], body.into()).into_response()
}

/// How long a client may take to send its request head; then its connection is closed (a
/// stalled or slow-loris client does not hold a connection forever).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// How long in-flight responses may take to finish once `shutdown` is cancelled.
const DRAIN: Duration = Duration::from_secs(5);

/// Bind `addr` and serve `/metrics`, `/healthz` and `/readyz` until `shutdown` is cancelled:
/// the axum router over hyper's HTTP/1.1 connections (with [`HEADER_READ_TIMEOUT`], which
/// `axum::serve` cannot set). Returns the bound address (useful with port 0).
pub async fn serve(
    addr: SocketAddr,
    handle: PrometheusHandle,
    health: Arc<Health>,
    shutdown: CancellationToken,
) -> Result<SocketAddr, TelemetryError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| TelemetryError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| TelemetryError::Bind { addr, source })?;
    tracing::info!(%local, "metrics and health endpoint listening");
    let service = TowerToHyperService::new(router(handle, health));
    tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            let stream = tokio::select! {
                () = shutdown.cancelled() => break,
                acc = listener.accept() => match acc {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %e, "health endpoint accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service.clone());
            let conn = graceful.watch(conn);
            tokio::spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "health endpoint connection failed");
                }
            });
        }
        drop(listener);
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::debug!("health endpoint: connections still open after the drain time");
        }
    });
    Ok(local)
}

/// Everything that can happen to a message, counted and logged in one place.
pub mod events {
    use chrono::{DateTime, Utc};
    use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};
    use trilink_schema::Nation;

    use super::MetricCache;

    /// Register descriptions (called once when the recorder is installed).
    pub fn describe() {
        metrics::describe_counter!(
            "trilink_udp_kernel_drops_total",
            "UDP datagrams the kernel dropped on an ingress socket (receive buffer full)"
        );
        metrics::describe_gauge!(
            "trilink_transport_stuck",
            "1 while a transport keeps failing without progress (reconnect loop); /readyz is red"
        );
        metrics::describe_counter!(
            "trilink_received_total",
            "national messages (datagrams, frames, MQTT publishes) received"
        );
        metrics::describe_counter!(
            "trilink_rejected_total",
            "inputs rejected, by stage and reason"
        );
        metrics::describe_counter!(
            "trilink_published_total",
            "envelopes stored by JetStream (acknowledged)"
        );
        metrics::describe_counter!(
            "trilink_deduplicated_total",
            "publishes JetStream reported as duplicates"
        );
        metrics::describe_counter!(
            "trilink_publish_failed_total",
            "publishes that failed after retries"
        );
        metrics::describe_counter!(
            "trilink_dead_lettered_total",
            "messages published to tl.dlq"
        );
        metrics::describe_counter!(
            "trilink_delivered_total",
            "national frames delivered to the national system"
        );
        metrics::describe_counter!(
            "trilink_egress_duplicates_total",
            "egress redeliveries of already delivered messages, not sent again"
        );
        metrics::describe_counter!(
            "trilink_egress_journal_duplicates_total",
            "egress redeliveries not sent again because the journal shows the process before a restart delivered them"
        );
        metrics::describe_counter!(
            "trilink_egress_journal_errors_total",
            "failed writes or compactions of the egress journal (delivery goes on)"
        );
        metrics::describe_counter!(
            "trilink_national_send_failed_total",
            "failed sends to the national system"
        );
        metrics::describe_counter!("trilink_reconnects_total", "reconnections of a transport");
        metrics::describe_counter!("trilink_heartbeats_total", "status heartbeats published");
        metrics::describe_gauge!("trilink_in_flight", "publishes awaiting a JetStream ack");
        metrics::describe_histogram!(
            "trilink_hop_latency_seconds",
            metrics::Unit::Seconds,
            "latency per hop from the envelope's timestamps"
        );
    }

    /// A national message arrived on a transport.
    pub fn received(site: Nation, transport: &str, bytes: usize) {
        static RECEIVED: MetricCache<(Nation, String), Counter> = MetricCache::new();
        static STUCK: MetricCache<(Nation, String), Gauge> = MetricCache::new();
        RECEIVED.with(
            |(s, t)| *s == site && t == transport,
            || (site, transport.to_owned()),
            || counter!("trilink_received_total", "site" => site.as_str(), "transport" => transport.to_owned()),
            |c| c.increment(1),
        );
        let mut w = super::transport_watch();
        w.progress(transport);
        let stuck = f64::from(u8::from(w.is_stuck(transport, std::time::Instant::now())));
        STUCK.with(
            |(s, t)| *s == site && t == transport,
            || (site, transport.to_owned()),
            || gauge!("trilink_transport_stuck", "site" => site.as_str(), "transport" => transport.to_owned()),
            |g| g.set(stuck),
        );
        drop(w);
        tracing::trace!(%site, transport, bytes, "received");
    }

    /// An input was rejected at `stage` with `reason` (a stable code).
    pub fn rejected(site: Nation, stage: &'static str, reason: &'static str, detail: &str) {
        counter!("trilink_rejected_total", "site" => site.as_str(), "stage" => stage, "reason" => reason)
            .increment(1);
        tracing::warn!(%site, stage, reason, detail, "rejected");
    }

    /// An envelope was stored by JetStream.
    pub fn published(
        site: Nation,
        kind: &'static str,
        duplicate: bool,
        ingested_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        if duplicate {
            counter!("trilink_deduplicated_total", "site" => site.as_str()).increment(1);
            tracing::debug!(%site, kind, "duplicate publish removed by JetStream");
        } else {
            static PUBLISHED: MetricCache<(Nation, &'static str), Counter> = MetricCache::new();
            PUBLISHED.with(
                |k| *k == (site, kind),
                || (site, kind),
                || counter!("trilink_published_total", "site" => site.as_str(), "kind" => kind),
                |c| c.increment(1),
            );
            tracing::trace!(%site, kind, "published");
        }
        hop("ingested_to_published", ingested_at, now);
    }

    /// An egress message was already delivered (a redelivery after a lost ack), by this
    /// process or, when `before_restart`, by the process before a restart (known from the
    /// journal): acknowledged without sending it to the national system again.
    pub fn egress_duplicate(site: Nation, subject: &str, before_restart: bool) {
        counter!("trilink_egress_duplicates_total", "site" => site.as_str()).increment(1);
        if before_restart {
            counter!("trilink_egress_journal_duplicates_total", "site" => site.as_str())
                .increment(1);
        }
        tracing::debug!(%site, subject, before_restart, "egress duplicate suppressed");
    }

    /// The egress journal was opened at start-up.
    pub fn journal_opened(
        site: Nation,
        path: &std::path::Path,
        restored: usize,
        records: usize,
        torn_tail: usize,
    ) {
        if torn_tail > 0 {
            tracing::warn!(%site, path = %path.display(), torn_tail, "egress journal: cut a torn last record (a crash during an append)");
        }
        tracing::info!(%site, path = %path.display(), restored, records, "egress journal opened");
    }

    /// The egress journal was compacted.
    pub fn journal_compacted(site: Nation, path: &std::path::Path, kept: usize) {
        tracing::debug!(%site, path = %path.display(), kept, "egress journal compacted");
    }

    /// The egress journal could not be written or compacted; delivery goes on.
    pub fn journal_error(site: Nation, error: &crate::journal::JournalError) {
        counter!("trilink_egress_journal_errors_total", "site" => site.as_str()).increment(1);
        tracing::error!(%site, %error, "egress journal error (delivery continues; a restart may deliver recent messages again)");
    }

    /// A publish failed for good.
    pub fn publish_failed(site: Nation, subject: &str, error: &str) {
        counter!("trilink_publish_failed_total", "site" => site.as_str()).increment(1);
        tracing::error!(%site, subject, error, "publish failed");
    }

    /// A message was dead-lettered.
    pub fn dead_lettered(site: Nation, reason: &'static str) {
        counter!("trilink_dead_lettered_total", "site" => site.as_str(), "reason" => reason)
            .increment(1);
        tracing::debug!(%site, reason, "dead-lettered");
    }

    /// A national frame was delivered to the national system.
    pub fn delivered(site: Nation, transport: &str) {
        static DELIVERED: MetricCache<(Nation, String), Counter> = MetricCache::new();
        DELIVERED.with(
            |(s, t)| *s == site && t == transport,
            || (site, transport.to_owned()),
            || counter!("trilink_delivered_total", "site" => site.as_str(), "transport" => transport.to_owned()),
            |c| c.increment(1),
        );
        tracing::trace!(%site, transport, "delivered");
        super::transport_watch().progress(transport);
    }

    /// A send to the national system failed.
    pub fn national_send_failed(site: Nation, transport: &str, error: &str) {
        counter!("trilink_national_send_failed_total", "site" => site.as_str(), "transport" => transport.to_owned())
            .increment(1);
        tracing::warn!(%site, transport, error, "national send failed");
    }

    /// A transport failed and will reconnect.
    pub fn reconnect(site: Nation, transport: &str, error: &str) {
        counter!("trilink_reconnects_total", "site" => site.as_str(), "transport" => transport.to_owned())
            .increment(1);
        let now = std::time::Instant::now();
        let mut w = super::transport_watch();
        w.failed(transport, now);
        let stuck = w.is_stuck(transport, now);
        drop(w);
        gauge!("trilink_transport_stuck", "site" => site.as_str(), "transport" => transport.to_owned())
            .set(f64::from(u8::from(stuck)));
        if stuck {
            tracing::error!(%site, transport, error, "transport stuck: failing without progress; /readyz is red");
        } else {
            tracing::warn!(%site, transport, error, "transport reconnecting");
        }
    }

    /// The kernel dropped `n` datagrams on a UDP ingress socket (receive buffer full): national
    /// input that never reached the adapter. Raise `recv_buffer` or run a redundant adapter.
    pub fn udp_kernel_drops(site: Nation, transport: &str, n: u64) {
        counter!("trilink_udp_kernel_drops_total", "site" => site.as_str(), "transport" => transport.to_owned())
            .increment(n);
        tracing::warn!(%site, transport, dropped = n, "the kernel dropped UDP datagrams (socket buffer full)");
    }

    /// A transport (re)connected.
    pub fn connected(site: Nation, transport: &str) {
        super::transport_watch().connected(transport, std::time::Instant::now());
        tracing::debug!(%site, transport, "transport connected");
    }

    /// A heartbeat was published.
    pub fn heartbeat(site: Nation, component: &str) {
        counter!("trilink_heartbeats_total", "site" => site.as_str(), "component" => component.to_owned())
            .increment(1);
        tracing::trace!(%site, component, "heartbeat");
    }

    /// Current number of publishes awaiting an ack.
    pub fn in_flight(site: Nation, n: usize) {
        gauge!("trilink_in_flight", "site" => site.as_str()).set(n as f64);
    }

    /// Record the latency of one hop (negative differences from clock skew count as 0).
    pub fn hop(hop: &'static str, from: DateTime<Utc>, to: DateTime<Utc>) {
        static HOP: MetricCache<&'static str, Histogram> = MetricCache::new();
        let secs = (to - from).to_std().map_or(0.0, |d| d.as_secs_f64());
        HOP.with(
            |h| *h == hop,
            || hop,
            || histogram!("trilink_hop_latency_seconds", "hop" => hop),
            |h| h.record(secs),
        );
    }
}

#[cfg(test)]
mod watch_tests {
    use std::time::{Duration, Instant};

    use super::TransportWatch;

    #[test]
    fn stuck_after_failures_without_progress_and_cleared_by_progress_or_a_stable_connection() {
        let t0 = Instant::now();
        let s = |secs| t0 + Duration::from_secs(secs);
        let mut w = TransportWatch::default();
        // A reconnect loop: connects, fails at once, again and again.
        for i in 0..TransportWatch::STUCK_AFTER_FAILURES {
            assert!(!w.is_stuck("mqtt", s(u64::from(i))), "{i}");
            w.connected("mqtt", s(u64::from(i)));
            w.failed("mqtt", s(u64::from(i)));
        }
        assert!(w.is_stuck("mqtt", s(3)));
        assert_eq!(w.stuck(s(3)), vec!["mqtt".to_owned()]);
        // A message received is progress.
        w.progress("mqtt");
        assert!(!w.is_stuck("mqtt", s(3)));
        // Failing again three times: stuck; a connection that stays up 10 s clears it, even
        // with nothing received (a quiet national system is not stuck).
        for i in 4..7 {
            w.failed("mqtt", s(i));
        }
        assert!(w.is_stuck("mqtt", s(7)));
        w.connected("mqtt", s(8));
        assert!(w.is_stuck("mqtt", s(9)));
        assert!(!w.is_stuck("mqtt", s(18)));
        // And the next failure after such a stable connection starts counting from one.
        w.failed("mqtt", s(30));
        assert!(!w.is_stuck("mqtt", s(30)));
        // Other transports are independent.
        assert!(!w.is_stuck("udp", s(30)));
    }
}

#[cfg(test)]
mod http_tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use metrics_exporter_prometheus::PrometheusBuilder;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio_util::sync::CancellationToken;

    use super::{Health, TelemetryError, serve};

    /// Send `request` as is and read until the server closes: the raw response, or `None`
    /// when the connection was reset. Panics when the server neither answers nor closes.
    async fn raw(addr: SocketAddr, request: &[u8]) -> Option<String> {
        let mut s = TcpStream::connect(addr).await.unwrap();
        // The server may stop reading (and reset) before an oversized request is written.
        let _ = s.write_all(request).await;
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .expect("the endpoint neither answered nor closed the connection");
        read.ok()
            .map(|_| String::from_utf8_lossy(&out).into_owned())
    }

    fn status(resp: &str) -> u16 {
        resp.split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0)
    }

    fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
        let head = resp.split("\r\n\r\n").next()?;
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn body(resp: &str) -> &str {
        resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
    }

    async fn get(addr: SocketAddr, method: &str, path: &str) -> String {
        raw(
            addr,
            format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("connection reset")
    }

    async fn start() -> (SocketAddr, std::sync::Arc<Health>, CancellationToken) {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // A sample only this recorder has, to show `/metrics` renders this handle.
        metrics::with_local_recorder(&recorder, || {
            metrics::counter!("axumtel_test_total").increment(3);
        });
        let health = Health::new();
        let stop = CancellationToken::new();
        let addr = serve(
            "127.0.0.1:0".parse().unwrap(),
            handle,
            health.clone(),
            stop.clone(),
        )
        .await
        .unwrap();
        (addr, health, stop)
    }

    #[tokio::test]
    async fn paths_statuses_bodies_and_content_types() {
        let (addr, health, stop) = start().await;

        let m = get(addr, "GET", "/metrics").await;
        assert_eq!(status(&m), 200, "{m}");
        assert_eq!(
            header(&m, "content-type"),
            Some("text/plain; version=0.0.4")
        );
        assert!(body(&m).contains("axumtel_test_total 3"), "{m}");

        let h = get(addr, "GET", "/healthz").await;
        assert_eq!((status(&h), body(&h)), (200, "ok\n"), "{h}");
        assert_eq!(header(&h, "content-type"), Some("text/plain"));

        let r = get(addr, "GET", "/readyz").await;
        assert_eq!((status(&r), body(&r)), (503, "not ready\n"), "{r}");
        health.set_ready(true);
        let r = get(addr, "GET", "/readyz").await;
        assert_eq!((status(&r), body(&r)), (200, "ready\n"), "{r}");

        let n = get(addr, "GET", "/nope").await;
        assert_eq!((status(&n), body(&n)), (404, "not found\n"), "{n}");
        let n = get(addr, "GET", "/metrics/extra").await;
        assert_eq!(status(&n), 404, "{n}");

        // HEAD is answered like GET, without a body; another method is 405.
        let head = get(addr, "HEAD", "/healthz").await;
        assert_eq!((status(&head), body(&head)), (200, ""), "{head}");
        let post = get(addr, "POST", "/metrics").await;
        assert_eq!(
            (status(&post), body(&post)),
            (405, "method not allowed\n"),
            "{post}"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn malformed_and_oversized_requests_get_an_error_or_a_closed_connection() {
        let (addr, _health, stop) = start().await;

        let garbage = raw(addr, b"\x00\x01 not http at all\r\n\r\n").await;
        if let Some(resp) = garbage {
            assert!(
                resp.is_empty() || status(&resp) == 400,
                "garbage request answered {resp:?}"
            );
        }

        // A 1 MiB header: far past any sane request head.
        let mut big = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
        big.resize(big.len() + (1 << 20), b'a');
        big.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        if let Some(resp) = raw(addr, &big).await {
            let code = status(&resp);
            assert!(
                resp.is_empty() || (400..500).contains(&code),
                "oversized request answered {code}: {:?}",
                resp.get(..200)
            );
        }

        // A client that goes away half-way through its request.
        let mut half = TcpStream::connect(addr).await.unwrap();
        half.write_all(b"GET /metr").await.unwrap();
        drop(half);

        // A client that stalls half-way through its request head is disconnected.
        let started = tokio::time::Instant::now();
        let stalled = raw(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n").await;
        assert!(
            stalled
                .as_deref()
                .is_none_or(|r| r.is_empty() || status(r) >= 400),
            "{stalled:?}"
        );
        assert!(
            started.elapsed() >= super::HEADER_READ_TIMEOUT,
            "closed after {:?}",
            started.elapsed()
        );

        // The endpoint still serves.
        let h = get(addr, "GET", "/healthz").await;
        assert_eq!(status(&h), 200, "{h}");
        stop.cancel();
    }

    #[tokio::test]
    async fn stops_on_the_shutdown_token_and_reports_a_taken_address() {
        let (addr, _health, stop) = start().await;
        let err = serve(
            addr,
            PrometheusBuilder::new().build_recorder().handle(),
            Health::new(),
            CancellationToken::new(),
        )
        .await
        .expect_err("the address is taken");
        assert!(
            matches!(err, TelemetryError::Bind { addr: a, .. } if a == addr),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("cannot listen on {addr}: ")),
            "{err}"
        );

        stop.cancel();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if TcpStream::connect(addr).await.is_err() {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "still accepting 5 s after the shutdown token was cancelled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
