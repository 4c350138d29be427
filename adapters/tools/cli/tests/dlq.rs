//! `trilink dlq` reads a site's dead letters from a real JetStream stream: reason, detail,
//! component and source from the headers, the body decoded as the site's national frame or
//! as an envelope, hex otherwise; `--last N`; the password from a file; a wrong password
//! fails fast with the server's reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::trilink;

use std::process::Output;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use trilink_brokers::testing::start_nats_with;
use trilink_capture::read_jsonl;
use trilink_schema::{Envelope, Nation, NationalCodec, headers};

const NATS: &str = "listen: 127.0.0.1:{{PORT}}\n\
    jetstream { store_dir: \"{{STORE}}\" }\n\
    accounts { TL { jetstream: enabled, users: [ { user: ops, password: secret } ] } }\n";

/// `trilink dlq --site jp --nats <url> --user ops --password-file <file> <extra…>`.
fn dlq_as_ops(url: &str, password_file: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "dlq",
        "--site",
        "jp",
        "--nats",
        url,
        "--user",
        "ops",
        "--password-file",
        password_file,
    ];
    args.extend_from_slice(extra);
    trilink(&args)
}

fn jp_report() -> Envelope {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../adapters/tools/scenario/samples/single_launch/reports.jsonl");
    read_jsonl("r", &std::fs::read(path).unwrap())
        .unwrap()
        .into_iter()
        .map(|r| r.envelope)
        .find(|e| e.origin == Nation::Jp)
        .unwrap()
}

#[test]
fn dead_letters_are_listed_with_reasons_and_decoded_bodies() {
    let nats = start_nats_with(NATS);
    let url = nats.url();
    let env = jp_report();
    let codec = trilink_jp::JpCodec;
    let mut frame = BytesMut::new();
    codec
        .encode(&codec.to_national(&env).unwrap(), &mut frame)
        .unwrap();
    let mut corrupt = frame.to_vec();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client =
            async_nats::ConnectOptions::with_user_and_password("ops".into(), "secret".into())
                .connect(&url)
                .await
                .unwrap();
        let js = async_nats::jetstream::new(client);
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "DLQ_JP".into(),
            subjects: vec!["tl.dlq.jp".into()],
            ..Default::default()
        })
        .await
        .unwrap();
        let letters: [(&str, &str, Vec<u8>); 3] = [
            ("bad_checksum", "checksum 0x12 != 0x34", corrupt.clone()),
            ("future_timestamp", "observed_at 10 s ahead", frame.to_vec()),
            (
                "not_releasable",
                "releasability excludes jp",
                serde_json::to_vec(&env).unwrap(),
            ),
        ];
        for (reason, detail, body) in letters {
            let mut h = async_nats::HeaderMap::new();
            h.insert(headers::DLQ_REASON, reason);
            h.insert(headers::DLQ_DETAIL, detail);
            h.insert(headers::DLQ_COMPONENT, "adapter-jp");
            h.insert(headers::DLQ_SOURCE, "udp:0.0.0.0:7000");
            js.publish_with_headers("tl.dlq.jp", h, body.into())
                .await
                .unwrap()
                .await
                .unwrap();
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    let pw = pw.to_str().unwrap();
    let o = dlq_as_ops(&url, pw, &["--json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let got: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0]["reason"], "bad_checksum");
    assert_eq!(got[0]["detail"], "checksum 0x12 != 0x34");
    assert_eq!(got[0]["component"], "adapter-jp");
    assert_eq!(got[0]["source"], "udp:0.0.0.0:7000");
    assert_eq!(got[0]["body"], "bytes");
    assert!(
        got[0]["national_error"]
            .as_str()
            .unwrap()
            .starts_with("as a jp frame: "),
        "{}",
        got[0]
    );
    assert_eq!(got[0]["hex"], hex::encode(&corrupt));
    assert_eq!(got[1]["reason"], "future_timestamp");
    assert_eq!(got[1]["body"], "jp national frame");
    assert_eq!(got[1]["envelope"]["message_id"], env.message_id.to_string());
    assert_eq!(got[2]["body"], "envelope");
    assert_eq!(got[2]["envelope"]["message_id"], env.message_id.to_string());
    assert_eq!(got[2]["seq"], 3);

    // The last one, as text.
    let o = dlq_as_ops(&url, pw, &["--last", "1"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        out.starts_with("#3 ") && out.contains("not_releasable: releasability excludes jp"),
        "{out}"
    );
    assert_eq!(out.matches("\n#").count(), 0, "only one: {out}");

    // A wrong password: fails fast, with the server's reason.
    std::fs::write(dir.path().join("bad"), "nope\n").unwrap();
    let started = Instant::now();
    let o = dlq_as_ops(&url, dir.path().join("bad").to_str().unwrap(), &[]);
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("authorization"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}
