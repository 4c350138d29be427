//! `trilink replay` into a whole live link (`trilink demo --keep-running`: hub and leaves with
//! their real accounts and permissions, relay, adapters) reports what the link did with what
//! it sent (issue 14, issue 18 item 7) and shows it in the destination's live view (issue 16):
//!
//! - a JP capture recorded on another day, replayed with `--timestamps as-recorded`: adapter-jp
//!   dead-letters every frame as `future_timestamp`; the replay, watching `tl.dlq.jp` on the JP
//!   leaf as `viewer-jp`, names the reason and the count and exits 1;
//! - a clean replay (default retiming) with `--view-listen` as KR's viewer: no dead letter,
//!   exit 0, and `/api/picture` of the served view shows the replayed JP tracks as exercise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
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

/// The demo, stopped with SIGINT (by PID) when dropped.
struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn replay_reports_dead_letters_by_reason_and_shows_in_the_view() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args([
            "demo",
            "--scenario",
            "false_alarm",
            "--keep-running",
            "--quiet",
            "--speed",
            "40",
            "--settle-s",
            "5",
            "--refresh-s",
            "30",
            "--no-metrics",
        ])
        .current_dir(repo())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    let _demo = Demo(child);
    let mut lines: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while !lines
        .iter()
        .any(|l| l.starts_with("scenario done; link keeps running"))
    {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => {}
            Err(e) => panic!(
                "the demo did not reach keep-running ({e})\n{}",
                lines.join("\n")
            ),
        }
    }
    let find = |prefix: &str| -> String {
        lines
            .iter()
            .find(|l| l.trim_start().starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?}\n{}", lines.join("\n")))
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
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(&capture)
        .args(["--nation", "jp", "--jp", &jp_in, "--speed", "40"])
        .args([
            "--timestamps",
            "as-recorded",
            "--rt-priority",
            "0",
            "--json",
        ])
        .args(watch)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
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
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(&capture)
        .args(["--nation", "jp", "--jp", &jp_in, "--max"])
        .args(["--timestamps", "as-recorded", "--rt-priority", "0"])
        .args(watch)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("dead-lettered {sent}: future_timestamp {sent}")),
        "{text}"
    );

    // A watch the server refuses (viewer-jp may not hear KR's dead letters) stops the replay
    // before anything is sent, instead of reporting "nothing dead-lettered".
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(&capture)
        .args([
            "--nation",
            "jp",
            "--jp",
            &jp_in,
            "--max",
            "--rt-priority",
            "0",
        ])
        .args(watch)
        .args(["--dlq-site", "kr", "--dlq-user", "viewer-jp"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
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
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(&capture)
        .args(["--nation", "us", "--us", &us_in, "--max", "--json"])
        .args(["--timestamps", "as-recorded", "--rt-priority", "0"])
        .args(["--dlq-nats", &hub, "--dlq-ca-file", &ca])
        .arg("--dlq-password-file")
        .arg(&viewer_us)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let us_sent = v["sent"].as_u64().unwrap();
    assert!(us_sent >= 1, "{out}");
    assert_eq!(
        v["dead_lettered_by_reason"],
        serde_json::json!({ "future_timestamp": us_sent }),
        "{out}\n{err}"
    );
    assert_eq!(v["dead_letters_watched"]["subject"], "tl.dlq.us", "{out}");

    // The shipped sample, retimed (default): accepted, and shown in KR's view.
    let mut replay = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(repo().join("adapters/tools/scenario/samples/single_launch/national.pcapng"))
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
        let body = http_get(&addr, "/api/picture");
        let json = body.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
        if let Ok(p) = serde_json::from_str::<serde_json::Value>(json)
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

/// A dead-letter watch covers one site: a replay sending to several nations must say which.
#[test]
fn a_dead_letter_watch_over_several_nations_needs_a_site() {
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .arg(repo().join("adapters/tools/scenario/samples/single_launch/national.pcapng"))
        .args(["--jp", "udp://127.0.0.1:9", "--us", "tcp://127.0.0.1:9"])
        .args(["--dlq-nats", "nats://127.0.0.1:9"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("sends to jp, us") && err.contains("--dlq-site"),
        "{err}"
    );
}
