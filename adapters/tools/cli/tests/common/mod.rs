//! Helpers shared by the CLI's tests (each test binary uses a part of them).

#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::Duration;

use trilink_capture::{CaptureDecoder, CaptureMap, CaptureReader, DecodedRecord};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

/// The relay's development streams on the server at `url` (the relay creates none itself),
/// for a test that runs `trilink relay` with a default-shaped configuration.
pub fn relay_streams(url: &str) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(trilink_brokers::testing::ensure_relay_streams(url));
}

/// The directory of a shipped scenario sample (`adapters/tools/scenario/samples/<name>`).
pub fn sample(name: &str) -> PathBuf {
    repo().join("adapters/tools/scenario/samples").join(name)
}

/// Every national frame of the capture `pcapng`, decoded with the capture map in the file
/// `map` and the three national codecs, in capture order (a frame that does not decode
/// panics, named); and how many captured messages no entry of the map covered.
pub fn decode_capture(pcapng: &Path, map: &Path) -> (Vec<DecodedRecord>, u64) {
    let name = pcapng.display().to_string();
    let map: CaptureMap = toml::from_str(&std::fs::read_to_string(map).unwrap()).unwrap();
    let bytes = std::fs::read(pcapng).unwrap();
    let mut dec = CaptureDecoder::new(map)
        .with_codec(trilink_jp::JpCodec)
        .with_codec(trilink_kr::KrCodec)
        .with_codec(trilink_us::UsCodec::default());
    let mut all = Vec::new();
    for m in CaptureReader::new(name.clone(), &bytes) {
        all.extend(dec.push(&m.unwrap()));
    }
    all.extend(dec.finish());
    let records = all
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect();
    (records, dec.unmapped())
}

/// [`decode_capture`] of a shipped sample's `national.pcapng` with its `capture-map.toml`.
pub fn decode_sample(name: &str) -> (Vec<DecodedRecord>, u64) {
    let dir = sample(name);
    decode_capture(&dir.join("national.pcapng"), &dir.join("capture-map.toml"))
}

/// National receivers on loopback for a replay: a JP UDP socket, and a US TCP listener whose
/// thread accepts one connection and reads it to its end (or until a read waits `us_timeout`).
pub struct Receivers {
    /// The JP socket (what a test reads its datagrams from).
    pub jp: UdpSocket,
    /// The JP socket's port.
    pub jp_port: u16,
    /// The US listener's port.
    pub us_port: u16,
    /// The US connection's bytes, once it ends.
    pub us: JoinHandle<Vec<u8>>,
}

/// Bind [`Receivers`] and start the US reader.
pub fn receivers(us_timeout: Duration) -> Receivers {
    use std::io::Read as _;
    let jp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let us = TcpListener::bind("127.0.0.1:0").unwrap();
    let (jp_port, us_port) = (
        jp.local_addr().unwrap().port(),
        us.local_addr().unwrap().port(),
    );
    let us = std::thread::spawn(move || {
        let (mut s, _) = us.accept().unwrap();
        s.set_read_timeout(Some(us_timeout)).unwrap();
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    });
    Receivers {
        jp,
        jp_port,
        us_port,
        us,
    }
}

/// `trilink replay <capture> args…` (see [`trilink`]); its output.
pub fn replay(capture: &Path, args: &[&str]) -> Output {
    let capture = capture.to_str().unwrap();
    let mut a = vec!["replay", capture];
    a.extend_from_slice(args);
    trilink(&a)
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

/// Assert that `o` exited with `code`; its standard output and standard error.
pub fn outputs_with(o: &Output, code: i32) -> (String, String) {
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(o.status.code(), Some(code), "{out}\n{err}");
    (out, err)
}

/// Assert that `o` succeeded; its standard output.
pub fn succeeds(o: &Output) -> String {
    outputs_with(o, 0).0
}

/// Assert that `o` exited with `code`; its standard output as JSON, and its standard output
/// and standard error as text.
pub fn json_with(o: &Output, code: i32) -> (serde_json::Value, String, String) {
    let (out, err) = outputs_with(o, code);
    (serde_json::from_str(out.trim()).unwrap(), out, err)
}

/// Assert that `o` succeeded; its standard output as JSON.
pub fn json_ok(o: &Output) -> serde_json::Value {
    json_with(o, 0).0
}
