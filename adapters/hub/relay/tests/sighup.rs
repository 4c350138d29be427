//! SIGHUP reloads the policy (its own test binary: the signal goes to the whole process).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use trilink_brokers::testing::{ensure_relay_streams, start_nats, wait_until};
use trilink_relay::{RelayConfig, RelayControl};

fn sighup_self() {
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(std::process::id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_and_an_invalid_file_is_refused() {
    let server = start_nats();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../broker-config/policies");
    std::fs::copy(repo.join("default-trilateral.toml"), &policy).unwrap();
    ensure_relay_streams(&server.url()).await;
    let cfg = RelayConfig {
        nats_url: server.url(),
        ..RelayConfig::default()
    };
    let control = RelayControl::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(trilink_relay::run_with_sighup(
        cfg,
        policy.clone(),
        async {
            let _ = rx.await;
        },
        control.clone(),
    ));
    tokio::time::timeout(Duration::from_secs(10), control.ready())
        .await
        .expect("relay ready");
    assert_eq!(control.policy_name(), "default-trilateral");

    std::fs::write(&policy, "version = 1\nname = \"bad\"\nunknown_key = true\n").unwrap();
    sighup_self();
    wait_until(10, "failed reload", || {
        control.get(|s| &s.reload_failures) == 1
    })
    .await;
    assert_eq!(control.policy_name(), "default-trilateral");

    std::fs::copy(repo.join("strict-trilateral.toml"), &policy).unwrap();
    sighup_self();
    wait_until(10, "reload", || control.get(|s| &s.reloads) == 1).await;
    assert_eq!(control.policy_name(), "strict-trilateral");

    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
