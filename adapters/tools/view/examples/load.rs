//! Load benchmark of the view (issue 16 targets; a benchmark, not a timed test):
//! 50 simultaneous tracks updating at 10 Hz, released to KR, into a KR view running as its own
//! process, with the page open in headless Chromium. Reports the view process's RSS (sampled
//! every second, and its peak `VmHWM`), the page's render cost per animation frame and its
//! display latency (`Date.now()` at drawing − `ingested_at`), and the sans-IO picture's cost
//! per update (what the server does per message before fan-out).
//!
//! `cargo run --release -p trilink-view --example load -- [SECONDS] [TRACKS] [HZ]`
//! (defaults 30 50 10). Needs nats-server, `/usr/bin/chromium` and `/usr/bin/chromedriver`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // benchmark code
#![allow(clippy::print_stdout)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::{envelope, out, point, update};
use fantoccini::ClientBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use trilink_brokers::{Link, LinkOptions, Role, Site};
use trilink_schema::{Mode, Nation};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn pct(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

/// `load serve URL USER PASSWORD CA|- LISTEN`: the view alone, as `trilink view` runs it.
async fn serve(a: &[String]) {
    let config = trilink_view::ViewConfig {
        nation: trilink_view::nation_of_viewer(&a[1]).unwrap(),
        nats_urls: vec![a[0].clone()],
        user: a[1].clone(),
        password: a[2].clone(),
        ca_file: (a[3] != "-").then(|| a[3].clone().into()),
        listen: a[4].parse().unwrap(),
        heartbeat_interval: Duration::from_secs(5),
    };
    trilink_view::run(config, CancellationToken::new())
        .await
        .unwrap();
}

/// Server-side cost of one update: `Picture::on_message` (parse, validate, update) plus the
/// JSON of the update every SSE client is sent.
fn picture_cost(tracks: usize) -> (f64, usize) {
    let mut p = trilink_view::Picture::new(Nation::Kr, Duration::from_secs(5));
    let t0 = Utc::now();
    let n = 20_000;
    let msgs: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let k = i % tracks;
            let e = envelope(
                Nation::Us,
                Mode::RealWorld,
                &[Nation::Kr],
                &format!("m{i}"),
                t0,
                update(
                    &format!("T{k}"),
                    t0,
                    point(
                        38.0 + k as f64 * 0.05,
                        128.0 + (i / tracks) as f64 * 0.001,
                        9e4,
                    ),
                ),
            );
            out(&e, Nation::Kr)
        })
        .collect();
    let mut bytes = 0;
    let start = Instant::now();
    for (s, b) in &msgs {
        for u in p.on_message(s, b, t0).unwrap() {
            bytes += serde_json::to_vec(&u).unwrap().len();
        }
    }
    (start.elapsed().as_secs_f64() * 1e6 / n as f64, bytes / n)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve") {
        serve(&args[1..]).await;
        return;
    }
    let secs: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(30);
    let tracks: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    let hz: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);

    let (us, bytes) = picture_cost(tracks);
    println!("picture: {us:.1} µs per track update (on_message + update JSON {bytes} B)");

    let link = Link::start(LinkOptions::default()).await.unwrap();
    let kr_leaf = link
        .connect(Role::Admin(Site::Kr, Nation::Kr))
        .await
        .unwrap();
    let creds = link.credentials(Role::Viewer(Nation::Kr)).unwrap();
    let port = free_port();
    let mut view = Command::new(std::env::current_exe().unwrap())
        .args([
            "serve",
            &creds.urls[0],
            &creds.user,
            &creds.password,
            &creds
                .ca_file
                .as_ref()
                .map_or("-".to_owned(), |p| p.display().to_string()),
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = view.id();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "view process {pid}: idle RSS {} kB",
        status_kb(pid, "VmRSS:")
    );

    let dport = free_port();
    let mut driver = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={dport}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while tokio::net::TcpStream::connect(("127.0.0.1", dport))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let profile = tempfile::tempdir().unwrap();
    let Value::Object(caps) = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1400,900", format!("--user-data-dir={}", profile.path().display())
        ] }
    }) else {
        unreachable!()
    };
    let b = ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{dport}"))
        .await
        .unwrap();
    b.goto(&format!("http://127.0.0.1:{port}/")).await.unwrap();
    loop {
        let live = b
            .execute(
                "return document.getElementById('conn').textContent === 'live'",
                vec![],
            )
            .await
            .unwrap();
        if live == Value::Bool(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 50 tracks x 10 Hz, each tick published in one burst (as a relay would forward them).
    let period = Duration::from_millis(1000 / hz);
    let start = Instant::now();
    let mut tick = tokio::time::interval(period);
    let mut rss_max = 0;
    let mut sent = 0u64;
    let mut last_sample = Instant::now();
    let mut step = 0u64;
    while start.elapsed() < Duration::from_secs(secs) {
        tick.tick().await;
        step += 1;
        let now = Utc::now();
        for k in 0..tracks {
            let e = envelope(
                Nation::Us,
                Mode::RealWorld,
                &[Nation::Kr],
                &format!("T{k}-{step}"),
                now,
                update(
                    &format!("T{k}"),
                    now,
                    point(
                        36.0 + k as f64 * 0.15,
                        126.0 + step as f64 * 0.01,
                        50_000.0 + step as f64 * 10.0,
                    ),
                ),
            );
            let (s, body) = out(&e, Nation::Kr);
            kr_leaf.publish(s, body.into()).await.unwrap();
            sent += 1;
        }
        kr_leaf.flush().await.unwrap();
        if last_sample.elapsed() >= Duration::from_secs(1) {
            last_sample = Instant::now();
            rss_max = rss_max.max(status_kb(pid, "VmRSS:"));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let elapsed = start.elapsed().as_secs_f64();
    let page = b
        .execute(
            "const T = window.__trilink; return { renders: T.renders, lat: T.latencies, errors: T.errors, \
             drawn: document.querySelectorAll('#tracks-layer g.trk').length };",
            vec![],
        )
        .await
        .unwrap();
    let num = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_f64)
            .collect()
    };
    let mut renders = num(&page["renders"]);
    let mut lat = num(&page["lat"]);
    let hwm = status_kb(pid, "VmHWM:");
    let rss = status_kb(pid, "VmRSS:");
    println!(
        "sent {sent} track updates in {elapsed:.1} s ({:.0}/s, {tracks} tracks at {hz} Hz); page drew {} tracks, errors {}",
        sent as f64 / elapsed,
        page["drawn"],
        page["errors"]
    );
    println!(
        "page: {} renders ({:.1}/s), render time p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        renders.len(),
        renders.len() as f64 / elapsed,
        pct(&mut renders, 0.5),
        pct(&mut renders, 0.99),
        pct(&mut renders, 1.0)
    );
    println!(
        "page: display latency (ingested_at -> drawn, last {}) p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        lat.len(),
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0)
    );
    println!(
        "view process RSS: now {rss} kB, max sampled {rss_max} kB, peak (VmHWM) {hwm} kB (target <= 51200 kB)"
    );
    b.close().await.unwrap();
    let _ = view.kill();
    let _ = view.wait();
    let _ = driver.kill();
    let _ = driver.wait();
}
