//! A second leaf with one nation's identity (issue 13, "one leaf connection per nation
//! identity"): an insider holding JP's leaf certificate and key links a stock nats-server to
//! the hub beside the real JP leaf. The hub accepts it — no nats-server setting limits a
//! certificate user to one leaf connection, and the account limit `max_leafnodes: 1` broke
//! failover (`broker-config/SECURITY.md`, residual risks) — so it is **detected**: the leaf
//! watcher (`trilink_brokers::leafwatch`, run by `trilink broker watch-leaves`) reads every hub
//! node's `/leafz`, sums JP's connections over the nodes and raises the duplicate signal.
//!
//! If the second leaf also claims the real leaf's server name, a hub node replaces one link by
//! the other, back and forth, and a poll may count one leaf: the watcher then sees a new
//! connection at nearly every poll (relinks, alert `TrilinkLeafLinkFlapping`).
//!
//! Each test was run once with the watcher's check removed (the decision never flagging, and
//! the sum over nodes replaced by the largest single node's count) and failed. The failover
//! test shows the watcher does not cry wolf where `max_leafnodes` refused the genuine leaf:
//! killing the hub node that holds JP's link moves the link to another node with one JP leaf
//! counted throughout. CI runs this file on nats-server 2.9.10 and the current release.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::time::{Duration, Instant};

use trilink_integration_tests::trilink_brokers::leafwatch::{
    self, LeafEvent, LeafTally, LeafWatch, MonitorTarget, WatchConfig,
};
use trilink_integration_tests::trilink_brokers::testing::spawn_second_leaf;
use trilink_integration_tests::trilink_brokers::{Link, ServerId};
use trilink_integration_tests::{start_link, wait_for};
use trilink_schema::Nation;

const POLL_TIMEOUT: Duration = Duration::from_secs(2);

/// Every hub node's monitoring endpoint, named `hub-<i>`.
fn targets(link: &Link) -> Vec<MonitorTarget> {
    (0..link.hub_nodes())
        .map(|i| {
            let url = link.server(ServerId::hub(i)).unwrap().monitor_url();
            MonitorTarget::parse(&format!("hub-{i}={url}")).unwrap()
        })
        .collect()
}

/// One poll of every hub node, counted (JP and KR expected).
async fn tally(targets: &[MonitorTarget]) -> LeafTally {
    let reports = leafwatch::poll(targets, POLL_TIMEOUT).await;
    LeafTally::count(&reports, &WatchConfig::default().accounts)
}

fn count(t: &LeafTally, account: &str) -> u64 {
    t.per_account.get(account).copied().unwrap_or(0)
}

/// The hub node the real JP leaf is linked to.
async fn node_holding_jp(link: &Link) -> usize {
    let ts = targets(link);
    let t = tally(&ts).await;
    (0..link.hub_nodes())
        .find(|i| {
            t.per_server
                .get(&("JP".to_owned(), format!("hub-{i}")))
                .is_some_and(|n| *n == 1)
        })
        .expect("the JP leaf is linked to some hub node")
}

/// The watcher's first poll of a healthy link: one leaf each for JP and KR, nothing to report.
async fn quiet_start(ts: &[MonitorTarget]) -> LeafWatch {
    let mut watch = LeafWatch::new(WatchConfig::default());
    let t = tally(ts).await;
    assert_eq!((count(&t, "JP"), count(&t, "KR")), (1, 1), "{t:?}");
    let events = watch.observe(&t);
    assert!(events.is_empty(), "healthy link reported {events:?}");
    watch
}

/// The watcher reports the second JP leaf once, with both connections, and nothing for KR
/// (besides the duplicate, the new connection is a relink).
fn assert_jp_duplicated(watch: &mut LeafWatch, t: &LeafTally) {
    assert_eq!(count(t, "JP"), 2, "{t:?}");
    assert_eq!(count(t, "KR"), 1, "{t:?}");
    let (relinks, events): (Vec<_>, Vec<_>) = watch
        .observe(t)
        .into_iter()
        .partition(|e| matches!(e, LeafEvent::Relinked { .. }));
    assert!(
        matches!(&relinks[..], [LeafEvent::Relinked { account, .. }] if account == "JP"),
        "{relinks:?}"
    );
    match &events[..] {
        [
            LeafEvent::Duplicated {
                account,
                count,
                leaves,
            },
        ] => {
            assert_eq!((account.as_str(), *count, leaves.len()), ("JP", 2, 2));
        }
        other => panic!("expected one JP duplicate, got {other:?}"),
    }
    assert!(watch.duplicated().contains("JP") && !watch.duplicated().contains("KR"));
}

// ----------------------------------------------------------------------------- single hub

/// JP's certificate on a second leaf server: the hub accepts it (2 JP leaves at the hub) and
/// the watcher reports JP — and only JP — as duplicated; when the rogue leaf goes, the
/// duplicate clears.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_leaf_with_a_nations_certificate_is_detected() {
    let link = start_link(1).await;
    let ts = targets(&link);
    let mut watch = quiet_start(&ts).await;

    let mut rogue =
        spawn_second_leaf(&link, Nation::Jp, "rogue-jp", None, link.hub_leaf_ports()).await;
    let t = tally(&ts).await;
    assert_eq!(
        t.per_server[&("JP".to_owned(), "hub-0".to_owned())],
        2,
        "{t:?}"
    );
    assert_jp_duplicated(&mut watch, &t);

    rogue.stop(Duration::from_secs(5)).unwrap();
    let cleared = wait_for(Duration::from_secs(10), || {
        let ts = &ts;
        async move { Some(tally(ts).await).filter(|t| count(t, "JP") == 1) }
    })
    .await
    .expect("the hub keeps the stopped rogue leaf");
    assert_eq!(
        watch.observe(&cleared),
        vec![LeafEvent::DuplicateCleared {
            account: "JP".into(),
            count: 1
        }]
    );
    link.shutdown().unwrap();
}

// ------------------------------------------------------------------------- clustered hub

/// On the 3-node hub the rogue leaf links to another node than the real one: no single node
/// has two JP leaves, the sum over the nodes does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_leaf_with_a_nations_certificate_is_detected_on_the_clustered_hub() {
    let link = start_link(3).await;
    let ts = targets(&link);
    let mut watch = quiet_start(&ts).await;
    let real = node_holding_jp(&link).await;
    let other = (real + 1) % 3;

    let _rogue = spawn_second_leaf(
        &link,
        Nation::Jp,
        "rogue-jp",
        None,
        &[link.hub_leaf_ports()[other]],
    )
    .await;
    let t = tally(&ts).await;
    for (node, want) in [(real, 1), (other, 1), ((real + 2) % 3, 0)] {
        assert_eq!(
            t.per_server[&("JP".to_owned(), format!("hub-{node}"))],
            want,
            "hub-{node}: {t:?}"
        );
    }
    assert_jp_duplicated(&mut watch, &t);
    link.shutdown().unwrap();
}

/// Where `max_leafnodes: 1` kept the genuine JP leaf out, the watcher stays quiet: the hub node
/// holding JP's link is killed, the leaf relinks to another node, and every poll meanwhile
/// counts at most one JP leaf (the dead node is reported unreadable, once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_of_a_leaf_link_raises_no_duplicate() {
    let mut link = start_link(3).await;
    let ts = targets(&link);
    let mut watch = quiet_start(&ts).await;
    let real = node_holding_jp(&link).await;
    link.kill(ServerId::hub(real)).unwrap();

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    let mut relinked_at = None;
    loop {
        let t = tally(&ts).await;
        assert!(count(&t, "JP") <= 1, "during failover: {t:?}");
        events.extend(watch.observe(&t));
        if relinked_at.is_none() && count(&t, "JP") == 1 && count(&t, "KR") == 1 {
            relinked_at = Some(Instant::now());
        }
        // Keep watching a few seconds after the relink (a stale link would show here).
        if relinked_at.is_some_and(|at| at.elapsed() > Duration::from_secs(3)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the JP leaf never relinked: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let t = tally(&ts).await;
    let dead = format!("hub-{real}");
    assert!(t.unreachable.contains_key(&dead), "{t:?}");
    // The dead node once, and the JP link's move (KR's too if it was on that node): no
    // duplicate.
    let (relinks, others): (Vec<_>, Vec<_>) = events
        .iter()
        .partition(|e| matches!(e, LeafEvent::Relinked { .. }));
    assert!(
        matches!(&others[..], [LeafEvent::MonitorUnreachable { server, .. }] if *server == dead),
        "the watcher reported more than the dead node: {events:?}"
    );
    let jp_relinks = relinks
        .iter()
        .filter(|e| matches!(e, LeafEvent::Relinked { account, .. } if account == "JP"))
        .count();
    assert_eq!(jp_relinks, 1, "{events:?}");
}

/// The insider's leaf also claims the real leaf's server name (`leaf-jp`): a hub node then
/// replaces one link by the other ("Replacing connection from same server"), back and forth,
/// so a poll may count only one JP leaf — but every poll finds a new connection. The watcher
/// counts them as relinks (`trilink_hub_leaf_relinks_total`, alert `TrilinkLeafLinkFlapping`),
/// where the genuine link alone has none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_leaf_claiming_the_real_leafs_name_shows_as_relinks() {
    let link = start_link(1).await;
    let ts = targets(&link);
    let mut watch = quiet_start(&ts).await;
    let jp_relinks = async |watch: &mut LeafWatch, secs: u64| {
        let mut n = 0;
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let t = tally(&ts).await;
            n += watch
                .observe(&t)
                .iter()
                .filter(|e| matches!(e, LeafEvent::Relinked { account, .. } if account == "JP"))
                .count();
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        n
    };
    assert_eq!(
        jp_relinks(&mut watch, 3).await,
        0,
        "the genuine link alone relinked"
    );
    let name = ServerId::JP.name();
    let _rogue = spawn_second_leaf(
        &link,
        Nation::Jp,
        "rogue-jp",
        Some(name.as_str()),
        link.hub_leaf_ports(),
    )
    .await;
    let n = jp_relinks(&mut watch, 6).await;
    eprintln!("{n} JP relinks in 6 s");
    assert!(n >= 3, "{n} JP relinks in 6 s with two leaves named {name}");
    let log = link.server(ServerId::hub(0)).unwrap().log_text();
    assert!(
        log.contains("Replacing connection from same server"),
        "{log}"
    );
    link.shutdown().unwrap();
}
