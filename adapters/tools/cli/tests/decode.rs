//! `trilink decode`: national frames as hex, raw files and captures → envelopes (JSON Lines)
//! offline; what does not decode says why and where (byte offset).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::trilink;

use std::path::{Path, PathBuf};
use std::process::Output;

use bytes::BytesMut;
use trilink_capture::read_jsonl;
use trilink_schema::{Envelope, Nation, NationalCodec};

fn sample(f: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../adapters/tools/scenario/samples/single_launch")
        .join(f)
}

fn lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn reports() -> Vec<Envelope> {
    read_jsonl("r", &std::fs::read(sample("reports.jsonl")).unwrap())
        .unwrap()
        .into_iter()
        .map(|r| r.envelope)
        .collect()
}

fn frame<C: NationalCodec>(codec: &C, env: &Envelope) -> Vec<u8> {
    let f = codec.to_national(env).unwrap();
    let mut out = BytesMut::new();
    codec.encode(&f, &mut out).unwrap();
    out.to_vec()
}

#[test]
fn a_capture_decodes_to_its_reports() {
    let o = trilink(&["decode", sample("national.pcapng").to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = lines(&o);
    let want = reports();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g["envelope"]["message_id"], w.message_id.to_string());
        assert_eq!(g["nation"], w.origin.as_str());
        assert!(g["file_offset"].as_u64().unwrap() > 0);
    }
}

#[test]
fn hex_and_raw_frames_decode_and_a_corrupt_one_names_its_error_and_offset() {
    let jp = reports()
        .into_iter()
        .find(|e| e.origin == Nation::Jp)
        .unwrap();
    let bytes = frame(&trilink_jp::JpCodec, &jp);
    // As a hex dump shows it: bytes separated by spaces.
    let hex = hex::encode(&bytes)
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let at = jp.ingested_at.to_rfc3339();
    let o = trilink(&["decode", "--nation", "jp", "--hex", &hex, "--at", &at]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = lines(&o);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["offset"], 0);
    assert_eq!(got[0]["length"], bytes.len());
    assert_eq!(got[0]["envelope"]["message_id"], jp.message_id.to_string());

    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let o = trilink(&["decode", "--nation", "jp", "--hex", &hex::encode(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    let got = lines(&o);
    assert_eq!(got[0]["offset"], 0);
    assert_eq!(got[0]["error"]["stage"], "decode");
    assert!(
        got[0]["error"]["code"].as_str().unwrap().len() > 3,
        "{}",
        got[0]
    );

    // A US stream with junk between two frames: both frames, and the junk at its offset.
    let us: Vec<Envelope> = reports()
        .into_iter()
        .filter(|e| e.origin == Nation::Us)
        .take(2)
        .collect();
    let codec = trilink_us::UsCodec::default();
    let (a, b) = (frame(&codec, &us[0]), frame(&codec, &us[1]));
    let junk = b"JUNKJUNK";
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("us.bin");
    std::fs::write(&f, [a.as_slice(), junk, b.as_slice()].concat()).unwrap();
    let o = trilink(&["decode", "--nation", "us", "--stream", f.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let got = lines(&o);
    let ok: Vec<_> = got.iter().filter(|v| v["envelope"].is_object()).collect();
    assert_eq!(ok.len(), 2, "{got:?}");
    assert_eq!(ok[0]["offset"], 0);
    assert_eq!(ok[1]["offset"], a.len() + junk.len(), "{got:?}");
    let err = got.iter().find(|v| v["error"].is_object()).unwrap();
    assert_eq!(err["offset"], a.len(), "{got:?}");

    // Bad input is a usage error.
    assert_eq!(
        trilink(&["decode", "--nation", "jp", "--hex", "zz"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        trilink(&["decode", "/nonexistent.bin", "--nation", "jp"])
            .status
            .code(),
        Some(2)
    );
}
