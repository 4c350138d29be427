//! The trust boundary, attacked by an insider: a partner nation that holds only its own
//! legitimate credentials, certificates and hosts, with a foreign NATS client and a stock
//! nats-server (`broker-config/SECURITY.md` is the threat model; its who-can-do-what table
//! names these tests).
//!
//! Every test here attacks one protection with real servers and asserts that the attack is
//! refused; each was also run once with its protection removed and failed (the note on issue
//! 13 says which). Each attack runs on the single hub and again on the 3-node hub
//! (`…_on_the_clustered_hub`; the route attack needs the cluster only). CI runs the file on
//! nats-server 2.9.10 and the current release.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use async_nats::jetstream;
use chrono::Utc;
use trilink_integration_tests::trilink_brokers::launcher::{Credentials, connect_with};
use trilink_integration_tests::trilink_brokers::testing::admin;
use trilink_integration_tests::trilink_brokers::{Link, Role, Site, free_port};
use trilink_integration_tests::{read_stream, start_link, wait_for};
use trilink_relay::testing::RelayTask;
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{Envelope, GeoPoint, MessageId, Mode, Nation, PayloadKind, TrackId};

/// `creds` re-aimed at another server (same user and password).
fn aimed_at(
    creds: &Credentials,
    urls: Vec<String>,
    ca_file: Option<std::path::PathBuf>,
) -> Credentials {
    Credentials {
        urls,
        ca_file,
        ..creds.clone()
    }
}

/// Whether a client can log in with `creds` (no retries: one attempt per URL).
async fn can_log_in(creds: &Credentials) -> Result<(), String> {
    let mut opts = async_nats::ConnectOptions::new()
        .user_and_password(creds.user.clone(), creds.password.clone())
        .connection_timeout(Duration::from_secs(3));
    if let Some(ca) = &creds.ca_file {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    match opts.connect(creds.urls.clone()).await {
        Ok(c) => {
            // A connection that the server authorises answers a flush; one it refuses errors.
            c.flush().await.map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

// ------------------------------------------------------------------------------- secrets

/// JP's leaf config holds its own system and operations passwords. At the hub and at the KR
/// leaf those passwords (with the same user names) must not log in — so JP can neither read
/// KR's server state (`$SYS.REQ.SERVER.PING.*`) nor purge KR's account (`$JS.API.ACCOUNT.PURGE`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_leaf_secrets_open_no_other_server() {
    jp_leaf_secrets_open_no_other_server_on(1).await;
}

/// [`jp_leaf_secrets_open_no_other_server`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_leaf_secrets_open_no_other_server_on_the_clustered_hub() {
    jp_leaf_secrets_open_no_other_server_on(3).await;
}

async fn jp_leaf_secrets_open_no_other_server_on(hub_nodes: usize) {
    let link = start_link(hub_nodes).await;
    let jp_sys = link.credentials(Role::System(Site::Jp)).unwrap();
    let jp_admin = link.credentials(Role::Admin(Site::Jp, Nation::Jp)).unwrap();
    // They work where they belong (so a refusal below is about the secret, not the client).
    can_log_in(&jp_sys).await.expect("JP sys on the JP leaf");
    can_log_in(&jp_admin)
        .await
        .expect("JP admin on the JP leaf");
    let hub = link.credentials(Role::System(Site::Hub)).unwrap();
    let kr = link.credentials(Role::System(Site::Kr)).unwrap();
    for (what, creds) in [("sys", &jp_sys), ("admin-jp", &jp_admin)] {
        for (server, target) in [("hub", &hub), ("KR leaf", &kr)] {
            let r = can_log_in(&aimed_at(
                creds,
                target.urls.clone(),
                target.ca_file.clone(),
            ))
            .await;
            assert!(
                r.is_err(),
                "JP leaf's {what} password logged in at the {server}"
            );
            let e = r.unwrap_err().to_ascii_lowercase();
            assert!(e.contains("authoriz"), "{what} at {server}: {e}");
        }
    }
    // The rendered configs hold passwords: readable by their owner only.
    let mut confs = 0;
    for entry in std::fs::read_dir(link.dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "conf") {
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", path.display());
            confs += 1;
        }
    }
    assert!(confs >= 4, "{confs} configs");
}

// ------------------------------------------------------------------------------- routes

/// The rogue server's config: a stock nats-server with its own KR account, offering a route to
/// hub node 0 with `cert` from the link's certificate directory and `route_url`.
fn rogue_route_conf(link: &Link, cert: &str, route_url: &str, ports: (u16, u16, u16)) -> String {
    let certs = link.dir().join("certs");
    let certs = certs.display();
    let (client, monitor, cluster) = ports;
    format!(
        r#"server_name: rogue-route
listen: "127.0.0.1:{client}"
http: "127.0.0.1:{monitor}"
accounts {{
  KR: {{ users: [ {{ user: spy, password: spy }} ] }}
}}
cluster {{
  name: hub
  listen: "127.0.0.1:{cluster}"
  tls {{
    cert_file: "{certs}/{cert}.pem"
    key_file: "{certs}/{cert}-key.pem"
    ca_file: "{certs}/ca.pem"
    timeout: 2
  }}
  routes: [ "{route_url}" ]
}}
"#
    )
}

/// JP's leaf certificate (signed by the link CA) offered as a route, with and without the
/// route password: no hub node accepts the route, and a client of the rogue server's KR
/// account never sees KR's raw input published at the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_certificate_cannot_join_the_hub_cluster_as_a_route() {
    let link = start_link(3).await;
    let hub0_cluster = link.hub_cluster_ports()[0];
    let route_pw = link.route_password().unwrap();
    let routes_before: Vec<u64> = {
        let mut v = Vec::new();
        for i in 0..3 {
            v.push(link.server(hub(i)).unwrap().route_count().await.unwrap());
        }
        v
    };
    // Publish on hub-0 itself: a route peer forwards to its routes only what its own clients
    // publish (full mesh), so that is where the rogue would hear KR's input.
    let kr_admin = connect_with(
        &aimed_at(
            &link
                .credentials(Role::Admin(Site::Hub, Nation::Kr))
                .unwrap(),
            vec![link.server(hub(0)).unwrap().client_url()],
            Some(link.ca_file()),
        ),
        async_nats::ConnectOptions::new(),
    )
    .await
    .unwrap();
    for (i, url) in [
        format!("nats-route://127.0.0.1:{hub0_cluster}"),
        format!("nats-route://route:{route_pw}@127.0.0.1:{hub0_cluster}"),
    ]
    .into_iter()
    .enumerate()
    {
        let ports = (
            free_port().unwrap(),
            free_port().unwrap(),
            free_port().unwrap(),
        );
        let conf = rogue_route_conf(&link, "leaf-jp", &url, ports);
        let rogue = link
            .spawn_extra(&format!("rogue-route-{i}"), &conf, ports.0, ports.1)
            .unwrap();
        // Give it time to try (the route reconnects every second).
        tokio::time::sleep(Duration::from_secs(4)).await;
        let spy = async_nats::ConnectOptions::new()
            .user_and_password("spy".into(), "spy".into())
            .connect(rogue.client_url())
            .await
            .unwrap();
        let mut sub = spy.subscribe("tl.in.kr.>").await.unwrap();
        spy.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        kr_admin
            .publish("tl.in.kr.launch_detection", "secret".into())
            .await
            .unwrap();
        kr_admin.flush().await.unwrap();
        let leaked =
            tokio::time::timeout(Duration::from_secs(2), futures::StreamExt::next(&mut sub))
                .await
                .is_ok();
        assert!(
            !leaked,
            "attempt {i} ({url}): KR's raw input reached the rogue route"
        );
        assert_eq!(
            rogue.route_count().await.unwrap(),
            0,
            "attempt {i}: rogue has a route"
        );
        for (n, before) in routes_before.iter().enumerate() {
            let now = link.server(hub(n)).unwrap().route_count().await.unwrap();
            assert_eq!(
                now, *before,
                "attempt {i}: hub-{n} routes {before} -> {now}"
            );
        }
    }
}

fn hub(i: usize) -> trilink_integration_tests::trilink_brokers::ServerId {
    trilink_integration_tests::trilink_brokers::ServerId::hub(i)
}

// ------------------------------------------------------------------------------- relay rules

/// The relay in-process, with the link's own relay configuration and the default policy.
async fn start_relay(link: &Link) -> RelayTask {
    start_relay_with(link, |_| {}).await
}

/// [`start_relay`] with `tweak` applied to the link's relay configuration.
async fn start_relay_with(
    link: &Link,
    tweak: impl FnOnce(&mut trilink_relay::RelayConfig),
) -> RelayTask {
    let mut config = trilink_local_link::configs::relay_config(link).unwrap();
    tweak(&mut config);
    let policy = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../broker-config/policies/default-trilateral.toml");
    RelayTask::start(config, policy, Duration::from_secs(20)).await
}

fn env_of(origin: Nation, kind: PayloadKind, seq: u64) -> Envelope {
    envelope(&SampleSpec {
        origin,
        kind,
        mode: Mode::Exercise,
        releasability: Nation::ALL.into_iter().collect::<BTreeSet<_>>(),
        seq,
        observed_at: Utc::now() - chrono::Duration::seconds(2),
        point: GeoPoint {
            lat_deg: 39.0,
            lon_deg: 127.5,
            alt_m: 50_000.0,
        },
    })
    .unwrap()
}

/// JetStream as nation `n`'s adapter, in its own site's domain.
async fn adapter_js(link: &Link, n: Nation) -> jetstream::Context {
    let client = link.connect(Role::Adapter(n)).await.unwrap();
    match n {
        Nation::Us => jetstream::new(client),
        n => jetstream::with_domain(client, n.as_str()),
    }
}

async fn send(js: &jetstream::Context, e: &Envelope) {
    let subject = trilink_schema::Subject::input_for(e).to_string();
    js.publish(subject, e.to_json().unwrap().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// Dead letters of the relay for input of `origin` (stream `DLQ_US` in that account at the
/// hub): `(message id, reason)`.
async fn relay_dead_letters(link: &Link, origin: Nation) -> Vec<(String, String)> {
    let client = admin(link, Site::Hub, origin).await;
    let js = jetstream::new(client);
    let mut s = js.get_stream("DLQ_US").await.unwrap();
    let state = s.info().await.unwrap().state.clone();
    let mut out = Vec::new();
    if state.messages == 0 {
        return out;
    }
    for seq in state.first_sequence..=state.last_sequence {
        if let Ok(m) = s.get_raw_message(seq).await {
            let reason = m
                .headers
                .get("Tl-Reason")
                .map(|v| v.as_str().to_owned())
                .unwrap_or_default();
            let id = Envelope::from_json(&m.payload)
                .map(|e| e.message_id.to_string())
                .unwrap_or_default();
            out.push((id, reason));
        }
    }
    out
}

/// Track ids are chosen by national systems; JP reusing US's track id must neither replace
/// nor evict US's track in KR's latest-per-track stream: both tracks are kept, each under its
/// origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nation_cannot_evict_another_nations_track() {
    a_nation_cannot_evict_another_nations_track_on(1).await;
}

/// [`a_nation_cannot_evict_another_nations_track`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nation_cannot_evict_another_nations_track_on_the_clustered_hub() {
    a_nation_cannot_evict_another_nations_track_on(3).await;
}

async fn a_nation_cannot_evict_another_nations_track_on(hub_nodes: usize) {
    let link = start_link(hub_nodes).await;
    let relay = start_relay(&link).await;
    let mut us_track = env_of(Nation::Us, PayloadKind::TrackUpdate, 1);
    let mut jp_track = env_of(Nation::Jp, PayloadKind::TrackUpdate, 2);
    let id = TrackId::new("US-T0001").unwrap();
    for e in [&mut us_track, &mut jp_track] {
        if let trilink_schema::Payload::TrackUpdate(t) = &mut e.payload {
            t.track_id = id.clone();
        }
    }
    send(&adapter_js(&link, Nation::Us).await, &us_track).await;
    // In order: the US update is stored at the hub before JP tries to replace it.
    let kr_hub = jetstream::new(admin(&link, Site::Hub, Nation::Kr).await);
    let ok = wait_for(Duration::from_secs(20), || async {
        let msgs = read_stream(&kr_hub, "OUT_KR").await.ok()?;
        msgs.iter()
            .any(|m| m.subject.starts_with("tl.out.kr.track_update."))
            .then_some(())
    })
    .await;
    assert!(ok.is_some(), "the US track never reached OUT_KR");
    send(&adapter_js(&link, Nation::Jp).await, &jp_track).await;
    let subjects = wait_for(Duration::from_secs(20), || async {
        let msgs = read_stream(&kr_hub, "OUT_KR").await.ok()?;
        let s: BTreeSet<String> = msgs
            .into_iter()
            .map(|m| m.subject)
            .filter(|s| s.starts_with("tl.out.kr.track_update."))
            .collect();
        (s.len() >= 2).then_some(s)
    })
    .await
    .expect("both tracks are kept in OUT_KR");
    assert_eq!(
        subjects,
        BTreeSet::from([
            "tl.out.kr.track_update.jp.US-T0001".to_owned(),
            "tl.out.kr.track_update.us.US-T0001".to_owned(),
        ])
    );
    relay.stop_within(Duration::from_secs(15)).await;
}

/// Input the relay must refuse though each message is valid on its own: a forged provenance
/// hop, a cancel and a correction of KR's message sent by JP, and a reference list far beyond
/// the cap. Each is dead-lettered with its own reason and nothing of it reaches KR or US; the
/// same kinds of message that stay inside JP's own data are delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refuses_forged_provenance_and_foreign_or_oversized_references() {
    relay_refuses_forged_provenance_and_foreign_or_oversized_references_on(1).await;
}

/// [`relay_refuses_forged_provenance_and_foreign_or_oversized_references`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_refuses_forged_provenance_and_foreign_or_oversized_references_on_the_clustered_hub()
{
    relay_refuses_forged_provenance_and_foreign_or_oversized_references_on(3).await;
}

async fn relay_refuses_forged_provenance_and_foreign_or_oversized_references_on(hub_nodes: usize) {
    let link = start_link(hub_nodes).await;
    let relay = start_relay(&link).await;
    let jp = adapter_js(&link, Nation::Jp).await;
    let kr = adapter_js(&link, Nation::Kr).await;

    let kr_launch = env_of(Nation::Kr, PayloadKind::LaunchDetection, 10);
    let jp_launch = env_of(Nation::Jp, PayloadKind::LaunchDetection, 11);
    send(&kr, &kr_launch).await;
    send(&jp, &jp_launch).await;
    // Both are through the relay (seen at US) before JP references them.
    let us_hub = jetstream::new(admin(&link, Site::Hub, Nation::Us).await);
    let seen = wait_for(Duration::from_secs(30), || async {
        let msgs = read_stream(&us_hub, "OUT_US").await.ok()?;
        // The hub's common picture (issue 15) shares the stream: count the launches only.
        let launches = msgs
            .iter()
            .filter(|m| !m.subject.contains(".common_event."))
            .count();
        (launches >= 2).then_some(())
    })
    .await;
    assert!(seen.is_some(), "the two launches never reached OUT_US");

    let mut forged_hop = env_of(Nation::Jp, PayloadKind::LaunchDetection, 12);
    forged_hop.provenance.push(trilink_schema::Hop {
        site: Nation::Us,
        component: "relay-1".into(),
        at: forged_hop.ingested_at,
    });
    let mut foreign_cancel = env_of(Nation::Jp, PayloadKind::Cancel, 13);
    foreign_cancel.references = vec![kr_launch.message_id];
    let mut foreign_correction = env_of(Nation::Jp, PayloadKind::Correction, 14);
    foreign_correction.references = vec![kr_launch.message_id];
    let mut huge = env_of(Nation::Jp, PayloadKind::Cancel, 15);
    huge.references = (0..20_000)
        .map(|i| MessageId::derive(Nation::Jp, "FPS-5", &format!("ref-{i}")))
        .collect();
    let mut own_cancel = env_of(Nation::Jp, PayloadKind::Cancel, 16);
    own_cancel.references = vec![jp_launch.message_id];
    for e in [
        &forged_hop,
        &foreign_cancel,
        &foreign_correction,
        &huge,
        &own_cancel,
    ] {
        send(&jp, e).await;
    }
    let want = [
        (forged_hop.message_id, "forged_provenance"),
        (foreign_cancel.message_id, "foreign_reference"),
        (foreign_correction.message_id, "foreign_reference"),
        (huge.message_id, "too_many_references"),
    ];
    let dead = wait_for(Duration::from_secs(30), || async {
        let d = relay_dead_letters(&link, Nation::Jp).await;
        (d.len() >= want.len()).then_some(d)
    })
    .await
    .expect("four dead letters");
    for (id, reason) in want {
        assert!(
            dead.contains(&(id.to_string(), reason.to_owned())),
            "{id} not dead-lettered as {reason}: {dead:?}"
        );
    }
    // JP's own cancel is delivered (to US); none of the refused messages is.
    let delivered = wait_for(Duration::from_secs(20), || async {
        let msgs = read_stream(&us_hub, "OUT_US").await.ok()?;
        let ids: BTreeSet<String> = msgs
            .iter()
            .filter_map(|m| Envelope::from_json(m.payload.as_bytes()).ok())
            .map(|e| e.message_id.to_string())
            .collect();
        ids.contains(&own_cancel.message_id.to_string())
            .then_some(ids)
    })
    .await
    .expect("JP's cancel of its own launch is delivered");
    for (id, _) in want {
        assert!(!delivered.contains(&id.to_string()), "{id} was delivered");
    }
    relay.stop_within(Duration::from_secs(15)).await;
}

/// `reference_ids` reaches the live relay's book: with room for one id, JP's launch pushes KR's
/// out, and JP's cancel of KR's launch can no longer be checked and is relayed — the residual
/// risk broker-config/SECURITY.md names for references beyond the book. (With the default the
/// same cancel is dead-lettered, [`relay_refuses_forged_provenance_and_foreign_or_oversized_references`].)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_beyond_the_relays_book_cannot_be_checked() {
    let link = start_link(1).await;
    let relay = start_relay_with(&link, |c| c.reference_ids = 1).await;
    let jp = adapter_js(&link, Nation::Jp).await;
    let kr = adapter_js(&link, Nation::Kr).await;
    let us_hub = jetstream::new(admin(&link, Site::Hub, Nation::Us).await);
    let delivered = |id: MessageId| {
        let us_hub = us_hub.clone();
        async move {
            let msgs = read_stream(&us_hub, "OUT_US").await.ok()?;
            msgs.iter()
                .filter_map(|m| Envelope::from_json(m.payload.as_bytes()).ok())
                .any(|e| e.message_id == id)
                .then_some(())
        }
    };

    // One after the other, so the book records KR's launch first.
    let kr_launch = env_of(Nation::Kr, PayloadKind::LaunchDetection, 30);
    send(&kr, &kr_launch).await;
    let seen = wait_for(Duration::from_secs(30), || delivered(kr_launch.message_id)).await;
    assert!(seen.is_some(), "KR's launch never reached OUT_US");
    let jp_launch = env_of(Nation::Jp, PayloadKind::LaunchDetection, 31);
    send(&jp, &jp_launch).await;
    let seen = wait_for(Duration::from_secs(30), || delivered(jp_launch.message_id)).await;
    assert!(seen.is_some(), "JP's launch never reached OUT_US");

    let mut foreign_cancel = env_of(Nation::Jp, PayloadKind::Cancel, 32);
    foreign_cancel.references = vec![kr_launch.message_id];
    send(&jp, &foreign_cancel).await;
    let seen = wait_for(Duration::from_secs(30), || {
        delivered(foreign_cancel.message_id)
    })
    .await;
    let dead = relay_dead_letters(&link, Nation::Jp).await;
    assert!(
        seen.is_some(),
        "JP's cancel of KR's forgotten launch was not relayed; dead letters: {dead:?}"
    );
    assert!(dead.is_empty(), "{dead:?}");
    relay.stop_within(Duration::from_secs(15)).await;
}

// ------------------------------------------------------------------------------- JetStream

/// A JetStream API request; `Ok(reply)` or `Err(why there was none)`.
async fn js_api(client: &async_nats::Client, subject: &str, body: &str) -> Result<String, String> {
    js_api_within(client, subject, body, Duration::from_secs(3)).await
}

/// [`js_api`] waiting at most `patience` for the answer.
async fn js_api_within(
    client: &async_nats::Client,
    subject: &str,
    body: &str,
    patience: Duration,
) -> Result<String, String> {
    match tokio::time::timeout(
        patience,
        client.request(subject.to_owned(), body.to_owned().into()),
    )
    .await
    {
        Ok(Ok(m)) => Ok(String::from_utf8_lossy(&m.payload).into_owned()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

/// Streams of `account` at the hub, by name.
async fn hub_streams(link: &Link, account: Nation) -> BTreeSet<String> {
    let js = jetstream::new(admin(link, Site::Hub, account).await);
    let mut names = js.stream_names();
    let mut out = BTreeSet::new();
    while let Some(n) = futures::StreamExt::next(&mut names).await {
        out.insert(n.unwrap());
    }
    out
}

/// JP's own operations user, on JP's own leaf (where it may do anything in account JP),
/// reaches across the leaf link into the hub's JetStream domain: stream create (a 49 GiB one),
/// update, purge, delete, account purge, a consumer of its choosing on the relay's input. The
/// hub's permissions on the JP leaf connection drop every one of them: no reply, nothing
/// changed at the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_leaf_cannot_manage_streams_at_the_hub() {
    jp_leaf_cannot_manage_streams_at_the_hub_on(1).await;
}

/// [`jp_leaf_cannot_manage_streams_at_the_hub`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_leaf_cannot_manage_streams_at_the_hub_on_the_clustered_hub() {
    jp_leaf_cannot_manage_streams_at_the_hub_on(3).await;
}

async fn jp_leaf_cannot_manage_streams_at_the_hub_on(hub_nodes: usize) {
    let link = start_link(hub_nodes).await;
    let before = hub_streams(&link, Nation::Jp).await;
    assert!(
        before.contains("IN_JP") && before.contains("OUT_JP"),
        "{before:?}"
    );
    let jp_admin = admin(&link, Site::Jp, Nation::Jp).await;
    // The JP leaf's own domain answers (the client and request path work).
    let own = js_api(&jp_admin, "$JS.jp.API.INFO", "").await;
    assert!(own.is_ok(), "JP leaf's own JetStream API: {own:?}");
    let big = r#"{"name":"EVIL","subjects":["evil.>"],"max_bytes":52613349376,"storage":"file","num_replicas":1}"#;
    let attempts = [
        ("$JS.hub.API.STREAM.CREATE.EVIL", big),
        (
            "$JS.hub.API.STREAM.UPDATE.OUT_JP",
            r#"{"name":"OUT_JP","subjects":["tl.out.jp.*.*.*"],"max_bytes":1}"#,
        ),
        ("$JS.hub.API.STREAM.PURGE.OUT_JP", ""),
        ("$JS.hub.API.STREAM.DELETE.IN_JP", ""),
        ("$JS.hub.API.ACCOUNT.PURGE.JP", ""),
        (
            "$JS.hub.API.CONSUMER.DURABLE.CREATE.IN_JP.evil",
            r#"{"stream_name":"IN_JP","config":{"durable_name":"evil","ack_policy":"none","deliver_subject":"tl.dlq.us"}}"#,
        ),
    ];
    // (Domain-less `$JS.API.*` on the leaf is the JP leaf's own JetStream: JP's business.)
    for (subject, body) in attempts {
        let r = js_api(&jp_admin, subject, body).await;
        assert!(r.is_err(), "{subject} answered: {r:?}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(hub_streams(&link, Nation::Jp).await, before);
    let js = jetstream::new(admin(&link, Site::Hub, Nation::Jp).await);
    let mut input = js.get_stream("IN_JP").await.unwrap();
    let consumers: Vec<String> = {
        let mut names = input.consumer_names();
        let mut v = Vec::new();
        while let Some(n) = futures::StreamExt::next(&mut names).await {
            v.push(n.unwrap());
        }
        v
    };
    assert!(!consumers.contains(&"evil".to_owned()), "{consumers:?}");
    let max_bytes = js
        .get_stream("OUT_JP")
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .config
        .max_bytes;
    assert!(max_bytes > 1, "OUT_JP was updated to max_bytes {max_bytes}");
    let _ = input.info().await.unwrap();
}

/// [`leaf_reaches_only_its_own_durable_at_the_hub_on`] from the KR leaf (bounded by the hub's
/// `LEAF_KR`): KR's operations user reaches adapter-kr's durable on `OUT_KR` and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_leaf_reaches_only_its_own_durable_at_the_hub() {
    leaf_reaches_only_its_own_durable_at_the_hub_on(Nation::Kr, 1).await;
}

/// [`kr_leaf_reaches_only_its_own_durable_at_the_hub`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_leaf_reaches_only_its_own_durable_at_the_hub_on_the_clustered_hub() {
    leaf_reaches_only_its_own_durable_at_the_hub_on(Nation::Kr, 3).await;
}

/// [`leaf_reaches_only_its_own_durable_at_the_hub_on`] from the JP leaf (bounded by the hub's
/// `LEAF_JP`): JP's operations user reaches adapter-jp's durable on `OUT_JP` and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_leaf_reaches_only_its_own_durable_at_the_hub() {
    leaf_reaches_only_its_own_durable_at_the_hub_on(Nation::Jp, 1).await;
}

/// [`jp_leaf_reaches_only_its_own_durable_at_the_hub`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_leaf_reaches_only_its_own_durable_at_the_hub_on_the_clustered_hub() {
    leaf_reaches_only_its_own_durable_at_the_hub_on(Nation::Jp, 3).await;
}

/// Pull one message from `stream` through its existing durable `durable`, leaving it unacked
/// (in flight); its ack subject.
async fn pull_one_unacked(js: &jetstream::Context, stream: &str, durable: &str) -> String {
    use futures::StreamExt as _;
    let consumer: jetstream::consumer::PullConsumer =
        js.get_consumer_from_stream(durable, stream).await.unwrap();
    for _ in 0..20 {
        let mut batch = consumer
            .fetch()
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
            .await
            .unwrap();
        if let Some(m) = batch.next().await {
            let m = m.unwrap();
            return m.reply.as_ref().unwrap().to_string();
        }
    }
    panic!("nothing to pull from {stream}/{durable}");
}

/// `(num_ack_pending, num_pending)` of durable `durable` on `stream`, asked by the hub admin.
async fn in_flight(link: &Link, account: Nation, stream: &str, durable: &str) -> (usize, u64) {
    let js = jetstream::new(admin(link, Site::Hub, account).await);
    let mut c: jetstream::consumer::PullConsumer =
        js.get_consumer_from_stream(durable, stream).await.unwrap();
    let info = c.info().await.unwrap();
    (info.num_ack_pending, info.num_pending)
}

/// A partner nation's leaf operator — `nation`'s (JP's or KR's) own operations user on its own
/// leaf, unrestricted there — uses the leaf's link to the hub, which carries `adapter-<n>`'s
/// reading of the hub's `OUT_<N>` (issue 17, no leaf copy); what bounds it is the hub's
/// `LEAF_JP` / `LEAF_KR`. Even with replies on `adapter-<n>`'s own inbox prefix
/// `_INBOX_adapter-<n>` (the one the hub lets back to the leaf, proven by a lookup of its
/// durable that is answered), it gets no answer for reading from, looking up or creating a
/// consumer on `OUT_US` or the other partner's output (`OUT_KR` for JP, `OUT_JP` for KR:
/// other accounts), for fetching from the relay's input `IN_<N>.relay`, for creating a consumer
/// on `OUT_<N>`, re-creating (resetting) or deleting its own durable `adapter-<n>`, or purging
/// `OUT_<N>`; and its acks of messages in flight with the relay (on `IN_<N>`) or with
/// adapter-us change nothing.
async fn leaf_reaches_only_its_own_durable_at_the_hub_on(nation: Nation, hub_nodes: usize) {
    // The insider's leaf and the other partner; every stream and durable is named from them.
    let (site, other) = match nation {
        Nation::Jp => (Site::Jp, Nation::Kr),
        Nation::Kr => (Site::Kr, Nation::Jp),
        Nation::Us => panic!("the US has no leaf"),
    };
    let (n, o) = (nation.as_str(), other.as_str());
    let (up, other_up) = (n.to_ascii_uppercase(), o.to_ascii_uppercase());
    let out = format!("OUT_{up}");
    let input = format!("IN_{up}");
    let durable = format!("adapter-{n}");
    let other_out = format!("OUT_{other_up}");
    let other_durable = format!("adapter-{o}");
    let leaf = format!("{up} leaf");

    let link = start_link(hub_nodes).await;
    // Something released to the insider and to US (a purge would show), and inputs in flight:
    // the insider's input pulled by the relay, a US output pulled by adapter-us, neither acked.
    for (to, subject) in [
        (nation, format!("tl.out.{n}.launch_detection.{o}.x-1")),
        (Nation::Us, format!("tl.out.us.launch_detection.{o}.x-1")),
    ] {
        let relay = jetstream::new(link.connect(Role::Relay(to)).await.unwrap());
        relay
            .publish(subject, "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    send(
        &adapter_js(&link, nation).await,
        &env_of(nation, PayloadKind::LaunchDetection, 1),
    )
    .await;
    let relay = jetstream::new(link.connect(Role::Relay(nation)).await.unwrap());
    let relay_ack = pull_one_unacked(&relay, &input, "relay").await;
    let adapter_us = jetstream::new(link.connect(Role::Adapter(Nation::Us)).await.unwrap());
    let us_ack = pull_one_unacked(&adapter_us, "OUT_US", "adapter-us").await;
    let relay_before = in_flight(&link, nation, &input, "relay").await;
    let us_before = in_flight(&link, Nation::Us, "OUT_US", "adapter-us").await;
    assert_eq!(relay_before.0, 1, "relay's input in flight");
    assert_eq!(us_before.0, 1, "adapter-us's output in flight");

    // The leaf's operations user, replies on its adapter's inbox prefix.
    let creds = link.credentials(Role::Admin(site, nation)).unwrap();
    let mut opts = async_nats::ConnectOptions::new()
        .user_and_password(creds.user.clone(), creds.password.clone())
        .custom_inbox_prefix(format!("_INBOX_{durable}"))
        .connection_timeout(Duration::from_secs(5));
    if let Some(ca) = &creds.ca_file {
        opts = opts.add_root_certificates(ca.clone()).require_tls(true);
    }
    let insider = opts.connect(creds.urls.as_slice()).await.unwrap();
    // What its adapter needs is answered (so each refusal below is the permission's).
    let own = js_api(
        &insider,
        &format!("$JS.hub.API.CONSUMER.INFO.{out}.{durable}"),
        "",
    )
    .await;
    assert!(
        own.as_deref().is_ok_and(|r| r.contains(durable.as_str())),
        "{durable}'s durable at the hub through the {leaf}: {own:?}"
    );
    let next = r#"{"batch":1,"no_wait":true}"#;
    let evil = |stream: &str, name: &str| {
        format!(
            r#"{{"stream_name":"{stream}","config":{{"durable_name":"{name}","ack_policy":"none","deliver_policy":"all","filter_subject":"tl.>"}}}}"#
        )
    };
    let attempts = [
        // Another account's outputs: read, look up, create.
        (
            "$JS.hub.API.CONSUMER.MSG.NEXT.OUT_US.adapter-us".to_owned(),
            next.to_owned(),
        ),
        (
            "$JS.hub.API.CONSUMER.INFO.OUT_US.adapter-us".to_owned(),
            String::new(),
        ),
        (
            format!("$JS.hub.API.CONSUMER.MSG.NEXT.{other_out}.{other_durable}"),
            next.to_owned(),
        ),
        (
            format!("$JS.hub.API.CONSUMER.INFO.{other_out}.{other_durable}"),
            String::new(),
        ),
        (
            "$JS.hub.API.CONSUMER.CREATE.OUT_US.evil".to_owned(),
            evil("OUT_US", "evil"),
        ),
        (
            format!("$JS.hub.API.CONSUMER.CREATE.{other_out}.evil"),
            evil(&other_out, "evil"),
        ),
        (
            format!("$JS.hub.API.CONSUMER.DURABLE.CREATE.{other_out}.evil"),
            evil(&other_out, "evil"),
        ),
        // Its own account: the relay's input, another consumer, its durable reset or deleted,
        // its outputs purged.
        (
            format!("$JS.hub.API.CONSUMER.MSG.NEXT.{input}.relay"),
            next.to_owned(),
        ),
        (
            format!("$JS.hub.API.CONSUMER.CREATE.{out}.evil"),
            evil(&out, "evil"),
        ),
        (
            format!("$JS.hub.API.CONSUMER.CREATE.{out}"),
            evil(&out, "evil"),
        ),
        (
            format!("$JS.hub.API.CONSUMER.DURABLE.CREATE.{out}.evil"),
            evil(&out, "evil"),
        ),
        (
            format!("$JS.hub.API.CONSUMER.CREATE.{out}.{durable}"),
            evil(&out, &durable),
        ),
        (
            format!("$JS.hub.API.CONSUMER.DELETE.{out}.{durable}"),
            String::new(),
        ),
        (format!("$JS.hub.API.STREAM.PURGE.{out}"), String::new()),
    ];
    for (subject, body) in &attempts {
        let r = js_api_within(&insider, subject, body, Duration::from_secs(2)).await;
        assert!(r.is_err(), "{subject} answered through the {leaf}: {r:?}");
    }
    // Acks of what others hold in flight (the relay's input, adapter-us's output).
    for ack in [&relay_ack, &us_ack] {
        insider.publish(ack.clone(), "".into()).await.unwrap();
    }
    insider.flush().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        in_flight(&link, nation, &input, "relay").await,
        relay_before,
        "the relay's input was acked or taken from the {leaf}"
    );
    assert_eq!(
        in_flight(&link, Nation::Us, "OUT_US", "adapter-us").await,
        us_before,
        "adapter-us's output was acked from the {leaf}"
    );
    // Nothing changed at the hub: OUT_<N> keeps its message, adapter-<n> its settings, and no
    // consumer was added anywhere.
    for (account, stream, stream_durable) in [
        (nation, out.as_str(), durable.as_str()),
        (nation, input.as_str(), "relay"),
        (other, other_out.as_str(), other_durable.as_str()),
        (Nation::Us, "OUT_US", "adapter-us"),
    ] {
        let js = jetstream::new(admin(&link, Site::Hub, account).await);
        let mut st = js.get_stream(stream).await.unwrap();
        let mut names = st.consumer_names();
        let mut got = Vec::new();
        while let Some(n) = futures::StreamExt::next(&mut names).await {
            got.push(n.unwrap());
        }
        assert_eq!(got, [stream_durable], "{stream} consumers");
        if stream == out {
            assert_eq!(st.info().await.unwrap().state.messages, 1, "{out} purged");
            let mut c: jetstream::consumer::PullConsumer =
                js.get_consumer_from_stream(&durable, &out).await.unwrap();
            let info = c.info().await.unwrap();
            assert_eq!(
                info.config.deliver_policy,
                jetstream::consumer::DeliverPolicy::All
            );
            assert_eq!(
                info.config.ack_policy,
                jetstream::consumer::AckPolicy::Explicit
            );
            assert_eq!(info.num_pending, 1, "{durable}'s durable was reset or read");
        }
    }
}

/// Even the hub's own operations user of JP (a US-held secret) cannot make JP's account take
/// another nation's storage: a 49 GiB stream is refused by JP's account limit, a stream beyond
/// the planned ones by its stream count; KR's streams are then still created and updated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_account_can_take_another_accounts_storage() {
    no_account_can_take_another_accounts_storage_on(1).await;
}

/// [`no_account_can_take_another_accounts_storage`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_account_can_take_another_accounts_storage_on_the_clustered_hub() {
    no_account_can_take_another_accounts_storage_on(3).await;
}

/// How many streams the built-in plan gives `n`'s account at the hub.
fn planned(n: Nation) -> usize {
    trilink_brokers::streams::StreamPlan::builtin()
        .unwrap()
        .for_site(Site::Hub, n)
        .count()
}

async fn no_account_can_take_another_accounts_storage_on(hub_nodes: usize) {
    let replicas = if hub_nodes >= 3 { 3 } else { 1 };
    let link = start_link(hub_nodes).await;
    let hub_admin = admin(&link, Site::Hub, Nation::Jp).await;
    let small = r#"{"name":"EXTRA","subjects":["extra.>"],"max_bytes":1048576,"storage":"file","num_replicas":1}"#;
    let r = js_api(&hub_admin, "$JS.hub.API.STREAM.CREATE.EXTRA", small)
        .await
        .unwrap();
    assert!(
        r.contains("10027") || r.contains("maximum number of streams"),
        "6th stream: {r}"
    );
    // With a stream slot free, the size limit is what refuses a 49 GiB stream.
    let r = js_api(&hub_admin, "$JS.hub.API.STREAM.DELETE.DLQ_US", "")
        .await
        .unwrap();
    assert!(r.contains("\"success\":true"), "{r}");
    let big = r#"{"name":"HOG","subjects":["hog.>"],"max_bytes":52613349376,"storage":"file","num_replicas":1}"#;
    let r = js_api(&hub_admin, "$JS.hub.API.STREAM.CREATE.HOG", big)
        .await
        .unwrap();
    assert!(
        r.contains("10047") || r.contains("insufficient"),
        "49 GiB stream: {r}"
    );
    assert!(!hub_streams(&link, Nation::Jp).await.contains("HOG"));
    assert_eq!(
        link.ensure_streams_retrying(Site::Hub, Nation::Jp, replicas)
            .await
            .unwrap()
            .len(),
        planned(Nation::Jp)
    );
    // KR's planned streams (1 GiB each) are still ensured.
    let kr = link
        .ensure_streams_retrying(Site::Hub, Nation::Kr, replicas)
        .await
        .unwrap();
    assert_eq!(kr.len(), planned(Nation::Kr), "{kr:?}");
}

/// Adapters and the relay read through a durable the operations user made; they may not make
/// one themselves (a push consumer's deliver subject would make the server publish into
/// `tl.dlq.us` or anywhere else in the account), and they hear no replies but their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_cannot_create_consumers_or_hear_other_inboxes() {
    readers_cannot_create_consumers_or_hear_other_inboxes_on(1).await;
}

/// [`readers_cannot_create_consumers_or_hear_other_inboxes`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_cannot_create_consumers_or_hear_other_inboxes_on_the_clustered_hub() {
    readers_cannot_create_consumers_or_hear_other_inboxes_on(3).await;
}

async fn readers_cannot_create_consumers_or_hear_other_inboxes_on(hub_nodes: usize) {
    use trilink_integration_tests::ProbeClient;
    let link = start_link(hub_nodes).await;
    let cases = [
        (Role::Adapter(Nation::Jp), "OUT_JP", "tl.dlq.jp"),
        (Role::Adapter(Nation::Kr), "OUT_KR", "tl.dlq.kr"),
        (Role::Adapter(Nation::Us), "OUT_US", "tl.dlq.us"),
        (Role::Relay(Nation::Jp), "IN_JP", "tl.dlq.us"),
        (Role::Relay(Nation::Us), "IN_US", "tl.dlq.us"),
    ];
    for (role, stream, deliver) in cases {
        let creds = link.credentials(role).unwrap();
        let probe = ProbeClient::connect(&creds).await.unwrap();
        let c = &probe.client;
        let body = format!(
            r#"{{"stream_name":"{stream}","config":{{"durable_name":"evil","ack_policy":"none","deliver_subject":"{deliver}"}}}}"#
        );
        let mut create = vec![
            format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.evil"),
            format!("$JS.API.CONSUMER.CREATE.{stream}"),
            format!("$JS.API.CONSUMER.CREATE.{stream}.evil"),
            format!("$JS.API.CONSUMER.CREATE.{stream}.evil.tl.>"),
        ];
        if matches!(role, Role::Adapter(Nation::Jp | Nation::Kr)) {
            // Its stream is the hub's (domain `hub`, through the leaf).
            create.extend([
                format!("$JS.hub.API.CONSUMER.DURABLE.CREATE.{stream}.evil"),
                format!("$JS.hub.API.CONSUMER.CREATE.{stream}.evil"),
            ]);
        }
        for subject in &create {
            // A refused publish gets no answer (the server reports the violation instead).
            let r = js_api_within(c, subject, &body, Duration::from_millis(500)).await;
            assert!(r.is_err(), "{}: {subject} answered {r:?}", creds.user);
        }
        let _sub = c.subscribe("_INBOX.>").await.unwrap();
        c.flush().await.unwrap();
        let ok = wait_for(Duration::from_secs(5), || async {
            (probe.violated("subscription", "_INBOX.>")
                && create.iter().all(|s| probe.violated("publish", s)))
            .then_some(())
        })
        .await;
        assert!(ok.is_some(), "{}: {:?}", creds.user, probe.errors());
        // The durable it needs is there and usable (a lookup the permissions allow): the JP
        // and KR adapters' at the hub, through their leaf (issue 17).
        let js = match role {
            Role::Adapter(Nation::Jp | Nation::Kr) => jetstream::with_domain(c.clone(), "hub"),
            _ => jetstream::new(c.clone()),
        };
        let durable = match role {
            Role::Relay(_) => "relay".to_owned(),
            _ => creds.user.clone(),
        };
        let got: Result<jetstream::consumer::PullConsumer, _> =
            js.get_consumer_from_stream(&durable, stream).await;
        assert!(
            got.is_ok(),
            "{}: its durable {durable}: {:?}",
            creds.user,
            got.err()
        );
    }
    let jp = jetstream::new(admin(&link, Site::Hub, Nation::Jp).await);
    let mut out = jp.get_stream("OUT_JP").await.unwrap();
    let mut names = out.consumer_names();
    while let Some(n) = futures::StreamExt::next(&mut names).await {
        assert_ne!(n.unwrap(), "evil");
    }
    let _ = out.info().await.unwrap();
}

// ------------------------------------------------------------------------------- transport

/// The hub's client port speaks TLS only: a client that sends its CONNECT (with a password) in
/// plaintext gets no session — the password never crosses the wire in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_client_port_refuses_plaintext() {
    the_hub_client_port_refuses_plaintext_on(1).await;
}

/// [`the_hub_client_port_refuses_plaintext`] on the 3-node hub (R3 streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_client_port_refuses_plaintext_on_the_clustered_hub() {
    the_hub_client_port_refuses_plaintext_on(3).await;
}

async fn the_hub_client_port_refuses_plaintext_on(hub_nodes: usize) {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    let link = start_link(hub_nodes).await;
    let creds = link.credentials(Role::Relay(Nation::Jp)).unwrap();
    let port = link.server(hub(0)).unwrap().client_port();
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read).lines();
    let info = tokio::time::timeout(Duration::from_secs(3), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_default();
    assert!(info.starts_with("INFO "), "{info}");
    assert!(info.contains("\"tls_required\":true"), "{info}");
    let connect = format!(
        "CONNECT {{\"user\":\"{}\",\"pass\":\"{}\",\"verbose\":false,\"pedantic\":false}}\r\nPING\r\n",
        creds.user, creds.password
    );
    let _ = write.write_all(connect.as_bytes()).await;
    let mut got = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(3), lines.next_line()).await
    {
        got.push(line);
    }
    assert!(
        !got.iter().any(|l| l.starts_with("PONG")),
        "plaintext session: {got:?}"
    );
    // Control: the same credentials over TLS work.
    can_log_in(&creds).await.expect("relay-jp over TLS");
}

// ------------------------------------------------------------------------------- the doc

/// `broker-config/SECURITY.md`'s tables name the attack tests that prove each protection: every
/// test named there exists here, and every attack here is named there (so the threat model
/// never claims an untested protection, nor leaves a tested one out).
#[test]
fn the_threat_model_names_exactly_these_attacks() {
    let doc = include_str!("../../broker-config/SECURITY.md");
    let me = include_str!("attack_insider.rs");
    let named: BTreeSet<&str> = doc
        .split("attack_insider::")
        .skip(1)
        .filter_map(|rest| {
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
            rest.get(..end)
        })
        .collect();
    let mut tests = BTreeSet::new();
    let mut lines = me.lines().peekable();
    while let Some(line) = lines.next() {
        if (line.starts_with("#[tokio::test") || line == "#[test]")
            && let Some(next) = lines.peek()
            && let Some(name) = next
                .strip_prefix("async fn ")
                .or_else(|| next.strip_prefix("fn "))
                .and_then(|r| r.split('(').next())
            && !name.ends_with("_on_the_clustered_hub")
        {
            tests.insert(name);
        }
    }
    assert!(!tests.is_empty());
    let untested: Vec<_> = named.difference(&tests).collect();
    let undocumented: Vec<_> = tests.difference(&named).collect();
    assert!(
        untested.is_empty() && undocumented.is_empty(),
        "SECURITY.md names tests that do not exist: {untested:?}; attacks missing from it: {undocumented:?}"
    );
}

// ------------------------------------------------------------------------ viewer dead letters

/// A nation's read-only viewer (`trilink view`) may count its own site's dead letters and no
/// other's: `viewer-us` hears the relay's dead letters for US input (`tl.dlq.us` in the US
/// account) but never those for JP input (`tl.dlq.us` in JP's account); `viewer-kr` hears its
/// own adapter's `tl.dlq.kr` and may not even subscribe to `tl.dlq.>` or another site's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_hears_its_own_sites_dead_letters_only() {
    a_viewer_hears_its_own_sites_dead_letters_only_on(1).await;
}

/// [`a_viewer_hears_its_own_sites_dead_letters_only`] on the 3-node hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_hears_its_own_sites_dead_letters_only_on_the_clustered_hub() {
    a_viewer_hears_its_own_sites_dead_letters_only_on(3).await;
}

async fn a_viewer_hears_its_own_sites_dead_letters_only_on(hub_nodes: usize) {
    use futures::StreamExt as _;
    let link = start_link(hub_nodes).await;
    let relay = start_relay(&link).await;
    let viewer_us = trilink_integration_tests::ProbeClient::connect(
        &link.credentials(Role::Viewer(Nation::Us)).unwrap(),
    )
    .await
    .unwrap();
    let viewer_kr = trilink_integration_tests::ProbeClient::connect(
        &link.credentials(Role::Viewer(Nation::Kr)).unwrap(),
    )
    .await
    .unwrap();
    let mut us_dlq = viewer_us.client.subscribe("tl.dlq.us").await.unwrap();
    let mut kr_dlq = viewer_kr.client.subscribe("tl.dlq.kr").await.unwrap();
    let mut kr_all = viewer_kr.client.subscribe("tl.dlq.>").await.unwrap();
    let mut kr_other = viewer_kr.client.subscribe("tl.dlq.jp").await.unwrap();
    viewer_us.client.flush().await.unwrap();
    viewer_kr.client.flush().await.unwrap();

    // JP's input the relay refuses: dead-lettered inside JP's account.
    adapter_js(&link, Nation::Jp)
        .await
        .publish("tl.in.jp.track_update", "JP-SECRET-GARBAGE".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let jp = wait_for(Duration::from_secs(20), || async {
        let d = relay_dead_letters(&link, Nation::Jp).await;
        (!d.is_empty()).then_some(d)
    })
    .await;
    assert!(jp.is_some(), "the relay did not dead-letter JP's garbage");
    // US's input the relay refuses: the US viewer hears it (the permission works).
    adapter_js(&link, Nation::Us)
        .await
        .publish("tl.in.us.track_update", "US-GARBAGE".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let m = tokio::time::timeout(Duration::from_secs(20), us_dlq.next())
        .await
        .expect("the US viewer hears the US dead letter")
        .unwrap();
    assert_eq!(m.payload.as_ref(), b"US-GARBAGE");
    // KR's adapter dead-letters something at its site: the KR viewer hears it.
    let kr_adapter = link.connect(Role::Adapter(Nation::Kr)).await.unwrap();
    kr_adapter
        .publish("tl.dlq.kr", "KR-OWN".into())
        .await
        .unwrap();
    kr_adapter.flush().await.unwrap();
    let m = tokio::time::timeout(Duration::from_secs(20), kr_dlq.next())
        .await
        .expect("the KR viewer hears its own dead letter")
        .unwrap();
    assert_eq!(m.payload.as_ref(), b"KR-OWN");

    // Nothing else, ever: JP's dead letter never reached the US viewer; the KR viewer's wider
    // subscriptions were refused by the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let more = tokio::time::timeout(Duration::from_millis(200), us_dlq.next()).await;
    assert!(
        more.is_err(),
        "the US viewer heard another dead letter: {more:?}"
    );
    for sub in [&mut kr_all, &mut kr_other] {
        let got = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
        assert!(
            !matches!(got, Ok(Some(_))),
            "the KR viewer heard a dead letter outside tl.dlq.kr"
        );
    }
    assert!(
        viewer_kr.violated("subscription", "tl.dlq.>"),
        "{:?}",
        viewer_kr.errors()
    );
    assert!(
        viewer_kr.violated("subscription", "tl.dlq.jp"),
        "{:?}",
        viewer_kr.errors()
    );
    relay.stop_within(Duration::from_secs(15)).await;
}
