//! `trilink picture`: the common picture of the shipped samples and of full generated scenarios
//! (with their ground truth), offline. No brokers needed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
use common::{repo, trilink};

use std::collections::BTreeSet;

use serde_json::Value;

fn sample(name: &str, file: &str) -> String {
    repo()
        .join("adapters/tools/scenario/samples")
        .join(name)
        .join(file)
        .display()
        .to_string()
}

fn policy(name: &str) -> String {
    repo()
        .join(format!("broker-config/policies/{name}.toml"))
        .display()
        .to_string()
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = trilink(&a);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn picture<'a>(doc: &'a Value, viewer: &str) -> &'a Value {
    doc["pictures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["viewer"] == viewer)
        .unwrap_or_else(|| panic!("no picture for {viewer}: {doc}"))
}

fn events(doc: &Value, viewer: &str) -> Vec<Value> {
    picture(doc, viewer)["events"].as_array().unwrap().clone()
}

fn origins(event: &Value) -> BTreeSet<String> {
    event["last"]["contributors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["origin"].as_str().unwrap().to_owned())
        .collect()
}

fn all_three() -> BTreeSet<String> {
    ["jp", "kr", "us"].map(String::from).into()
}

#[test]
fn single_launch_sample_is_one_event_per_destination_fused_from_all_three() {
    let pcap = sample("single_launch", "national.pcapng");
    let doc = json(&[
        "picture",
        "--capture",
        &pcap,
        "--policy",
        &policy("default-trilateral"),
    ]);
    assert_eq!(doc["rejected"].as_array().unwrap().len(), 0, "{doc}");
    assert_eq!(doc["capture"]["format"], "pcapng");
    let mut ids = BTreeSet::new();
    for dest in ["jp", "kr", "us"] {
        let ev = events(&doc, dest);
        assert_eq!(ev.len(), 1, "{dest}: {ev:?}");
        assert_eq!(origins(&ev[0]), all_three(), "{dest}");
        assert_eq!(ev[0]["mode"], "real_world");
        let changes = ev[0]["changes"].as_array().unwrap();
        assert_eq!(changes[0]["change"], "created", "{changes:?}");
        assert_eq!(
            changes.iter().filter(|c| c["change"] == "joined").count(),
            2,
            "{changes:?}"
        );
        assert!(ev[0]["last"]["launch"].is_object());
        assert!(ev[0]["last"]["impact"]["error_ellipse"]["semi_major_m"].is_number());
        ids.insert(ev[0]["event_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "one event id at every destination: {ids:?}");
    // The same picture from the JSON Lines of the same reports: deterministic event ids.
    let doc2 = json(&[
        "picture",
        "--capture",
        &sample("single_launch", "reports.jsonl"),
        "--policy",
        &policy("default-trilateral"),
    ]);
    assert_eq!(doc2["capture"]["format"], "jsonl");
    assert_eq!(
        events(&doc2, "kr")[0]["event_id"].as_str().unwrap(),
        ids.first().unwrap()
    );
    // The readable form.
    let o = trilink(&[
        "picture",
        "--capture",
        &pcap,
        "-p",
        &policy("default-trilateral"),
        "--dest",
        "jp",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("== jp: 1 event(s)"), "{text}");
    assert!(!text.contains("== kr"), "--dest jp shows JP only: {text}");
    for needle in [
        "created by kr KR-greenpineb-M1",
        "us US-tpy2kyoga-M1 joined",
        "jp JP-fps5sado-M1 joined",
        "ellipse",
        "first detected by kr",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[test]
fn without_a_policy_it_is_the_hubs_whole_picture_and_says_so() {
    let o = trilink(&["picture", "--capture", &sample("salvo", "envelopes.jsonl")]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("no policy: the hub's whole picture"),
        "{text}"
    );
    assert!(text.contains("== hub: "), "{text}");
    assert!(!text.contains("== jp"), "{text}");
}

/// Every shipped scenario in full (the samples are trimmed and carry no truth): regenerated
/// with `trilink scenario`, its picture per destination has one event per true object, and the
/// track-quality metrics meet the issue-15 targets at every destination.
#[test]
fn full_scenarios_one_event_per_object_and_the_targets_met() {
    for name in ["single_launch", "salvo", "false_alarm", "exercise_mixed"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let o = trilink(&["scenario", "--name", name, "--out", d.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let truth = d.join("truth.jsonl");
        let objects: BTreeSet<String> = std::fs::read_to_string(&truth)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["envelope"]["payload"]["kind"] == "launch_detection")
            .map(|r| {
                r["envelope"]["payload"]["track_id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        let doc = json(&[
            "picture",
            "--capture",
            d.join("national.pcapng").to_str().unwrap(),
            "--policy",
            &policy("default-trilateral"),
            "--truth",
            truth.to_str().unwrap(),
        ]);
        assert_eq!(doc["rejected"].as_array().unwrap().len(), 0, "{name}");
        for dest in ["jp", "kr", "us"] {
            let ev = events(&doc, dest);
            let live: Vec<&Value> = ev
                .iter()
                .filter(|e| e["last"]["state"] != "cancelled")
                .collect();
            assert_eq!(
                live.len(),
                objects.len(),
                "{name} {dest}: one event per launched object {objects:?}: {ev:#?}"
            );
            let q = &doc["quality"][dest];
            assert_eq!(q["targets_met"], true, "{name} {dest}: {q:#}");
            if !objects.is_empty() {
                assert_eq!(q["ambiguity"], 1.0, "{name} {dest}: {q:#}");
                assert!(q["completeness"].as_f64().unwrap() >= 0.99, "{q:#}");
                for (n, v) in q["nations"].as_object().unwrap() {
                    assert_eq!(v["unassociated"], 0, "{name} {dest} {n}");
                }
            }
            assert_eq!(q["spuriousness_unretracted"], 0.0, "{name} {dest}: {q:#}");
            assert_eq!(q["track_id_changes"], 0, "{name} {dest}: {q:#}");
        }
        match name {
            "single_launch" => {
                for dest in ["jp", "kr", "us"] {
                    assert_eq!(origins(&events(&doc, dest)[0]), all_three(), "{dest}");
                    assert_eq!(events(&doc, dest)[0]["last"]["state"], "ended");
                }
            }
            "salvo" => assert_eq!(objects.len(), 3, "{objects:?}"),
            "false_alarm" => {
                let ev = events(&doc, "jp");
                assert_eq!(ev.len(), 1);
                assert_eq!(ev[0]["last"]["state"], "cancelled");
            }
            _ => {}
        }
        // The readable metrics.
        let o = trilink(&[
            "picture",
            "--capture",
            d.join("reports.jsonl").to_str().unwrap(),
            "-p",
            &policy("default-trilateral"),
            "--truth",
            truth.to_str().unwrap(),
            "--dest",
            "kr",
        ]);
        assert_eq!(o.status.code(), Some(0));
        let text = String::from_utf8(o.stdout).unwrap();
        assert!(text.contains("completeness"), "{text}");
        assert!(!text.contains("MISSED"), "{name}: {text}");
    }
}

/// KR releases its track to {kr, us} only: JP's picture holds no KR contribution (and its event
/// does not say KR saw it first), KR's and the US's do.
#[test]
fn a_kr_track_not_released_to_jp_is_not_in_jps_picture() {
    let text = std::fs::read_to_string(sample("single_launch", "reports.jsonl")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kr-not-to-jp.jsonl");
    let mut lines = Vec::new();
    for l in text.lines() {
        let mut r: Value = serde_json::from_str(l).unwrap();
        if r["envelope"]["origin"] == "kr" {
            r["envelope"]["releasability"] = serde_json::json!(["kr", "us"]);
        }
        lines.push(r.to_string());
    }
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let doc = json(&[
        "picture",
        "--capture",
        path.to_str().unwrap(),
        "--policy",
        &policy("default-trilateral"),
    ]);
    assert_eq!(doc["rejected"].as_array().unwrap().len(), 0, "{doc}");
    let jp = events(&doc, "jp");
    assert_eq!(jp.len(), 1, "{jp:?}");
    assert_eq!(origins(&jp[0]), ["jp", "us"].map(String::from).into());
    assert_ne!(jp[0]["last"]["first_detected_by"], "kr");
    assert!(!jp[0].to_string().contains("KR-"), "{}", jp[0]);
    for dest in ["kr", "us"] {
        assert_eq!(origins(&events(&doc, dest)[0]), all_three(), "{dest}");
    }
    // JP's event is another id: it cannot reveal that KR's report came first.
    assert_ne!(jp[0]["event_id"], events(&doc, "kr")[0]["event_id"]);
}

#[test]
fn exit_codes() {
    let ok = sample("false_alarm", "envelopes.jsonl");
    assert_eq!(
        trilink(&["picture", "--capture", &ok]).status.code(),
        Some(0)
    );
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"this is not a capture").unwrap();
    let bad_policy = dir.path().join("bad.toml");
    std::fs::write(&bad_policy, "version = 1\nname = \"x\"\nnonsense = 3\n").unwrap();
    let missing = dir.path().join("missing").display().to_string();
    let default = policy("default-trilateral");
    let cases: Vec<Vec<&str>> = vec![
        vec!["picture", "--capture", &missing],
        vec!["picture", "--capture", junk.to_str().unwrap()],
        vec!["picture", "--capture", &ok, "--dest", "jp"], // --dest needs --policy
        vec!["picture", "--capture", &ok, "-p", &default, "--dest", "xx"],
        vec![
            "picture",
            "--capture",
            &ok,
            "-p",
            bad_policy.to_str().unwrap(),
        ],
        vec!["picture", "--capture", &ok, "--truth", &missing],
        vec![
            "picture",
            "--capture",
            &ok,
            "--truth",
            junk.to_str().unwrap(),
        ],
        vec!["picture"],
    ];
    for args in cases {
        let o = trilink(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            o.stdout.is_empty(),
            "{args:?}: nothing on stdout on a usage error"
        );
    }
}
