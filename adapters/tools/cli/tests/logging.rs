//! Logs as an operator's tools read them: `--log-json` / `TRILINK_LOG_JSON` give JSON Lines
//! (every stderr line parses) for `trilink adapter` and `trilink relay`; text logs written to a
//! file or pipe carry no ANSI escapes; fields are plain values (`"account":"all"`, never
//! `Some(…)`); the adapter's shutdown summary is a readable sentence, not a Debug dump.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use trilink_brokers::testing::{free_udp_port, start_nats};

mod common;

/// Run `trilink <args>` until a stderr line contains `ready`, then SIGTERM it; returns every
/// stderr line.
fn run_until(args: &[&str], env: &[(&str, &str)], ready: &str) -> Vec<String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trilink"));
    cmd.args(args)
        .env_remove("TRILINK_LOG_JSON")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.iter().any(|l: &String| l.contains(ready)) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => lines.push(l),
            Err(_) if Instant::now() < deadline && child.try_wait().unwrap().is_none() => {}
            Err(_) => {
                let _ = child.kill();
                panic!("never logged {ready:?}:\n{}", lines.join("\n"));
            }
        }
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    assert!(status.success(), "{status}:\n{}", lines.join("\n"));
    lines
}

fn adapter_config(dir: &Path, nats: &str) -> String {
    let p = dir.join("adapter-jp.toml");
    std::fs::write(
        &p,
        format!(
            "[adapter]\nnation = \"jp\"\nheartbeat_interval_ms = 0\n\n[nats]\nurl = \"{nats}\"\n\n[[ingress]]\ntype = \"udp\"\nbind = \"127.0.0.1:{}\"\n",
            free_udp_port()
        ),
    )
    .unwrap();
    p.display().to_string()
}

#[test]
fn adapter_logs_json_with_the_environment_variable_and_plain_text_otherwise() {
    let nats = start_nats();
    let dir = tempfile::tempdir().unwrap();
    let cfg = adapter_config(dir.path(), &nats.url());

    let lines = run_until(
        &["adapter", "--config", &cfg],
        &[("TRILINK_LOG_JSON", "true")],
        "adapter running",
    );
    let mut stopped = None;
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}\n{}", lines.join("\n")));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
        if v["message"] == "adapter stopped" {
            stopped = Some(v);
        }
    }
    let stopped = stopped.unwrap_or_else(|| panic!("no stop event:\n{}", lines.join("\n")));
    assert_eq!(stopped["published"], 0, "{stopped}");
    assert_eq!(stopped["drained"], true, "{stopped}");

    // The flag does the same.
    let lines = run_until(
        &["adapter", "--log-json", "--config", &cfg],
        &[],
        "adapter running",
    );
    assert!(
        lines
            .iter()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "{}",
        lines.join("\n")
    );

    // Text to a pipe: no colour escapes; the summary is a sentence.
    let lines = run_until(&["adapter", "--config", &cfg], &[], "adapter running");
    let all = lines.join("\n");
    assert!(
        !all.contains('\u{1b}'),
        "ANSI escapes in piped logs:\n{all}"
    );
    assert!(!all.contains("RunSummary"), "{all}");
    let summary = lines
        .iter()
        .find(|l| l.starts_with("trilink adapter jp: stopped: "))
        .unwrap_or_else(|| panic!("no summary line:\n{all}"));
    assert_eq!(
        summary,
        "trilink adapter jp: stopped: published 0, ingress dead-lettered 0, delivered 0, egress dead-lettered 0, publish failures 0, drained",
        "{all}"
    );
}

#[test]
fn relay_logs_json_with_plain_field_values() {
    let nats = start_nats();
    common::relay_streams(&nats.url());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("relay.toml");
    std::fs::write(
        &cfg,
        format!("nats_url = \"{}\"\nstatus_interval_s = 0\n", nats.url()),
    )
    .unwrap();
    let policy = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../broker-config/policies/default-trilateral.toml");
    let lines = run_until(
        &[
            "--log-json",
            "relay",
            "--config",
            cfg.to_str().unwrap(),
            "--policy",
            policy.to_str().unwrap(),
        ],
        &[],
        "relay consuming",
    );
    let consuming = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}"))
        })
        .find(|v| v["message"] == "relay consuming")
        .unwrap();
    assert_eq!(consuming["account"], "all", "{consuming}");
    let all = lines.join("\n");
    assert!(!all.contains("Some(") && !all.contains('\u{1b}'), "{all}");
}
