//! Property tests of the routing guarantees, over arbitrary valid envelopes and arbitrary
//! policies: releasability is a ceiling, mode acceptance is a ceiling, spoofing yields nothing.

// Strategies run outside #[test] functions; a panic there is still a test failure.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use trilink_relay::{
    Action, Area, Destination, Policy, ReferenceBook, RelayIdentity, Rule, process,
};
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{Envelope, GeoPoint, Mode, Nation, PayloadKind, Subject};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

fn nation() -> impl Strategy<Value = Nation> {
    prop::sample::select(Nation::ALL.to_vec())
}
fn mode() -> impl Strategy<Value = Mode> {
    prop::sample::select(Mode::ALL.to_vec())
}
fn kind() -> impl Strategy<Value = PayloadKind> {
    prop::sample::select(PayloadKind::NATIONAL.to_vec())
}
fn set_of<T: Ord + Clone + std::fmt::Debug>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = BTreeSet<T>> {
    prop::collection::btree_set(s, 0..=3)
}

fn valid_envelope() -> impl Strategy<Value = Envelope> {
    (
        nation(),
        kind(),
        mode(),
        set_of(nation()),
        0u64..1_000_000,
        0i64..86_400_000,
        -89.0f64..89.0,
        -179.0f64..179.0,
    )
        .prop_map(|(origin, kind, mode, rel, seq, ago_ms, lat, lon)| {
            // As an adapter publishes it: no provenance (the relay is the first hop).
            envelope(&SampleSpec {
                origin,
                kind,
                mode,
                releasability: rel,
                seq,
                observed_at: now() - Duration::milliseconds(ago_ms) - Duration::seconds(1),
                point: GeoPoint {
                    lat_deg: lat,
                    lon_deg: lon,
                    alt_m: 0.0,
                },
            })
            .unwrap()
        })
}

fn area() -> impl Strategy<Value = Area> {
    (
        -90.0f64..90.0,
        0.0f64..90.0,
        -180.0f64..180.0,
        -180.0f64..180.0,
    )
        .prop_map(|(lat_min, h, lon_min, lon_max)| Area {
            lat_min,
            lat_max: (lat_min + h).min(90.0),
            lon_min,
            lon_max,
        })
}

fn nonempty<T: Ord + Clone + std::fmt::Debug>(
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<BTreeSet<T>>> {
    prop::option::of(prop::collection::btree_set(s, 1..=3))
}

fn rule(i: usize) -> impl Strategy<Value = Rule> {
    (
        prop::bool::ANY,
        nonempty(nation()),
        nonempty(nation()),
        nonempty(kind()),
        nonempty(mode()),
        prop::option::of(area()),
    )
        .prop_map(
            move |(allow, origins, destinations, kinds, modes, area)| Rule {
                name: format!("r{i}"),
                action: if allow { Action::Allow } else { Action::Deny },
                origins,
                destinations,
                kinds,
                modes,
                area,
            },
        )
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop::bool::ANY,
        prop::collection::btree_map(nation(), prop::collection::btree_set(mode(), 1..=3), 0..=3),
        (0usize..6).prop_flat_map(|n| (0..n).map(rule).collect::<Vec<_>>()),
    )
        .prop_map(|(echo, dests, rules)| {
            let destinations: BTreeMap<Nation, Destination> = dests
                .into_iter()
                .map(|(n, modes)| (n, Destination { modes }))
                .collect();
            let p = Policy {
                version: 1,
                name: "arbitrary".into(),
                echo_to_origin: echo,
                destinations,
                rules,
            };
            p.validate().unwrap();
            p
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn outputs_respect_releasability_mode_and_echo(env in valid_envelope(), policy in policy()) {
        let body = env.to_json().unwrap();
        let subject = Subject::input_for(&env).to_string();
        let out = process(&subject, &body, now(), &policy, &RelayIdentity::default(), &ReferenceBook::default());
        prop_assert!(out.reject.is_none(), "valid envelope rejected: {:?}", out.reject);
        let mut dests = BTreeSet::new();
        for o in &out.outputs {
            prop_assert!(env.releasability.contains(&o.dest), "{} outside releasability {:?}", o.dest, env.releasability);
            let accepts = policy.destinations.get(&o.dest).is_some_and(|d| d.modes.contains(&env.mode));
            prop_assert!(accepts, "{} mode {} reached {} which does not accept it", env.message_id, env.mode, o.dest);
            prop_assert!(o.dest != env.origin || policy.echo_to_origin, "echoed to origin without echo_to_origin");
            prop_assert!(dests.insert(o.dest), "two outputs for {}", o.dest);
            // The output is a valid envelope, carrying this relay's hop and relayed_at.
            let e2 = Envelope::from_json(&o.body).unwrap();
            prop_assert_eq!(e2.relayed_at, Some(now()));
            prop_assert_eq!(e2.provenance.len(), env.provenance.len() + 1);
            prop_assert_eq!(&o.msg_id, &format!("{}.{}", env.message_id, o.dest));
            prop_assert_eq!(Subject::parse(&o.subject).unwrap(), Subject::output_for(&e2, o.dest));
        }
        // Every nation gets exactly one decision: delivered or withheld.
        prop_assert_eq!(out.outputs.len() + out.withheld.len(), Nation::ALL.len());
    }

    #[test]
    fn spoofed_origin_never_produces_outputs(env in valid_envelope(), policy in policy(), shift in 1usize..Nation::ALL.len()) {
        // Claim one of the other nations (no rejection sampling: a third of the cases would be
        // discarded and proptest's global reject limit made this test flaky).
        let at = Nation::ALL.iter().position(|n| *n == env.origin).unwrap();
        let claimed = Nation::ALL[(at + shift) % Nation::ALL.len()];
        prop_assert_ne!(claimed, env.origin);
        let body = env.to_json().unwrap();
        let subject = format!("tl.in.{claimed}.{}", env.payload.kind());
        let out = process(&subject, &body, now(), &policy, &RelayIdentity::default(), &ReferenceBook::default());
        prop_assert!(out.outputs.is_empty());
        prop_assert_eq!(out.reject.map(|r| r.code), Some("origin_mismatch"));
    }

    #[test]
    fn kind_mismatch_never_produces_outputs(env in valid_envelope(), policy in policy(), shift in 1usize..PayloadKind::NATIONAL.len()) {
        let at = PayloadKind::NATIONAL.iter().position(|k| *k == env.payload.kind()).unwrap();
        let k = PayloadKind::NATIONAL[(at + shift) % PayloadKind::NATIONAL.len()];
        prop_assert_ne!(k, env.payload.kind());
        let body = env.to_json().unwrap();
        let subject = format!("tl.in.{}.{k}", env.origin);
        let out = process(&subject, &body, now(), &policy, &RelayIdentity::default(), &ReferenceBook::default());
        prop_assert!(out.outputs.is_empty());
        prop_assert_eq!(out.reject.map(|r| r.code), Some("kind_mismatch"));
    }

    /// Whatever hops an input claims (a forged `us/relay-1`, several), it is refused.
    #[test]
    fn claimed_provenance_never_produces_outputs(env in valid_envelope(), policy in policy(), hops in 1u8..4) {
        let mut env = env;
        for i in 0..hops {
            env.provenance.push(trilink_schema::Hop {
                site: Nation::Us,
                component: format!("relay-{i}"),
                at: env.ingested_at,
            });
        }
        env.hop_limit = env.hop_limit.max(hops + 1);
        let body = env.to_json().unwrap();
        let subject = Subject::input_for(&env).to_string();
        let out = process(&subject, &body, now(), &policy, &RelayIdentity::default(), &ReferenceBook::default());
        prop_assert!(out.outputs.is_empty());
        prop_assert_eq!(out.reject.map(|r| r.code), Some("forged_provenance"));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512), policy in policy()) {
        let out = process("tl.in.jp.launch_detection", &body, now(), &policy, &RelayIdentity::default(), &ReferenceBook::default());
        prop_assert!(out.outputs.is_empty());
        prop_assert!(out.reject.is_some());
    }

    #[test]
    fn policy_round_trips_through_toml(policy in policy()) {
        let text = policy.to_toml_string().unwrap();
        let back = Policy::from_toml_str(&text).unwrap();
        prop_assert_eq!(back, policy);
    }
}
