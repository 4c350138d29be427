//! What the national stand-ins sent and received: the board the demo's view, the summary and
//! the link tests read, and the comparison of each delivery with what was sent.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use trilink_schema::{Envelope, MessageId, Mode, Nation, PayloadKind};

/// What one nation's stand-in has received, as printed.
#[derive(Debug, Default, Clone)]
pub struct Received {
    /// Every delivered message (each printed as one `RECV` line).
    pub messages: u64,
    /// Messages per kind.
    pub by_kind: BTreeMap<PayloadKind, u64>,
    /// Messages per origin.
    pub by_origin: BTreeMap<Nation, u64>,
    /// Exercise or test messages among them.
    pub not_real_world: u64,
    /// Distinct tracks seen.
    pub tracks: BTreeSet<String>,
    /// End-to-end latencies (national frame in → national frame out).
    pub latencies: crate::latency::Latencies,
    /// National frames that did not decode (should stay 0).
    pub undecodable: u64,
    /// Frames only the hub sends, which a national system reads but trilink's ingress refuses
    /// (`hub_only_kind`): the US J7.7 association naming a common event's national tracks.
    pub hub_only: u64,
}

impl Received {
    /// Latency percentile (0..=100, nearest rank) in ms, if any samples.
    pub fn percentile(&self, p: f64) -> Option<f64> {
        self.latencies.percentile_ms(p)
    }
}

/// What one nation's stand-in received of the hub's common picture (issue 15): the reports of
/// the "common picture" source (`trilink_schema::picture`), kept apart from national traffic.
#[derive(Debug, Default, Clone)]
pub struct Fused {
    /// Reports received.
    pub reports: u64,
    /// Reports per kind.
    pub by_kind: BTreeMap<PayloadKind, u64>,
    /// Per event id (the reports' track id): the contributing tracks of its latest report, as
    /// carried in the sensor field.
    pub events: BTreeMap<String, String>,
    /// Every contributor text seen, per event (to check what a nation may never see).
    pub contributors_seen: BTreeMap<String, BTreeSet<String>>,
}

/// State shared by the stand-ins and the view.
#[derive(Debug, Default)]
pub struct Board {
    /// Send instant of every message id that entered the link (for latency).
    pub sent_at: HashMap<MessageId, Instant>,
    /// What entered the link, to compare each delivery with (fields within stated precision).
    pub sent_env: HashMap<MessageId, Envelope>,
    /// Deliveries whose fields differ from what was sent beyond the formats' precision.
    pub mismatches: Vec<String>,
    /// (destination, message) pairs the policy releases and that must arrive: every non-track
    /// message. Track updates are kept latest-per-track on the output streams, so of those
    /// only the last update of each track must arrive ([`Board::track_updates`]).
    pub must: HashSet<(Nation, MessageId)>,
    /// Released track updates per (destination, track), in release order: the last one must
    /// arrive; earlier ones may be replaced by it on the output stream.
    pub track_updates: HashMap<(Nation, String), Vec<MessageId>>,
    /// (destination, message) pairs delivered.
    pub got: HashSet<(Nation, MessageId)>,
    /// How many times each (destination, message) pair was delivered (1 unless duplicated).
    pub deliveries: HashMap<(Nation, MessageId), u32>,
    /// Messages sent per origin.
    pub sent: BTreeMap<Nation, u64>,
    /// Per destination.
    pub received: BTreeMap<Nation, Received>,
    /// Send failures (national transport errors).
    pub send_errors: u64,
    /// Every delivery per destination, in arrival order (for the causal-order check).
    pub arrivals: BTreeMap<Nation, Vec<MessageId>>,
    /// The common picture each destination received (not counted in `received`).
    pub fused: BTreeMap<Nation, Fused>,
}

/// Shared board handle.
pub type SharedBoard = Arc<Mutex<Board>>;

/// Where printed lines go (stdout in the binary, a buffer in tests).
pub type Out = Arc<Mutex<dyn Write + Send>>;

fn lock(b: &SharedBoard) -> std::sync::MutexGuard<'_, Board> {
    // A panic while holding the lock only poisons it; the counters are still meaningful.
    b.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Record a delivered message and print its line.
pub(crate) fn deliver(board: &SharedBoard, out: &Out, dest: Nation, env: &Envelope) {
    if env.source.system == trilink_schema::picture::PICTURE_SYSTEM {
        deliver_fused(board, out, dest, env);
        return;
    }
    let now = Instant::now();
    let mut b = lock(board);
    let latency = b
        .sent_at
        .get(&env.message_id)
        .map(|t| now.duration_since(*t).as_secs_f64() * 1000.0);
    if let Some(sent) = b.sent_env.get(&env.message_id)
        && let Err(why) = same_within_precision(sent, env)
    {
        let line = format!("{dest} <- {} {}: {why}", env.origin, env.message_id);
        b.mismatches.push(line);
    }
    b.got.insert((dest, env.message_id));
    *b.deliveries.entry((dest, env.message_id)).or_default() += 1;
    b.arrivals.entry(dest).or_default().push(env.message_id);
    let r = b.received.entry(dest).or_default();
    r.messages += 1;
    *r.by_kind.entry(env.payload.kind()).or_default() += 1;
    *r.by_origin.entry(env.origin).or_default() += 1;
    if env.mode != Mode::RealWorld {
        r.not_real_world += 1;
    }
    if let Some(t) = env.payload.track_id() {
        r.tracks.insert(t.to_string());
    }
    if let Some(l) = latency {
        r.latencies.record_ms(l);
    }
    drop(b);
    let track = env
        .payload
        .track_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    let lat = latency.map_or_else(|| "-".to_owned(), |l| format!("{l:.1}ms"));
    let mut o = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = writeln!(
        o,
        "RECV {dest} <- {origin} {kind:<17} {mode:<10} track={track} latency={lat}",
        dest = dest.as_str().to_uppercase(),
        origin = env.origin.as_str().to_uppercase(),
        kind = env.payload.kind().as_str(),
        mode = env.mode.as_str(),
    );
}

/// A report of the common picture: recorded apart and printed as a `FUSED` line.
fn deliver_fused(board: &SharedBoard, out: &Out, dest: Nation, env: &Envelope) {
    let event = env
        .payload
        .track_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    let contributors = env.source.sensor.clone();
    {
        let mut b = lock(board);
        let f = b.fused.entry(dest).or_default();
        f.reports += 1;
        *f.by_kind.entry(env.payload.kind()).or_default() += 1;
        f.events.insert(event.clone(), contributors.clone());
        f.contributors_seen
            .entry(event.clone())
            .or_default()
            .insert(contributors.clone());
    }
    let mut o = out
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = writeln!(
        o,
        "FUSED {dest} event={event} {kind:<17} {mode:<10} contributors={contributors}",
        dest = dest.as_str().to_uppercase(),
        kind = env.payload.kind().as_str(),
        mode = env.mode.as_str(),
    );
}

pub(crate) fn undecodable(board: &SharedBoard, dest: Nation) {
    lock(board).received.entry(dest).or_default().undecodable += 1;
}

pub(crate) fn hub_only(board: &SharedBoard, dest: Nation) {
    lock(board).received.entry(dest).or_default().hub_only += 1;
}

impl Board {
    /// Note that the policy releases `env` to `dest`.
    pub fn expect(&mut self, dest: Nation, env: &Envelope) {
        match (env.payload.kind(), env.payload.track_id()) {
            (PayloadKind::TrackUpdate, Some(t)) => {
                self.track_updates
                    .entry((dest, t.to_string()))
                    .or_default()
                    .push(env.message_id);
            }
            _ => {
                self.must.insert((dest, env.message_id));
            }
        }
    }

    /// Released track updates `dest` never received because a newer update of the same track
    /// that it did receive replaced them on the output stream first (latest per track).
    pub fn superseded(&self, dest: Nation) -> u64 {
        let got = |id: &MessageId| self.got.contains(&(dest, *id));
        let n: usize = self
            .track_updates
            .iter()
            .filter(|((d, _), _)| *d == dest)
            .filter_map(|(_, ids)| ids.split_last())
            .filter(|(last, _)| got(last))
            .map(|(_, earlier)| earlier.iter().filter(|id| !got(id)).count())
            .sum();
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// Deliveries that broke causal order per track (issue 14): a message about a track of an
    /// origin (update, impact prediction, cancel, correction, end) that reached a destination
    /// before that track's `launch_detection`, which the link sent earlier and releases to the
    /// same destination. One line per violation.
    pub fn causal_order_violations(&self) -> Vec<String> {
        // Where each (origin, track)'s launch detection was sent, by message id.
        let mut launches: HashMap<(Nation, String), MessageId> = HashMap::new();
        for env in self.sent_env.values() {
            if let (PayloadKind::LaunchDetection, Some(t)) =
                (env.payload.kind(), env.payload.track_id())
            {
                launches.insert((env.origin, t.to_string()), env.message_id);
            }
        }
        let mut out = Vec::new();
        for (dest, ids) in &self.arrivals {
            let mut seen: HashSet<MessageId> = HashSet::new();
            for id in ids {
                seen.insert(*id);
                let Some(env) = self.sent_env.get(id) else {
                    continue;
                };
                if env.payload.kind() == PayloadKind::LaunchDetection {
                    continue;
                }
                let Some(t) = env.payload.track_id() else {
                    continue;
                };
                let Some(ld) = launches.get(&(env.origin, t.to_string())) else {
                    continue;
                };
                let ld_sent_first = self
                    .sent_at
                    .get(ld)
                    .zip(self.sent_at.get(id))
                    .is_some_and(|(a, b)| a <= b);
                if ld_sent_first && self.must.contains(&(*dest, *ld)) && !seen.contains(ld) {
                    out.push(format!(
                        "{dest} <- {origin} track {t}: {kind} {id} before its launch_detection {ld}",
                        origin = env.origin,
                        kind = env.payload.kind().as_str(),
                    ));
                }
            }
        }
        out
    }

    /// Released messages that must have arrived and have not (yet).
    pub fn missing(&self) -> Vec<(Nation, MessageId)> {
        let mut v: Vec<(Nation, MessageId)> = self
            .must
            .iter()
            .copied()
            .chain(
                self.track_updates
                    .iter()
                    .filter_map(|((n, _), ids)| Some((*n, *ids.last()?))),
            )
            .filter(|k| !self.got.contains(k))
            .collect();
        v.sort();
        v
    }
}

/// Note that `env` is about to enter the link now.
pub fn mark_sent(board: &SharedBoard, env: &Envelope) {
    let mut b = lock(board);
    b.sent_at.insert(env.message_id, Instant::now());
    b.sent_env.insert(env.message_id, env.clone());
    *b.sent.entry(env.origin).or_default() += 1;
}

/// Note a national send failure.
pub fn send_failed(board: &SharedBoard) {
    lock(board).send_errors += 1;
}

/// Compare a delivered envelope with the one that entered the link, within the coarsest
/// precision of the three national formats (JP 1e-7°, cm, µs; KR 0.0001″, µs; US ECEF cm, µs):
/// identity, mode, releasability, references and kind exactly; times to 1 µs; the payload's
/// reference point to 1e-6° and 5 cm.
pub fn same_within_precision(sent: &Envelope, got: &Envelope) -> Result<(), String> {
    let exact = [
        ("origin", sent.origin == got.origin),
        ("source", sent.source == got.source),
        ("mode", sent.mode == got.mode),
        ("releasability", sent.releasability == got.releasability),
        ("references", sent.references == got.references),
        ("kind", sent.payload.kind() == got.payload.kind()),
        (
            "track_id",
            sent.payload.track_id() == got.payload.track_id(),
        ),
    ];
    if let Some((field, _)) = exact.iter().find(|(_, ok)| !ok) {
        return Err(format!("{field} differs"));
    }
    let dt = (sent.observed_at - got.observed_at)
        .num_microseconds()
        .unwrap_or(i64::MAX)
        .abs();
    if dt > 1 {
        return Err(format!("observed_at differs by {dt} µs"));
    }
    match (
        sent.payload.reference_point(),
        got.payload.reference_point(),
    ) {
        (None, None) => Ok(()),
        (Some(a), Some(b)) => {
            let (dlat, dlon, dalt) = (
                (a.lat_deg - b.lat_deg).abs(),
                (a.lon_deg - b.lon_deg).abs(),
                (a.alt_m - b.alt_m).abs(),
            );
            if dlat > 1e-6 || dlon > 1e-6 || dalt > 0.05 {
                Err(format!("point differs by {dlat:e}°, {dlon:e}°, {dalt} m"))
            } else {
                Ok(())
            }
        }
        _ => Err("point present on one side only".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn superseded_counts_only_track_updates_replaced_by_a_delivered_newer_one() {
        let id = |n: &str| MessageId::derive(Nation::Jp, "test", n);
        let mut b = Board::default();
        let mut release = |dest: Nation, track: &str, ids: &[&str]| {
            b.track_updates
                .insert((dest, track.into()), ids.iter().map(|n| id(n)).collect());
        };
        // Track T1 to KR: three updates, only the last delivered → two superseded.
        release(Nation::Kr, "T1", &["a1", "a2", "a3"]);
        // Track T2 to KR: the last update never arrived → missing, not superseded.
        release(Nation::Kr, "T2", &["b1", "b2"]);
        // Track T1 to US: every update delivered → none superseded.
        release(Nation::Us, "T1", &["a1", "a2", "a3"]);
        b.got.insert((Nation::Kr, id("a3")));
        for n in ["a1", "a2", "a3"] {
            b.got.insert((Nation::Us, id(n)));
        }

        assert_eq!(b.superseded(Nation::Kr), 2);
        assert_eq!(b.superseded(Nation::Us), 0);
        assert_eq!(b.superseded(Nation::Jp), 0);
        assert_eq!(b.missing(), vec![(Nation::Kr, id("b2"))]);
    }
}
