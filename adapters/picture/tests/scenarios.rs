//! The correlator on the shipped scenarios: one event per missile per destination, never a
//! missile split across events or two missiles in one event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use trilink_picture::{Config, Correlator};
use trilink_schema::{EventState, Nation};

fn start() -> DateTime<Utc> {
    "2026-11-21T00:00:00Z".parse().unwrap()
}

fn run(name: &str, seed: u64) -> (Correlator, trilink_scenario::Generated) {
    let cfg = trilink_scenario::named(name).unwrap();
    let g = trilink_scenario::generate(&cfg, seed, start()).unwrap();
    let mut c = Correlator::new(Config::default());
    for r in &g.reports {
        c.ingest(&r.envelope, r.emit_at).unwrap();
        c.tick(r.emit_at);
    }
    (c, g)
}

/// The object a generated track id names (`JP-fps5sado-M1` → `M1`).
fn object(track: &str) -> String {
    track.rsplit('-').next().unwrap().to_owned()
}

/// For each destination: object → set of events holding its tracks, and event → objects.
fn check_one_event_per_object(c: &Correlator, g: &trilink_scenario::Generated) {
    for dest in Nation::ALL {
        let mut by_object: BTreeMap<String, BTreeSet<uuid::Uuid>> = BTreeMap::new();
        for (id, members) in c.membership(dest) {
            let objects: BTreeSet<String> =
                members.iter().map(|(_, t)| object(t.as_str())).collect();
            assert_eq!(
                objects.len(),
                1,
                "{} seed {} dest {dest}: event {id} mixes objects {objects:?} ({members:?})",
                g.name,
                g.seed
            );
            for o in objects {
                by_object.entry(o).or_default().insert(id);
            }
        }
        // Every object whose reports reached `dest` has exactly one event there.
        let seen: BTreeSet<String> = g
            .reports
            .iter()
            .filter(|r| r.envelope.releasable_to(dest))
            .filter_map(|r| r.envelope.payload.track_id().map(|t| object(t.as_str())))
            .collect();
        for o in &seen {
            let n = by_object.get(o).map_or(0, BTreeSet::len);
            assert_eq!(
                n,
                1,
                "{} seed {} dest {dest}: object {o} is in {n} events ({:?})",
                g.name,
                g.seed,
                c.membership(dest)
            );
        }
    }
}

#[test]
fn single_launch_seen_by_three_nations_is_one_event() {
    let (c, g) = run("single_launch", 1);
    check_one_event_per_object(&c, &g);
    for dest in Nation::ALL {
        let v = c.view_for(dest);
        assert_eq!(v.len(), 1, "{dest}: {v:#?}");
        let e = &v[0].event;
        let origins: BTreeSet<Nation> = e.contributors.iter().map(|c| c.origin).collect();
        assert_eq!(origins, Nation::ALL.into_iter().collect(), "{dest}");
        assert_eq!(e.state, EventState::Ended, "{dest}");
        assert!(e.track.is_some() && e.launch.is_some() && e.impact.is_some());
    }
}

#[test]
fn shipped_scenarios_on_many_seeds() {
    for name in ["single_launch", "salvo", "false_alarm", "exercise_mixed"] {
        for seed in 0..6 {
            let (c, g) = run(name, seed);
            check_one_event_per_object(&c, &g);
        }
    }
}
