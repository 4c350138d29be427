//! Issue 3 "done when": an independent decoder written only from `schemas/national/*.md`
//! agrees with trilink on every committed vector.
//!
//! The independent decoders are Python 3 standard-library programs in
//! `schemas/national/independent/` (written from the specs, never from `adapters/`). This
//! test runs their checker from the repository root and requires exit status 0. A missing
//! `python3` is a failure, not a skip: Python is on every CI machine.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[test]
fn independent_decoders_agree_with_every_vector() {
    let repo_root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("schemas/ has a parent directory")
        .to_path_buf();
    let script = repo_root.join("schemas/national/independent/check.py");
    assert!(script.is_file(), "missing {}", script.display());

    let started = Instant::now();
    let output = Command::new("python3")
        .arg(&script)
        .current_dir(&repo_root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|err| {
            panic!("could not run python3 (it is required on every CI machine): {err}")
        });
    let elapsed = started.elapsed();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "check.py failed ({}) after {elapsed:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    // The checker must actually have looked at vectors of every nation.
    for nation in ["jp", "kr", "us"] {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(&format!("{nation}: "))
                    && line.ends_with("vectors agree")),
            "no summary line for {nation} in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("RESULT: all vectors agree"),
        "no success line in:\n{stdout}"
    );
    assert!(
        elapsed < Duration::from_secs(120),
        "check.py took {elapsed:?}"
    );
}
