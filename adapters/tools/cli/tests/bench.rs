//! `trilink bench` measures something on every path: the raw-NATS baseline and the trilink
//! path, with the relay's common picture off and then on, each deliver every message offered
//! at a low rate (a correctness check of the benchmark itself — figures are for BENCHMARKS.md,
//! never asserted here), and the picture switch reaches the relay: the hub's common-picture
//! reports reach KR in the picture-on phase only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::process::Command;

#[test]
fn both_paths_deliver_everything_offered_at_a_low_rate() {
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .args([
            "bench",
            "--rate",
            "100",
            "--duration-s",
            "2",
            "--drain-s",
            "10",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "bench failed:\n{out}\n{err}");
    for path in ["raw-nats", "trilink/pic-off", "trilink/pic-on"] {
        // Table cells, between `│` / `┆` borders.
        let cells = |l: &str| -> Vec<String> {
            l.split(['│', '┆'])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let row: Vec<String> = out
            .lines()
            .map(cells)
            .find(|c| {
                c.first().is_some_and(|p| p == path)
                    && c.get(1).is_some_and(|n| n.parse::<u64>().is_ok())
            })
            .unwrap_or_else(|| panic!("no {path} row in:\n{out}"));
        // path sent recv dup ...
        let (sent, recv, dup) = (&row[1], &row[2], &row[3]);
        // About 200 (100/s for 2 s); a loaded machine may send a few fewer in the time.
        let n: u64 = sent.parse().unwrap();
        assert!(n >= 100, "{path} sent only {n} of ~200:\n{out}");
        assert_eq!(recv, sent, "{path} lost messages:\n{out}\n{err}");
        assert_eq!(dup, "0", "{path} duplicated messages:\n{out}");
    }
    // "common-picture reports at KR (not benchmark messages): trilink/pic-off 0, trilink/pic-on N"
    let line = out
        .lines()
        .find(|l| l.starts_with("common-picture reports at KR"))
        .unwrap_or_else(|| panic!("no picture report count in:\n{out}"));
    let count = |phase: &str| -> u64 {
        line.split(", ")
            .find_map(|p| p.rsplit_once(&format!("{phase} ")).map(|(_, n)| n))
            .unwrap_or_else(|| panic!("{phase} in {line}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(
        count("trilink/pic-off"),
        0,
        "picture off, yet picture reports: {line}"
    );
    assert!(
        count("trilink/pic-on") > 0,
        "picture on, no picture report: {line}\n{out}"
    );
    assert!(out.contains("picture on / off: p50 latency ratio"), "{out}");
}
