//! Replay and record of JSON Lines against a real server: the password from a file; a wrong
//! one fails fast with the server's reason; publishes that fail say why in the summary.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::trilink;

use std::time::{Duration, Instant};

use trilink_brokers::testing::start_nats_with;

const NATS: &str = "listen: 127.0.0.1:{{PORT}}\n\
    jetstream { store_dir: \"{{STORE}}\" }\n\
    accounts { TL { jetstream: enabled, users: [ { user: ops, password: secret } ] } }\n";

#[test]
fn wrong_password_fails_fast_and_failed_publishes_say_why() {
    let nats = start_nats_with(NATS);
    let url = nats.url();
    let capture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../adapters/tools/scenario/samples/single_launch/reports.jsonl");
    let capture = capture.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad");
    std::fs::write(&bad, "wrong\n").unwrap();
    let good = dir.path().join("good");
    std::fs::write(&good, "secret\n").unwrap();

    for args in [
        vec!["replay", capture, "--max", "--nats", &url, "--user", "ops"],
        vec![
            "record",
            "--subject",
            "tl.>",
            "--out",
            "/dev/null",
            "--nats",
            &url,
            "--user",
            "ops",
        ],
    ] {
        let mut a = args.clone();
        a.extend(["--password-file", bad.to_str().unwrap()]);
        let started = Instant::now();
        let o = trilink(&a);
        let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
        assert_eq!(o.status.code(), Some(1), "{a:?}: {err}");
        assert!(err.contains("authorization"), "{a:?}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{a:?}: {:?}",
            started.elapsed()
        );
    }

    // Authenticated, but no stream holds tl.in.*: every publish fails, and the summary says why.
    let o = trilink(&[
        "replay",
        capture,
        "--max",
        "--nats",
        &url,
        "--user",
        "ops",
        "--password-file",
        good.to_str().unwrap(),
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let reason = out
        .lines()
        .find_map(|l| l.strip_prefix("first failure: "))
        .unwrap_or_else(|| panic!("no failure reason:\n{out}"));
    assert!(
        reason.contains("JetStream did not store it")
            || reason.contains("no JetStream acknowledgement"),
        "{reason}"
    );
}
