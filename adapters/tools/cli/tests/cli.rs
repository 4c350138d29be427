//! The `trilink` binary as a user sees it: help texts, exit codes, and `trilink schema`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
use common::{exits_with, repo, trilink};

use std::process::{Command, Output};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn top_level_help_lists_every_job() {
    let o = trilink(&["--help"]);
    assert!(o.status.success());
    let text = stdout(&o);
    for job in [
        "adapter", "relay", "replay", "record", "policy", "picture", "scenario", "demo", "bench",
        "schema",
    ] {
        assert!(text.contains(job), "--help does not mention {job}:\n{text}");
    }
}

#[test]
fn every_subcommand_explains_itself() {
    let o = trilink(&["--help"]);
    let text = stdout(&o);
    // Subcommands are listed as "  name  description" under "Commands:".
    let jobs: Vec<String> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's name sits at two spaces; a wrapped description is indented further.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|j| j != "help")
        .collect();
    assert!(jobs.len() >= 9, "{jobs:?}");
    for job in jobs {
        let o = trilink(&[&job, "--help"]);
        assert!(o.status.success(), "{job} --help failed");
        let help = stdout(&o);
        assert!(help.contains("Usage: trilink"), "{job}: {help}");
        assert!(
            help.lines().next().is_some_and(|l| l.len() > 10),
            "{job} --help has no description: {help}"
        );
    }
}

#[test]
fn unknown_arguments_are_usage_errors() {
    let o = trilink(&["no-such-job"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn schema_prints_the_committed_json_schema() {
    let o = trilink(&["schema"]);
    assert!(o.status.success());
    let committed =
        std::fs::read_to_string(repo().join("schemas/json/envelope.schema.json")).unwrap();
    assert_eq!(stdout(&o), committed);
}

#[test]
fn schema_check_accepts_valid_and_names_each_invalid_reason() {
    let now = "--now=2026-11-21T00:10:00Z";
    let valid_dir = repo().join("schemas/examples/valid");
    let mut valid: Vec<String> = std::fs::read_dir(&valid_dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    valid.sort();
    let mut args = vec!["schema", "check", now];
    args.extend(valid.iter().map(String::as_str));
    let o = trilink(&args);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o).matches(": valid").count(), valid.len());

    let inv = repo().join("schemas/examples/invalid");
    let expected: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(inv.join("expected.json")).unwrap()).unwrap();
    for (name, case) in expected["cases"].as_object().unwrap() {
        let file = inv.join(format!("{name}.json"));
        let o = trilink(&["schema", "check", now, file.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{name} should be rejected");
        let out = stdout(&o);
        // Documents the JSON Schema rejects are reported as json_schema; the others by rule code.
        let want = if case["json_schema"] == "reject" {
            "(json_schema)".to_owned()
        } else {
            format!("({})", case["reason"].as_str().unwrap())
        };
        assert!(out.contains(&want), "{name}: expected {want} in {out}");
    }
}

/// A document the JSON Schema rejects is explained by the field at fault, not by "not valid
/// under any of the schemas listed in the 'oneOf'" followed by the payload.
#[test]
fn schema_check_names_the_failing_field_without_dumping_the_payload() {
    let inv = repo().join("schemas/examples/invalid");
    for (name, says) in [
        (
            "confidence_out_of_range",
            "/payload/confidence: 1.5 is greater than the maximum of 1",
        ),
        (
            "lat_out_of_range",
            "/payload/position/lat_deg: 95.0 is greater than the maximum of 90",
        ),
        (
            "bad_mode",
            "/mode: \"drill\" is not one of \"real_world\", \"exercise\", \"test\"",
        ),
        (
            "unknown_kind",
            "/payload/kind: \"nuclear_detonation\" is not one of \"launch_detection\"",
        ),
        (
            "unknown_field",
            "/payload: Additional properties are not allowed ('warhead'",
        ),
        (
            "common_event_bad_contributor_track",
            "/payload/contributors/1/track_id: \"US track 1\" does not match",
        ),
        (
            "too_many_references",
            "/references: the value has more than 16 items",
        ),
    ] {
        let file = inv.join(format!("{name}.json"));
        let o = trilink(&[
            "schema",
            "check",
            "--now=2026-11-21T00:10:00Z",
            file.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{name}");
        let out = stdout(&o);
        assert!(out.contains(says), "{name}: expected {says:?} in {out}");
        assert!(!out.contains("oneOf"), "{name}: {out}");
        // No document or payload quoted back.
        assert!(!out.contains("{\""), "{name}: {out}");
        assert!(out.lines().count() == 1 && out.len() < 300, "{name}: {out}");
    }
}

#[test]
fn schema_write_writes_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let o = trilink(&["schema", "write", dir.path().to_str().unwrap()]);
    assert!(o.status.success());
    let written = std::fs::read_to_string(dir.path().join("envelope.schema.json")).unwrap();
    assert_eq!(written, trilink_schema::json_schema_pretty());
}

/// A job run without its required arguments never succeeds silently: it
/// exits 2 and says why on standard error.
#[test]
fn no_job_succeeds_silently() {
    for job in ["adapter", "relay", "replay", "record", "policy", "picture"] {
        let o = trilink(&[job]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "trilink {job} exited {:?}",
            o.status.code()
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            !err.trim().is_empty(),
            "trilink {job} exited 2 without saying why"
        );
    }
}

#[test]
fn scenario_writes_reports_and_truth() {
    let dir = tempfile::tempdir().unwrap();
    let o = trilink(&[
        "scenario",
        "--name",
        "false_alarm",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let reports = std::fs::read_to_string(dir.path().join("reports.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = reports
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "launch, two track updates, cancel");
    assert_eq!(lines[3]["envelope"]["payload"]["kind"], "cancel");
    assert_eq!(lines[0]["subject"], "tl.in.jp.launch_detection");
    // The summary table counts reports per origin, kind and mode.
    let out = stdout(&o);
    let row = |kind: &str, n: usize| {
        out.lines().any(|l| {
            let cells: Vec<&str> = l
                .split(['│', '┆'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            cells == ["jp", kind, "real_world", &n.to_string()]
        })
    };
    assert!(row("track_update", 2) && row("cancel", 1), "{out}");
    let o = trilink(&["scenario", "--name", "nope"]);
    assert_eq!(o.status.code(), Some(2));
}

/// A dead-letter watch covers one site: a replay sending to several nations must say which.
#[test]
fn a_dead_letter_watch_over_several_nations_needs_a_site() {
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(repo().join("adapters/tools/scenario/samples/single_launch/national.pcapng"))
        .args(["--jp", "udp://127.0.0.1:9", "--us", "tcp://127.0.0.1:9"])
        .args(["--dlq-nats", "nats://127.0.0.1:9"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = exits_with(&o, 2);
    assert!(
        err.contains("sends to jp, us") && err.contains("--dlq-site"),
        "{err}"
    );
}
