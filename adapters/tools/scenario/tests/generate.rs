//! Generated scenarios are deterministic, valid, and physically consistent with their truth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use chrono::{TimeZone, Utc};
use trilink_scenario::ballistic::ground_distance_m;
use trilink_scenario::{NAMED, generate, named};
use trilink_schema::{Mode, Nation, Payload, PayloadKind, ValidationContext};

fn start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap()
}

#[test]
fn every_named_scenario_generates_valid_envelopes() {
    for (name, _) in NAMED {
        let cfg = named(name).unwrap();
        let g = generate(&cfg, cfg.seed, start()).unwrap();
        assert!(!g.reports.is_empty(), "{name} has no reports");
        let end = g.reports.last().unwrap().emit_at;
        let ctx = ValidationContext::at(end);
        for r in &g.reports {
            r.envelope
                .validate(&ctx)
                .unwrap_or_else(|e| panic!("{name}: {e}: {:?}", r.envelope));
            assert!(r.envelope.observed_at <= r.emit_at);
        }
        for t in &g.truth {
            t.validate(&ValidationContext::at(end + chrono::Duration::hours(1)))
                .unwrap();
        }
        // Sorted by emission time.
        assert!(g.reports.windows(2).all(|w| w[0].emit_at <= w[1].emit_at));
        // Message ids are unique.
        let mut ids: Vec<_> = g.reports.iter().map(|r| r.envelope.message_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), g.reports.len(), "{name}: duplicate message ids");
    }
}

#[test]
fn same_seed_same_reports_other_seed_other_noise() {
    let cfg = named("single_launch").unwrap();
    let a = generate(&cfg, 7, start()).unwrap();
    let b = generate(&cfg, 7, start()).unwrap();
    assert_eq!(a.reports, b.reports);
    let c = generate(&cfg, 8, start()).unwrap();
    assert_eq!(a.reports.len(), c.reports.len());
    assert_ne!(a.reports, c.reports);
}

#[test]
fn every_nation_sees_the_single_launch_with_every_kind() {
    let cfg = named("single_launch").unwrap();
    let g = generate(&cfg, cfg.seed, start()).unwrap();
    for n in Nation::ALL {
        let kinds: std::collections::BTreeSet<PayloadKind> = g
            .reports
            .iter()
            .filter(|r| r.envelope.origin == n)
            .map(|r| r.envelope.payload.kind())
            .collect();
        for k in [
            PayloadKind::LaunchDetection,
            PayloadKind::TrackUpdate,
            PayloadKind::ImpactPrediction,
            PayloadKind::EventEnd,
        ] {
            assert!(kinds.contains(&k), "{n} never reports {k}");
        }
    }
}

#[test]
fn reports_agree_with_truth_within_noise() {
    let cfg = named("single_launch").unwrap();
    let g = generate(&cfg, cfg.seed, start()).unwrap();
    let truth_impact = g
        .truth
        .iter()
        .find_map(|e| match &e.payload {
            Payload::EventEnd(x) => x.final_point,
            _ => None,
        })
        .unwrap();
    let truth_launch = g
        .truth
        .iter()
        .find_map(|e| match &e.payload {
            Payload::LaunchDetection(x) => Some(x.launch_point),
            _ => None,
        })
        .unwrap();
    // The truth flies the requested range.
    let range_km = ground_distance_m(&truth_launch, &truth_impact) / 1000.0;
    assert!((range_km - 1000.0).abs() < 1.0, "{range_km}");
    for r in &g.reports {
        match &r.envelope.payload {
            Payload::LaunchDetection(l) => {
                let err = ground_distance_m(&l.launch_point, &truth_launch);
                assert!(err < 6.0 * l.launch_point_uncertainty.horizontal_m, "{err}");
            }
            Payload::ImpactPrediction(i) => {
                let err = ground_distance_m(&i.impact_point, &truth_impact);
                assert!(
                    err < 6.0 * i.error_ellipse.semi_minor_m,
                    "{err} vs sigma {}",
                    i.error_ellipse.semi_minor_m
                );
            }
            Payload::TrackUpdate(t) => {
                // The closest truth sample in time is within 10 s of flight (≤ ~40 km) plus noise.
                let nearest = g
                    .truth
                    .iter()
                    .filter_map(|e| match &e.payload {
                        Payload::TrackUpdate(x) => Some(x),
                        _ => None,
                    })
                    .min_by_key(|x| (x.time - t.time).num_milliseconds().abs())
                    .unwrap();
                let dt = (nearest.time - t.time).num_milliseconds().abs() as f64 / 1000.0;
                let speed = nearest
                    .velocity
                    .east_mps
                    .hypot(nearest.velocity.north_mps)
                    .hypot(nearest.velocity.up_mps);
                let err = ground_distance_m(&t.position, &nearest.position);
                assert!(
                    err < dt * speed + 6.0 * t.position_uncertainty.horizontal_m + 100.0,
                    "{err}"
                );
            }
            _ => {}
        }
    }
}

#[test]
fn false_alarm_is_cancelled_with_references() {
    let cfg = named("false_alarm").unwrap();
    let g = generate(&cfg, cfg.seed, start()).unwrap();
    let cancel = g
        .reports
        .iter()
        .find(|r| r.envelope.payload.kind() == PayloadKind::Cancel)
        .unwrap();
    let earlier: Vec<_> = g
        .reports
        .iter()
        .filter(|r| r.envelope.payload.kind() != PayloadKind::Cancel)
        .map(|r| r.envelope.message_id)
        .collect();
    assert_eq!(earlier.len(), 3);
    assert_eq!(cancel.envelope.references, earlier);
    assert!(g.truth.is_empty(), "a false alarm has no truth");
}

#[test]
fn exercise_and_real_world_are_kept_apart() {
    let cfg = named("exercise_mixed").unwrap();
    let g = generate(&cfg, cfg.seed, start()).unwrap();
    let modes: std::collections::BTreeSet<Mode> =
        g.reports.iter().map(|r| r.envelope.mode).collect();
    assert!(modes.contains(&Mode::Exercise) && modes.contains(&Mode::RealWorld));
    for r in &g.reports {
        let track = r.envelope.payload.track_id().unwrap().as_str();
        let exercise = track.ends_with("-X1");
        assert_eq!(exercise, r.envelope.mode == Mode::Exercise, "{track}");
    }
}

#[test]
fn salvo_releasability_restriction_applies_to_us_sensor_on_m3() {
    let cfg = named("salvo").unwrap();
    let g = generate(&cfg, cfg.seed, start()).unwrap();
    let m3: Vec<_> = g
        .reports
        .iter()
        .filter(|r| {
            r.envelope
                .payload
                .track_id()
                .is_some_and(|t| t.as_str().ends_with("-M3"))
        })
        .collect();
    assert!(!m3.is_empty());
    for r in m3 {
        assert!(!r.envelope.releasability.contains(&Nation::Kr) || r.envelope.origin == Nation::Kr);
    }
}

#[test]
fn bad_definitions_name_the_problem() {
    let err = trilink_scenario::ScenarioConfig::from_toml("name = \"x\"\nbogus = 1\n", "x.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
    let err = trilink_scenario::ScenarioConfig::from_toml(
        "name = \"x\"\n[[false_alarm]]\nsensor = \"nope\"\nat_s = 1.0\ncancel_after_s = 2.0\npoint = { lat_deg = 1.0, lon_deg = 1.0 }\n",
        "x.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("nope"), "{err}");
    assert!(
        named("does_not_exist")
            .unwrap_err()
            .to_string()
            .contains("single_launch")
    );
}
