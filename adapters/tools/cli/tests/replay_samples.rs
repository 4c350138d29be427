//! The bundled samples under `adapters/tools/scenario/samples/`: consistent with each other,
//! reproducible with `trilink scenario`, and `trilink policy test` passes against every
//! expectations file (and fails against a wrong one). No brokers needed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
use common::{decode_sample, repo, sample, trilink};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use trilink_capture::{JsonlRecord, read_jsonl};

const SAMPLES: [(&str, Option<&str>); 4] = [
    ("single_launch", Some("60")),
    ("salvo", Some("60")),
    ("false_alarm", None),
    ("exercise_mixed", Some("60")),
];

#[test]
fn samples_are_what_trilink_scenario_generates() {
    for (name, max) in SAMPLES {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap();
        let mut args = vec!["scenario", "--name", name, "--out", out];
        if let Some(m) = max {
            args.extend(["--max-reports", m]);
        }
        let o = trilink(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for f in ["national.pcapng", "capture-map.toml", "reports.jsonl"] {
            let fresh = std::fs::read(dir.path().join(f)).unwrap();
            let shipped = std::fs::read(sample(name).join(f)).unwrap();
            assert!(
                fresh == shipped,
                "{name}/{f} differs from `trilink scenario` output: regenerate the samples (see samples/README.md)"
            );
        }
    }
}

/// A sample's `reports.jsonl`.
fn reports(dir: &Path) -> Vec<JsonlRecord> {
    read_jsonl(
        "reports.jsonl",
        &std::fs::read(dir.join("reports.jsonl")).unwrap(),
    )
    .unwrap()
}

#[test]
fn national_capture_decodes_to_the_reports() {
    for (name, _) in SAMPLES {
        let dir = sample(name);
        let reports = reports(&dir);
        assert!(!reports.is_empty(), "{name}");
        let (decoded, unmapped) = decode_sample(name);
        assert_eq!(unmapped, 0, "{name}");
        assert_eq!(decoded.len(), reports.len(), "{name}");
        // Same order (the capture is in emission order), same identities, same times.
        for (d, r) in decoded.iter().zip(&reports) {
            assert_eq!(d.timestamp, r.ts, "{name}");
            assert_eq!(d.nation, r.envelope.origin, "{name}");
            assert_eq!(d.envelope.message_id, r.envelope.message_id, "{name}");
            assert_eq!(
                d.envelope.payload.kind(),
                r.envelope.payload.kind(),
                "{name}"
            );
            assert_eq!(d.envelope.mode, r.envelope.mode, "{name}");
        }
        // Every nation present in the reports is present in the capture on its transport.
        let by_nation: BTreeMap<_, usize> = decoded.iter().fold(BTreeMap::new(), |mut m, d| {
            *m.entry(d.nation).or_default() += 1;
            m
        });
        assert!(!by_nation.is_empty());
    }
}

#[test]
fn envelopes_jsonl_is_the_envelopes_of_reports_jsonl() {
    for (name, _) in SAMPLES {
        let dir = sample(name);
        let reports = reports(&dir);
        let envs: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("envelopes.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(envs.len(), reports.len(), "{name}");
        for (e, r) in envs.iter().zip(&reports) {
            assert_eq!(*e, serde_json::to_value(&r.envelope).unwrap(), "{name}");
        }
    }
}

fn policy_test(name: &str, expect: &Path) -> Output {
    let dir = sample(name);
    trilink(&[
        "policy",
        "test",
        "--policy",
        repo()
            .join("broker-config/policies/default-trilateral.toml")
            .to_str()
            .unwrap(),
        "--capture",
        dir.join("envelopes.jsonl").to_str().unwrap(),
        "--now",
        "2026-11-21T00:02:10Z",
        "--expect",
        expect.to_str().unwrap(),
        "--strict",
    ])
}

#[test]
fn policy_test_passes_for_every_sample() {
    for (name, _) in SAMPLES {
        let o = policy_test(name, &sample(name).join("default-trilateral.expect.toml"));
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(0), "{name}\n{out}\n{err}");
        assert!(err.contains("matches the expectations"), "{name}: {err}");
        assert!(out.contains(" 0 rejected"), "{name}: {out}");
    }
}

#[test]
fn policy_test_fails_on_a_wrong_sample_expectation() {
    let text =
        std::fs::read_to_string(sample("false_alarm").join("default-trilateral.expect.toml"))
            .unwrap();
    // false_alarm: JP's cancel reaches KR once; claim it did not.
    let marker = "\"jp -> kr  cancel             real_world\" = { delivered = 1 }";
    assert!(text.contains(marker), "{text}");
    let wrong = text.replace(marker, &marker.replace("delivered = 1", "delivered = 0"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrong.expect.toml");
    std::fs::write(&path, wrong).unwrap();
    let o = policy_test("false_alarm", &path);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("jp -> kr  cancel"), "{err}");
    assert!(err.contains("in 1 place(s)"), "{err}");
}
