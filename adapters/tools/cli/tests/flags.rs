//! One meaning per flag across commands: `-c` is `--config` and the NATS URL flag is `--nats`
//! everywhere. The old spellings (`policy test -c` for `--capture`, `broker streams --url`)
//! still work as hidden aliases, so scripts written for them do not break.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::{exits_with, trilink};

use clap::CommandFactory;
use trilink_brokers::testing::start_nats_with;
use trilink_cli::Cli;

const NATS: &str = "listen: 127.0.0.1:{{PORT}}\n\
    jetstream { store_dir: \"{{STORE}}\" }\n\
    accounts { TL { jetstream: enabled, users: [ { user: ops, password: secret } ] } }\n";

fn help(path: &[&str]) -> String {
    let mut args = vec!["trilink"];
    args.extend_from_slice(path);
    args.push("--help");
    let e = Cli::command().try_get_matches_from(args).unwrap_err();
    e.render().to_string()
}

/// Every visible `-x` short flag of every command means the same long flag.
#[test]
fn a_short_flag_means_one_long_flag_in_every_command() {
    fn walk(
        cmd: &clap::Command,
        path: &str,
        seen: &mut std::collections::BTreeMap<char, (String, String)>,
    ) {
        for arg in cmd.get_arguments() {
            if let (Some(short), Some(long)) = (arg.get_short(), arg.get_long()) {
                if let Some((other, at)) = seen.get(&short) {
                    assert_eq!(
                        other, long,
                        "-{short} is --{long} in `{path}` but --{other} in `{at}`"
                    );
                } else {
                    seen.insert(short, (long.to_owned(), path.to_owned()));
                }
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), seen);
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    walk(&Cli::command(), "trilink", &mut seen);
    assert_eq!(seen.get(&'c').map(|(l, _)| l.as_str()), Some("config"));
}

/// Every command that takes a NATS URL calls the flag `--nats` (or `--<purpose>-nats` for a
/// second connection, as replay's `--dlq-nats` and `--view-nats`).
#[test]
fn the_nats_url_flag_is_nats_everywhere() {
    fn walk(cmd: &clap::Command, path: &str, found: &mut Vec<String>) {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            let long = arg.get_long().unwrap_or_default();
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            let nats = long == "nats" || long.ends_with("-nats");
            if long == "url" || long.ends_with("-url") || (help.contains("NATS URL") && !nats) {
                found.push(format!("{path} --{long}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }
    let mut found = Vec::new();
    walk(&Cli::command(), "trilink", &mut found);
    assert!(
        found.is_empty(),
        "NATS URL flags not called --nats: {found:?}"
    );
    let text = help(&["broker", "streams"]);
    assert!(text.contains("--nats <NATS>"), "{text}");
    assert!(!text.contains("--url"), "{text}");
}

#[test]
fn old_spellings_still_parse_as_hidden_aliases() {
    // `policy test -c` is still the capture, though help no longer shows it.
    let m = Cli::command()
        .try_get_matches_from(["trilink", "policy", "test", "-p", "p.toml", "-c", "c.jsonl"])
        .unwrap();
    let t = m
        .subcommand_matches("policy")
        .and_then(|m| m.subcommand_matches("test"))
        .unwrap();
    assert_eq!(
        t.get_one::<std::path::PathBuf>("capture").unwrap(),
        std::path::Path::new("c.jsonl")
    );
    let text = help(&["policy", "test"]);
    assert!(text.contains("--capture <CAPTURE>"), "{text}");
    assert!(!text.contains("-c,"), "{text}");
    // `adapter -c` is the config.
    let m = Cli::command()
        .try_get_matches_from(["trilink", "adapter", "-c", "a.toml"])
        .unwrap();
    assert_eq!(
        m.subcommand_matches("adapter")
            .unwrap()
            .get_one::<std::path::PathBuf>("config")
            .unwrap(),
        std::path::Path::new("a.toml")
    );
    // `broker streams --url` is `--nats`.
    for flag in ["--url", "--nats"] {
        let m = Cli::command()
            .try_get_matches_from([
                "trilink",
                "broker",
                "streams",
                flag,
                "nats://h:4222",
                "--site",
                "jp",
                "--account",
                "jp",
                "--user",
                "u",
                "--password",
                "p",
            ])
            .unwrap();
        let s = m
            .subcommand_matches("broker")
            .and_then(|m| m.subcommand_matches("streams"))
            .unwrap();
        assert_eq!(s.get_one::<String>("nats").unwrap(), "nats://h:4222");
    }
}

/// `broker streams` against a real server with either spelling and the password from a file;
/// a wrong password fails with the server's reason.
#[test]
fn broker_streams_creates_streams_with_either_url_flag() {
    let nats = start_nats_with(NATS);
    let url = nats.url();
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    let pw = pw.to_str().unwrap();
    // `broker streams` for JP's account on the JP site as `ops`, then `rest`.
    let streams_as_ops = |flag: &str, rest: &[&str]| {
        let head = [
            "broker",
            "streams",
            flag,
            &url,
            "--site",
            "jp",
            "--account",
            "jp",
            "--user",
            "ops",
        ];
        trilink(&[&head[..], rest].concat())
    };
    for flag in ["--url", "--nats"] {
        let o = streams_as_ops(flag, &["--password-file", pw]);
        let (out, err) = (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
        );
        assert_eq!(o.status.code(), Some(0), "{flag}: {out}\n{err}");
        assert!(out.contains("streams ready on jp for account jp"), "{out}");
        assert!(out.contains("IN_JP") && out.contains("DLQ_JP"), "{out}");
    }
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "nope\n").unwrap();
    let started = std::time::Instant::now();
    let o = streams_as_ops("--nats", &["--password-file", wrong.to_str().unwrap()]);
    let err = exits_with(&o, 1);
    assert!(err.to_lowercase().contains("authorization"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // Neither --password nor --password-file: a usage error.
    let o = streams_as_ops("--nats", &[]);
    assert_eq!(o.status.code(), Some(2));
}
