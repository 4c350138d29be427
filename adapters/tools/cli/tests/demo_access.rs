//! `trilink demo --keep-running` as an operator uses it from a second terminal: the access
//! block names every server, user, national port and the metrics URL; the replay and record
//! commands it prints work exactly as printed; `/metrics` shows the relay and the adapters;
//! Ctrl-C (SIGINT) stops everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// Run a printed command line (`[VAR=value ...] trilink args...`) with this build's binary.
fn run_printed(line: &str) -> std::process::Output {
    let mut words = line.split_whitespace().peekable();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trilink"));
    while let Some(w) = words.peek() {
        if let Some((k, v)) = w.split_once('=')
            && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            cmd.env(k, v);
            words.next();
        } else {
            break;
        }
    }
    assert_eq!(words.next(), Some("trilink"), "{line}");
    // The printed commands quote a subject for the shell: strip the quotes as a shell would.
    let args: Vec<String> = words.map(|w| w.trim_matches('\'').to_owned()).collect();
    cmd.args(&args)
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn keep_running_prints_how_to_reach_it_and_the_printed_commands_work() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args([
            "demo",
            "--keep-running",
            "--quiet",
            "--speed",
            "40",
            "--settle-s",
            "20",
            "--refresh-s",
            "30",
        ])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let stop_demo = |why: &str, lines: &[String]| -> ! {
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        panic!("{why}\n{}", lines.join("\n"));
    };
    while !lines
        .iter()
        .any(|l| l.starts_with("scenario done; link keeps running"))
    {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(_) => stop_demo("the demo did not reach keep-running", &lines),
        }
    }
    let text = lines.join("\n");

    // The access block: every site with its URL and users, national ports, metrics, link file.
    let block: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("=== how to reach this demo"))
        .take_while(|l| !l.starts_with("=== end ==="))
        .collect();
    let find = |prefix: &str| -> String {
        block
            .iter()
            .find(|l| l.trim_start().starts_with(prefix))
            .map_or_else(
                || stop_demo(&format!("no line starting {prefix:?}"), &lines),
                |l| l.trim().to_owned(),
            )
    };
    for site in ["hub (US node", "JP leaf (domain jp)", "KR leaf (domain kr)"] {
        let l = find(site);
        assert!(l.contains("nats://127.0.0.1:"), "{l}");
    }
    assert!(find("hub (US node").contains("TLS-only, CA "));
    for user in [
        "adapter-jp",
        "adapter-kr",
        "adapter-us",
        "viewer-jp",
        "viewer-kr",
        "viewer-us",
        "relay-jp",
        "relay-kr",
        "relay-us",
    ] {
        let l = find(&format!("{user} "));
        let password = l.split_whitespace().nth(1).unwrap_or_default();
        assert!(password.len() >= 8, "{user}: no password in {l:?}");
    }
    assert!(find("JP  in  udp://127.0.0.1:").contains("out udp 127.0.0.1:"));
    assert!(find("KR  mqtt://127.0.0.1:").contains("in topic kr/warning/out"));
    assert!(find("US  in  tcp://127.0.0.1:").contains("out tcp 127.0.0.1:"));
    let link_json = find("the same, as JSON: ");
    let link_json = link_json.trim_start_matches("the same, as JSON: ");
    let parsed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(link_json).unwrap()).unwrap();
    assert!(parsed["roles"]["adapter-jp"]["password"].is_string());
    let metrics_line = find("metrics (relay and the three adapters): ");
    let metrics_url = metrics_line
        .split_whitespace()
        .find(|w| w.ends_with("/metrics"))
        .unwrap()
        .to_owned();

    // The printed commands, exactly as printed.
    let national =
        find("trilink replay adapters/tools/scenario/samples/single_launch/national.pcapng");
    let o = run_printed(&national);
    assert!(
        o.status.success(),
        "{national}\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let jp_envelopes = find("TRILINK_NATS_PASSWORD=");
    assert!(jp_envelopes.contains("--nation jp"), "{jp_envelopes}");
    let o = run_printed(&jp_envelopes);
    assert!(
        o.status.success(),
        "{jp_envelopes}\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let record = block
        .iter()
        .find(|l| l.contains("trilink record --subject"))
        .unwrap()
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("kr.jsonl");
    let record = record.replace("--out kr.jsonl", &format!("--out {}", out.display()));
    let o = run_printed(&format!("{record} --duration 1"));
    assert!(
        o.status.success(),
        "{record}\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // Metrics of the relay and of each adapter, with the replayed traffic counted.
    let body = http_get(&metrics_url);
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    for needle in [
        "trilink_received_total{site=\"jp\"",
        "trilink_received_total{site=\"kr\"",
        "trilink_received_total{site=\"us\"",
        "trilink_delivered_total{site=\"jp\"",
        "trilink_relay_received_total",
        "trilink_relay_published_total",
    ] {
        assert!(body.contains(needle), "no {needle} in /metrics:\n{body}");
    }
    let health = http_get(&metrics_url.replace("/metrics", "/healthz"));
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    // Ctrl-C stops everything.
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let stopped = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < stopped, "demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        lines.iter().any(|l| l == "all processes stopped"),
        "{status:?}\n{}\n{stderr}",
        lines.join("\n")
    );
}
