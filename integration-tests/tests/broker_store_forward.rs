//! Store-and-forward and de-duplication through real nats-server processes: the hub down
//! while the leaves keep publishing, the hub -> KR output path cut, re-published message ids.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream;
use trilink_brokers::{Link, LinkOptions, Role, ServerId, Site};
use trilink_integration_tests::{
    id_counts, init_tracing, publish_with_id, read_stream, wait_stream_len,
};
use trilink_schema::Nation;

const N: usize = 300;
/// nats-server 2.9.10 catches up 4-5 s after the hub is back; 2.15.1 retries sourcing only
/// after about 40 s.
const CATCH_UP: Duration = Duration::from_secs(60);
const ACK: Duration = Duration::from_secs(10);

/// A six-token output subject for a non-track message: `tl.out.<dest>.<kind>.jp.<uuid>`, the
/// uuid derived from `name` (each message its own subject, as the relay publishes them).
fn out_subject(dest: &str, kind: &str, name: &str) -> String {
    let id = trilink_schema::MessageId::derive(Nation::Jp, "test", name);
    format!("tl.out.{dest}.{kind}.jp.{id}")
}

async fn js(link: &Link, role: Role) -> jetstream::Context {
    jetstream::new(link.connect(role).await.unwrap())
}

/// Every id in `want` exactly once, nothing else.
fn assert_exactly_once(stream: &str, got: &[trilink_integration_tests::Stored], want: &[String]) {
    let counts = id_counts(got);
    let dups: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(dups.is_empty(), "{stream}: duplicated ids {dups:?}");
    let missing: Vec<_> = want.iter().filter(|id| !counts.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{stream}: {} ids missing, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert_eq!(got.len(), want.len(), "{stream}: unexpected extra messages");
}

async fn hub_down_leaves_keep_publishing(hub_nodes: usize) {
    let mut link = Link::start(LinkOptions {
        hub_nodes,
        ..LinkOptions::default()
    })
    .await
    .unwrap();
    let jp = js(&link, Role::Adapter(Nation::Jp)).await;
    let kr = js(&link, Role::Adapter(Nation::Kr)).await;

    // Every hub node down: the leaves are on their own.
    for node in 0..hub_nodes {
        link.stop(ServerId::hub(node)).unwrap();
    }
    let mut want: BTreeMap<Nation, Vec<String>> = BTreeMap::new();
    for (nation, ctx) in [(Nation::Jp, &jp), (Nation::Kr, &kr)] {
        for i in 0..N {
            let id = format!("sf-{nation}-{i}");
            let dup = publish_with_id(
                ctx,
                &format!("tl.in.{nation}.track_update"),
                &id,
                format!("{nation} {i}").into(),
                ACK,
            )
            .await
            .unwrap();
            assert!(!dup, "{id} acked as duplicate");
            want.entry(nation).or_default().push(id);
        }
    }
    // The leaves stored everything locally while the hub was gone.
    for (nation, ctx, stream) in [(Nation::Jp, &jp, "IN_JP"), (Nation::Kr, &kr, "IN_KR")] {
        let n = wait_stream_len(ctx, stream, N as u64, Duration::from_secs(2)).await;
        assert_eq!(n, N as u64, "{nation} leaf stream {stream}");
    }

    let hubs: Vec<ServerId> = (0..hub_nodes).map(ServerId::hub).collect();
    link.restart_many(&hubs).await.unwrap();
    link.wait_leaf_links().await.unwrap();
    for (nation, stream) in [(Nation::Jp, "IN_JP"), (Nation::Kr, "IN_KR")] {
        let hub = js(&link, Role::Admin(Site::Hub, nation)).await;
        let n = wait_stream_len(&hub, stream, N as u64, CATCH_UP).await;
        if n != N as u64 {
            // Diagnostics: the source's state (lag, active, error) says why it stalled.
            let mut st = hub.get_stream(stream).await.unwrap();
            eprintln!("{stream} sources: {:#?}", st.info().await.unwrap().sources);
            eprintln!("{}", link.server(ServerId::hub(0)).unwrap().log_text());
        }
        assert_eq!(n, N as u64, "hub {stream} after restart");
        // Stays at N: nothing re-sourced twice.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let got = read_stream(&hub, stream).await.unwrap();
        assert_exactly_once(stream, &got, &want[&nation]);
    }
    link.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_restart_delivers_every_leaf_message_exactly_once() {
    init_tracing();
    hub_down_leaves_keep_publishing(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_path_cut_kr_gets_everything_and_latest_track_state() {
    output_path_cut(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_path_cut_on_the_clustered_hub() {
    output_path_cut(3).await;
}

async fn output_path_cut(hub_nodes: usize) {
    init_tracing();
    let mut link = Link::start(LinkOptions {
        hub_nodes,
        ready_timeout: Duration::from_secs(30),
        ..LinkOptions::default()
    })
    .await
    .unwrap();
    let relay = js(&link, Role::Relay(Nation::Kr)).await;

    // Cut hub -> KR: the KR leaf is down while the relay keeps releasing to KR, in the order a
    // national system reports: each track's launch detection, then its updates, interleaved
    // across tracks, then some more non-track messages.
    link.stop(ServerId::KR).unwrap();
    let (tracks, updates) = (10, 20);
    let mut want = Vec::new();
    for t in 0..tracks {
        let id = format!("ld-{t}");
        publish_with_id(
            &relay,
            &out_subject("kr", "launch_detection", &id),
            &id,
            format!("ld {t}").into(),
            ACK,
        )
        .await
        .unwrap();
        want.push(id);
    }
    for u in 0..updates {
        for t in 0..tracks {
            let id = format!("trk-{t}-{u}");
            publish_with_id(
                &relay,
                &format!("tl.out.kr.track_update.jp.T-{t}"),
                &id,
                format!("track {t} update {u}").into(),
                ACK,
            )
            .await
            .unwrap();
        }
    }
    for i in 0..N {
        let id = format!("out-kr-{i}");
        publish_with_id(
            &relay,
            &out_subject("kr", "impact_prediction", &id),
            &id,
            format!("ip {i}").into(),
            ACK,
        )
        .await
        .unwrap();
        want.push(id);
    }
    // At the hub, in ONE stream: every non-track message, only the latest update of each track.
    let hub = js(&link, Role::Admin(Site::Hub, Nation::Kr)).await;
    let total = N as u64 + 2 * tracks;
    assert_eq!(wait_stream_len(&hub, "OUT_KR", total, ACK).await, total);

    // The backlog waits at the hub (no leaf copy of OUT_KR since issue 17): every non-track
    // message once, the latest update of each track, in the relay's order.
    let at_hub = read_stream(&hub, "OUT_KR").await.unwrap();
    let (hub_tracks, hub_other): (Vec<_>, Vec<_>) = at_hub
        .into_iter()
        .partition(|m| m.subject.starts_with("tl.out.kr.track_update."));
    assert_exactly_once("hub OUT_KR (non-track)", &hub_other, &want);
    let latest: Vec<String> = (0..tracks)
        .map(|t| format!("trk-{t}-{}", updates - 1))
        .collect();
    assert_exactly_once("hub OUT_KR (tracks)", &hub_tracks, &latest);

    link.restart(ServerId::KR).await.unwrap();
    link.wait_leaf_links().await.unwrap();
    let leaf = js(&link, Role::Admin(Site::Kr, Nation::Kr)).await;
    assert!(
        leaf.get_stream("OUT_KR").await.is_err(),
        "the KR leaf keeps no copy of OUT_KR"
    );
    // The KR adapter, with its own restricted credentials on the KR leaf, reads the backlog
    // from the hub's OUT_KR through the leaf's link once the link is back.
    let adapter = adapter_js(&link, Nation::Kr).await;
    let got = consume_stored(&adapter, "OUT_KR", "adapter-kr", total as usize, CATCH_UP).await;
    // Causal order per track survives the cut: each track's launch detection is delivered
    // before its (latest) update.
    let pos = |id: &str| got.iter().position(|m| m.msg_id.as_deref() == Some(id));
    for t in 0..tracks {
        let ld = pos(&format!("ld-{t}")).unwrap_or_else(|| panic!("ld-{t} missing"));
        let tu =
            pos(&format!("trk-{t}-{}", updates - 1)).unwrap_or_else(|| panic!("trk-{t} missing"));
        assert!(
            ld < tu,
            "track {t}: update at {tu} before launch detection at {ld}"
        );
    }
    let (track_msgs, other): (Vec<_>, Vec<_>) = got
        .into_iter()
        .partition(|m| m.subject.starts_with("tl.out.kr.track_update."));
    assert_exactly_once("adapter-kr deliveries (non-track)", &other, &want);
    assert_exactly_once("adapter-kr deliveries (tracks)", &track_msgs, &latest);
    // Everything acked: nothing is delivered again.
    let again = consume_stored(&adapter, "OUT_KR", "adapter-kr", 1, Duration::from_secs(3)).await;
    assert!(again.is_empty(), "delivered again after the ack: {again:?}");
    link.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn republished_message_id_is_stored_once() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let jp = js(&link, Role::Adapter(Nation::Jp)).await;
    let us = js(&link, Role::Adapter(Nation::Us)).await;
    for (ctx, subject) in [
        (&jp, "tl.in.jp.launch_detection"),
        (&us, "tl.in.us.launch_detection"),
    ] {
        let mut dups = Vec::new();
        for _ in 0..3 {
            dups.push(
                publish_with_id(ctx, subject, "same-id-1", "x".into(), ACK)
                    .await
                    .unwrap(),
            );
        }
        publish_with_id(ctx, subject, "other-id", "y".into(), ACK)
            .await
            .unwrap();
        assert_eq!(dups, [false, true, true], "{subject}");
    }
    let jp_leaf = js(&link, Role::Admin(Site::Jp, Nation::Jp)).await;
    assert_eq!(wait_stream_len(&jp_leaf, "IN_JP", 2, ACK).await, 2);
    let hub_jp = js(&link, Role::Admin(Site::Hub, Nation::Jp)).await;
    assert_eq!(wait_stream_len(&hub_jp, "IN_JP", 2, CATCH_UP).await, 2);
    let hub_us = js(&link, Role::Admin(Site::Hub, Nation::Us)).await;
    assert_eq!(wait_stream_len(&hub_us, "IN_US", 2, ACK).await, 2);
    tokio::time::sleep(Duration::from_secs(1)).await;
    for (ctx, stream) in [(&hub_jp, "IN_JP"), (&hub_us, "IN_US")] {
        let got = read_stream(ctx, stream).await.unwrap();
        assert_exactly_once(
            stream,
            &got,
            &["same-id-1".to_owned(), "other-id".to_owned()],
        );
    }
    link.shutdown().unwrap();
}

/// The JetStream context adapter-`nation` reads its outputs with: the hub's domain (the JP
/// and KR adapters connect to their leaf and reach the hub's OUT_<N> through its link; the US
/// adapter is on the hub itself and uses the local API).
async fn adapter_js(link: &Link, nation: Nation) -> jetstream::Context {
    let client = link.connect(Role::Adapter(nation)).await.unwrap();
    match nation {
        Nation::Us => jetstream::new(client),
        Nation::Jp | Nation::Kr => jetstream::with_domain(client, "hub"),
    }
}

/// Pull `n` messages from `stream` with its existing durable consumer `durable` (looked up,
/// never created: the readers may not create consumers), acking each.
async fn consume(ctx: &jetstream::Context, stream: &str, durable: &str, n: usize) -> Vec<String> {
    consume_stored(ctx, stream, durable, n, Duration::from_secs(5))
        .await
        .into_iter()
        .map(|m| m.subject)
        .collect()
}

/// Pull up to `n` messages (until `within` has passed) from `stream` with its existing durable
/// consumer `durable`, acking each, in delivery order.
async fn consume_stored(
    ctx: &jetstream::Context,
    stream: &str,
    durable: &str,
    n: usize,
    within: Duration,
) -> Vec<trilink_integration_tests::Stored> {
    use futures::StreamExt as _;
    let deadline = tokio::time::Instant::now() + within;
    let consumer: jetstream::consumer::PullConsumer = loop {
        match ctx.get_consumer_from_stream(durable, stream).await {
            Ok(c) => break c,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                panic!("consumer {durable} on {stream}: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let mut got = Vec::new();
    while got.len() < n && tokio::time::Instant::now() < deadline {
        let left = deadline - tokio::time::Instant::now();
        let Ok(mut batch) = consumer
            .fetch()
            .max_messages(n - got.len())
            .expires(
                left.min(Duration::from_secs(5))
                    .max(Duration::from_millis(100)),
            )
            .messages()
            .await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while let Some(m) = batch.next().await {
            let Ok(m) = m else { break };
            m.ack().await.unwrap();
            got.push(trilink_integration_tests::Stored {
                subject: m.subject.to_string(),
                msg_id: m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.as_str().to_owned()),
                payload: String::from_utf8_lossy(&m.payload).into_owned(),
            });
        }
    }
    got
}

/// The restricted users really can do their job through JetStream: the relay consumes its
/// nation's hub input stream, each adapter consumes its output stream, and streams can be
/// ensured again (idempotent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_and_adapters_consume_with_their_own_credentials() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    // Ensuring again changes nothing and fails nothing.
    for n in Nation::ALL {
        let again = link.ensure_streams_retrying(Site::Hub, n, 1).await.unwrap();
        assert!(again.len() >= 3, "{again:?}");
    }
    let jp = js(&link, Role::Adapter(Nation::Jp)).await;
    for i in 0..5 {
        publish_with_id(&jp, "tl.in.jp.cancel", &format!("c-{i}"), "x".into(), ACK)
            .await
            .unwrap();
    }
    let hub_jp = js(&link, Role::Admin(Site::Hub, Nation::Jp)).await;
    assert_eq!(wait_stream_len(&hub_jp, "IN_JP", 5, CATCH_UP).await, 5);
    let relay_jp = js(&link, Role::Relay(Nation::Jp)).await;
    let got = consume(&relay_jp, "IN_JP", "relay", 5).await;
    assert_eq!(got, vec!["tl.in.jp.cancel"; 5]);

    for (dest, relay_role, streams) in [
        (Nation::Kr, Role::Relay(Nation::Kr), &["OUT_KR"][..]),
        (Nation::Jp, Role::Relay(Nation::Jp), &["OUT_JP"][..]),
        (Nation::Us, Role::Relay(Nation::Us), &["OUT_US"][..]),
    ] {
        assert_eq!(
            trilink_brokers::streams::adapter_output_streams(dest),
            streams
        );
        let relay = js(&link, relay_role).await;
        publish_with_id(
            &relay,
            &out_subject(dest.as_str(), "launch_detection", &format!("o-{dest}-1")),
            &format!("o-{dest}-1"),
            "l".into(),
            ACK,
        )
        .await
        .unwrap();
        publish_with_id(
            &relay,
            &format!("tl.out.{dest}.track_update.us.T-9"),
            &format!("o-{dest}-2"),
            "t".into(),
            ACK,
        )
        .await
        .unwrap();
        // Stored at the hub (the only copy: the adapters read the hub's OUT_<N>, issue 17).
        let hub = js(&link, Role::Admin(Site::Hub, dest)).await;
        let adapter = adapter_js(&link, dest).await;
        let mut subjects = Vec::new();
        for stream in streams {
            let want = 2;
            assert_eq!(
                wait_stream_len(&hub, stream, want, CATCH_UP).await,
                want,
                "{stream}"
            );
            // Its own durable, created by the operations user with the streams.
            let durable = format!("adapter-{dest}");
            subjects.extend(consume(&adapter, stream, &durable, want as usize).await);
        }
        subjects.sort();
        assert_eq!(
            subjects,
            [
                out_subject(dest.as_str(), "launch_detection", &format!("o-{dest}-1")),
                format!("tl.out.{dest}.track_update.us.T-9")
            ]
        );
    }
    link.shutdown().unwrap();
}
