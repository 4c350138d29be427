//! JSON Lines of common envelopes: round trip, strictness, errors with file/line/offset.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a test failure

mod support;

use support::ts;
use trilink_capture::{JsonlRecord, read_jsonl, write_jsonl};
use trilink_schema::Envelope;

fn records() -> Vec<JsonlRecord> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../schemas/examples/valid"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let e = Envelope::from_json(&std::fs::read(p).unwrap()).unwrap();
            JsonlRecord::input(ts(1_790_000_000 + i as i64, 123_456_789), e)
        })
        .collect()
}

fn encoded() -> Vec<u8> {
    let mut out = Vec::new();
    write_jsonl(&mut out, "out.jsonl", &records()).unwrap();
    out
}

#[test]
fn round_trip_with_and_without_trailing_newline() {
    let bytes = encoded();
    assert!(bytes.ends_with(b"\n"));
    let first = std::str::from_utf8(&bytes).unwrap().lines().next().unwrap();
    assert!(first.starts_with("{\"ts\":\"2026-09-21T"), "{first}");
    assert!(
        first.contains(".123456789Z\",\"subject\":\"tl.in."),
        "{first}"
    );
    assert_eq!(read_jsonl("a.jsonl", &bytes).unwrap(), records());
    assert_eq!(
        read_jsonl("a.jsonl", &bytes[..bytes.len() - 1]).unwrap(),
        records()
    );
    assert!(read_jsonl("e.jsonl", b"").unwrap().is_empty());
}

#[track_caller]
fn err(data: &[u8]) -> trilink_capture::CaptureError {
    read_jsonl("bad.jsonl", data).unwrap_err()
}

#[test]
fn strict_about_everything_else() {
    let good = encoded();
    let line1_len = good.iter().position(|&b| b == b'\n').unwrap() + 1;

    let mut extra_blank = good.clone();
    extra_blank.push(b'\n');
    let e = err(&extra_blank);
    assert_eq!(e.code(), "bad_jsonl");
    assert_eq!(e.offset, good.len() as u64);
    assert!(e.to_string().contains("empty line"), "{e}");

    let mut blank_middle = good[..line1_len].to_vec();
    blank_middle.push(b'\n');
    blank_middle.extend_from_slice(&good[line1_len..]);
    let e = err(&blank_middle);
    assert!(e.to_string().contains("line 2: empty line"), "{e}");
    assert_eq!(e.offset, line1_len as u64);

    let crlf = String::from_utf8(good.clone())
        .unwrap()
        .replace('\n', "\r\n");
    let e = err(crlf.as_bytes());
    assert!(e.to_string().contains("carriage return"), "{e}");
    assert_eq!(e.offset, line1_len as u64 - 1);

    let unknown =
        String::from_utf8(good.clone())
            .unwrap()
            .replacen("{\"ts\"", "{\"x\":1,\"ts\"", 1);
    let e = err(unknown.as_bytes());
    assert!(e.to_string().contains("unknown field `x`"), "{e}");

    let bad_subject = String::from_utf8(good.clone())
        .unwrap()
        .replacen("tl.in.", "tl.*.", 1);
    let e = err(bad_subject.as_bytes());
    assert!(e.to_string().contains("invalid subject"), "{e}");

    let bad_ts = String::from_utf8(good.clone()).unwrap().replacen(
        "123456789Z\",\"subject",
        "123456789\",\"subject",
        1,
    );
    let e = err(bad_ts.as_bytes());
    assert!(e.to_string().contains("RFC 3339"), "{e}");

    let e = err(b"{\"ts\": nope}\n");
    assert!(
        e.to_string()
            .starts_with("bad.jsonl: at byte offset 8: JSON Lines line 1: "),
        "{e}"
    );
}

#[test]
fn truncated_at_every_offset() {
    let good = encoded();
    let n_lines = records().len();
    let boundaries: Vec<usize> = good
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    for k in 0..good.len() {
        match read_jsonl("t.jsonl", &good[..k]) {
            Ok(r) => {
                // only at a line boundary (with or without its newline)
                assert!(
                    k == 0 || boundaries.contains(&k) || boundaries.contains(&(k + 1)),
                    "prefix {k}"
                );
                assert!(r.len() <= n_lines);
                assert_eq!(r[..], records()[..r.len()]);
            }
            Err(e) => {
                assert_eq!(e.code(), "bad_jsonl", "{e}");
                assert!(e.offset <= k as u64);
            }
        }
    }
}

#[test]
fn non_trilink_subjects_are_allowed_but_reported_by_parsed_subject() {
    let mut r = records().remove(0);
    r.subject = "truth".into();
    let line = r.to_line().unwrap();
    let back = read_jsonl("truth.jsonl", line.as_bytes()).unwrap();
    assert_eq!(back, vec![r]);
    assert!(back[0].parsed_subject().is_err());
}

#[test]
fn writer_rejects_an_invalid_subject() {
    let mut r = records().remove(0);
    r.subject = "tl.in..cancel".into();
    let mut out = Vec::new();
    let e = write_jsonl(&mut out, "w.jsonl", [&r]).unwrap_err();
    assert_eq!(e.code(), "write");
    assert!(
        e.to_string().starts_with("w.jsonl: at byte offset 0"),
        "{e}"
    );
}
