//! Ctrl-C always stops `trilink replay` (issue 18 item 7): the binary is started against a
//! link where it cannot make progress — a NATS server that never answers, an MQTT broker that
//! stopped (SIGSTOP) mid-replay, a TCP peer that stopped reading, a long paced capture — then
//! sent SIGINT; it must exit within a few seconds with a summary saying it was interrupted and
//! exit code 130 (README, "Exit codes"). Every process is stopped by PID.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::io::Read;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use trilink_brokers::testing::{create_streams, start_mosquitto, start_nats};

fn sample(name: &str, file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../adapters/tools/scenario/samples")
        .join(name)
        .join(file)
        .display()
        .to_string()
}

fn spawn_replay(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("replay")
        .args(args)
        .args(["--rt-priority", "0", "--no-progress"])
        .env_remove("TRILINK_NATS_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(pid: u32, sig: &str) {
    assert!(
        Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// Let `child` run into its stuck state for `after`, send SIGINT, and wait (at most 15 s) for
/// it to exit: (how long it took after SIGINT, exit code, stdout, stderr).
fn interrupt(mut child: Child, after: Duration) -> (Duration, Option<i32>, String, String) {
    std::thread::sleep(after);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the replay ended before it was interrupted: {}",
        {
            let mut e = String::new();
            child.stderr.take().unwrap().read_to_string(&mut e).unwrap();
            e
        }
    );
    let sent = Instant::now();
    signal(child.id(), "-INT");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if sent.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = sent.elapsed();
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = status.unwrap_or_else(|| panic!("no exit 15 s after SIGINT\n{out}\n{err}"));
    (took, status.code(), out, err)
}

/// Stopped within `bound` after SIGINT, code 130, and a summary that says so.
fn assert_interrupted(what: &str, r: &(Duration, Option<i32>, String, String), bound: Duration) {
    let (took, code, out, err) = r;
    assert!(
        *took < bound,
        "{what}: exit {took:?} after SIGINT\n{out}\n{err}"
    );
    assert_eq!(*code, Some(130), "{what}:\n{out}\n{err}");
    assert!(out.contains("interrupted"), "{what}: summary\n{out}\n{err}");
}

/// A server that accepts connections and never says anything (a NATS server that does not
/// answer, a TCP peer that never reads): the listener and its accepted connections stay open
/// until the test ends.
fn silent_server() -> (u16, std::thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let h = std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok((s, _)) = l.accept() {
                held.push(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (port, h)
}

#[test]
fn ctrl_c_stops_a_replay_connecting_to_a_nats_server_that_never_answers() {
    let (port, _server) = silent_server();
    let url = format!("nats://127.0.0.1:{port}");
    let child = spawn_replay(&[&sample("single_launch", "reports.jsonl"), "--nats", &url]);
    let r = interrupt(child, Duration::from_millis(1_500));
    assert_interrupted("silent NATS server", &r, Duration::from_secs(3));
    assert!(r.2.contains("sent 0"), "{}", r.2);
}

#[test]
fn ctrl_c_stops_a_replay_whose_tcp_peer_stopped_reading() {
    let (port, _server) = silent_server();
    let target = format!("tcp://127.0.0.1:{port}");
    // The whole salvo (the shipped sample is cut to 60 messages), flat out, again and again:
    // within a second the peer's receive buffer and ours are full and the next write blocks
    // (checked: the binary before this test stayed blocked in the write after SIGINT).
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args(["scenario", "--name", "salvo", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let capture = dir.path().join("national.pcapng");
    let child = spawn_replay(&[
        capture.to_str().unwrap(),
        "--nation",
        "us",
        "--us",
        &target,
        "--max",
        "--loop",
    ]);
    let r = interrupt(child, Duration::from_millis(2_500));
    assert_interrupted("TCP peer not reading", &r, Duration::from_secs(3));
}

#[test]
fn ctrl_c_stops_a_replay_whose_mqtt_broker_stopped_answering() {
    let broker = start_mosquitto();
    let target = format!("mqtt://127.0.0.1:{}", broker.port());
    let child = spawn_replay(&[
        &sample("salvo", "national.pcapng"),
        "--nation",
        "kr",
        "--kr",
        &target,
        "--max",
        "--loop",
    ]);
    std::thread::sleep(Duration::from_secs(1));
    // The broker freezes mid-replay: PUBACKs stop, the client's queue fills, publishes wait.
    signal(broker.pid(), "-STOP");
    let r = interrupt(child, Duration::from_secs(2));
    signal(broker.pid(), "-CONT");
    drop(broker);
    assert_interrupted("MQTT broker stopped", &r, Duration::from_secs(3));
    assert!(r.2.contains("sent "), "{}", r.2);
}

#[test]
fn ctrl_c_stops_a_long_paced_replay_with_a_summary() {
    let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rx.local_addr().unwrap().port();
    // At 1/1000 of the recorded pace the single launch takes hours.
    let child = spawn_replay(&[
        &sample("single_launch", "national.pcapng"),
        "--nation",
        "jp",
        "--jp",
        &format!("udp://127.0.0.1:{port}"),
        "--speed",
        "0.001",
        "--json",
    ]);
    let r = interrupt(child, Duration::from_millis(1_500));
    assert_interrupted("long paced replay", &r, Duration::from_secs(2));
    let v: serde_json::Value = serde_json::from_str(r.2.trim()).unwrap();
    assert_eq!(v["interrupted"], true, "{}", r.2);
    assert!(v["sent"].as_u64().unwrap() >= 1, "{}", r.2);
}

#[test]
fn ctrl_c_stops_a_replay_whose_nats_server_stopped_answering() {
    let nats = start_nats();
    let url = nats.url();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
        create_streams(&js, &[("TL_IN", "tl.in.>")]).await;
    });
    let child = spawn_replay(&[
        &sample("salvo", "reports.jsonl"),
        "--nats",
        &url,
        "--max",
        "--loop",
    ]);
    std::thread::sleep(Duration::from_secs(1));
    // The server freezes mid-replay: acknowledgements stop, publishes and the window wait.
    let pid = nats.pid().unwrap();
    signal(pid, "-STOP");
    let r = interrupt(child, Duration::from_secs(2));
    signal(pid, "-CONT");
    drop(nats);
    assert_interrupted("NATS server stopped", &r, Duration::from_secs(3));
}
