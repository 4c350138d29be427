//! The relay in per-nation-account mode against a real nats-server whose accounts and relay
//! permissions mirror `broker-config/conf/hub-accounts.conf` (one relay user per nation
//! account, no imports/exports): JP input reaches KR's and US's accounts, a JP input claiming
//! KR as origin is dead-lettered in JP's account, and nothing goes back to JP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use chrono::Utc;
use trilink_brokers::testing::{NatsServer, Stored, read_stream, start_nats_with, wait_until};
use trilink_relay::{AccountConfig, RelayConfig, RelayControl};
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{GeoPoint, Mode, Nation, PayloadKind};

/// The relay permissions, taken from the shipped `hub-accounts.conf` itself (not a copy): the
/// `RELAY_JP`, `RELAY_KR` and `RELAY_US` blocks.
fn relay_permissions() -> String {
    let text = trilink_brokers::conf::HUB_ACCOUNTS;
    let start = text
        .find("RELAY_JP = {")
        .expect("RELAY_JP in hub-accounts.conf");
    let end = text[start..]
        .find("\nADAPTER_US = {")
        .map(|e| start + e)
        .expect("ADAPTER_US after the relay blocks");
    text[start..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn conf() -> String {
    format!(
        r#"
listen: 127.0.0.1:{{{{PORT}}}}
server_name: hub-test
jetstream {{ store_dir: "{{{{STORE}}}}", domain: hub }}

{}
accounts {{
  JP: {{ jetstream: enabled, users: [ {{ user: relay-jp, password: pjp, permissions: $RELAY_JP }}, {{ user: admin-jp, password: ajp }} ] }}
  KR: {{ jetstream: enabled, users: [ {{ user: relay-kr, password: pkr, permissions: $RELAY_KR }}, {{ user: admin-kr, password: akr }} ] }}
  US: {{ jetstream: enabled, users: [ {{ user: relay-us, password: pus, permissions: $RELAY_US }}, {{ user: admin-us, password: aus }} ] }}
  SYS: {{ users: [ {{ user: sys, password: sys }} ] }}
}}
system_account: SYS
"#,
        relay_permissions()
    )
}

async fn admin(server: &NatsServer, nation: Nation) -> jetstream::Context {
    let n = nation.as_str();
    let client = async_nats::ConnectOptions::new()
        .user_and_password(format!("admin-{n}"), format!("a{n}"))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let up = n.to_ascii_uppercase();
    for (name, subject) in [
        (format!("IN_{up}"), format!("tl.in.{n}.>")),
        (format!("OUT_{up}"), format!("tl.out.{n}.>")),
        ("DLQ_US".to_owned(), "tl.dlq.us".to_owned()),
    ] {
        js.get_or_create_stream(stream::Config {
            name,
            subjects: vec![subject],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    // The relay may not create its consumer: the operations user does (streams.toml).
    js.get_stream(format!("IN_{up}"))
        .await
        .unwrap()
        .get_or_create_consumer(
            "relay",
            jetstream::consumer::pull::Config {
                durable_name: Some("relay".into()),
                filter_subject: format!("tl.in.{n}.>"),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    js
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_account_relay_routes_between_accounts_and_dead_letters_spoofing() {
    let server = start_nats_with(&conf());
    let jp = admin(&server, Nation::Jp).await;
    let kr = admin(&server, Nation::Kr).await;
    let us = admin(&server, Nation::Us).await;

    let cfg = RelayConfig {
        nats_url: server.url(),
        component: "relay-acc".into(),
        accounts: Nation::ALL
            .into_iter()
            .map(|n| AccountConfig {
                nation: n,
                nats_url: None,
                user: Some(format!("relay-{n}")),
                password: Some(format!("p{n}")),
                creds_file: None,
                input_stream: None,
            })
            .collect(),
        ..RelayConfig::default()
    };
    let policy = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../broker-config/policies/default-trilateral.toml");
    let control = RelayControl::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let c2 = control.clone();
    let handle = tokio::spawn(trilink_relay::run_with_control(
        cfg,
        policy,
        async {
            let _ = rx.await;
        },
        c2,
    ));
    if tokio::time::timeout(Duration::from_secs(10), control.ready())
        .await
        .is_err()
    {
        panic!(
            "relay not ready: {:?}\n{}",
            if handle.is_finished() {
                Some(handle.await)
            } else {
                None
            },
            server.log()
        );
    }

    let spec = |origin, seq| SampleSpec {
        origin,
        kind: PayloadKind::LaunchDetection,
        mode: Mode::RealWorld,
        releasability: Nation::ALL.into_iter().collect(),
        seq,
        observed_at: Utc::now() - chrono::Duration::seconds(1),
        point: GeoPoint {
            lat_deg: 39.0,
            lon_deg: 125.7,
            alt_m: 0.0,
        },
    };
    let genuine = envelope(&spec(Nation::Jp, 1)).unwrap();
    // JP's account publishes an envelope claiming KR as origin, on JP's own subject.
    let spoof = envelope(&spec(Nation::Kr, 2)).unwrap();
    for (env, id) in [(&genuine, "g"), (&spoof, "s")] {
        let mut h = HeaderMap::new();
        h.insert("Nats-Msg-Id", id);
        jp.publish_with_headers(
            "tl.in.jp.launch_detection",
            h,
            env.to_json().unwrap().into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }
    wait_until(15, "both inputs acked", || control.get(|s| &s.acked) == 2).await;
    wait_until(15, "three views stored", || {
        control.get(|s| &s.picture_published) == 3
    })
    .await;

    // The hub's common picture travels beside the national outputs: set it apart.
    let national = |v: Vec<Stored>| -> (Vec<Stored>, Vec<Stored>) {
        v.into_iter()
            .partition(|m| !m.subject.contains(".common_event."))
    };
    let (kr_out, kr_pic) = national(read_stream(&kr, "OUT_KR").await);
    let (us_out, us_pic) = national(read_stream(&us, "OUT_US").await);
    let (jp_out, jp_pic) = national(read_stream(&jp, "OUT_JP").await);
    // One event (the genuine launch), in every destination's own account, the spoof nowhere.
    for (pic, dest) in [(&kr_pic, "kr"), (&us_pic, "us"), (&jp_pic, "jp")] {
        assert_eq!(pic.len(), 1, "{dest}: {pic:?}");
        assert!(
            pic[0]
                .subject
                .starts_with(&format!("tl.out.{dest}.common_event.us.")),
            "{}",
            pic[0].subject
        );
    }
    assert_eq!(kr_out.len(), 1, "{kr_out:?}");
    assert_eq!(
        kr_out[0].subject,
        format!("tl.out.kr.launch_detection.jp.{}", genuine.message_id)
    );
    assert_eq!(
        kr_out[0].msg_id.as_deref(),
        Some(format!("{}.kr", genuine.message_id).as_str())
    );
    assert_eq!(us_out.len(), 1, "{us_out:?}");
    assert!(jp_out.is_empty(), "echoed to origin: {jp_out:?}");

    let jp_dlq = read_stream(&jp, "DLQ_US").await;
    assert_eq!(jp_dlq.len(), 1);
    assert_eq!(jp_dlq[0].header("Tl-Reason"), Some("origin_mismatch"));
    assert!(read_stream(&kr, "DLQ_US").await.is_empty());

    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
