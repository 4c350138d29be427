//! Track-quality metrics of the single-integrated-air-picture kind, against scenario truth.
//!
//! [`evaluate`] replays national reports through a fresh [`Correlator`] and, after every
//! report, compares destination D's picture with the truth (envelopes of the `scenario-truth`
//! system, as `trilink_scenario` writes them):
//!
//! - each event is placed at its fused track (or, before any track, its launch point at the
//!   launch time) and matched to the nearest true object of the same mode within
//!   [`MetricsConfig::match_radius_m`];
//! - **completeness**: share of (object, instant) pairs, from the object's first report released
//!   to D to its end, with at least one event matched;
//! - **ambiguity**: events matched per covered (object, instant) pair (1.0 is ideal);
//! - **spuriousness**: share of (event, instant) pairs of live events matched to no object;
//! - **positional RMS** of the fused tracks, and of each nation's own track updates, against
//!   truth at their times;
//! - **track-id changes**: how often the event matched to an object changes;
//! - **time to association**: for each national track released to D, the time from its first
//!   report to the first instant it is a member of an event in D's picture (a track that starts
//!   an event is associated at once; one the correlator holds back as ambiguous waits).
//!
//! Pure: no clock, no I/O; `now` is each report's emit time.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use trilink_schema::{Envelope, EventState, Mode, Nation, Payload};
use uuid::Uuid;

use crate::fusion::{Kin, M6, V6};
use crate::geo::{self, V3};
use crate::{Config, Correlator, PictureError};

/// Tuning of the evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricsConfig {
    /// An event farther than this from every true object is spurious, m.
    pub match_radius_m: f64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            match_radius_m: 10_000.0,
        }
    }
}

/// The figures for one destination.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quality {
    /// Share of covered (object, instant) pairs, 0 … 1.
    pub completeness: f64,
    /// Events per covered (object, instant) pair.
    pub ambiguity: f64,
    /// Share of (event, instant) pairs matched to no object, 0 … 1. A national false alarm
    /// shows here for as long as its nation reports it.
    pub spuriousness: f64,
    /// The same, counting only events that were not cancelled in the end by every contributor
    /// (i.e. spurious events the nations' own retractions do not explain).
    pub spuriousness_unretracted: f64,
    /// RMS error of the fused track positions, m (NaN without any).
    pub fused_rms_m: f64,
    /// RMS error of each nation's own track updates released to D, m.
    pub national_rms_m: BTreeMap<Nation, f64>,
    /// Paired comparison, per nation: at each of its track updates (right after it is
    /// ingested), the error of that update and of the fused track of the event matched to the
    /// same object, predicted to the update's time.
    pub paired: BTreeMap<Nation, Paired>,
    /// Changes of the event matched to an object, summed over objects.
    pub track_id_changes: usize,
    /// Instants evaluated (one per report).
    pub instants: usize,
    /// Time from each national track's first report to its association, per nation.
    pub association: BTreeMap<Nation, Association>,
}

/// Time from first report to association of one nation's tracks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Association {
    /// Tracks associated with an event.
    pub tracks: usize,
    /// Mean time from a track's first report to its association, s.
    pub mean_s: f64,
    /// Longest such time, s.
    pub max_s: f64,
    /// Tracks reported but never associated by the end of the reports.
    pub unassociated: usize,
}

/// Paired RMS errors of a nation's own track and of the fused track at the same instants.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Paired {
    /// RMS error of the nation's track updates, m.
    pub national_rms_m: f64,
    /// RMS error of the fused track at the same times, m.
    pub fused_rms_m: f64,
    /// Number of pairs.
    pub samples: usize,
}

/// One true object: mode, launch, state samples, end.
#[derive(Debug, Clone)]
struct Truth {
    mode: Mode,
    launch_t: f64,
    launch: V3,
    samples: Vec<(f64, V3, V3)>,
    end_t: f64,
}

impl Truth {
    /// Position at `t`: ballistic prediction from the nearest sample (or the launch point).
    fn at(&self, t: f64) -> V3 {
        let nearest = self
            .samples
            .iter()
            .min_by(|a, b| (a.0 - t).abs().total_cmp(&(b.0 - t).abs()));
        match nearest {
            Some((t0, p, v)) => {
                let mut x = V6::zeros();
                x.fixed_rows_mut::<3>(0).copy_from(p);
                x.fixed_rows_mut::<3>(3).copy_from(v);
                Kin {
                    t: *t0,
                    x,
                    p: M6::identity(),
                    boost: false,
                    info: None,
                }
                .predict(t, &Config::default())
                .pos()
            }
            None => self.launch,
        }
    }
}

fn truths(truth: &[Envelope]) -> BTreeMap<String, Truth> {
    let mut out: BTreeMap<String, Truth> = BTreeMap::new();
    for e in truth {
        let Some(id) = e.payload.track_id() else {
            continue;
        };
        match &e.payload {
            Payload::LaunchDetection(p) => {
                out.insert(
                    id.as_str().to_owned(),
                    Truth {
                        mode: e.mode,
                        launch_t: geo::secs(p.launch_time),
                        launch: geo::ecef(&p.launch_point),
                        samples: Vec::new(),
                        end_t: f64::INFINITY,
                    },
                );
            }
            Payload::TrackUpdate(p) => {
                if let Some(t) = out.get_mut(id.as_str()) {
                    let r = geo::enu_rotation(&p.position);
                    t.samples.push((
                        geo::secs(p.time),
                        geo::ecef(&p.position),
                        geo::velocity_ecef(&p.velocity, &r),
                    ));
                }
            }
            Payload::EventEnd(p) => {
                if let Some(t) = out.get_mut(id.as_str()) {
                    t.end_t = geo::secs(p.time);
                }
            }
            _ => {}
        }
    }
    out
}

fn rms(sum_sq: f64, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        (sum_sq / n as f64).sqrt()
    }
}

/// Evaluate destination `dest`'s picture over `reports` (each with the instant it is ingested)
/// against `truth`.
pub fn evaluate(
    truth: &[Envelope],
    reports: &[(Envelope, DateTime<Utc>)],
    dest: Nation,
    cfg: Config,
    mcfg: MetricsConfig,
) -> Result<Quality, PictureError> {
    let objects = truths(truth);
    let mut c = Correlator::new(cfg);
    let mut q = Quality::default();
    let (mut covered, mut matched_pairs, mut complete) = (0usize, 0usize, 0usize);
    let (mut live_events, mut spurious) = (0usize, 0usize);
    let mut unmatched: BTreeMap<Uuid, usize> = BTreeMap::new();
    let (mut fused_sq, mut fused_n) = (0.0, 0usize);
    let mut nat: BTreeMap<Nation, (f64, usize)> = BTreeMap::new();
    let mut pairs: BTreeMap<Nation, (f64, f64, usize)> = BTreeMap::new();
    let mut pending_pair: Option<(Nation, String, f64, f64)> = None;
    let mut last_event: BTreeMap<String, Uuid> = BTreeMap::new();
    // An object counts from the first report about it released to `dest`.
    let mut first_seen: BTreeMap<String, f64> = BTreeMap::new();
    // National track → instant of its first report released to `dest`; and the delays.
    let mut unassociated: BTreeMap<(Nation, String), f64> = BTreeMap::new();
    let mut delays: BTreeMap<Nation, Vec<f64>> = BTreeMap::new();
    let mut associated: BTreeSet<(Nation, String)> = BTreeSet::new();

    for (env, now) in reports {
        c.ingest(env, *now)?;
        c.tick(*now);
        let t_now = geo::secs(*now);
        if env.releasable_to(dest)
            && matches!(
                env.payload,
                Payload::LaunchDetection(_)
                    | Payload::TrackUpdate(_)
                    | Payload::ImpactPrediction(_)
            )
            && let Some(id) = env.payload.track_id()
        {
            let key = (env.origin, id.as_str().to_owned());
            if !associated.contains(&key) {
                unassociated.entry(key).or_insert(t_now);
            }
        }
        if !unassociated.is_empty() {
            for (_, members) in c.membership(dest) {
                for (origin, id) in members {
                    let key = (origin, id.as_str().to_owned());
                    if let Some(since) = unassociated.remove(&key) {
                        delays.entry(origin).or_default().push(t_now - since);
                        associated.insert(key);
                    }
                }
            }
        }
        if env.releasable_to(dest) {
            if let Payload::TrackUpdate(p) = &env.payload {
                let pos = geo::ecef(&p.position);
                let t = geo::secs(p.time);
                if let Some((name, err)) = nearest(&objects, env.mode, t, &pos, mcfg.match_radius_m)
                {
                    let e = nat.entry(env.origin).or_default();
                    e.0 += err * err;
                    e.1 += 1;
                    pending_pair = Some((env.origin, name, t, err));
                }
            }
            if let Some(p) = report_point(env) {
                let t = geo::secs(env.observed_at);
                if let Some((name, _)) = nearest(&objects, env.mode, t, &p, mcfg.match_radius_m) {
                    first_seen.entry(name).or_insert(t);
                }
            }
        }
        q.instants += 1;
        let mut per_object: BTreeMap<String, BTreeSet<Uuid>> = BTreeMap::new();
        let mut fused_at: BTreeMap<Uuid, Kin> = BTreeMap::new();
        for v in c.view_for(dest) {
            if v.event.state != EventState::Active {
                continue;
            }
            let (t, pos) = match (&v.event.track, &v.event.launch) {
                (Some(k), _) => (geo::secs(k.time), geo::ecef(&k.position)),
                (None, Some(l)) => (geo::secs(l.launch_time), geo::ecef(&l.launch_point)),
                (None, None) => continue,
            };
            live_events += 1;
            if let Some((name, err)) = nearest(&objects, v.mode, t, &pos, mcfg.match_radius_m) {
                {
                    if let Some(k) = &v.event.track {
                        fused_sq += err * err;
                        fused_n += 1;
                        let r = geo::enu_rotation(&k.position);
                        let mut x = V6::zeros();
                        x.fixed_rows_mut::<3>(0).copy_from(&pos);
                        x.fixed_rows_mut::<3>(3)
                            .copy_from(&geo::velocity_ecef(&k.velocity, &r));
                        fused_at.insert(
                            v.event.event_id,
                            Kin {
                                t,
                                x,
                                p: M6::identity(),
                                boost: false,
                                info: None,
                            },
                        );
                    }
                    per_object.entry(name).or_default().insert(v.event.event_id);
                }
            } else {
                spurious += 1;
                *unmatched.entry(v.event.event_id).or_default() += 1;
            }
        }
        if let Some((n, name, t, err)) = pending_pair.take()
            && let Some(events) = per_object.get(&name)
            && let Some(k) = events.iter().find_map(|e| fused_at.get(e))
            && let Some(o) = objects.get(&name)
        {
            let f = (k.predict(t, &Config::default()).pos() - o.at(t)).norm();
            let e = pairs.entry(n).or_default();
            e.0 += err * err;
            e.1 += f * f;
            e.2 += 1;
        }
        for (name, o) in &objects {
            let Some(since) = first_seen.get(name) else {
                continue;
            };
            if t_now < *since || t_now > o.end_t {
                continue;
            }
            covered += 1;
            if let Some(events) = per_object.get(name) {
                complete += 1;
                matched_pairs += events.len();
                if let Some(first) = events.iter().next()
                    && let Some(prev) = last_event.insert(name.clone(), *first)
                    && prev != *first
                {
                    q.track_id_changes += 1;
                }
            }
        }
    }
    q.completeness = if covered == 0 {
        1.0
    } else {
        complete as f64 / covered as f64
    };
    q.ambiguity = if complete == 0 {
        0.0
    } else {
        matched_pairs as f64 / complete as f64
    };
    q.spuriousness = if live_events == 0 {
        0.0
    } else {
        spurious as f64 / live_events as f64
    };
    let final_states: BTreeMap<Uuid, EventState> = c
        .view_for(dest)
        .into_iter()
        .map(|v| (v.event.event_id, v.event.state))
        .collect();
    let unretracted: usize = unmatched
        .iter()
        .filter(|(id, _)| final_states.get(*id) != Some(&EventState::Cancelled))
        .map(|(_, n)| n)
        .sum();
    q.spuriousness_unretracted = if live_events == 0 {
        0.0
    } else {
        unretracted as f64 / live_events as f64
    };
    q.fused_rms_m = rms(fused_sq, fused_n);
    for n in delays.keys().chain(unassociated.keys().map(|(n, _)| n)) {
        let d = delays.get(n).map(Vec::as_slice).unwrap_or_default();
        q.association.insert(
            *n,
            Association {
                tracks: d.len(),
                mean_s: if d.is_empty() {
                    f64::NAN
                } else {
                    d.iter().sum::<f64>() / d.len() as f64
                },
                max_s: d.iter().copied().fold(0.0, f64::max),
                unassociated: unassociated.keys().filter(|(o, _)| o == n).count(),
            },
        );
    }
    q.national_rms_m = nat.into_iter().map(|(n, (s, k))| (n, rms(s, k))).collect();
    q.paired = pairs
        .into_iter()
        .map(|(n, (a, b, k))| {
            (
                n,
                Paired {
                    national_rms_m: rms(a, k),
                    fused_rms_m: rms(b, k),
                    samples: k,
                },
            )
        })
        .collect();
    Ok(q)
}

/// The point a national report places its object at (launch point or track position).
fn report_point(env: &Envelope) -> Option<V3> {
    match &env.payload {
        Payload::LaunchDetection(p) => Some(geo::ecef(&p.launch_point)),
        Payload::TrackUpdate(p) => Some(geo::ecef(&p.position)),
        _ => None,
    }
}

/// Nearest true object of `mode` to `pos` at `t` within `radius`, with the distance.
fn nearest(
    objects: &BTreeMap<String, Truth>,
    mode: Mode,
    t: f64,
    pos: &V3,
    radius: f64,
) -> Option<(String, f64)> {
    objects
        .iter()
        .filter(|(_, o)| o.mode == mode && t >= o.launch_t - 60.0 && t <= o.end_t + 60.0)
        .map(|(n, o)| {
            let at = if t <= o.launch_t { o.launch } else { o.at(t) };
            (n, (at - pos).norm())
        })
        .filter(|(_, d)| *d <= radius)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(n, d)| (n.clone(), d))
}
