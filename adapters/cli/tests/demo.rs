//! The demo end to end, as a user runs it: real brokers, relay, adapters and stand-ins.
//! Checks that the summary's numbers are exactly what the national stand-ins printed, that
//! every nation received what the policy releases to it, and that no process is left behind.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::collections::BTreeMap;
use std::process::Command;

fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmd.contains(needle) {
            found.push(format!("{}: {cmd}", entry.file_name().to_string_lossy()));
        }
    }
    found
}

#[test]
fn demo_summary_matches_what_the_stand_ins_printed() {
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args([
            "demo",
            "--scenario",
            "single_launch",
            "--speed",
            "40",
            "--settle-s",
            "30",
            "--refresh-s",
            "5",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "demo failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        o.status.code()
    );
    assert!(
        stdout.contains("SUMMARY (every nation received what the policy releases to it)"),
        "{stdout}"
    );

    // Every delivery decoded to the fields that were sent, within the formats' precision,
    // in every direction (JP, KR and US each send and each receive the other two).
    assert!(
        stdout.contains("fields checked against what was sent: 0 mismatches"),
        "{stdout}"
    );
    // Each nation received every track's launch detection before that track's updates.
    assert!(
        stdout.contains("causal order per track (launch detection first): 0 violations"),
        "{stdout}"
    );

    // What the stand-ins printed, per destination.
    let mut printed: BTreeMap<String, u64> = BTreeMap::new();
    for line in stdout.lines().filter(|l| l.starts_with("RECV ")) {
        let dest = line.split_whitespace().nth(1).unwrap().to_owned();
        *printed.entry(dest).or_default() += 1;
    }
    let summary = trilink_local_link::demo::view::parse_summary_received(&stdout);
    assert_eq!(summary.len(), 3, "summary rows: {summary:?}\n{stdout}");
    for (nation, received) in &summary {
        assert_eq!(
            printed.get(nation).copied().unwrap_or(0),
            *received,
            "{nation}: printed RECV lines vs summary"
        );
    }
    // Received = expected less the track updates a newer update replaced before delivery:
    // nothing missing, nothing delivered twice.
    let expected = trilink_local_link::demo::view::parse_summary_expected(&stdout);
    let superseded = trilink_local_link::demo::view::parse_superseded(&stdout);
    assert_eq!(
        superseded.len(),
        3,
        "superseded line: {superseded:?}\n{stdout}"
    );
    for (nation, received) in &summary {
        assert_eq!(
            received + superseded[nation],
            expected[nation],
            "{nation}: received + superseded vs expected"
        );
    }
    // Everyone saw the launch: each nation receives the other two nations' reports.
    for n in ["JP", "KR", "US"] {
        assert!(summary[n] > 0, "{n} received nothing");
    }

    // No process of this run is left behind.
    let work = stdout
        .lines()
        .find_map(|l| l.strip_prefix("work dir: "))
        .expect("work dir line")
        .trim()
        .to_owned();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let left = processes_mentioning(&work);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}
