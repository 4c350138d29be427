//! Helpers shared by the CLI's tests (each test binary uses a part of them).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// Run the `trilink` binary with `args` and no `TRILINK*` variable of the test's own
/// environment (no override leaks into what is checked); its output.
pub fn trilink(args: &[&str]) -> Output {
    trilink_env(args, &[])
}

/// [`trilink`] with the environment variables `env` set.
pub fn trilink_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trilink"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("TRILINK") && !env.iter().any(|(e, _)| *e == k) {
            c.env_remove(k);
        }
    }
    c.output().unwrap()
}

/// Whether `promtool` is on PATH to evaluate `what`. Where CI requires it
/// (`TRILINK_REQUIRE_PROMTOOL`, set by `.ci/test.sh`) a missing promtool fails the test instead
/// of skipping the evaluation.
pub fn promtool_present(what: &str) -> bool {
    if let Ok(out) = Command::new("promtool").arg("--version").output() {
        assert!(out.status.success(), "promtool --version failed");
        return true;
    }
    assert!(
        std::env::var_os("TRILINK_REQUIRE_PROMTOOL").is_none(),
        "promtool is required (TRILINK_REQUIRE_PROMTOOL) but not on PATH"
    );
    eprintln!("promtool not on PATH: {what} was not evaluated");
    false
}

/// Run `promtool test rules` on `test` (a rule unit-test file) and assert that it passes.
pub fn promtool_test_rules(test: &Path) {
    let o = Command::new("promtool")
        .args(["test", "rules"])
        .arg(test)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "promtool:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Assert that `o` exited with `code`; its standard error.
pub fn exits_with(o: &Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(code), "{err}");
    err
}

/// Assert that `o` succeeded; its standard output as JSON.
pub fn json_ok(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_str(out.trim()).unwrap()
}
