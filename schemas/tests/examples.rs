//! The committed JSON Schema and examples are current, and the JSON Schema and the Rust
//! validation agree on every example.
//!
//! Regenerate the committed files with `TRILINK_BLESS=1 cargo test -p trilink-schema --test examples`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use trilink_schema::Envelope;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn bless() -> bool {
    std::env::var_os("TRILINK_BLESS").is_some()
}

/// Compare `content` with the committed file, or write it when blessing.
fn golden(path: &Path, content: &str) {
    if bless() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run TRILINK_BLESS=1 cargo test -p trilink-schema --test examples",
            path.display()
        )
    });
    assert!(
        committed == content,
        "{} is stale; run TRILINK_BLESS=1 cargo test -p trilink-schema --test examples and commit",
        path.display()
    );
}

fn pretty(v: &impl serde::Serialize) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap();
    s.push('\n');
    s
}

/// An invalid example: a JSON mutation of a valid one, the rule code the Rust validation must
/// give (`parse` where serde refuses the document), and whether the JSON Schema rejects it too.
struct Invalid {
    name: &'static str,
    doc: Value,
    reason: &'static str,
    schema_rejects: bool,
}

fn set(mut doc: Value, pointer: &str, v: Value) -> Value {
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}")) = v;
    doc
}

fn to_value(e: &Envelope) -> Value {
    serde_json::to_value(e).unwrap()
}

fn invalid_examples() -> Vec<Invalid> {
    let ld = to_value(&common::launch_detection());
    let tu = to_value(&common::track_update());
    let ip = to_value(&common::impact_prediction());
    let ca = to_value(&common::cancel());
    let st = to_value(&common::status());
    let ce = to_value(&common::common_event());
    let cancel_id = common::cancel().message_id.to_string();
    let ref0 = common::launch_detection().message_id.to_string();
    let inv = |name, doc, reason, schema_rejects| Invalid {
        name,
        doc,
        reason,
        schema_rejects,
    };
    vec![
        inv(
            "lat_out_of_range",
            set(tu.clone(), "/payload/position/lat_deg", json!(95.0)),
            "out_of_range",
            true,
        ),
        inv(
            "lon_out_of_range",
            set(ld.clone(), "/payload/launch_point/lon_deg", json!(181.5)),
            "out_of_range",
            true,
        ),
        inv(
            "alt_out_of_range",
            set(tu.clone(), "/payload/position/alt_m", json!(-5000.0)),
            "out_of_range",
            true,
        ),
        inv(
            "confidence_out_of_range",
            set(ld.clone(), "/payload/confidence", json!(1.5)),
            "out_of_range",
            true,
        ),
        inv(
            "quality_out_of_range",
            set(tu.clone(), "/payload/quality", json!(16)),
            "out_of_range",
            true,
        ),
        inv(
            "velocity_out_of_range",
            set(tu.clone(), "/payload/velocity/up_mps", json!(25_000.0)),
            "out_of_range",
            true,
        ),
        inv(
            "negative_uncertainty",
            set(
                tu.clone(),
                "/payload/position_uncertainty/vertical_m",
                json!(-1.0),
            ),
            "out_of_range",
            true,
        ),
        inv(
            "future_timestamp",
            set(
                set(tu.clone(), "/observed_at", json!("2026-11-21T01:10:00Z")),
                "/ingested_at",
                json!("2026-11-21T01:10:00Z"),
            ),
            "future_timestamp",
            false,
        ),
        inv(
            "time_order",
            set(tu.clone(), "/ingested_at", json!("2026-11-21T00:01:00Z")),
            "time_order",
            false,
        ),
        inv(
            "empty_releasability",
            set(ld.clone(), "/releasability", json!([])),
            "empty_releasability",
            true,
        ),
        inv(
            "origin_not_releasable",
            set(ld.clone(), "/releasability", json!(["kr", "us"])),
            "origin_not_releasable",
            false,
        ),
        inv(
            "hop_limit_exceeded",
            two_hops_limit_one(st),
            "hop_limit_exceeded",
            false,
        ),
        inv(
            "zero_hop_limit",
            set(ld.clone(), "/hop_limit", json!(0)),
            "zero_hop_limit",
            true,
        ),
        inv(
            "unsupported_schema_version",
            set(ld.clone(), "/schema_version", json!(2)),
            "unsupported_schema_version",
            false,
        ),
        inv(
            "self_reference",
            set(ca.clone(), "/references", json!([cancel_id])),
            "reference_cycle",
            false,
        ),
        inv(
            "duplicate_reference",
            set(ca.clone(), "/references", json!([ref0, ref0])),
            "duplicate_reference",
            false,
        ),
        inv(
            "too_many_references",
            set(ca.clone(), "/references", json!(many_references(17))),
            "too_many_references",
            true,
        ),
        inv(
            "cancel_without_references",
            set(ca.clone(), "/references", json!([])),
            "missing_references",
            false,
        ),
        inv(
            "invalid_track_id",
            set(tu.clone(), "/payload/track_id", json!("JP 7")),
            "invalid_track_id",
            true,
        ),
        inv(
            "message_id_mismatch",
            set(
                ld.clone(),
                "/source/national_message_id",
                json!("20261121-999999"),
            ),
            "message_id_mismatch",
            false,
        ),
        inv(
            "empty_system",
            set(ld.clone(), "/source/system", json!("")),
            "empty_text",
            true,
        ),
        inv(
            "ellipse_axes",
            set(
                ip.clone(),
                "/payload/error_ellipse/semi_minor_m",
                json!(20_000.0),
            ),
            "ellipse_axes",
            false,
        ),
        inv(
            "common_event_no_contributors",
            set(ce.clone(), "/payload/contributors", json!([])),
            "contributor_count",
            true,
        ),
        inv(
            "common_event_ellipse_axes",
            set(
                ce.clone(),
                "/payload/impact/error_ellipse/semi_minor_m",
                json!(12_000.0),
            ),
            "ellipse_axes",
            false,
        ),
        inv(
            "common_event_bad_contributor_track",
            set(ce, "/payload/contributors/1/track_id", json!("US track 1")),
            "invalid_track_id",
            true,
        ),
        inv(
            "unknown_kind",
            set(ld.clone(), "/payload/kind", json!("nuclear_detonation")),
            "parse",
            true,
        ),
        inv(
            "unknown_field",
            insert(ld.clone(), "/payload", "warhead", json!("unknown")),
            "parse",
            true,
        ),
        inv(
            "bad_mode",
            set(ld.clone(), "/mode", json!("drill")),
            "parse",
            true,
        ),
        inv(
            "bad_timestamp",
            set(ld, "/observed_at", json!("21/11/2026 00:01")),
            "parse",
            true,
        ),
    ]
}

fn insert(mut doc: Value, parent: &str, key: &str, v: Value) -> Value {
    doc.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), v);
    doc
}

/// A relayed status message with hop_limit 1 and two provenance hops.
/// `n` distinct message ids (one more than `Envelope::MAX_REFERENCES` makes an invalid list).
fn many_references(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            trilink_schema::MessageId::derive(trilink_schema::Nation::Jp, "FPS-5", &i.to_string())
                .to_string()
        })
        .collect()
}

fn two_hops_limit_one(status: Value) -> Value {
    let mut d = set(status, "/hop_limit", json!(1));
    let hop = d["provenance"][0].clone();
    d["provenance"].as_array_mut().unwrap().push(hop);
    d
}

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("json/envelope.schema.json")).unwrap(),
    )
    .unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// What the Rust side says about a document: `valid`, `parse`, or a validation code.
fn rust_verdict(doc: &Value) -> String {
    match serde_json::from_value::<Envelope>(doc.clone()) {
        Err(_) => "parse".into(),
        Ok(e) => match e.validate(&common::ctx()) {
            Ok(()) => "valid".into(),
            Err(err) => err.code().into(),
        },
    }
}

#[test]
fn committed_json_schema_is_current() {
    golden(
        &root().join("json/envelope.schema.json"),
        &trilink_schema::json_schema_pretty(),
    );
}

#[test]
fn committed_examples_are_current() {
    for (name, env) in common::valid_examples() {
        golden(
            &root().join(format!("examples/valid/{name}.json")),
            &pretty(&env),
        );
    }
    let mut expected = BTreeMap::new();
    for inv in invalid_examples() {
        golden(
            &root().join(format!("examples/invalid/{}.json", inv.name)),
            &pretty(&inv.doc),
        );
        expected.insert(
            inv.name.to_owned(),
            json!({ "reason": inv.reason, "json_schema": if inv.schema_rejects { "reject" } else { "accept" } }),
        );
    }
    let doc = json!({ "validated_at": common::now().to_rfc3339(), "cases": expected });
    golden(
        &root().join("examples/invalid/expected.json"),
        &pretty(&doc),
    );
}

#[test]
fn every_valid_example_passes_schema_and_rules() {
    let v = validator();
    let dir = root().join("examples/valid");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{}: JSON Schema rejects a valid example: {errors:?}",
            path.display()
        );
        assert_eq!(rust_verdict(&doc), "valid", "{}", path.display());
        n += 1;
    }
    assert_eq!(
        n,
        trilink_schema::PayloadKind::ALL.len(),
        "one valid example per payload kind"
    );
}

#[test]
fn every_invalid_example_fails_with_its_reason() {
    let v = validator();
    let dir = root().join("examples/invalid");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let cases = expected["cases"].as_object().unwrap();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if stem == "expected" {
            continue;
        }
        let case = cases
            .get(&stem)
            .unwrap_or_else(|| panic!("{stem} has no entry in expected.json"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            rust_verdict(&doc),
            case["reason"].as_str().unwrap(),
            "{stem}: Rust validation"
        );
        let schema_verdict = if v.is_valid(&doc) { "accept" } else { "reject" };
        assert_eq!(
            schema_verdict,
            case["json_schema"].as_str().unwrap(),
            "{stem}: JSON Schema"
        );
        seen += 1;
    }
    assert_eq!(seen, cases.len(), "every case in expected.json has a file");
    assert!(seen >= 20);
}

/// The JSON Schema and serde agree: whatever serde refuses, the schema refuses too.
#[test]
fn schema_rejects_everything_serde_rejects() {
    let v = validator();
    for inv in invalid_examples() {
        if inv.reason == "parse" {
            assert!(
                !v.is_valid(&inv.doc),
                "{}: serde refuses it but the JSON Schema accepts it",
                inv.name
            );
        }
    }
}
