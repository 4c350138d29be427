//! Properties of the correlator: fusion consistency, releasability, modes, determinism,
//! salvo separation, cancel semantics and the global assignment of ambiguous tracks.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{DateTime, Duration, Utc};
use nalgebra::{Matrix3, SMatrix};
use proptest::prelude::*;
use trilink_picture::{ChangeKind, Config, Correlator, EventView, covariance_intersection};
use trilink_schema::{
    Cancel, ContributionState, Envelope, EventState, GeoPoint, LaunchDetection, MessageId,
    MissileClass, Mode, Nation, Payload, PositionUncertainty, Source, TrackId,
};

fn start() -> DateTime<Utc> {
    "2026-11-21T00:00:00Z".parse().unwrap()
}

fn generated(name: &str, seed: u64) -> trilink_scenario::Generated {
    let cfg = trilink_scenario::named(name).unwrap();
    trilink_scenario::generate(&cfg, seed, start()).unwrap()
}

fn feed<'a>(c: &mut Correlator, envs: impl IntoIterator<Item = (&'a Envelope, DateTime<Utc>)>) {
    for (e, at) in envs {
        c.ingest(e, at).unwrap();
        c.tick(at);
    }
}

fn object(track: &str) -> String {
    track.rsplit('-').next().unwrap().to_owned()
}

// ---------------------------------------------------------------- fusion consistency

fn spd3(a: [f64; 9], scale: f64) -> Matrix3<f64> {
    let m = Matrix3::from_row_slice(&a);
    m * m.transpose() * scale + Matrix3::identity() * 1.0
}

fn min_eigen(m: &Matrix3<f64>) -> f64 {
    m.symmetric_eigen().eigenvalues.min()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Covariance intersection never claims more than is justified: for two estimates with ANY
    /// admissible cross-correlation, the fused estimator's true error covariance is bounded by
    /// the stated fused covariance (P_ci − P_true is positive semi-definite).
    #[test]
    fn ci_is_consistent_for_any_cross_correlation(
        a in prop::array::uniform9(-10.0f64..10.0),
        b in prop::array::uniform9(-10.0f64..10.0),
        c in prop::array::uniform9(-1.0f64..1.0),
        sa in 0.1f64..100.0,
        sb in 0.1f64..100.0,
    ) {
        let p1 = spd3(a, sa);
        let p2 = spd3(b, sb);
        // A cross-covariance P12 = L1 C L2ᵀ with ‖C‖₂ ≤ 1 keeps the joint covariance PSD.
        let cm = Matrix3::from_row_slice(&c);
        let norm = cm.svd(false, false).singular_values.max().max(1e-9);
        let cm = cm / norm.max(1.0);
        let l1 = p1.cholesky().unwrap().l();
        let l2 = p2.cholesky().unwrap().l();
        let p12 = l1 * cm * l2.transpose();
        let x = nalgebra::Vector3::zeros();
        let (_, pf, w) = covariance_intersection(&[(x, p1), (x, p2)]).unwrap();
        prop_assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        // x_f = K1 x1 + K2 x2 with K_i = ω_i P_f P_i⁻¹.
        let k1 = pf * p1.try_inverse().unwrap() * w[0];
        let k2 = pf * p2.try_inverse().unwrap() * w[1];
        let p_true = k1 * p1 * k1.transpose()
            + k1 * p12 * k2.transpose()
            + k2 * p12.transpose() * k1.transpose()
            + k2 * p2 * k2.transpose();
        let gap = pf - p_true;
        let gap = (gap + gap.transpose()) * 0.5;
        prop_assert!(min_eigen(&gap) >= -1e-6 * pf.norm(), "P_ci - P_true has eigenvalue {}", min_eigen(&gap));
    }

    /// Fusing an estimate with itself (full correlation) gains nothing: the covariance stays.
    #[test]
    fn ci_of_identical_estimates_claims_no_gain(a in prop::array::uniform9(-10.0f64..10.0), s in 0.1f64..100.0) {
        let p = spd3(a, s);
        let x = nalgebra::Vector3::new(1.0, 2.0, 3.0);
        let (xf, pf, _) = covariance_intersection(&[(x, p), (x, p), (x, p)]).unwrap();
        prop_assert!((xf - x).norm() < 1e-6 * (1.0 + x.norm()));
        prop_assert!((pf - p).norm() < 1e-6 * p.norm());
    }
}

#[test]
fn ci_single_estimate_is_returned_unchanged() {
    let p = SMatrix::<f64, 2, 2>::new(4.0, 1.0, 1.0, 3.0);
    let x = nalgebra::Vector2::new(5.0, -1.0);
    let (xf, pf, w) = covariance_intersection(&[(x, p)]).unwrap();
    assert_eq!((xf, pf, w), (x, p, vec![1.0]));
}

#[test]
fn chi2_gate_grows_with_degrees_of_freedom() {
    let g: Vec<f64> = (1..=12).map(trilink_picture::chi2_gate).collect();
    assert!(g.windows(2).all(|w| w[0] < w[1]), "{g:?}");
    assert!((trilink_picture::chi2_gate(6) - 27.856).abs() < 1e-3);
}

// ---------------------------------------------------------------- releasability

fn subset_with(origin: Nation, bits: u8) -> BTreeSet<Nation> {
    let mut s: BTreeSet<Nation> = Nation::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, n)| n)
        .collect();
    s.insert(origin);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Removing every envelope not released to D leaves D's view exactly unchanged: event ids,
    /// contributors, fused estimates, states.
    #[test]
    fn view_for_dest_depends_only_on_what_is_released_to_it(
        seed in 0u64..1000,
        scenario in prop::sample::select(vec!["single_launch", "salvo", "exercise_mixed"]),
        per_track in prop::collection::vec(0u8..8, 16),
        per_message in prop::collection::vec(0u8..8, 64),
        mixed in any::<bool>(),
    ) {
        let g = generated(scenario, seed);
        let mut tracks: BTreeMap<String, usize> = BTreeMap::new();
        let envs: Vec<(Envelope, DateTime<Utc>)> = g.reports.iter().enumerate().map(|(i, r)| {
            let mut e = r.envelope.clone();
            let key = format!("{}{}", e.origin, e.payload.track_id().map_or("", TrackId::as_str));
            let n = tracks.len();
            let ti = *tracks.entry(key).or_insert(n);
            // Either a fixed releasability per track, or one per message.
            let bits = if mixed { per_message[i % per_message.len()] } else { per_track[ti % per_track.len()] };
            e.releasability = subset_with(e.origin, bits);
            (e, r.emit_at)
        }).collect();
        for dest in Nation::ALL {
            let mut all = Correlator::new(Config::default());
            feed(&mut all, envs.iter().map(|(e, t)| (e, *t)));
            let mut only = Correlator::new(Config::default());
            // The ticks still happen at every instant; only the envelopes are filtered.
            for (e, t) in &envs {
                if e.releasable_to(dest) {
                    only.ingest(e, *t).unwrap();
                }
                only.tick(*t);
            }
            prop_assert_eq!(all.view_for(dest), only.view_for(dest), "dest {}", dest);
            // And nothing in D's view names a track D was never released.
            let released: BTreeSet<(Nation, String)> = envs.iter()
                .filter(|(e, _)| e.releasable_to(dest))
                .filter_map(|(e, _)| e.payload.track_id().map(|t| (e.origin, t.as_str().to_owned())))
                .collect();
            for v in all.view_for(dest) {
                for c in &v.event.contributors {
                    prop_assert!(released.contains(&(c.origin, c.track_id.as_str().to_owned())));
                }
            }
        }
    }

    /// Events never mix modes: with a random mode per national track, every event's
    /// contributors carry the event's mode, and each (object, mode) pair is one event.
    #[test]
    fn events_never_mix_modes(seed in 0u64..1000, modes in prop::collection::vec(0usize..3, 16)) {
        let g = generated("single_launch", seed);
        let mut tracks: BTreeMap<(Nation, String), Mode> = BTreeMap::new();
        let envs: Vec<(Envelope, DateTime<Utc>)> = g.reports.iter().map(|r| {
            let mut e = r.envelope.clone();
            let key = (e.origin, e.payload.track_id().unwrap().as_str().to_owned());
            let n = tracks.len();
            let mode = *tracks.entry(key).or_insert(Mode::ALL[modes[n % modes.len()]]);
            e.mode = mode;
            (e, r.emit_at)
        }).collect();
        let mut c = Correlator::new(Config::default());
        feed(&mut c, envs.iter().map(|(e, t)| (e, *t)));
        for dest in Nation::ALL {
            let views = c.view_for(dest);
            for v in &views {
                for k in &v.event.contributors {
                    prop_assert_eq!(tracks[&(k.origin, k.track_id.as_str().to_owned())], v.mode);
                }
            }
            let modes_used: BTreeSet<Mode> = tracks.values().copied().collect();
            prop_assert_eq!(views.len(), modes_used.len(), "one event per mode for one missile");
        }
    }
}

// ---------------------------------------------------------------- determinism

#[test]
fn same_input_order_gives_same_event_ids() {
    let g = generated("salvo", 7);
    let run = || {
        let mut c = Correlator::new(Config::default());
        feed(&mut c, g.reports.iter().map(|r| (&r.envelope, r.emit_at)));
        Nation::ALL.map(|d| c.view_for(d))
    };
    let a = run();
    let b = run();
    assert_eq!(a, b);
    assert!(a.iter().all(|v| !v.is_empty()));
}

#[test]
fn event_id_is_uuid_v5_of_the_first_contribution() {
    let g = generated("single_launch", 3);
    let mut c = Correlator::new(Config::default());
    let mut created = Vec::new();
    for r in &g.reports {
        for ch in c.ingest(&r.envelope, r.emit_at).unwrap() {
            if ch.kind == ChangeKind::Created {
                created.push((ch.event_id, r.envelope.message_id));
            }
        }
    }
    assert_eq!(created.len(), 3, "one creation per destination");
    // Every destination receives the first report, so all three pictures share the id.
    let ids: BTreeSet<_> = created.iter().map(|(e, _)| *e).collect();
    assert_eq!(ids.len(), 1);
    let (id, msg) = created[0];
    assert_eq!(id.get_version_num(), 5);
    assert_ne!(id, *msg.as_uuid());
}

// ---------------------------------------------------------------- salvo separation

const SENSORS: &str = r#"
[[sensor]]
name = "fps-5-sado"
nation = "jp"
system = "jadgex"
site = { lat_deg = 38.05, lon_deg = 138.40, alt_m = 150.0 }
max_range_km = 2000.0
detection_delay_s = 25.0
update_interval_s = 5.0
position_noise_m = 300.0
impact_prediction_every = 4

[[sensor]]
name = "green-pine-b"
nation = "kr"
system = "kamd-ops"
site = { lat_deg = 36.60, lon_deg = 127.35, alt_m = 200.0 }
max_range_km = 900.0
detection_delay_s = 15.0
update_interval_s = 4.0
position_noise_m = 400.0
impact_prediction_every = 5

[[sensor]]
name = "tpy-2-kyoga"
nation = "us"
system = "c2bmc"
site = { lat_deg = 35.77, lon_deg = 135.20, alt_m = 100.0 }
max_range_km = 1800.0
detection_delay_s = 20.0
update_interval_s = 3.0
position_noise_m = 150.0
impact_prediction_every = 5
"#;

fn one_site_salvo(gap_s: f64) -> trilink_scenario::ScenarioConfig {
    let mut toml = String::from("name = \"tight_salvo\"\nseed = 11\n");
    for i in 0..3 {
        let _ = write!(
            toml,
            "[[missile]]\nid = \"S{}\"\nlaunch = {{ lat_deg = 39.66, lon_deg = 124.70 }}\nazimuth_deg = 95.0\nrange_km = 900.0\nclass = \"mrbm\"\nlaunch_offset_s = {}\n\n",
            i + 1,
            5.0 + gap_s * f64::from(i)
        );
    }
    toml.push_str(SENSORS);
    trilink_scenario::ScenarioConfig::from_toml(&toml, "tight_salvo.toml").unwrap()
}

#[test]
fn salvo_from_one_site_seconds_apart_stays_separate() {
    for gap in [3.0, 5.0] {
        let cfg = one_site_salvo(gap);
        for seed in 0..2 {
            let g = trilink_scenario::generate(&cfg, seed, start()).unwrap();
            let mut c = Correlator::new(Config::default());
            feed(&mut c, g.reports.iter().map(|r| (&r.envelope, r.emit_at)));
            for dest in Nation::ALL {
                let m = c.membership(dest);
                assert_eq!(m.len(), 3, "gap {gap} seed {seed} dest {dest}: {m:#?}");
                for (id, members) in &m {
                    let objs: BTreeSet<String> =
                        members.iter().map(|(_, t)| object(t.as_str())).collect();
                    assert_eq!(
                        objs.len(),
                        1,
                        "gap {gap} seed {seed}: event {id} mixes {members:?}"
                    );
                    assert_eq!(
                        members.len(),
                        3,
                        "gap {gap} seed {seed}: event {id} lacks a nation: {members:?}"
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------- life cycle

fn ld(
    origin: Nation,
    sensor: &str,
    n: u32,
    track: &str,
    at: DateTime<Utc>,
    point: GeoPoint,
) -> Envelope {
    Envelope::new(
        origin,
        Source {
            system: format!("{origin}-sys"),
            sensor: sensor.into(),
            national_message_id: format!("{track}-{n}"),
        },
        at,
        at,
        Mode::RealWorld,
        Nation::ALL.into_iter().collect(),
        Payload::LaunchDetection(LaunchDetection {
            track_id: TrackId::new(track).unwrap(),
            launch_time: at - Duration::seconds(20),
            launch_point: point,
            launch_point_uncertainty: PositionUncertainty {
                horizontal_m: 1500.0,
                vertical_m: 1500.0,
            },
            missile_class: MissileClass::Mrbm,
            confidence: 0.9,
        }),
    )
}

fn cancel(origin: Nation, track: &str, refs: Vec<MessageId>, at: DateTime<Utc>) -> Envelope {
    let mut e = Envelope::new(
        origin,
        Source {
            system: format!("{origin}-sys"),
            sensor: "s".into(),
            national_message_id: format!("{track}-cancel"),
        },
        at,
        at,
        Mode::RealWorld,
        Nation::ALL.into_iter().collect(),
        Payload::Cancel(Cancel {
            track_id: TrackId::new(track).unwrap(),
            reason: "false alarm".into(),
        }),
    );
    e.references = refs;
    e
}

fn view(c: &Correlator, dest: Nation) -> EventView {
    let v = c.view_for(dest);
    assert_eq!(v.len(), 1, "{v:#?}");
    v.into_iter().next().unwrap()
}

#[test]
fn cancel_removes_only_that_nations_contribution_and_all_cancels_cancel_the_event() {
    let p = GeoPoint {
        lat_deg: 39.66,
        lon_deg: 124.70,
        alt_m: 0.0,
    };
    let t0 = start() + Duration::seconds(30);
    let a = ld(Nation::Kr, "gp", 1, "KR-1", t0, p);
    let b = ld(Nation::Jp, "fps", 1, "JP-1", t0 + Duration::seconds(2), p);
    let mut c = Correlator::new(Config::default());
    c.ingest(&a, t0).unwrap();
    c.ingest(&b, t0 + Duration::seconds(2)).unwrap();
    assert_eq!(view(&c, Nation::Us).event.contributors.len(), 2);

    let ca = cancel(
        Nation::Kr,
        "KR-1",
        vec![a.message_id],
        t0 + Duration::seconds(5),
    );
    let ch = c.ingest(&ca, t0 + Duration::seconds(5)).unwrap();
    assert!(ch.iter().all(|x| x.kind == ChangeKind::Updated), "{ch:?}");
    let v = view(&c, Nation::Us).event;
    assert_eq!(v.state, EventState::Active);
    let states: Vec<_> = v.contributors.iter().map(|k| (k.origin, k.state)).collect();
    assert_eq!(
        states,
        vec![
            (Nation::Kr, ContributionState::Cancelled),
            (Nation::Jp, ContributionState::Active)
        ]
    );

    let cb = cancel(
        Nation::Jp,
        "JP-1",
        vec![b.message_id],
        t0 + Duration::seconds(6),
    );
    let ch = c.ingest(&cb, t0 + Duration::seconds(6)).unwrap();
    assert_eq!(ch.len(), 3, "{ch:?}");
    assert!(ch.iter().all(|x| x.kind == ChangeKind::Cancelled));
    assert_eq!(view(&c, Nation::Jp).event.state, EventState::Cancelled);
}

#[test]
fn false_alarm_of_one_nation_is_cancelled() {
    let g = generated("false_alarm", 3);
    let mut c = Correlator::new(Config::default());
    feed(&mut c, g.reports.iter().map(|r| (&r.envelope, r.emit_at)));
    for dest in Nation::ALL {
        assert_eq!(view(&c, dest).event.state, EventState::Cancelled);
    }
}

/// Two KR tracks from one site 4 s apart make two events; JP's two launch detections gate with
/// both, wait for kinematics that never come, and are then assigned one-to-one (Kuhn–Munkres),
/// each to the event nearest in launch time.
#[test]
fn ambiguous_tracks_are_assigned_globally_after_the_timeout() {
    let p = GeoPoint {
        lat_deg: 39.66,
        lon_deg: 124.70,
        alt_m: 0.0,
    };
    let t0 = start() + Duration::seconds(30);
    let s = Duration::seconds;
    let envs = [
        ld(Nation::Kr, "gp", 1, "KR-A", t0, p),
        ld(Nation::Kr, "gp", 2, "KR-B", t0 + s(4), p),
        // JP reports B first: a greedy choice would put it on the first event that gates.
        ld(
            Nation::Jp,
            "fps",
            2,
            "JP-B",
            t0 + s(4) + Duration::milliseconds(100),
            p,
        ),
        ld(
            Nation::Jp,
            "fps",
            1,
            "JP-A",
            t0 + Duration::milliseconds(200),
            p,
        ),
    ];
    let mut c = Correlator::new(Config::default());
    let mut now = t0;
    for e in &envs {
        now = now.max(e.observed_at);
        c.ingest(e, now).unwrap();
        c.tick(now);
    }
    // Still ambiguous: only the two KR events exist, JP's tracks wait.
    let m = c.membership(Nation::Us);
    assert_eq!(m.iter().map(|(_, v)| v.len()).sum::<usize>(), 2, "{m:?}");
    let ch = c.tick(now + s(11));
    assert!(!ch.is_empty());
    let m = c.membership(Nation::Us);
    assert_eq!(m.len(), 2, "{m:#?}");
    for (_, members) in &m {
        let suffix: BTreeSet<char> = members
            .iter()
            .map(|(_, t)| t.as_str().chars().last().unwrap())
            .collect();
        assert_eq!(suffix.len(), 1, "{members:?}");
        assert_eq!(members.len(), 2);
    }
}
