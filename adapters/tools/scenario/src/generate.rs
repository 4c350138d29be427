//! Turning a scenario definition and a seed into sensor reports and ground truth.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trilink_schema::{
    Cancel, EndReason, Envelope, ErrorEllipse, EventEnd, FlightPhase, GeoPoint, ImpactPrediction,
    LaunchDetection, MessageId, Mode, Nation, Payload, PositionUncertainty, Source, TrackId,
    TrackUpdate,
};

use crate::ballistic::{self, EARTH_RADIUS_M, Trajectory, TrajectoryError};
use crate::config::{FalseAlarmConfig, MissileConfig, ScenarioConfig, SensorConfig, Site};

/// One report a national system emits.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// When the national system sends it.
    pub emit_at: DateTime<Utc>,
    /// Reporting sensor.
    pub sensor: String,
    /// The report as a common envelope (origin = the sensor's nation).
    pub envelope: Envelope,
}

/// A generated scenario.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Scenario name.
    pub name: String,
    /// Seed used.
    pub seed: u64,
    /// Scenario start.
    pub start: DateTime<Utc>,
    /// Every national report, ordered by `emit_at` (ties by sensor, then id).
    pub reports: Vec<Report>,
    /// Ground truth as envelopes from the `scenario-truth` system (exact values).
    pub truth: Vec<Envelope>,
}

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// A missile's trajectory cannot be built.
    #[error("missile {id}: {source}")]
    Trajectory {
        /// Missile id.
        id: String,
        /// Cause.
        source: TrajectoryError,
    },
    /// A generated envelope failed validation (a bug in the scenario model, or an extreme config).
    #[error("generated report is invalid: {0}")]
    Invalid(#[from] trilink_schema::ValidationError),
}

/// Truth samples are written every this many seconds.
const TRUTH_INTERVAL_S: f64 = 10.0;
/// Processing delay of a national system between a measurement and its report (s).
const REPORT_LATENCY_S: f64 = 0.2;

fn secs(s: f64) -> Duration {
    Duration::nanoseconds((s * 1e9).round() as i64)
}

fn gauss(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Offset a point by north/east/up metres on the model sphere.
fn offset(p: GeoPoint, north_m: f64, east_m: f64, up_m: f64) -> GeoPoint {
    let r = EARTH_RADIUS_M + p.alt_m;
    let lat = (p.lat_deg + (north_m / r).to_degrees()).clamp(-90.0, 90.0);
    let coslat = p.lat_deg.to_radians().cos().max(1e-6);
    GeoPoint {
        lat_deg: lat,
        lon_deg: ballistic::wrap_lon(p.lon_deg + (east_m / (r * coslat)).to_degrees()),
        alt_m: (p.alt_m + up_m).clamp(-1_000.0, 10_000_000.0),
    }
}

fn noisy(rng: &mut ChaCha8Rng, p: GeoPoint, sigma_m: f64) -> GeoPoint {
    let (n, e, u) = (
        gauss(rng) * sigma_m,
        gauss(rng) * sigma_m,
        gauss(rng) * sigma_m,
    );
    let q = offset(p, n, e, u);
    // Nothing is reported below the surface.
    GeoPoint {
        alt_m: q.alt_m.max(0.0),
        ..q
    }
}

fn geo(s: Site) -> GeoPoint {
    GeoPoint {
        lat_deg: s.lat_deg,
        lon_deg: s.lon_deg,
        alt_m: s.alt_m,
    }
}

/// Builds envelopes with per-sensor national message ids, unique for (scenario, seed, start).
struct Emitter<'a> {
    run_tag: String,
    sensor: &'a SensorConfig,
    seq: u32,
}

impl Emitter<'_> {
    #[allow(clippy::too_many_arguments)]
    fn envelope(
        &mut self,
        observed_at: DateTime<Utc>,
        emit_at: DateTime<Utc>,
        mode: Mode,
        releasability: &BTreeSet<Nation>,
        references: Vec<MessageId>,
        payload: Payload,
    ) -> Report {
        self.seq += 1;
        let mut rel: BTreeSet<Nation> = match &self.sensor.releasability {
            Some(limit) => releasability.intersection(limit).copied().collect(),
            None => releasability.clone(),
        };
        rel.insert(self.sensor.nation);
        let source = Source {
            system: self.sensor.system.clone(),
            sensor: self.sensor.name.clone(),
            national_message_id: format!("{}-{:06}", self.run_tag, self.seq),
        };
        let mut envelope = Envelope::new(
            self.sensor.nation,
            source,
            observed_at,
            emit_at,
            mode,
            rel,
            payload,
        );
        envelope.references = references;
        Report {
            emit_at,
            sensor: self.sensor.name.clone(),
            envelope,
        }
    }
}

/// A track id from arbitrary text: keeps `[A-Za-z0-9_-]`, at most 32 characters.
fn tid(text: &str) -> TrackId {
    let clean: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(TrackId::MAX_LEN)
        .collect();
    let clean = if clean.is_empty() {
        "X".to_owned()
    } else {
        clean
    };
    match TrackId::new(clean) {
        Ok(t) => t,
        // The text was reduced to valid characters and length above.
        Err(e) => unreachable!("{e}"),
    }
}

fn track_id(sensor: &SensorConfig, object: &str) -> TrackId {
    let nation = sensor.nation.as_str().to_ascii_uppercase();
    let tag: String = sensor
        .name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(12)
        .collect();
    tid(&format!("{nation}-{tag}-{object}"))
}

/// Generate a scenario.
pub fn generate(
    cfg: &ScenarioConfig,
    seed: u64,
    start: DateTime<Utc>,
) -> Result<Generated, GenerateError> {
    let run_tag = format!(
        "{}{}-s{seed}",
        cfg.name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect::<String>(),
        start.format("%Y%m%d%H%M%S")
    );
    let mut reports = Vec::new();
    let mut truth = Vec::new();
    let truth_sensor = SensorConfig {
        name: "truth".into(),
        nation: Nation::Us,
        system: "scenario-truth".into(),
        site: Site {
            lat_deg: 0.0,
            lon_deg: 0.0,
            alt_m: 0.0,
        },
        max_range_km: 1.0,
        min_elevation_deg: 0.0,
        detection_delay_s: 0.0,
        update_interval_s: 1.0,
        position_noise_m: 0.0,
        impact_prediction_every: 0,
        releasability: None,
    };
    let mut truth_emitter = Emitter {
        run_tag: format!("{run_tag}-truth"),
        sensor: &truth_sensor,
        seq: 0,
    };

    for m in &cfg.missiles {
        let boost_s = boost_seconds(m);
        let traj = Trajectory::solve(geo(m.launch), m.azimuth_deg, m.range_km, m.shape, boost_s)
            .map_err(|source| GenerateError::Trajectory {
                id: m.id.clone(),
                source,
            })?;
        let launch_at = start + secs(m.launch_offset_s);
        truth.extend(truth_for(&mut truth_emitter, m, &traj, launch_at));
        for (si, sensor) in cfg.sensors.iter().enumerate() {
            // One RNG stream per (missile, sensor) so adding a sensor does not change the others.
            let stream = seed
                ^ hash_str(&m.id).rotate_left(17)
                ^ (si as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rng = ChaCha8Rng::seed_from_u64(stream);
            let mut em = Emitter {
                run_tag: format!("{run_tag}-{}{}", m.id, si),
                sensor,
                seq: 0,
            };
            reports.extend(observe(&mut em, &mut rng, m, &traj, launch_at));
        }
    }
    for (fi, fa) in cfg.false_alarms.iter().enumerate() {
        if let Some(sensor) = cfg.sensors.iter().find(|s| s.name == fa.sensor) {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xFA15_E000 ^ fi as u64);
            let mut em = Emitter {
                run_tag: format!("{run_tag}-fa{fi}"),
                sensor,
                seq: 0,
            };
            reports.extend(false_alarm(&mut em, &mut rng, fa, start, fi));
        }
    }
    reports.sort_by(|a, b| {
        a.emit_at
            .cmp(&b.emit_at)
            .then_with(|| a.sensor.cmp(&b.sensor))
            .then_with(|| {
                a.envelope
                    .source
                    .national_message_id
                    .cmp(&b.envelope.source.national_message_id)
            })
    });
    truth.sort_by_key(|e| e.observed_at);
    Ok(Generated {
        name: cfg.name.clone(),
        seed,
        start,
        reports,
        truth,
    })
}

fn hash_str(s: &str) -> u64 {
    // FNV-1a: stable across Rust versions, unlike DefaultHasher.
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn boost_seconds(m: &MissileConfig) -> f64 {
    use trilink_schema::MissileClass as C;
    match m.class {
        C::Srbm => 60.0,
        C::Mrbm => 110.0,
        C::Irbm => 150.0,
        C::Icbm => 180.0,
        C::Slbm => 120.0,
        C::Unknown => 90.0,
    }
}

fn truth_for(
    em: &mut Emitter<'_>,
    m: &MissileConfig,
    traj: &Trajectory,
    launch_at: DateTime<Utc>,
) -> Vec<Envelope> {
    let track = tid(&format!("TRUTH-{}", m.id));
    let mut out = Vec::new();
    let flight = traj.flight_time_s();
    let end_at = launch_at + secs(flight);
    let first = em
        .envelope(
            launch_at,
            launch_at,
            m.mode,
            &m.releasability,
            Vec::new(),
            Payload::LaunchDetection(LaunchDetection {
                track_id: track.clone(),
                launch_time: launch_at,
                launch_point: traj.launch_point(),
                launch_point_uncertainty: PositionUncertainty {
                    horizontal_m: 0.0,
                    vertical_m: 0.0,
                },
                missile_class: m.class,
                confidence: 1.0,
            }),
        )
        .envelope;
    let first_id = first.message_id;
    out.push(first);
    let mut t = TRUTH_INTERVAL_S;
    while t < flight {
        let (p, v, phase) = traj.at(t);
        let at = launch_at + secs(t);
        out.push(
            em.envelope(
                at,
                at,
                m.mode,
                &m.releasability,
                vec![first_id],
                Payload::TrackUpdate(TrackUpdate {
                    track_id: track.clone(),
                    time: at,
                    position: p,
                    position_uncertainty: PositionUncertainty {
                        horizontal_m: 0.0,
                        vertical_m: 0.0,
                    },
                    velocity: v,
                    quality: 15,
                    flight_phase: phase,
                }),
            )
            .envelope,
        );
        t += TRUTH_INTERVAL_S;
    }
    out.push(
        em.envelope(
            launch_at,
            launch_at,
            m.mode,
            &m.releasability,
            vec![first_id],
            Payload::ImpactPrediction(ImpactPrediction {
                track_id: track.clone(),
                impact_time: end_at,
                impact_point: traj.impact_point(),
                error_ellipse: ErrorEllipse {
                    semi_major_m: 0.0,
                    semi_minor_m: 0.0,
                    orientation_deg: 0.0,
                },
            }),
        )
        .envelope,
    );
    out.push(
        em.envelope(
            end_at,
            end_at,
            m.mode,
            &m.releasability,
            vec![first_id],
            Payload::EventEnd(EventEnd {
                track_id: track,
                time: end_at,
                reason: EndReason::Impact,
                final_point: Some(traj.impact_point()),
            }),
        )
        .envelope,
    );
    out
}

fn visible(sensor: &SensorConfig, p: &GeoPoint) -> bool {
    let site = geo(sensor.site);
    ballistic::slant_range_m(&site, p) <= sensor.max_range_km * 1_000.0
        && ballistic::elevation_rad(&site, p) >= sensor.min_elevation_deg.to_radians()
}

fn observe(
    em: &mut Emitter<'_>,
    rng: &mut ChaCha8Rng,
    m: &MissileConfig,
    traj: &Trajectory,
    launch_at: DateTime<Utc>,
) -> Vec<Report> {
    let sensor = em.sensor;
    let flight = traj.flight_time_s();
    // First sight: scan the flight at the sensor's update rate.
    let step = sensor.update_interval_s.min(2.0);
    let mut first_seen = None;
    let mut t = 0.0;
    while t <= flight {
        if visible(sensor, &traj.at(t).0) {
            first_seen = Some(t);
            break;
        }
        t += step;
    }
    let Some(seen) = first_seen else {
        return Vec::new();
    };
    let track = track_id(sensor, &m.id);
    let mut out = Vec::new();

    // Launch report, after the detection delay.
    let detect_t = seen + sensor.detection_delay_s;
    let launch_sigma = 2.0 * sensor.position_noise_m + 1_000.0;
    let ld = em.envelope(
        launch_at + secs(detect_t),
        launch_at + secs(detect_t + REPORT_LATENCY_S),
        m.mode,
        &m.releasability,
        Vec::new(),
        Payload::LaunchDetection(LaunchDetection {
            track_id: track.clone(),
            launch_time: launch_at + secs(gauss(rng) * 2.0),
            launch_point: noisy(rng, traj.launch_point(), launch_sigma),
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: launch_sigma,
                vertical_m: launch_sigma,
            },
            missile_class: m.class,
            confidence: (0.85 + 0.1 * rng.random::<f64>()).min(1.0),
        }),
    );
    let ld_id = ld.envelope.message_id;
    out.push(ld);

    // Track updates while visible, impact predictions every N updates after boost.
    let mut n = 0u32;
    let mut last_seen_t = detect_t;
    let mut t = detect_t;
    let mut lost = false;
    while t < flight {
        let (p, v, phase) = traj.at(t);
        if !visible(sensor, &p) {
            lost = true;
            break;
        }
        last_seen_t = t;
        n += 1;
        let sigma = sensor.position_noise_m;
        let observed = launch_at + secs(t);
        let emit = launch_at + secs(t + REPORT_LATENCY_S);
        let quality = (15.0 - sigma / 200.0).clamp(1.0, 15.0) as u8;
        let vel_sigma = sigma / sensor.update_interval_s.max(1.0) * 0.2;
        let velocity = trilink_schema::VelocityEnu {
            east_mps: v.east_mps + gauss(rng) * vel_sigma,
            north_mps: v.north_mps + gauss(rng) * vel_sigma,
            up_mps: v.up_mps + gauss(rng) * vel_sigma,
        };
        out.push(em.envelope(
            observed,
            emit,
            m.mode,
            &m.releasability,
            vec![ld_id],
            Payload::TrackUpdate(TrackUpdate {
                track_id: track.clone(),
                time: observed,
                position: noisy(rng, p, sigma),
                position_uncertainty: PositionUncertainty {
                    horizontal_m: sigma,
                    vertical_m: sigma,
                },
                velocity,
                quality,
                flight_phase: phase,
            }),
        ));
        if sensor.impact_prediction_every > 0
            && phase != FlightPhase::Boost
            && n.is_multiple_of(sensor.impact_prediction_every)
        {
            let remaining = flight - t;
            let ip_sigma = (remaining * 20.0).max(500.0);
            let azimuth = m.azimuth_deg.rem_euclid(180.0);
            out.push(em.envelope(
                observed,
                emit,
                m.mode,
                &m.releasability,
                vec![ld_id],
                Payload::ImpactPrediction(ImpactPrediction {
                    track_id: track.clone(),
                    impact_time: launch_at + secs(flight + gauss(rng) * remaining * 0.01),
                    impact_point: GeoPoint {
                        alt_m: 0.0,
                        ..noisy(rng, traj.impact_point(), ip_sigma)
                    },
                    error_ellipse: ErrorEllipse {
                        semi_major_m: 2.0 * ip_sigma,
                        semi_minor_m: ip_sigma,
                        orientation_deg: azimuth,
                    },
                }),
            ));
        }
        t += sensor.update_interval_s;
    }
    // End of the event: impact if the sensor saw it to the end, otherwise lost.
    let (end_t, reason, point) = if lost {
        (
            last_seen_t + sensor.update_interval_s,
            EndReason::Lost,
            Some(noisy(rng, traj.at(last_seen_t).0, sensor.position_noise_m)),
        )
    } else {
        (
            flight,
            EndReason::Impact,
            Some(GeoPoint {
                alt_m: 0.0,
                ..noisy(rng, traj.impact_point(), sensor.position_noise_m)
            }),
        )
    };
    out.push(em.envelope(
        launch_at + secs(end_t),
        launch_at + secs(end_t + REPORT_LATENCY_S),
        m.mode,
        &m.releasability,
        vec![ld_id],
        Payload::EventEnd(EventEnd {
            track_id: track,
            time: launch_at + secs(end_t),
            reason,
            final_point: point,
        }),
    ));
    out
}

fn false_alarm(
    em: &mut Emitter<'_>,
    rng: &mut ChaCha8Rng,
    fa: &FalseAlarmConfig,
    start: DateTime<Utc>,
    index: usize,
) -> Vec<Report> {
    let all: BTreeSet<Nation> = Nation::ALL.into_iter().collect();
    let sensor = em.sensor;
    let track = track_id(sensor, &format!("FA{index}"));
    let at = start + secs(fa.at_s);
    let point = geo(fa.point);
    let first = em.envelope(
        at,
        at + secs(REPORT_LATENCY_S),
        fa.mode,
        &all,
        Vec::new(),
        Payload::LaunchDetection(LaunchDetection {
            track_id: track.clone(),
            launch_time: at - secs(sensor.detection_delay_s),
            launch_point: noisy(rng, point, 1_000.0),
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 5_000.0,
                vertical_m: 5_000.0,
            },
            missile_class: trilink_schema::MissileClass::Unknown,
            confidence: 0.4 + 0.2 * rng.random::<f64>(),
        }),
    );
    let ld_id = first.envelope.message_id;
    let mut out = vec![first];
    let mut ids = vec![ld_id];
    for i in 1..=fa.track_updates {
        let t = at + secs(f64::from(i) * sensor.update_interval_s);
        let p = offset(point, 0.0, 0.0, 20_000.0 * f64::from(i));
        let r = em.envelope(
            t,
            t + secs(REPORT_LATENCY_S),
            fa.mode,
            &all,
            vec![ld_id],
            Payload::TrackUpdate(TrackUpdate {
                track_id: track.clone(),
                time: t,
                position: noisy(rng, p, sensor.position_noise_m),
                position_uncertainty: PositionUncertainty {
                    horizontal_m: sensor.position_noise_m,
                    vertical_m: sensor.position_noise_m,
                },
                velocity: trilink_schema::VelocityEnu {
                    east_mps: 0.0,
                    north_mps: 0.0,
                    up_mps: 900.0,
                },
                quality: 3,
                flight_phase: FlightPhase::Boost,
            }),
        );
        ids.push(r.envelope.message_id);
        out.push(r);
    }
    let t = at + secs(fa.cancel_after_s);
    out.push(em.envelope(
        t,
        t + secs(REPORT_LATENCY_S),
        fa.mode,
        &all,
        ids,
        Payload::Cancel(Cancel {
            track_id: track,
            reason: "false alarm: no launch confirmed by other sensors".into(),
        }),
    ));
    out
}
