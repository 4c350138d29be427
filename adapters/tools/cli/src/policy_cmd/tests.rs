//! Tests of `trilink policy` (check, matrix, test with expectations).

use super::*;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .join(path)
}

fn run_test(policy: &str, expect: Option<PathBuf>, json: bool) -> (u8, String, String) {
    run_test_with(policy, expect, json, true, None)
}

fn run_test_with(
    policy: &str,
    expect: Option<PathBuf>,
    json: bool,
    strict: bool,
    write_expect: Option<PathBuf>,
) -> (u8, String, String) {
    let args = PolicyArgs {
        action: PolicyAction::Test(TestArgs {
            policy: repo(policy),
            capture: repo("broker-config/policies/samples/capture.jsonl"),
            expect,
            strict,
            json,
            now: "2026-11-21T00:00:00Z".parse().ok(),
            write_expect,
            live: false,
            settle_s: 60.0,
            view_listen: None,
            view_nation: trilink_schema::Nation::Kr,
            view_hold_s: 0.0,
        }),
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run_to(&args, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn shipped_expectations_match() {
    for name in ["default-trilateral", "strict-trilateral"] {
        let (code, out, err) = run_test(
            &format!("broker-config/policies/{name}.toml"),
            Some(repo(&format!(
                "broker-config/policies/samples/{name}.expect.toml"
            ))),
            false,
        );
        assert_eq!(code, 0, "{name}\n{out}\n{err}");
        assert!(out.contains("│ origin ┆ dest ┆ kind "), "{out}");
        // One table row per non-empty cell, columns in header order.
        let rows: Vec<Vec<&str>> = out
            .lines()
            .filter(|l| l.starts_with("│ ") && !l.starts_with("│ origin "))
            .map(|l| {
                l.split(['│', '┆'])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .collect()
            })
            .collect();
        assert!(rows.len() > 20, "{out}");
        assert!(
            rows.iter()
                .any(|r| r[..] == ["jp", "kr", "launch_detection", "real_world", "1", "-"]),
            "{out}"
        );
    }
}

#[test]
fn wrong_expectations_fail_with_readable_diff() {
    let (code, _out, err) = run_test(
        "broker-config/policies/strict-trilateral.toml",
        Some(repo("broker-config/policies/samples/wrong.expect.toml")),
        false,
    );
    assert_eq!(code, EXIT_PROBLEM, "{err}");
    assert!(
        err.contains("delivery matrix differs from expectations"),
        "{err}"
    );
    // The deliberate error: expects KR to receive the JP track that JP released to the US only.
    assert!(err.contains("jp -> kr  track_update  real_world"), "{err}");
    assert!(err.contains("expected: delivered 1"), "{err}");
    assert!(err.contains("actual:   withheld not_releasable 1"), "{err}");
}

#[test]
fn json_output_parses_and_reports_mismatch() {
    let (code, out, _err) = run_test(
        "broker-config/policies/strict-trilateral.toml",
        Some(repo("broker-config/policies/samples/wrong.expect.toml")),
        true,
    );
    assert_eq!(code, EXIT_PROBLEM);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["policy"], "strict-trilateral");
    assert_eq!(v["matches_expectations"], false);
    assert!(v["rows"].as_array().unwrap().len() > 5);
}

/// An expectations file naming one cell asserts that cell only; a wrong one-cell file gives
/// a one-cell diff, and `--strict` asserts the whole matrix.
#[test]
fn partial_expectations_assert_only_the_named_cells() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.expect.toml");
    let policy = "broker-config/policies/strict-trilateral.toml";
    std::fs::write(
        &one,
        "[cells]\n\"jp -> us  track_update  real_world\" = { delivered = 1 }\n",
    )
    .unwrap();
    let (code, _, err) = run_test_with(policy, Some(one.clone()), false, false, None);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("matches the expectations (1 named cell(s)"),
        "{err}"
    );
    // The same file as the whole matrix: every other non-empty cell differs.
    let (code, _, err) = run_test_with(policy, Some(one.clone()), false, true, None);
    assert_eq!(code, EXIT_PROBLEM, "{err}");
    assert!(
        !err.contains("differs from expectations in 1 place(s)"),
        "{err}"
    );
    // One wrong cell: a one-cell diff naming it.
    std::fs::write(
        &one,
        "[cells]\n\"jp->kr track_update real_world\" = { delivered = 1 }\n",
    )
    .unwrap();
    let (code, _, err) = run_test_with(policy, Some(one), false, false, None);
    assert_eq!(code, EXIT_PROBLEM, "{err}");
    assert!(
        err.contains("differs from expectations in 1 place(s)"),
        "{err}"
    );
    assert!(err.contains("jp -> kr  track_update  real_world"), "{err}");
    assert!(err.contains("actual:   withheld not_releasable 1"), "{err}");
}

/// `--write-expect` writes the compact form; it passes when read back (partial and strict)
/// and fails under a changed policy, naming the cell.
#[test]
fn written_expectations_round_trip_and_catch_a_policy_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("written.expect.toml");
    let (code, _, err) = run_test_with(
        "broker-config/policies/default-trilateral.toml",
        None,
        false,
        false,
        Some(path.clone()),
    );
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    let messages = std::fs::read_to_string(repo("broker-config/policies/samples/capture.jsonl"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count();
    let cells = text.lines().filter(|l| l.starts_with('"')).count();
    // One line per non-empty cell: at most three destinations per message.
    assert!(cells > 0 && cells <= 3 * messages, "{cells} cells\n{text}");
    assert!(text.lines().count() < cells + 15, "{text}");
    assert!(!text.contains("[[row]]"), "{text}");
    for strict in [false, true] {
        let (code, _, err) = run_test_with(
            "broker-config/policies/default-trilateral.toml",
            Some(path.clone()),
            false,
            strict,
            None,
        );
        assert_eq!(code, 0, "strict {strict}: {err}\n{text}");
    }
    let (code, _, err) = run_test_with(
        "broker-config/policies/strict-trilateral.toml",
        Some(path),
        false,
        false,
        None,
    );
    assert_eq!(code, EXIT_PROBLEM, "{err}");
    // strict-trilateral accepts no exercise traffic at KR.
    assert!(
        err.contains("jp -> kr  launch_detection  exercise"),
        "{err}"
    );
    assert!(
        err.contains("actual:   withheld mode_not_accepted:exercise 1"),
        "{err}"
    );
}

#[test]
fn bad_cell_names_are_usage_errors_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.expect.toml");
    std::fs::write(
        &path,
        "[cells]\n\"jp -> kr  trak_update  real_world\" = { delivered = 1 }\n",
    )
    .unwrap();
    let (code, _, err) = run_test_with(
        "broker-config/policies/default-trilateral.toml",
        Some(path),
        false,
        false,
        None,
    );
    assert_eq!(code, EXIT_USAGE, "{err}");
    assert!(err.contains("unknown kind \"trak_update\""), "{err}");
}

#[test]
fn the_picture_per_destination_is_shown_next_to_the_matrix() {
    let (code, out, err) = run_test("broker-config/policies/strict-trilateral.toml", None, false);
    assert_eq!(code, 0, "{err}");
    let (matrix, picture) = out
        .split_once("common picture per destination")
        .expect("a picture section after the matrix");
    assert!(
        matrix
            .lines()
            .any(|l| l.contains("origin") && l.contains("dest") && l.contains("delivered")),
        "{out}"
    );
    let section = |from: &str, to: Option<&str>| -> String {
        let rest = picture.split_once(from).unwrap().1;
        to.map_or(rest, |t| rest.split_once(t).unwrap().0)
            .to_owned()
    };
    let jp = section("  jp: ", Some("  kr: "));
    let kr = section("  kr: ", Some("  us: "));
    let us = section("  us: ", None);
    // KR accepts real-world only (strict policy): exercise inputs from others are not
    // delivered to KR, so they never enter KR's picture at all; the one exercise event
    // KR's picture does hold (from KR's own exercise input) is withheld from it, counted,
    // not shown. JP's second track, released to JP and the US only, is not in KR's
    // picture but is in theirs.
    assert!(
        kr.starts_with("1 event(s); views withheld by the policy: 1 mode_not_accepted:exercise"),
        "{kr}"
    );
    assert!(!kr.contains("exercise "), "{kr}");
    assert!(!kr.contains("jp-2"), "{kr}");
    assert!(
        jp.contains("jp jp-2") && us.contains("jp jp-2"),
        "{picture}"
    );
    assert!(jp.starts_with("4 event(s)"), "{jp}");

    let (code, out, _) = run_test("broker-config/policies/strict-trilateral.toml", None, true);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kr = &v["picture"]["kr"];
    assert_eq!(kr["events"].as_array().unwrap().len(), 1, "{kr}");
    assert_eq!(kr["withheld"]["mode_not_accepted:exercise"], 1, "{kr}");
    assert_eq!(kr["events"][0]["contributors"][0], "jp:jp-1", "{kr}");
    assert_eq!(v["picture"]["us"]["events"].as_array().unwrap().len(), 4);
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run_test("broker-config/policies/does-not-exist.toml", None, false);
    assert_eq!(code, EXIT_USAGE, "{err}");
    let (code, _, err) = run_test(
        "broker-config/policies/strict-trilateral.toml",
        Some(repo("broker-config/policies/samples/missing.expect.toml")),
        false,
    );
    assert_eq!(code, EXIT_USAGE, "{err}");
}
