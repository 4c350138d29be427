//! The clock thread: for each message, prepare it, wait for its due instant with the
//! [`Pacer`] (sleep, then a bounded spin), hand it to its sink, and record the timing error =
//! the instant the send call returned − the due instant.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use trilink_capture::{Scheduler, Speed, TimingErrors};
use trilink_schema::Nation;

use crate::Notice;
use crate::load::ReplayMessage;
use crate::pacer::Pacer;
use crate::rewrite::MessageRewriter;
use crate::schedstat::SchedSnap;
use crate::sink::Sink;

/// `--timing-trace` columns: pass, index in the pass, nation, due instant (ms after the
/// start), timing error, duration of the send call, how long before the due instant the last
/// OS sleep returned (negative: the wake-up itself was late; empty: no sleep), time the clock
/// thread spent runnable but waiting for a CPU between the start of the wait and the end of
/// the send, and involuntary context switches in that interval.
pub const TRACE_HEADER: &str = "pass,index,nation,due_ms,error_us,send_call_us,woke_before_due_us,runqueue_wait_us,involuntary_switches";

/// What the clock thread is given.
#[derive(Debug)]
pub struct ClockJob {
    pub items: Vec<ReplayMessage>,
    pub sinks: BTreeMap<Nation, Sink>,
    pub nats: Option<Sink>,
    pub speed: Speed,
    pub pacer: Pacer,
    pub loops: Option<u64>,
    pub trace: bool,
    /// `--mode`/`--timestamps` rewriting, applied pass by pass (`None`: send as loaded).
    pub rewriter: Option<MessageRewriter>,
    /// Remember a digest of every body sent (to find them among dead letters).
    pub digests: bool,
}

/// The wall-clock time of a (near) monotonic instant.
pub fn utc_at(at: Instant) -> DateTime<Utc> {
    let now = Instant::now();
    let utc = Utc::now();
    let delta = |d: Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    if at >= now {
        utc.checked_add_signed(delta(at - now)).unwrap_or(utc)
    } else {
        utc.checked_sub_signed(delta(now - at)).unwrap_or(utc)
    }
}

/// What the clock thread hands back.
#[derive(Debug)]
pub struct ClockOutcome {
    pub sinks: BTreeMap<Nation, Sink>,
    pub nats: Option<Sink>,
    pub sent: BTreeMap<Nation, u64>,
    pub failed: u64,
    pub no_target: u64,
    pub passes: u64,
    pub interrupted: bool,
    pub elapsed: Duration,
    pub timing: TimingErrors,
    /// Due instants of the MQTT publishes, in order (paced replays only).
    pub mqtt_due: Vec<Instant>,
    pub trace: Vec<String>,
    /// [`crate::watch::digest`] of every body sent (with [`ClockJob::digests`]).
    pub sent_digests: HashSet<u64>,
}

/// Sending position, read by the progress bar ticker.
#[derive(Debug, Default)]
pub struct Progress {
    pub done_in_pass: AtomicU64,
    pub pass: AtomicU64,
}

/// The replay loop, on its own OS thread: for each item, prepare it, wait for its due instant
/// with the [`Pacer`] (sleep, then a bounded spin), hand it to its sink, and record the timing
/// error = the instant the send call returned − the due instant.
pub fn run_clock(
    job: ClockJob,
    rt: &Handle,
    stop: &CancellationToken,
    progress: &Progress,
    notice: &Notice,
) -> ClockOutcome {
    let ClockJob {
        items,
        mut sinks,
        mut nats,
        speed,
        pacer,
        loops,
        trace,
        rewriter,
        digests,
    } = job;
    let mut out = ClockOutcome {
        sinks: BTreeMap::new(),
        nats: None,
        sent: BTreeMap::new(),
        failed: 0,
        no_target: 0,
        passes: 0,
        interrupted: false,
        elapsed: Duration::ZERO,
        timing: TimingErrors::new(),
        mqtt_due: Vec::new(),
        trace: Vec::new(),
        sent_digests: HashSet::new(),
    };
    if trace {
        out.trace.push(TRACE_HEADER.to_owned());
    }
    let paced = matches!(speed, Speed::Factor(_));
    let started = Instant::now();
    let lead = Duration::from_millis(20);
    let mut sched = Scheduler::new(speed, started + lead);
    let mut failures_shown = 0;
    'passes: loop {
        let pass_start = if out.passes > 0 {
            let at = Instant::now() + lead;
            sched.restart(at);
            at
        } else {
            started + lead
        };
        let rw = rewriter
            .as_ref()
            .filter(|r| !r.is_identity())
            .map(|r| (r, r.for_pass(utc_at(pass_start))));
        out.passes += 1;
        progress.pass.store(out.passes, Ordering::Relaxed);
        progress.done_in_pass.store(0, Ordering::Relaxed);
        for (index, item) in items.iter().enumerate() {
            let due = sched.due(item.ts);
            let sink = match &mut nats {
                Some(s) => Some(s),
                None => sinks.get_mut(&item.nation),
            };
            let Some(sink) = sink else {
                out.no_target += 1;
                progress.done_in_pass.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let rewritten;
            let item = match &rw {
                Some((r, rw)) => match r.message(item, rw) {
                    Ok(i) => {
                        rewritten = i;
                        &rewritten
                    }
                    Err(e) => {
                        out.failed += 1;
                        if failures_shown < 5 {
                            failures_shown += 1;
                            notice(&format!("rewriting a {} message: {e}", item.nation));
                        }
                        progress.done_in_pass.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                None => item,
            };
            let prepared = sink.prepare(item);
            let before = trace.then(SchedSnap::now);
            let Ok(woke) = pacer.wait_until(due, || stop.is_cancelled()) else {
                out.interrupted = true;
                break 'passes;
            };
            let call = Instant::now();
            let res = sink.send(prepared, rt, stop);
            let sent_at = Instant::now();
            if paced {
                out.timing.record(due, sent_at);
                if matches!(sink, Sink::Mqtt(_)) && res.is_ok() {
                    out.mqtt_due.push(due);
                }
            }
            if let Some(before) = before {
                let after = SchedSnap::now();
                out.trace.push(format!(
                    "{},{index},{},{:.3},{:.1},{:.1},{},{:.1},{}",
                    out.passes,
                    item.nation,
                    signed_us(due, started) / 1e3,
                    signed_us(sent_at, due),
                    signed_us(sent_at, call),
                    woke.map(|w| format!("{:.1}", signed_us(due, w)))
                        .unwrap_or_default(),
                    after
                        .runqueue_wait_ns
                        .saturating_sub(before.runqueue_wait_ns) as f64
                        / 1e3,
                    after
                        .involuntary_switches
                        .saturating_sub(before.involuntary_switches),
                ));
            }
            match res {
                Ok(()) => {
                    *out.sent.entry(item.nation).or_default() += 1;
                    if digests {
                        out.sent_digests.insert(crate::watch::digest(item.body()));
                    }
                }
                Err(e) => {
                    out.failed += 1;
                    if failures_shown < 5 {
                        failures_shown += 1;
                        notice(&format!("sending a {} message: {e}", item.nation));
                    }
                }
            }
            progress.done_in_pass.fetch_add(1, Ordering::Relaxed);
        }
        match loops {
            None => break,
            Some(0) => {}
            Some(n) if out.passes >= n => break,
            Some(_) => {}
        }
        if items.is_empty() {
            break;
        }
    }
    out.elapsed = started.elapsed();
    out.sinks = sinks;
    out.nats = nats;
    out
}

/// `a − b` in microseconds, signed.
pub fn signed_us(a: Instant, b: Instant) -> f64 {
    if a >= b {
        a.duration_since(b).as_secs_f64() * 1e6
    } else {
        -(b.duration_since(a).as_secs_f64() * 1e6)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use super::*;
    use crate::load::Content;

    fn quiet() -> Notice {
        Arc::new(|_: &str| {})
    }

    fn udp_items(offsets_ms: &[i64]) -> Vec<ReplayMessage> {
        let base = Utc::now();
        offsets_ms
            .iter()
            .enumerate()
            .map(|(i, ms)| ReplayMessage {
                ts: base + chrono::Duration::milliseconds(*ms),
                nation: if i % 4 == 3 { Nation::Us } else { Nation::Jp },
                content: Content::National {
                    raw: Bytes::from(format!("frame {i}")),
                    topic: None,
                },
            })
            .collect()
    }

    /// The clock thread's loop over a capture with bursts (equal timestamps), gaps and a
    /// timestamp earlier than its predecessor, two passes: every frame goes out exactly once
    /// per pass, in capture order, none before its due instant, each with a timing sample.
    #[test]
    fn clock_sends_every_frame_once_in_capture_order_never_early() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let jp_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let us_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let offsets_ms = [0, 0, 0, 5, 6, 6, 20, 15, 30, 30, 30, 30, 31, 50];
        let items = udp_items(&offsets_ms);
        let n = items.len();
        let sinks = BTreeMap::from([
            (
                Nation::Jp,
                Sink::Udp(
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    jp_rx.local_addr().unwrap(),
                ),
            ),
            (
                Nation::Us,
                Sink::Udp(
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    us_rx.local_addr().unwrap(),
                ),
            ),
        ]);
        let job = ClockJob {
            items,
            sinks,
            nats: None,
            speed: Speed::factor(2.0).unwrap(),
            pacer: Pacer::new(Pacer::DEFAULT_SPIN),
            loops: Some(2),
            trace: true,
            rewriter: None,
            digests: true,
        };
        let progress = Progress::default();
        let out = run_clock(
            job,
            rt.handle(),
            &CancellationToken::new(),
            &progress,
            &quiet(),
        );
        assert!(!out.interrupted);
        assert_eq!(out.passes, 2);
        assert_eq!(out.failed + out.no_target, 0);
        let us_frames = (0..n).filter(|i| i % 4 == 3).count() as u64;
        assert_eq!(out.sent.get(&Nation::Us), Some(&(2 * us_frames)));
        assert_eq!(
            out.sent.get(&Nation::Jp),
            Some(&(2 * (n as u64 - us_frames)))
        );
        let timing = out.timing.summary().unwrap();
        assert_eq!(timing.count, 2 * n);
        assert_eq!(timing.early, 0, "a frame went out before its due instant");
        assert_eq!(out.trace.len(), 1 + 2 * n);
        assert_eq!(
            out.sent_digests.len(),
            n,
            "one digest per distinct frame sent"
        );
        assert!(out.sent_digests.contains(&crate::watch::digest(b"frame 0")));
        assert_eq!(progress.done_in_pass.load(Ordering::Relaxed), n as u64);
        // what arrived, per receiver, in order
        let mut buf = [0_u8; 64];
        for (rx, keep) in [(&jp_rx, 0..3_usize), (&us_rx, 3..4)] {
            rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let expected: Vec<String> = (0..2)
                .flat_map(|_| (0..n).filter(|i| keep.contains(&(i % 4))))
                .map(|i| format!("frame {i}"))
                .collect();
            let got: Vec<String> = expected
                .iter()
                .map(|_| {
                    let len = rx.recv(&mut buf).unwrap();
                    String::from_utf8(buf[..len].to_vec()).unwrap()
                })
                .collect();
            assert_eq!(got, expected);
            rx.set_nonblocking(true).unwrap();
            assert!(rx.recv(&mut buf).is_err(), "a frame was sent twice");
        }
    }

    #[test]
    fn clock_stopped_before_the_first_due_instant_sends_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let stop = CancellationToken::new();
        stop.cancel();
        let job = ClockJob {
            items: udp_items(&[0, 1_000]),
            sinks: BTreeMap::from([(
                Nation::Jp,
                Sink::Udp(
                    std::net::UdpSocket::bind("127.0.0.1:0").unwrap(),
                    rx.local_addr().unwrap(),
                ),
            )]),
            nats: None,
            speed: Speed::factor(1.0).unwrap(),
            pacer: Pacer::new(Pacer::DEFAULT_SPIN),
            loops: None,
            trace: false,
            rewriter: None,
            digests: false,
        };
        let out = run_clock(job, rt.handle(), &stop, &Progress::default(), &quiet());
        assert!(out.interrupted);
        assert!(out.sent.is_empty());
        assert!(out.timing.is_empty());
        assert!(out.trace.is_empty());
    }
}
