//! The demo's common events in a real headless Chromium: `trilink demo`'s whole link
//! (`trilink_local_link::demo`: brokers, relay with the common picture on, adapters, national
//! stand-ins) plays the single launch and serves KR's view; the page shows exactly the fused
//! events KR's national system received, with their contributors, launch point and impact
//! ellipse, marked in the mode they were published in, and `/api/picture` agrees; screenshot
//! `docs/view-demo.png`. The browser test kit is `trilink_view::testing`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium`,
//! `chromium-driver`; `CHROMIUM` / `CHROMEDRIVER` override the paths).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // test code

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use trilink_brokers::testing::processes_mentioning;
use trilink_local_link::demo::{DemoOptions, DemoSummary};
use trilink_schema::Nation;
use trilink_view::testing::{Client, browser, get_json, js, screenshot, until};

type DemoTask = tokio::task::JoinHandle<trilink_local_link::error::Result<DemoSummary>>;

/// `trilink demo --scenario <scenario> --speed 40 --view-listen 127.0.0.1:0 --keep-running`,
/// in process (`trilink_local_link::demo`), its output captured.
struct DemoRun {
    out: Arc<Mutex<Vec<u8>>>,
    shutdown: CancellationToken,
    demo: DemoTask,
    /// KR's view.
    url: String,
    addr: SocketAddr,
    /// The link's work directory (every process it starts names it).
    work: String,
}

impl DemoRun {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    /// Wait until the output has a line for which `pick` gives a value.
    async fn line<T>(&self, within: Duration, pick: impl Fn(&str) -> Option<T>) -> T {
        wait_line(&self.out, &self.demo, within, pick).await
    }

    /// Stop the link (by PID, `LocalLink`); its summary. Asserts no process is left behind.
    async fn stop(self) -> DemoSummary {
        self.shutdown.cancel();
        let summary = tokio::time::timeout(Duration::from_secs(60), self.demo)
            .await
            .expect("the demo stops")
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let left = processes_mentioning(&self.work);
        assert!(left.is_empty(), "processes left behind: {left:?}");
        summary
    }
}

async fn wait_line<T>(
    out: &Mutex<Vec<u8>>,
    demo: &DemoTask,
    within: Duration,
    pick: impl Fn(&str) -> Option<T>,
) -> T {
    let t0 = Instant::now();
    loop {
        let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
        if let Some(v) = text.lines().find_map(&pick) {
            return v;
        }
        assert!(
            !demo.is_finished() && t0.elapsed() < within,
            "the demo did not print the line within {within:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_demo(scenario: &str) -> DemoRun {
    let out = Arc::new(Mutex::new(Vec::<u8>::new()));
    let shutdown = CancellationToken::new();
    let demo = tokio::spawn(trilink_local_link::demo::run(
        DemoOptions {
            scenario: scenario.to_owned(),
            speed: 40.0,
            seed: None,
            policy: None,
            keep_running: true,
            quiet: false,
            refresh_s: 5.0,
            settle_s: 30.0,
            view_listen: Some("127.0.0.1:0".parse().unwrap()),
            view_nation: Nation::Kr,
            metrics_listen: None,
        },
        shutdown.clone(),
        out.clone(),
    ));
    let url = wait_line(&out, &demo, Duration::from_secs(60), |l| {
        l.strip_prefix("view (kr viewer): ")
            .map(|u| u.trim().to_owned())
    })
    .await;
    let work = wait_line(&out, &demo, Duration::from_secs(5), |l| {
        l.strip_prefix("work dir: ").map(|w| w.trim().to_owned())
    })
    .await;
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    DemoRun {
        out,
        shutdown,
        demo,
        url,
        addr,
        work,
    }
}

/// What KR's national system received of the common picture (`FUSED KR` lines): per event
/// (32 hex digits), the mode and the contributors (`<origin>/<track id>`) of its last report.
fn fused_kr(text: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("FUSED KR "))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let event = w[0].strip_prefix("event=").unwrap().to_owned();
            let contributors = l.split_once("contributors=").unwrap().1;
            let contributors = contributors
                .split_whitespace()
                .map(|c| c.replacen(':', "/", 1))
                .collect();
            (event, (w[2].to_owned(), contributors))
        })
        .collect()
}

/// The label every symbol of a `mode` carries, and whether that mode raises the banner.
fn mode_label(mode: &str) -> (&'static str, bool) {
    match mode {
        "exercise" => ("EXERCISE", true),
        "test" => ("TEST", true),
        _ => ("REAL WORLD", false),
    }
}

/// Check KR's page against what KR's national system received from the relay (`fused`) and
/// against `/api/picture`: exactly those events, each with its launch point, impact ellipse and
/// contributors, marked in its mode (the banner only when exercise or test traffic is shown).
/// Returns the page's events and the API's picture.
async fn check_relay_events(
    b: &Client,
    addr: SocketAddr,
    fused: &BTreeMap<String, (String, BTreeSet<String>)>,
) -> (Value, Value) {
    let want = serde_json::to_string(&fused.keys().collect::<Vec<_>>()).unwrap();
    let counts = serde_json::to_string(
        &fused
            .iter()
            .map(|(e, (_, c))| (e.clone(), c.len()))
            .collect::<BTreeMap<_, _>>(),
    )
    .unwrap();
    until(
        b,
        &format!(
            "const want = {want}, counts = {counts};\
             const gs = [...document.querySelectorAll('#events-layer g.evt')];\
             const id = k => k.replaceAll('-', '');\
             return gs.length === want.length && gs.every(g => want.includes(id(g.dataset.key)) &&\
               !!g.querySelector('path.ellipse') && !!g.querySelector('path.launch') && !!g.querySelector('path.impact') &&\
               document.querySelectorAll(`#events .event[data-key=\"${{g.dataset.key}}\"] li[data-track]`).length === counts[id(g.dataset.key)]) &&\
               document.querySelectorAll('#events .event').length === want.length;"
        ),
        Duration::from_secs(20),
    )
    .await;
    let page = js(
        b,
        "return { events: [...document.querySelectorAll('#events-layer g.evt')].map(g => { const card = document.querySelector(`#events .event[data-key=\"${g.dataset.key}\"]`);\
           return { key: g.dataset.key, mode: g.dataset.mode, state: g.dataset.state, class: g.getAttribute('class'),\
             ellipse: g.querySelector('path.ellipse').getAttribute('d'),\
             texts: [...g.querySelectorAll('text')].map(t => t.textContent),\
             links: [...g.querySelectorAll('line.link')].map(l => l.dataset.track),\
             card_tracks: [...card.querySelectorAll('li[data-track]')].map(li => li.dataset.track),\
             head: card.querySelector('.head').textContent, impact: card.querySelector('.impact-text').textContent }; }),\
           banner: document.getElementById('mode-banner').className, banner_text: document.getElementById('mode-banner').textContent,\
           tracks: [...document.querySelectorAll('#tracks-layer g.trk')].map(t => [t.dataset.key, t.dataset.label, t.dataset.mode || null]) };",
    )
    .await;
    println!("page: {page}");
    let pic = get_json(addr, "/api/picture").await;
    let api: BTreeMap<String, &Value> = pic["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["key"].as_str().unwrap().to_owned(), e))
        .collect();
    assert_eq!(api.len(), fused.len(), "{}", pic["events"]);
    let strings = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    let mut banner = false;
    for g in page["events"].as_array().unwrap() {
        let key = g["key"].as_str().unwrap();
        let (mode, contributors) = &fused[&key.replace('-', "")];
        let (label, raises) = mode_label(mode);
        banner |= raises;
        // The page: the mode the relay published, labels and card; contributors as received.
        assert_eq!(g["mode"], json!(mode), "{g}");
        assert_eq!(&strings(&g["card_tracks"]), contributors, "{g}");
        let links = strings(&g["links"]);
        assert!(
            !links.is_empty() && links.is_subset(contributors),
            "{links:?}"
        );
        assert!(g["ellipse"].as_str().unwrap().len() > 20, "{g}");
        let texts = g["texts"].as_array().unwrap();
        assert!(texts.len() >= 2, "symbol and impact labels: {g}");
        for t in texts {
            assert!(t.as_str().unwrap().starts_with(label), "{t}");
        }
        assert!(g["head"].as_str().unwrap().starts_with(label), "{g}");
        let class = g["class"].as_str().unwrap();
        if raises {
            assert!(class.contains(mode.as_str()), "{g}");
        } else {
            assert!(
                !class.contains("exercise") && !class.contains("test"),
                "{g}"
            );
            assert!(!g.to_string().contains("EXERCISE"), "{g}");
        }
        // /api/picture: the same event, mode, state, contributors and impact.
        let e = api
            .get(key)
            .unwrap_or_else(|| panic!("{key} not in /api/picture"));
        assert_eq!(e["mode"], g["mode"]);
        assert_eq!(e["state"], g["state"]);
        let state = e["state"].as_str().unwrap().to_uppercase();
        assert!(g["head"].as_str().unwrap().contains(&state), "{g}");
        let api_contributors: BTreeSet<String> = e["contributors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["key"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(&api_contributors, contributors);
        let ip = &e["impact"]["impact_point"];
        let impact_text = format!(
            "impact {:.2}°, {:.2}°",
            ip["lat_deg"].as_f64().unwrap(),
            ip["lon_deg"].as_f64().unwrap()
        );
        assert!(
            g["impact"].as_str().unwrap().starts_with(&impact_text),
            "page {} vs API {impact_text}",
            g["impact"]
        );
        assert!(
            e["impact"]["error_ellipse"]["semi_major_m"]
                .as_f64()
                .unwrap()
                > 0.0
        );
        assert!(e["launch"]["launch_point"]["lat_deg"].is_f64(), "{e}");
    }
    // National tracks: the same on the page and in the API, each labelled in its mode.
    let api_tracks: BTreeMap<&str, &str> = pic["tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["key"].as_str().unwrap(), t["mode"].as_str().unwrap()))
        .collect();
    let page_tracks = page["tracks"].as_array().unwrap();
    assert!(!page_tracks.is_empty());
    assert_eq!(
        page_tracks
            .iter()
            .map(|t| t[0].as_str().unwrap())
            .collect::<BTreeSet<_>>(),
        api_tracks.keys().copied().collect::<BTreeSet<_>>()
    );
    for t in page_tracks {
        let mode = api_tracks[t[0].as_str().unwrap()];
        let (label, raises) = mode_label(mode);
        banner |= raises;
        assert!(t[1].as_str().unwrap().starts_with(label), "{t}");
    }
    // The banner: exactly when exercise or test traffic is shown.
    let (class, text) = (
        page["banner"].as_str().unwrap(),
        page["banner_text"].as_str().unwrap(),
    );
    if banner {
        assert!(
            !class.contains("hidden") && (text.contains("EXERCISE") || text.contains("TEST")),
            "{page}"
        );
    } else {
        assert!(class.contains("hidden") && text.is_empty(), "{page}");
    }
    assert!(pic["health"]["accepted"].as_u64().unwrap() > 0);
    assert_eq!(pic["health"]["rejected"], json!(0), "{}", pic["health"]);
    let errors = js(b, "return window.__trilink.errors").await;
    assert_eq!(errors, json!([]), "page errors");
    (page, pic)
}

/// Start the demo of `scenario`, open KR's view, let the scenario play, check the page
/// against what the relay delivered to KR ([`check_relay_events`]).
async fn demo_in_browser(
    b: &Client,
    scenario: &str,
) -> (
    DemoRun,
    BTreeMap<String, (String, BTreeSet<String>)>,
    Value,
    Value,
) {
    let run = start_demo(scenario).await;
    b.goto(&run.url).await.unwrap();
    until(
        b,
        "return !!document.getElementById('events-layer') && document.getElementById('conn').textContent === 'live'",
        Duration::from_secs(20),
    )
    .await;
    run.line(Duration::from_secs(120), |l| {
        l.starts_with("scenario done; link keeps running")
            .then_some(())
    })
    .await;
    let fused = fused_kr(&run.text());
    println!("{scenario}: FUSED KR {fused:?}");
    let (page, pic) = check_relay_events(b, run.addr, &fused).await;
    (run, fused, page, pic)
}

/// The common events come from the real relay: `trilink demo`'s link (brokers, relay with the
/// common picture on, adapters, national stand-ins; `trilink_local_link::demo`) plays a
/// scenario at ×40 and serves KR's view, and the page is checked against what KR's national
/// system received (its `FUSED KR` lines) and `/api/picture` ([`check_relay_events`]).
///
/// The single launch (real-world): exactly one fused event, from all three nations, its fused
/// launch point at the scenario's launch site, its impact ellipse drawn, no exercise banner and
/// REAL WORLD on every label; screenshot `docs/view-demo.png` (not blank, real-world red on it).
/// Every process of the link is stopped by PID (none left behind). Exercise marking (banner,
/// EXERCISE labels beside real-world ones) is checked on synthetic hub events by
/// `the_kr_view_in_a_real_browser` and `fused_events_of_the_single_launch_and_the_salvo_in_a_real_browser`
/// (`trilink-view`'s `tests/browser.rs`):
/// a second demo run here for `exercise_mixed` cost ~45 s of CI for the same page code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relays_common_events_of_the_demo_in_a_real_browser() {
    let (driver, b) = browser().await;

    let (run, fused, page, pic) = demo_in_browser(&b, "single_launch").await;
    assert_eq!(fused.len(), 1, "FUSED KR events {fused:?}\n{}", run.text());
    let (event, (mode, contributors)) = fused.first_key_value().unwrap();
    assert_eq!(mode, "real_world");
    for origin in ["jp/JP-", "kr/KR-", "us/US-"] {
        assert!(
            contributors.iter().any(|c| c.starts_with(origin)),
            "no {origin} contributor: {contributors:?}"
        );
    }
    assert!(page["banner"].as_str().unwrap().contains("hidden"));
    // The fused launch point is the scenario's launch site (39.66° N, 124.70° E).
    let lp = &pic["events"][0]["launch"]["launch_point"];
    let (lat, lon) = (
        lp["lat_deg"].as_f64().unwrap(),
        lp["lon_deg"].as_f64().unwrap(),
    );
    println!("fused launch point {lat:.3}, {lon:.3}");
    assert!(
        (lat - 39.66).abs() < 0.3 && (lon - 124.70).abs() < 0.3,
        "{lat}, {lon}"
    );
    screenshot(&b, "view-demo.png", 200, |p| {
        p[0] > 230 && p[1] > 50 && p[1] < 110 && p[2] < 80
    })
    .await;
    let event = event.clone();
    let summary = run.stop().await;
    let kr = summary.fused.get(&Nation::Kr).cloned().unwrap_or_default();
    assert_eq!(kr.events.keys().collect::<Vec<_>>(), vec![&event]);

    b.close().await.unwrap();
    drop(driver);
}
