//! # trilink-picture — the common picture at the hub
//!
//! A pure correlator that turns the nations' validated envelopes into **common events**, one
//! per physical object:
//!
//! - **association** of national tracks and launch detections: each track's state and each
//!   event's fused state are predicted to a common time (ballistic or constant velocity) and
//!   compared by squared Mahalanobis distance on their stated uncertainties, gated at χ²
//!   probability 0.9999; launch detections that precede tracks are compared on launch point and
//!   time. A track that gates with several events waits (up to
//!   [`Config::pending_timeout_s`]) until kinematics decide; overdue tracks are assigned globally
//!   per sensor with Kuhn–Munkres (`pathfinding`), maximising the likelihood of the pairs (a
//!   launch point and time matched directly outweighs a track propagated back over minutes).
//!   A launch detection that arrives after its missile's event was started by tracks joins that
//!   event the same way. A sensor never contributes two tracks to one event, which keeps
//!   closely spaced salvos apart;
//! - **fusion** by covariance intersection (`nalgebra`), consistent whatever the unknown
//!   cross-correlations between the nations' estimates, for the track, the launch point/time and
//!   the impact point with its error ellipse;
//! - **life cycle**: event ids are UUID v5 of the first contribution's message id (a replay in
//!   the same order reproduces them); a nation's `cancel`/`correction` changes only its own
//!   contribution; an event is cancelled when every contribution is, and ends when every
//!   remaining contribution sent `event_end` (or, at [`Correlator::tick`], fell silent);
//! - **separation**: events never mix modes (`real_world`, `exercise`, `test`), and every
//!   destination has its **own picture built only from envelopes released to it**, so
//!   [`Correlator::view_for`]`(D)` cannot depend on — or reveal — a contribution not released to
//!   D (not even through an event id or a contributor list).
//!
//! Use: [`Correlator::new`], then [`Correlator::ingest`] for every validated envelope (it returns
//! which events changed for which destination), [`Correlator::tick`] periodically, and
//! [`Correlator::view_for`] / [`Correlator::event_view`] for what to publish.
//!
//! What this crate must **not** do: any I/O (sockets, files, clocks — `now` is passed in), any
//! async, any validation of its own (feed it envelopes that passed
//! [`Envelope::validate`](trilink_schema::Envelope::validate)), or any routing decision (what a
//! destination may receive at all is the relay policy's call; this crate only guarantees that a
//! destination's picture is computed from what is released to it).

#![forbid(unsafe_code)]

mod fusion;
mod geo;
pub mod metrics;
mod picture;

use chrono::{DateTime, Utc};
use trilink_schema::{CommonEvent, Envelope, Mode, Nation, Payload, TrackId};
use uuid::Uuid;

pub use fusion::{chi2_gate, covariance_intersection};

use crate::fusion::{Kin, Launch, M4, M6, V4, V6};
use crate::picture::{Picture, Report, ReportContent, TrackKey};

/// Motion model used to predict states to a common time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Inverse-square gravity, no drag, non-rotating Earth-centred frame.
    Ballistic,
    /// Straight line at constant velocity.
    ConstantVelocity,
}

/// Correlator tuning. [`Config::default`] suits the shipped scenarios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    /// Prediction model.
    pub model: Model,
    /// One-sigma velocity uncertainty assumed per component (the schema carries none), m/s.
    pub velocity_sigma_mps: f64,
    /// Floor on stated position uncertainties (a stated 0 would claim perfection), m.
    pub min_position_sigma_m: f64,
    /// One-sigma uncertainty of a reported launch time (the schema carries none), s.
    pub launch_time_sigma_s: f64,
    /// Floor on impact error-ellipse axes, m.
    pub min_impact_sigma_m: f64,
    /// White-acceleration process noise outside boost, m/s².
    pub accel_sigma_mps2: f64,
    /// White-acceleration process noise in boost (thrust unknown), m/s².
    pub boost_accel_sigma_mps2: f64,
    /// Extra position sigma per second when a track is propagated back to a launch point, m/s.
    pub backprop_sigma_mps: f64,
    /// Multiplier on the χ² gate (1.0 = probability 0.9999).
    pub gate_scale: f64,
    /// A track gating with several events joins the best one only when every other one is
    /// worse by at least this much squared kinematic distance (9.21 = likelihood ratio 100).
    pub ambiguity_margin: f64,
    /// How long an ambiguous track waits for kinematics before global assignment, s.
    pub pending_timeout_s: f64,
    /// Reports older than the newest one of an event by more than this are not fused, s.
    pub fusion_window_s: f64,
    /// A contribution with no report for this long is stale; an event whose contributions are
    /// all stale ends as lost at the next tick, s.
    pub drop_after_s: f64,
    /// Closed events are forgotten this long after closing, s.
    pub retain_closed_s: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model: Model::Ballistic,
            velocity_sigma_mps: 30.0,
            min_position_sigma_m: 10.0,
            launch_time_sigma_s: 3.0,
            min_impact_sigma_m: 100.0,
            accel_sigma_mps2: 5.0,
            boost_accel_sigma_mps2: 30.0,
            backprop_sigma_mps: 100.0,
            gate_scale: 1.0,
            ambiguity_margin: 9.21,
            pending_timeout_s: 10.0,
            fusion_window_s: 20.0,
            drop_after_s: 60.0,
            retain_closed_s: 600.0,
        }
    }
}

/// Why an envelope could not be taken into the picture.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PictureError {
    /// A number is NaN or infinite (the envelope was not validated).
    #[error("{field} is not a finite number")]
    NonFinite {
        /// Dotted path of the field.
        field: &'static str,
    },
}

/// What happened to an event in one destination's picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A new event (its first contribution).
    Created,
    /// A contribution joined, changed, ended or was cancelled; the fused estimate changed.
    Updated,
    /// The event ended (every remaining contribution ended or fell silent).
    Ended,
    /// Every contribution was cancelled.
    Cancelled,
}

/// One change: publish `event_view(dest, event_id)` to `dest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventChange {
    /// Destination whose picture changed.
    pub dest: Nation,
    /// The event.
    pub event_id: Uuid,
    /// What happened.
    pub kind: ChangeKind,
}

/// A destination's view of one event: the `common_event` payload and the mode its envelope
/// must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    /// Mode of every contribution (never mixed).
    pub mode: Mode,
    /// The payload.
    pub event: CommonEvent,
}

/// The hub correlator: one picture per destination nation.
#[derive(Debug, Clone)]
pub struct Correlator {
    cfg: Config,
    pictures: [Picture; 3],
}

fn index(n: Nation) -> usize {
    match n {
        Nation::Jp => 0,
        Nation::Kr => 1,
        Nation::Us => 2,
    }
}

fn finite(field: &'static str, v: f64) -> Result<f64, PictureError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(PictureError::NonFinite { field })
    }
}

/// The ECEF covariance of a position stated as horizontal and vertical one-sigma in its local
/// east-north-up frame (each floored at `min_position_sigma_m`), with the ENU→ECEF rotation at
/// that point.
/// A position's ECEF covariance from its stated uncertainty: the ENU rotation `R` at the
/// point, the covariance `R · diag(h², h², v²) · Rᵀ`, and its inverse (`R` is orthonormal,
/// so `R · diag(1/h², 1/h², 1/v²) · Rᵀ`; `None` when a sigma is zero).
fn position_covariance(
    cfg: &Config,
    field: &'static str,
    g: &trilink_schema::GeoPoint,
    u: &trilink_schema::PositionUncertainty,
) -> Result<(geo::M3, geo::M3, Option<geo::M3>), PictureError> {
    let r = geo::enu_rotation(g);
    let h = finite(field, u.horizontal_m)?.max(cfg.min_position_sigma_m);
    let v = finite(field, u.vertical_m)?.max(cfg.min_position_sigma_m);
    let c = r * geo::M3::from_diagonal(&geo::V3::new(h * h, h * h, v * v)) * r.transpose();
    let info = (h > 0.0 && v > 0.0).then(|| {
        let (ih, iv) = (1.0 / (h * h), 1.0 / (v * v));
        r * geo::M3::from_diagonal(&geo::V3::new(ih, ih, iv)) * r.transpose()
    });
    Ok((r, c, info))
}

impl Correlator {
    /// An empty correlator.
    pub fn new(cfg: Config) -> Self {
        Self {
            cfg,
            pictures: Nation::ALL.map(|n| Picture::new(n, cfg.drop_after_s)),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Take one validated envelope into the picture of every destination it is released to.
    /// Returns the events that changed, per destination, in a deterministic order. `status`
    /// and `common_event` envelopes change nothing.
    pub fn ingest(
        &mut self,
        env: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventChange>, PictureError> {
        let mut out = Vec::new();
        let Some(report) = self.parse(env)? else {
            return Ok(out);
        };
        let now_s = geo::secs(now);
        // Pictures whose events hold identical inputs share one fusion (a pure function).
        let mut memo = picture::FuseMemo::default();
        for dest in Nation::ALL {
            if env.releasable_to(dest)
                && let Some(p) = self.pictures.get_mut(index(dest))
            {
                p.apply(&report, now_s, &self.cfg, &mut memo, &mut out);
            }
        }
        Ok(out)
    }

    /// Periodic work at `now`: ambiguous tracks that waited [`Config::pending_timeout_s`] are
    /// assigned, events whose contributions all fell silent end as lost, closed events older
    /// than [`Config::retain_closed_s`] are forgotten.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<EventChange> {
        let mut out = Vec::new();
        let now_s = geo::secs(now);
        for p in &mut self.pictures {
            p.tick(now_s, &self.cfg, &mut out);
        }
        out
    }

    /// Every event destination `dest` may see, oldest first, computed only from the
    /// contributions released to `dest`.
    pub fn view_for(&self, dest: Nation) -> Vec<EventView> {
        self.pictures
            .get(index(dest))
            .map(Picture::views)
            .unwrap_or_default()
    }

    /// One event as `dest` sees it.
    pub fn event_view(&self, dest: Nation, event_id: Uuid) -> Option<EventView> {
        self.pictures.get(index(dest))?.view_by_id(event_id)
    }

    /// For each event `dest` sees: its id and the national tracks (origin, id) it holds.
    pub fn membership(&self, dest: Nation) -> Vec<(Uuid, Vec<(Nation, TrackId)>)> {
        self.pictures
            .get(index(dest))
            .map(Picture::membership)
            .unwrap_or_default()
    }

    fn parse<'a>(&self, env: &'a Envelope) -> Result<Option<Report<'a>>, PictureError> {
        let cfg = &self.cfg;
        let (track_id, body) = match &env.payload {
            Payload::LaunchDetection(p) => {
                let g = &p.launch_point;
                finite("payload.launch_point", g.lat_deg + g.lon_deg + g.alt_m)?;
                let pos = geo::ecef(g);
                let (_, c, _) = position_covariance(
                    cfg,
                    "payload.launch_point_uncertainty",
                    g,
                    &p.launch_point_uncertainty,
                )?;
                let mut x = V4::zeros();
                x.fixed_rows_mut::<3>(0).copy_from(&pos);
                x.w = geo::secs(p.launch_time);
                let mut pm = M4::zeros();
                pm.fixed_view_mut::<3, 3>(0, 0).copy_from(&c);
                pm.m44 = cfg.launch_time_sigma_s * cfg.launch_time_sigma_s;
                (
                    &p.track_id,
                    ReportContent::Launch {
                        est: Launch { x, p: pm },
                        class: p.missile_class,
                    },
                )
            }
            Payload::TrackUpdate(p) => {
                let g = &p.position;
                finite("payload.position", g.lat_deg + g.lon_deg + g.alt_m)?;
                finite(
                    "payload.velocity",
                    p.velocity.east_mps + p.velocity.north_mps + p.velocity.up_mps,
                )?;
                let (r, c, info_pos) = position_covariance(
                    cfg,
                    "payload.position_uncertainty",
                    g,
                    &p.position_uncertainty,
                )?;
                let mut x = V6::zeros();
                x.fixed_rows_mut::<3>(0).copy_from(&geo::ecef(g));
                x.fixed_rows_mut::<3>(3)
                    .copy_from(&geo::velocity_ecef(&p.velocity, &r));
                let mut pm = M6::zeros();
                pm.fixed_view_mut::<3, 3>(0, 0).copy_from(&c);
                pm.fixed_view_mut::<3, 3>(3, 3)
                    .fill_diagonal(cfg.velocity_sigma_mps * cfg.velocity_sigma_mps);
                // The information matrix is computed once here and shared by every picture.
                // P is block-diagonal (position, velocity): its inverse is the blocks'
                // inverses, known in closed form (no 6×6 factorisation per report).
                let sv2 = cfg.velocity_sigma_mps * cfg.velocity_sigma_mps;
                let info = info_pos.filter(|_| sv2 > 0.0).map(|ip| {
                    let mut info = M6::zeros();
                    info.fixed_view_mut::<3, 3>(0, 0).copy_from(&ip);
                    info.fixed_view_mut::<3, 3>(3, 3).fill_diagonal(1.0 / sv2);
                    info
                });
                (
                    &p.track_id,
                    ReportContent::Track {
                        kin: Kin {
                            t: geo::secs(p.time),
                            x,
                            p: pm,
                            boost: p.flight_phase == trilink_schema::FlightPhase::Boost,
                            info,
                        },
                        phase: p.flight_phase,
                    },
                )
            }
            Payload::ImpactPrediction(p) => {
                let e = &p.error_ellipse;
                finite(
                    "payload.error_ellipse",
                    e.semi_major_m + e.semi_minor_m + e.orientation_deg,
                )?;
                let g = &p.impact_point;
                finite("payload.impact_point", g.lat_deg + g.lon_deg)?;
                (
                    &p.track_id,
                    ReportContent::Impact(picture::impact_estimate(
                        g,
                        e.semi_major_m,
                        e.semi_minor_m,
                        e.orientation_deg,
                        geo::secs(p.impact_time),
                        cfg.min_impact_sigma_m,
                    )),
                )
            }
            Payload::EventEnd(p) => (
                &p.track_id,
                ReportContent::End {
                    time: p.time,
                    reason: p.reason,
                    point: p.final_point,
                },
            ),
            Payload::Cancel(p) => (&p.track_id, ReportContent::Cancel),
            Payload::Correction(p) => (
                &p.track_id,
                ReportContent::Correction {
                    time: p.corrected_time.map(geo::secs),
                    point: p.corrected_point.as_ref().map(geo::ecef),
                    class: p.corrected_missile_class,
                },
            ),
            Payload::Status(_) | Payload::CommonEvent(_) => return Ok(None),
        };
        Ok(Some(Report {
            key: TrackKey {
                mode: env.mode,
                origin: env.origin,
                id: track_id.clone(),
            },
            sensor: &env.source.sensor,
            msg: env.message_id,
            observed_at: env.observed_at,
            references: &env.references,
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code

    use proptest::prelude::*;
    use trilink_schema::{GeoPoint, PositionUncertainty};

    use super::*;

    proptest! {
        /// The closed-form inverse of a position covariance equals nalgebra's Cholesky
        /// inverse (what it replaces on the ingest path), to rounding.
        #[test]
        fn closed_form_position_information_is_the_inverse(
            lat in -89.0f64..89.0,
            lon in -180.0f64..180.0,
            h in 0.0f64..50_000.0,
            v in 0.0f64..50_000.0,
        ) {
            let cfg = Config::default();
            let g = GeoPoint { lat_deg: lat, lon_deg: lon, alt_m: 1_000.0 };
            let u = PositionUncertainty { horizontal_m: h, vertical_m: v };
            let (_, c, info) = position_covariance(&cfg, "p", &g, &u).unwrap();
            let info = info.unwrap();
            let want = c.cholesky().unwrap().inverse();
            let scale = want.abs().max();
            prop_assert!((info - want).abs().max() <= 1e-6 * scale, "{info} vs {want}");
            let id = c * info;
            prop_assert!((id - geo::M3::identity()).abs().max() < 1e-6, "{id}");
        }
    }
}
