//! The common picture of a capture, offline: what `trilink picture` and the picture section of
//! `trilink policy test` print.
//!
//! Every input goes through [`crate::process()`] as the live relay would take it (validation,
//! origin and reference checks; the time used is the input's own capture time, or a fixed
//! instant when [`OfflineOptions::validate_at`] is set), every accepted envelope into the
//! correlator at its capture time, with the relay's periodic tick every
//! [`OfflineOptions::tick`] of capture time in between. Two scopes ([`Scope`]):
//!
//! - [`Scope::Policy`]: one picture per destination, built only from the contributions the
//!   relay delivered to it ([`crate::process::Outcome::picture_input`], as the live relay's
//!   correlator does: releasability and the policy's rules both apply, so an
//!   `impact_prediction` the policy denies to D never moves D's fused impact), and **only the
//!   views the policy lets the relay publish** (a view the policy withholds — mode ceiling, a
//!   rule on `common_event` — is counted, not shown). This is what each nation would receive
//!   from the live relay.
//! - [`Scope::Hub`]: no policy — the hub's whole picture, every accepted contribution whatever
//!   its releasability (what no single nation receives).
//!
//! For each event: id, mode, first detected by, the contributing national tracks, the changes
//! of its life cycle with their times (created, a national track joined, a contribution
//! became stale / ended / was cancelled, the event ended / was cancelled) and its last fused
//! launch point, track and impact with the error ellipse. With ground truth (the
//! `truth.jsonl` that `trilink scenario` writes), [`OfflinePicture::quality`] gives the
//! track-quality metrics of [`trilink_picture::metrics`].
//!
//! Pure: no I/O, no clock; deterministic for a given input order.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
pub use trilink_picture::metrics::Quality;
use trilink_picture::{Config, EventView};
use trilink_schema::{
    CommonEvent, ContributionState, Envelope, EventState, Mode, Nation, PayloadKind, Subject,
    TrackId,
};
use uuid::Uuid;

use super::PictureStage;

mod report;

use crate::policy::Policy;
use crate::process::RelayIdentity;
use crate::references::ReferenceBook;
pub use report::{
    compact_json, missed_targets, quality_json, render_compact, render_quality, truth_from_jsonl,
};

/// Whose picture is built.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// One picture per destination, as the relay running this policy would publish them.
    Policy(&'a Policy),
    /// The hub's whole picture: every accepted contribution, releasability and policy not
    /// applied.
    Hub,
}

/// Who sees a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Viewer {
    /// The hub (no policy: everything).
    Hub,
    /// A destination nation (under the policy).
    #[serde(untagged)]
    Dest(Nation),
}

impl std::fmt::Display for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Hub => f.write_str("hub"),
            Self::Dest(n) => write!(f, "{n}"),
        }
    }
}

/// One input of an offline run.
#[derive(Debug, Clone)]
pub struct OfflineInput {
    /// Its capture time; `None`: the envelope's `ingested_at` (a bare envelope).
    pub at: Option<DateTime<Utc>>,
    /// The subject it arrived on; `None`: the envelope's input subject.
    pub subject: Option<String>,
    /// The envelope's JSON.
    pub body: Vec<u8>,
}

impl OfflineInput {
    /// The inputs of JSON Lines text: `{"ts", "subject", "envelope"}` records or bare
    /// envelopes (a line that is neither is kept, and rejected by the relay like any bad
    /// input).
    pub fn from_jsonl(text: &str) -> Vec<Self> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                if let Ok(Value::Object(mut rec)) = serde_json::from_str::<Value>(line)
                    && let (Some(Value::String(ts)), Some(Value::String(subject))) =
                        (rec.get("ts").cloned(), rec.get("subject").cloned())
                    && let Some(env) = rec.remove("envelope")
                    && let Ok(body) = serde_json::to_vec(&env)
                {
                    return Self {
                        at: DateTime::parse_from_rfc3339(&ts)
                            .ok()
                            .map(|t| t.with_timezone(&Utc)),
                        subject: Some(subject),
                        body,
                    };
                }
                Self {
                    at: None,
                    subject: None,
                    body: line.as_bytes().to_vec(),
                }
            })
            .collect()
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct OfflineOptions<'a> {
    /// Whose picture.
    pub scope: Scope<'a>,
    /// Validate every input as of this instant (as `policy test --now` does) instead of at its
    /// own capture time.
    pub validate_at: Option<DateTime<Utc>>,
    /// The relay's identity (provenance hop).
    pub identity: RelayIdentity,
    /// Correlator tuning.
    pub correlator: Config,
    /// Interval of the correlator's periodic tick, in capture time (the relay's `tick_ms`).
    pub tick: Duration,
}

impl<'a> OfflineOptions<'a> {
    /// Defaults: validation at each input's time, the relay's default identity, correlator
    /// and 1 s tick.
    pub fn new(scope: Scope<'a>) -> Self {
        Self {
            scope,
            validate_at: None,
            identity: RelayIdentity::default(),
            correlator: Config::default(),
            tick: Duration::seconds(1),
        }
    }
}

/// One change in an event's life, as its viewer saw it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// The event appeared, with this first contribution.
    Created {
        /// Its nation.
        origin: Nation,
        /// Its national track.
        track_id: TrackId,
    },
    /// A national track joined the event.
    Joined {
        /// Its nation.
        origin: Nation,
        /// Its national track.
        track_id: TrackId,
    },
    /// A contribution changed state (stale, ended, cancelled, active again).
    Contribution {
        /// Its nation.
        origin: Nation,
        /// Its national track.
        track_id: TrackId,
        /// The new state.
        state: ContributionState,
    },
    /// The event's state changed (ended, cancelled, active again).
    State {
        /// The new state.
        state: EventState,
    },
}

/// A change with the picture time it happened at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimedChange {
    /// Picture (capture) time.
    pub at: DateTime<Utc>,
    /// What changed.
    #[serde(flatten)]
    pub change: Change,
}

/// One event in one viewer's picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventTimeline {
    /// The event id.
    pub event_id: Uuid,
    /// Its mode.
    pub mode: Mode,
    /// Picture time of its first view.
    pub first_seen_at: DateTime<Utc>,
    /// Picture time of its last view.
    pub last_seen_at: DateTime<Utc>,
    /// Views of it (publishes, under a policy).
    pub revisions: usize,
    /// Life-cycle changes, in order.
    pub changes: Vec<TimedChange>,
    /// The last view.
    pub last: CommonEvent,
}

/// One viewer's picture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewerPicture {
    /// Who sees it.
    pub viewer: Viewer,
    /// Its events, in order of appearance.
    pub events: Vec<EventTimeline>,
    /// Views the policy withheld from this destination, by reason label.
    pub withheld: BTreeMap<String, usize>,
}

/// An input the relay rejected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RejectedInput {
    /// 1-based position in the inputs.
    pub input: usize,
    /// Reject code.
    pub code: String,
    /// Detail.
    pub detail: String,
}

/// The result of [`build`].
#[derive(Debug, Clone)]
pub struct OfflinePicture {
    /// The policy's name, `None` for the hub's whole picture.
    pub policy: Option<String>,
    /// Inputs read.
    pub inputs: usize,
    /// Inputs the relay rejected.
    pub rejected: Vec<RejectedInput>,
    /// Picture time of the first and the last accepted input.
    pub span: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// One picture per viewer (JP, KR, US under a policy; the hub without).
    pub pictures: Vec<ViewerPicture>,
    /// Accepted envelopes (as the correlator took them) with their picture time: the input
    /// of [`OfflinePicture::quality`].
    pub accepted: Vec<(Envelope, DateTime<Utc>)>,
    correlator: Config,
}

/// Build the picture of `inputs` (see the module docs).
pub fn build(inputs: &[OfflineInput], opts: &OfflineOptions<'_>) -> OfflinePicture {
    let hub_policy;
    let policy = match opts.scope {
        Scope::Policy(p) => p,
        Scope::Hub => {
            hub_policy = hub_policy_allow_all();
            &hub_policy
        }
    };
    let hub = matches!(opts.scope, Scope::Hub);
    let viewers: Vec<Viewer> = if hub {
        vec![Viewer::Hub]
    } else {
        Nation::ALL.into_iter().map(Viewer::Dest).collect()
    };
    let mut acc: BTreeMap<Viewer, Acc> = viewers.iter().map(|v| (*v, Acc::default())).collect();
    let mut stage = PictureStage::new(opts.correlator);
    let mut refs = ReferenceBook::default();
    let mut out = OfflinePicture {
        policy: (!hub).then(|| policy.name.clone()),
        inputs: inputs.len(),
        rejected: Vec::new(),
        span: None,
        pictures: Vec::new(),
        accepted: Vec::new(),
        correlator: opts.correlator,
    };
    let tick = if opts.tick > Duration::zero() {
        opts.tick
    } else {
        Duration::seconds(1)
    };
    let mut clock: Option<DateTime<Utc>> = None;
    for (i, input) in inputs.iter().enumerate() {
        let parsed = Envelope::from_json(&input.body).ok();
        let subject = input.subject.clone().unwrap_or_else(|| match &parsed {
            Some(env) => Subject::input_for(env).to_string(),
            None => format!("tl.in.{}.{}", Nation::Us, PayloadKind::Status),
        });
        let Some(own_at) = input
            .at
            .or(parsed.as_ref().map(|e| e.ingested_at))
            .or(clock)
        else {
            out.rejected.push(RejectedInput {
                input: i + 1,
                code: crate::reject_codes::NOT_JSON.to_owned(),
                detail: "no capture time and no envelope".into(),
            });
            continue;
        };
        let at = clock.map_or(own_at, |c| c.max(own_at));
        // The relay's periodic tick between the previous input and this one (bounded: after a
        // long silence only the last hour of ticks is run, which ends the same events).
        if let Some(prev) = clock {
            let mut t = prev + tick;
            let earliest = at - Duration::hours(1);
            if t < earliest {
                t = earliest;
            }
            while t < at {
                let changes = stage.tick(t);
                record(&mut acc, &stage, &changes, t, policy, opts, hub);
                t += tick;
            }
        }
        clock = Some(at);
        let now = opts.validate_at.unwrap_or(own_at);
        let mut outcome = crate::process(&subject, &input.body, now, policy, &opts.identity, &refs);
        if let Some((id, origin)) = outcome.accepted_origin() {
            refs.record(id, origin, now);
        }
        if let Some(r) = &outcome.reject {
            out.rejected.push(RejectedInput {
                input: i + 1,
                code: r.code.to_owned(),
                detail: r.detail.clone(),
            });
        }
        let Some(mut env) = outcome.take_picture_input() else {
            continue;
        };
        if hub {
            env.releasability = Nation::ALL.into_iter().collect();
        }
        out.span = Some(out.span.map_or((at, at), |(a, _)| (a, at)));
        let mut changes = stage.tick(at);
        changes.extend(stage.ingest(&env, at).unwrap_or_default());
        record(&mut acc, &stage, &changes, at, policy, opts, hub);
        out.accepted.push((*env, at));
    }
    out.pictures = acc
        .into_iter()
        .map(|(viewer, a)| ViewerPicture {
            viewer,
            events: a
                .order
                .iter()
                .filter_map(|id| a.events.get(id))
                .cloned()
                .collect(),
            withheld: a.withheld,
        })
        .collect();
    out
}

/// The policy of the hub scope: every destination, every mode, everything allowed (only the
/// relay's acceptance checks matter there).
fn hub_policy_allow_all() -> Policy {
    let modes: std::collections::BTreeSet<Mode> = Mode::ALL.into();
    Policy {
        version: crate::policy::POLICY_VERSION,
        name: "hub".into(),
        echo_to_origin: true,
        destinations: Nation::ALL
            .into_iter()
            .map(|n| {
                (
                    n,
                    crate::policy::Destination {
                        modes: modes.clone(),
                    },
                )
            })
            .collect(),
        rules: vec![crate::policy::Rule {
            name: "all".into(),
            action: crate::policy::Action::Allow,
            origins: None,
            destinations: None,
            kinds: None,
            modes: None,
            area: None,
        }],
    }
}

#[derive(Debug, Default)]
struct Acc {
    order: Vec<Uuid>,
    events: BTreeMap<Uuid, EventTimeline>,
    withheld: BTreeMap<String, usize>,
}

impl Acc {
    fn view(&mut self, v: &EventView, at: DateTime<Utc>) {
        let ev = &v.event;
        match self.events.get_mut(&ev.event_id) {
            None => {
                let mut changes = Vec::new();
                if let Some(first) = ev.contributors.first() {
                    changes.push(TimedChange {
                        at,
                        change: Change::Created {
                            origin: first.origin,
                            track_id: first.track_id.clone(),
                        },
                    });
                }
                let mut t = EventTimeline {
                    event_id: ev.event_id,
                    mode: v.mode,
                    first_seen_at: at,
                    last_seen_at: at,
                    revisions: 1,
                    changes,
                    last: CommonEvent {
                        contributors: ev.contributors.iter().take(1).cloned().collect(),
                        state: EventState::Active,
                        ..ev.clone()
                    },
                };
                diff(&mut t.changes, &t.last, ev, at);
                t.last = ev.clone();
                self.order.push(ev.event_id);
                self.events.insert(ev.event_id, t);
            }
            Some(t) => {
                diff(&mut t.changes, &t.last, ev, at);
                t.last = ev.clone();
                t.last_seen_at = at;
                t.revisions += 1;
            }
        }
    }
}

/// The life-cycle changes from `old` to `new`.
fn diff(out: &mut Vec<TimedChange>, old: &CommonEvent, new: &CommonEvent, at: DateTime<Utc>) {
    for c in &new.contributors {
        let before = old
            .contributors
            .iter()
            .find(|o| o.origin == c.origin && o.track_id == c.track_id);
        let change = match before {
            None => Some(Change::Joined {
                origin: c.origin,
                track_id: c.track_id.clone(),
            }),
            Some(o) if o.state != c.state => Some(Change::Contribution {
                origin: c.origin,
                track_id: c.track_id.clone(),
                state: c.state,
            }),
            Some(_) => None,
        };
        if let Some(change) = change {
            out.push(TimedChange { at, change });
        }
        // A contribution that joined in another state than active says so too.
        if before.is_none() && c.state != ContributionState::Active {
            out.push(TimedChange {
                at,
                change: Change::Contribution {
                    origin: c.origin,
                    track_id: c.track_id.clone(),
                    state: c.state,
                },
            });
        }
    }
    if old.state != new.state {
        out.push(TimedChange {
            at,
            change: Change::State { state: new.state },
        });
    }
}

fn record(
    acc: &mut BTreeMap<Viewer, Acc>,
    stage: &PictureStage,
    changes: &[trilink_picture::EventChange],
    at: DateTime<Utc>,
    policy: &Policy,
    opts: &OfflineOptions<'_>,
    hub: bool,
) {
    if changes.is_empty() {
        return;
    }
    if hub {
        // Every contribution is released to every nation here: the US picture is the whole.
        let Some(a) = acc.get_mut(&Viewer::Hub) else {
            return;
        };
        let mut seen = Vec::new();
        for c in changes.iter().filter(|c| c.dest == Nation::Us) {
            if !seen.contains(&c.event_id) {
                seen.push(c.event_id);
                if let Some(v) = stage.correlator().event_view(Nation::Us, c.event_id) {
                    a.view(&v, at);
                }
            }
        }
        return;
    }
    for o in stage.outputs(changes, at, policy, &opts.identity) {
        let Some(a) = acc.get_mut(&Viewer::Dest(o.dest)) else {
            continue;
        };
        if let Some(reason) = &o.withheld {
            *a.withheld.entry(reason.label()).or_default() += 1;
            continue;
        }
        if o.output.is_none() {
            *a.withheld.entry("invalid".into()).or_default() += 1;
            continue;
        }
        if let Some(v) = stage.correlator().event_view(o.dest, o.event_id) {
            a.view(&v, at);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

    use std::collections::BTreeSet;

    use chrono::TimeZone;
    use serde_json::json;
    use trilink_schema::GeoPoint;

    use super::*;
    use crate::sample::{SampleSpec, envelope};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
    }

    fn env(origin: Nation, rel: &[Nation], seq: u64, mode: Mode) -> Envelope {
        let mut e = envelope(&SampleSpec {
            origin,
            kind: PayloadKind::LaunchDetection,
            mode,
            releasability: rel.iter().copied().collect::<BTreeSet<_>>(),
            seq,
            observed_at: t0(),
            point: GeoPoint {
                lat_deg: 39.0,
                lon_deg: 125.0,
                alt_m: 0.0,
            },
        })
        .unwrap();
        e.ingested_at = t0() + Duration::milliseconds(100);
        e
    }

    fn input(e: &Envelope, at_s: i64) -> OfflineInput {
        OfflineInput {
            at: Some(t0() + Duration::seconds(at_s)),
            subject: None,
            body: e.to_json().unwrap(),
        }
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
modes = ["real_world", "exercise"]
{extra}
[[rule]]
name = "all"
action = "allow"
"#
        ))
        .unwrap()
    }

    #[test]
    fn a_kr_track_not_released_to_jp_is_absent_from_jp_only() {
        let p = policy("");
        let inputs = vec![
            input(&env(Nation::Jp, &Nation::ALL, 1, Mode::RealWorld), 1),
            input(
                &env(Nation::Kr, &[Nation::Kr, Nation::Us], 2, Mode::RealWorld),
                2,
            ),
        ];
        let pic = build(&inputs, &OfflineOptions::new(Scope::Policy(&p)));
        assert!(pic.rejected.is_empty(), "{:?}", pic.rejected);
        let origins = |v: Viewer| -> BTreeSet<Nation> {
            pic.picture(v)
                .unwrap()
                .events
                .iter()
                .flat_map(|e| e.last.contributors.iter().map(|c| c.origin))
                .collect()
        };
        assert_eq!(origins(Viewer::Dest(Nation::Jp)), [Nation::Jp].into());
        assert_eq!(
            origins(Viewer::Dest(Nation::Kr)),
            [Nation::Jp, Nation::Kr].into()
        );
        // One event at KR, with KR joining after JP created it.
        let kr = &pic.picture(Viewer::Dest(Nation::Kr)).unwrap().events;
        assert_eq!(kr.len(), 1);
        assert!(matches!(
            kr[0].changes[0].change,
            Change::Created {
                origin: Nation::Jp,
                ..
            }
        ));
        assert!(matches!(
            kr[0].changes[1].change,
            Change::Joined {
                origin: Nation::Kr,
                ..
            }
        ));
        assert_eq!(kr[0].changes[1].at, t0() + Duration::seconds(2));
        // The hub's whole picture holds both, without a policy.
        let hub = build(&inputs, &OfflineOptions::new(Scope::Hub));
        assert_eq!(hub.pictures.len(), 1);
        assert_eq!(hub.pictures[0].viewer, Viewer::Hub);
        assert_eq!(hub.pictures[0].events.len(), 1);
        assert_eq!(hub.pictures[0].events[0].last.contributors.len(), 2);
        assert!(hub.render_text(&[]).contains("the hub's whole picture"));
    }

    #[test]
    fn withheld_views_are_counted_not_shown_and_ticks_end_silent_events() {
        let p = policy("");
        let ex = env(Nation::Jp, &Nation::ALL, 1, Mode::Exercise);
        let rw = env(Nation::Jp, &Nation::ALL, 2, Mode::RealWorld);
        // 200 s later: the relay's tick has ended the silent events as lost by then.
        let later = env(Nation::Us, &Nation::ALL, 3, Mode::Test);
        let mut late = input(&later, 200);
        let mut e: Envelope = Envelope::from_json(&late.body).unwrap();
        e.observed_at = t0() + Duration::seconds(199);
        e.ingested_at = t0() + Duration::seconds(200);
        late.body = e.to_json().unwrap();
        let pic = build(
            &[input(&ex, 1), input(&rw, 2), late],
            &OfflineOptions::new(Scope::Policy(&p)),
        );
        let jp = pic.picture(Viewer::Dest(Nation::Jp)).unwrap();
        assert_eq!(jp.events.len(), 1, "the exercise event is withheld from JP");
        assert_eq!(jp.events[0].mode, Mode::RealWorld);
        assert!(
            jp.withheld
                .get("mode_not_accepted:exercise")
                .is_some_and(|n| *n >= 1),
            "{:?}",
            jp.withheld
        );
        assert_eq!(jp.events[0].last.state, EventState::Ended);
        let ended = jp.events[0]
            .changes
            .iter()
            .find(|c| {
                c.change
                    == Change::State {
                        state: EventState::Ended,
                    }
            })
            .unwrap();
        assert!(ended.at < t0() + Duration::seconds(200), "{ended:?}");
        let us = pic.picture(Viewer::Dest(Nation::Us)).unwrap();
        assert_eq!(
            us.events.len(),
            2,
            "exercise and real world, never one event"
        );
        let text = pic.render_text(&[Viewer::Dest(Nation::Jp)]);
        assert!(text.contains("== jp: 1 event(s)"), "{text}");
        assert!(!text.contains("== us"), "{text}");
        // All three inputs were accepted (withholding is not rejecting).
        let json = pic.to_json(&[]);
        assert_eq!(json["pictures"].as_array().unwrap().len(), 3);
        assert_eq!(json["accepted"], 3);
    }

    #[test]
    fn jsonl_records_and_bare_envelopes_both_read() {
        let e = env(Nation::Jp, &Nation::ALL, 1, Mode::RealWorld);
        let rec = json!({"ts": "2026-11-21T12:00:05Z", "subject": "tl.in.jp.launch_detection", "envelope": e});
        let text = format!(
            "{rec}\n{}\nnot json\n",
            String::from_utf8(e.to_json().unwrap()).unwrap()
        );
        let inputs = OfflineInput::from_jsonl(&text);
        assert_eq!(inputs.len(), 3);
        assert_eq!(inputs[0].at, Some(t0() + Duration::seconds(5)));
        assert_eq!(
            inputs[0].subject.as_deref(),
            Some("tl.in.jp.launch_detection")
        );
        assert_eq!(inputs[1].at, None);
        let pic = build(&inputs, &OfflineOptions::new(Scope::Hub));
        // The duplicate is accepted (the relay's dedup is JetStream's), the garbage rejected.
        assert_eq!(pic.rejected.len(), 1);
        assert_eq!(pic.rejected[0].input, 3);
        assert!(truth_from_jsonl("nope").is_err());
        assert!(truth_from_jsonl("").unwrap().is_empty());
        assert_eq!(
            truth_from_jsonl(&text[..text.find("\nnot").unwrap()])
                .unwrap()
                .len(),
            2
        );
    }
}
