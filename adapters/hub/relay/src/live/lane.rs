//! The common picture's own lane in the live relay: a task of its own, apart from the
//! national outputs, so that the picture never slows a national warning.
//!
//! - **Input:** the main loop hands each accepted input (narrowed by
//!   [`Outcome::take_picture_input`](crate::process::Outcome::take_picture_input), moved, not
//!   copied) to the lane through a bounded queue (`[picture] queue`) and goes on at once: it
//!   never waits for the correlator or for a picture publish. When the queue is full (the
//!   correlator far behind the national path) the input is left out of the live picture,
//!   counted (`trilink_relay_picture_dropped_inputs_total`, [`RelayStats`]) and logged; the
//!   national outputs are not affected, the track's next report brings it back, and a restart
//!   rebuilds the picture from the input streams, which hold every input.
//! - **Work:** the lane runs the correlator on each input in arrival order, its tick every
//!   `tick_ms`, paces updated views ([`ViewPacer`]: [`ViewPacer::due`] from the pace tick
//!   only) and stores each destination's view with JetStream. A view is published under the
//!   policy in force (the main loop passes reloads on). Views of one event are stored one at
//!   a time in the order the correlator produced them (its own [`OrderGate`], key `(us,
//!   event id)`); a newer view for the same destination replaces one still waiting
//!   (coalescing); at most `max_in_flight` views are being stored at once (a window of its
//!   own: picture publishes never take an input's place in the main loop's window).
//! - **Acknowledgement:** unchanged — an input is acknowledged by the main loop when its own
//!   national outputs (or its dead letter) are stored, whatever the lane does with it.
//! - **Failed stores** are retried in place with backoff, so later views of that event wait
//!   behind it and none is lost or reordered while the relay runs.
//! - **Shutdown and crash:** at shutdown the lane stops taking inputs and finishes storing
//!   what it holds within `drain_timeout_ms`; a view still unstored then is dropped and
//!   logged. On a crash, queued inputs and unstored views are lost with the process; the
//!   start-up rebuild recomputes the picture from the input streams and republishes every
//!   destination's current view (an unchanged view reproduces its message id and JetStream
//!   drops the duplicate).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use trilink_runtime::CancellationToken;
use trilink_runtime::transport::Backoff;
use trilink_schema::{Envelope, Nation, Subject, TrackKey};

use super::{RelayStats, Shared, output_headers};
use crate::events;
use crate::order::{Admission, OrderGate};
use crate::picture::{PictureOutput, PictureStage, ViewPacer};
use crate::policy::Policy;
use crate::process::Output;

/// An accepted input for the picture, with the time the relay processed it.
struct PictureInput {
    env: Box<Envelope>,
    at: DateTime<Utc>,
}

/// The lane's tuning, from the relay configuration.
pub(super) struct LaneConfig {
    pub(super) queue: usize,
    pub(super) tick: Duration,
    pub(super) min_update_interval: Duration,
    pub(super) max_in_flight: usize,
    pub(super) drain_timeout: Duration,
    /// When to forget the ids the start-up rebuild took in.
    pub(super) forget_rebuilt_after: Duration,
}

/// The main loop's handle on the lane.
/// Dropping it without [`Lane::stop`] (the relay's future dropped, e.g. aborted) aborts the
/// lane's task: a relay that is gone publishes nothing more.
pub(super) struct Lane {
    tx: mpsc::Sender<PictureInput>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
    stats: Arc<RelayStats>,
}

impl Drop for Lane {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

impl Lane {
    /// Start the lane with the (possibly rebuilt) picture; it first republishes every
    /// destination's current view.
    pub(super) fn spawn(
        stage: Box<PictureStage>,
        shared: Arc<Shared>,
        policy: watch::Receiver<Arc<Policy>>,
        cfg: LaneConfig,
    ) -> Self {
        let (tx, rx) = mpsc::channel(cfg.queue.max(1));
        let shutdown = CancellationToken::new();
        let stats = shared.stats.clone();
        let task = tokio::spawn(run(stage, shared, policy, rx, cfg, shutdown.clone()));
        Self {
            tx,
            shutdown,
            task: Some(task),
            stats,
        }
    }

    /// Hand an accepted input to the picture; never waits (see the module docs).
    pub(super) fn offer(&self, env: Box<Envelope>, at: DateTime<Utc>) {
        match self.tx.try_send(PictureInput { env, at }) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(p)) => {
                events::picture_input_dropped(&self.stats, &p.env.message_id.to_string());
            }
            Err(mpsc::error::TrySendError::Closed(p)) => {
                events::picture_lane_gone(&self.stats, &p.env.message_id.to_string());
            }
        }
    }

    /// Tell the lane to stop taking inputs and to finish storing (within the drain timeout).
    pub(super) fn close(&self) {
        self.shutdown.cancel();
    }

    /// [`Lane::close`], and wait until the lane has finished.
    pub(super) async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::error!(error = %e, "the picture lane failed");
        }
    }
}

/// A `common_event` view to store.
struct PictureJob {
    key: TrackKey,
    output: Output,
}

/// The lane's views: per-event order, coalescing, and its own in-flight window.
struct Views {
    shared: Arc<Shared>,
    gate: OrderGate<PictureJob>,
    /// Admitted (their key is held) and waiting for a slot in the window, in order.
    ready: VecDeque<PictureJob>,
    max_in_flight: usize,
}

impl Views {
    /// Admit `outputs` (the rest is reported): a view runs when no earlier view of its event
    /// is being stored, else waits behind it, replacing an older waiting view for the same
    /// destination (the output stream keeps the latest view per event anyway).
    fn admit(&mut self, outputs: Vec<PictureOutput>) {
        for it in outputs {
            if let Some(e) = &it.invalid {
                events::picture_invalid(&self.shared.stats, it.dest, &it.event_id.to_string(), e);
            } else if let Some(reason) = &it.withheld {
                events::picture_withheld(&self.shared.stats, it.dest, reason);
            } else if let Some(output) = it.output {
                let key = it.key;
                let job = PictureJob {
                    key: key.clone(),
                    output,
                };
                match self
                    .gate
                    .admit_coalescing(&key, job, |a, b| a.output.subject == b.output.subject)
                {
                    Admission::Runs(job) => self.ready.push_back(job),
                    Admission::Waits => {}
                    Admission::Replaced => events::picture_coalesced(&self.shared.stats),
                }
            }
        }
    }

    /// A view of the event `key` is stored: the next one of that event becomes ready.
    fn finish(&mut self, key: &TrackKey) {
        if let Some(next) = self.gate.finish(Some(key)) {
            self.ready.push_back(next);
        }
    }

    /// Ready views to start now (within the window, `running` being stored already).
    fn start(&mut self, running: usize) -> Vec<PictureJob> {
        let free = self.max_in_flight.saturating_sub(running);
        let n = free.min(self.ready.len());
        self.ready.drain(..n).collect()
    }

    fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.gate.waiting() == 0
    }
}

/// The lane's task (see the module docs).
async fn run(
    mut stage: Box<PictureStage>,
    shared: Arc<Shared>,
    policy: watch::Receiver<Arc<Policy>>,
    mut inputs: mpsc::Receiver<PictureInput>,
    cfg: LaneConfig,
    shutdown: CancellationToken,
) {
    let stop = CancellationToken::new();
    let mut views = Views {
        shared: shared.clone(),
        gate: OrderGate::default(),
        ready: VecDeque::new(),
        max_in_flight: cfg.max_in_flight.max(1),
    };
    let mut inflight = FuturesUnordered::new();
    let mut tick = tokio::time::interval(cfg.tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Held updates are published when their interval has passed (checked every quarter
    // interval, at least every 10 ms).
    let mut pacer = ViewPacer::new(cfg.min_update_interval);
    let mut pace =
        tokio::time::interval((cfg.min_update_interval / 4).max(Duration::from_millis(10)));
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut forget_rebuilt = Box::pin(tokio::time::sleep(cfg.forget_rebuilt_after));
    let mut rebuilt_forgotten = false;
    // The picture's clock: an input's processing time, never before the last time used
    // (ticks run on this task's own clock while inputs wait in the queue).
    let mut clock: Option<DateTime<Utc>> = None;
    let mut advance = |t: DateTime<Utc>| {
        let t = clock.map_or(t, |c| c.max(t));
        clock = Some(t);
        t
    };

    // After a rebuild: republish every destination's current view (unchanged ones are
    // duplicates JetStream drops).
    let changes = stage.all_events();
    if !changes.is_empty() {
        let now = advance(Utc::now());
        let p = policy.borrow().clone();
        views.admit(stage.outputs(&changes, now, &p, &shared.identity));
    }

    loop {
        for job in views.start(inflight.len()) {
            inflight.push(store_view(shared.clone(), job, stop.clone()));
        }
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(key) = inflight.next(), if !inflight.is_empty() => {
                let key: TrackKey = key;
                views.finish(&key);
            }
            _ = tick.tick() => {
                let now = advance(Utc::now());
                let changes = stage.tick(now);
                events::picture_changed(&changes);
                let changes = pacer.offer(changes, now);
                if !changes.is_empty() {
                    let p = policy.borrow().clone();
                    views.admit(stage.outputs(&changes, now, &p, &shared.identity));
                }
                for dest in Nation::ALL {
                    events::picture_size(dest, stage.correlator().membership(dest).len());
                }
            }
            _ = pace.tick(), if pacer.held() > 0 => {
                let now = advance(Utc::now());
                let changes = pacer.due(now);
                if !changes.is_empty() {
                    let p = policy.borrow().clone();
                    views.admit(stage.outputs(&changes, now, &p, &shared.identity));
                }
            }
            () = &mut forget_rebuilt, if !rebuilt_forgotten => {
                stage.forget_rebuilt();
                rebuilt_forgotten = true;
            }
            input = inputs.recv() => {
                let Some(PictureInput { env, at }) = input else { break };
                let now = advance(at);
                match stage.ingest(&env, now) {
                    Ok(changes) if changes.is_empty() => {}
                    Ok(changes) => {
                        events::picture_changed(&changes);
                        let changes = pacer.offer(changes, now);
                        if !changes.is_empty() {
                            let p = policy.borrow().clone();
                            views.admit(stage.outputs(&changes, now, &p, &shared.identity));
                        }
                    }
                    Err(e) => events::picture_ingest_failed(
                        &shared.stats,
                        &Subject::input_for(&env).to_string(),
                        &e.to_string(),
                    ),
                }
            }
        }
    }
    // Drain: store what is in flight and what waits behind it, in order, within the drain
    // timeout; then stop the retries (what is unstored is dropped and logged).
    let drain = async {
        loop {
            for job in views.start(inflight.len()) {
                inflight.push(store_view(shared.clone(), job, stop.clone()));
            }
            let Some(key) = inflight.next().await else {
                break;
            };
            views.finish(&key);
        }
    };
    if tokio::time::timeout(cfg.drain_timeout, drain)
        .await
        .is_err()
    {
        stop.cancel();
        let dropped = async { while inflight.next().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(2), dropped).await;
    }
    if !views.is_empty() {
        tracing::warn!(
            waiting = views.gate.waiting() + views.ready.len(),
            "shutdown: common event views not stored; the rebuild republishes them"
        );
    }
}

/// Store one destination's view of an event, retrying in place with backoff until it is
/// stored or the lane stops (then it is dropped: the next start-up rebuild republishes the
/// event). Returns the event's order key.
async fn store_view(shared: Arc<Shared>, job: PictureJob, stop: CancellationToken) -> TrackKey {
    let PictureJob { key, output: o } = job;
    let mut backoff = Backoff::new(
        shared.nak_delay.max(Duration::from_millis(50)),
        Duration::from_secs(5),
    );
    loop {
        let attempt = async {
            let js = shared
                .output_js(o.dest)
                .ok_or_else(|| format!("no account configured for destination {}", o.dest))?;
            let h = output_headers(o.msg_id.as_str());
            let ack = js
                .publish_with_headers(o.subject.clone(), h, o.body.clone())
                .await
                .map_err(|e| format!("publish {}: {e}", o.subject))?;
            ack.await
                .map_err(|e| format!("{} not acknowledged: {e}", o.subject))
        };
        match attempt.await {
            Ok(ack) => {
                events::picture_published(&shared.stats, o.dest, ack.duplicate);
                break;
            }
            Err(e) => events::picture_store_failed(&shared.stats, &o.subject, &e),
        }
        tokio::select! {
            () = stop.cancelled() => {
                events::picture_dropped(&o.subject);
                break;
            }
            () = tokio::time::sleep(backoff.next_delay()) => {}
        }
    }
    key
}
