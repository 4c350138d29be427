//! Connection options against a real nats-server with user/password authorization.

// Test helpers may unwrap and index like #[test] functions (see clippy.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::path::Path;
use std::time::Duration;

use trilink_runtime::config::{Validate, load_str};
use trilink_runtime::nats::{NatsConfig, NatsError, connect, connect_once};

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Only {
    nats: NatsConfig,
}
impl Validate for Only {
    fn validate(&self) -> Result<(), trilink_runtime::config::Invalid> {
        self.nats.validate("nats")
    }
}

fn nats_cfg(port: u16, user: &str, pass: &str) -> NatsConfig {
    let text = format!(
        "[nats]\nurl = \"nats://127.0.0.1:{port}\"\nuser = \"{user}\"\npassword = \"{pass}\"\nconnect_timeout_ms = 1000\n"
    );
    load_str::<Only>(&text, Path::new("n.toml"), Vec::new())
        .unwrap()
        .nats
}

#[tokio::test]
async fn user_password_accepted_and_refused() {
    let server = common::start_nats_with(
        "listen: 127.0.0.1:{{PORT}}\n\
         authorization { user: \"adapter-jp\", password: \"s3cret\" }\n",
    );
    let port = server.port();

    let good = connect_once(&nats_cfg(port, "adapter-jp", "s3cret"), "t")
        .await
        .unwrap();
    good.publish("tl.status.jp.t", "x".into()).await.unwrap();
    good.flush().await.unwrap();

    let bad = connect_once(&nats_cfg(port, "adapter-jp", "wrong"), "t").await;
    let err = bad.expect_err("a wrong password must be refused");
    assert!(matches!(err, NatsError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn connect_retries_until_shutdown() {
    let port = common::free_port(); // nothing listens here
    let cfg = nats_cfg(port, "u", "p");
    let token = trilink_runtime::CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        t.cancel();
    });
    let started = std::time::Instant::now();
    let r = connect(&cfg, "t", &token).await;
    assert!(matches!(r, Err(NatsError::ShutDown)), "{r:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "it kept retrying until shutdown"
    );
}

#[test]
fn auth_options_are_validated() {
    let text =
        "[nats]\nurl = \"nats://x:4222\"\nuser = \"u\"\npassword = \"p\"\nnkey_seed = \"SU\"\n";
    let err = load_str::<Only>(text, Path::new("n.toml"), Vec::new()).unwrap_err();
    assert_eq!(err.key(), Some("nats.creds_file"), "{err}");
    let text = "[nats]\nurl = \"nats://x:4222\"\ntls_cert = \"c.pem\"\n";
    let err = load_str::<Only>(text, Path::new("n.toml"), Vec::new()).unwrap_err();
    assert_eq!(err.key(), Some("nats.tls_key"), "{err}");
}

/// Mutual TLS with the project's development certificates (`trilink_brokers::certs`):
/// a client certificate from the dev CA is accepted; none, or one from another CA, is refused.
#[tokio::test]
async fn mutual_tls_client_certificate() {
    let (_keep, certs) = common::dev_certs();
    let p = |f: &str| certs.join(f).display().to_string();

    let server = common::start_nats_with(&format!(
        "listen: 127.0.0.1:{{{{PORT}}}}\n\
         tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true }}\n",
        p("hub.pem"),
        p("hub-key.pem"),
        p("ca.pem")
    ));
    let port = server.port();

    let cfg = |cert: Option<(&str, &str)>| {
        let mut text = format!(
            "[nats]\nurl = \"tls://127.0.0.1:{port}\"\nrequire_tls = true\ntls_ca = \"{}\"\nconnect_timeout_ms = 2000\n",
            p("ca.pem")
        );
        if let Some((c, k)) = cert {
            text = format!("{text}tls_cert = \"{}\"\ntls_key = \"{}\"\n", p(c), p(k));
        }
        load_str::<Only>(&text, Path::new("n.toml"), Vec::new())
            .unwrap()
            .nats
    };

    let c = connect_once(&cfg(Some(("leaf-jp.pem", "leaf-jp-key.pem"))), "t")
        .await
        .unwrap();
    c.publish("x", "y".into()).await.unwrap();
    c.flush().await.unwrap();

    let none = connect_once(&cfg(None), "t").await;
    assert!(none.is_err(), "a client without a certificate was accepted");
    let rogue = connect_once(
        &cfg(Some(("rogue-leaf-jp.pem", "rogue-leaf-jp-key.pem"))),
        "t",
    )
    .await;
    assert!(rogue.is_err(), "a certificate from another CA was accepted");
}
