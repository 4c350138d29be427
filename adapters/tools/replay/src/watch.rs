//! What the link did with what a replay sent: a core NATS subscription to a site's dead-letter
//! subject ([`DeadLetterWatch`]), made before the first send and kept after the last one until
//! no dead letter has come for a settle time. A dead letter is the replay's when its body is exactly the bytes of a message
//! the replay sent (national frame, MQTT payload, envelope: the rejecting component keeps the
//! original bytes, `trilink_runtime::nats::dead_letter`); the others on the subject in that time
//! are counted apart. [`DeadLetterReport`] holds the counts per `Tl-Reason`.

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;
use trilink_schema::{Nation, headers};

use crate::options::DeadLetterWatch;
use crate::sink::nats::{ServerErrors, connect_client_with};

/// The digest a sent message is remembered by (bodies are compared by it).
pub fn digest(body: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    body.hash(&mut h);
    h.finish()
}

/// Dead letters seen on the watched subject while the replay ran (and `settle` after it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterReport {
    /// The site watched.
    pub site: Option<Nation>,
    /// The subject watched.
    pub subject: String,
    /// The replay's own messages dead-lettered, per reason (`Tl-Reason`).
    pub by_reason: BTreeMap<String, u64>,
    /// The first detail (`Tl-Detail`) per reason.
    pub first_detail: BTreeMap<String, String>,
    /// Dead letters on the subject in that time whose body is nothing the replay sent (other
    /// traffic at the site, or a part of a sent message).
    pub other: u64,
    /// How long it listened after the last send.
    pub settled: Duration,
    /// The server's error on the watching connection, if it said one (then dead letters may
    /// have gone unheard).
    pub server_error: Option<String>,
}

impl DeadLetterReport {
    /// The replay's own messages dead-lettered.
    pub fn total(&self) -> u64 {
        self.by_reason.values().sum()
    }

    /// `future_timestamp 98, bad_crc 2`.
    pub fn reasons_text(&self) -> String {
        self.by_reason
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// One dead letter as heard: reason, detail, body digest.
#[derive(Debug, Clone)]
struct Heard {
    reason: String,
    detail: String,
    digest: u64,
}

/// A running watch: the subscription is made (and flushed to the server) when this exists.
#[derive(Debug)]
pub struct Watcher {
    spec: DeadLetterWatch,
    done: CancellationToken,
    task: tokio::task::JoinHandle<Vec<Heard>>,
    errors: ServerErrors,
    /// Dead letters heard so far (any, the replay's or not).
    heard: Arc<AtomicU64>,
}

/// A watch ends after a settle time without a dead letter, or after this many settle times
/// while they keep coming (a site under load rejects late; a busy site never goes quiet).
pub const MAX_SETTLE_ROUNDS: u32 = 15;

fn first_error(errors: &ServerErrors) -> Option<String> {
    errors.lock().ok().and_then(|e| e.clone())
}

impl Watcher {
    /// Connect, subscribe and make sure the server has the subscription before returning
    /// (then no dead letter of the first send can be missed). Returns early with `Err` when
    /// `stop` is cancelled.
    pub async fn start(spec: &DeadLetterWatch, stop: &CancellationToken) -> Result<Self, String> {
        let what = format!(
            "dead-letter watch on {} at {}",
            spec.subject, spec.target.url
        );
        let errors = ServerErrors::default();
        let connect = async {
            let client =
                connect_client_with(&spec.target, "trilink-replay-dlq", Some(errors.clone()))
                    .await?;
            let sub = client
                .subscribe(spec.subject.clone())
                .await
                .map_err(|e| format!("subscribing to {}: {e}", spec.subject))?;
            tokio::time::timeout(Duration::from_secs(10), client.flush())
                .await
                .map_err(|_| format!("subscribing to {}: no answer in 10 s", spec.subject))?
                .map_err(|e| format!("subscribing to {}: {e}", spec.subject))?;
            Ok::<_, String>((client, sub))
        };
        let (client, mut sub) = tokio::select! {
            r = connect => r.map_err(|e| format!("{what}: {e}"))?,
            () = stop.cancelled() => return Err(format!("{what}: interrupted while connecting")),
        };
        // The server answers a refused subscription with -ERR before the flush's PONG; the
        // client hands it to the event callback a moment later.
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Some(e) = first_error(&errors) {
            return Err(format!("{what}: {e}"));
        }
        let done = CancellationToken::new();
        let until = done.clone();
        let heard_count = Arc::new(AtomicU64::new(0));
        let counter = heard_count.clone();
        let task = tokio::spawn(async move {
            let mut heard = Vec::new();
            loop {
                let m = tokio::select! {
                    () = until.cancelled() => break,
                    m = sub.next() => match m { Some(m) => m, None => break },
                };
                let header = |name: &str| {
                    m.headers
                        .as_ref()
                        .and_then(|h| h.get(name))
                        .map(|v| v.as_str().to_owned())
                        .unwrap_or_default()
                };
                heard.push(Heard {
                    reason: header(headers::DLQ_REASON),
                    detail: header(headers::DLQ_DETAIL),
                    digest: digest(&m.payload),
                });
                counter.fetch_add(1, Ordering::Relaxed);
            }
            drop(client);
            heard
        });
        Ok(Self {
            spec: spec.clone(),
            done,
            task,
            errors,
            heard: heard_count,
        })
    }

    /// Keep listening until no dead letter has come for the settle time (at most
    /// [`MAX_SETTLE_ROUNDS`] settle times; none when `stop` is cancelled: an interrupted replay
    /// reports what was heard so far), then count what was heard against `sent`.
    pub async fn finish(self, sent: &HashSet<u64>, stop: &CancellationToken) -> DeadLetterReport {
        let started = Instant::now();
        for _ in 0..MAX_SETTLE_ROUNDS {
            if stop.is_cancelled() {
                break;
            }
            let before = self.heard.load(Ordering::Relaxed);
            tokio::select! {
                () = tokio::time::sleep(self.spec.settle) => {}
                () = stop.cancelled() => {}
            }
            if self.heard.load(Ordering::Relaxed) == before {
                break;
            }
        }
        let settled = started.elapsed();
        self.done.cancel();
        let heard = self.task.await.unwrap_or_default();
        let mut report = count(&heard, sent);
        report.site = Some(self.spec.site);
        report.subject = self.spec.subject;
        report.settled = settled;
        report.server_error = first_error(&self.errors);
        report
    }
}

fn count(heard: &[Heard], sent: &HashSet<u64>) -> DeadLetterReport {
    let mut r = DeadLetterReport::default();
    for h in heard {
        if sent.contains(&h.digest) {
            let reason = if h.reason.is_empty() {
                "(no reason given)".to_owned()
            } else {
                h.reason.clone()
            };
            *r.by_reason.entry(reason.clone()).or_default() += 1;
            r.first_detail
                .entry(reason)
                .or_insert_with(|| h.detail.clone());
        } else {
            r.other += 1;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodies_the_replay_sent_count_as_its_dead_letters() {
        let sent: HashSet<u64> = [digest(b"frame 1"), digest(b"frame 2")].into();
        let heard = |reason: &str, body: &[u8]| Heard {
            reason: reason.into(),
            detail: format!("{reason} detail"),
            digest: digest(body),
        };
        let r = count(
            &[
                heard("future_timestamp", b"frame 1"),
                heard("future_timestamp", b"frame 2"),
                heard("bad_crc", b"frame 1"),
                heard("bad_crc", b"someone else's"),
                heard("", b"frame 2"),
            ],
            &sent,
        );
        assert_eq!(r.total(), 4);
        assert_eq!(r.other, 1);
        assert_eq!(
            r.reasons_text(),
            "(no reason given) 1, bad_crc 1, future_timestamp 2"
        );
        assert_eq!(
            r.first_detail.get("future_timestamp").map(String::as_str),
            Some("future_timestamp detail")
        );
        assert_eq!(count(&[], &sent), DeadLetterReport::default());
    }
}
