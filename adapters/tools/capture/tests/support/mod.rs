//! Shared test helpers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a test failure
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use chrono::{DateTime, TimeZone, Utc};
use trilink_capture::{CaptureMap, Framing, Transport};
use trilink_schema::Nation;

pub fn ts(sec: i64, nanos: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(sec, nanos).single().unwrap()
}

/// The capture map of the national links on their standard ports: JP over UDP, KR over MQTT
/// (TCP), US SIMPLE over a TCP stream.
pub fn national_map() -> CaptureMap {
    CaptureMap::new()
        .with(Nation::Jp, Transport::Udp, 5500, Framing::Datagram)
        .with(Nation::Kr, Transport::Tcp, 1883, Framing::Mqtt)
        .with(Nation::Us, Transport::Tcp, 5601, Framing::Stream)
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// tshark availability: `Some(path)` or a loud skip (a failure when `TRILINK_REQUIRE_TSHARK=1`).
pub fn tshark() -> Option<&'static str> {
    let ok = Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some("tshark");
    }
    assert!(
        std::env::var("TRILINK_REQUIRE_TSHARK").as_deref() != Ok("1"),
        "tshark is required (TRILINK_REQUIRE_TSHARK=1) but not found on PATH"
    );
    eprintln!(
        "!!!!!!!! SKIPPED: tshark not found on PATH; set TRILINK_REQUIRE_TSHARK=1 to make this a failure !!!!!!!!"
    );
    None
}

/// Run tshark with `args` on `file`, return stdout; panics on a non-zero exit.
pub fn run_tshark(file: &Path, args: &[&str]) -> String {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark failed: {stderr}");
    let stderr_clean: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("Running as user \"root\""))
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert!(stderr_clean.is_empty(), "tshark stderr: {stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
