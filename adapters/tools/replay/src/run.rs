//! A replay from start to end: connect the sinks the loaded messages need, run the clock
//! thread, wait for it, collect the acknowledgements and fill the [`ReplaySummary`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use trilink_capture::TimingErrors;
use trilink_schema::Nation;

use crate::Notice;
use crate::clock::{ClockJob, Progress, run_clock};
use crate::load::{LoadedCapture, load, message_rewriter};
use crate::options::ReplayOptions;
use crate::pacer::Pacer;
use crate::realtime::{ClockScheduling, raise_to_realtime};
use crate::rewrite::real_world_refusal;
use crate::sink::{FINISH_PATIENCE, FINISH_PATIENCE_STOPPED, NatsSink, Sink, connect_target};
use crate::summary::ReplaySummary;
use crate::watch::Watcher;

/// Read and load `opts.capture`, then [`replay`] it: what `trilink replay` does, on the
/// caller's tokio runtime (for tests and benchmarks; timing is best on a current-thread
/// runtime, which the command uses).
pub async fn replay_file(
    opts: &ReplayOptions,
    stop: &CancellationToken,
    notice: &Notice,
    progress: &Arc<Progress>,
) -> Result<ReplaySummary, ReplayError> {
    let file = opts.capture.display().to_string();
    let data = std::fs::read(&opts.capture).map_err(|source| ReplayError::Read {
        file: file.clone(),
        source,
    })?;
    let loaded = load(opts, &file, &data).map_err(ReplayError::Load)?;
    drop(data);
    replay(opts, loaded, stop, notice, progress).await
}

/// Send `loaded` as `opts` says until done or `stop`. Messages the clock thread could not
/// send are counted in the summary; `notice` is told the first few reasons (and anything
/// else a person watching should know), `progress` where the sending is.
pub async fn replay(
    opts: &ReplayOptions,
    loaded: LoadedCapture,
    stop: &CancellationToken,
    notice: &Notice,
    progress: &Arc<Progress>,
) -> Result<ReplaySummary, ReplayError> {
    // Never a real-world warning by accident: refused before any connection is made.
    if loaded.real_world > 0 && !opts.real_world {
        return Err(ReplayError::RealWorld(loaded.real_world));
    }
    let mut summary = ReplaySummary {
        format: loaded.format,
        in_capture: loaded.total,
        filtered_out: loaded.filtered_out,
        rejected: loaded.rejected,
        unmapped: loaded.unmapped,
        mode: opts.mode.as_str(),
        timestamps: opts.timestamps.as_str(),
        recorded_real_world: loaded.recorded_real_world,
        real_world: loaded.real_world,
        ..ReplaySummary::default()
    };
    let rewriter = message_rewriter(opts, &loaded.messages);
    // Every wait before the first send (the dead-letter watch, the targets) ends at a stop
    // request: the replay then ends as interrupted, having sent nothing.
    let interrupted = |mut summary: ReplaySummary| {
        summary.interrupted = true;
        Ok(summary)
    };
    // The dead-letter watch first: then nothing the replay sends can be rejected unheard.
    let watcher = match &opts.dead_letters {
        Some(spec) => match Watcher::start(spec, stop).await {
            Ok(w) => Some(w),
            Err(_) if stop.is_cancelled() => return interrupted(summary),
            Err(e) => return Err(ReplayError::Watch(e)),
        },
        None => None,
    };
    // Connect the sinks needed.
    let mut sinks: BTreeMap<Nation, Sink> = BTreeMap::new();
    let mut nats: Option<Sink> = None;
    let nations: BTreeSet<Nation> = loaded.messages.iter().map(|i| i.nation).collect();
    if loaded.format == "jsonl" {
        if !loaded.messages.is_empty() {
            let sink = tokio::select! {
                s = NatsSink::connect(opts.nats.as_ref()) => s.map_err(ReplayError::Nats)?,
                () = stop.cancelled() => return interrupted(summary),
            };
            nats = Some(Sink::Nats(Box::new(sink)));
        }
    } else {
        for n in &nations {
            if let Some(t) = opts.targets.get(n) {
                let sink = tokio::select! {
                    s = connect_target(t, notice) => s.map_err(|message| ReplayError::Target {
                        nation: *n,
                        message,
                    })?,
                    () = stop.cancelled() => return interrupted(summary),
                };
                sinks.insert(*n, sink);
            }
        }
        let missing: Vec<String> = nations
            .iter()
            .filter(|n| !opts.targets.contains_key(n))
            .map(ToString::to_string)
            .collect();
        if !missing.is_empty() {
            notice(&format!(
                "no target for {} (their messages are not sent; use --nation to select, or give a target)",
                missing.join(", ")
            ));
        }
    }
    let job = ClockJob {
        items: loaded.messages,
        sinks,
        nats,
        speed: opts.speed,
        pacer: Pacer::new(opts.spin),
        loops: opts.loops,
        trace: opts.timing_trace.is_some(),
        rewriter,
        digests: watcher.is_some(),
    };
    // The sending runs on its own OS thread, paced by sleeping and spinning there; this
    // runtime keeps the MQTT/NATS connections (and the caller's progress display and Ctrl-C).
    // If this future is dropped mid-replay, the guard stops the clock thread too.
    let clock_stop = stop.child_token();
    let _stop_clock_on_drop = clock_stop.clone().drop_guard();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let rt_priority = opts.realtime_priority();
    {
        let (rt, stop, progress, notice) = (
            Handle::current(),
            clock_stop,
            progress.clone(),
            notice.clone(),
        );
        std::thread::Builder::new()
            .name("replay-clock".into())
            .spawn(move || {
                let scheduling = raise_to_realtime(rt_priority);
                if let ClockScheduling::Refused { priority, reason } = &scheduling {
                    notice(&format!(
                        "real-time priority {priority} for the clock thread refused ({reason}); \
                         it runs with normal scheduling, so other busy processes can delay sends by milliseconds \
                         (allow it with CAP_SYS_NICE or RLIMIT_RTPRIO, e.g. `ulimit -r {priority}` or systemd LimitRTPRIO=; \
                         --rt-priority 0 asks for normal scheduling)"
                    ));
                }
                let out = run_clock(job, &rt, &stop, &progress, &notice);
                let _ = done_tx.send((scheduling, out));
            })
            .map_err(|e| ReplayError::Clock(format!("starting the replay clock thread: {e}")))?;
    }
    let (scheduling, out) = done_rx.await.map_err(|_| {
        ReplayError::Clock("the replay clock thread stopped without a result".into())
    })?;
    summary.clock_scheduling = scheduling;
    summary.sent = out.sent;
    summary.failed = out.failed;
    summary.no_target = out.no_target;
    summary.passes = out.passes;
    summary.interrupted = out.interrupted;
    summary.elapsed = out.elapsed;
    // Acknowledgements still outstanding: waited for, but not long after a stop request.
    let patience = if stop.is_cancelled() {
        FINISH_PATIENCE_STOPPED
    } else {
        FINISH_PATIENCE
    };
    if let Some(s) = out.nats {
        let (failed, why) = s.finish_with_reason(patience).await;
        summary.failed += failed;
        if summary.failure_reason.is_none() {
            summary.failure_reason = why;
        }
    }
    let mut written: Vec<Instant> = Vec::new();
    for (_, s) in out.sinks {
        summary.reconnects += s.reconnects();
        let (failed, writes) = s.finish(patience).await;
        summary.failed += failed;
        written.extend(writes);
    }
    if let Some(w) = watcher {
        summary.dead_letters = Some(w.finish(&out.sent_digests, stop).await);
    }
    summary.timing = out.timing.summary();
    // MQTT: the timing error above is the hand-off to the client's queue; also report when
    // the event loop wrote each PUBLISH to the broker connection (same order as published).
    if !out.mqtt_due.is_empty() && written.len() == out.mqtt_due.len() {
        let mut e = TimingErrors::new();
        for (due, at) in out.mqtt_due.iter().zip(&written) {
            e.record(*due, *at);
        }
        summary.mqtt_wire = e.summary();
    }
    if let Some(p) = &opts.timing_trace {
        std::fs::write(p, out.trace.join("\n") + "\n").map_err(|source| ReplayError::Trace {
            path: p.display().to_string(),
            source,
        })?;
    }
    Ok(summary)
}

/// Why a replay stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The capture file could not be read.
    #[error("reading {file}: {source}")]
    Read {
        /// The capture.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The capture (or its map) could not be loaded; nothing was sent.
    #[error("{0}")]
    Load(String),
    /// Messages would be sent as real_world without `real_world`; nothing was sent.
    #[error("{}", real_world_refusal(*.0))]
    RealWorld(u64),
    /// A national target could not be reached.
    #[error("{nation} target: {message}")]
    Target {
        /// Whose.
        nation: Nation,
        /// Why.
        message: String,
    },
    /// The NATS server could not be reached.
    #[error("{0}")]
    Nats(String),
    /// The dead-letter watch could not be set up; nothing was sent.
    #[error("{0}")]
    Watch(String),
    /// The clock thread could not be started or ended without a result.
    #[error("{0}")]
    Clock(String),
    /// The timing trace could not be written.
    #[error("writing {path}: {source}")]
    Trace {
        /// The trace file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}
