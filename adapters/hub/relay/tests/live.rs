//! The live relay against a real nats-server (JetStream): live result equals the offline
//! prediction, spoofing and invalid input are dead-lettered with reasons, reloads keep the old
//! policy when the new one is invalid, and a relay killed mid-stream and restarted delivers
//! every output exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use chrono::Utc;
use trilink_brokers::testing::{
    NatsServer, Stored, ensure_relay_streams, read_stream, start_nats, wait_until,
};
use trilink_relay::testing::RelayTask;
use trilink_relay::{Policy, ReferenceBook, RelayConfig, RelayIdentity, process};
use trilink_schema::testing::sample::{SampleSpec, envelope};
use trilink_schema::{Envelope, GeoPoint, Mode, Nation, PayloadKind, Subject};

fn repo(p: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../..")
        .join(p)
}

/// The relay on `config`'s server, after making sure its streams exist (a test that made its
/// own streams first keeps them).
async fn start_relay(config: RelayConfig, policy: &Path) -> RelayTask {
    ensure_relay_streams(&config.nats_url).await;
    RelayTask::start(config, policy.to_path_buf(), Duration::from_secs(10)).await
}

fn config(server: &NatsServer) -> RelayConfig {
    RelayConfig {
        nats_url: server.url(),
        component: "relay-test".into(),
        ack_wait_s: 2,
        nak_delay_ms: 200,
        ..RelayConfig::default()
    }
}

async fn publish(js: &jetstream::Context, subject: &str, msg_id: &str, body: Vec<u8>) {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", msg_id);
    js.publish_with_headers(subject.to_owned(), h, body.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

/// Publish `env` on its input subject, its message id the JetStream deduplication id.
async fn publish_input(js: &jetstream::Context, env: &Envelope) {
    publish(
        js,
        &Subject::input_for(env).to_string(),
        &env.message_id.to_string(),
        env.to_json().unwrap(),
    )
    .await;
}

/// Over the sea at 90 km: where the streamed track updates are.
const AT_SEA: GeoPoint = GeoPoint {
    lat_deg: 38.0,
    lon_deg: 130.0,
    alt_m: 90_000.0,
};

/// A sample envelope released to every nation: `kind` from `origin` in `mode`, observed
/// `age_s` seconds ago at `point`.
fn sample(
    origin: Nation,
    kind: PayloadKind,
    mode: Mode,
    seq: u64,
    age_s: i64,
    point: GeoPoint,
) -> Envelope {
    envelope(&SampleSpec {
        origin,
        kind,
        mode,
        releasability: Nation::ALL.into_iter().collect(),
        seq,
        observed_at: Utc::now() - chrono::Duration::seconds(age_s),
        point,
    })
    .unwrap()
}

async fn js_for(server: &NatsServer) -> jetstream::Context {
    let client = async_nats::connect(server.url()).await.unwrap();
    jetstream::new(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_outputs_equal_offline_prediction_and_rejects_are_dead_lettered() {
    let server = start_nats();
    let policy_path = repo("broker-config/policies/strict-trilateral.toml");
    let policy = Policy::load(&policy_path).unwrap();
    let relay = start_relay(config(&server), &policy_path).await;
    let js = js_for(&server).await;

    let capture =
        std::fs::read_to_string(repo("broker-config/policies/samples/capture.jsonl")).unwrap();
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for line in capture.lines().filter(|l| !l.trim().is_empty()) {
        let subject = Envelope::from_json(line.as_bytes()).map_or_else(
            |_| "tl.in.us.status".to_owned(),
            |e| Subject::input_for(&e).to_string(),
        );
        inputs.push((subject, line.as_bytes().to_vec()));
    }
    // A spoof: JP's launch detection published as if KR had sent it.
    let first = inputs[0].1.clone();
    inputs.push(("tl.in.kr.launch_detection".to_owned(), first));

    for (i, (subject, body)) in inputs.iter().enumerate() {
        publish(&js, subject, &format!("in-{i}"), body.clone()).await;
    }
    let control = relay.control.clone();
    let n = inputs.len() as u64;
    wait_until(20, "every input acknowledged", || {
        control.get(|s| &s.acked) == n
    })
    .await;

    // Offline prediction with the same engine.
    let mut predicted = BTreeSet::new();
    let mut predicted_rejects = BTreeMap::new();
    for (subject, body) in &inputs {
        let o = process(
            subject,
            body,
            Utc::now(),
            &policy,
            &RelayIdentity::default(),
            &ReferenceBook::default(),
        );
        for out in &o.outputs {
            predicted.insert((out.subject.clone(), out.msg_id.clone()));
        }
        if let Some(r) = o.reject {
            *predicted_rejects.entry(r.code.to_owned()).or_insert(0) += 1;
        }
    }
    assert!(predicted.len() > 10, "the sample should release something");

    // The hub's common picture is published beside the national outputs; the offline
    // prediction covers the national outputs, the picture is checked on its own below.
    let (pictures, outputs): (Vec<_>, Vec<_>) = read_stream(&js, "TL_OUT")
        .await
        .into_iter()
        .partition(|m| m.subject.contains(".common_event."));
    assert!(!pictures.is_empty(), "no common_event published");
    for m in &pictures {
        let env = Envelope::from_json(&m.payload).unwrap();
        let Subject::Out { dest, kind, .. } = Subject::parse(&m.subject).unwrap() else {
            panic!("not an output subject: {}", m.subject);
        };
        assert_eq!(kind, trilink_schema::PayloadKind::CommonEvent);
        assert_eq!(env.origin, Nation::Us);
        assert!(env.releasable_to(dest));
        assert_eq!(env.provenance.last().unwrap().component, "relay-test");
        // Strict policy: KR is real-world only, for the picture too.
        if dest == Nation::Kr {
            assert_eq!(env.mode, Mode::RealWorld, "{} picture reached KR", env.mode);
        }
    }
    let live: BTreeSet<(String, String)> = outputs
        .iter()
        .map(|m| (m.subject.clone(), m.msg_id.clone().unwrap()))
        .collect();
    assert_eq!(outputs.len(), live.len(), "duplicate outputs stored");
    assert_eq!(
        live, predicted,
        "live relay differs from offline prediction"
    );

    for m in &outputs {
        let env = Envelope::from_json(&m.payload).unwrap();
        let Subject::Out { dest, .. } = Subject::parse(&m.subject).unwrap() else {
            panic!("not an output subject: {}", m.subject);
        };
        assert!(
            env.releasable_to(dest),
            "{} not releasable to {dest}",
            m.subject
        );
        assert_ne!(dest, env.origin, "echoed to origin");
        assert!(env.relayed_at.is_some());
        let hop = env.provenance.last().unwrap();
        assert_eq!(hop.site, Nation::Us);
        assert_eq!(hop.component, "relay-test");
        assert_eq!(m.header("Tl-Schema-Version"), Some("1"));
        // Strict policy: KR is real-world only.
        if dest == Nation::Kr {
            assert_eq!(env.mode, Mode::RealWorld, "{} reached KR", env.mode);
        }
    }

    let dlq = read_stream(&js, "TL_DLQ").await;
    let mut live_rejects = BTreeMap::new();
    for m in &dlq {
        assert_eq!(m.subject, "tl.dlq.us");
        assert_eq!(m.header("Tl-Component"), Some("relay-test"));
        assert!(m.header("Tl-Detail").is_some_and(|d| !d.is_empty()));
        *live_rejects
            .entry(m.header("Tl-Reason").unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(live_rejects, predicted_rejects);
    assert_eq!(live_rejects.get("origin_mismatch"), Some(&1));
    let spoof = dlq
        .iter()
        .find(|m| m.header("Tl-Reason") == Some("origin_mismatch"))
        .unwrap();
    assert_eq!(spoof.header("Tl-Source"), Some("tl.in.kr.launch_detection"));
    assert_eq!(
        spoof.payload.as_ref(),
        inputs[0].1.as_slice(),
        "DLQ body is the original"
    );

    relay.stop().await;
}

fn exercise_launch(seq: u64) -> Envelope {
    let point = GeoPoint {
        lat_deg: 40.0,
        lon_deg: 128.0,
        alt_m: 0.0,
    };
    sample(
        Nation::Jp,
        PayloadKind::LaunchDetection,
        Mode::Exercise,
        seq,
        2,
        point,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_keeps_old_policy_when_new_one_is_invalid() {
    let server = start_nats();
    let dir = tempfile::tempdir().unwrap();
    let policy_path = dir.path().join("policy.toml");
    std::fs::copy(
        repo("broker-config/policies/default-trilateral.toml"),
        &policy_path,
    )
    .unwrap();
    let relay = start_relay(config(&server), &policy_path).await;
    let control = relay.control.clone();
    let js = js_for(&server).await;

    let send = |seq: u64| {
        let js = js.clone();
        async move {
            let env = exercise_launch(seq);
            publish_input(&js, &env).await;
            env
        }
    };
    let kr_ids = |outputs: &[Stored]| -> BTreeSet<String> {
        outputs
            .iter()
            .filter(|m| m.subject.starts_with("tl.out.kr.launch_detection."))
            .filter_map(|m| m.msg_id.clone())
            .collect()
    };

    // Default policy: KR accepts exercise traffic.
    let e1 = send(1).await;
    wait_until(10, "first input acked", || control.get(|s| &s.acked) == 1).await;

    // An invalid file: refused, counted, old policy kept.
    std::fs::write(
        &policy_path,
        "version = 1\nname = \"broken\"\n[[rule]]\nname = \"x\"\naction = \"maybe\"\n",
    )
    .unwrap();
    control.request_reload();
    wait_until(10, "failed reload counted", || {
        control.get(|s| &s.reload_failures) == 1
    })
    .await;
    assert_eq!(control.get(|s| &s.reloads), 0);
    assert_eq!(control.policy_name(), "default-trilateral");
    let e2 = send(2).await;
    wait_until(10, "second input acked", || control.get(|s| &s.acked) == 2).await;

    // A valid stricter file: KR becomes real-world only.
    std::fs::copy(
        repo("broker-config/policies/strict-trilateral.toml"),
        &policy_path,
    )
    .unwrap();
    control.request_reload();
    wait_until(10, "reload counted", || control.get(|s| &s.reloads) == 1).await;
    assert_eq!(control.policy_name(), "strict-trilateral");
    let e3 = send(3).await;
    wait_until(10, "third input acked", || control.get(|s| &s.acked) == 3).await;

    let outputs = read_stream(&js, "TL_OUT").await;
    let kr = kr_ids(&outputs);
    assert!(kr.contains(&format!("{}.kr", e1.message_id)), "{kr:?}");
    assert!(
        kr.contains(&format!("{}.kr", e2.message_id)),
        "invalid reload must keep the old policy: {kr:?}"
    );
    assert!(
        !kr.contains(&format!("{}.kr", e3.message_id)),
        "strict policy must withhold exercise traffic from KR: {kr:?}"
    );
    let us: BTreeSet<String> = outputs
        .iter()
        .filter(|m| m.subject.starts_with("tl.out.us.launch_detection."))
        .filter_map(|m| m.msg_id.clone())
        .collect();
    assert!(us.contains(&format!("{}.us", e3.message_id)));
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_mid_stream_and_restarted_delivers_each_output_exactly_once() {
    const N: u64 = 300;
    let server = start_nats();
    let policy_path = repo("broker-config/policies/default-trilateral.toml");
    let mut cfg = config(&server);
    cfg.max_in_flight = 8;
    // Create the streams, then stop, so the backlog is in place before consuming starts.
    start_relay(cfg.clone(), &policy_path).await.stop().await;

    let js = js_for(&server).await;
    for seq in 0..N {
        let origin = Nation::ALL[(seq % 3) as usize];
        let env = sample(
            origin,
            PayloadKind::TrackUpdate,
            Mode::RealWorld,
            seq,
            5,
            AT_SEA,
        );
        publish_input(&js, &env).await;
    }

    // First relay: killed (task aborted, connections dropped) part-way through.
    let first = start_relay(cfg.clone(), &policy_path).await;
    let c1 = first.control.clone();
    wait_until(20, "some progress", || c1.get(|s| &s.acked) >= N / 4).await;
    first.abort().await;
    let acked_before = c1.get(|s| &s.acked);
    assert!(
        acked_before < N,
        "the kill should come mid-stream ({acked_before})"
    );

    // Second relay on the same durable consumer finishes the backlog.
    let second = start_relay(cfg, &policy_path).await;
    let expected_outputs = N * 2; // every nation except the origin
    let out_stream = js.get_stream("TL_OUT").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n = out_stream.get_info().await.unwrap().state.messages;
        if n >= expected_outputs {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {n} outputs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let any redelivery (ack_wait 2 s) happen, then check nothing extra was stored.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (pictures, outputs): (Vec<_>, Vec<_>) = read_stream(&js, "TL_OUT")
        .await
        .into_iter()
        .partition(|m| m.subject.contains(".common_event."));
    // The hub's common picture is published beside the national outputs (its own subjects).
    assert!(!pictures.is_empty(), "no common_event published");
    let ids: BTreeSet<String> = outputs.iter().filter_map(|m| m.msg_id.clone()).collect();
    assert_eq!(
        outputs.len() as u64,
        expected_outputs,
        "duplicates or losses"
    );
    assert_eq!(ids.len() as u64, expected_outputs);
    let consumer: jetstream::consumer::PullConsumer = js
        .get_stream("TL_IN")
        .await
        .unwrap()
        .get_consumer("relay")
        .await
        .unwrap();
    let mut consumer = consumer;
    let info = consumer.info().await.unwrap();
    assert_eq!(info.num_pending, 0);
    assert_eq!(info.num_ack_pending, 0);
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_publishes_status_heartbeats() {
    use futures::StreamExt;
    let server = start_nats();
    let client = async_nats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("tl.status.us.>").await.unwrap();
    let mut cfg = config(&server);
    cfg.status_interval_s = 1;
    let relay = start_relay(cfg, &repo("broker-config/policies/default-trilateral.toml")).await;
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("no heartbeat within 5 s")
        .unwrap();
    assert_eq!(msg.subject.as_str(), "tl.status.us.relay-test");
    let env = Envelope::from_json(&msg.payload).unwrap();
    env.validate(&trilink_schema::ValidationContext::now())
        .unwrap();
    assert_eq!(env.payload.kind(), PayloadKind::Status);
    relay.stop().await;
}

/// The picture never holds up a national output (issue 15). Here no view of the common
/// picture can be stored at all (the output stream does not take `common_event` subjects, so
/// every picture store fails and is retried in place), and the relay has room for a single
/// input in flight: every national output is still stored and every input acknowledged,
/// while the picture keeps failing on its own lane. (When picture publishes shared the
/// inputs' in-flight window, the first stuck view held the only slot and nothing more was
/// relayed.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_picture_that_cannot_be_stored_never_holds_up_national_outputs() {
    const N: u64 = 20;
    let server = start_nats();
    let policy_path = repo("broker-config/policies/default-trilateral.toml");
    let js = js_for(&server).await;
    for (name, subject) in [
        ("TL_IN", "tl.in.>"),
        ("TL_OUT", "tl.out.*.track_update.>"),
        ("TL_DLQ", "tl.dlq.>"),
    ] {
        js.create_stream(jetstream::stream::Config {
            name: name.to_owned(),
            subjects: vec![subject.to_owned()],
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut cfg = config(&server);
    cfg.max_in_flight = 1;
    cfg.drain_timeout_ms = 500;
    cfg.picture.min_update_interval_ms = 0;
    cfg.picture.rebuild_window_s = 0;
    let relay = start_relay(cfg, &policy_path).await;
    for seq in 0..N {
        let env = sample(
            Nation::Jp,
            PayloadKind::TrackUpdate,
            Mode::RealWorld,
            seq,
            2,
            AT_SEA,
        );
        publish_input(&js, &env).await;
    }
    let c = relay.control.clone();
    wait_until(20, "every input acknowledged", || c.get(|s| &s.acked) >= N).await;
    wait_until(10, "picture stores tried", || {
        c.get(|s| &s.picture_errors) > 0
    })
    .await;
    assert_eq!(c.get(|s| &s.picture_published), 0, "no view can be stored");
    let outputs = read_stream(&js, "TL_OUT").await;
    assert_eq!(outputs.len() as u64, N * 2, "KR and US get every update");
    relay.stop().await;
}

/// A relay restart loses the correlator's memory; the start-up rebuild from the input stream
/// restores it: a report that arrives after the restart joins the event the first relay
/// created (same event id, both reports among its contributors), and the rebuilt relay's
/// republished views of unchanged events are duplicates, not new messages. (With
/// `rebuild_window_s = 0` the second report starts a new event and this test fails.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_relay_rebuilds_the_picture_and_keeps_event_ids() {
    let server = start_nats();
    let policy_path = repo("broker-config/policies/default-trilateral.toml");
    let cfg = config(&server);
    let js = js_for(&server).await;
    let report = |origin: Nation, kind: PayloadKind, seq: u64, age_s: i64| {
        let point = GeoPoint {
            lat_deg: 39.0,
            lon_deg: 125.7,
            alt_m: 0.0,
        };
        sample(origin, kind, Mode::RealWorld, seq, age_s, point)
    };
    let events_in = |msgs: &[Stored]| -> BTreeSet<String> {
        msgs.iter()
            .filter(|m| m.subject.starts_with("tl.out.jp.common_event.us."))
            .map(|m| m.subject.rsplit('.').next().unwrap().to_owned())
            .collect()
    };

    let first = start_relay(cfg.clone(), &policy_path).await;
    let ld = report(Nation::Us, PayloadKind::LaunchDetection, 1, 4);
    publish_input(&js, &ld).await;
    let c1 = first.control.clone();
    wait_until(15, "first views stored", || {
        c1.get(|s| &s.picture_published) >= 3
    })
    .await;
    first.stop().await;
    let before = events_in(&read_stream(&js, "TL_OUT").await);
    assert_eq!(before.len(), 1, "{before:?}");

    let second = start_relay(cfg, &policy_path).await;
    let c2 = second.control.clone();
    assert_eq!(
        c2.get(|s| &s.picture_rebuilt),
        1,
        "the rebuild read the input"
    );
    // Its republished views are the same messages (JetStream duplicates).
    wait_until(15, "views republished", || c2.get(|s| &s.deduplicated) >= 3).await;
    let kr_ld = report(Nation::Kr, PayloadKind::LaunchDetection, 2, 3);
    publish_input(&js, &kr_ld).await;
    wait_until(15, "the new report's views stored", || {
        c2.get(|s| &s.picture_published) >= 6
    })
    .await;
    second.stop().await;
    let msgs = read_stream(&js, "TL_OUT").await;
    let after = events_in(&msgs);
    assert_eq!(after, before, "a new event id after the restart");
    let latest = msgs
        .iter()
        .rev()
        .find(|m| m.subject.starts_with("tl.out.jp.common_event.us."))
        .unwrap();
    let env = Envelope::from_json(&latest.payload).unwrap();
    let trilink_schema::Payload::CommonEvent(ev) = env.payload else {
        panic!("not a common event")
    };
    let origins: BTreeSet<Nation> = ev.contributors.iter().map(|c| c.origin).collect();
    assert_eq!(origins, BTreeSet::from([Nation::Kr, Nation::Us]));
}

/// The store window (issue 17; one input per track in flight, the default) keeps per-track
/// order (issue 14) through store failures:
/// with the output stream refusing every store for a while (discard-new at its limit), the
/// relay holds each failing track, then resends it in order once the stream takes stores
/// again. Every output is stored exactly once, in arrival order per track and destination;
/// every input is acknowledged; no order violation is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_keep_their_order_through_refused_stores() {
    const PER_TRACK: u64 = 60;
    const TRACKS: u64 = 3;
    let server = start_nats();
    let policy_path = repo("broker-config/policies/default-trilateral.toml");
    let mut cfg = config(&server);
    cfg.max_in_flight = 64;
    cfg.nak_delay_ms = 50;
    cfg.picture.enabled = false;
    let relay = start_relay(cfg, &policy_path).await;
    let c = relay.control.clone();
    let js = js_for(&server).await;
    // Message id of each input → (track, position in the track).
    let mut position = BTreeMap::new();
    let mut send = |k: u64, t: u64| {
        // Same track `jp-<t>` for every k (the sample's track is `<origin>-<seq mod 1000>`).
        let seq = k * 1000 + t;
        let kind = if k == 0 {
            PayloadKind::LaunchDetection
        } else {
            PayloadKind::TrackUpdate
        };
        let env = sample(Nation::Jp, kind, Mode::RealWorld, seq, 5, AT_SEA);
        position.insert(env.message_id.to_string(), (t, k));
        env
    };
    let mut inputs = Vec::new();
    for k in 0..PER_TRACK {
        for t in 0..TRACKS {
            inputs.push(send(k, t));
        }
    }
    let (first, second) = inputs.split_at(inputs.len() / 3);
    let publish_all = |envs: &[Envelope]| {
        let envs = envs.to_vec();
        let js = js.clone();
        async move {
            for env in envs {
                publish_input(&js, &env).await;
            }
        }
    };
    publish_all(first).await;
    let first_outputs = first.len() as u64 * 2;
    let out = js.get_stream("TL_OUT").await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while out.get_info().await.unwrap().state.messages < first_outputs {
        assert!(
            std::time::Instant::now() < deadline,
            "first third not stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The output stream refuses every new store...
    let mut sc = out.get_info().await.unwrap().config;
    sc.discard = jetstream::stream::DiscardPolicy::New;
    sc.max_messages = i64::try_from(first_outputs).unwrap();
    js.update_stream(&sc).await.unwrap();
    publish_all(second).await;
    wait_until(20, "refused stores", || c.get(|s| &s.publish_errors) >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...then takes them again.
    sc.max_messages = -1;
    js.update_stream(&sc).await.unwrap();
    let expected = inputs.len() as u64 * 2;
    let n = inputs.len() as u64;
    wait_until(30, "every input acknowledged", || c.get(|s| &s.acked) >= n).await;
    let stored = read_stream(&js, "TL_OUT").await;
    let ids: BTreeSet<String> = stored.iter().filter_map(|m| m.msg_id.clone()).collect();
    assert_eq!(stored.len() as u64, expected, "duplicates or losses");
    assert_eq!(ids.len() as u64, expected);
    // Per destination and track: positions in arrival order.
    let mut seen: BTreeMap<(String, u64), Vec<u64>> = BTreeMap::new();
    for m in &stored {
        let env = Envelope::from_json(&m.payload).unwrap();
        let (t, k) = position[&env.message_id.to_string()];
        let dest = m.subject.split('.').nth(2).unwrap().to_owned();
        seen.entry((dest, t)).or_default().push(k);
    }
    assert_eq!(seen.len() as u64, 2 * TRACKS);
    for ((dest, t), ks) in &seen {
        let want: Vec<u64> = (0..PER_TRACK).collect();
        assert_eq!(ks, &want, "track {t} at {dest} out of order");
    }
    assert!(c.get(|s| &s.publish_errors) > 0);
    assert_eq!(c.get(|s| &s.order_violations), 0);
    assert_eq!(c.get(|s| &s.acked), n, "each input acknowledged once");
    relay.stop().await;
}
