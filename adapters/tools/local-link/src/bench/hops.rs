//! `trilink bench --hops`: where the end-to-end latency of the trilink path goes.
//!
//! Ordered consumers (admin users, one per store on the path) read the JetStream store time
//! of every benchmark message at each stream it passes, and the envelope carries the
//! adapter's `ingested_at` and the relay's `relayed_at`. With the bench's own send and
//! receive wall-clock instants that gives seven points per message (all on one machine, one
//! clock):
//!
//! `sent` → `ingested_at` (adapter-jp) → `IN_JP@jp` stored → `IN_JP@hub` stored (sourced over
//! the leaf link) → `relayed_at` (relay) → `OUT_KR@hub` stored → KR national subscriber
//! received (adapter-kr reads the hub's `OUT_KR` through the KR leaf — no leaf copy since
//! issue 17 — and publishes over MQTT via mosquitto).
//!
//! The probes add one delivery per store and message to the servers' work, so run it at
//! moderate rates and read the plain run's figures as the benchmark.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use async_nats::jetstream::{self, consumer::DeliverPolicy, consumer::pull};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, Role, Site};
use trilink_schema::{Envelope, Nation};

use crate::error::{Result, failed};

/// Points on the path, in order.
const STAGES: [&str; 7] = [
    "sent",
    "ingested",
    "IN_JP@jp",
    "IN_JP@hub",
    "relayed",
    "OUT_KR@hub",
    "received",
];
const SENT: usize = 0;
const INGESTED: usize = 1;
const RELAYED: usize = 4;
const RECEIVED: usize = 6;

type Points = [Option<DateTime<Utc>>; STAGES.len()];

/// Per-message timestamps collected while the bench runs.
#[derive(Clone, Default)]
pub struct Hops {
    points: Arc<Mutex<HashMap<u64, Points>>>,
}

impl Hops {
    fn set(&self, key: u64, stage: usize, at: DateTime<Utc>) {
        let mut map = self.points.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(key).or_insert([None; STAGES.len()]);
        if let Some(slot) = entry.get_mut(stage) {
            // First sighting only (a redelivery must not move a point).
            slot.get_or_insert(at);
        }
    }

    pub(crate) fn sent(&self, key: u64) {
        self.set(key, SENT, Utc::now());
    }

    pub(crate) fn received(&self, key: u64) {
        self.set(key, RECEIVED, Utc::now());
    }

    pub(crate) fn clear(&self) {
        self.points
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Start one ordered consumer per store on the path.
    pub(crate) async fn start_probes(&self, link: &Link, stop: &CancellationToken) -> Result<()> {
        let probes = [
            (Site::Jp, Nation::Jp, "IN_JP", 2),
            (Site::Hub, Nation::Jp, "IN_JP", 3),
            (Site::Hub, Nation::Kr, "OUT_KR", 5),
        ];
        for (site, account, stream, stage) in probes {
            let client = link
                .connect(Role::Admin(site, account))
                .await
                .map_err(|e| failed!("hops probe {stream}@{site}: {e}"))?;
            let js = jetstream::new(client);
            let consumer = js
                .get_stream(stream)
                .await
                .map_err(|e| failed!("hops probe {stream}@{site}: {e}"))?
                .create_consumer(pull::OrderedConfig {
                    deliver_policy: DeliverPolicy::New,
                    ..Default::default()
                })
                .await
                .map_err(|e| failed!("hops probe consumer {stream}@{site}: {e}"))?;
            let mut messages = consumer
                .messages()
                .await
                .map_err(|e| failed!("hops probe messages {stream}@{site}: {e}"))?;
            let hops = self.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    let msg = tokio::select! {
                        () = stop.cancelled() => return,
                        m = messages.next() => match m {
                            Some(Ok(m)) => m,
                            Some(Err(_)) => continue,
                            None => return,
                        },
                    };
                    let Ok(env) = Envelope::from_json(&msg.payload) else {
                        continue;
                    };
                    let key = super::measure::id_key(&env.message_id);
                    if let Ok(info) = msg.info() {
                        let nanos = info.published.unix_timestamp_nanos();
                        if let Ok(nanos) = i64::try_from(nanos) {
                            hops.set(key, stage, DateTime::from_timestamp_nanos(nanos));
                        }
                    }
                    hops.set(key, INGESTED, env.ingested_at);
                    if let Some(r) = env.relayed_at {
                        hops.set(key, RELAYED, r);
                    }
                }
            });
        }
        Ok(())
    }

    /// The per-hop table: percentiles of each hop over messages seen at every point, and for
    /// the slowest 1 % end to end, which hop took the largest share.
    pub(crate) fn report(&self) -> String {
        let map = self.points.lock().unwrap_or_else(PoisonError::into_inner);
        let complete: Vec<[DateTime<Utc>; STAGES.len()]> = map
            .values()
            .filter_map(|p| {
                let mut out = [DateTime::<Utc>::UNIX_EPOCH; STAGES.len()];
                for (o, v) in out.iter_mut().zip(p) {
                    *o = (*v)?;
                }
                Some(out)
            })
            .collect();
        let mut text = format!(
            "hops: {} of {} messages seen at every point (ms)\n{:<26} {:>8} {:>8} {:>8} {:>8}\n",
            complete.len(),
            map.len(),
            "hop",
            "p50",
            "p90",
            "p99",
            "max"
        );
        if complete.is_empty() {
            return text;
        }
        let ms = |a: DateTime<Utc>, b: DateTime<Utc>| {
            (b - a)
                .num_nanoseconds()
                .map_or(f64::NAN, |n| n as f64 / 1e6)
        };
        // Per message: the duration of each hop, and the total.
        let per_msg: Vec<(f64, Vec<f64>)> = complete
            .iter()
            .map(|p| {
                let hops: Vec<f64> = p
                    .windows(2)
                    .map(|w| match w {
                        [a, b] => ms(*a, *b),
                        _ => f64::NAN,
                    })
                    .collect();
                (ms(p[SENT], p[RECEIVED]), hops)
            })
            .collect();
        let hop_names: Vec<String> = STAGES.windows(2).map(|w| w.join(" → ")).collect();
        for (h, name) in hop_names.iter().enumerate() {
            let mut v: Vec<f64> = per_msg
                .iter()
                .map(|(_, hops)| hops.get(h).copied().unwrap_or(f64::NAN))
                .collect();
            v.sort_by(f64::total_cmp);
            text.push_str(&row(name, &v));
        }
        let mut totals: Vec<f64> = per_msg.iter().map(|(t, _)| *t).collect();
        totals.sort_by(f64::total_cmp);
        text.push_str(&row("total (wall clock)", &totals));
        // Blame for the slowest 1 %: which hop was the largest part of each.
        let tail = (per_msg.len() / 100).max(1);
        let mut by_total: Vec<&(f64, Vec<f64>)> = per_msg.iter().collect();
        by_total.sort_by(|a, b| b.0.total_cmp(&a.0));
        // When the slow ones were sent (s after the first send): periodic stalls show up as
        // clusters.
        let first = complete.iter().map(|p| p[SENT]).min();
        let mut when: Vec<f64> = by_total
            .iter()
            .take(tail)
            .filter_map(|m| {
                let f = first?;
                complete
                    .iter()
                    .find(|p| (ms(p[SENT], p[RECEIVED]) - m.0).abs() < f64::EPSILON)
                    .map(|p| ms(f, p[SENT]) / 1e3)
            })
            .collect();
        when.sort_by(f64::total_cmp);
        let mut clusters: Vec<(f64, usize)> = Vec::new();
        for t in when {
            match clusters.last_mut() {
                Some((start, n)) if t - *start < 0.1 => *n += 1,
                _ => clusters.push((t, 1)),
            }
        }
        let _ = writeln!(
            text,
            "slowest {tail} were sent at (s, count): {}",
            clusters
                .iter()
                .map(|(t, n)| format!("{t:.2}×{n}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let mut blame = vec![0usize; hop_names.len()];
        for (_, hops) in by_total.into_iter().take(tail) {
            let worst = hops
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map(|(i, _)| i);
            if let Some(b) = worst.and_then(|w| blame.get_mut(w)) {
                *b += 1;
            }
        }
        let _ = write!(text, "slowest {tail}: largest hop was ");
        let parts: Vec<String> = hop_names
            .iter()
            .zip(&blame)
            .filter(|(_, n)| **n > 0)
            .map(|(h, n)| format!("{h} ×{n}"))
            .collect();
        text.push_str(&parts.join(", "));
        text.push('\n');
        text
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

fn row(name: &str, sorted: &[f64]) -> String {
    format!(
        "{name:<26} {:>8.2} {:>8.2} {:>8.2} {:>8.2}\n",
        pct(sorted, 50.0),
        pct(sorted, 90.0),
        pct(sorted, 99.0),
        sorted.last().copied().unwrap_or(f64::NAN)
    )
}
