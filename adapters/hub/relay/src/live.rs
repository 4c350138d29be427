//! The live relay on JetStream.
//!
//! - A durable pull consumer (`consumer`, default `relay`) with one `filter_subject`
//!   (default `tl.in.>`; nats-server 2.9 ignores the plural `filter_subjects`) on the hub's
//!   input stream (`input_stream`).
//! - Every input goes through [`process`](crate::process()); each output is published with
//!   JetStream (`Nats-Msg-Id` = [`output_msg_id`](crate::output_msg_id)) as soon as the input
//!   is decided, without waiting for the acknowledgements of earlier inputs (also of the same
//!   track): a **pipelined store window** ([`crate::pipeline`], the pure decisions; `Window`
//!   here, the I/O). The input is acknowledged only after every one of its outputs (or its
//!   dead letter) is stored **and** every earlier input of its track has been acknowledged.
//! - **Per-track order** (issue 14): outputs are published in arrival order, each
//!   destination's on one connection, so JetStream stores a track's outputs in arrival order.
//!   A failed store (error or acknowledgement timeout) holds its track: nothing newer of it
//!   is published until, after a backoff (`nak_delay_ms`, doubling to 5 s), every output of
//!   the track not confirmed stored is republished in arrival order under the same message
//!   id (JetStream drops what was stored already). A lost or re-established connection
//!   (noticed before every publish) holds every track with an unconfirmed store the same way,
//!   since what was in flight on the old connection may be lost while something sent later
//!   is stored on the new one. The stream sequences of the stores are checked against
//!   arrival order and a store found out of order is counted
//!   (`trilink_relay_order_violations_total`). Inputs are never handed back while the
//!   relay runs (a handed-back input would be overtaken by a later one of its track); a held
//!   input is kept alive with in-progress acknowledgements.
//! - Rejects are published with JetStream to `dlq_subject` (default `tl.dlq.us`) with the
//!   original body and the headers `Tl-Reason`, `Tl-Detail`, `Tl-Component`, `Tl-Source`.
//! - SIGHUP (or [`RelayControl::request_reload`]) re-reads the policy file; an invalid file is
//!   logged and counted and the old policy stays in force.
//! - At most `max_in_flight` inputs are in the window (back-pressure: no unbounded
//!   buffering), whatever their tracks.
//!
//! - It stands on the runtime: connections through `trilink_runtime::nats` (one
//!   [`NatsConfig`](trilink_runtime::nats::NatsConfig) per account, from [`RelayConfig`]), the
//!   runtime's dead-letter format and its heartbeat (`trilink_runtime::status`). It creates no
//!   stream: a hub's streams come from `broker-config/streams.toml` (`trilink broker
//!   streams`), a test's from `trilink_brokers::testing::ensure_relay_streams`.
//!
//! - **The common picture** (`[picture] enabled`, default on; [`crate::picture`]) runs on a
//!   lane of its own (`lane`: a task with its own bounded input queue, order gate and
//!   in-flight window), so that **the picture never slows a national output**: the main loop
//!   hands every input the pure step accepted (rejects and `status` excepted) to the lane and
//!   goes on; it never waits for the correlator or for a picture publish (a full queue leaves
//!   the input out of the live picture, counted). The lane runs the correlator in arrival
//!   order, with the time of each input's processing; a tick every `tick_ms`. Each change of
//!   a destination's picture is published (paced, coalesced) as a `common_event` on
//!   `tl.out.<dest>.common_event.us.<event id>` (latest per event kept) under the policy in
//!   force. An event's publishes are stored in order (key `(us, event id)`); they are not tied
//!   to the input that caused them (the input is acknowledged when its own national outputs
//!   are stored, as before). **A failed picture store is retried in place** with backoff, so
//!   later revisions of that event wait behind it and none is lost or reordered while the
//!   relay runs; a view still unstored at shutdown is dropped and logged; on a crash, queued
//!   inputs and unstored views are lost with the process and the start-up rebuild recomputes
//!   and republishes them.
//! - **Restart:** the correlator's state lives in memory. At start-up, before consuming, the
//!   relay rebuilds it from the hub's input streams: the messages of the last
//!   `rebuild_window_s` (at most `rebuild_max_messages`, the newest), read with
//!   `$JS.API.STREAM.MSG.GET`, merged across streams by the time the hub stored them and run
//!   through the same pure step (with that time as "now"), so event ids come out as before.
//!   It then republishes every destination's current view: a view that did not change since
//!   it was stored reproduces its message id and JetStream drops it (duplicate window 120 s;
//!   each adapter's delivery journal drops it later). Inputs the rebuild read are skipped by
//!   the picture when the durable consumer redelivers them. Events older than the window are
//!   not rebuilt: their next national report starts a new event with a new id (a destination
//!   then sees a second event for the same object until the first one's last view ages out
//!   of its system).
//!
//! What it reports (logs, metrics, [`RelayStats`]): [`crate::events`].

use std::collections::HashMap;
use std::future::Future;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind, consumer::pull};
use chrono::Utc;
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{Notify, watch};
use trilink_runtime::nats::{self as rt_nats, DeadLetter};
use trilink_runtime::status::{self, Heartbeat};
use trilink_schema::{ComponentState, Nation, Subject, headers};

pub use crate::config::{AccountConfig, RelayConfig};
use crate::events;
pub use crate::events::RelayStats;
use crate::picture::PictureStage;
use crate::pipeline::{InputId, Pipeline, Retry, Step, Stored};
use crate::policy::{Policy, PolicyError};
use crate::process::{Outcome, RelayIdentity, process, process_in_account};
use crate::references::ReferenceBook;

mod lane;

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

/// The headers every stored output carries: its message id (JetStream deduplication) and the
/// schema version.
fn output_headers(msg_id: &str) -> async_nats::HeaderMap {
    let mut h = async_nats::HeaderMap::new();
    h.insert(headers::MSG_ID, msg_id);
    h.insert(
        headers::SCHEMA_VERSION,
        trilink_schema::SCHEMA_VERSION.to_string().as_str(),
    );
    h
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
    // Boxed: the relay's state (links, pipelines, picture) would otherwise make every caller's
    // future as large as all of it.
    let result = Box::pin(run_with_control(config, policy_path, shutdown, control)).await;
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

    events::describe();

    let mut links = Vec::new();
    let mut inputs = Vec::new();
    if config.accounts.is_empty() {
        let (client, js) = connect(&config, None).await?;
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
            let (client, js) = connect(&config, Some(acc)).await?;
            let input = acc.input_stream();
            inputs.push((i, input, Subject::input_filter(acc.nation)));
            links.push(Link {
                nation: Some(acc.nation),
                client,
                js,
            });
        }
    }

    let max_in_flight = config.max_in_flight;
    let mut streams = Vec::new();
    let mut rebuild_from = Vec::new();
    for (i, stream_name, filter) in inputs {
        let Some(link) = links.get(i) else { continue };
        let input = link
            .js
            .get_stream(&stream_name)
            .await
            .map_err(|e| RelayError::JetStream(format!("input stream {stream_name}: {e}")))?;
        rebuild_from.push((link.nation, input.clone()));
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
        tracing::info!(stream = %stream_name, consumer = %config.consumer, filter = %filter, account = link.nation.map_or("all", Nation::as_str), "relay consuming");
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
        refs: Mutex::new(ReferenceBook::new(
            config.reference_ids,
            ReferenceBook::KEEP,
        )),
    });
    let picture = if config.picture.enabled {
        // Boxed: the correlator and the rebuild would make the relay's future large.
        let mut stage = Box::new(PictureStage::new(config.picture.correlator()));
        if config.picture.rebuild_window_s > 0 {
            Box::pin(rebuild_picture(
                &config,
                &shared,
                &policy,
                &rebuild_from,
                &mut stage,
            ))
            .await;
        }
        Some(stage)
    } else {
        None
    };
    drop(rebuild_from);
    // The common picture runs on its own lane (task, queue, order gate and in-flight window):
    // the national path hands it each accepted input and never waits for it (`lane`).
    let (policy_tx, policy_rx) = watch::channel(policy.clone());
    let lane = picture.map(|stage| {
        lane::Lane::spawn(
            stage,
            shared.clone(),
            policy_rx,
            lane::LaneConfig {
                queue: config.picture.queue,
                tick: Duration::from_millis(config.picture.tick_ms),
                min_update_interval: Duration::from_millis(config.picture.min_update_interval_ms),
                max_in_flight,
                drain_timeout: Duration::from_millis(config.drain_timeout_ms),
                // The rebuild's ids are skipped once; forget those never redelivered after a
                // while.
                forget_rebuilt_after: Duration::from_secs(
                    config.ack_wait_s.saturating_mul(4).max(60),
                ),
            },
        )
    });
    control.stats.ready.store(true, Ordering::Release);
    control.ready.notify_waiters();

    // The store window (`pipeline`): inputs in flight, their outputs published in arrival
    // order without waiting for earlier acknowledgements, each input acknowledged after its
    // outputs and every earlier input of its track; a failed track resent in order.
    let mut window = Window::new(
        &links,
        Retry {
            first: shared.nak_delay.max(Duration::from_millis(50)),
            max: Duration::from_secs(5),
        },
        config.max_in_flight_per_track,
    );
    let started = std::time::Instant::now();
    let boot = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let mut beats = 0_u64;
    let status_client = links
        .iter()
        .find(|l| l.nation.is_none_or(|n| n == config.site))
        .map(|l| l.client.clone());
    let mut heartbeat = tokio::time::interval(Duration::from_secs(config.status_interval_s.max(1)));
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Inputs held a while (a track waiting for its resend) are not redelivered behind our
    // back: tell the server they are in progress, well within ack_wait.
    let keepalive_every = Duration::from_secs((config.ack_wait_s / 3).clamp(1, 10));
    let mut keepalive = tokio::time::interval(keepalive_every);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    // The in-flight gauge is set when the window's size changed, not on every turn of the
    // loop (several per input): each setting is a registry lookup.
    let mut gauged = None;
    loop {
        let in_flight = window.pipe.len();
        if gauged != Some(in_flight) {
            events::in_flight(in_flight);
            gauged = Some(in_flight);
        }
        let retry_at = window.pipe.next_retry();
        tokio::select! {
            biased;
            () = &mut shutdown => {
                tracing::info!(in_flight = window.pipe.len(), retrying = window.pipe.retrying(), "relay shutting down");
                break;
            }
            () = control.reload.notified() => {
                policy = reload(&policy_path, policy, &control);
                policy_tx.send_replace(policy.clone());
            }
            _ = heartbeat.tick(), if config.status_interval_s > 0 => {
                if let Some(client) = &status_client {
                    beats += 1;
                    status::publish(client, &heartbeat_of(&config, &control.stats, boot, beats, started.elapsed())).await;
                }
            }
            _ = keepalive.tick(), if !window.pipe.is_empty() => {
                window.keepalive(Instant::now().checked_sub(keepalive_every / 2)).await;
            }
            Some(result) = window.acks.next(), if !window.acks.is_empty() => {
                window.settle(&shared, result).await;
            }
            () = sleep_until(retry_at), if retry_at.is_some() => {
                window.resend_due(&shared).await;
            }
            next = messages.next(), if window.pipe.len() < max_in_flight => match next {
                Some((account, dlq_js, Ok(msg))) => {
                    let now = Utc::now();
                    let mut p = prepare(&shared, &policy, account, dlq_js, msg, now);
                    if let Some(lane) = &lane
                        && let Some(env) = p.outcome.take_picture_input()
                    {
                        lane.offer(env, now);
                    }
                    window.arrive(p);
                    window.run(&shared).await;
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
    // Drain: finish what is in the window (resends included), in order, within the drain
    // timeout; what is left then is handed back (nak) for redelivery. The picture lane
    // drains alongside.
    if let Some(lane) = &lane {
        lane.close();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_millis(config.drain_timeout_ms);
    while !window.pipe.is_empty() {
        let retry_at = window.pipe.next_retry();
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                tracing::warn!(
                    in_flight = window.pipe.len(),
                    "drain timeout: unfinished inputs will be redelivered"
                );
                window.hand_back().await;
                break;
            }
            Some(result) = window.acks.next(), if !window.acks.is_empty() => {
                window.settle(&shared, result).await;
            }
            () = sleep_until(retry_at), if retry_at.is_some() => {
                window.resend_due(&shared).await;
            }
        }
    }
    if let Some(lane) = lane {
        lane.stop().await;
    }
    control.stats.ready.store(false, Ordering::Release);
    // Closed, not only flushed: the pull requests left open at the hub go with the
    // connections, so the next relay process gets the next input at once.
    for link in &links {
        if !trilink_runtime::nats::close(&link.client, Duration::from_secs(1)).await {
            tracing::warn!("a NATS connection did not close within 1 s of the drain");
        }
    }
    Ok(())
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
            events::policy_reloaded(&control.stats, &old.name, &p.name);
            set_name(control, &p.name);
            Arc::new(p)
        }
        Err(e) => {
            events::policy_reload_failed(&control.stats, &e.to_string(), &old.name);
            old
        }
    }
}

/// This relay's heartbeat: counters in the detail, degraded once a store has failed.
fn heartbeat_of<'a>(
    config: &'a RelayConfig,
    stats: &RelayStats,
    boot: i64,
    seq: u64,
    uptime: Duration,
) -> Heartbeat<'a> {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    Heartbeat {
        site: config.site,
        component: &config.component,
        boot,
        seq,
        state: if get(&stats.publish_errors) > 0 {
            ComponentState::Degraded
        } else {
            ComponentState::Ok
        },
        uptime,
        detail: format!(
            "received={} acked={} rejected={} publish_errors={} reloads={} reload_failures={}",
            get(&stats.received),
            get(&stats.acked),
            get(&stats.rejected),
            get(&stats.publish_errors),
            get(&stats.reloads),
            get(&stats.reload_failures),
        ),
    }
}

/// One connection (fails fast: the service manager restarts the relay) and its JetStream
/// context, through the runtime.
async fn connect(
    config: &RelayConfig,
    account: Option<&AccountConfig>,
) -> Result<(async_nats::Client, jetstream::Context), RelayError> {
    let nats = config.nats_config(account);
    let client = rt_nats::connect_once(&nats, &format!("trilink-{}", config.component))
        .await
        .map_err(|e| RelayError::Connect {
            url: nats.url.clone(),
            message: e.to_string(),
        })?;
    let js = rt_nats::jetstream(
        &client,
        nats.js_domain.as_deref(),
        Duration::from_millis(nats.ack_timeout_ms),
    );
    Ok((client, js))
}

/// An input after the pure step: the decision is made, nothing is published yet.
struct Decided {
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
    now: chrono::DateTime<Utc>,
) -> Decided {
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
    events::received(&shared.stats);
    if let Some(rej) = &outcome.reject {
        events::rejected(&shared.stats, &subject, rej.code, &rej.detail);
    } else {
        for (dest, reason) in &outcome.withheld {
            events::withheld(&shared.stats, *dest, reason);
        }
        if let Some((ingested, observed)) = outcome.times {
            events::latency(now, ingested, observed);
        }
    }
    Decided {
        msg,
        subject,
        dlq_js,
        outcome,
    }
}

/// Start-up rebuild of the common picture from the hub's input streams (see the module docs).
/// Failures are reported and the picture starts from what could be read.
async fn rebuild_picture(
    config: &RelayConfig,
    shared: &Shared,
    policy: &Policy,
    streams: &[(Option<Nation>, jetstream::stream::Stream)],
    stage: &mut PictureStage,
) {
    let started = std::time::Instant::now();
    let cutoff = Utc::now()
        - chrono::Duration::seconds(i64::try_from(config.picture.rebuild_window_s).unwrap_or(0));
    let max = config.picture.rebuild_max_messages;
    // (stored at, stream index, sequence, account, subject, body)
    let mut read = Vec::new();
    for (si, (account, stream)) in streams.iter().enumerate() {
        let name = stream.cached_info().config.name.clone();
        let state = &stream.cached_info().state;
        let (first, last) = (state.first_sequence, state.last_sequence);
        let mut seq = last;
        while seq >= first && seq > 0 && read.len() < max {
            match stream.get_raw_message(seq).await {
                Ok(m) => {
                    let at = chrono::DateTime::<Utc>::from_timestamp_nanos(
                        i64::try_from(m.time.unix_timestamp_nanos()).unwrap_or(0),
                    );
                    if at < cutoff {
                        break;
                    }
                    read.push((at, si, seq, *account, m.subject.to_string(), m.payload));
                }
                Err(e)
                    if e.kind()
                        == async_nats::jetstream::stream::RawMessageErrorKind::NoMessageFound => {}
                Err(e) => {
                    events::picture_rebuild_failed(&shared.stats, &name, &e.to_string());
                    break;
                }
            }
            seq -= 1;
        }
    }
    read.sort_by_key(|a| (a.0, a.1, a.2));
    let n = read.len() as u64;
    for (at, _, _, account, subject, body) in read {
        let outcome = {
            let refs = shared.refs.lock().unwrap_or_else(PoisonError::into_inner);
            match account {
                Some(a) => {
                    process_in_account(a, &subject, &body, at, policy, &shared.identity, &refs)
                }
                None => process(&subject, &body, at, policy, &shared.identity, &refs),
            }
        };
        if let Some((id, origin)) = outcome.accepted_origin() {
            shared
                .refs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .record(id, origin, at);
        }
        if let Some(env) = outcome.picture_input()
            && let Err(e) = stage.rebuild(&env, at)
        {
            events::picture_ingest_failed(&shared.stats, &subject, &e.to_string());
        }
    }
    stage.tick(Utc::now());
    let events: usize = Nation::ALL
        .iter()
        .map(|d| stage.correlator().membership(*d).len())
        .sum();
    events::picture_rebuilt(&shared.stats, n, events, started.elapsed().as_millis());
}

/// Wait until `at` (never, when `None`: the caller disables the branch then).
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The result of one publish: `(input, output, attempt, acknowledgement)`.
type StoreResult = (
    InputId,
    usize,
    u32,
    Result<async_nats::jetstream::publish::PublishAck, String>,
);

/// The live side of the store window: the pure [`Pipeline`] and what it needs to carry out
/// its steps (the inputs, the acknowledgements awaited, the connections to watch).
struct Window {
    pipe: Pipeline<trilink_schema::TrackKey>,
    held: HashMap<InputId, Decided>,
    acks: FuturesUnordered<BoxFuture<'static, StoreResult>>,
    steps: Vec<Step>,
    /// Every connection, to notice a reconnect before the next publish.
    clients: Vec<async_nats::Client>,
    /// Connections made so far, summed over `clients`.
    connects: u64,
    violations: u64,
}

impl Window {
    fn new(links: &[Link], retry: Retry, per_track: usize) -> Self {
        let clients: Vec<_> = links.iter().map(|l| l.client.clone()).collect();
        let connects = Self::connects(&clients);
        Self {
            pipe: Pipeline::new(retry, per_track),
            held: HashMap::new(),
            acks: FuturesUnordered::new(),
            steps: Vec::new(),
            clients,
            connects,
            violations: 0,
        }
    }

    fn connects(clients: &[async_nats::Client]) -> u64 {
        clients
            .iter()
            .map(|c| c.statistics().connects.load(Ordering::Relaxed))
            .sum()
    }

    /// Whether a connection is down or was re-established since the last check: a publish
    /// in flight on it may be lost while one sent later gets stored.
    fn connection_changed(&mut self) -> bool {
        let down = self
            .clients
            .iter()
            .any(|c| c.connection_state() != async_nats::connection::State::Connected);
        let connects = Self::connects(&self.clients);
        let changed = down || connects != self.connects;
        self.connects = connects;
        changed
    }

    /// A decided input enters the window (its publishes are queued as steps).
    fn arrive(&mut self, p: Decided) {
        let outputs = if p.outcome.reject.is_some() {
            1
        } else {
            p.outcome.outputs.len()
        };
        let id = self.pipe.arrive(
            p.outcome.track.clone(),
            outputs,
            Instant::now(),
            &mut self.steps,
        );
        self.held.insert(id, p);
    }

    /// A publish's acknowledgement (or its failure) came back.
    fn result(&mut self, shared: &Shared, (input, output, attempt, res): StoreResult) {
        let Some(p) = self.held.get(&input) else {
            return;
        };
        match res {
            Ok(ack) => {
                events::stored(&shared.stats, ack.duplicate);
                let lane = if p.outcome.reject.is_some() {
                    u32::MAX
                } else {
                    p.outcome
                        .outputs
                        .get(output)
                        .map_or(u32::MAX, |o| lane(o.dest))
                };
                let at = Stored {
                    lane,
                    sequence: ack.sequence,
                    duplicate: ack.duplicate,
                };
                self.pipe
                    .stored(input, output, attempt, at, &mut self.steps);
            }
            Err(e) => {
                events::store_failed(&shared.stats, &p.subject, &e);
                self.pipe.failed(input, output, attempt, Instant::now());
            }
        }
    }

    /// A store's outcome arrived: record it, then carry out what it made due.
    async fn settle(&mut self, shared: &Shared, result: StoreResult) {
        self.result(shared, result);
        self.run(shared).await;
    }

    /// Resend the tracks whose retry time has come.
    async fn resend_due(&mut self, shared: &Shared) {
        self.pipe.due(Instant::now(), &mut self.steps);
        self.run(shared).await;
    }

    /// Carry out the pending steps, in order: publish (unless a failure or a reconnect holds
    /// the track since), acknowledge.
    async fn run(&mut self, shared: &Shared) {
        let mut k = 0;
        while let Some(&step) = self.steps.get(k) {
            k += 1;
            match step {
                Step::Publish {
                    input,
                    output,
                    attempt,
                } => {
                    if self.connection_changed() {
                        tracing::warn!(
                            "a connection was lost or re-established: every track with an unconfirmed store is resent in order"
                        );
                        self.pipe.fail_all(Instant::now());
                    }
                    if !self.pipe.may_send(input, output, attempt) {
                        continue;
                    }
                    let Some(p) = self.held.get(&input) else {
                        continue;
                    };
                    match publish(shared, p, output).await {
                        Ok(ack) => self.acks.push(Box::pin(async move {
                            (
                                input,
                                output,
                                attempt,
                                ack.into_future().await.map_err(|e| e.to_string()),
                            )
                        })),
                        Err(e) => {
                            events::store_failed(&shared.stats, &p.subject, &e);
                            self.pipe.failed(input, output, attempt, Instant::now());
                        }
                    }
                }
                Step::Ack { input } => {
                    let Some(p) = self.held.remove(&input) else {
                        continue;
                    };
                    if p.outcome.reject.is_none() {
                        // Every output of an input has the input's kind (`Subject::output_for`):
                        // no need to parse each output's subject back.
                        let kind = p.outcome.key.map(|(_, kind, _)| kind);
                        for o in &p.outcome.outputs {
                            events::published(o.dest, kind);
                        }
                    }
                    match p.msg.ack().await {
                        Ok(()) => events::acked(&shared.stats),
                        Err(e) => events::ack_failed(&p.subject, &e.to_string()),
                    }
                }
            }
        }
        self.steps.clear();
        let violations = self.pipe.order_violations();
        if violations > self.violations {
            events::order_violated(&shared.stats, violations - self.violations);
            self.violations = violations;
        }
    }

    /// Tell the server that inputs held since before `before` are still being worked on.
    /// (`&mut`: a shared borrow of the window across an await would need it to be `Sync`.)
    async fn keepalive(&mut self, before: Option<Instant>) {
        let Some(before) = before else { return };
        for id in self.pipe.arrived_before(before) {
            if let Some(p) = self.held.get(&id)
                && let Err(e) = p.msg.ack_with(AckKind::Progress).await
            {
                tracing::warn!(error = %e, "in-progress ack failed");
            }
        }
    }

    /// Shutdown: hand every input still in the window back to the server (redelivered to the
    /// next relay; the outputs' message ids make what was stored a duplicate).
    async fn hand_back(&mut self) {
        for id in self.pipe.abandon() {
            if let Some(p) = self.held.remove(&id)
                && let Err(e) = p.msg.ack_with(AckKind::Nak(None)).await
            {
                tracing::warn!(error = %e, "nak failed; input will be redelivered after ack_wait");
            }
        }
        self.acks.clear();
    }
}

/// The order check's lane of an output: its destination.
fn lane(dest: Nation) -> u32 {
    Nation::ALL
        .iter()
        .position(|n| *n == dest)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(u32::MAX - 1)
}

/// Publish output `output` of an input (index 0 of a rejected input: its dead letter) with
/// JetStream; the acknowledgement is awaited by the caller.
async fn publish(
    shared: &Shared,
    p: &Decided,
    output: usize,
) -> Result<async_nats::jetstream::context::PublishAckFuture, String> {
    let Decided {
        msg,
        subject,
        dlq_js,
        outcome,
    } = p;
    if let Some(rej) = &outcome.reject {
        // The runtime's dead-letter format, stored with JetStream under an id unique to this
        // input's delivery (a retry is a duplicate).
        let mut h = rt_nats::dead_letter_headers(&DeadLetter {
            site: shared.identity.site,
            component: &shared.identity.component,
            reason: rej.code,
            detail: &rej.detail,
            source: subject,
            body: msg.payload.clone(),
        });
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
        dlq_js
            .publish_with_headers(shared.dlq_subject.clone(), h, msg.payload.clone())
            .await
            .map_err(|e| format!("publish {}: {e}", shared.dlq_subject))
    } else {
        let o = outcome
            .outputs
            .get(output)
            .ok_or_else(|| format!("no output {output}"))?;
        let js = shared
            .output_js(o.dest)
            .ok_or_else(|| format!("no account configured for destination {}", o.dest))?;
        js.publish_with_headers(
            o.subject.clone(),
            output_headers(o.msg_id.as_str()),
            o.body.clone(),
        )
        .await
        .map_err(|e| format!("publish {}: {e}", o.subject))
    }
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
    fn picture_section_defaults_on_and_is_validated() {
        let cfg = RelayConfig::from_toml_str("", "t").unwrap();
        assert!(cfg.picture.enabled);
        assert_eq!(cfg.picture.tick_ms, 1_000);
        let cfg = RelayConfig::from_toml_str("[picture]\nenabled = false\n", "t").unwrap();
        assert!(!cfg.picture.enabled);
        for (text, key) in [
            ("[picture]\ntick_ms = 5\n", "picture.tick_ms"),
            (
                "[picture]\nrebuild_window_s = 999999\n",
                "picture.rebuild_window_s",
            ),
            (
                "[picture]\nrebuild_max_messages = 0\n",
                "picture.rebuild_max_messages",
            ),
            ("[picture]\nenabeld = true\n", "enabeld"),
        ] {
            let err = RelayConfig::from_toml_str(text, "t").unwrap_err();
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
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
        for bad in ["reference_ids = 0\n", "reference_ids = 10000001\n"] {
            let err = RelayConfig::from_toml_str(bad, "t").unwrap_err();
            assert!(err.to_string().contains("`reference_ids`"), "{err}");
        }
    }

    #[test]
    fn reference_ids_default_to_the_book_that_fits_the_memory_line() {
        let cfg = RelayConfig::from_toml_str("", "t").unwrap();
        assert_eq!(cfg.reference_ids, 400_000);
        assert_eq!(ReferenceBook::DEFAULT_CAPACITY, 400_000);
        let cfg = RelayConfig::from_toml_str("reference_ids = 1000000\n", "t").unwrap();
        assert_eq!(cfg.reference_ids, 1_000_000);
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
