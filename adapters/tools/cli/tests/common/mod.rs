//! Helpers shared by the CLI's tests.

use std::path::Path;
use std::process::Command;

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
