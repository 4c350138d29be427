//! `trilink policy test --live` agrees with the offline prediction on every bundled capture,
//! through real brokers and the real relay.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::repo;

use std::path::PathBuf;
use std::process::Command;

fn captures() -> Vec<PathBuf> {
    let mut v = vec![repo().join("broker-config/policies/samples/capture.jsonl")];
    if let Ok(dir) = std::fs::read_dir(repo().join("adapters/tools/scenario/samples")) {
        for e in dir.flatten() {
            let p = e.path().join("reports.jsonl");
            if p.is_file() {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

#[test]
fn live_agrees_with_offline_for_every_bundled_capture_and_policy() {
    for policy in ["default-trilateral", "strict-trilateral"] {
        let policy = repo().join(format!("broker-config/policies/{policy}.toml"));
        for capture in captures() {
            let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
                .args(["policy", "test", "--live", "--settle-s", "60", "--policy"])
                .arg(&policy)
                .arg("--capture")
                .arg(&capture)
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&o.stdout);
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{} with {}:\n{out}\n{err}",
                capture.display(),
                policy.display()
            );
            assert!(out.contains("identical to the offline prediction"), "{out}");
        }
    }
}
