//! `trilink bench` measures something on every path: the raw-NATS baseline, the raw-JetStream
//! path and the trilink path, with the relay's common picture off and then on, each deliver
//! every message offered at a low rate (a correctness check of the benchmark itself — figures
//! are for BENCHMARKS.md, never asserted here), and the picture switch reaches the relay: the
//! hub's common-picture reports reach KR in the picture-on phase only. `--find-max` with a
//! tiny bound on runs finishes and reports a maximum for each path. The raw-JetStream path's
//! store variants (`--raw-jetstream-stores`) each deliver every message once, store nothing
//! in a dropped store, and leave the link's streams as shipped (the trilink path after them
//! delivers everything).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::process::Command;

/// Table cells of a line, between `│` / `┆` borders.
fn cells(l: &str) -> Vec<String> {
    l.split(['│', '┆'])
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The table row of `path` whose second cell is a number.
fn row(out: &str, path: &str) -> Vec<String> {
    out.lines()
        .map(cells)
        .find(|c| {
            c.first().is_some_and(|p| p == path)
                && c.get(1).is_some_and(|n| n.parse::<u64>().is_ok())
        })
        .unwrap_or_else(|| panic!("no {path} row in:\n{out}"))
}

/// Every run names the nats-server it measured: `nats-server: v2.x.y (path)`.
fn assert_server_version(out: &str) {
    let line = out
        .lines()
        .find(|l| l.starts_with("nats-server: v"))
        .unwrap_or_else(|| panic!("no nats-server version line in:\n{out}"));
    let v = line.trim_start_matches("nats-server: v");
    assert!(
        v.split(['.', ' '])
            .take(3)
            .all(|p| p.parse::<u32>().is_ok()),
        "{line}"
    );
    // …and the Go GC settings its servers ran with (the launcher's unless the environment
    // sets them).
    let gc = trilink_brokers::launcher::server_gc_settings("hub-0");
    assert!(
        out.lines()
            .any(|l| l.starts_with("nats-servers' Go GC: hub ") && l.contains(&gc)),
        "no GC settings line with {gc:?} in:\n{out}"
    );
}

/// Run `trilink bench` with `args`; it must succeed and name its nats-server. Returns
/// (stdout, stderr).
fn bench(args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_trilink"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "bench {args:?} failed:\n{out}\n{err}");
    assert_server_version(&out);
    (out, err)
}

/// [`bench`] at 100 msg/s for 2 s without the raw-NATS baseline and with the picture off (the
/// raw-JetStream paths, then trilink), with `extra` arguments.
fn raw_jetstream_then_trilink(extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "--rate",
        "100",
        "--duration-s",
        "2",
        "--drain-s",
        "10",
        "--no-baseline",
        "--picture",
        "off",
    ];
    args.extend_from_slice(extra);
    bench(&args)
}

/// `path`'s row (path sent recv dup …): ~200 sent (100/s for 2 s; a loaded machine may send a
/// few fewer in the time), every one received once, and its CPU and RSS lines per process.
fn assert_delivered_once(out: &str, err: &str, path: &str) {
    let row = row(out, path);
    let (sent, recv, dup) = (&row[1], &row[2], &row[3]);
    let n: u64 = sent.parse().unwrap();
    assert!(n >= 100, "{path} sent only {n} of ~200:\n{out}");
    assert_eq!(recv, sent, "{path} lost messages:\n{out}\n{err}");
    assert_eq!(dup, "0", "{path} duplicated messages:\n{out}");
    for what in ["CPU µs per message: hub-0 ", "RSS: hub-0 "] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{path} {what}"))),
            "no {path} {what}… line:\n{out}"
        );
    }
    // The RSS line says which processes are over the 50 MB line (issue 17), or that none is.
    let rss = out
        .lines()
        .find(|l| l.starts_with(&format!("{path} RSS: ")))
        .unwrap_or_default();
    assert!(
        rss.contains(" MB; over 50 MB: ") || rss.ends_with(" MB; every process at or under 50 MB"),
        "{rss}"
    );
}

#[test]
fn every_path_delivers_everything_offered_at_a_low_rate() {
    let (out, err) = bench(&["--rate", "100", "--duration-s", "2", "--drain-s", "10"]);
    for path in [
        "raw-nats",
        "raw-jetstream",
        "trilink/pic-off",
        "trilink/pic-on",
    ] {
        assert_delivered_once(&out, &err, path);
        // path sent recv dup recv/s p50 p90 p99 max CPU
        let cpu: f64 = row(&out, path)[9].parse().unwrap();
        assert!(cpu > 0.0, "{path}: no CPU time accounted:\n{out}");
    }
    // The raw-JetStream path left nothing behind for the trilink path (durables, messages).
    assert!(!out.contains("note: raw-jetstream"), "{out}");
    assert!(
        out.contains("throughput ratio trilink/pic-off / raw-jetstream: "),
        "{out}"
    );
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

#[test]
fn every_raw_jetstream_store_variant_delivers_everything_once() {
    let (out, err) = raw_jetstream_then_trilink(&[
        "--raw-jetstream-stores",
        "3,2",
        "--raw-jetstream-pad",
        "0,600",
    ]);
    for path in [
        "raw-jetstream",
        "raw-jetstream (+600 B)",
        "raw-jetstream (2 stores)",
        "raw-jetstream (2 stores, +600 B)",
        // Runs after the variants, on the streams they switched and restored.
        "trilink/pic-off",
    ] {
        assert_delivered_once(&out, &err, path);
    }
    // Each variant says where its forwarders consume: the KR forwarder always on the hub's
    // OUT_KR (no KR leaf copy, issue 17) through the KR leaf with adapter-kr's identity and
    // durable (so the trilink path after it, which delivered everything once above, got that
    // durable back clean); the hub forwarder on the relay's own durable as the relay's JP user
    // (the hub checks its acks as the relay's; the trilink path after it got `relay` back
    // clean), or on the JP leaf's IN_JP when the hub's is dropped.
    let through_leaf = "KR forwarder: adapter-kr's durable adapter-kr on hub OUT_KR through the KR leaf (JetStream domain hub)";
    for line in [
        format!("raw-jetstream: {through_leaf}"),
        "raw-jetstream: hub forwarder: the relay's durable relay on hub IN_JP, as the relay's JP user".to_owned(),
        "raw-jetstream (+600 B): hub forwarder: the relay's durable relay on hub IN_JP".to_owned(),
        "raw-jetstream (2 stores): hub forwarder: consumer on jp IN_JP".to_owned(),
        format!("raw-jetstream (2 stores): {through_leaf}"),
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&line)),
            "no {line}…:\n{out}"
        );
    }
    // No dropped store stored anything, every configuration came back as it was, nothing was
    // left behind.
    assert!(!out.contains("note: raw-jetstream"), "{out}");
    assert!(
        out.contains("throughput ratio raw-jetstream (2 stores) / raw-jetstream: "),
        "{out}"
    );
}

/// The raw path with trilink-shaped (UUID) message ids delivers everything once, and so does
/// the trilink path after it.
#[test]
fn raw_jetstream_with_uuid_ids_delivers_everything_once() {
    let (out, err) = raw_jetstream_then_trilink(&["--raw-jetstream-ids", "uuid"]);
    for path in ["raw-jetstream (uuid ids)", "trilink/pic-off"] {
        assert_delivered_once(&out, &err, path);
    }
    // Only the variant asked for: no row of the default (hex) raw path.
    assert!(
        !out.lines()
            .map(cells)
            .any(|c| c.first().is_some_and(|p| p == "raw-jetstream")),
        "{out}"
    );
}

#[test]
fn find_max_reports_a_maximum_for_every_path_within_its_runs() {
    let (out, _err) = bench(&[
        "--find-max",
        "--rate",
        "40",
        "--max-runs",
        "3",
        // Each rate needs two held runs of two: 40 msg/s takes runs 1 and 2, and the one run
        // left cannot decide 80 msg/s, so every maximum is 40 (one run per rate: 80).
        "--find-max-repeat",
        "2",
        "--duration-s",
        "1",
        "--drain-s",
        "10",
        // A bound no healthy run at 40–80 msg/s misses, even on a loaded machine: the test
        // checks the search, not the speed.
        "--p99-bound-ms",
        "5000",
        "--picture",
        "off",
        // And a store variant: `--find-max` searches each.
        "--raw-jetstream-stores",
        "3,2",
    ]);
    for path in [
        "raw-nats",
        "raw-jetstream",
        "raw-jetstream (2 stores)",
        "trilink/pic-off",
    ] {
        let runs: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with(&format!("find-max {path}: run ")))
            .collect();
        assert_eq!(runs.len(), 3, "{path}: 3 runs allowed:\n{out}");
        // The first two runs are at the start rate, and they hold at this rate and bound.
        assert!(
            runs[0].contains(": 40 msg/s → held [1 held, 0 over of at most 2 at this rate]"),
            "{path}: {}\n{out}",
            runs[0]
        );
        assert!(
            runs[1].contains(": 40 msg/s → held [2 held, 0 over of at most 2 at this rate: holds]"),
            "{path}: {}\n{out}",
            runs[1]
        );
        assert!(
            runs[2].contains(": 80 msg/s → "),
            "{path}: {}\n{out}",
            runs[2]
        );
        // path, max msg/s, lowest over, runs, recv/s, p50, p99, CPU, note
        let row = row(&out, path);
        assert_eq!(
            row[1], "40",
            "{path}: one run cannot decide 80 msg/s:\n{out}"
        );
        assert_eq!(row[3], "3", "{path}:\n{out}");
        assert!(
            row[8].contains("run limit of 3 reached"),
            "{path}: {row:?}\n{out}"
        );
        // Every run that held was delivered in full.
        for r in runs.iter().filter(|r| r.contains("→ held")) {
            let num = |k: &str| -> u64 {
                r.split(k)
                    .nth(1)
                    .and_then(|t| t.split([',', ')']).next())
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap()
            };
            assert_eq!(num("sent "), num("recv "), "{r}");
        }
    }
    for raw in ["raw-nats", "raw-jetstream"] {
        assert!(
            out.contains(&format!("max ratio trilink/pic-off / {raw}: ")),
            "{out}"
        );
    }
}

/// `--servers fresh`: every nats-server is restarted before the path after the first (the
/// trilink path here), which still delivers everything once — the servers came back with
/// their streams, durables and leaf links, and the CPU and RSS lines name the new processes.
#[test]
fn fresh_servers_restart_before_each_later_path_and_lose_nothing() {
    let (out, err) = raw_jetstream_then_trilink(&["--servers", "fresh"]);
    for path in ["raw-jetstream", "trilink/pic-off"] {
        assert_delivered_once(&out, &err, path);
    }
    let restarts = out
        .lines()
        .filter(|l| l.starts_with("nats-servers restarted, sources linked again in "))
        .count();
    assert_eq!(restarts, 1, "one restart, before the trilink path:\n{out}");
}
