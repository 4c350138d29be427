//! `trilink replay` and `trilink record` against real sockets and brokers on loopback:
//! record → replay → record gives the same messages (pcapng through UDP, TCP and a real
//! mosquitto; JSON Lines through a real nats-server with JetStream), filters and `--loop`,
//! and clear errors for bad captures and missing targets. Every process is killed by PID.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

mod common;
use common::{decode_capture, exits_with, json_ok, receivers, replay, sample, succeeds, trilink};

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use trilink_brokers::testing::{
    create_streams, free_port, free_udp_port, start_mosquitto, start_nats_with,
};
use trilink_capture::{JsonlRecord, read_jsonl};
use trilink_schema::Nation;

/// A child process killed and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nats-server with JetStream and one account `TL` (user `rec`, password `secret`).
const RECORD_NATS: &str = "listen: 127.0.0.1:{{PORT}}\n\
    jetstream { store_dir: \"{{STORE}}\" }\n\
    accounts { TL { jetstream: enabled, users: [ { user: rec, password: secret } ] } }\n";

/// Start `trilink record …`, wait until it says it is recording.
fn start_record(args: &[&str]) -> (Proc, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("record")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(format!("stderr: {l}"));
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("stdout: {l}"));
        }
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let l = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("trilink record did not start");
        if l.contains("trilink record: recording") {
            break;
        }
        assert!(!l.contains("trilink record:"), "record failed: {l}");
    }
    (Proc(child), rx)
}

/// Wait for a recorder to exit by itself (after --count); returns its output lines.
fn finish_record(mut p: Proc, rx: &mpsc::Receiver<String>) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = p.0.try_wait().unwrap() {
            std::thread::sleep(Duration::from_millis(100));
            let lines: Vec<String> = rx.try_iter().collect();
            assert!(status.success(), "record exited {status:?}: {lines:?}");
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "record did not reach its --count in 30 s: {:?}",
            rx.try_iter().collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// National frames of a capture, per nation, in order (exact bytes).
fn frames(pcapng: &Path, map: &Path) -> BTreeMap<Nation, Vec<Vec<u8>>> {
    let mut out: BTreeMap<Nation, Vec<Vec<u8>>> = BTreeMap::new();
    for r in decode_capture(pcapng, map).0 {
        out.entry(r.nation).or_default().push(r.raw.to_vec());
    }
    out
}

/// The recorded pcapng opens in tshark with no expert warnings or errors (CI installs tshark).
fn tshark_reads_cleanly(file: &Path) {
    let o = Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-q", "-z", "expert,warn"])
        .output()
        .expect("tshark not installed (apt-get install tshark)");
    let out = succeeds(&o);
    assert!(
        !out.contains("Warning") && !out.contains("Error"),
        "tshark expert info on {}:\n{out}",
        file.display()
    );
}

/// Byte-for-byte comparisons replay the recorded mode and times (the default rewrites them to
/// exercise and now); the samples are real_world, so `--real-world` too.
const AS_RECORDED: [&str; 5] = [
    "--mode",
    "as-recorded",
    "--timestamps",
    "as-recorded",
    "--real-world",
];

/// `trilink replay <capture> args… --json` succeeds: its summary.
fn replay_ok(capture: &Path, args: &[&str]) -> serde_json::Value {
    json_ok(&replay(capture, &[args, &["--json"]].concat()))
}

/// [`replay_ok`] with the recorded mode and times ([`AS_RECORDED`]).
fn replay_as_recorded_ok(capture: &Path, args: &[&str]) -> serde_json::Value {
    replay_ok(capture, &[args, &AS_RECORDED].concat())
}

#[test]
fn pcapng_record_replay_record_gives_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mq = start_mosquitto();
    let mq_port = mq.port();
    let src = sample("single_launch");
    let original = frames(&src.join("national.pcapng"), &src.join("capture-map.toml"));
    let total: usize = original.values().map(Vec::len).sum();
    assert_eq!(original.len(), 3, "the sample has all three nations");

    let mut prev = src.join("national.pcapng");
    let mut prev_map = src.join("capture-map.toml");
    for pass in 1..=2 {
        let out = dir.path().join(format!("rec{pass}.pcapng"));
        let (jp, us) = (free_udp_port(), free_port());
        let topic = "kr/warning/out";
        let kr = format!("mqtt://127.0.0.1:{mq_port}/{topic}");
        let (rec, rx) = start_record(&[
            "--out",
            out.to_str().unwrap(),
            "--jp-udp",
            &jp.to_string(),
            "--us-tcp",
            &format!("127.0.0.1:{us}"),
            "--kr-mqtt",
            &kr,
            "--count",
            &total.to_string(),
            "--duration",
            "40",
        ]);
        let summary = replay_as_recorded_ok(
            &prev,
            &[
                "--map",
                prev_map.to_str().unwrap(),
                "--jp",
                &format!("udp://127.0.0.1:{jp}"),
                "--us",
                &format!("tcp://127.0.0.1:{us}"),
                "--kr",
                &kr,
                "--speed",
                "20",
            ],
        );
        assert_eq!(summary["sent"], total as u64, "{summary}");
        assert_eq!(summary["failed"], 0, "{summary}");
        // Paced: the clock thread asked for SCHED_FIFO 10 (granted, or refused with a reason).
        let sched = summary["clock_scheduling"].as_str().unwrap_or_default();
        assert!(
            sched == "SCHED_FIFO 10" || sched.starts_with("normal (SCHED_FIFO 10 refused: "),
            "{summary}"
        );
        let lines = finish_record(rec, &rx);
        assert!(
            lines
                .iter()
                .any(|l| l.contains(&format!("recorded {total} messages"))),
            "{lines:?}"
        );
        let map = dir.path().join(format!("rec{pass}.map.toml"));
        tshark_reads_cleanly(&out);
        let got = frames(&out, &map);
        assert_eq!(got, original, "pass {pass}: recorded frames differ");
        prev = out;
        prev_map = map;
    }
}

#[test]
fn jsonl_record_replay_record_through_nats_gives_the_same_messages() {
    let dir = tempfile::tempdir().unwrap();
    let nats = start_nats_with(RECORD_NATS);
    let url = nats.url();
    // The stream JetStream publishes need (what the hub's IN_* streams are in the real link).
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let c = async_nats::ConnectOptions::with_user_and_password("rec".into(), "secret".into())
            .connect(&url)
            .await
            .unwrap();
        create_streams(&async_nats::jetstream::new(c), &[("TL", "tl.>")]).await;
    });
    let src = sample("salvo").join("reports.jsonl");
    let original = read_jsonl("reports", &std::fs::read(&src).unwrap()).unwrap();
    let n = original.len();
    let strip = |v: &[JsonlRecord]| -> Vec<(String, trilink_schema::Envelope)> {
        v.iter()
            .map(|r| (r.subject.clone(), r.envelope.clone()))
            .collect()
    };
    let mut prev = src;
    let mut recorded = Vec::new();
    for pass in 1..=2 {
        let out = dir.path().join(format!("rec{pass}.jsonl"));
        let (rec, rx) = start_record(&[
            "--out",
            out.to_str().unwrap(),
            "--nats",
            &url,
            "--user",
            "rec",
            "--password",
            "secret",
            "--subject",
            "tl.in.>",
            "--count",
            &n.to_string(),
            "--duration",
            "40",
        ]);
        let speed = if pass == 1 { "--max" } else { "--speed=50" };
        let summary = replay_as_recorded_ok(
            &prev,
            &[
                "--nats",
                &url,
                "--user",
                "rec",
                "--password",
                "secret",
                speed,
            ],
        );
        assert_eq!(summary["sent"], n as u64, "{summary}");
        assert_eq!(summary["failed"], 0, "{summary}");
        // The pace as a value, not as prose: a number, or "max".
        let want = if pass == 1 {
            serde_json::json!("max")
        } else {
            serde_json::json!(50.0)
        };
        assert_eq!(summary["speed"], want, "{summary}");
        finish_record(rec, &rx);
        let got = read_jsonl("rec", &std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(strip(&got), strip(&original), "pass {pass}");
        // Receive timestamps are the recorder's clock, not the capture's.
        assert!(got.iter().zip(&original).all(|(g, o)| g.ts > o.ts));
        recorded.push(got);
        prev = out;
    }
}

#[test]
fn filters_and_loop_send_exactly_the_selected_frames() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let port = sock.local_addr().unwrap().port();
    let src = sample("exercise_mixed");
    let jp_frames = frames(&src.join("national.pcapng"), &src.join("capture-map.toml"))
        .remove(&Nation::Jp)
        .unwrap();
    let summary = replay_as_recorded_ok(
        &src.join("national.pcapng"),
        &[
            "--jp",
            &format!("udp://127.0.0.1:{port}"),
            "--nation",
            "jp",
            "--loop",
            "2",
            "--max",
        ],
    );
    assert_eq!(summary["passes"], 2, "{summary}");
    assert_eq!(summary["sent"], 2 * jp_frames.len() as u64, "{summary}");
    // Flat out never takes real-time priority (the clock thread never sleeps).
    assert_eq!(summary["clock_scheduling"], "normal", "{summary}");
    let mut got = Vec::new();
    let mut buf = vec![0_u8; 65_536];
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    let expected: Vec<_> = jp_frames.iter().chain(&jp_frames).cloned().collect();
    assert_eq!(got, expected);

    // Kind and time-window filters: JP track updates from 30 s to 45 s after the first message.
    let reports = read_jsonl(
        "reports",
        &std::fs::read(src.join("reports.jsonl")).unwrap(),
    )
    .unwrap();
    let t0 = reports[0].ts;
    let expected = reports
        .iter()
        .filter(|r| {
            let dt = r.ts - t0;
            r.envelope.origin == Nation::Jp
                && r.envelope.payload.kind() == trilink_schema::PayloadKind::TrackUpdate
                && dt >= chrono::Duration::seconds(30)
                && dt < chrono::Duration::seconds(45)
        })
        .count() as u64;
    assert!(expected > 0);
    let summary = replay_ok(
        &src.join("national.pcapng"),
        &[
            "--jp",
            &format!("udp://127.0.0.1:{port}"),
            "--kind",
            "track_update",
            "--from",
            "30",
            "--until",
            "45s",
            "--nation",
            "jp",
            "--speed",
            "1000",
            "--rt-priority",
            "0",
        ],
    );
    assert_eq!(summary["clock_scheduling"], "normal", "{summary}");
    let sent = summary["sent"].as_u64().unwrap();
    assert_eq!(sent, expected, "{summary}");
    let mut n = 0;
    while sock.recv(&mut buf).is_ok() {
        n += 1;
    }
    assert_eq!(n, sent);
}

#[test]
fn bad_captures_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let full = std::fs::read(sample("false_alarm").join("national.pcapng")).unwrap();
    let cut = dir.path().join("cut.pcapng");
    std::fs::write(&cut, &full[..full.len() - 7]).unwrap();
    std::fs::copy(
        sample("false_alarm").join("capture-map.toml"),
        dir.path().join("capture-map.toml"),
    )
    .unwrap();
    let o = replay(&cut, &["--jp", "udp://127.0.0.1:9"]);
    let err = exits_with(&o, 1);
    assert!(err.contains(cut.to_str().unwrap()), "{err}");
    assert!(err.contains("at byte offset"), "{err}");
    assert!(err.contains("truncated"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");

    let foreign = dir.path().join("foreign.bin");
    std::fs::write(&foreign, b"GIF89a\x01\x00").unwrap();
    let o = replay(&foreign, &["--jp", "udp://127.0.0.1:9"]);
    let err = exits_with(&o, 1);
    assert!(err.contains("not a pcap, pcapng or JSON Lines"), "{err}");

    // Usage errors exit 2: no target, a JSONL capture without --nats, a bad target URL.
    let pcap = sample("false_alarm").join("national.pcapng");
    for args in [
        vec!["replay", pcap.to_str().unwrap()],
        vec![
            "replay",
            sample("false_alarm")
                .join("reports.jsonl")
                .to_str()
                .unwrap()
                .to_owned()
                .leak(),
        ],
        vec!["replay", pcap.to_str().unwrap(), "--jp", "udp:/x"],
        vec![
            "replay",
            pcap.to_str().unwrap(),
            "--jp",
            "udp://127.0.0.1:9",
            "--speed",
            "0",
        ],
        vec![
            "replay",
            pcap.to_str().unwrap(),
            "--jp",
            "udp://127.0.0.1:9",
            "--rt-priority",
            "100",
        ],
        vec!["record", "--out", "x.jsonl"],
        vec!["record", "--out", "x.jsonl", "--subject", "tl.>"],
    ] {
        let o = trilink(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!o.stderr.is_empty(), "{args:?}");
    }

    // Ground truth is not replayable onto NATS (subject "truth"): rejected, exit 1, named.
    let truth = dir.path().join("truth.jsonl");
    let o = trilink(&[
        "scenario",
        "--name",
        "false_alarm",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = std::fs::read_to_string(dir.path().join("reports.jsonl")).unwrap();
    let first = text
        .lines()
        .next()
        .unwrap()
        .replace("\"tl.in.jp.launch_detection\"", "\"truth\"");
    std::fs::write(&truth, format!("{first}\n")).unwrap();
    let o = replay(&truth, &["--nats", "nats://127.0.0.1:9"]);
    let err = exits_with(&o, 1);
    assert!(err.contains("line 1"), "{err}");
    assert!(err.contains("not a trilink subject"), "{err}");
}

/// A capture written by tshark itself (real loopback traffic, Ethernet link type, legacy pcap)
/// replays correctly: every JP datagram and the whole US TCP stream arrive byte for byte, in
/// order. The frames sent when the capture was made are in `frames-*.hex` beside it.
#[test]
fn tshark_written_capture_replays_byte_for_byte() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../capture/tests/data");
    let dir = tempfile::tempdir().unwrap();
    let map = dir.path().join("foreign.map.toml");
    std::fs::write(
        &map,
        "[[entries]]\nnation = \"jp\"\ntransport = \"udp\"\nport = 15500\nframing = \"datagram\"\n\n\
         [[entries]]\nnation = \"kr\"\ntransport = \"tcp\"\nport = 18830\nframing = \"mqtt\"\n\n\
         [[entries]]\nnation = \"us\"\ntransport = \"tcp\"\nport = 15601\nframing = \"stream\"\n",
    )
    .unwrap();
    let frames = |n: &str| -> Vec<Vec<u8>> {
        std::fs::read_to_string(data.join(format!("frames-{n}.hex")))
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                (0..l.trim().len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&l.trim()[i..i + 2], 16).unwrap())
                    .collect()
            })
            .collect()
    };
    let (jp_want, us_want) = (frames("jp"), frames("us").concat());

    let rx = receivers(Duration::from_secs(10));
    rx.jp
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Byte for byte: recorded mode and times.
    let args = [
        "--max",
        "--no-progress",
        "--nation",
        "jp",
        "--nation",
        "us",
        "--map",
        map.to_str().unwrap(),
        "--jp",
        &format!("udp://127.0.0.1:{}", rx.jp_port),
        "--us",
        &format!("tcp://127.0.0.1:{}", rx.us_port),
    ];
    succeeds(&replay(
        &data.join("foreign-lo.pcap"),
        &[&args[..], &AS_RECORDED].concat(),
    ));
    let mut jp_got = Vec::new();
    let mut buf = vec![0u8; 65_536];
    while jp_got.len() < jp_want.len() {
        let n = rx.jp.recv(&mut buf).expect("JP datagram");
        jp_got.push(buf[..n].to_vec());
    }
    assert_eq!(jp_got, jp_want, "JP datagrams");
    assert_eq!(rx.us.join().unwrap(), us_want, "US TCP stream");
}
