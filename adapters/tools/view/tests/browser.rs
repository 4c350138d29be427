//! The view in a real headless Chromium (driven over WebDriver by `fantoccini`) against a real
//! link (hub + JP and KR leaves, `trilink_brokers::Link`), as KR's read-only viewer:
//! the page loads with no script errors, draws tracks as envelopes are published, marks
//! exercise traffic (and not real-world traffic), shows a component going stale within one
//! heartbeat interval of its missed heartbeat, and nothing not released to KR ever reaches the
//! page or the SSE stream. Writes the screenshot `docs/view.png` and checks it is not blank.
//!
//! A second test feeds the demo's single launch and salvo through the hub's correlator
//! (`trilink-picture`) and publishes what the relay publishes — the national envelopes and the
//! `common_event`s of each destination's picture: the fused events appear with their ellipse,
//! trail and links to their national tracks, the time slider replays an event, the KR viewer
//! never receives an event or contributor not released to KR (JP's reports are made JP/US only),
//! and the screenshots `docs/view-single-launch.png` and `docs/view-salvo.png` are not blank.
//!
//! The demo's whole link in a browser (common events from the real relay) is tested beside
//! the demo, in `trilink-local-link`'s `tests/browser_demo.rs`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium`,
//! `chromium-driver`; `CHROMIUM` / `CHROMEDRIVER` override the paths).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use common::{
    common_event, common_out, envelope, event_id, heartbeat, impact, launch, out, point, update,
};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use trilink_brokers::testing::admin;
use trilink_brokers::{Link, LinkOptions, Role, Site};
use trilink_schema::{Envelope, EventState, Mode, Nation, Payload, Source};
use trilink_view::ViewConfig;
use trilink_view::testing::{Client, browser, get_json, js, screenshot, until};

const HEARTBEAT: Duration = Duration::from_secs(1);

/// A test track: origin, mode, id, launch point and impact point (lat, lon).
type TestTrack<'a> = (Nation, Mode, &'a str, (f64, f64), (f64, f64));

/// Read the SSE stream into a string until `stop`.
fn read_sse(addr: SocketAddr, stop: CancellationToken) -> tokio::task::JoinHandle<String> {
    tokio::spawn(async move {
        let client: HttpClient<HttpConnector, Empty<Bytes>> =
            HttpClient::builder(TokioExecutor::new()).build_http();
        let resp = client
            .get(format!("http://{addr}/api/events").parse().unwrap())
            .await
            .unwrap();
        assert_eq!(
            resp.headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("text/event-stream")
        );
        let mut body = resp.into_body();
        let mut text = String::new();
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                f = body.frame() => match f {
                    Some(Ok(f)) => if let Ok(d) = f.into_data() {
                        text.push_str(&String::from_utf8_lossy(&d));
                    },
                    _ => break,
                },
            }
        }
        text
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kr_view_in_a_real_browser() {
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let kr_leaf = admin(&link, Site::Kr, Nation::Kr).await;
    let jp_hub = admin(&link, Site::Hub, Nation::Jp).await;
    let us_hub = admin(&link, Site::Hub, Nation::Us).await;
    let shutdown = CancellationToken::new();
    let view = trilink_view::start(kr_view_config(&link), shutdown.clone())
        .await
        .unwrap();
    let addr = view.addr;

    // KR's adapter heartbeats every interval until told to stop.
    let beats = CancellationToken::new();
    let last_beat = Arc::new(Mutex::new(Instant::now()));
    let hb = {
        let (c, stop, last) = (kr_leaf.clone(), beats.clone(), last_beat.clone());
        tokio::spawn(async move {
            let mut seq = 0;
            while !stop.is_cancelled() {
                seq += 1;
                let (s, b) = heartbeat(Nation::Kr, "adapter-kr", Utc::now(), seq);
                c.publish(s, b.into()).await.unwrap();
                c.flush().await.unwrap();
                *last.lock().unwrap() = Instant::now();
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(HEARTBEAT) => {}
                }
            }
        })
    };

    let sse_stop = CancellationToken::new();
    let sse = read_sse(addr, sse_stop.clone());

    let (_driver, b) = browser().await;
    b.goto(&view.url()).await.unwrap();
    until(
        &b,
        "return !!document.getElementById('tracks-layer') && document.getElementById('conn').textContent === 'live'",
        Duration::from_secs(20),
    )
    .await;
    until(
        &b,
        "return !!document.querySelector('[data-component=\"adapter-kr\"][data-state=\"ok\"]')",
        Duration::from_secs(5),
    )
    .await;

    // Released to KR: an exercise track from KR's own system, a real-world one from JP.
    // Not released to KR: on KR's output with JP-only releasability (a routing fault the view
    // must still refuse), JP's and the US's outputs at the hub, and JP's output subject
    // inside KR's account (the viewer user may not subscribe to it).
    let t0 = Utc::now();
    let forbidden = [
        (
            &kr_leaf,
            out(
                &envelope(
                    Nation::Jp,
                    Mode::RealWorld,
                    &[],
                    "s1",
                    t0,
                    update("SECRET-1", t0, point(38.0, 131.0, 9e4)),
                ),
                Nation::Kr,
            ),
        ),
        (
            &jp_hub,
            out(
                &envelope(
                    Nation::Jp,
                    Mode::RealWorld,
                    &[],
                    "s2",
                    t0,
                    update("SECRET-2", t0, point(38.0, 131.0, 9e4)),
                ),
                Nation::Jp,
            ),
        ),
        (
            &us_hub,
            out(
                &envelope(
                    Nation::Us,
                    Mode::RealWorld,
                    &[],
                    "s3",
                    t0,
                    update("SECRET-3", t0, point(38.0, 131.0, 9e4)),
                ),
                Nation::Us,
            ),
        ),
        (
            &kr_leaf,
            out(
                &envelope(
                    Nation::Jp,
                    Mode::RealWorld,
                    &[Nation::Kr],
                    "s4",
                    t0,
                    update("SECRET-4", t0, point(38.0, 131.0, 9e4)),
                ),
                Nation::Jp,
            ),
        ),
    ];
    for (c, (s, body)) in &forbidden {
        c.publish(s.clone(), body.clone().into()).await.unwrap();
        c.flush().await.unwrap();
    }

    let tracks: [TestTrack<'_>; 2] = [
        (
            Nation::Kr,
            Mode::Exercise,
            "EX-1",
            (39.0, 125.7),
            (40.6, 135.5),
        ),
        (
            Nation::Jp,
            Mode::RealWorld,
            "RW-1",
            (40.2, 127.9),
            (37.9, 133.8),
        ),
    ];
    for (origin, mode, id, from, _) in tracks {
        let now = Utc::now();
        let e = envelope(
            origin,
            mode,
            &[Nation::Kr],
            &format!("{id}-l"),
            now,
            launch(id, now, point(from.0, from.1, 0.0)),
        );
        let (s, body) = out(&e, Nation::Kr);
        kr_leaf.publish(s, body.into()).await.unwrap();
    }
    for step in 1..=12 {
        for (origin, mode, id, from, to) in tracks {
            let f = f64::from(step) / 12.0;
            let now = Utc::now();
            let p = point(
                from.0 + (to.0 - from.0) * f,
                from.1 + (to.1 - from.1) * f,
                400_000.0 * (std::f64::consts::PI * f).sin(),
            );
            let e = envelope(
                origin,
                mode,
                &[Nation::Kr],
                &format!("{id}-u{step}"),
                now,
                update(id, now, p),
            );
            let (s, body) = out(&e, Nation::Kr);
            kr_leaf.publish(s, body.into()).await.unwrap();
            if step == 4 {
                let e = envelope(
                    origin,
                    mode,
                    &[Nation::Kr],
                    &format!("{id}-i"),
                    now,
                    impact(id, now, point(to.0, to.1, 0.0)),
                );
                let (s, body) = out(&e, Nation::Kr);
                kr_leaf.publish(s, body.into()).await.unwrap();
            }
        }
        kr_leaf.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Drawn, with the last point of each.
    until(
        &b,
        "const a = document.querySelector('#tracks-layer [data-key=\"kr/EX-1\"]'), r = document.querySelector('#tracks-layer [data-key=\"jp/RW-1\"]');\
         return !!a && !!r && !!a.querySelector('path.ellipse') && !!a.querySelector('path.launch') && !!r.querySelector('path.line') && \
         document.querySelectorAll('#tracks tbody tr').length === 2 && [...document.querySelectorAll('#tracks tbody tr')].every(t => t.children[3].textContent === '14')",
        Duration::from_secs(5),
    )
    .await;

    // Exercise traffic unmistakable, real-world never styled like it.
    let marks = js(
        &b,
        "const a = document.querySelector('#tracks-layer [data-key=\"kr/EX-1\"]'), r = document.querySelector('#tracks-layer [data-key=\"jp/RW-1\"]');\
         const banner = document.getElementById('mode-banner');\
         return { ex_class: a.getAttribute('class'), rw_class: r.getAttribute('class'),\
           ex_texts: [...a.querySelectorAll('text')].map(t => t.textContent),\
           rw_texts: [...r.querySelectorAll('text')].map(t => t.textContent),\
           ex_stroke: getComputedStyle(a.querySelector('path.line')).stroke,\
           rw_stroke: getComputedStyle(r.querySelector('path.line')).stroke,\
           ex_dash: getComputedStyle(a.querySelector('path.line')).strokeDasharray,\
           rw_dash: getComputedStyle(r.querySelector('path.line')).strokeDasharray,\
           banner: banner.textContent, banner_shown: banner.offsetHeight > 0 };",
    )
    .await;
    println!("marks: {marks}");
    assert!(marks["ex_class"].as_str().unwrap().contains("exercise"));
    let ex_texts = marks["ex_texts"].as_array().unwrap();
    assert!(ex_texts.len() >= 2, "symbol and impact labels");
    assert!(
        ex_texts
            .iter()
            .all(|t| t.as_str().unwrap().starts_with("EXERCISE"))
    );
    let rw_texts = marks["rw_texts"].as_array().unwrap();
    assert!(!rw_texts.is_empty());
    assert!(rw_texts.iter().all(|t| {
        let t = t.as_str().unwrap();
        t.starts_with("REAL WORLD") && !t.contains("EXERCISE") && !t.contains("TEST")
    }));
    assert!(!marks["rw_class"].as_str().unwrap().contains("exercise"));
    assert_ne!(marks["ex_stroke"], marks["rw_stroke"]);
    assert_ne!(marks["ex_dash"], marks["rw_dash"]);
    assert!(marks["banner_shown"].as_bool().unwrap());
    assert!(marks["banner"].as_str().unwrap().contains("EXERCISE"));

    // An exercise common event fusing KR's exercise track: drawn with exercise styling, linked
    // to EX-1, labelled EXERCISE on every text; the real-world track stays unlinked and red.
    let now = Utc::now();
    let ev = envelope(
        Nation::Us,
        Mode::Exercise,
        &[Nation::Kr],
        "picture-kr-1",
        now,
        common_event(
            event_id("ex-event"),
            EventState::Active,
            &[(Nation::Kr, "EX-1")],
            now,
            point(39.0, 125.7, 0.0),
            point(40.4, 134.7, 30_000.0),
            point(40.6, 135.5, 0.0),
        ),
    );
    let (s, body) = common_out(&ev, Nation::Kr);
    kr_leaf.publish(s, body.into()).await.unwrap();
    kr_leaf.flush().await.unwrap();
    let ev_key = event_id("ex-event").hyphenated().to_string();
    until(
        &b,
        &format!(
            "const g = document.querySelector('#events-layer g.evt[data-key=\"{ev_key}\"]');\
             return !!g && !!g.querySelector('path.ellipse') && !!g.querySelector('line.link[data-track=\"kr/EX-1\"]') &&\
               document.querySelector('#tracks-layer [data-key=\"kr/EX-1\"]').dataset.event === '{ev_key}';"
        ),
        Duration::from_secs(5),
    )
    .await;
    let ev_marks = js(
        &b,
        &format!(
            "const g = document.querySelector('#events-layer g.evt[data-key=\"{ev_key}\"]'), r = document.querySelector('#tracks-layer [data-key=\"jp/RW-1\"]');\
             return {{ class: g.getAttribute('class'), texts: [...g.querySelectorAll('text')].map(t => t.textContent),\
               trail_dash: getComputedStyle(g.querySelector('path.trail')).strokeDasharray,\
               trail_stroke: getComputedStyle(g.querySelector('path.trail')).stroke,\
               rw_stroke: getComputedStyle(r.querySelector('path.line')).stroke, rw_event: r.dataset.event || null,\
               card: document.querySelector('#events .event[data-key=\"{ev_key}\"] .head').textContent }};"
        ),
    )
    .await;
    println!("event marks: {ev_marks}");
    assert!(ev_marks["class"].as_str().unwrap().contains("exercise"));
    let texts = ev_marks["texts"].as_array().unwrap();
    assert!(texts.len() >= 2, "symbol and impact labels");
    assert!(
        texts
            .iter()
            .all(|t| t.as_str().unwrap().starts_with("EXERCISE FUSED"))
    );
    assert_ne!(ev_marks["trail_dash"], json!("none"));
    assert_ne!(ev_marks["trail_stroke"], ev_marks["rw_stroke"]);
    assert_eq!(ev_marks["rw_event"], Value::Null);
    assert!(ev_marks["card"].as_str().unwrap().starts_with("EXERCISE"));

    // Display latency measured in the page: Date.now() at drawing minus ingested_at.
    let lat = js(&b, "return window.__trilink.latencies").await;
    let mut lat: Vec<f64> = lat
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    lat.sort_by(f64::total_cmp);
    assert!(lat.len() >= 29, "{}", lat.len());
    let p50 = lat[lat.len() / 2];
    let max = *lat.last().unwrap();
    println!(
        "page latency ingested_at -> drawn: n {} p50 {p50:.1} ms max {max:.1} ms",
        lat.len()
    );
    assert!(p50 <= 250.0, "p50 {p50} ms over the 250 ms target");

    // Screenshot, not blank: many colours, and the exercise magenta among them.
    screenshot(&b, "view.png", 51, |p| {
        p[0] > 230 && p[1] < 110 && p[2] > 230
    })
    .await;

    // /api/picture: only the released tracks; the routing fault on KR's output refused.
    let pic = get_json(addr, "/api/picture").await;
    let keys: BTreeSet<&str> = pic["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, BTreeSet::from(["jp/RW-1", "kr/EX-1"]));
    assert_eq!(pic["health"]["rejected"], json!(1), "{}", pic["health"]);
    let events: Vec<&str> = pic["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(events, vec![ev_key.as_str()]);
    let health = get_json(addr, "/api/health").await;
    assert_eq!(health["latency"]["count"], json!(29));

    // KR's adapter stops: stale on the page within one interval of the missed heartbeat.
    beats.cancel();
    hb.await.unwrap();
    let last = *last_beat.lock().unwrap();
    until(
        &b,
        "return !!document.querySelector('[data-component=\"adapter-kr\"][data-state=\"stale\"]') && document.querySelector('[data-site=\"kr\"]').dataset.state === 'bad'",
        HEARTBEAT * 4,
    )
    .await;
    let since_last = last.elapsed();
    println!(
        "adapter-kr stale on the page {since_last:?} after its last heartbeat (interval {HEARTBEAT:?})"
    );
    assert!(
        since_last <= HEARTBEAT * 2,
        "{since_last:?}: not within one interval of the missed heartbeat"
    );

    // No script errors on the page, ever.
    let errors = js(&b, "return window.__trilink.errors").await;
    assert_eq!(errors, json!([]), "page errors");

    // The SSE stream carried the released tracks and nothing else.
    sse_stop.cancel();
    let text = sse.await.unwrap();
    assert!(text.contains("event: picture"));
    assert!(text.contains("\"kr/EX-1\"") && text.contains("\"jp/RW-1\""));
    assert!(
        !text.contains("SECRET"),
        "SSE carried something not released to KR"
    );
    let page = b.source().await.unwrap();
    assert!(!page.contains("SECRET"));

    b.close().await.unwrap();
    shutdown.cancel();
    view.wait().await.unwrap();
}

/// The `common_event` envelope the hub publishes to `dest` for one event view.
fn hub_event(
    v: &trilink_picture::EventView,
    dest: Nation,
    n: usize,
    at: chrono::DateTime<Utc>,
) -> Envelope {
    Envelope::new(
        Nation::Us,
        Source {
            system: "trilink-hub".to_owned(),
            sensor: "correlator".to_owned(),
            national_message_id: format!("picture-{dest}-{n:06}"),
        },
        at,
        at,
        v.mode,
        [dest, Nation::Us].into_iter().collect(),
        Payload::CommonEvent(Box::new(v.event.clone())),
    )
}

/// Run `scenario` through the hub's correlator and publish what the relay would: to KR (on the
/// KR leaf) the national envelopes released to KR and KR's picture; to JP (at the hub, JP's
/// account) JP's picture; and, as a routing fault on KR's output, JP's picture with JP's
/// releasability. JP's reports are made JP/US only. Returns KR's final picture and every JP
/// track id (none may reach the KR viewer).
async fn feed_scenario(
    scenario: &str,
    kr_leaf: &async_nats::Client,
    jp_hub: &async_nats::Client,
) -> Fed {
    let cfg = trilink_scenario::named(scenario).unwrap();
    let start = Utc::now() - chrono::Duration::minutes(30);
    let mut g = trilink_scenario::generate(&cfg, 1, start).unwrap();
    let mut jp_tracks = BTreeSet::new();
    for r in &mut g.reports {
        if r.envelope.origin == Nation::Jp {
            r.envelope.releasability = [Nation::Jp, Nation::Us].into_iter().collect();
            if let Some(t) = r.envelope.payload.track_id() {
                jp_tracks.insert(t.to_string());
            }
        }
    }
    let mut c = trilink_picture::Correlator::new(trilink_picture::Config::default());
    let mut n = 0;
    let mut faults = 0;
    let mut to_kr = 0;
    // Up to mid-flight: the events are active, their impact ellipses ahead of them.
    let upto = g.reports.len() * 3 / 5;
    for (i, r) in g.reports.iter_mut().take(upto).enumerate() {
        // Delivered now (the scenario's clock is in the past): `ingested_at` as the adapter
        // would stamp it.
        r.envelope.ingested_at = Utc::now();
        let mut changes = c.ingest(&r.envelope, r.emit_at).unwrap();
        changes.extend(c.tick(r.emit_at));
        if r.envelope.releasable_to(Nation::Kr) {
            let (s, body) = out(&r.envelope, Nation::Kr);
            kr_leaf.publish(s, body.into()).await.unwrap();
            to_kr += 1;
        }
        for ch in changes {
            let Some(v) = c.event_view(ch.dest, ch.event_id) else {
                continue;
            };
            n += 1;
            let mut e = hub_event(&v, ch.dest, n, r.emit_at);
            e.ingested_at = Utc::now();
            match ch.dest {
                Nation::Kr => {
                    let (s, body) = common_out(&e, Nation::Kr);
                    kr_leaf.publish(s, body.into()).await.unwrap();
                    to_kr += 1;
                }
                Nation::Jp => {
                    let (s, body) = common_out(&e, Nation::Jp);
                    jp_hub.publish(s, body.into()).await.unwrap();
                    // A routing fault: JP's picture on KR's output (the view must refuse it).
                    if faults < 3 {
                        faults += 1;
                        let (s, body) = common_out(&e, Nation::Kr);
                        kr_leaf.publish(s, body.into()).await.unwrap();
                    }
                }
                Nation::Us => {}
            }
        }
        if i % 10 == 0 {
            kr_leaf.flush().await.unwrap();
            jp_hub.flush().await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    kr_leaf.flush().await.unwrap();
    jp_hub.flush().await.unwrap();
    assert!(faults > 0, "JP's picture had no event");
    Fed {
        kr: c.view_for(Nation::Kr),
        jp_tracks,
        to_kr,
        faults,
    }
}

/// What [`feed_scenario`] published.
struct Fed {
    /// KR's final picture.
    kr: Vec<trilink_picture::EventView>,
    /// Every JP track id (none may reach the KR viewer).
    jp_tracks: BTreeSet<String>,
    /// Messages published to KR that are released to KR.
    to_kr: u64,
    /// JP's picture published on KR's output (routing faults the view must refuse).
    faults: u64,
}

fn kr_view_config(link: &Link) -> ViewConfig {
    let creds = link.credentials(Role::Viewer(Nation::Kr)).unwrap();
    ViewConfig {
        nation: Nation::Kr,
        nats_urls: creds.urls.clone(),
        user: creds.user.clone(),
        password: creds.password.clone(),
        ca_file: creds.ca_file.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        heartbeat_interval: HEARTBEAT,
    }
}

/// Check the page and the API against KR's picture after a scenario; returns the SSE text.
async fn check_fused(
    b: &Client,
    addr: SocketAddr,
    fed: &Fed,
    sse: tokio::task::JoinHandle<String>,
    sse_stop: &CancellationToken,
) {
    let (kr, jp_tracks) = (&fed.kr, &fed.jp_tracks);
    assert!(!kr.is_empty());
    let want: BTreeSet<String> = kr
        .iter()
        .map(|v| v.event.event_id.hyphenated().to_string())
        .collect();
    let ids = serde_json::to_string(&want).unwrap();
    until(
        b,
        &format!(
            "const want = {ids};\
             const gs = [...document.querySelectorAll('#events-layer g.evt')];\
             return gs.length === want.length && gs.every(g => want.includes(g.dataset.key) && !!g.querySelector('path.ellipse') && !!g.querySelector('path.fused') && !!g.querySelector('path.trail') && !!g.querySelector('path.launch') && g.querySelectorAll('line.link').length >= 1) &&\
               document.querySelectorAll('#events .event').length === want.length;"
        ),
        Duration::from_secs(20),
    )
    .await;
    // Every national track an event names (and the view holds) is linked to it, on the map and
    // in the table.
    let links = js(
        b,
        "return [...document.querySelectorAll('#tracks-layer g.trk')].map(g => [g.dataset.key, g.dataset.event || null, g.dataset.label]);",
    )
    .await;
    println!("tracks: {links}");
    for v in kr {
        let key = v.event.event_id.hyphenated().to_string();
        for c in &v.event.contributors {
            let tk = format!("{}/{}", c.origin, c.track_id);
            let row = links
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r[0] == json!(tk))
                .unwrap_or_else(|| panic!("{tk} not drawn"));
            assert_eq!(row[1], json!(key), "{tk} not linked to its event");
            assert!(row[2].as_str().unwrap().contains("→ EV-"));
        }
    }
    // Exercise/real-world styling of events follows their mode.
    let marks = js(
        b,
        "return [...document.querySelectorAll('#events-layer g.evt')].map(g => [g.dataset.mode, g.getAttribute('class'), [...g.querySelectorAll('text')].map(t => t.textContent)]);",
    )
    .await;
    for m in marks.as_array().unwrap() {
        let (mode, class, texts) = (
            m[0].as_str().unwrap(),
            m[1].as_str().unwrap(),
            m[2].as_array().unwrap(),
        );
        assert!(!texts.is_empty());
        let label = match mode {
            "exercise" => "EXERCISE",
            "test" => "TEST",
            _ => "REAL WORLD",
        };
        assert!(
            texts.iter().all(|t| t.as_str().unwrap().starts_with(label)),
            "{m}"
        );
        if mode == "real_world" {
            assert!(
                !class.contains("exercise") && !class.contains("test"),
                "{m}"
            );
            assert!(
                texts
                    .iter()
                    .all(|t| !t.as_str().unwrap().contains("EXERCISE"))
            );
        }
    }

    // /api/picture: every message released to KR taken, every routing fault refused (and
    // nothing else); exactly KR's events with KR-released contributors; no JP track anywhere.
    let t0 = Instant::now();
    let pic = loop {
        let pic = get_json(addr, "/api/picture").await;
        if pic["health"]["accepted"] == json!(fed.to_kr) || t0.elapsed() > Duration::from_secs(10) {
            break pic;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        pic["health"]["accepted"],
        json!(fed.to_kr),
        "{}",
        pic["health"]
    );
    assert_eq!(
        pic["health"]["rejected"],
        json!(fed.faults),
        "{}",
        pic["health"]
    );
    let got: BTreeSet<String> = pic["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);
    for e in pic["events"].as_array().unwrap() {
        assert!(
            e["impact"]["error_ellipse"]["semi_major_m"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(e["history"].as_array().unwrap().len() >= 2);
        for c in e["contributors"].as_array().unwrap() {
            assert_ne!(
                c["origin"],
                json!("jp"),
                "a JP contribution reached KR: {c}"
            );
        }
    }
    let text = pic.to_string();
    for t in jp_tracks {
        assert!(
            !text.contains(t.as_str()),
            "/api/picture names JP track {t}"
        );
    }

    // The time slider replays the first event: at frame 1 the map shows two frames, then live.
    let key = kr[0].event.event_id.hyphenated().to_string();
    js(
        b,
        &format!(
            "const s = document.querySelector('#events .event[data-key=\"{key}\"] .slider'); s.value = '1'; s.dispatchEvent(new Event('input')); return true;"
        ),
    )
    .await;
    until(
        b,
        &format!(
            "const g = document.querySelector('#events-layer g.evt[data-key=\"{key}\"]'); return g.classList.contains('replay') && g.dataset.frames === '2' && document.querySelector('#events .event[data-key=\"{key}\"] .at').textContent.startsWith('REPLAY');"
        ),
        Duration::from_secs(3),
    )
    .await;
    js(
        b,
        &format!(
            "document.querySelector('#events .event[data-key=\"{key}\"] .live-btn').click(); return true;"
        ),
    )
    .await;
    until(
        b,
        &format!(
            "const g = document.querySelector('#events-layer g.evt[data-key=\"{key}\"]'); return !g.classList.contains('replay') && Number(g.dataset.frames) > 2;"
        ),
        Duration::from_secs(3),
    )
    .await;

    let errors = js(b, "return window.__trilink.errors").await;
    assert_eq!(errors, json!([]), "page errors");
    let page = b.source().await.unwrap();
    sse_stop.cancel();
    let sse_text = sse.await.unwrap();
    assert!(
        sse_text.contains("event: event"),
        "no common event on the SSE stream"
    );
    for t in jp_tracks {
        assert!(!sse_text.contains(t.as_str()), "SSE carried JP track {t}");
        assert!(!page.contains(t.as_str()), "the page shows JP track {t}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fused_events_of_the_single_launch_and_the_salvo_in_a_real_browser() {
    let link = Link::start(LinkOptions::default()).await.unwrap();
    let kr_leaf = admin(&link, Site::Kr, Nation::Kr).await;
    let jp_hub = admin(&link, Site::Hub, Nation::Jp).await;
    let (_driver, b) = browser().await;

    for (scenario, shot) in [
        ("single_launch", "view-single-launch.png"),
        ("salvo", "view-salvo.png"),
    ] {
        // A fresh view per scenario (core subscriptions: it starts empty).
        let shutdown = CancellationToken::new();
        let view = trilink_view::start(kr_view_config(&link), shutdown.clone())
            .await
            .unwrap();
        let sse_stop = CancellationToken::new();
        let sse = read_sse(view.addr, sse_stop.clone());
        b.goto(&view.url()).await.unwrap();
        until(
            &b,
            "return !!document.getElementById('events-layer') && document.getElementById('conn').textContent === 'live'",
            Duration::from_secs(20),
        )
        .await;
        let fed = feed_scenario(scenario, &kr_leaf, &jp_hub).await;
        println!(
            "{scenario}: KR picture has {} events; {} messages to KR; {} JP tracks withheld from KR; {} routing faults",
            fed.kr.len(),
            fed.to_kr,
            fed.jp_tracks.len(),
            fed.faults
        );
        assert!(!fed.jp_tracks.is_empty());
        check_fused(&b, view.addr, &fed, sse, &sse_stop).await;
        // Real-world events: the red of real-world traffic must be on the screenshot.
        screenshot(&b, shot, 200, |p| {
            p[0] > 230 && p[1] > 50 && p[1] < 110 && p[2] < 80
        })
        .await;
        // Stops promptly though the page (and its event stream) is still open.
        shutdown.cancel();
        let stopping = Instant::now();
        tokio::time::timeout(Duration::from_secs(10), view.wait())
            .await
            .expect("the view stops while a page is open")
            .unwrap();
        println!(
            "view stopped in {:?} with the page open",
            stopping.elapsed()
        );
    }
    b.close().await.unwrap();
}
