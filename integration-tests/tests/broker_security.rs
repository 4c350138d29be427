//! Security of the broker topology, checked live against real nats-server processes:
//! the permission matrix, account isolation (including the JetStream API), the absence of any
//! JP <-> KR path, and mutual TLS on the leaf links.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code: a panic is a failure

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use trilink_brokers::testing::admin;
use trilink_brokers::{Link, LinkOptions, Role, ServerId, Site};
use trilink_integration_tests::{ProbeClient, init_tracing, subscribe_ready, wait_for};
use trilink_schema::Nation;

/// How long to keep listening for something that must not arrive.
const SETTLE: Duration = Duration::from_millis(300);
/// How long to wait for something that must arrive.
const PATIENCE: Duration = Duration::from_secs(6);

/// A message id token for six-token output subjects (`tl.out.<dest>.<kind>.<origin>.<id>`).
const ID: &str = "00000000-0000-5000-8000-000000000001";

/// One probe subject per family and nation.
fn families() -> Vec<(String, &'static str, Nation)> {
    let mut v = Vec::new();
    for n in Nation::ALL {
        v.push((format!("tl.in.{n}.launch_detection"), "in", n));
        v.push((format!("tl.out.{n}.launch_detection.us.{ID}"), "out", n));
        v.push((format!("tl.out.{n}.track_update.us.T-1"), "out", n));
        v.push((format!("tl.dlq.{n}"), "dlq", n));
        v.push((format!("tl.status.{n}.probe"), "status", n));
    }
    v
}

/// The contract: may `role` publish / subscribe `subject` (family, nation)?
fn expected(role: Role, family: &str, n: Nation) -> (bool, bool) {
    match role {
        Role::Adapter(me) => match family {
            "in" | "dlq" | "status" => (n == me, false),
            "out" => (false, n == me),
            _ => (false, false),
        },
        // The relay's user in account `me` (at the hub, site "us"): reads me's input, writes
        // me's output, and the hub's own dead letters and status.
        Role::Relay(me) => match family {
            "in" => (false, n == me),
            "out" => (n == me, false),
            "dlq" | "status" => (n == Nation::Us, false),
            _ => (false, false),
        },
        // A nation's read-only viewer: hears what is released to it, every status its
        // account sees and its own site's dead letters (no other site's); publishes nothing.
        Role::Viewer(me) => match family {
            "out" | "dlq" => (false, n == me),
            "status" => (false, true),
            _ => (false, false),
        },
        _ => (true, true),
    }
}

/// For one role: publish and subscribe every probe subject; an observer with full rights in
/// the same account and server checks what really passed; the server's errors say what was
/// refused. Returns mismatches as text.
async fn check_role(link: &Link, role: Role, account: Nation, site: Site) -> Vec<String> {
    let mut problems = Vec::new();
    let creds = link.credentials(role).unwrap();
    let probe = ProbeClient::connect(&creds).await.unwrap();
    let admin = admin(link, site, account).await;
    let fam = families();
    let tag = format!("probe-{role:?}");

    // Publish direction: observer subscribes to everything, probe publishes everything.
    let mut observed = subscribe_ready(&admin, "tl.>", "tl.ready").await.unwrap();
    for (subject, _, _) in &fam {
        probe
            .client
            .publish(subject.clone(), tag.clone().into())
            .await
            .unwrap();
    }
    probe.client.flush().await.unwrap();
    // Wait until every allowed publication arrived and every refused one was reported (or a
    // deadline passes), then keep listening a little for anything that should not arrive.
    let pub_done = |seen: &BTreeSet<String>| {
        fam.iter().all(|(subject, family, n)| {
            if expected(role, family, *n).0 {
                seen.contains(subject)
            } else {
                probe.violated("publish", subject)
            }
        })
    };
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + PATIENCE;
    let mut republish = Instant::now() + Duration::from_millis(250);
    while Instant::now() < deadline && !pub_done(&seen) {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), observed.next()).await
            && m.payload.as_ref() == tag.as_bytes()
        {
            seen.insert(m.subject.to_string());
        }
        // On a clustered hub the probe and the observer may sit on different nodes; the
        // observer's interest reaches the probe's node over the route a little later (the ready
        // marker only proves the observer's own node has it), and core NATS drops what nobody
        // is interested in yet. Publish what has not arrived again until the deadline.
        if Instant::now() >= republish {
            republish = Instant::now() + Duration::from_millis(250);
            for (subject, _, _) in &fam {
                if !seen.contains(subject) {
                    let _ = probe
                        .client
                        .publish(subject.clone(), tag.clone().into())
                        .await;
                }
            }
            let _ = probe.client.flush().await;
        }
    }
    let grace = Instant::now() + SETTLE;
    while Instant::now() < grace {
        if let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), observed.next()).await
            && m.payload.as_ref() == tag.as_bytes()
        {
            seen.insert(m.subject.to_string());
        }
    }
    for (subject, family, n) in &fam {
        let (may_pub, _) = expected(role, family, *n);
        let arrived = seen.contains(subject);
        let refused = probe.violated("publish", subject);
        if may_pub && (!arrived || refused) {
            problems.push(format!(
                "{role:?} publish {subject}: expected allowed, arrived={arrived} refused={refused}"
            ));
        }
        if !may_pub && (arrived || !refused) {
            problems.push(format!(
                "{role:?} publish {subject}: expected refused, arrived={arrived} refused={refused}"
            ));
        }
    }

    // Subscribe direction: probe subscribes to each subject, observer publishes on each.
    let mut subs = Vec::new();
    for (subject, _, _) in &fam {
        subs.push(probe.client.subscribe(subject.clone()).await.unwrap());
    }
    probe.client.flush().await.unwrap();
    // The observer publishes on every subject, again every 100 ms, until every allowed
    // subscription received something and every refused one was reported (or PATIENCE).
    let mut got = vec![false; fam.len()];
    let deadline = Instant::now() + PATIENCE;
    loop {
        for (subject, _, _) in &fam {
            admin
                .publish(subject.clone(), "observer".into())
                .await
                .unwrap();
        }
        admin.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (i, sub) in subs.iter_mut().enumerate() {
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(5), sub.next()).await
            {
                got[i] = true;
            }
        }
        let done = fam.iter().zip(&got).all(|((subject, family, n), g)| {
            if expected(role, family, *n).1 {
                *g
            } else {
                probe.violated("subscription", subject)
            }
        });
        if done || Instant::now() >= deadline {
            break;
        }
    }
    for ((subject, family, n), got) in fam.iter().zip(got) {
        let (_, may_sub) = expected(role, family, *n);
        let refused = probe.violated("subscription", subject);
        if may_sub && (!got || refused) {
            problems.push(format!(
                "{role:?} subscribe {subject}: expected allowed, received={got} refused={refused}"
            ));
        }
        if !may_sub && (got || !refused) {
            problems.push(format!(
                "{role:?} subscribe {subject}: expected refused, received={got} refused={refused}"
            ));
        }
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_matches_the_subject_contract() {
    permission_matrix(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_matrix_on_the_clustered_hub() {
    permission_matrix(3).await;
}

async fn permission_matrix(hub_nodes: usize) {
    init_tracing();
    let link = Link::start(LinkOptions {
        hub_nodes,
        ready_timeout: Duration::from_secs(30),
        ..LinkOptions::default()
    })
    .await
    .unwrap();
    let cases = [
        (Role::Adapter(Nation::Jp), Nation::Jp, Site::Jp),
        (Role::Adapter(Nation::Kr), Nation::Kr, Site::Kr),
        (Role::Adapter(Nation::Us), Nation::Us, Site::Hub),
        (Role::Relay(Nation::Jp), Nation::Jp, Site::Hub),
        (Role::Relay(Nation::Kr), Nation::Kr, Site::Hub),
        (Role::Relay(Nation::Us), Nation::Us, Site::Hub),
        (Role::Viewer(Nation::Jp), Nation::Jp, Site::Jp),
        (Role::Viewer(Nation::Kr), Nation::Kr, Site::Kr),
        (Role::Viewer(Nation::Us), Nation::Us, Site::Hub),
    ];
    let mut problems = Vec::new();
    for (role, account, site) in cases {
        problems.extend(check_role(&link, role, account, site).await);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    link.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kr_cannot_read_jp_input_in_any_way() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let jp = link.connect(Role::Adapter(Nation::Jp)).await.unwrap();
    let jp_js = async_nats::jetstream::new(jp.clone());

    // KR users with the widest rights KR has: its admins on its leaf and at the hub, who may
    // subscribe to everything in the KR account.
    let kr_leaf_admin = admin(&link, Site::Kr, Nation::Kr).await;
    let kr_hub_admin = admin(&link, Site::Hub, Nation::Kr).await;
    let mut leaf_all = subscribe_ready(&kr_leaf_admin, ">", "ready.kr.leaf")
        .await
        .unwrap();
    let mut hub_all = subscribe_ready(&kr_hub_admin, ">", "ready.kr.hub")
        .await
        .unwrap();

    // Control: JP's relay user at the hub does see JP's input, so the traffic is real.
    let relay_jp = link.connect(Role::Relay(Nation::Jp)).await.unwrap();
    let mut relay_sees = relay_jp.subscribe("tl.in.jp.>").await.unwrap();
    relay_jp.flush().await.unwrap();

    for i in 0..20 {
        jp_js
            .publish("tl.in.jp.launch_detection", format!("jp-secret-{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let got = tokio::time::timeout(Duration::from_secs(3), relay_sees.next()).await;
    assert!(
        matches!(got, Ok(Some(_))),
        "control failed: the relay saw no JP input"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    for (name, sub) in [("KR leaf", &mut leaf_all), ("KR hub", &mut hub_all)] {
        while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {
            assert!(
                !m.payload.starts_with(b"jp-secret"),
                "{name} admin saw JP input on {}",
                m.subject
            );
            assert!(
                !m.subject.as_str().starts_with("tl.in.jp"),
                "{name}: {}",
                m.subject
            );
        }
    }

    // JetStream API: the hub's KR account has no IN_JP, and the JP domain is unreachable.
    let kr_hub_js = async_nats::jetstream::with_domain(kr_hub_admin.clone(), "hub");
    assert!(
        kr_hub_js.get_stream("IN_JP").await.is_err(),
        "KR sees hub IN_JP"
    );
    let kr_to_jp_domain = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(1))
        .domain("jp")
        .build(kr_hub_admin.clone());
    assert!(
        kr_to_jp_domain.get_stream("IN_JP").await.is_err(),
        "KR reached JP's leaf stream"
    );
    let kr_leaf_js = async_nats::jetstream::new(kr_leaf_admin.clone());
    assert!(kr_leaf_js.get_stream("IN_JP").await.is_err());
    // Control: JP's own admin at the hub does find IN_JP with the JP messages in it.
    let jp_hub_admin = admin(&link, Site::Hub, Nation::Jp).await;
    let jp_hub_js = async_nats::jetstream::new(jp_hub_admin);
    let n = wait_for(Duration::from_secs(15), || {
        let js = jp_hub_js.clone();
        async move {
            trilink_integration_tests::stream_len(&js, "IN_JP")
                .await
                .filter(|n| *n == 20)
        }
    })
    .await;
    assert_eq!(n, Some(20), "control: JP input did not reach hub IN_JP");

    // The KR adapter may not even ask the hub's or JP's JetStream API.
    let kr_adapter = ProbeClient::connect(&link.credentials(Role::Adapter(Nation::Kr)).unwrap())
        .await
        .unwrap();
    for subject in [
        "$JS.hub.API.STREAM.INFO.IN_JP",
        "$JS.jp.API.STREAM.MSG.GET.IN_JP",
        "$JS.API.STREAM.MSG.GET.IN_KR",
    ] {
        let r = tokio::time::timeout(
            Duration::from_secs(2),
            kr_adapter.client.request(subject.to_owned(), "{}".into()),
        )
        .await;
        assert!(
            !matches!(r, Ok(Ok(_))),
            "KR adapter got an answer from {subject}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for subject in [
        "$JS.hub.API.STREAM.INFO.IN_JP",
        "$JS.jp.API.STREAM.MSG.GET.IN_JP",
    ] {
        assert!(
            kr_adapter.violated("publish", subject),
            "no violation for {subject}: {:?}",
            kr_adapter.errors()
        );
    }
    // The relay's KR user may not subscribe to JP input either.
    let relay_kr = ProbeClient::connect(&link.credentials(Role::Relay(Nation::Kr)).unwrap())
        .await
        .unwrap();
    let _s = relay_kr.client.subscribe("tl.in.jp.>").await.unwrap();
    relay_kr.client.flush().await.unwrap();
    let refused = wait_for(Duration::from_secs(2), || {
        let r = relay_kr.violated("subscription", "tl.in.jp.>");
        async move { r.then_some(()) }
    })
    .await;
    assert!(refused.is_some(), "relay-kr subscribed to tl.in.jp.>");
    link.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_cannot_publish_as_kr_or_us() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let jp = ProbeClient::connect(&link.credentials(Role::Adapter(Nation::Jp)).unwrap())
        .await
        .unwrap();
    // Observers with every right in the KR and US accounts at the hub.
    let kr_hub = admin(&link, Site::Hub, Nation::Kr).await;
    let us_hub = admin(&link, Site::Hub, Nation::Us).await;
    let mut kr_in = subscribe_ready(&kr_hub, "tl.in.kr.>", "tl.in.kr.ready")
        .await
        .unwrap();
    let mut us_in = subscribe_ready(&us_hub, "tl.in.us.>", "tl.in.us.ready")
        .await
        .unwrap();
    for s in ["tl.in.kr.launch_detection", "tl.in.us.launch_detection"] {
        jp.client.publish(s, "spoof".into()).await.unwrap();
    }
    // Also through JetStream: the KR leaf stream is not reachable from JP's account at all.
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        jp.client.request("$JS.kr.API.STREAM.INFO.IN_KR", "".into()),
    )
    .await;
    assert!(!matches!(r, Ok(Ok(_))), "JP reached KR's JetStream API");
    jp.client.flush().await.unwrap();
    tokio::time::sleep(SETTLE).await;
    assert!(
        jp.violated("publish", "tl.in.kr.launch_detection"),
        "{:?}",
        jp.errors()
    );
    assert!(
        jp.violated("publish", "tl.in.us.launch_detection"),
        "{:?}",
        jp.errors()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), kr_in.next())
            .await
            .is_err()
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(200), us_in.next())
            .await
            .is_err()
    );
    link.shutdown().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jp_and_kr_leaves_have_no_path_to_each_other() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let hub_leaf_ports: BTreeSet<u64> = link
        .hub_leaf_ports()
        .iter()
        .map(|p| u64::from(*p))
        .collect();
    for id in [ServerId::JP, ServerId::KR] {
        let s = link.server(id).unwrap();
        let varz = s.monitor("/varz").await.unwrap();
        assert_eq!(
            varz["leaf"]["port"].as_u64().unwrap_or(0),
            0,
            "{id} listens for leaves"
        );
        assert_eq!(
            varz["cluster"]["port"].as_u64().unwrap_or(0),
            0,
            "{id} has a cluster port"
        );
        let routez = s.monitor("/routez").await.unwrap();
        assert_eq!(routez["num_routes"].as_u64(), Some(0), "{id} has routes");
        let leafz = s.monitor("/leafz").await.unwrap();
        let leafs = leafz["leafs"].as_array().unwrap();
        assert_eq!(leafs.len(), 1, "{id}: {leafz}");
        let port = leafs[0]["port"].as_u64().unwrap();
        assert!(
            hub_leaf_ports.contains(&port),
            "{id} linked to port {port}, not the hub"
        );
    }
    // Functionally: JP's admin (every subject of the JP account) publishes a JP-only subject;
    // KR's admin listening on everything on its leaf never sees it.
    let jp_admin = admin(&link, Site::Jp, Nation::Jp).await;
    let kr_admin = admin(&link, Site::Kr, Nation::Kr).await;
    let mut kr_all = subscribe_ready(&kr_admin, ">", "ready.kr").await.unwrap();
    for subject in [
        "direct.jp.to.kr".to_owned(),
        format!("tl.out.kr.launch_detection.jp.{ID}"),
        "tl.in.kr.cancel".to_owned(),
    ] {
        jp_admin.publish(subject, "from-jp".into()).await.unwrap();
    }
    jp_admin.flush().await.unwrap();
    tokio::time::sleep(SETTLE).await;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(50), kr_all.next()).await {
        assert_ne!(
            m.payload.as_ref(),
            b"from-jp",
            "KR saw JP traffic on {}",
            m.subject
        );
    }
    link.shutdown().unwrap();
}

/// A leaf with a bad certificate (or none) must be refused by the hub, while an identical leaf
/// with the genuine certificate (the control) is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_refuses_leaves_without_a_valid_nation_certificate() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let hub = link.server(ServerId::hub(0)).unwrap();
    assert_eq!(hub.leaf_count().await.unwrap(), 2);

    // Each extra leaf gets its own JetStream domain so it cannot disturb the real JP leaf.
    let variant = |name: &str, cert: &str, edit: &dyn Fn(String) -> String| {
        let (text, client, monitor) = link.render_leaf(Nation::Jp, name, cert, "ca").unwrap();
        let text = edit(text.replace("domain: jp", &format!("domain: {}", name.replace('-', ""))));
        link.spawn_extra(name, &text, client, monitor).unwrap()
    };
    let no_cert = variant("no-cert", "leaf-jp", &|t: String| {
        t.lines()
            .filter(|l| !l.contains("cert_file") && !l.contains("key_file"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let plaintext = variant("plaintext", "leaf-jp", &|t: String| {
        // No TLS at all: drop the tls block and use a plain leafnode URL.
        let mut out = Vec::new();
        let mut skip = false;
        for l in t.lines() {
            if l.trim_start().starts_with("tls {") {
                skip = true;
                continue;
            }
            if skip {
                if l.trim() == "}" {
                    skip = false;
                }
                continue;
            }
            out.push(l.replace("tls://", "nats-leaf://"));
        }
        out.join("\n")
    });
    let rogue_ca = variant("rogue-ca", "rogue-leaf-jp", &|t| t);
    let unknown_nation = variant("unknown-nation", "leaf-xx", &|t| t);
    let control = variant("control", "leaf-jp", &|t| t);

    // The control must link up; give the others the same time.
    let linked = wait_for(Duration::from_secs(10), || {
        let c = &control;
        async move { c.leaf_count().await.ok().filter(|n| *n == 1) }
    })
    .await;
    assert_eq!(linked, Some(1), "control leaf never linked: setup broken");
    tokio::time::sleep(Duration::from_secs(3)).await;
    for p in [&no_cert, &plaintext, &rogue_ca, &unknown_nation] {
        assert_eq!(
            p.leaf_count().await.unwrap(),
            0,
            "{} was accepted",
            p.name()
        );
    }
    // Hub: the two real leaves plus the control, nothing else.
    assert_eq!(hub.leaf_count().await.unwrap(), 3);
    // The reasons, from the hub's side (NATS-FACTS pitfall 7: the leaf's own log is vague).
    let log = hub.log_text().to_ascii_lowercase();
    assert!(log.contains("client didn't provide a certificate"), "{log}");
    assert!(
        log.contains("bad certificate") || log.contains("unknown authority"),
        "{log}"
    );
    assert!(log.contains("authentication error"), "{log}");
    link.shutdown().unwrap();
}

/// URLs and optional user/password of a login attempt.
type Attempt = (Vec<String>, Option<(&'static str, &'static str)>);

/// The certificate-mapped leaf identities exist only on the leafnode port: nobody can log in
/// with them (or anonymously, or with a wrong password) on a client port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_ports_refuse_anonymous_leaf_identities_and_wrong_passwords() {
    init_tracing();
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let hub = link.urls(Site::Hub);
    let jp = link.urls(Site::Jp);
    let attempts: Vec<Attempt> = vec![
        (hub.clone(), None),
        (jp.clone(), None),
        (hub.clone(), Some(("CN=leaf-jp,O=trilink", ""))),
        (hub.clone(), Some(("CN=leaf-kr,O=trilink", ""))),
        (hub.clone(), Some(("relay-jp", "wrong"))),
        (jp.clone(), Some(("adapter-jp", "wrong"))),
    ];
    for (urls, user) in attempts {
        let mut opts = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .max_reconnects(Some(1));
        if urls == hub {
            // Over TLS, as a client of the hub must: the refusal is about the identity.
            opts = opts.add_root_certificates(link.ca_file()).require_tls(true);
        }
        if let Some((u, p)) = user {
            opts = opts.user_and_password(u.to_owned(), p.to_owned());
        }
        let r = opts.connect(urls.as_slice()).await;
        assert!(r.is_err(), "{user:?} logged in on {urls:?}");
    }
    // Control: the right password works.
    let c = link.credentials(Role::Relay(Nation::Jp)).unwrap();
    let ok = async_nats::ConnectOptions::new()
        .user_and_password(c.user, c.password)
        .add_root_certificates(link.ca_file())
        .require_tls(true)
        .connect(hub.as_slice())
        .await;
    assert!(ok.is_ok(), "control: relay-jp could not log in");
    link.shutdown().unwrap();
}
