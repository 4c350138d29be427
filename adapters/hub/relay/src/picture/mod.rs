//! The common picture at the relay (issue 15), pure: the correlator
//! ([`trilink_picture::Correlator`]) is fed every envelope the relay accepted, in arrival order,
//! and each change of a destination's picture becomes one `common_event` envelope for that
//! destination, routed by the same [`Policy`] as every other message.
//!
//! - **Envelope:** origin `us` (the hub), source `trilink-hub` / `correlator`, mode = the
//!   event's mode (events never mix modes), releasability `{dest, us}`, `observed_at` = the
//!   newest contributing report (never after `now`), `ingested_at` = `relayed_at` = `now`, one
//!   provenance hop (this relay).
//! - **Message id:** the national message id is `picture-<dest>-<content>`, where `<content>`
//!   is a UUID v5 (namespace: the event id) of the destination, the mode and the payload. The
//!   id is deterministic — a replay of the same inputs, or a relay that rebuilt its picture
//!   after a restart, reproduces it, and JetStream (and each adapter's delivery journal)
//!   drops the repeat — and two different views of an event never share an id, so a newer
//!   revision can never be mistaken for a duplicate of an older one.
//! - **Subject:** `tl.out.<dest>.common_event.us.<event id, 32 hex digits>`: the output stream
//!   keeps the latest view per event, like a track ([`trilink_schema::OutItem::Track`]).
//! - **Order:** each publish carries the order key `(us, event id)`, so the live relay stores
//!   the revisions of one event in the order the correlator produced them
//!   ([`crate::order::OrderGate`]).
//! - **Routing:** [`Policy::decide_for`] as for any message (releasability, destination, mode
//!   ceilings, then the rules: `kinds = ["common_event"]` allows or denies the picture per
//!   destination). The origin-echo check does not apply: `us` is the hub as author, not a
//!   contributor echoed back.
//!
//! [`offline`]: the same picture built from a capture, per destination under a policy or the
//! hub's whole picture, with life-cycle timelines and track-quality metrics (`trilink
//! picture`, `trilink policy test`).
//!
//! No I/O, no clock, no tokio.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use trilink_picture::{ChangeKind, Correlator, EventChange, EventView, PictureError};
use trilink_schema::{
    Envelope, Hop, MessageId, Nation, Payload, PayloadKind, Source, Subject, TrackKey,
    ValidationContext,
};
use uuid::Uuid;

pub mod offline;

use crate::policy::{Decision, Policy, WithholdReason};
use crate::process::{Output, RelayIdentity, output_msg_id};

/// `source.system` of every common-event envelope.
pub const PICTURE_SYSTEM: &str = trilink_schema::picture::PICTURE_SYSTEM;
/// `source.sensor` of every common-event envelope.
pub const PICTURE_SENSOR: &str = "correlator";

/// What to do with one destination's view of one changed event.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureOutput {
    /// The destination.
    pub dest: Nation,
    /// The event.
    pub event_id: Uuid,
    /// What happened to it.
    pub change: ChangeKind,
    /// Order key `(us, event id as a track id)`: revisions of one event are stored in order.
    pub key: TrackKey,
    /// The message to publish, when the policy released it.
    pub output: Option<Output>,
    /// Why it is not published (policy), when it is not.
    pub withheld: Option<WithholdReason>,
    /// Set when no valid envelope could be built (a correlator defect; logged, never sent).
    pub invalid: Option<String>,
}

/// The relay's picture stage: the correlator plus the ids of envelopes already taken in by a
/// start-up rebuild (so that an input the durable consumer redelivers is not counted twice).
#[derive(Debug, Clone)]
pub struct PictureStage {
    corr: Correlator,
    rebuilt: HashSet<MessageId>,
}

impl PictureStage {
    /// An empty picture.
    pub fn new(cfg: trilink_picture::Config) -> Self {
        Self {
            corr: Correlator::new(cfg),
            rebuilt: HashSet::new(),
        }
    }

    /// The correlator (read-only).
    pub fn correlator(&self) -> &Correlator {
        &self.corr
    }

    /// Take one envelope the relay accepted (validated, not rejected) into the picture at
    /// `now`. `status` and `common_event` change nothing. An envelope already taken in by
    /// [`PictureStage::rebuild`] is skipped once.
    pub fn ingest(
        &mut self,
        env: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventChange>, PictureError> {
        if matches!(
            env.payload.kind(),
            PayloadKind::Status | PayloadKind::CommonEvent
        ) {
            return Ok(Vec::new());
        }
        if self.rebuilt.remove(&env.message_id) {
            return Ok(Vec::new());
        }
        self.corr.ingest(env, now)
    }

    /// Start-up rebuild: take in an envelope that the relay had accepted before it restarted
    /// (`at` = when the hub stored it). Its id is remembered so that the live path skips it.
    pub fn rebuild(
        &mut self,
        env: &Envelope,
        at: DateTime<Utc>,
    ) -> Result<Vec<EventChange>, PictureError> {
        let changes = self.ingest(env, at)?;
        self.rebuilt.insert(env.message_id);
        Ok(changes)
    }

    /// Forget the ids remembered by the rebuild (once the consumer has caught up).
    pub fn forget_rebuilt(&mut self) {
        self.rebuilt.clear();
        self.rebuilt.shrink_to_fit();
    }

    /// Periodic work (see [`Correlator::tick`]).
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<EventChange> {
        self.corr.tick(now)
    }

    /// Every event of every destination's picture, as changes (what a rebuilt relay
    /// republishes: unchanged views reproduce their message id and are dropped as duplicates).
    pub fn all_events(&self) -> Vec<EventChange> {
        let mut out = Vec::new();
        for dest in Nation::ALL {
            for v in self.corr.view_for(dest) {
                out.push(EventChange {
                    dest,
                    event_id: v.event.event_id,
                    kind: ChangeKind::Updated,
                });
            }
        }
        out
    }

    /// What to publish for `changes` (one publish per destination and event, in the order of
    /// first appearance; the view is the current one).
    pub fn outputs(
        &self,
        changes: &[EventChange],
        now: DateTime<Utc>,
        policy: &Policy,
        identity: &RelayIdentity,
    ) -> Vec<PictureOutput> {
        picture_outputs(&self.corr, changes, now, policy, identity)
    }
}

/// Paces the publishing of `Updated` views (issue 15/17): a destination's view of an event
/// is published at once when it is created, ends or is cancelled, and when it was last
/// published at least `min_interval` ago; an update inside that interval is held and
/// published (as the view current then) when the interval has passed ([`ViewPacer::due`]).
/// A national system so receives each event's fused state at most every `min_interval`
/// however fast national tracks update (a 200 Hz single-track stream made 200 views per
/// second per destination, flooding the national links). Pure: time passed in.
#[derive(Debug, Clone, Default)]
pub struct ViewPacer {
    min_interval: chrono::Duration,
    last: HashMap<(Nation, Uuid), DateTime<Utc>>,
    /// Held views, in the order they were first held (no repeats).
    held: Vec<(Nation, Uuid)>,
}

impl ViewPacer {
    /// A pacer publishing a view at most every `min_interval` (zero: every change).
    pub fn new(min_interval: std::time::Duration) -> Self {
        Self {
            min_interval: chrono::Duration::from_std(min_interval)
                .unwrap_or(chrono::Duration::zero()),
            ..Self::default()
        }
    }

    /// The changes to publish now; `Updated` changes inside the interval are held.
    pub fn offer(&mut self, changes: Vec<EventChange>, now: DateTime<Utc>) -> Vec<EventChange> {
        let mut out = Vec::with_capacity(changes.len());
        for c in changes {
            let key = (c.dest, c.event_id);
            match c.kind {
                ChangeKind::Updated => {
                    let recent = self
                        .last
                        .get(&key)
                        .is_some_and(|t| now - *t < self.min_interval);
                    if recent {
                        if !self.held.contains(&key) {
                            self.held.push(key);
                        }
                    } else {
                        self.last.insert(key, now);
                        self.held.retain(|h| *h != key);
                        out.push(c);
                    }
                }
                ChangeKind::Created => {
                    self.last.insert(key, now);
                    self.held.retain(|h| *h != key);
                    out.push(c);
                }
                ChangeKind::Ended | ChangeKind::Cancelled => {
                    self.last.remove(&key);
                    self.held.retain(|h| *h != key);
                    out.push(c);
                }
            }
        }
        out
    }

    /// Held views whose interval has passed, as `Updated` changes (published as current).
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<EventChange> {
        let mut out = Vec::new();
        let last = &mut self.last;
        let min = self.min_interval;
        self.held.retain(|key| {
            let ready = last.get(key).is_none_or(|t| now - *t >= min);
            if ready {
                last.insert(*key, now);
                out.push(EventChange {
                    dest: key.0,
                    event_id: key.1,
                    kind: ChangeKind::Updated,
                });
            }
            !ready
        });
        out
    }

    /// Views held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

/// The order key of an event's publishes: `(us, event id as a track id)`.
pub fn event_key(event_id: Uuid) -> TrackKey {
    TrackKey {
        origin: Nation::Us,
        id: trilink_schema::CommonEvent::track_id_of(event_id),
    }
}

/// The `common_event` envelope carrying `view` to `dest` at `now`, validated.
pub fn picture_envelope(
    dest: Nation,
    view: &EventView,
    now: DateTime<Utc>,
    identity: &RelayIdentity,
) -> Result<Envelope, String> {
    let ev = &view.event;
    let content = serde_json::to_vec(&(dest, view.mode, ev)).map_err(|e| e.to_string())?;
    let content_id = Uuid::new_v5(&ev.event_id, &content);
    let newest = ev
        .contributors
        .iter()
        .map(|c| c.last_report_at)
        .chain(ev.track.as_ref().map(|t| t.time))
        .max()
        .unwrap_or(ev.first_detected_at);
    let observed_at = newest.min(now);
    let mut env = Envelope::new(
        Nation::Us,
        Source {
            system: PICTURE_SYSTEM.to_owned(),
            sensor: PICTURE_SENSOR.to_owned(),
            national_message_id: format!("picture-{dest}-{}", content_id.simple()),
        },
        observed_at,
        now,
        view.mode,
        [dest, Nation::Us].into_iter().collect(),
        Payload::CommonEvent(Box::new(ev.clone())),
    );
    env.relayed_at = Some(now);
    env.provenance.push(Hop {
        site: identity.site,
        component: identity.component.clone(),
        at: now,
    });
    env.validate(&ValidationContext::at(now))
        .map_err(|e| format!("{}: {e}", e.code()))?;
    Ok(env)
}

/// [`PictureStage::outputs`] on a bare correlator.
pub fn picture_outputs(
    corr: &Correlator,
    changes: &[EventChange],
    now: DateTime<Utc>,
    policy: &Policy,
    identity: &RelayIdentity,
) -> Vec<PictureOutput> {
    // One publish per (dest, event): the last change kind wins, the first position stays.
    let mut order: Vec<(Nation, Uuid)> = Vec::new();
    let mut kinds: HashMap<(Nation, Uuid), ChangeKind> = HashMap::new();
    for c in changes {
        if kinds.insert((c.dest, c.event_id), c.kind).is_none() {
            order.push((c.dest, c.event_id));
        }
    }
    let mut out = Vec::with_capacity(order.len());
    for (dest, event_id) in order {
        let Some(change) = kinds.get(&(dest, event_id)).copied() else {
            continue;
        };
        let Some(view) = corr.event_view(dest, event_id) else {
            continue;
        };
        let mut item = PictureOutput {
            dest,
            event_id,
            change,
            key: event_key(event_id),
            output: None,
            withheld: None,
            invalid: None,
        };
        match picture_envelope(dest, &view, now, identity) {
            Err(e) => item.invalid = Some(e),
            Ok(env) => match policy.decide_for(&env, dest) {
                Decision::Withhold(reason) => item.withheld = Some(reason),
                Decision::Deliver { rule } => match env.to_json() {
                    Err(e) => item.invalid = Some(e.to_string()),
                    Ok(body) => {
                        item.output = Some(Output {
                            dest,
                            subject: Subject::output_for(&env, dest).to_string(),
                            body: Bytes::from(body),
                            msg_id: output_msg_id(&env.message_id, dest),
                            rule,
                        });
                    }
                },
            },
        }
        out.push(item);
    }
    out
}

/// One line of an offline picture timeline ([`timeline`]).
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    /// The picture's time of the change (the input's `ingested_at`, never earlier than the
    /// previous row's).
    pub at: DateTime<Utc>,
    /// What the live relay would do for this destination and event.
    pub output: PictureOutput,
    /// The destination's view of the event after the change.
    pub view: EventView,
}

/// The common picture of a JSON Lines capture of envelopes, offline, as the live relay would
/// build and route it (the engine behind a `trilink picture` command and `policy test`): every
/// line goes through [`crate::process()`] validated at `now` (as `policy test` does), every
/// accepted envelope into the correlator at its own `ingested_at` (time-consistent, whatever
/// the capture's age), with a tick at every input; one row per published (or withheld) view,
/// in order. Deterministic: the same capture gives the same rows and event ids.
pub fn timeline(
    text: &str,
    policy: &Policy,
    identity: &RelayIdentity,
    now: DateTime<Utc>,
    cfg: trilink_picture::Config,
) -> Vec<TimelineRow> {
    let mut stage = PictureStage::new(cfg);
    let mut refs = crate::references::ReferenceBook::default();
    let mut clock: Option<DateTime<Utc>> = None;
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let body = crate::matrix::capture_body(line);
        let subject = match Envelope::from_json(&body) {
            Ok(env) => Subject::input_for(&env).to_string(),
            Err(_) => format!("tl.in.{}.status", Nation::Us),
        };
        let outcome = crate::process(&subject, &body, now, policy, identity, &refs);
        if let Some((id, origin)) = outcome.accepted_origin() {
            refs.record(id, origin, now);
        }
        let Some(env) = outcome.picture_input() else {
            continue;
        };
        let at = clock.map_or(env.ingested_at, |c| c.max(env.ingested_at));
        clock = Some(at);
        let mut changes = stage.tick(at);
        changes.extend(stage.ingest(&env, at).unwrap_or_default());
        for output in stage.outputs(&changes, at, policy, identity) {
            if let Some(view) = stage.correlator().event_view(output.dest, output.event_id) {
                rows.push(TimelineRow { at, output, view });
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

    use std::collections::BTreeSet;

    use chrono::{Duration, TimeZone};
    use trilink_schema::{GeoPoint, Mode, OutItem};

    use super::*;
    use crate::sample::{SampleSpec, envelope};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn policy(extra: &str) -> Policy {
        Policy::from_toml_str(&format!(
            r#"
version = 1
name = "t"
[destinations.jp]
modes = ["real_world"]
[destinations.kr]
modes = ["real_world"]
[destinations.us]
modes = ["real_world"]
{extra}
[[rule]]
name = "all"
action = "allow"
"#
        ))
        .unwrap()
    }

    fn env(origin: Nation, kind: PayloadKind, rel: &[Nation], seq: u64) -> Envelope {
        envelope(&SampleSpec {
            origin,
            kind,
            mode: Mode::RealWorld,
            releasability: rel.iter().copied().collect::<BTreeSet<_>>(),
            seq,
            observed_at: now() - Duration::seconds(3),
            point: GeoPoint {
                lat_deg: 39.0,
                lon_deg: 125.0,
                alt_m: 0.0,
            },
        })
        .unwrap()
    }

    fn run(stage: &mut PictureStage, e: &Envelope, p: &Policy) -> Vec<PictureOutput> {
        let changes = stage.ingest(e, now()).unwrap();
        stage.outputs(&changes, now(), p, &RelayIdentity::default())
    }

    #[test]
    fn every_released_destination_gets_a_valid_event_on_its_event_subject() {
        let mut stage = PictureStage::new(trilink_picture::Config::default());
        let e = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 1);
        let out = run(&mut stage, &e, &policy(""));
        let dests: Vec<Nation> = out.iter().map(|o| o.dest).collect();
        // The US gets its view too: the hub's origin `us` is not an echo.
        assert_eq!(dests, vec![Nation::Jp, Nation::Kr, Nation::Us]);
        for o in &out {
            assert_eq!(o.change, ChangeKind::Created);
            let output = o.output.as_ref().expect("released");
            let sent = Envelope::from_json(&output.body).unwrap();
            sent.validate(&ValidationContext::at(now())).unwrap();
            assert_eq!(sent.origin, Nation::Us);
            assert_eq!(sent.mode, Mode::RealWorld);
            assert_eq!(
                sent.releasability,
                [o.dest, Nation::Us].into_iter().collect::<BTreeSet<_>>()
            );
            assert_eq!(sent.provenance.len(), 1);
            let Payload::CommonEvent(ev) = &sent.payload else {
                panic!("not a common event")
            };
            assert_eq!(ev.event_id, o.event_id);
            assert_eq!(ev.contributors[0].origin, Nation::Jp);
            assert_eq!(
                output.subject,
                format!("tl.out.{}.common_event.us.{}", o.dest, o.event_id.simple())
            );
            match Subject::parse(&output.subject).unwrap() {
                Subject::Out {
                    kind: PayloadKind::CommonEvent,
                    item: OutItem::Track(k),
                    ..
                } => assert_eq!(k, o.key),
                other => panic!("{other:?}"),
            }
            assert_eq!(output.msg_id, format!("{}.{}", sent.message_id, o.dest));
        }
        // One event: the same id for every destination (all saw the same contributions).
        assert!(out.iter().all(|o| o.event_id == out[0].event_id));
    }

    #[test]
    fn message_ids_are_deterministic_and_change_with_the_view() {
        let p = policy("");
        let mut a = PictureStage::new(trilink_picture::Config::default());
        let mut b = PictureStage::new(trilink_picture::Config::default());
        let ld = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 1);
        let tu = env(Nation::Jp, PayloadKind::TrackUpdate, &Nation::ALL, 1);
        let a1 = run(&mut a, &ld, &p);
        let b1 = run(&mut b, &ld, &p);
        let id = |v: &[PictureOutput]| -> Vec<String> {
            v.iter()
                .map(|o| o.output.as_ref().unwrap().msg_id.clone())
                .collect()
        };
        assert_eq!(id(&a1), id(&b1), "a replay reproduces the ids");
        let a2 = run(&mut a, &tu, &p);
        assert_eq!(a2.len(), 3);
        assert_eq!(
            a2[0].event_id, a1[0].event_id,
            "one event id across updates"
        );
        for (x, y) in id(&a1).iter().zip(id(&a2).iter()) {
            assert_ne!(x, y, "a new revision is never a duplicate of the old one");
        }
        // Republishing an unchanged view (restart) reproduces the id.
        let again = a.outputs(&a.all_events(), now(), &p, &RelayIdentity::default());
        let mut again = id(&again);
        let mut last = id(&a2);
        again.sort();
        last.sort();
        assert_eq!(again, last);
    }

    #[test]
    fn a_track_not_released_to_jp_never_reaches_jp() {
        let p = policy("");
        let mut stage = PictureStage::new(trilink_picture::Config::default());
        let kr_only = env(
            Nation::Kr,
            PayloadKind::LaunchDetection,
            &[Nation::Kr, Nation::Us],
            5,
        );
        let out = run(&mut stage, &kr_only, &p);
        assert!(out.iter().all(|o| o.dest != Nation::Jp), "{out:?}");
        assert_eq!(out.len(), 2);
        assert!(stage.correlator().view_for(Nation::Jp).is_empty());
    }

    #[test]
    fn rules_allow_or_deny_the_picture_per_destination() {
        let p = policy(
            r#"
[[rule]]
name = "no-picture-for-kr"
action = "deny"
kinds = ["common_event"]
destinations = ["kr"]
"#,
        );
        let mut stage = PictureStage::new(trilink_picture::Config::default());
        let e = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 1);
        let out = run(&mut stage, &e, &p);
        let kr = out.iter().find(|o| o.dest == Nation::Kr).unwrap();
        assert!(kr.output.is_none());
        assert_eq!(
            kr.withheld,
            Some(WithholdReason::DeniedByRule {
                name: "no-picture-for-kr".into()
            })
        );
        assert!(
            out.iter()
                .filter(|o| o.dest != Nation::Kr)
                .all(|o| o.output.is_some())
        );
        // A mode the destination does not accept is a hard ceiling for the picture too.
        let mut ex = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 2);
        ex.mode = Mode::Exercise;
        let out = run(&mut stage, &ex, &p);
        assert!(out.iter().all(|o| o.output.is_none()));
        assert!(
            out.iter()
                .all(|o| matches!(o.withheld, Some(WithholdReason::ModeNotAccepted { .. })))
        );
    }

    #[test]
    fn status_changes_nothing_and_a_rebuilt_input_is_not_taken_twice() {
        let mut stage = PictureStage::new(trilink_picture::Config::default());
        let st = env(Nation::Jp, PayloadKind::Status, &Nation::ALL, 1);
        assert!(stage.ingest(&st, now()).unwrap().is_empty());
        let e = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 1);
        assert!(!stage.rebuild(&e, now()).unwrap().is_empty());
        assert!(stage.ingest(&e, now()).unwrap().is_empty(), "skipped once");
        let membership = stage.correlator().membership(Nation::Us);
        assert_eq!(membership.len(), 1);
    }

    #[test]
    fn changes_of_one_event_are_published_once_per_batch() {
        let mut stage = PictureStage::new(trilink_picture::Config::default());
        let e = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 1);
        let mut changes = stage.ingest(&e, now()).unwrap();
        let dup = changes.clone();
        changes.extend(dup);
        let out = stage.outputs(&changes, now(), &policy(""), &RelayIdentity::default());
        assert_eq!(out.len(), 3);
    }

    /// A message the policy withholds from KR (here: every launch detection) must not shape
    /// KR's picture, though its releasability includes KR. Control: fed as released
    /// (releasability only, the old feed), the same input does make an event for KR.
    #[test]
    fn a_message_the_policy_withholds_from_a_destination_never_shapes_its_picture() {
        let p = policy(
            r#"
[[rule]]
name = "no-launch-to-kr"
action = "deny"
kinds = ["launch_detection"]
destinations = ["kr"]
"#,
        );
        let e = env(Nation::Jp, PayloadKind::LaunchDetection, &Nation::ALL, 1);
        let subject = Subject::input_for(&e).to_string();
        let outcome = crate::process(
            &subject,
            &e.to_json().unwrap(),
            now(),
            &p,
            &RelayIdentity::default(),
            &crate::references::ReferenceBook::default(),
        );
        assert!(
            outcome.withheld.iter().any(|(d, _)| *d == Nation::Kr),
            "{outcome:?}"
        );
        let input = outcome.picture_input().unwrap();
        assert_eq!(
            input.releasability,
            [Nation::Jp, Nation::Us]
                .into_iter()
                .collect::<BTreeSet<_>>()
        );
        let mut stage = PictureStage::new(trilink_picture::Config::default());
        let out = run(&mut stage, &input, &p);
        assert!(out.iter().all(|o| o.dest != Nation::Kr), "{out:?}");
        assert!(out.iter().any(|o| o.dest == Nation::Us));
        assert!(stage.correlator().view_for(Nation::Kr).is_empty());

        let mut control = PictureStage::new(trilink_picture::Config::default());
        run(&mut control, outcome.envelope.as_deref().unwrap(), &p);
        assert!(!control.correlator().view_for(Nation::Kr).is_empty());
    }

    #[test]
    fn updates_are_paced_creation_and_end_are_not() {
        let t0 = now();
        let ms = |n: i64| t0 + Duration::milliseconds(n);
        let ev = Uuid::from_u128(7);
        let ch = |kind| EventChange {
            dest: Nation::Kr,
            event_id: ev,
            kind,
        };
        let mut p = ViewPacer::new(std::time::Duration::from_millis(250));
        assert_eq!(p.offer(vec![ch(ChangeKind::Created)], ms(0)).len(), 1);
        // Updates inside 250 ms are held, once.
        assert!(p.offer(vec![ch(ChangeKind::Updated)], ms(10)).is_empty());
        assert!(p.offer(vec![ch(ChangeKind::Updated)], ms(20)).is_empty());
        assert_eq!(p.held(), 1);
        assert!(p.due(ms(200)).is_empty(), "not yet");
        assert_eq!(p.due(ms(250)), vec![ch(ChangeKind::Updated)]);
        assert_eq!(p.held(), 0);
        // An update long after the last publish goes at once.
        assert_eq!(p.offer(vec![ch(ChangeKind::Updated)], ms(600)).len(), 1);
        // An end goes at once and drops what was held.
        assert!(p.offer(vec![ch(ChangeKind::Updated)], ms(610)).is_empty());
        assert_eq!(p.offer(vec![ch(ChangeKind::Ended)], ms(620)).len(), 1);
        assert_eq!(p.held(), 0);
        assert!(p.due(ms(10_000)).is_empty());
        // Other destinations are paced apart; zero interval passes everything.
        let mut z = ViewPacer::new(std::time::Duration::ZERO);
        for i in 0..5 {
            assert_eq!(z.offer(vec![ch(ChangeKind::Updated)], ms(i)).len(), 1);
        }
    }

    #[test]
    fn offline_timeline_of_the_sample_capture_is_deterministic_and_released_only() {
        let text = include_str!("../../../../../broker-config/policies/samples/capture.jsonl");
        let policy = Policy::from_toml_str(include_str!(
            "../../../../../broker-config/policies/strict-trilateral.toml"
        ))
        .unwrap();
        let now = "2026-11-21T00:10:00Z".parse().unwrap();
        let run = || {
            timeline(
                text,
                &policy,
                &RelayIdentity::default(),
                now,
                trilink_picture::Config::default(),
            )
        };
        let rows = run();
        assert!(!rows.is_empty(), "the sample capture makes a picture");
        assert_eq!(rows, run(), "deterministic");
        for r in &rows {
            // Strict policy: KR accepts real-world only, for the picture too.
            if r.output.dest == Nation::Kr && r.view.mode != Mode::RealWorld {
                assert!(r.output.output.is_none(), "{r:?}");
            }
            if let Some(o) = &r.output.output {
                let env = Envelope::from_json(&o.body).unwrap();
                assert!(env.releasable_to(r.output.dest));
            }
        }
        assert!(rows.windows(2).all(|w| w[0].at <= w[1].at), "in time order");
    }
}
