//! Everything the live relay reports about itself: one function per happening, each of which
//! logs (`tracing`), counts (`metrics`, exported by the binary's Prometheus exporter) and
//! updates the [`RelayStats`] a caller of the library can read — never one without the others.
//!
//! Metrics: `trilink_relay_received_total`, `trilink_relay_published_total{dest,kind}`,
//! `trilink_relay_withheld_total{dest,reason}`, `trilink_relay_rejected_total{reason}`,
//! `trilink_relay_deduplicated_total`, `trilink_relay_publish_errors_total`,
//! `trilink_relay_policy_reloads_total`, `trilink_relay_policy_reload_failures_total`,
//! histogram `trilink_relay_hop_latency_seconds{hop}`, gauge `trilink_relay_in_flight`,
//! `trilink_relay_order_violations_total` (a track's output stored before an earlier one's).
//!
//! The common picture ([`crate::picture`]): `trilink_relay_picture_changes_total{change}`,
//! `trilink_relay_picture_published_total{dest}`,
//! `trilink_relay_picture_withheld_total{dest,reason}`,
//! `trilink_relay_picture_coalesced_total` (views replaced by a newer one before stored),
//! `trilink_relay_picture_errors_total{stage}` (`ingest`, `envelope`, `store`, `rebuild`),
//! `trilink_relay_picture_rebuilt_messages_total`, gauge `trilink_relay_picture_events{dest}`,
//! `trilink_relay_picture_dropped_inputs_total` (inputs left out of the live picture because
//! the picture lane's queue was full: the national path never waits for the picture).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use metrics::{Counter, Histogram};
use trilink_runtime::telemetry::MetricCache;
use trilink_schema::{Nation, PayloadKind};

use crate::policy::WithholdReason;

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
    /// Failed stores (retried in place).
    pub publish_errors: AtomicU64,
    /// Successful policy reloads.
    pub reloads: AtomicU64,
    /// Failed policy reloads (old policy kept).
    pub reload_failures: AtomicU64,
    /// Common-event publishes stored.
    pub picture_published: AtomicU64,
    /// Common-event publishes withheld by the policy.
    pub picture_withheld: AtomicU64,
    /// Common-event views replaced by a newer view of the same event for the same
    /// destination while waiting to be stored (never stored).
    pub picture_coalesced: AtomicU64,
    /// Picture errors (ingest, envelope, store, rebuild).
    pub picture_errors: AtomicU64,
    /// Input messages taken in by the start-up rebuild.
    pub picture_rebuilt: AtomicU64,
    /// Accepted inputs left out of the live picture because the picture lane's queue was
    /// full (or the lane had stopped); their national outputs are not affected.
    pub picture_dropped_inputs: AtomicU64,
    /// Outputs stored before an output of an earlier input of the same track at the same
    /// destination (see [`crate::pipeline`]): should stay 0.
    pub order_violations: AtomicU64,
    /// Whether the consumer is up.
    pub ready: AtomicBool,
}

fn add(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Describe every metric, and export the unlabelled counters at 0 from the start: an alert
/// on `increase()` sees nothing for a series that first appears at 1 (the first failed
/// reload would not fire).
pub(crate) fn describe() {
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
        "Failed stores of an input's outputs or dead letter (retried in place)"
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
    metrics::describe_gauge!(
        "trilink_relay_in_flight",
        "Inputs in flight or waiting behind an input about the same track"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_changes_total",
        "Changes of a destination's common picture, by change"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_published_total",
        "Common-event views stored for a destination"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_withheld_total",
        "Common-event views the policy withheld, by destination and reason"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_coalesced_total",
        "Common-event views replaced by a newer view of the same event and destination before they were stored"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_errors_total",
        "Picture errors by stage (ingest, envelope, store, rebuild)"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_rebuilt_messages_total",
        "Input messages taken into the picture by the start-up rebuild"
    );
    metrics::describe_gauge!(
        "trilink_relay_picture_events",
        "Events in a destination's common picture"
    );
    metrics::describe_counter!(
        "trilink_relay_picture_dropped_inputs_total",
        "Accepted inputs left out of the live picture (picture lane queue full)"
    );
    for name in [
        "trilink_relay_picture_dropped_inputs_total",
        "trilink_relay_picture_errors_total",
        "trilink_relay_picture_coalesced_total",
        "trilink_relay_received_total",
        "trilink_relay_publish_errors_total",
        "trilink_relay_policy_reloads_total",
        "trilink_relay_policy_reload_failures_total",
    ] {
        metrics::counter!(name).absolute(0);
    }
}

/// An input arrived.
pub(crate) fn received(stats: &RelayStats) {
    static RECEIVED: MetricCache<(), Counter> = MetricCache::new();
    RECEIVED.with(
        |()| true,
        || (),
        || metrics::counter!("trilink_relay_received_total"),
        |c| c.increment(1),
    );
    add(&stats.received);
}

/// An input was refused; it goes to the dead-letter subject.
pub(crate) fn rejected(stats: &RelayStats, subject: &str, reason: &'static str, detail: &str) {
    tracing::warn!(subject, reason, detail, "input rejected");
    metrics::counter!("trilink_relay_rejected_total", "reason" => reason).increment(1);
    add(&stats.rejected);
}

/// The policy withheld an input from one destination.
pub(crate) fn withheld(stats: &RelayStats, dest: Nation, reason: &WithholdReason) {
    tracing::debug!(%dest, reason = reason.code(), "withheld");
    metrics::counter!("trilink_relay_withheld_total", "dest" => dest.as_str(), "reason" => reason.code())
        .increment(1);
    add(&stats.withheld);
}

/// Latency of a valid input from its national timestamps to the relay.
pub(crate) fn latency(now: DateTime<Utc>, ingested_at: DateTime<Utc>, observed_at: DateTime<Utc>) {
    static INGEST: MetricCache<(), Histogram> = MetricCache::new();
    static OBSERVE: MetricCache<(), Histogram> = MetricCache::new();
    let secs = |d: chrono::TimeDelta| d.num_microseconds().map_or(f64::NAN, |us| us as f64 / 1e6);
    INGEST.with(
        |()| true,
        || (),
        || metrics::histogram!("trilink_relay_hop_latency_seconds", "hop" => "ingest_to_relay"),
        |h| h.record(secs(now - ingested_at)),
    );
    OBSERVE.with(
        |()| true,
        || (),
        || metrics::histogram!("trilink_relay_hop_latency_seconds", "hop" => "observe_to_relay"),
        |h| h.record(secs(now - observed_at)),
    );
}

/// JetStream stored one output (`duplicate`: it already had it, from an earlier attempt).
pub(crate) fn stored(stats: &RelayStats, duplicate: bool) {
    add(&stats.published);
    if duplicate {
        metrics::counter!("trilink_relay_deduplicated_total").increment(1);
        add(&stats.deduplicated);
    }
}

/// Every output of an input is stored: count them by destination and kind.
pub(crate) fn published(dest: Nation, kind: Option<PayloadKind>) {
    static PUBLISHED: MetricCache<(Nation, &'static str), Counter> = MetricCache::new();
    let kind = kind.map_or("unknown", PayloadKind::as_str);
    PUBLISHED.with(
        |k| *k == (dest, kind),
        || (dest, kind),
        || metrics::counter!("trilink_relay_published_total", "dest" => dest.as_str(), "kind" => kind),
        |c| c.increment(1),
    );
}

/// Storing an input's outputs (or dead letter) failed; it is retried in place.
pub(crate) fn store_failed(stats: &RelayStats, subject: &str, error: &str) {
    tracing::warn!(subject, error, "store failed; retrying in place");
    metrics::counter!("trilink_relay_publish_errors_total").increment(1);
    add(&stats.publish_errors);
}

/// A track's output was stored before an output of an earlier input of that track at the
/// same destination (`n` new cases): a destination may see them out of order.
pub(crate) fn order_violated(stats: &RelayStats, n: u64) {
    tracing::error!(
        n,
        "a track's output was stored before an earlier input's output (per-track order lost)"
    );
    metrics::counter!("trilink_relay_order_violations_total").increment(n);
    stats.order_violations.fetch_add(n, Ordering::Relaxed);
}

/// An input was acknowledged (everything it produced is stored).
pub(crate) fn acked(stats: &RelayStats) {
    add(&stats.acked);
}

/// The acknowledgement of an input could not be sent; the server will redeliver it (and the
/// outputs' message ids make the second store a duplicate).
pub(crate) fn ack_failed(subject: &str, error: &str) {
    tracing::warn!(subject, error, "ack failed; input will be redelivered");
}

/// The routing policy was reloaded.
pub(crate) fn policy_reloaded(stats: &RelayStats, old: &str, new: &str) {
    tracing::info!(old, new, "routing policy reloaded");
    metrics::counter!("trilink_relay_policy_reloads_total").increment(1);
    add(&stats.reloads);
}

/// A reload was refused; the old policy stays in force.
pub(crate) fn policy_reload_failed(stats: &RelayStats, error: &str, kept: &str) {
    tracing::error!(error, kept, "policy reload failed; keeping the old policy");
    metrics::counter!("trilink_relay_policy_reload_failures_total").increment(1);
    add(&stats.reload_failures);
}

/// Inputs in flight plus those waiting behind an input about the same track.
pub(crate) fn in_flight(n: usize) {
    metrics::gauge!("trilink_relay_in_flight").set(n as f64);
}

/// Changes of the common picture (one per destination and event), counted by kind.
pub(crate) fn picture_changed(changes: &[trilink_picture::EventChange]) {
    use trilink_picture::ChangeKind;
    for c in changes {
        let change = match c.kind {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Ended => "ended",
            ChangeKind::Cancelled => "cancelled",
        };
        if c.kind != ChangeKind::Updated {
            tracing::info!(dest = %c.dest, event = %c.event_id, change, "common event");
        }
        metrics::counter!("trilink_relay_picture_changes_total", "change" => change).increment(1);
    }
}

/// How many events each destination's picture holds.
pub(crate) fn picture_size(dest: Nation, events: usize) {
    metrics::gauge!("trilink_relay_picture_events", "dest" => dest.as_str()).set(events as f64);
}

/// The correlator refused an accepted envelope (a non-finite number: should not happen after
/// validation); the picture goes on without it.
pub(crate) fn picture_ingest_failed(stats: &RelayStats, subject: &str, error: &str) {
    tracing::error!(subject, error, "correlator refused an accepted envelope");
    metrics::counter!("trilink_relay_picture_errors_total", "stage" => "ingest").increment(1);
    add(&stats.picture_errors);
}

/// No valid envelope could be built for a view (a correlator defect); nothing is sent.
pub(crate) fn picture_invalid(stats: &RelayStats, dest: Nation, event: &str, error: &str) {
    tracing::error!(%dest, event, error, "common event view is not a valid envelope; not sent");
    metrics::counter!("trilink_relay_picture_errors_total", "stage" => "envelope").increment(1);
    add(&stats.picture_errors);
}

/// The policy withheld a destination's view of an event.
pub(crate) fn picture_withheld(stats: &RelayStats, dest: Nation, reason: &WithholdReason) {
    tracing::debug!(%dest, reason = reason.code(), "common event withheld");
    metrics::counter!("trilink_relay_picture_withheld_total", "dest" => dest.as_str(), "reason" => reason.code())
        .increment(1);
    add(&stats.picture_withheld);
}

/// A newer view of an event for a destination replaced one still waiting to be stored
/// (only the newest view is stored; OUT keeps the latest per event anyway).
pub(crate) fn picture_coalesced(stats: &RelayStats) {
    tracing::trace!("common event view coalesced");
    metrics::counter!("trilink_relay_picture_coalesced_total").increment(1);
    add(&stats.picture_coalesced);
}

/// A destination's view of an event is stored (`duplicate`: JetStream already had it).
pub(crate) fn picture_published(stats: &RelayStats, dest: Nation, duplicate: bool) {
    metrics::counter!("trilink_relay_picture_published_total", "dest" => dest.as_str())
        .increment(1);
    if duplicate {
        metrics::counter!("trilink_relay_deduplicated_total").increment(1);
        add(&stats.deduplicated);
    }
    add(&stats.picture_published);
}

/// Storing a view failed; it is retried in place (later revisions of the event wait).
pub(crate) fn picture_store_failed(stats: &RelayStats, subject: &str, error: &str) {
    tracing::warn!(
        subject,
        error,
        "common event store failed; retrying in place"
    );
    metrics::counter!("trilink_relay_picture_errors_total", "stage" => "store").increment(1);
    add(&stats.picture_errors);
}

/// A view still unstored at shutdown is dropped (the next start-up rebuild republishes it).
pub(crate) fn picture_dropped(subject: &str) {
    tracing::warn!(
        subject,
        "shutdown: common event view not stored; the rebuild republishes it"
    );
}

/// An accepted input could not be handed to the picture lane (its queue is full): it is
/// left out of the live picture; its national outputs go on. Logged on the first drop and
/// every 1000th, counted always.
pub(crate) fn picture_input_dropped(stats: &RelayStats, message_id: &str) {
    let n = stats.picture_dropped_inputs.fetch_add(1, Ordering::Relaxed) + 1;
    if n == 1 || n.is_multiple_of(1000) {
        tracing::warn!(
            message_id,
            dropped = n,
            "picture lane queue full: input left out of the live picture (national outputs unaffected; the next report or a restart's rebuild restores it)"
        );
    }
    metrics::counter!("trilink_relay_picture_dropped_inputs_total").increment(1);
}

/// The picture lane has stopped (it failed): inputs are no longer taken into the picture.
pub(crate) fn picture_lane_gone(stats: &RelayStats, message_id: &str) {
    let n = stats.picture_dropped_inputs.fetch_add(1, Ordering::Relaxed) + 1;
    if n == 1 || n.is_multiple_of(1000) {
        tracing::error!(
            message_id,
            dropped = n,
            "the picture lane has stopped: input left out of the live picture"
        );
    }
    metrics::counter!("trilink_relay_picture_dropped_inputs_total").increment(1);
}

/// The start-up rebuild read `messages` inputs and holds `events` events (all destinations).
pub(crate) fn picture_rebuilt(stats: &RelayStats, messages: u64, events: usize, ms: u128) {
    tracing::info!(
        messages,
        events,
        ms,
        "common picture rebuilt from the input streams"
    );
    metrics::counter!("trilink_relay_picture_rebuilt_messages_total").increment(messages);
    stats.picture_rebuilt.fetch_add(messages, Ordering::Relaxed);
}

/// The start-up rebuild could not read an input stream; the picture starts from what it has.
pub(crate) fn picture_rebuild_failed(stats: &RelayStats, stream: &str, error: &str) {
    tracing::warn!(
        stream,
        error,
        "picture rebuild: cannot read the input stream"
    );
    metrics::counter!("trilink_relay_picture_errors_total", "stage" => "rebuild").increment(1);
    add(&stats.picture_errors);
}
