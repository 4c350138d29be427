//! `trilink adapter --check` / `relay --check` find, without the network, what would make the
//! process crash-loop (URL syntax, ports, missing files, expired certificates, malformed creds
//! files), with the key, the value and the source; `--print-config` shows the effective
//! configuration with secrets masked and where each value came from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;
use common::{repo, trilink_env};

use std::path::Path;
use std::process::Output;

fn certs(name: &str) -> String {
    repo()
        .join("adapters/runtime/tests/data/certs")
        .join(name)
        .display()
        .to_string()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const BASE: &str = r#"[adapter]
nation = "jp"

[nats]
url = "nats://127.0.0.1:4222"
user = "adapter-jp"
password = "s3cret-pass"
js_domain = "jp"

[[ingress]]
type = "udp"
bind = "127.0.0.1:7000"
"#;

fn write(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

/// `adapter --check` on `body`: (exit code, stdout, stderr).
fn check(body: &str, env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "adapter-jp.toml", body);
    let o = trilink_env(&["adapter", "--check", "--config", &cfg], env);
    let (out, err) = text(&o);
    (o.status.code().unwrap(), out, err)
}

#[test]
fn a_good_configuration_passes() {
    let (code, out, err) = check(BASE, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("valid adapter configuration for jp (checked offline"),
        "{out}"
    );
}

#[test]
fn url_syntax_scheme_and_port_are_checked() {
    for (url, expect) in [
        (
            "htp:/127.0.0.1:4222",
            "\"htp:/127.0.0.1:4222\": not a URL: expected nats://HOST:PORT",
        ),
        (
            "http://127.0.0.1:4222",
            "scheme \"http\" is not one of nats, tls, ws, wss",
        ),
        (
            "nats://127.0.0.1:99999",
            "port 99999 is out of range 1-65535",
        ),
        ("nats://127.0.0.1:0", "port 0 is out of range 1-65535"),
    ] {
        let body = BASE.replace("nats://127.0.0.1:4222", url);
        let (code, out, err) = check(&body, &[]);
        assert_eq!(code, 1, "{url}: {out}{err}");
        assert!(
            err.contains("adapter-jp.toml: key `nats.url`: "),
            "{url}: {err}"
        );
        assert!(err.contains(expect), "{url}: {err}");
    }
    // From the environment: blamed on the variable.
    let (code, _, err) = check(BASE, &[("TRILINK__NATS__URL", "nats://hub:70000")]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("environment variable TRILINK__NATS__URL (over ")
            && err.contains("key `nats.url`")
            && err.contains("port 70000 is out of range"),
        "{err}"
    );
}

#[test]
fn a_bad_ingress_port_names_the_field_and_the_value() {
    let body = BASE.replace("127.0.0.1:7000", "0.0.0.0:70000");
    let (code, _, err) = check(&body, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(
            "key `ingress[0].bind`: invalid socket address \"0.0.0.0:70000\": port 70000 is out of range 1-65535"
        ),
        "{err}"
    );
    let body = BASE.replace("127.0.0.1:7000", "0.0.0.0:0");
    let (code, _, err) = check(&body, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("key `ingress[0].bind`: port 0: must be 1-65535"),
        "{err}"
    );
}

#[test]
fn missing_files_expired_certificates_and_bad_creds_are_all_listed() {
    let dir = tempfile::tempdir().unwrap();
    let bad_creds = write(dir.path(), "bad.creds", "not a creds file\n");
    let body = BASE
        .replace(
            "user = \"adapter-jp\"\npassword = \"s3cret-pass\"\n",
            &format!("creds_file = \"{bad_creds}\"\n"),
        )
        .replace(
            "js_domain = \"jp\"\n",
            &format!(
                "js_domain = \"jp\"\ntls_ca = \"/nonexistent/ca.pem\"\ntls_cert = \"{}\"\ntls_key = \"{}\"\n",
                certs("expired.pem"),
                certs("key.pem")
            ),
        );
    let (code, out, err) = check(&body, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("key `nats.tls_ca`: /nonexistent/ca.pem: No such file or directory"),
        "{err}"
    );
    assert!(
        err.contains("key `nats.tls_cert`: ")
            && err.contains("certificate 1 (CN=expired-test) expired at 2020-01-02T00:00:00+00:00"),
        "{err}"
    );
    assert!(
        err.contains("key `nats.creds_file`: ")
            && err.contains("no -----BEGIN NATS USER JWT----- block"),
        "{err}"
    );
    assert!(err.contains("3 problem(s) found"), "{err}");
    assert!(!err.contains("tls_key"), "the key is fine: {err}");

    // A missing creds file, and a good CA.
    let body = BASE
        .replace(
            "user = \"adapter-jp\"\npassword = \"s3cret-pass\"\n",
            "creds_file = \"/nonexistent/adapter.creds\"\n",
        )
        .replace(
            "js_domain = \"jp\"\n",
            &format!(
                "js_domain = \"jp\"\ntls_ca = \"{}\"\n",
                certs("valid-ca.pem")
            ),
        );
    let (code, _, err) = check(&body, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("key `nats.creds_file`: /nonexistent/adapter.creds: No such file"),
        "{err}"
    );
    assert!(err.contains("1 problem(s) found"), "{err}");
}

#[test]
fn an_unreadable_configuration_is_a_usage_error() {
    let o = trilink_env(
        &[
            "adapter",
            "--check",
            "--config",
            "/nonexistent/adapter.toml",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    let o = trilink_env(
        &[
            "relay",
            "--check",
            "--config",
            "/nonexistent/relay.toml",
            "--policy",
            "/nonexistent/policy.toml",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
}

#[test]
fn print_config_shows_sources_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "adapter-jp.toml", BASE);
    let o = trilink_env(
        &["adapter", "--print-config", "--config", &cfg],
        &[
            ("TRILINK__NATS__URL", "nats://ops:hunter2@10.0.0.1:4222"),
            ("TRILINK__NATS__MAX_IN_FLIGHT", "512"),
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let line = |key: &str| -> String {
        out.lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in\n{out}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("adapter.nation"), "adapter.nation = \"jp\" # file");
    assert_eq!(
        line("nats.url"),
        "nats.url = \"nats://ops:****@10.0.0.1:4222\" # env TRILINK__NATS__URL"
    );
    assert_eq!(
        line("nats.max_in_flight"),
        "nats.max_in_flight = 512 # env TRILINK__NATS__MAX_IN_FLIGHT"
    );
    assert_eq!(line("nats.password"), "nats.password = \"****\" # file");
    assert_eq!(
        line("adapter.heartbeat_interval_ms"),
        "adapter.heartbeat_interval_ms = 5000 # default"
    );
    assert_eq!(
        line("ingress[0].bind"),
        "ingress[0].bind = \"127.0.0.1:7000\" # file"
    );
    assert!(
        !out.contains("s3cret-pass") && !out.contains("hunter2"),
        "{out}"
    );
}

const RELAY: &str = r#"nats_url = "nats://127.0.0.1:4222"
component = "relay-1"
[[account]]
nation = "jp"
user = "relay-jp"
password = "relay-secret"
"#;

fn policy() -> String {
    repo()
        .join("broker-config/policies/default-trilateral.toml")
        .display()
        .to_string()
}

#[test]
fn relay_check_and_print_config() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "relay.toml", RELAY);
    let o = trilink_env(
        &["relay", "--check", "--config", &good, "--policy", &policy()],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    let bad = write(
        dir.path(),
        "relay-bad.toml",
        &format!(
            "tls_ca = \"{}\"\n{}",
            certs("expired.pem"),
            RELAY.replace("nats://127.0.0.1:4222", "nats://127.0.0.1:99999")
        ),
    );
    let o = trilink_env(
        &["relay", "--check", "--config", &bad, "--policy", &policy()],
        &[],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("at `nats_url`") && err.contains("port 99999 is out of range 1-65535"),
        "{err}"
    );
    let fixed = write(
        dir.path(),
        "relay-cert.toml",
        &format!("tls_ca = \"{}\"\n{RELAY}", certs("expired.pem")),
    );
    let o = trilink_env(
        &[
            "relay",
            "--check",
            "--config",
            &fixed,
            "--policy",
            &policy(),
        ],
        &[],
    );
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("key `tls_ca`: ") && err.contains("expired at 2020-01-02"),
        "{err}"
    );

    let o = trilink_env(
        &[
            "relay",
            "--print-config",
            "--config",
            &good,
            "--policy",
            &policy(),
        ],
        &[("TRILINK__CONSUMER", "relay-b")],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("account[0].password = \"****\""), "{out}");
    assert!(!out.contains("relay-secret"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("consumer = \"relay-b\"")
                && l.ends_with("# env TRILINK__CONSUMER")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("max_in_flight = 256") && l.ends_with("# default")),
        "{out}"
    );
}

#[test]
fn exit_codes_agree_across_commands() {
    let dir = tempfile::tempdir().unwrap();
    let bad_policy = write(
        dir.path(),
        "bad-policy.toml",
        "name = \"x\"\nnot_a_key = 1\n",
    );
    let relay = write(dir.path(), "relay.toml", RELAY);
    // An invalid policy: 1 for `policy check` and for `relay --check`.
    let o = trilink_env(&["policy", "check", &bad_policy], &[]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    let o = trilink_env(
        &[
            "relay",
            "--check",
            "--config",
            &relay,
            "--policy",
            &bad_policy,
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    // A missing file: 2 for `policy check` and `schema check` alike.
    let o = trilink_env(&["policy", "check", "/nonexistent/policy.toml"], &[]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    let o = trilink_env(&["schema", "check", "/nonexistent/message.json"], &[]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}{err}");
    assert!(
        err.contains("/nonexistent/message.json: cannot read"),
        "{err}"
    );
    assert!(!out.contains("not_json"), "{out}");
    // A file read and found invalid: 1.
    let junk = write(dir.path(), "junk.json", "{ not json");
    let o = trilink_env(&["schema", "check", &junk], &[]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
}
