//! One destination's picture: the national tracks released to it, associated into events.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use nalgebra::{Matrix2, SMatrix, SVector, Vector2};
use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix;
use trilink_schema::{
    CommonEvent, ContributionState, Contributor, EndReason, EventClose, EventState, FlightPhase,
    FusedImpact, FusedLaunch, FusedTrack, GeoPoint, MessageId, MissileClass, Mode, Nation,
    PositionUncertainty, TrackId,
};
use uuid::Uuid;

use crate::fusion::{
    Impact, Kin, Launch, M4, V4, chi2_gate, ci_with_information, covariance_intersection,
    ellipse_of, gaussian_cost, symmetrize,
};
use crate::geo::{self, V3};
use crate::{ChangeKind, Config, EventChange, EventView};

/// Namespace of event ids (UUID v5 over the first contribution's message id). Never change it:
/// replays must reproduce event ids.
const EVENT_NAMESPACE: Uuid = Uuid::from_u128(0x3f6b_1c0e_92d4_5a7b_8e21_c4d9_07aa_5e13);

/// A national track as the picture keys it: mode, origin and the national id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TrackKey {
    pub mode: Mode,
    pub origin: Nation,
    pub id: TrackId,
}

/// What one envelope says, parsed once for every destination's picture.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per envelope, never stored
pub(crate) enum ReportContent {
    Launch {
        est: Launch,
        class: MissileClass,
    },
    Track {
        kin: Kin,
        phase: FlightPhase,
    },
    Impact(Impact),
    End {
        time: DateTime<Utc>,
        reason: EndReason,
        point: Option<GeoPoint>,
    },
    Cancel,
    Correction {
        time: Option<f64>,
        point: Option<V3>,
        class: Option<MissileClass>,
    },
}

/// A parsed report.
#[derive(Debug, Clone)]
pub(crate) struct Report<'a> {
    pub key: TrackKey,
    pub sensor: &'a str,
    pub msg: MessageId,
    pub observed_at: DateTime<Utc>,
    pub references: &'a [MessageId],
    pub body: ReportContent,
}

#[derive(Debug, Clone)]
struct NatTrack {
    key: TrackKey,
    sensor: String,
    event: Option<u64>,
    pending_since: Option<f64>,
    cancelled: bool,
    end: Option<(DateTime<Utc>, EndReason, Option<GeoPoint>)>,
    first_msg: MessageId,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    launch: Option<Launch>,
    ld_msg: Option<MessageId>,
    class: MissileClass,
    kin: Option<Kin>,
    /// Message that gave `kin` (the memo key: one message parses to one state).
    kin_msg: Option<MessageId>,
    kin_at: DateTime<Utc>,
    phase: FlightPhase,
    impact: Option<Impact>,
    ip_msg: Option<MessageId>,
}

impl NatTrack {
    fn associable(&self) -> bool {
        !self.cancelled && (self.launch.is_some() || self.kin.is_some())
    }
}

#[derive(Debug, Clone)]
struct Event {
    id: Uuid,
    mode: Mode,
    members: Vec<u64>,
    state: EventState,
    end: Option<EventClose>,
    closed_at: Option<f64>,
    kin: Option<(Kin, DateTime<Utc>, FlightPhase)>,
    launch: Option<Launch>,
    impact: Option<Impact>,
}

/// How well a track matches an event.
#[derive(Debug, Clone, Copy)]
struct Score {
    d2: f64,
    dof: usize,
    /// Squared distance of the kinematic (6-dof) part, when both had kinematics.
    kin_d2: Option<f64>,
    /// Negative doubled log-likelihood of the compared parts (Mahalanobis distance plus the log
    /// determinant of each innovation covariance): what global assignment minimises, so that
    /// precise evidence (a launch point and time matched directly) outweighs vague evidence (a
    /// track propagated back to a launch over minutes) of a similar Mahalanobis distance.
    nll: f64,
}

enum Decision {
    Join(u64),
    Create,
    Wait,
}

/// The picture of one destination.
#[derive(Debug, Clone)]
pub(crate) struct Picture {
    dest: Nation,
    drop_after_s: f64,
    now: f64,
    next_track: u64,
    next_event: u64,
    keys: HashMap<TrackKey, u64>,
    tracks: BTreeMap<u64, NatTrack>,
    events: BTreeMap<u64, Event>,
    pending: Vec<u64>,
}

impl Picture {
    pub fn new(dest: Nation, drop_after_s: f64) -> Self {
        Self {
            dest,
            drop_after_s,
            now: f64::NEG_INFINITY,
            next_track: 0,
            next_event: 0,
            keys: HashMap::new(),
            tracks: BTreeMap::new(),
            events: BTreeMap::new(),
            pending: Vec::new(),
        }
    }

    fn change(&self, ev: &Event, kind: ChangeKind, out: &mut Vec<EventChange>) {
        out.push(EventChange {
            dest: self.dest,
            event_id: ev.id,
            kind,
        });
    }

    /// Apply one report released to this destination.
    pub fn apply(
        &mut self,
        r: &Report<'_>,
        now: f64,
        cfg: &Config,
        memo: &mut FuseMemo,
        out: &mut Vec<EventChange>,
    ) {
        self.now = self.now.max(now);
        let tid = if let Some(t) = self.keys.get(&r.key) {
            *t
        } else {
            {
                // Only a launch detection or a track update starts a track; anything else
                // about an unknown track (e.g. one never released here) changes nothing.
                if !matches!(
                    r.body,
                    ReportContent::Launch { .. } | ReportContent::Track { .. }
                ) {
                    return;
                }
                let t = self.next_track;
                self.next_track += 1;
                self.keys.insert(r.key.clone(), t);
                self.tracks.insert(
                    t,
                    NatTrack {
                        key: r.key.clone(),
                        sensor: r.sensor.to_owned(),
                        event: None,
                        pending_since: None,
                        cancelled: false,
                        end: None,
                        first_msg: r.msg,
                        first_at: r.observed_at,
                        last_at: r.observed_at,
                        launch: None,
                        ld_msg: None,
                        class: MissileClass::Unknown,
                        kin: None,
                        kin_msg: None,
                        kin_at: r.observed_at,
                        phase: FlightPhase::Unknown,
                        impact: None,
                        ip_msg: None,
                    },
                );
                t
            }
        };
        let Some(track) = self.tracks.get_mut(&tid) else {
            return;
        };
        if track.cancelled {
            return;
        }
        track.last_at = track.last_at.max(r.observed_at);
        let mut what = Refuse::default();
        match &r.body {
            ReportContent::Launch { est, class } => {
                track.launch = Some(*est);
                track.ld_msg = Some(r.msg);
                if *class != MissileClass::Unknown || track.class == MissileClass::Unknown {
                    track.class = *class;
                }
                what.launch = true;
            }
            ReportContent::Track { kin, phase } => {
                // Out-of-order reports older than the track's state are ignored.
                if track.kin.as_ref().is_none_or(|k| k.t <= kin.t) {
                    track.kin = Some(*kin);
                    track.kin_msg = Some(r.msg);
                    track.kin_at = r.observed_at;
                    track.phase = *phase;
                    what.kin = true;
                }
            }
            ReportContent::Impact(imp) => {
                track.impact = Some(*imp);
                track.ip_msg = Some(r.msg);
                what.impact = true;
            }
            ReportContent::End {
                time,
                reason,
                point,
            } => {
                track.end = Some((*time, *reason, *point));
                what.state = true;
            }
            ReportContent::Cancel => {
                track.cancelled = true;
                what = Refuse::all();
            }
            ReportContent::Correction { time, point, class } => {
                let to_impact = track.ip_msg.is_some_and(|m| r.references.contains(&m))
                    && !track.ld_msg.is_some_and(|m| r.references.contains(&m));
                if to_impact {
                    if let Some(imp) = track.impact.as_mut() {
                        if let Some(t) = time {
                            imp.t = *t;
                        }
                        if let Some(p) = point {
                            imp.point = *p;
                        }
                        what.impact = true;
                    }
                } else if let Some(l) = track.launch.as_mut() {
                    if let Some(p) = point {
                        l.x.fixed_rows_mut::<3>(0).copy_from(p);
                    }
                    if let Some(t) = time {
                        l.x.w = *t;
                    }
                    what.launch = true;
                }
                if let Some(c) = class {
                    track.class = *c;
                }
                what.state = true;
            }
        }
        match track.event {
            Some(eid) if what.kin && !what.launch && !what.impact && !what.state => {
                self.refuse_kin(eid, cfg, memo, out);
            }
            Some(eid) => self.refuse(eid, what, cfg, out),
            None => {
                if track.cancelled {
                    self.pending.retain(|p| *p != tid);
                } else if track.associable() && track.pending_since.is_none() {
                    track.pending_since = Some(now);
                    self.pending.push(tid);
                }
            }
        }
        self.resolve_pending(now, false, cfg, out);
    }

    /// Periodic work: pending tracks that waited too long are assigned, events whose
    /// contributions all fell silent end as lost, long-closed events are forgotten.
    pub fn tick(&mut self, now: f64, cfg: &Config, out: &mut Vec<EventChange>) {
        self.now = self.now.max(now);
        self.resolve_pending(now, true, cfg, out);
        let silent: Vec<u64> = self
            .events
            .iter()
            .filter(|(_, e)| e.state == EventState::Active)
            .filter(|(_, e)| {
                e.members.iter().all(|m| {
                    self.tracks.get(m).is_none_or(|t| {
                        t.cancelled
                            || t.end.is_some()
                            || geo::secs(t.last_at) + cfg.drop_after_s < now
                    })
                })
            })
            .map(|(k, _)| *k)
            .collect();
        for eid in silent {
            let last = self.members(eid).map(|t| t.last_at).max();
            if let (Some(ev), Some(last)) = (self.events.get_mut(&eid), last) {
                ev.state = EventState::Ended;
                ev.closed_at = Some(now);
                ev.end = Some(EventClose {
                    time: last,
                    reason: EndReason::Lost,
                    final_point: ev.kin.as_ref().map(|(k, _, _)| geo::geodetic(&k.pos())),
                });
                let ev = ev.clone();
                self.change(&ev, ChangeKind::Ended, out);
            }
        }
        let old: Vec<u64> = self
            .events
            .iter()
            .filter(|(_, e)| e.closed_at.is_some_and(|c| c + cfg.retain_closed_s < now))
            .map(|(k, _)| *k)
            .collect();
        for eid in old {
            if let Some(ev) = self.events.remove(&eid) {
                for m in ev.members {
                    if let Some(t) = self.tracks.remove(&m) {
                        self.keys.remove(&t.key);
                    }
                }
            }
        }
    }

    fn members(&self, eid: u64) -> impl Iterator<Item = &NatTrack> + '_ {
        self.events
            .get(&eid)
            .into_iter()
            .flat_map(|e| e.members.iter())
            .filter_map(|m| self.tracks.get(m))
    }

    /// Try to bind pending tracks. `force`: those pending longer than the timeout are assigned
    /// to their best candidate (global assignment per sensor) even when ambiguous.
    fn resolve_pending(&mut self, now: f64, force: bool, cfg: &Config, out: &mut Vec<EventChange>) {
        if self.pending.is_empty() {
            return;
        }
        let pending = self.pending.clone();
        let mut overdue = Vec::new();
        for tid in pending {
            match self.decide(tid, cfg) {
                Decision::Join(eid) => self.join(tid, eid, cfg, out),
                Decision::Create => self.create(tid, cfg, out),
                Decision::Wait => {
                    let since = self
                        .tracks
                        .get(&tid)
                        .and_then(|t| t.pending_since)
                        .unwrap_or(now);
                    if force && since + cfg.pending_timeout_s <= now {
                        overdue.push(tid);
                    }
                }
            }
        }
        if !overdue.is_empty() {
            self.assign(&overdue, cfg, out);
        }
    }

    fn decide(&self, tid: u64, cfg: &Config) -> Decision {
        let Some(t) = self.tracks.get(&tid) else {
            return Decision::Wait;
        };
        let mut gated: Vec<(u64, Score)> = self
            .candidates_with(t, cfg)
            .into_iter()
            .filter(|(_, s)| s.d2 <= chi2_gate(s.dof) * cfg.gate_scale)
            .collect();
        match gated.len() {
            0 => Decision::Create,
            1 => gated
                .first()
                .map_or(Decision::Wait, |(e, _)| Decision::Join(*e)),
            _ => {
                gated.sort_by(|a, b| {
                    let ka = a.1.kin_d2.unwrap_or(f64::INFINITY);
                    let kb = b.1.kin_d2.unwrap_or(f64::INFINITY);
                    ka.total_cmp(&kb).then(a.0.cmp(&b.0))
                });
                let Some(&(best, bs)) = gated.first() else {
                    return Decision::Wait;
                };
                let Some(bk) = bs.kin_d2 else {
                    return Decision::Wait;
                };
                let decisive = gated
                    .iter()
                    .skip(1)
                    .all(|(_, s)| s.kin_d2.is_some_and(|k| k - bk >= cfg.ambiguity_margin));
                if decisive {
                    Decision::Join(best)
                } else {
                    Decision::Wait
                }
            }
        }
    }

    /// Events a track may join: same mode, active, and no live track of the same sensor.
    fn candidates_with(&self, t: &NatTrack, cfg: &Config) -> Vec<(u64, Score)> {
        let mut v = Vec::new();
        for (eid, ev) in &self.events {
            if ev.mode != t.key.mode || ev.state != EventState::Active {
                continue;
            }
            let same_sensor = ev.members.iter().any(|m| {
                self.tracks.get(m).is_some_and(|o| {
                    !o.cancelled && o.key.origin == t.key.origin && o.sensor == t.sensor
                })
            });
            if same_sensor {
                continue;
            }
            if let Some(s) = score(t, ev, cfg) {
                v.push((*eid, s));
            }
        }
        v
    }

    /// Global assignment (Kuhn–Munkres) of overdue pending tracks, one sensor at a time: a
    /// sensor holds at most one track per object, so its tracks compete for events.
    fn assign(&mut self, overdue: &[u64], cfg: &Config, out: &mut Vec<EventChange>) {
        let mut groups: BTreeMap<(Mode, Nation, String), Vec<u64>> = BTreeMap::new();
        for tid in overdue {
            if let Some(t) = self.tracks.get(tid) {
                groups
                    .entry((t.key.mode, t.key.origin, t.sensor.clone()))
                    .or_default()
                    .push(*tid);
            }
        }
        for rows in groups.into_values() {
            let scored: Vec<Vec<(u64, Score)>> = rows
                .iter()
                .map(|tid| {
                    self.tracks.get(tid).map_or_else(Vec::new, |t| {
                        self.candidates_with(t, cfg)
                            .into_iter()
                            .filter(|(_, s)| s.d2 <= chi2_gate(s.dof) * cfg.gate_scale)
                            .collect()
                    })
                })
                .collect();
            let mut cols: Vec<u64> = scored.iter().flatten().map(|(e, _)| *e).collect();
            cols.sort_unstable();
            cols.dedup();
            let n_cols = cols.len() + rows.len();
            // Weights (maximised): −1000 × negative doubled log-likelihood for a gated pair, a large
            // penalty for "start a new event", and a larger one for impossible pairs.
            let mut w = Vec::with_capacity(rows.len() * n_cols);
            for row in &scored {
                for c in &cols {
                    w.push(
                        row.iter()
                            .find(|(e, _)| e == c)
                            .map_or(IMPOSSIBLE, |(_, s)| -((s.nll * 1000.0).round() as i64)),
                    );
                }
                w.extend(std::iter::repeat_n(NEW_EVENT, rows.len()));
            }
            let Ok(m) = Matrix::from_vec(rows.len(), n_cols, w) else {
                continue;
            };
            let (_, assignment) = kuhn_munkres(&m);
            for (tid, col) in rows.iter().zip(assignment) {
                let chosen = cols
                    .get(col)
                    .filter(|c| is_gated(*tid, **c, &scored, &rows));
                match chosen {
                    Some(eid) => self.join(*tid, *eid, cfg, out),
                    None => self.create(*tid, cfg, out),
                }
            }
        }
    }

    fn unpend(&mut self, tid: u64) {
        self.pending.retain(|p| *p != tid);
        if let Some(t) = self.tracks.get_mut(&tid) {
            t.pending_since = None;
        }
    }

    fn create(&mut self, tid: u64, cfg: &Config, out: &mut Vec<EventChange>) {
        self.unpend(tid);
        let Some(t) = self.tracks.get_mut(&tid) else {
            return;
        };
        let eid = self.next_event;
        self.next_event += 1;
        t.event = Some(eid);
        let id = Uuid::new_v5(&EVENT_NAMESPACE, t.first_msg.as_uuid().as_bytes());
        self.events.insert(
            eid,
            Event {
                id,
                mode: t.key.mode,
                members: vec![tid],
                state: EventState::Active,
                end: None,
                closed_at: None,
                kin: None,
                launch: None,
                impact: None,
            },
        );
        self.fuse(eid, Refuse::all(), cfg);
        if let Some(ev) = self.events.get(&eid) {
            self.change(ev, ChangeKind::Created, out);
        }
    }

    fn join(&mut self, tid: u64, eid: u64, cfg: &Config, out: &mut Vec<EventChange>) {
        self.unpend(tid);
        if let Some(t) = self.tracks.get_mut(&tid) {
            t.event = Some(eid);
        }
        if let Some(ev) = self.events.get_mut(&eid) {
            ev.members.push(tid);
        }
        self.refuse(eid, Refuse::all(), cfg, out);
    }

    /// Re-fuse an event after a member changed and report the change.
    fn refuse(&mut self, eid: u64, what: Refuse, cfg: &Config, out: &mut Vec<EventChange>) {
        let before = self.events.get(&eid).map(|e| e.state);
        self.fuse(eid, what, cfg);
        let Some(ev) = self.events.get(&eid) else {
            return;
        };
        let kind = match (before, ev.state) {
            (Some(EventState::Active), EventState::Ended) => ChangeKind::Ended,
            (Some(EventState::Active), EventState::Cancelled) => ChangeKind::Cancelled,
            _ => ChangeKind::Updated,
        };
        self.change(ev, kind, out);
    }

    /// The common case, a track update of a bound track: only the kinematics are re-fused,
    /// through the memo shared by the destinations' pictures.
    fn refuse_kin(
        &mut self,
        eid: u64,
        cfg: &Config,
        memo: &mut FuseMemo,
        out: &mut Vec<EventChange>,
    ) {
        let Some(ev) = self.events.get(&eid) else {
            return;
        };
        let live = || {
            ev.members
                .iter()
                .filter_map(|m| self.tracks.get(m))
                .filter(|t| !t.cancelled)
        };
        let key: Vec<MemoKey> = live()
            .filter_map(|t| {
                let k = t.kin.as_ref()?;
                Some((t.kin_msg?, k.t.to_bits(), k.x.x.to_bits()))
            })
            .collect();
        let fused = if let Some((_, f)) = memo.0.iter().find(|(k, _)| *k == key) {
            *f
        } else {
            let inputs: Vec<KinRef<'_>> = live()
                .filter_map(|t| t.kin.as_ref().map(|k| (k, t.kin_at, t.phase)))
                .collect();
            let f = fuse_kin_inputs(&inputs, cfg);
            memo.0.push((key, f));
            f
        };
        if let Some(ev) = self.events.get_mut(&eid) {
            ev.kin = fused;
        }
        if let Some(ev) = self.events.get(&eid) {
            self.change(ev, ChangeKind::Updated, out);
        }
    }

    fn fuse(&mut self, eid: u64, what: Refuse, cfg: &Config) {
        let Some(ev) = self.events.get(&eid) else {
            return;
        };
        let live: Vec<&NatTrack> = ev
            .members
            .iter()
            .filter_map(|m| self.tracks.get(m))
            .filter(|t| !t.cancelled)
            .collect();
        let kin = if what.kin {
            Some(fuse_kin(&live, cfg))
        } else {
            None
        };
        let launch = if what.launch {
            Some(fuse_launch(&live))
        } else {
            None
        };
        let impact = if what.impact {
            Some(fuse_impact(&live))
        } else {
            None
        };
        let state = if what.state {
            Some(life_cycle(ev, &live, self.members(eid).count()))
        } else {
            None
        };
        let now = self.now;
        let Some(ev) = self.events.get_mut(&eid) else {
            return;
        };
        if let Some(k) = kin {
            ev.kin = k;
        }
        if let Some(l) = launch {
            ev.launch = l;
        }
        if let Some(i) = impact {
            ev.impact = i;
        }
        if let Some((state, end)) = state
            && ev.state == EventState::Active
            && state != EventState::Active
        {
            ev.state = state;
            ev.end = end;
            ev.closed_at = Some(now);
        }
    }

    /// Every event of this picture, oldest first.
    pub fn views(&self) -> Vec<EventView> {
        self.events
            .keys()
            .filter_map(|eid| self.view(*eid))
            .collect()
    }

    /// One event by id.
    pub fn view_by_id(&self, id: Uuid) -> Option<EventView> {
        self.events
            .iter()
            .find(|(_, e)| e.id == id)
            .and_then(|(k, _)| self.view(*k))
    }

    fn view(&self, eid: u64) -> Option<EventView> {
        let ev = self.events.get(&eid)?;
        let members: Vec<&NatTrack> = self.members(eid).collect();
        let first = members
            .iter()
            .enumerate()
            .min_by_key(|(i, t)| (t.first_at, *i))
            .map(|(_, t)| *t)?;
        let stale_before = self.now - self.drop_after_s;
        let contributors = members
            .iter()
            .take(CommonEvent::MAX_CONTRIBUTORS)
            .map(|t| Contributor {
                origin: t.key.origin,
                track_id: t.key.id.clone(),
                state: if t.cancelled {
                    ContributionState::Cancelled
                } else if t.end.is_some() {
                    ContributionState::Ended
                } else if geo::secs(t.last_at) < stale_before {
                    ContributionState::Stale
                } else {
                    ContributionState::Active
                },
                last_report_at: t.last_at,
            })
            .collect();
        let missile_class = members
            .iter()
            .filter(|t| !t.cancelled)
            .map(|t| t.class)
            .find(|c| *c != MissileClass::Unknown)
            .unwrap_or(MissileClass::Unknown);
        let fallback = first.first_at;
        let launch = ev.launch.map(|l| {
            let p = l.x.fixed_rows::<3>(0).into_owned();
            let point = geo::geodetic(&p);
            let r = geo::enu_rotation(&point);
            let c = r.transpose() * l.p.fixed_view::<3, 3>(0, 0) * r;
            FusedLaunch {
                launch_time: geo::time_of(l.x.w, fallback),
                launch_point: point,
                launch_point_uncertainty: uncertainty(&c),
            }
        });
        let track = ev.kin.as_ref().map(|(k, at, phase)| {
            let point = geo::geodetic(&k.pos());
            let r = geo::enu_rotation(&point);
            let c = r.transpose() * k.pos_cov() * r;
            FusedTrack {
                time: *at,
                position: point,
                position_uncertainty: uncertainty(&c),
                velocity: geo::velocity_enu(&k.vel(), &r),
                flight_phase: *phase,
            }
        });
        let impact = ev.impact.map(|i| {
            let (major, minor, orientation) = ellipse_of(&i.cov_en);
            let p = geo::geodetic(&i.point);
            FusedImpact {
                impact_time: geo::time_of(i.t, fallback),
                impact_point: GeoPoint { alt_m: 0.0, ..p },
                error_ellipse: trilink_schema::ErrorEllipse {
                    semi_major_m: major,
                    semi_minor_m: minor.min(major),
                    orientation_deg: orientation,
                },
            }
        });
        Some(EventView {
            mode: ev.mode,
            event: CommonEvent {
                event_id: ev.id,
                state: ev.state,
                first_detected_by: first.key.origin,
                first_detected_at: first.first_at,
                missile_class,
                contributors,
                launch,
                track,
                impact,
                end: ev.end.clone(),
            },
        })
    }

    /// Which national tracks (origin, id) each event of this picture holds, for tests and metrics.
    pub fn membership(&self) -> Vec<(Uuid, Vec<(Nation, TrackId)>)> {
        self.events
            .iter()
            .map(|(eid, e)| {
                (
                    e.id,
                    self.members(*eid)
                        .map(|t| (t.key.origin, t.key.id.clone()))
                        .collect(),
                )
            })
            .collect()
    }
}

fn is_gated(tid: u64, eid: u64, scored: &[Vec<(u64, Score)>], rows: &[u64]) -> bool {
    rows.iter()
        .position(|r| *r == tid)
        .and_then(|i| scored.get(i))
        .is_some_and(|row| row.iter().any(|(e, _)| *e == eid))
}

/// Assignment weight of "start a new event" (below any gated pair).
const NEW_EVENT: i64 = -1_000_000_000;
/// Assignment weight of a pair outside the gate (below "start a new event").
const IMPOSSIBLE: i64 = -1_000_000_000_000;

/// What must be recomputed after a change.
#[allow(clippy::struct_excessive_bools)] // four independent flags, read at one place
#[derive(Debug, Clone, Copy, Default)]
struct Refuse {
    kin: bool,
    launch: bool,
    impact: bool,
    state: bool,
}

impl Refuse {
    fn all() -> Self {
        Self {
            kin: true,
            launch: true,
            impact: true,
            state: true,
        }
    }
}

fn uncertainty(c_enu: &geo::M3) -> PositionUncertainty {
    let h = c_enu.fixed_view::<2, 2>(0, 0).into_owned();
    let (major, _, _) = ellipse_of(&h);
    PositionUncertainty {
        horizontal_m: major,
        vertical_m: c_enu.m33.max(0.0).sqrt(),
    }
}

/// Score of a track against an event on whatever both know: kinematics (6 dof) and launch
/// point/time (4 dof); when they share neither, the one's kinematics are propagated back to the
/// other's launch time and compared with its launch point (3 dof).
fn score(t: &NatTrack, ev: &Event, cfg: &Config) -> Option<Score> {
    let mut d2 = 0.0;
    let mut nll = 0.0;
    let mut dof = 0;
    let mut kin_d2 = None;
    if let (Some(tk), Some((ek, _, _))) = (t.kin.as_ref(), ev.kin.as_ref()) {
        let ep = ek.predict(tk.t, cfg);
        let (d, n) = gaussian_cost(&(tk.x - ep.x), &(tk.p + ep.p))?;
        d2 += d;
        nll += n;
        dof += 6;
        kin_d2 = Some(d);
    }
    if let (Some(tl), Some(el)) = (t.launch.as_ref(), ev.launch.as_ref()) {
        let (d, n) = gaussian_cost(&(tl.x - el.x), &(tl.p + el.p))?;
        d2 += d;
        nll += n;
        dof += 4;
    }
    if dof == 0 {
        let cross = match (
            t.kin.as_ref(),
            ev.launch.as_ref(),
            t.launch.as_ref(),
            ev.kin.as_ref(),
        ) {
            (Some(k), Some(l), _, _) | (_, _, Some(l), Some((k, _, _))) => Some((k, l)),
            _ => None,
        };
        let (k, l) = cross?;
        let (d, n) = cross_distance(k, l, cfg)?;
        d2 += d;
        nll += n;
        dof += 3;
    }
    Some(Score {
        d2,
        dof,
        kin_d2,
        nll,
    })
}

/// Kinematics propagated back to the launch time against the launch point: squared
/// Mahalanobis distance and negative doubled log-likelihood ([`gaussian_cost`]).
fn cross_distance(k: &Kin, l: &Launch, cfg: &Config) -> Option<(f64, f64)> {
    let back = k.predict(l.x.w, cfg);
    let dt = (k.t - l.x.w).abs();
    let extra = (cfg.backprop_sigma_mps * dt).powi(2);
    let s = back.pos_cov() + l.p.fixed_view::<3, 3>(0, 0) + geo::M3::identity() * extra;
    gaussian_cost(&(back.pos() - l.x.fixed_rows::<3>(0)), &s)
}

/// A member's kinematic input to fusion: state, its report time, its flight phase.
type KinInput = (Kin, DateTime<Utc>, FlightPhase);

/// [`KinInput`] borrowed from its track (a `Kin` is ~650 bytes: fusion reads it in place).
type KinRef<'a> = (&'a Kin, DateTime<Utc>, FlightPhase);

/// A member's fusion input as the memo knows it: the message its state came from, plus the
/// state's time and first coordinate (so even a reused message id cannot alias two states).
type MemoKey = (MessageId, u64, u64);

/// Fusion results of one ingest, keyed by their inputs in member order: destinations whose
/// pictures hold the same contributions compute the fusion once (it is a pure function).
#[derive(Debug, Default)]
pub(crate) struct FuseMemo(Vec<(Vec<MemoKey>, Option<KinInput>)>);

fn fuse_kin(live: &[&NatTrack], cfg: &Config) -> Option<KinInput> {
    let inputs: Vec<KinRef<'_>> = live
        .iter()
        .filter_map(|t| t.kin.as_ref().map(|k| (k, t.kin_at, t.phase)))
        .collect();
    fuse_kin_inputs(&inputs, cfg)
}

fn fuse_kin_inputs(inputs: &[KinRef<'_>], cfg: &Config) -> Option<KinInput> {
    let &(newest, at, phase) = inputs.iter().max_by(|a, b| a.0.t.total_cmp(&b.0.t))?;
    let t0 = newest.t;
    let items: Vec<_> = inputs
        .iter()
        .map(|(k, _, _)| *k)
        .filter(|k| k.t >= t0 - cfg.fusion_window_s)
        .map(|k| {
            if k.t.to_bits() == t0.to_bits() {
                // Not predicted (`Kin::predict` to its own time is the identity): it keeps
                // its precomputed information matrix.
                (k.x, k.p, k.info)
            } else {
                let p = k.predict(t0, cfg);
                (p.x, p.p, None)
            }
        })
        .collect();
    let (x, p, _) = ci_with_information(&items)?;
    Some((
        Kin {
            t: t0,
            x,
            p,
            boost: newest.boost,
            info: None,
        },
        at,
        phase,
    ))
}

fn fuse_launch(live: &[&NatTrack]) -> Option<Launch> {
    let reference = live.iter().find_map(|t| t.launch)?.x.w;
    // Times relative to the first launch time keep the 4×4 well conditioned.
    let items: Vec<(V4, M4)> = live
        .iter()
        .filter_map(|t| t.launch)
        .map(|l| {
            let mut x = l.x;
            x.w -= reference;
            (x, l.p)
        })
        .collect();
    let (mut x, p, _) = covariance_intersection(&items)?;
    x.w += reference;
    Some(Launch { x, p })
}

fn fuse_impact(live: &[&NatTrack]) -> Option<Impact> {
    let first = live.iter().find_map(|t| t.impact)?;
    let reference = first.point;
    let rp = geo::geodetic(&reference);
    let r = geo::enu_rotation(&rp);
    let rt = r.transpose();
    let imps: Vec<Impact> = live.iter().filter_map(|t| t.impact).collect();
    let items: Vec<(SVector<f64, 2>, SMatrix<f64, 2, 2>)> = imps
        .iter()
        .map(|i| {
            let d = rt * (i.point - reference);
            (Vector2::new(d.x, d.y), i.cov_en)
        })
        .collect();
    let (x, p, w) = covariance_intersection(&items)?;
    let t_ref = first.t;
    let t = t_ref
        + imps
            .iter()
            .zip(&w)
            .map(|(i, w)| (i.t - t_ref) * w)
            .sum::<f64>();
    let fused = reference + r * V3::new(x.x, x.y, 0.0);
    let g = geo::geodetic(&fused);
    let point = geo::ecef(&GeoPoint { alt_m: 0.0, ..g });
    Some(Impact {
        point,
        cov_en: symmetrize(&p),
        t,
    })
}

fn life_cycle(ev: &Event, live: &[&NatTrack], total: usize) -> (EventState, Option<EventClose>) {
    if total > 0 && live.is_empty() {
        return (EventState::Cancelled, None);
    }
    if live.iter().all(|t| t.end.is_some()) {
        let ends: Vec<_> = live.iter().filter_map(|t| t.end).collect();
        let time = ends.iter().map(|e| e.0).max();
        let impact = ends.iter().find(|e| e.1 == EndReason::Impact);
        let (reason, point) = match (impact, ends.first()) {
            (Some(i), _) => (EndReason::Impact, i.2),
            (None, Some(f)) => (f.1, f.2),
            (None, None) => (EndReason::Other, None),
        };
        if let Some(time) = time {
            return (
                EventState::Ended,
                Some(EventClose {
                    time,
                    reason,
                    final_point: point,
                }),
            );
        }
    }
    (ev.state, ev.end.clone())
}

/// Helpers to build estimates from reports (used by the correlator's parser).
pub(crate) fn impact_estimate(
    point: &GeoPoint,
    major: f64,
    minor: f64,
    orient: f64,
    t: f64,
    floor: f64,
) -> Impact {
    let ground = GeoPoint {
        alt_m: 0.0,
        ..*point
    };
    Impact {
        point: geo::ecef(&ground),
        cov_en: cov_ellipse(major.max(floor), minor.max(floor), orient),
        t,
    }
}

fn cov_ellipse(major: f64, minor: f64, orient: f64) -> Matrix2<f64> {
    crate::fusion::cov_of_ellipse(major, minor, orient)
}
