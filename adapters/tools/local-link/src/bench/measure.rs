//! The benchmark's measuring: offering traffic at a rate, matching what arrives with what
//! was sent, and the figures of one path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::cpu::{cpu_report, cpu_snapshot, rss_report};
use crate::latency::Latencies;
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use trilink_runtime::mqtt_client::{MqttClient, MqttClientOptions};
use trilink_schema::{
    Envelope, GeoPoint, LaunchDetection, MessageId, MissileClass, Mode, Nation, Payload,
    PositionUncertainty, Source, TrackId,
};

/// Figures of one path.
#[derive(Debug, Clone, Default)]
pub struct PathResult {
    /// Messages sent.
    pub sent: u64,
    /// Messages received (first copy).
    pub received: u64,
    /// Duplicate copies received.
    pub duplicates: u64,
    /// Sending time, s.
    pub send_s: f64,
    /// First send to last receive, s.
    pub span_s: f64,
    /// Latencies of the first copies.
    pub latencies: Latencies,
    /// CPU time per delivered message of each process on the path.
    pub cpu: String,
    /// CPU time per delivered message summed over every process on the path, µs.
    pub cpu_total_us: f64,
    /// Resident memory of every process on the path after the run.
    pub rss: String,
    /// Arrivals of messages sent before this run (a previous run's backlog): not counted.
    pub stale: u64,
}

impl PathResult {
    pub(crate) fn pct(&self, p: f64) -> f64 {
        self.latencies.percentile_ms(p).unwrap_or(f64::NAN)
    }
    pub(crate) fn throughput(&self) -> f64 {
        if self.span_s > 0.0 {
            self.received as f64 / self.span_s
        } else {
            0.0
        }
    }
    /// The table cells of this path: name, sent, recv, dup, recv/s, p50, p90, p99, max (ms),
    /// CPU µs per message (all processes).
    pub(crate) fn row(&self, name: &str) -> Vec<String> {
        vec![
            name.to_owned(),
            self.sent.to_string(),
            self.received.to_string(),
            self.duplicates.to_string(),
            format!("{:.0}", self.throughput()),
            format!("{:.2}", self.pct(50.0)),
            format!("{:.2}", self.pct(90.0)),
            format!("{:.2}", self.pct(99.0)),
            format!("{:.2}", self.latencies.max_ms().unwrap_or(f64::NAN)),
            format!("{:.0}", self.cpu_total_us),
        ]
    }
}

/// The messages of the current run by key: the instant each was sent, `None` once it arrived
/// (so that a second copy is told from a message of an earlier run, which is not here).
pub(crate) type Inflight = Arc<Mutex<HashMap<u64, Option<Instant>>>>;

/// What arrived on one path: first copies with their latencies, duplicates, and arrivals of
/// messages of an earlier run.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    received: u64,
    duplicates: u64,
    stale: u64,
    last: Option<Instant>,
    /// The last arrival of anything (first copy, duplicate or stale).
    last_any: Option<Instant>,
    latencies: Latencies,
}

pub(crate) fn note(inflight: &Inflight, tally: &Arc<Mutex<Arrivals>>, key: u64) {
    let now = Instant::now();
    let sent = inflight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_mut(&key)
        .map(Option::take);
    let mut t = tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    t.last_any = Some(now);
    match sent {
        Some(Some(at)) => {
            t.received += 1;
            t.latencies
                .record_ms(now.duration_since(at).as_secs_f64() * 1_000.0);
            t.last = Some(now);
        }
        // Arrived before: a second copy.
        Some(None) => t.duplicates += 1,
        // Not sent in this run: a late arrival of an earlier run.
        None => t.stale += 1,
    }
}

/// Start a new run: forget what was sent and what arrived.
pub(crate) fn reset(inflight: &Inflight, tally: &Arc<Mutex<Arrivals>>) {
    inflight
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clear();
    let mut t = tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    *t = Arrivals {
        last_any: t.last_any,
        ..Arrivals::default()
    };
}

/// Wait until nothing has arrived for `quiet` (an earlier run's backlog has drained), at most
/// `within`. Returns whether it got quiet.
pub(crate) async fn quiesce(
    tally: &Arc<Mutex<Arrivals>>,
    quiet: Duration,
    within: Duration,
) -> bool {
    let deadline = Instant::now() + within;
    let started = Instant::now();
    loop {
        let last = tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .last_any
            .unwrap_or(started)
            .max(started);
        if last.elapsed() >= quiet {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn id_key(id: &MessageId) -> u64 {
    id.as_uuid().as_u64_pair().0
}

/// Message `i` of a run: a JP launch detection of track `BENCH` (one track) or `BENCH-<i mod
/// tracks>` (several: the relay keeps each track's order, so one track's inputs are stored one
/// after another while different tracks' overlap).
pub(crate) fn template(run: &str, i: u64, tracks: u32) -> Envelope {
    let now = Utc::now();
    Envelope::new(
        Nation::Jp,
        Source {
            system: "jadgex".into(),
            sensor: "bench".into(),
            national_message_id: format!("{run}-{i}"),
        },
        now,
        now,
        Mode::Test,
        Nation::ALL.into_iter().collect(),
        Payload::LaunchDetection(LaunchDetection {
            track_id: if tracks <= 1 {
                TrackId::new("BENCH")
            } else {
                TrackId::new(format!("BENCH-{}", i % u64::from(tracks)))
            }
            .unwrap_or_else(|e| unreachable!("{e}")),
            launch_time: now,
            launch_point: GeoPoint {
                lat_deg: 39.66,
                lon_deg: 124.7,
                alt_m: 10.0,
            },
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 1000.0,
                vertical_m: 500.0,
            },
            missile_class: MissileClass::Unknown,
            confidence: 0.5,
        }),
    )
}

/// Offer traffic at `rate` for `duration`; `send(i)` sends message `i` and returns its key.
pub(crate) async fn drive<F, Fut>(
    rate: u64,
    duration: Duration,
    inflight: &Inflight,
    mut send: F,
) -> (u64, f64)
where
    F: FnMut(u64) -> (u64, Fut),
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    let mut i = 0u64;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= duration {
            break;
        }
        let due = if rate == 0 {
            i + 256
        } else {
            (elapsed.as_secs_f64() * rate as f64) as u64 + 1
        };
        while i < due {
            // Record the send instant before sending, so a fast reply is never missed.
            let (key, fut) = send(i);
            let lock = || {
                inflight
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
            };
            lock().insert(key, Some(Instant::now()));
            if !fut.await {
                lock().remove(&key);
            }
            i += 1;
        }
        if rate == 0 {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
    (i, start.elapsed().as_secs_f64())
}

pub(crate) async fn collect(
    tally: &Arc<Mutex<Arrivals>>,
    sent: u64,
    drain: Duration,
    start: Instant,
    send_s: f64,
) -> PathResult {
    let deadline = Instant::now() + drain;
    loop {
        let received = tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .received;
        if received >= sent || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = std::mem::take(
        &mut *tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    PathResult {
        sent,
        received: t.received,
        duplicates: t.duplicates,
        send_s,
        span_s: t
            .last
            .map_or(0.0, |l| l.duration_since(start).as_secs_f64()),
        latencies: t.latencies,
        cpu: String::new(),
        cpu_total_us: 0.0,
        rss: String::new(),
        stale: t.stale,
    }
}

pub(crate) fn mqtt_subscriber<F>(
    port: u16,
    id: &str,
    topic: &str,
    on: F,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(&[u8]) + Send + 'static,
{
    let opts = MqttClientOptions::new(id, "127.0.0.1", port)
        .capacity(10_000)
        .retry_after(Duration::from_millis(100));
    let topic = topic.to_owned();
    tokio::spawn(async move {
        let (client, mut incoming) = MqttClient::start(opts, &stop);
        let _ = client.subscribe(&topic).await;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                p = incoming.recv() => match p {
                    Some(p) => on(&p.payload),
                    None => return,
                },
            }
        }
    })
}

/// What one path needs to be measured: the messages of the current run, what arrived, and the
/// processes whose CPU time and memory are accounted to it.
#[derive(Clone)]
pub(crate) struct Probe {
    pub(crate) inflight: Inflight,
    pub(crate) tally: Arc<Mutex<Arrivals>>,
    procs: Vec<(String, u32)>,
}

impl Probe {
    pub(crate) fn new(procs: Vec<(String, u32)>) -> Self {
        Self {
            inflight: Arc::default(),
            tally: Arc::default(),
            procs,
        }
    }

    /// A probe of `procs` whose arrivals are what the KR national system (`client_id`,
    /// subscribed to `topic` on the KR broker at `mqtt_port` until `stop`) receives from a raw
    /// baseline: payloads that start with the 8-byte key of the frame they carry.
    pub(crate) fn keyed_mqtt(
        procs: &[(String, u32)],
        mqtt_port: u16,
        client_id: &str,
        topic: &str,
        stop: &CancellationToken,
    ) -> Self {
        let probe = Self::new(procs.to_vec());
        let (i2, t2) = (probe.inflight.clone(), probe.tally.clone());
        mqtt_subscriber(
            mqtt_port,
            client_id,
            topic,
            move |payload| {
                if let Some(k) = payload.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) {
                    note(&i2, &t2, u64::from_be_bytes(k));
                }
            },
            stop.clone(),
        );
        probe
    }

    /// One run: offer `rate` for `duration` through `send` (as [`drive`]), wait up to `drain`
    /// for the last arrivals; with the CPU time per delivered message and the memory of every
    /// process.
    pub(crate) async fn run<F, Fut>(
        &self,
        rate: u64,
        duration: Duration,
        drain: Duration,
        send: F,
    ) -> PathResult
    where
        F: FnMut(u64) -> (u64, Fut),
        Fut: std::future::Future<Output = bool>,
    {
        reset(&self.inflight, &self.tally);
        let before = cpu_snapshot(&self.procs);
        let start = Instant::now();
        let (sent, send_s) = drive(rate, duration, &self.inflight, send).await;
        let mut r = collect(&self.tally, sent, drain, start, send_s).await;
        let (cpu, total) = cpu_report(&self.procs, &before, &cpu_snapshot(&self.procs), r.received);
        r.cpu = cpu;
        r.cpu_total_us = total;
        r.rss = rss_report(&self.procs);
        r
    }
}

/// A path set up and ready to be measured at any rate, any number of times.
pub(crate) trait Measured {
    /// Its probe.
    fn probe(&self) -> &Probe;
    /// One run at `rate` (0: as fast as possible) for `duration`, then up to `drain` for the
    /// last arrivals.
    async fn step(&mut self, rate: u64, duration: Duration, drain: Duration) -> PathResult;
    /// Wait until an earlier run's backlog has drained (nothing arrived for a second), at most
    /// `within`; whether it did.
    async fn quiesce(&self, within: Duration) -> bool {
        quiesce(&self.probe().tally, Duration::from_secs(1), within).await
    }
}
