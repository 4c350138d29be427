//! `trilink demo --keep-running` as an operator uses it from a second terminal: the access
//! block names every server, user, national port and the metrics URL; the replay and record
//! commands it prints work exactly as printed (a replay that watches adapter-jp's dead letters
//! and serves KR's view among them); `/metrics` shows the relay and the adapters;
//! Ctrl-C (SIGINT) stops everything.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::{exits_with, json_with, replay, repo};

use std::io::{BufRead, BufReader, Read};

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use trilink_brokers::testing::http_get_url;

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
    // The demo's logs (every dead letter is a warning line) are read as they come: an unread
    // pipe fills up and then blocks the demo's processes mid-run.
    let mut demo_stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = demo_stderr.read_to_string(&mut text);
        text
    });
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
    // JP's part with the dead-letter watch (viewer-jp's password file) and KR's view.
    let watched = find(
        "trilink replay adapters/tools/scenario/samples/single_launch/national.pcapng --nation jp",
    );
    assert!(
        watched.contains("--dlq-nats nats://127.0.0.1:"),
        "{watched}"
    );
    let o = run_printed(&watched);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{watched}\n{out}\n{err}");
    assert!(
        out.contains("dead-lettered 0: nothing this replay sent was rejected at jp"),
        "{out}"
    );
    assert!(err.contains("view (kr viewer): http://127.0.0.1:"), "{err}");
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

    replay_watches_dead_letters_and_serves_the_view(&block);

    // Metrics of the relay and of each adapter, with the replayed traffic counted.
    let (code, body) = http_get_url(&metrics_url);
    assert_eq!(code, 200, "{body}");
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
    let (code, health) = http_get_url(&metrics_url.replace("/metrics", "/healthz"));
    assert_eq!(code, 200, "{health}");

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
    let stderr = stderr_reader.join().unwrap();
    assert!(
        lines.iter().any(|l| l == "all processes stopped"),
        "{status:?}\n{}\n{stderr}",
        lines.join("\n")
    );
    // The summary's dead-letter column counts what the replays above had dead-lettered at JP
    // and US (it once asked with the relay's users, which may not read stream info, and showed
    // 0 after waiting out three request timeouts).
    let dlq = trilink_local_link::demo::view::parse_summary_dead_letters(&lines.join("\n"));
    for nation in ["JP", "US"] {
        assert!(
            dlq.get(nation).copied().unwrap_or(0) > 0,
            "{nation}: dead letters {dlq:?}\n{}",
            lines.join("\n")
        );
    }
}

/// Lines of a child's pipe, on a channel.
fn lines_of(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    rx
}

/// `trilink replay` into the demo's link reports what the link did with what it sent (issue
/// 14, issue 18 item 7) and shows it in the destination's live view (issue 16):
///
/// - a JP capture recorded on another day, replayed with `--timestamps as-recorded`: adapter-jp
///   dead-letters every frame as `future_timestamp`; the replay, watching `tl.dlq.jp` on the JP
///   leaf as `viewer-jp`, names the reason and the count and exits 1 (also as text); the same
///   for the US through the TLS-only hub as `viewer-us`;
/// - a watch the server refuses (viewer-jp asking for KR's dead letters) stops the replay
///   before anything is sent;
/// - a clean replay (default retiming) with `--view-listen` as KR's viewer: no dead letter,
///   exit 0, and `/api/picture` of the served view shows the replayed JP tracks as exercise;
///   Ctrl-C ends the view's hold without changing the exit code.
fn replay_watches_dead_letters_and_serves_the_view(block: &[&str]) {
    let find = |prefix: &str| -> String {
        block
            .iter()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", block.join("\n")))
            .trim()
            .to_owned()
    };
    let url_of = |l: String| -> String {
        l.split_whitespace()
            .find(|w| w.starts_with("nats://"))
            .unwrap()
            .trim_end_matches(',')
            .split(',')
            .next()
            .unwrap()
            .to_owned()
    };
    let jp_leaf = url_of(find("JP leaf (domain jp)"));
    let kr_leaf = url_of(find("KR leaf (domain kr)"));
    let password = |user: &str| -> String {
        find(&format!("{user} "))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let viewer_jp = dir.path().join("viewer-jp");
    std::fs::write(&viewer_jp, password("viewer-jp") + "\n").unwrap();
    let viewer_kr = dir.path().join("viewer-kr");
    std::fs::write(&viewer_kr, password("viewer-kr") + "\n").unwrap();
    let jp_in = find("JP  in  udp://127.0.0.1:")
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    let watch = [
        "--dlq-nats",
        jp_leaf.as_str(),
        "--dlq-password-file",
        viewer_jp.to_str().unwrap(),
    ];

    // A capture recorded on another day (an hour from now, JST time of day): as recorded,
    // every JP frame lies an hour in the future.
    let start = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let other_day = dir.path().join("other-day");
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args(["scenario", "--name", "single_launch", "--start", &start])
        .arg("--out")
        .arg(&other_day)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let capture = other_day.join("national.pcapng");
    let as_recorded = ["--timestamps", "as-recorded", "--rt-priority", "0"];
    let jp_args = ["--nation", "jp", "--jp", &jp_in];
    let o = replay(
        &capture,
        &[
            &jp_args[..],
            &["--speed", "40"],
            &as_recorded,
            &["--json"],
            &watch,
        ]
        .concat(),
    );
    let (v, out, err) = json_with(&o, 1);
    let sent = v["sent"].as_u64().unwrap();
    assert!(sent >= 5, "{out}");
    assert_eq!(v["dead_lettered"], sent, "{out}\n{err}");
    assert_eq!(
        v["dead_lettered_by_reason"],
        serde_json::json!({ "future_timestamp": sent }),
        "{out}"
    );
    assert!(
        err.contains(&format!("{sent} of what was sent was dead-lettered")),
        "{err}"
    );
    // The same as text.
    let o = replay(
        &capture,
        &[&jp_args[..], &["--max"], &as_recorded, &watch].concat(),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("dead-lettered {sent}: future_timestamp {sent}")),
        "{text}"
    );

    // A watch the server refuses (viewer-jp may not hear KR's dead letters) stops the replay
    // before anything is sent, instead of reporting "nothing dead-lettered".
    let o = replay(
        &capture,
        &[
            &jp_args[..],
            &["--max", "--rt-priority", "0"],
            &watch,
            &["--dlq-site", "kr", "--dlq-user", "viewer-jp"],
        ]
        .concat(),
    );
    let err = exits_with(&o, 1);
    assert!(err.contains("Permissions Violation"), "{err}");
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // The US site is the hub (TLS-only): the same through --dlq-ca-file as viewer-us.
    let hub_line = find("hub (US node");
    let hub = url_of(hub_line.clone());
    let ca = hub_line.rsplit_once("CA ").unwrap().1.trim().to_owned();
    let viewer_us = dir.path().join("viewer-us");
    std::fs::write(&viewer_us, password("viewer-us") + "\n").unwrap();
    let us_in = find("US  in  tcp://127.0.0.1:")
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();
    let o = replay(
        &capture,
        &[
            &["--nation", "us", "--us", &us_in, "--max", "--json"],
            &as_recorded[..],
            &["--dlq-nats", &hub, "--dlq-ca-file", &ca],
            &["--dlq-password-file", viewer_us.to_str().unwrap()],
        ]
        .concat(),
    );
    let (v, out, err) = json_with(&o, 1);
    let us_sent = v["sent"].as_u64().unwrap();
    assert!(us_sent >= 1, "{out}");
    assert_eq!(
        v["dead_lettered_by_reason"],
        serde_json::json!({ "future_timestamp": us_sent }),
        "{out}\n{err}"
    );
    assert_eq!(v["dead_letters_watched"]["subject"], "tl.dlq.us", "{out}");

    // A shipped sample the demo has not played (the demo played single_launch: its frames
    // would be duplicates the link drops), retimed (default): accepted, and shown in KR's view.
    let mut replay = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(repo().join("adapters/tools/scenario/samples/salvo/national.pcapng"))
        .args(["--nation", "jp", "--jp", &jp_in, "--speed", "40"])
        .args(["--rt-priority", "0", "--no-progress"])
        .args(watch)
        .args(["--view-listen", "127.0.0.1:0", "--view-nats", &kr_leaf])
        .args(["--view-user", "viewer-kr", "--view-password-file"])
        .arg(&viewer_kr)
        .args(["--view-hold-s", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = replay.id();
    let out_rx = lines_of(replay.stdout.take().unwrap());
    let err_rx = lines_of(replay.stderr.take().unwrap());
    let mut err_lines = Vec::new();
    let mut out_lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut view_addr = None;
    // The view's URL, then the summary (printed before the view's hold).
    while view_addr.is_none() || !err_lines.iter().any(|l: &String| l.contains("view kept")) {
        assert!(
            Instant::now() < deadline,
            "{}\n{}",
            out_lines.join("\n"),
            err_lines.join("\n")
        );
        out_lines.extend(out_rx.try_iter());
        for l in err_rx.try_iter() {
            if let Some(url) = l.split_once("view (kr viewer): http://").map(|x| x.1) {
                view_addr = Some(url.trim_end_matches('/').to_owned());
            }
            err_lines.push(l);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    out_lines.extend(out_rx.try_iter());
    let summary = out_lines.join("\n");
    assert!(
        summary.contains("dead-lettered 0: nothing this replay sent was rejected at jp"),
        "{summary}"
    );
    let addr = view_addr.unwrap();
    // What the relay released to KR of the replay reaches the view.
    let until = Instant::now() + Duration::from_secs(30);
    let picture = loop {
        let (_, body) = http_get_url(&format!("http://{addr}/api/picture"));
        if let Ok(p) = serde_json::from_str::<serde_json::Value>(&body)
            && p["tracks"].as_array().is_some_and(|t| {
                t.iter()
                    .any(|t| t["origin"] == "jp" && t["launch"].is_object())
            })
        {
            break p;
        }
        assert!(Instant::now() < until, "no JP track in the view: {body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(picture["viewer"], "kr");
    for t in picture["tracks"].as_array().unwrap() {
        if t["origin"] == "jp" {
            assert_eq!(t["mode"], "exercise", "{t}");
        }
    }
    // Ctrl-C ends the view's hold; the replay's own result (0) stands.
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = replay.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < until,
            "the view's hold did not end on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        status.code(),
        Some(0),
        "{summary}\n{}",
        err_lines.join("\n")
    );
}
